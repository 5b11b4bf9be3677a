// SPDX-License-Identifier: MIT
/*
 * The symbolizer's memory budget (issue 12), on real files: the fixture
 * binaries (C and C++, gcc and clang, DWARF 4 and 5) resolved round after
 * round under a budget well below what they need together, so files are
 * dropped and read again. The bytes held stay under the budget once a file
 * has been used for more than the 64 lookups that protect it (and under the
 * budget plus one file meanwhile), every answer equals a symbolizer without a
 * budget, and dropped files no longer stay mapped. A file whose DWARF alone
 * is over half the budget resolves by its symbols. And
 * per-process state: a process's bindings go with symbolizer__forget_process,
 * so a stream of short-lived processes holds no more than one. Run as
 * `test_sym_memory CASE`.
 */
#include <errno.h>
#include <inttypes.h>

#include "sym_test_util.h"

#define MAX_FRAMES 16
#define NR_ADDRS   150 /* per file */
#define MAX_FILES  24

static const char *const fixtures[] = {
    "sym_c_gcc_dwarf4",
    "sym_c_gcc_dwarf5",
    "sym_c_clang_dwarf4",
    "sym_c_clang_dwarf5",
    "sym_cpp_gcc_dwarf4",
    "sym_cpp_gcc_dwarf5",
    "sym_cpp_clang_dwarf4",
    "sym_cpp_clang_dwarf5",
    "sym_c_nopie",
    "sym_split/sym_c_gcc_dwarf5.linked",
    "split_fp",
    "split_nofp_gcc",
    "depth_fp",
    "depth_nofp",
    "qsort_cb",
    "threads",
    "forker",
};

struct answer {
	uint32_t nr;
	struct ember_frame frames[MAX_FRAMES];
};

struct file_set {
	char paths[MAX_FILES][PATH_MAX];
	uint64_t start[MAX_FILES], size[MAX_FILES];
	size_t nr;
};

static void collect_files(struct file_set *set)
{
	memset(set, 0, sizeof(*set));
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		fixture_path(fixtures[i], set->paths[set->nr++], PATH_MAX);
	for (size_t i = 0; i < set->nr; i++)
		text_range(set->paths[i], &set->start[i], &set->size[i]);
}

static uint64_t addr_of(const struct file_set *set, size_t file, size_t i)
{
	return set->start[file] + set->size[file] * i / NR_ADDRS + (i % 7);
}

/* Resolves every address of @file with @s into @out (NULL: discard). */
static void resolve_file(struct ember_symbolizer *s, const struct file_set *set, size_t file,
			 struct answer *out)
{
	struct ember_frame f[MAX_FRAMES];

	for (size_t i = 0; i < NR_ADDRS; i++) {
		uint32_t nr = 0;

		ASSERT_EQ(symbolizer__resolve_elf(s, set->paths[file], addr_of(set, file, i), f,
						  MAX_FRAMES, &nr),
			  0);
		if (out) {
			out[i].nr = nr;
			memcpy(out[i].frames, f, nr * sizeof(*f));
		}
	}
}

/* How many of @set's files this process has mapped (libelf maps what it reads). */
static size_t files_mapped(const struct file_set *set)
{
	char line[PATH_MAX + 256];
	bool seen[MAX_FILES] = {0};
	size_t n = 0;
	FILE *maps = fopen("/proc/self/maps", "re");

	ASSERT(maps != NULL);
	while (fgets(line, sizeof(line), maps)) {
		line[strcspn(line, "\n")] = '\0';
		for (size_t i = 0; i < set->nr; i++) {
			size_t len = strlen(line), plen = strlen(set->paths[i]);

			if (!seen[i] && len >= plen &&
			    strcmp(line + len - plen, set->paths[i]) == 0) {
				seen[i] = true;
				n++;
			}
		}
	}
	fclose(maps);
	return n;
}

static void test_lru(void)
{
	static struct file_set set;
	static struct answer want[MAX_FILES][NR_ADDRS];
	struct ember_symbolizer *ref = NULL, *s = NULL;
	struct ember_symbolizer_opts opts = {.sz = sizeof(opts)};
	size_t single_max = 0, total, budget, max_seen = 0;

	collect_files(&set);
	ASSERT_GE(set.nr, 10);
	/* What each file needs alone, and all of them together. */
	for (size_t k = 0; k < set.nr; k++) {
		struct ember_symbolizer *one = NULL;

		ASSERT_EQ(symbolizer__new(NULL, &one), 0);
		resolve_file(one, &set, k, NULL);
		if (symbolizer__bytes(one) > single_max)
			single_max = symbolizer__bytes(one);
		symbolizer__free(one);
	}
	ASSERT_EQ(symbolizer__new(NULL, &ref), 0);
	for (size_t k = 0; k < set.nr; k++)
		resolve_file(ref, &set, k, want[k]);
	total = symbolizer__bytes(ref);
	/* Each file's DWARF must fit in half the budget, or it resolves by symbols. */
	budget = total / 3 > 2 * single_max ? total / 3 : 2 * single_max;
	fprintf(stderr, "%zu files: %zu bytes together, largest alone %zu, budget %zu\n", set.nr,
		total, single_max, budget);
	/* The case means nothing unless the files do not fit together. */
	ASSERT_LT(budget, total);

	opts.memory_budget = budget;
	ASSERT_EQ(symbolizer__new(&opts, &s), 0);
	for (int round = 0; round < 3; round++) {
		for (size_t k = 0; k < set.nr; k++) {
			for (size_t i = 0; i < NR_ADDRS; i++) {
				struct ember_frame f[MAX_FRAMES];
				uint64_t addr = addr_of(&set, k, i);
				uint32_t nr = 0;

				ASSERT_EQ(symbolizer__resolve_elf(s, set.paths[k], addr, f,
								  MAX_FRAMES, &nr),
					  0);
				if (!frames_equal(want[k][i].frames, want[k][i].nr, f, nr))
					TEST_FAIL("round %d: %s 0x%" PRIx64
						  ": %s (%u frames) without a budget, %s (%u)",
						  round, set.paths[k], addr,
						  want[k][i].nr ? want[k][i].frames[0].function
								: "-",
						  want[k][i].nr, nr ? f[0].function : "-", nr);
				ASSERT_LE(symbolizer__bytes(s), budget + single_max);
				if (symbolizer__bytes(s) > max_seen)
					max_seen = symbolizer__bytes(s);
			}
			/* The previous file is no longer among the last 64 lookups. */
			ASSERT_LE(symbolizer__bytes(s), budget);
		}
	}
	fprintf(stderr, "held at most %zu bytes, %" PRIu64 " files dropped\n", max_seen,
		sym_counter(s, "symbolize.evictions"));
	/* Cycling through more than fits drops files every round. */
	ASSERT_GE(sym_counter(s, "symbolize.evictions"), set.nr);
	ASSERT_EQ(sym_counter(s, "symbolize.dwarf_over_budget"), 0);
	symbolizer__free(ref);
	/* Dropped files are unmapped: only what the budget holds stays mapped. */
	ASSERT_LT(files_mapped(&set), set.nr);
	symbolizer__free(s);
}

static void test_dwarf_cap(void)
{
	struct ember_symbolizer_opts opts = {.sz = sizeof(opts)};
	struct ember_symbolizer *s = NULL, *one = NULL;
	struct ember_frame f[MAX_FRAMES];
	char path[PATH_MAX];
	uint64_t start, size;
	size_t alone, named = 0;

	fixture_path("sym_cpp_gcc_dwarf4", path, sizeof(path));
	text_range(path, &start, &size);
	ASSERT_EQ(symbolizer__new(NULL, &one), 0);
	for (size_t i = 0; i < NR_ADDRS; i++) {
		uint32_t nr = 0;

		ASSERT_EQ(symbolizer__resolve_elf(one, path, start + size * i / NR_ADDRS, f,
						  MAX_FRAMES, &nr),
			  0);
	}
	alone = symbolizer__bytes(one);
	symbolizer__free(one);
	/* Its DWARF sections alone are over half of a budget half its needs. */
	opts.memory_budget = alone / 2;
	ASSERT_EQ(symbolizer__new(&opts, &s), 0);
	for (size_t i = 0; i < NR_ADDRS; i++) {
		uint32_t nr = 0;

		ASSERT_EQ(symbolizer__resolve_elf(s, path, start + size * i / NR_ADDRS, f,
						  MAX_FRAMES, &nr),
			  0);
		ASSERT_GE(nr, 1);
		named += !(f[nr - 1].flags & EMBER_FRAME_UNKNOWN);
	}
	ASSERT_EQ(sym_counter(s, "symbolize.dwarf_over_budget"), 1);
	ASSERT_LE(symbolizer__bytes(s), alone / 2);
	/* The symbol table still names the functions. */
	ASSERT_GE(named, NR_ADDRS * 9 / 10);
	symbolizer__free(s);
}

static void test_forget(void)
{
	static const char *const names[] = {"sym_c_gcc_dwarf5", "sym_cpp_gcc_dwarf5",
					    "sym_c_clang_dwarf5", "qsort_cb"};
	struct ember_symbolizer *s = NULL, *keep = NULL;
	char paths[4][PATH_MAX];
	uint64_t start[4], size[4];
	size_t at10 = 0, kept10 = 0;
	uint32_t pid_max = 4194304;
	FILE *pm;

	for (size_t i = 0; i < 4; i++) {
		fixture_path(names[i], paths[i], sizeof(paths[i]));
		text_range(paths[i], &start[i], &size[i]);
	}
	/* PIDs no process can have: the files are opened by their host paths. */
	pm = fopen("/proc/sys/kernel/pid_max", "re");
	if (pm) {
		if (fscanf(pm, "%" SCNu32, &pid_max) != 1)
			pid_max = 4194304;
		fclose(pm);
	}
	ASSERT_EQ(symbolizer__new(NULL, &s), 0);
	ASSERT_EQ(symbolizer__new(NULL, &keep), 0);
	for (uint32_t p = 0; p < 400; p++) {
		uint32_t pid = pid_max + 1 + p;

		for (size_t i = 0; i < 4; i++) {
			for (size_t a = 0; a < 8; a++) {
				struct ember_symbolize_request req;
				struct ember_frame f[MAX_FRAMES];
				uint32_t nr = 0;

				request_for(paths[i], 0x7f0000000000ull, start[i] + size[i] * a / 8,
					    &req);
				req.pid = pid;
				ASSERT_EQ(symbolizer__resolve(s, &req, f, MAX_FRAMES, &nr), 0);
				ASSERT_GE(nr, 1);
				if (f[nr - 1].flags & EMBER_FRAME_UNKNOWN)
					TEST_FAIL("pid %u %s: %s", pid, paths[i],
						  f[nr - 1].function);
				ASSERT_EQ(symbolizer__resolve(keep, &req, f, MAX_FRAMES, &nr), 0);
			}
		}
		ASSERT_EQ(symbolizer__forget_process(s, pid), 0);
		ASSERT_EQ(symbolizer__forget_process(s, pid), -ENOENT);
		if (p == 10) {
			at10 = symbolizer__bytes(s);
			kept10 = symbolizer__bytes(keep);
		}
	}
	fprintf(stderr,
		"after 10 processes: %zu bytes (%zu never forgetting); after 400: %zu (%zu)\n",
		at10, kept10, symbolizer__bytes(s), symbolizer__bytes(keep));
	/* Forgetting: 390 more processes cost nothing. */
	ASSERT_EQ(symbolizer__bytes(s), at10);
	/* Not forgetting: each process keeps its bindings (4 paths at least). */
	ASSERT_GE(symbolizer__bytes(keep), kept10 + 390 * 4 * strlen(paths[0]));
	ASSERT_EQ(sym_counter(s, "symbolize.processes_forgotten"), 400);
	symbolizer__free(s);
	symbolizer__free(keep);
}

int main(int argc, char **argv)
{
	static const struct sym_case cases[] = {{"memory_lru", test_lru},
						{"memory_dwarf_cap", test_dwarf_cap},
						{"memory_forget", test_forget}};

	return run_sym_cases(cases, 3, argc, argv);
}
