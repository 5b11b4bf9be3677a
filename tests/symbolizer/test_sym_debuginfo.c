// SPDX-License-Identifier: MIT
/*
 * Issue 3, acceptance 2 and 6: stripped fixtures symbolize exactly like their
 * unstripped originals when the debug info is found by build-id (--debug-dir),
 * by .gnu_debuglink (the binary's .debug/ directory), or from a real debuginfod
 * server on 127.0.0.1; and damaged input (garbage DWARF) falls back to symbols
 * with counters and no crash. Demangling of C++ and Rust (legacy, v0) names is
 * checked here too. Run as `test_sym_debuginfo CASE`.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sym_test_util.h"
#include "symbolizer/internal.h" /* sym_demangle(): the module's own test */

#define MAX_FRAMES 64
#define NR_ADDRS   400

static void text_range(const char *path, uint64_t *start, uint64_t *size)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;
	int fd;

	*start = *size = 0;
	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY);
	ASSERT(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	ASSERT(elf && elf_getshdrstrndx(elf, &shstrndx) == 0);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && strcmp(name, ".text") == 0) {
			*start = sh.sh_addr;
			*size = sh.sh_size;
		}
	}
	elf_end(elf);
	close(fd);
	ASSERT_NE(*size, 0);
}

static bool frames_equal(const struct ember_frame *a, uint32_t na, const struct ember_frame *b,
			 uint32_t nb)
{
	if (na != nb)
		return false;
	for (uint32_t i = 0; i < na; i++) {
		/* Placeholders name the module, which differs between the copies. */
		if ((a[i].flags & EMBER_FRAME_UNKNOWN) && (b[i].flags & EMBER_FRAME_UNKNOWN))
			continue;
		if (strcmp(a[i].function, b[i].function) != 0 || a[i].flags != b[i].flags ||
		    a[i].line != b[i].line || !a[i].file != !b[i].file ||
		    (a[i].file && strcmp(a[i].file, b[i].file) != 0))
			return false;
	}
	return true;
}

/*
 * Resolves NR_ADDRS addresses of @copy with @opts and requires the frames of
 * @original (resolved with default options). Returns how many had a function
 * name from DWARF or symbols (not placeholders).
 */
static size_t compare_with_original(const char *original, const char *copy,
				    const struct ember_symbolizer_opts *opts)
{
	struct ember_frame a[MAX_FRAMES], b[MAX_FRAMES];
	struct ember_symbolizer *ref = NULL, *s = NULL;
	uint64_t start, size;
	size_t named = 0;

	text_range(original, &start, &size);
	ASSERT_EQ(symbolizer__new(NULL, &ref), 0);
	ASSERT_EQ(symbolizer__new(opts, &s), 0);
	for (size_t i = 0; i < NR_ADDRS; i++) {
		uint64_t addr = start + size * i / NR_ADDRS + (i % 5);
		uint32_t na = 0, nb = 0;

		ASSERT_EQ(symbolizer__resolve_elf(ref, original, addr, a, MAX_FRAMES, &na), 0);
		ASSERT_EQ(symbolizer__resolve_elf(s, copy, addr, b, MAX_FRAMES, &nb), 0);
		if (!frames_equal(a, na, b, nb)) {
			fprintf(stderr, "0x%" PRIx64 ": original %s (%u frames) vs copy %s (%u)\n",
				addr, na ? a[0].function : "-", na, nb ? b[0].function : "-", nb);
			TEST_FAIL("%s differs from %s", copy, original);
		}
		named += nb && !(b[0].flags & EMBER_FRAME_UNKNOWN);
	}
	ASSERT_EQ(sym_counter(s, "symbolize.no_debuginfo"), 0);
	symbolizer__free(ref);
	symbolizer__free(s);
	return named;
}

static void split_path(const char *name, char *buf, size_t size)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "sym_split/%s", name);
	fixture_path(rel, buf, size);
}

static void test_build_id(void)
{
	struct ember_symbolizer_opts opts = {.sz = sizeof(opts)};
	char orig[PATH_MAX], copy[PATH_MAX], root[PATH_MAX];
	static const char *const names[] = {"sym_c_gcc_dwarf5", "sym_cpp_clang_dwarf5"};

	for (size_t k = 0; k < 2; k++) {
		char rel[128];

		fixture_path(names[k], orig, sizeof(orig));
		snprintf(rel, sizeof(rel), "%s.stripped", names[k]);
		split_path(rel, copy, sizeof(copy));
		split_path("debugroot", root, sizeof(root));
		opts.debug_dir = root;
		ASSERT_GE(compare_with_original(orig, copy, &opts), NR_ADDRS / 2);
	}
}

static void test_debuglink(void)
{
	char orig[PATH_MAX], copy[PATH_MAX];

	fixture_path("sym_cpp_gcc_dwarf5", orig, sizeof(orig)); /* exists: skip otherwise */
	fixture_path("sym_c_gcc_dwarf5", orig, sizeof(orig));
	split_path("sym_c_gcc_dwarf5.linked", copy, sizeof(copy));
	ASSERT_GE(compare_with_original(orig, copy, NULL), NR_ADDRS / 2);
	fixture_path("sym_cpp_clang_dwarf5", orig, sizeof(orig));
	split_path("sym_cpp_clang_dwarf5.linked", copy, sizeof(copy));
	ASSERT_GE(compare_with_original(orig, copy, NULL), NR_ADDRS / 2);
}

/* Without debug info: exported names only, the rest placeholders, counted. */
static void test_nodebug(void)
{
	struct ember_frame f[MAX_FRAMES];
	struct ember_symbolizer *s = NULL;
	char copy[PATH_MAX];
	uint64_t start, size;
	uint32_t nr;

	split_path("sym_c_gcc_dwarf5.nodebug", copy, sizeof(copy));
	text_range(copy, &start, &size);
	ASSERT_EQ(symbolizer__new(NULL, &s), 0);
	for (size_t i = 0; i < 50; i++) {
		ASSERT_EQ(
		    symbolizer__resolve_elf(s, copy, start + size * i / 50, f, MAX_FRAMES, &nr), 0);
		ASSERT_EQ(nr, 1);
		ASSERT(f[0].file == NULL);
	}
	ASSERT_GT(sym_counter(s, "symbolize.no_debuginfo"), 0);
	ASSERT_GT(sym_counter(s, "symbolize.no_symbol"), 0);
	symbolizer__free(s);
}

/* ---- debuginfod --------------------------------------------------------- */

static int run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_debuginfod(void)
{
	char orig[PATH_MAX], copy[PATH_MAX], dir[] = "/tmp/ember-dbgd-XXXXXX", cmd[PATH_MAX * 3];
	char bid[41], port[16], url[64], cache[PATH_MAX + 16], db[PATH_MAX + 16];
	pid_t server;
	bool ready = false;

	if (run("command -v debuginfod >/dev/null && command -v debuginfod-find >/dev/null") != 0)
		SKIP("debuginfod (Debian package debuginfod) not installed");
	fixture_path("sym_cpp_clang_dwarf5", orig, sizeof(orig));
	split_path("sym_cpp_clang_dwarf5.stripped", copy, sizeof(copy));
	ASSERT_EQ(symbolizer__read_build_id(orig, bid, sizeof(bid)), 0);
	ASSERT(mkdtemp(dir) != NULL);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/serve %s/cache && cp '%s' %s/serve/", dir, dir,
		 orig, dir);
	ASSERT_EQ(run(cmd), 0);
	/* A port from the pid keeps parallel test runs apart. */
	snprintf(port, sizeof(port), "%d", 20000 + getpid() % 20000);
	snprintf(db, sizeof(db), "%s/db.sqlite", dir);
	snprintf(cmd, sizeof(cmd), "%s/serve", dir);

	server = fork();
	ASSERT(server >= 0);
	if (server == 0) {
		int null =
		    open(getenv("SYM_DEBUGINFOD_LOG") ? getenv("SYM_DEBUGINFOD_LOG") : "/dev/null",
			 O_WRONLY | O_CREAT, 0644);

		dup2(null, 1);
		dup2(null, 2);
		execlp("debuginfod", "debuginfod", "-F", "-p", port, "-d", db, "-t", "1", cmd,
		       (char *)NULL);
		_exit(127);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%s", port);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	setenv("DEBUGINFOD_URLS", url, 1);
	setenv("DEBUGINFOD_CACHE_PATH", cache, 1);
	setenv("DEBUGINFOD_TIMEOUT", "5", 1);
	/* The server scans its directory in the background: wait for it. */
	/* The client caches misses (cache_miss_s), so each probe starts clean. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'; debuginfod-find debuginfo %s >/dev/null 2>&1",
		 cache, bid);
	for (int i = 0; i < 100 && !ready; i++) {
		ready = run(cmd) == 0;
		if (!ready)
			usleep(200 * 1000);
	}
	if (ready) {
		/* Start from an empty client cache: ember must fetch it itself. */
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", cache, cache);
		ASSERT_EQ(run(cmd), 0);
		ASSERT_GE(compare_with_original(orig, copy, NULL), NR_ADDRS / 2);
	}
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	unsetenv("DEBUGINFOD_URLS");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	run(cmd);
	if (!ready)
		TEST_FAIL("debuginfod on port %s never served build-id %s", port, bid);
}

/* ---- damaged DWARF ------------------------------------------------------ */

/* Overwrites the contents of section @name of the file at @path with garbage. */
static bool scribble_section(const char *path, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	uint64_t off = 0, size = 0;
	Elf *elf;
	int fd;

	fd = open(path, O_RDWR);
	ASSERT(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	ASSERT(elf && elf_getshdrstrndx(elf, &shstrndx) == 0);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (n && strcmp(n, name) == 0) {
			off = sh.sh_offset;
			size = sh.sh_size;
		}
	}
	elf_end(elf);
	if (size) {
		unsigned char *junk = malloc(size);

		ASSERT(junk != NULL);
		/* Deterministic noise with plausible-looking small lengths. */
		for (uint64_t i = 0; i < size; i++)
			junk[i] = (unsigned char)((i * 2654435761u) >> 13) ^ (i % 7 ? 0 : 0xff);
		ASSERT_EQ(pwrite(fd, junk, size, (off_t)off), (ssize_t)size);
		free(junk);
	}
	close(fd);
	return size != 0;
}

static void test_garbage_dwarf(void)
{
	static const char *const sections[] = {".debug_info", ".debug_line", ".debug_abbrev",
					       ".debug_str", ".debug_rnglists"};
	char orig[PATH_MAX], dir[] = "/tmp/ember-garbage-XXXXXX", path[PATH_MAX + 32],
			     cmd[PATH_MAX * 3];
	struct ember_frame f[MAX_FRAMES];
	uint64_t start, size;

	fixture_path("sym_cpp_gcc_dwarf5", orig, sizeof(orig));
	ASSERT(mkdtemp(dir) != NULL);
	text_range(orig, &start, &size);
	/* One damaged section at a time, then all of them. */
	for (size_t k = 0; k <= sizeof(sections) / sizeof(sections[0]); k++) {
		struct ember_symbolizer *s = NULL;
		size_t named = 0;

		snprintf(path, sizeof(path), "%s/bad%zu", dir, k);
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", orig, path);
		ASSERT_EQ(run(cmd), 0);
		if (k < sizeof(sections) / sizeof(sections[0]))
			scribble_section(path, sections[k]);
		else
			for (size_t j = 0; j < sizeof(sections) / sizeof(sections[0]); j++)
				scribble_section(path, sections[j]);
		ASSERT_EQ(symbolizer__new(NULL, &s), 0);
		for (size_t i = 0; i < 300; i++) {
			uint32_t nr = 0;

			ASSERT_EQ(symbolizer__resolve_elf(s, path, start + size * i / 300, f,
							  MAX_FRAMES, &nr),
				  0);
			ASSERT_GE(nr, 1);
			for (uint32_t j = 0; j < nr; j++)
				ASSERT(f[j].function && f[j].function[0]);
			named += !(f[nr - 1].flags & EMBER_FRAME_UNKNOWN);
		}
		/* .symtab is intact: most addresses keep a function name. */
		ASSERT_GE(named, 200);
		symbolizer__free(s);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	run(cmd);
}

/* ---- demangling --------------------------------------------------------- */

static void expect_demangled(const char *mangled, const char *want)
{
	char *got = sym_demangle(mangled);

	if (!want) {
		ASSERT(got == NULL);
		return;
	}
	ASSERT_STR_EQ(got, want);
	free(got);
}

static void test_demangle(void)
{
	expect_demangled("_ZN13ember_fixture6detail6squareIlEET_S2_",
			 "long ember_fixture::detail::square<long>(long)");
	expect_demangled("_ZNSt6vectorIiSaIiEE9push_backERKi",
			 "std::vector<int, std::allocator<int> >::push_back(int const&)");
	/* Rust legacy: the hash suffix is dropped, as rustfilt does. */
	expect_demangled("_ZN4core3fmt9Formatter3pad17h4b6e5b2c1f3a2d1eE",
			 "core::fmt::Formatter::pad");
	/* Rust v0. */
	expect_demangled("_RNvCs1234_7mycrate3foo", "mycrate::foo");
	expect_demangled("_RNvNtCs1234_7mycrate4util3bar", "mycrate::util::bar");
	expect_demangled("main", NULL);
	expect_demangled("_Zgarbage", NULL);
}

/* --no-demangle keeps the raw name for display; system_name is always raw. */
static void test_no_demangle(void)
{
	struct ember_symbolizer_opts opts = {.sz = sizeof(opts), .no_demangle = true};
	struct ember_symbolizer *s = NULL, *d = NULL;
	struct ember_frame f[MAX_FRAMES], g[MAX_FRAMES];
	char path[PATH_MAX];
	uint64_t addr;
	uint32_t nr, ng;

	fixture_path("sym_cpp_gcc_dwarf5", path, sizeof(path));
	addr = elf_symbol_value(path, "_ZN13ember_fixture10sum_sortedIlEET_RSt6vectorIS1_SaIS1_EE");
	ASSERT_NE(addr, 0);
	ASSERT_EQ(symbolizer__new(&opts, &s), 0);
	ASSERT_EQ(symbolizer__new(NULL, &d), 0);
	ASSERT_EQ(symbolizer__resolve_elf(s, path, addr, f, MAX_FRAMES, &nr), 0);
	ASSERT_EQ(symbolizer__resolve_elf(d, path, addr, g, MAX_FRAMES, &ng), 0);
	ASSERT_STR_EQ(f[nr - 1].function,
		      "_ZN13ember_fixture10sum_sortedIlEET_RSt6vectorIS1_SaIS1_EE");
	ASSERT_STR_EQ(g[ng - 1].system_name,
		      "_ZN13ember_fixture10sum_sortedIlEET_RSt6vectorIS1_SaIS1_EE");
	ASSERT_STR_EQ(
	    g[ng - 1].function,
	    "long ember_fixture::sum_sorted<long>(std::vector<long, std::allocator<long> >&)");
	symbolizer__free(s);
	symbolizer__free(d);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
	    {"build_id_dir", test_build_id},
	    {"debuglink", test_debuglink},
	    {"nodebug", test_nodebug},
	    {"debuginfod", test_debuginfod},
	    {"garbage_dwarf", test_garbage_dwarf},
	    {"demangle", test_demangle},
	    {"no_demangle", test_no_demangle},
	};
	bool ran = false;

	elf_version(EV_CURRENT);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		cases[i].fn();
		ran = true;
	}
	if (!ran)
		TEST_FAIL("unknown case %s", argv[1]);
	return 0;
}
