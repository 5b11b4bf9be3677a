// SPDX-License-Identifier: MIT
/*
 * Issue 3, acceptance 2 and 6: stripped fixtures symbolize exactly like their
 * unstripped originals when the debug info is found by build-id (--debug-dir),
 * by .gnu_debuglink (the binary's .debug/ directory), or from a real debuginfod
 * server on 127.0.0.1; and damaged input (garbage DWARF) falls back to symbols
 * with counters and no crash. Demangling of C++ and Rust (legacy, v0) names is
 * checked here too. Run as `test_sym_debuginfo CASE`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "sym_test_util.h"
#include "symbolizer/internal.h" /* sym_demangle(): the module's own test */

#define MAX_FRAMES 64
#define NR_ADDRS   400

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

/* Several roots (opts.debug_dirs): searched in order, the ones without the file skipped. */
static void test_build_id_dirs(void)
{
	struct ember_symbolizer_opts opts = {.sz = sizeof(opts)};
	char orig[PATH_MAX], copy[PATH_MAX], root[PATH_MAX], empty[] = "/tmp/ember-dd-XXXXXX";
	const char *dirs[3];

	fixture_path("sym_c_gcc_dwarf5", orig, sizeof(orig));
	split_path("sym_c_gcc_dwarf5.stripped", copy, sizeof(copy));
	split_path("debugroot", root, sizeof(root));
	ASSERT(mkdtemp(empty) != NULL);
	dirs[0] = empty;
	dirs[1] = "/nonexistent/ember-debug-root";
	dirs[2] = root;
	opts.debug_dirs = dirs;
	opts.nr_debug_dirs = 3;
	ASSERT_GE(compare_with_original(orig, copy, &opts), NR_ADDRS / 2);
	/* Without the root that holds it, the stripped copy has no debug info at all. */
	opts.nr_debug_dirs = 2;
	{
		struct ember_frame f[MAX_FRAMES];
		struct ember_symbolizer *s = NULL;
		uint64_t start, size;
		uint32_t n = 0;

		text_range(orig, &start, &size);
		ASSERT_EQ(symbolizer__new(&opts, &s), 0);
		ASSERT_EQ(symbolizer__resolve_elf(s, copy, start + size / 2, f, MAX_FRAMES, &n), 0);
		ASSERT_GE(sym_counter(s, "symbolize.no_debuginfo"), 1);
		symbolizer__free(s);
	}
	rmdir(empty);
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

/*
 * A TCP port that is free right now, chosen by the kernel (bind to port 0) on
 * the dual-stack wildcard address debuginfod listens on (IPv4 alone without IPv6).
 */
static int free_port(void)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
	socklen_t len;
	int fd, off = 0, port;

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		len = sizeof(a6);
		ASSERT_EQ(bind(fd, (struct sockaddr *)&a6, sizeof(a6)), 0);
		ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a6, &len), 0);
		port = ntohs(a6.sin6_port);
	} else {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT(fd >= 0);
		len = sizeof(a4);
		ASSERT_EQ(bind(fd, (struct sockaddr *)&a4, sizeof(a4)), 0);
		ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a4, &len), 0);
		port = ntohs(a4.sin_port);
	}
	close(fd);
	return port;
}

/* Whether debuginfod's log @log says it listens on @port ("started http server ... port=N"). */
static bool reported_listening(const char *log, const char *port)
{
	char line[4096], want[32];
	bool found = false;
	FILE *f = fopen(log, "r");

	snprintf(want, sizeof(want), "port=%s\n", port);
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "started http server") && strstr(line, want);
	if (f)
		fclose(f);
	return found;
}

/*
 * Starts debuginfod serving @serve (database @db, log @log) on a port the
 * kernel picked, and waits for its own report that it listens. The port can be
 * taken between free_port() and debuginfod's bind: then it exits, and another
 * port is tried. Sets @port; returns the server's pid.
 */
static pid_t start_debuginfod(const char *serve, const char *db, const char *log, char *port,
			      size_t size)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		double deadline = now_s() + 30;
		int status;
		pid_t server;

		snprintf(port, size, "%d", free_port());
		server = fork();
		ASSERT(server >= 0);
		if (server == 0) {
			int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			dup2(fd, 1);
			dup2(fd, 2);
			execlp("debuginfod", "debuginfod", "-F", "-p", port, "-d", db, "-t", "1",
			       serve, (char *)NULL);
			_exit(127);
		}
		while (now_s() < deadline) {
			if (reported_listening(log, port))
				return server;
			if (waitpid(server, &status, WNOHANG) == server)
				break;
			usleep(20 * 1000);
		}
		if (waitpid(server, &status, WNOHANG) == 0) {
			kill(server, SIGKILL);
			waitpid(server, NULL, 0);
			TEST_FAIL("debuginfod (pid %d) did not report listening on port %s in 30 s",
				  (int)server, port);
		}
		fprintf(stderr, "debuginfod exited (status 0x%x) on port %s: trying another\n",
			status, port);
	}
	TEST_FAIL("debuginfod could not listen on any of 10 free ports (log: %s)", log);
}

static void test_debuginfod(void)
{
	char orig[PATH_MAX], copy[PATH_MAX], dir[] = "/tmp/ember-dbgd-XXXXXX", cmd[PATH_MAX * 3];
	char bid[41], port[16], url[64], cache[PATH_MAX + 16], db[PATH_MAX + 16];
	char serve[PATH_MAX + 16], log[PATH_MAX + 16];
	const char *keep_log = getenv("SYM_DEBUGINFOD_LOG");
	bool ready = false;
	double deadline;
	pid_t server;

	if (run("command -v debuginfod >/dev/null && command -v debuginfod-find >/dev/null") != 0)
		missing_tool("debuginfod (Debian package debuginfod)");
	fixture_path("sym_cpp_clang_dwarf5", orig, sizeof(orig));
	split_path("sym_cpp_clang_dwarf5.stripped", copy, sizeof(copy));
	ASSERT_EQ(symbolizer__read_build_id(orig, bid, sizeof(bid)), 0);
	ASSERT(mkdtemp(dir) != NULL);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/serve %s/cache && cp '%s' %s/serve/", dir, dir,
		 orig, dir);
	ASSERT_EQ(run(cmd), 0);
	snprintf(db, sizeof(db), "%s/db.sqlite", dir);
	snprintf(serve, sizeof(serve), "%s/serve", dir);
	snprintf(log, sizeof(log), "%s/debuginfod.log", dir);
	server = start_debuginfod(serve, db, log, port, sizeof(port));

	snprintf(url, sizeof(url), "http://127.0.0.1:%s", port);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	setenv("DEBUGINFOD_URLS", url, 1);
	setenv("DEBUGINFOD_CACHE_PATH", cache, 1);
	setenv("DEBUGINFOD_TIMEOUT", "5", 1);
	/* The server scans its directory in the background: wait for it. */
	/* The client caches misses (cache_miss_s), so each probe starts clean. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'; debuginfod-find debuginfo %s >/dev/null 2>&1",
		 cache, bid);
	deadline = now_s() + 60;
	while (!ready && now_s() < deadline && waitpid(server, NULL, WNOHANG) == 0) {
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
	if (keep_log) {
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", log, keep_log);
		run(cmd);
	}
	if (!ready) {
		snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", log);
		run(cmd);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	run(cmd);
	if (!ready)
		TEST_FAIL("debuginfod on port %s never served build-id %s in 60 s", port, bid);
}

/* ---- damaged DWARF ------------------------------------------------------ */

/* Overwrites the contents of section @name of the file at @path with garbage. */
static bool scribble_section(const char *path, const char *name)
{
	uint64_t off, size;
	GElf_Shdr sh;
	int fd;

	elf_section_header(path, name, &sh);
	off = sh.sh_offset;
	size = sh.sh_size;
	fd = open(path, O_RDWR);
	ASSERT(fd >= 0);
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
	static const struct sym_case cases[] = {
	    {"build_id_dir", test_build_id}, {"debuglink", test_debuglink},
	    {"nodebug", test_nodebug},	     {"build_id_dirs", test_build_id_dirs},
	    {"debuginfod", test_debuginfod}, {"garbage_dwarf", test_garbage_dwarf},
	    {"demangle", test_demangle},     {"no_demangle", test_no_demangle},
	};
	elf_version(EV_CURRENT);
	return run_sym_cases(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
