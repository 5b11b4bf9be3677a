// SPDX-License-Identifier: MIT
/*
 * Symbolizer basics (issue 2's first cut): kallsyms lookups with module names,
 * ELF symbols of PIE, non-PIE (ET_EXEC) and shared-library mappings, return
 * addresses, PLT stubs, the vDSO, build-id notes, and [unknown]-style frames
 * with counters for files that cannot help. Run as `test_sym_basic CASE`; each
 * case is its own ctest (tests/symbolizer/CMakeLists.txt).
 */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <sys/auxv.h>
#include <sys/stat.h>

#include "sym_test_util.h"

#define MAX_FRAMES 32

static struct ember_symbolizer *new_sym(const char *kallsyms)
{
	struct ember_symbolizer_opts opts = {.sz = sizeof(opts), .kallsyms_path = kallsyms};
	struct ember_symbolizer *s = NULL;

	ASSERT_EQ(symbolizer__new(&opts, &s), 0);
	ASSERT(s != NULL);
	return s;
}

static void resolve(struct ember_symbolizer *s, const struct ember_symbolize_request *req,
		    struct ember_frame *frames, uint32_t *nr)
{
	ASSERT_EQ(symbolizer__resolve(s, req, frames, MAX_FRAMES, nr), 0);
	ASSERT_GE(*nr, 1);
}

/* ---- kernel ------------------------------------------------------------- */

static void test_kallsyms(void)
{
	char path[] = "/tmp/ember-kallsyms-XXXXXX";
	struct ember_symbolize_request req = {.is_kernel = true};
	struct ember_frame f[MAX_FRAMES];
	struct ember_symbolizer *s;
	uint32_t nr;
	FILE *out;
	int fd;

	fd = mkstemp(path);
	ASSERT(fd >= 0);
	out = fdopen(fd, "w");
	ASSERT(out != NULL);
	/* Unsorted on purpose, with a data symbol that must be ignored, and the
	 * padding symbols of a 6.x kernel (__pfx_NAME right before NAME, whose
	 * name storage NAME shares), in the core kernel and in a module. */
	fprintf(out, "ffffffff811ffff0 t __pfx_vfs_read\n"
		     "ffffffff81200000 T vfs_read\n"
		     "ffffffff81000000 T _stext\n"
		     "ffffffff81100000 t do_syscall_64\n"
		     "ffffffff81150000 D some_data\n"
		     "ffffffffc00ffff0 t __pfx_ext4_file_read_iter\t[ext4]\n"
		     "ffffffffc0100000 t ext4_file_read_iter\t[ext4]\n"
		     "ffffffffc01ffff0 t __pfx_nf_hook\t[nf_tables]\n"
		     "ffffffffc0200000 T nf_hook_other\t[nf_tables]\n");
	fclose(out);
	s = new_sym(path);

	req.address = 0xffffffff81100010;
	resolve(s, &req, f, &nr);
	ASSERT_EQ(nr, 1);
	ASSERT_STR_EQ(f[0].function, "do_syscall_64");
	ASSERT_EQ(f[0].flags, EMBER_FRAME_KERNEL);
	ASSERT_STR_EQ(symbolizer__kernel_module(s, req.address), "[kernel.kallsyms]");

	/* The data symbol does not capture addresses after it. */
	req.address = 0xffffffff81150010;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "do_syscall_64");

	req.address = 0xffffffffc0100abc;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "ext4_file_read_iter");
	ASSERT_STR_EQ(symbolizer__kernel_module(s, req.address), "[ext4]");
	req.address = 0xffffffffc00ffff4;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "__pfx_ext4_file_read_iter");
	ASSERT_STR_EQ(symbolizer__kernel_module(s, req.address), "[ext4]");
	/* A padding symbol followed by another name: both names whole. */
	req.address = 0xffffffffc01ffff8;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "__pfx_nf_hook");
	req.address = 0xffffffffc0200008;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "nf_hook_other");
	ASSERT_STR_EQ(symbolizer__kernel_module(s, req.address), "[nf_tables]");

	/* A return address right after a function (where the next one's padding
	 * starts) belongs to that function. */
	req.address = 0xffffffff811ffff0;
	req.is_return = true;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "do_syscall_64");
	req.address = 0xffffffff81200000;
	req.is_return = false;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "vfs_read");
	req.address = 0xffffffff811ffff8;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "__pfx_vfs_read");

	req.address = 0xffffffff80000000;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "[unknown]");
	ASSERT_EQ(f[0].flags, EMBER_FRAME_KERNEL | EMBER_FRAME_UNKNOWN);
	ASSERT_EQ(sym_counter(s, "symbolize.kernel_no_symbol"), 1);
	symbolizer__free(s);
	unlink(path);

	/* No kallsyms at all: unknown frames, counted, not an error. */
	s = new_sym("/nonexistent/kallsyms");
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "[unknown]");
	ASSERT_EQ(sym_counter(s, "symbolize.kernel_no_kallsyms"), 1);
	symbolizer__free(s);
}

/* ---- user space: this process ------------------------------------------ */

__attribute__((noinline)) int sym_test_marker(int x);
__attribute__((noinline)) int sym_test_marker(int x)
{
	__asm__ volatile("" ::: "memory");
	return x * 3 + 1;
}

/* Fills @req for runtime address @addr of this process from /proc/self/maps. */
static void self_request(uint64_t addr, struct ember_symbolize_request *req, char *path,
			 size_t size)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	ASSERT(f != NULL);
	memset(req, 0, sizeof(*req));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		int at = 0;

		if (sscanf(line, "%llx-%llx %*s %llx %*s %*u %n", &start, &end, &off, &at) != 3)
			continue;
		if (addr < start || addr >= end)
			continue;
		snprintf(path, size, "%s", line + at);
		path[strcspn(path, "\n")] = '\0';
		req->map_start = start;
		req->map_offset = off;
		found = true;
		break;
	}
	fclose(f);
	ASSERT(found);
	req->pid = (uint32_t)getpid();
	req->path = path;
	req->address = addr;
}

static void test_self(void)
{
	struct ember_symbolize_request req;
	struct ember_frame f[MAX_FRAMES];
	struct ember_symbolizer *s = new_sym(NULL);
	char path[4096];
	uint32_t nr;

	/* This test binary: PIE by default on Debian. */
	self_request((uint64_t)(uintptr_t)&sym_test_marker, &req, path, sizeof(path));
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[nr - 1].function, "sym_test_marker");
	ASSERT_EQ(f[nr - 1].flags & EMBER_FRAME_UNKNOWN, 0);
	/* clang may give a function's first instruction line 0: look a little
	 * further for the file. */
	{
		bool has_file = false;

		for (uint64_t d = 0; d < 32 && !has_file; d++) {
			struct ember_symbolize_request r = req;

			r.address += d;
			resolve(s, &r, f, &nr);
			has_file = f[nr - 1].file && strstr(f[nr - 1].file, "test_sym_basic.c");
		}
		ASSERT(has_file);
	}

	/* One past the start as a return address is still the function. */
	req.address += 1;
	req.is_return = true;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[nr - 1].function, "sym_test_marker");

	/* A shared library (libelf), through its .dynsym or .symtab. */
	self_request((uint64_t)(uintptr_t)&elf_version, &req, path, sizeof(path));
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[nr - 1].function, "elf_version");
	symbolizer__free(s);
}

/* ---- user space: fixtures at chosen load addresses ---------------------- */

static void check_function(struct ember_symbolizer *s, const char *path, uint64_t bias,
			   const char *name)
{
	struct ember_symbolize_request req;
	struct ember_frame f[MAX_FRAMES];
	uint64_t vaddr = elf_symbol_value(path, name);
	uint32_t nr;

	ASSERT_NE(vaddr, 0);
	request_for(path, bias, vaddr, &req);
	resolve(s, &req, f, &nr);
	/* The outermost frame is the real function; inner ones may be inlines. */
	ASSERT_STR_EQ(f[nr - 1].function, name);
	for (uint32_t i = 0; i + 1 < nr; i++)
		ASSERT(f[i].flags & EMBER_FRAME_INLINE);
	ASSERT(f[nr - 1].file != NULL);
	ASSERT_GT(f[nr - 1].line, 0);
}

static void test_exec_and_pie(void)
{
	struct ember_symbolizer *s = new_sym(NULL);
	char path[PATH_MAX];

	fixture_path("sym_c_nopie", path, sizeof(path));
	check_function(s, path, 0, "work_a");
	check_function(s, path, 0, "work_b");
	check_function(s, path, 0, "main");

	fixture_path("sym_c_gcc_dwarf5", path, sizeof(path));
	check_function(s, path, 0x55d4c0a00000, "work_a");
	check_function(s, path, 0x55d4c0a00000, "work_b");
	/* Same file at another base (another process): the cache is shared. */
	check_function(s, path, 0x5600000000, "main");

	fixture_path("sym_cpp_clang_dwarf5", path, sizeof(path));
	{
		struct ember_symbolize_request req;
		struct ember_frame f[MAX_FRAMES];
		uint64_t v = elf_symbol_value(path, "main");
		uint32_t nr;

		request_for(path, 0x7f1200000000, v, &req);
		resolve(s, &req, f, &nr);
		ASSERT_STR_EQ(f[nr - 1].function, "main");
	}
	symbolizer__free(s);
}

/* Every stub objdump names "<x@plt>" resolves to that name. */
static void test_plt(void)
{
	struct ember_symbolizer *s = new_sym(NULL);
	char path[PATH_MAX], cmd[PATH_MAX + 128], line[1024];
	int checked = 0;
	FILE *p;

	fixture_path("sym_c_gcc_dwarf5", path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p)
		SKIP("objdump not runnable");
	while (fgets(line, sizeof(line), p)) {
		unsigned long long addr;
		char name[256];
		struct ember_frame f[MAX_FRAMES];
		uint32_t nr;

		if (sscanf(line, "%llx <%255[^>]>:", &addr, name) != 2 || !strstr(name, "@plt") ||
		    strpbrk(name, "+-"))
			continue;
		ASSERT_EQ(symbolizer__resolve_elf(s, path, addr + 4, f, MAX_FRAMES, &nr), 0);
		ASSERT_EQ(nr, 1);
		ASSERT_STR_EQ(f[0].function, name);
		checked++;
	}
	pclose(p);
	if (!checked)
		SKIP("objdump shows no PLT stubs");
	ASSERT_GE(checked, 3); /* strlen, snprintf, clock_gettime, printf */
	symbolizer__free(s);
}

static void test_vdso(void)
{
	struct ember_symbolize_request req = {.path = "[vdso]"};
	const Elf64_Ehdr *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
	struct ember_frame f[MAX_FRAMES];
	struct ember_symbolizer *s;
	uint64_t target = 0;
	uint32_t nr;

	if (!eh)
		SKIP("no vDSO");
	target = vdso_symbol("__vdso_clock_gettime");
	ASSERT_NE(target, 0);
	s = new_sym(NULL);
	req.pid = (uint32_t)getpid();
	req.map_start = (uint64_t)(uintptr_t)eh;
	req.map_offset = 0;
	req.address = req.map_start + target + 2;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "__vdso_clock_gettime");
	symbolizer__free(s);
}

static void test_build_id(void)
{
	char path[PATH_MAX], hex[41], cmd[PATH_MAX + 64], expect[128] = "";
	FILE *p;

	fixture_path("sym_c_gcc_dwarf5", path, sizeof(path));
	ASSERT_EQ(symbolizer__read_build_id(path, hex, sizeof(hex)), 0);
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | awk '/Build ID:/ {print $3}'", path);
	p = popen(cmd, "r");
	ASSERT(p != NULL);
	if (!fgets(expect, sizeof(expect), p))
		expect[0] = '\0';
	pclose(p);
	expect[strcspn(expect, "\n")] = '\0';
	if (expect[0])
		ASSERT_STR_EQ(hex, expect);
	ASSERT_EQ(strlen(hex), 40);
	ASSERT_EQ(symbolizer__read_build_id(path, hex, 10), -ENOSPC);
	ASSERT_EQ(symbolizer__read_build_id("/nonexistent", hex, sizeof(hex)), -ENOENT);
	ASSERT_EQ(symbolizer__read_build_id("/proc/self/status", hex, sizeof(hex)), -EINVAL);
}

/* ---- files that cannot help --------------------------------------------- */

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	ASSERT(f != NULL);
	ASSERT_EQ(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void copy_prefix(const char *from, const char *to, size_t len)
{
	char *buf = malloc(len);
	FILE *f = fopen(from, "r");

	ASSERT(buf && f);
	ASSERT_EQ(fread(buf, 1, len, f), len);
	fclose(f);
	write_file(to, buf, len);
	free(buf);
}

static void expect_unknown(struct ember_symbolizer *s, const char *path, const char *want)
{
	struct ember_symbolize_request req = {
	    .path = path,
	    .map_start = 0x400000,
	    .map_offset = 0x1000,
	    .address = 0x400123,
	};
	struct ember_frame f[MAX_FRAMES];
	uint32_t nr;

	resolve(s, &req, f, &nr);
	ASSERT_EQ(nr, 1);
	ASSERT_STR_EQ(f[0].function, want);
	ASSERT_EQ(f[0].flags, EMBER_FRAME_UNKNOWN);
	/* Asked again: the same answer from the remembered failure. */
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, want);
}

static void test_bad_files(void)
{
	struct ember_symbolizer *s = new_sym(NULL);
	char fixture[PATH_MAX], dir[] = "/tmp/ember-symbad-XXXXXX", path[PATH_MAX + 64];
	struct ember_symbolize_request req = {0};
	struct ember_frame f[MAX_FRAMES];
	uint32_t nr;

	fixture_path("sym_c_gcc_dwarf5", fixture, sizeof(fixture));
	ASSERT(mkdtemp(dir) != NULL);

	snprintf(path, sizeof(path), "%s/missing.so", dir);
	expect_unknown(s, path, "missing.so+0x1123");
	ASSERT_EQ(sym_counter(s, "symbolize.open_failed"), 2);

	snprintf(path, sizeof(path), "%s/text.so", dir);
	write_file(path, "this is not an ELF file\n", 24);
	expect_unknown(s, path, "text.so+0x1123");
	ASSERT_EQ(sym_counter(s, "symbolize.not_elf"), 2);

	/* Truncated inside the program headers. */
	snprintf(path, sizeof(path), "%s/trunc.so", dir);
	copy_prefix(fixture, path, 100);
	expect_unknown(s, path, "trunc.so+0x1123");
	ASSERT_EQ(sym_counter(s, "symbolize.bad_elf"), 2);

	/* Truncated after the headers: sections point past the end. */
	snprintf(path, sizeof(path), "%s/trunc2.so", dir);
	copy_prefix(fixture, path, 5000);
	{
		struct ember_symbolize_request r2 = {
		    .path = path, .map_start = 0x1000, .map_offset = 0x1000, .address = 0x1100};

		resolve(s, &r2, f, &nr);
		ASSERT_EQ(nr, 1);
		ASSERT(f[0].flags & EMBER_FRAME_UNKNOWN);
	}

	/* A directory is not a file to map. */
	snprintf(path, sizeof(path), "%s+0x1123", strrchr(dir, '/') + 1);
	expect_unknown(s, dir, path);
	symbolizer__free(s);

	s = new_sym(NULL);
	/* No path at all, and an anonymous mapping without a perf map. */
	req.address = 0x1234;
	resolve(s, &req, f, &nr);
	ASSERT_STR_EQ(f[0].function, "[unknown]");
	ASSERT_EQ(sym_counter(s, "symbolize.no_mapping_file"), 1);
	req.pid = 999999999;
	req.path = "//anon";
	resolve(s, &req, f, &nr);
	ASSERT(f[0].flags & EMBER_FRAME_UNKNOWN);
	ASSERT_EQ(sym_counter(s, "symbolize.perfmap_missing"), 1);
	/* Outside every segment of a good file. */
	req.pid = 0;
	req.path = fixture;
	req.map_start = 0x1000;
	req.map_offset = 0x7000000;
	req.address = 0x1000;
	resolve(s, &req, f, &nr);
	ASSERT(f[0].flags & EMBER_FRAME_UNKNOWN);
	ASSERT_EQ(sym_counter(s, "symbolize.no_segment"), 1);
	symbolizer__free(s);

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	ASSERT_EQ(system(path), 0);
}

int main(int argc, char **argv)
{
	static const struct sym_case cases[] = {
	    {"kallsyms", test_kallsyms},
	    {"self", test_self},
	    {"exec_pie", test_exec_and_pie},
	    {"plt", test_plt},
	    {"vdso", test_vdso},
	    {"build_id", test_build_id},
	    {"bad_files", test_bad_files},
	};
	return run_sym_cases(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
