// SPDX-License-Identifier: MIT
/*
 * Symbolizing live processes (issue 3, acceptance 4 and parts of 3 and 6): a
 * JIT perf map read through /proc/PID/root, a binary deleted after it started
 * (opened through /proc/PID/map_files), a binary in a private mount namespace
 * at a path that does not exist on the host (opened through /proc/PID/root),
 * and the vDSO of another process. Run as `test_sym_process CASE`.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "sym_test_util.h"

#define MAX_FRAMES 64

static int run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static struct ember_symbolizer *new_sym(void)
{
	struct ember_symbolizer *s = NULL;

	ASSERT_EQ(symbolizer__new(NULL, &s), 0);
	return s;
}

/* ---- perf map ----------------------------------------------------------- */

static void test_perfmap(void)
{
	struct ember_symbolize_request req = {.pid = (uint32_t)getpid(), .path = ""};
	struct ember_frame f[MAX_FRAMES];
	struct ember_symbolizer *s;
	char path[64];
	uint32_t nr;
	FILE *out;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	out = fopen(path, "w");
	ASSERT(out != NULL);
	fprintf(out, "7f0000001000 100 LazyCompile:~fib /app/fib.js:3\n"
		     "7f0000001100 80 Builtin:ArgumentsAdaptorTrampoline\n"
		     "7f0000002000 40 stale name\n"
		     "7f0000002000 40 JS:*hot_loop /app/loop.js:10\n"
		     "garbage line\n");
	fclose(out);
	s = new_sym();
	req.address = 0x7f0000001010;
	ASSERT_EQ(symbolizer__resolve(s, &req, f, MAX_FRAMES, &nr), 0);
	ASSERT_EQ(nr, 1);
	ASSERT_STR_EQ(f[0].function, "LazyCompile:~fib /app/fib.js:3");
	ASSERT_EQ(f[0].flags, EMBER_FRAME_JIT);
	req.address = 0x7f0000001110;
	req.path = "[anon:v8]";
	ASSERT_EQ(symbolizer__resolve(s, &req, f, MAX_FRAMES, &nr), 0);
	ASSERT_STR_EQ(f[0].function, "Builtin:ArgumentsAdaptorTrampoline");
	/* A reused range: the line written last describes the code there now. */
	req.address = 0x7f0000002001;
	ASSERT_EQ(symbolizer__resolve(s, &req, f, MAX_FRAMES, &nr), 0);
	ASSERT_STR_EQ(f[0].function, "JS:*hot_loop /app/loop.js:10");
	/* Between entries: a counted placeholder. */
	req.address = 0x7f0000001f00;
	ASSERT_EQ(symbolizer__resolve(s, &req, f, MAX_FRAMES, &nr), 0);
	ASSERT(f[0].flags & EMBER_FRAME_UNKNOWN);
	ASSERT_EQ(sym_counter(s, "symbolize.perfmap_no_symbol"), 1);
	symbolizer__free(s);
	unlink(path);
}

/* ---- helpers for child processes ---------------------------------------- */

/* How long a child may take to map what a test waits for: a slow machine is no skip. */
#define SPAWN_WAIT_S 60

/*
 * Starts @argv (execvp) and waits until /proc/PID/maps names @needle. Fails
 * the test when the child exits first or the mapping is not there within
 * SPAWN_WAIT_S seconds; returns the child's pid.
 */
/*
 * Waits up to SPAWN_WAIT_S for /proc/@pid/maps to name @needle; fails the test
 * if @pid exits first or the mapping never comes (@what names it in messages).
 */
static void wait_for_mapping(pid_t pid, const char *what, const char *needle)
{
	char maps[64], line[4096];
	double deadline = now_s() + SPAWN_WAIT_S;
	int status;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	while (now_s() < deadline) {
		FILE *f = fopen(maps, "r");
		bool seen = false;

		while (f && fgets(line, sizeof(line), f))
			seen = seen || strstr(line, needle);
		if (f)
			fclose(f);
		if (seen)
			return;
		if (waitpid(pid, &status, WNOHANG) == pid)
			TEST_FAIL("%s (pid %d) exited (status 0x%x) before mapping %s", what,
				  (int)pid, status, needle);
		usleep(20 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	TEST_FAIL("%s (pid %d): /proc/%d/maps named no %s within %d s", what, (int)pid, (int)pid,
		  needle, SPAWN_WAIT_S);
}

/*
 * Starts argv and waits until its maps name @needle. @needle must be something
 * only the new program maps (its own file): a forked child shows its parent's
 * mappings until its exec is done.
 */
static pid_t spawn_and_wait(char *const argv[], const char *needle)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	wait_for_mapping(pid, argv[0], needle);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/*
 * Builds the request for ELF virtual address @vaddr of the file mapped from a
 * path containing @needle in process @pid, from its /proc/PID/maps.
 */
static void live_request(pid_t pid, const char *needle, uint64_t vaddr,
			 struct ember_symbolize_request *req, char *path, size_t size)
{
	char maps[64], line[4096];
	uint64_t bias = UINT64_MAX;
	bool found = false;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	memset(req, 0, sizeof(*req));
	/* Two passes: the offset-0 mapping gives the load bias (PIE, first
	 * PT_LOAD at vaddr 0), then find the mapping holding the address. */
	for (int pass = 0; pass < 2 && !found; pass++) {
		f = fopen(maps, "r");
		ASSERT(f != NULL);
		while (fgets(line, sizeof(line), f)) {
			unsigned long long start, end, off;
			int at = 0;

			if (!strstr(line, needle) || sscanf(line, "%llx-%llx %*s %llx %*s %*u %n",
							    &start, &end, &off, &at) != 3)
				continue;
			if (pass == 0) {
				if (off == 0 && bias == UINT64_MAX)
					bias = start;
				continue;
			}
			if (bias + vaddr < start || bias + vaddr >= end)
				continue;
			snprintf(path, size, "%s", line + at);
			path[strcspn(path, "\n")] = '\0';
			req->map_start = start;
			req->map_offset = off;
			req->address = bias + vaddr;
			found = true;
			break;
		}
		fclose(f);
	}
	ASSERT(found);
	req->pid = (uint32_t)pid;
	req->path = path;
}

static void expect_function(struct ember_symbolizer *s, const struct ember_symbolize_request *req,
			    const char *name)
{
	struct ember_frame f[MAX_FRAMES];
	uint32_t nr = 0;

	ASSERT_EQ(symbolizer__resolve(s, req, f, MAX_FRAMES, &nr), 0);
	ASSERT_GE(nr, 1);
	ASSERT_STR_EQ(f[nr - 1].function, name);
	if (!f[nr - 1].file)
		TEST_FAIL("%s (pid %u, %s): no file:line", name, req->pid, req->path);
}

/* ---- deleted binary ------------------------------------------------------ */

static void test_deleted(void)
{
	char fixture[PATH_MAX], dir[] = "/tmp/ember-deleted-XXXXXX", prog[PATH_MAX],
				cmd[PATH_MAX * 3];
	struct ember_symbolize_request req;
	struct ember_symbolizer *s;
	char mapped[4096];
	uint64_t work_a;
	pid_t pid;

	fixture_path("sym_c_gcc_dwarf5", fixture, sizeof(fixture));
	work_a = elf_symbol_value(fixture, "work_a");
	ASSERT(mkdtemp(dir) != NULL);
	snprintf(prog, sizeof(prog), "%s/short_lived_copy", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", fixture, prog);
	ASSERT_EQ(run(cmd), 0);
	pid = spawn_and_wait((char *[]){prog, "--ms", "20000", NULL}, "short_lived_copy");
	ASSERT(pid > 0);
	ASSERT_EQ(unlink(prog), 0);
	/* Replace it with something else at the same path: must not be used. */
	snprintf(cmd, sizeof(cmd), "cp /bin/true '%s'", prog);
	ASSERT_EQ(run(cmd), 0);

	live_request(pid, "short_lived_copy", work_a, &req, mapped, sizeof(mapped));
	ASSERT(strstr(mapped, "(deleted)") != NULL);
	s = new_sym();
	expect_function(s, &req, "work_a");
	symbolizer__free(s);
	stop(pid);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	run(cmd);
}

/*
 * A short-lived process: its deleted binary is preloaded while it runs, pushed
 * out of a one-file open set by another file, and the process exits; new
 * addresses still get DWARF frames through the parked descriptor.
 */
static void test_exited(void)
{
	char fixture[PATH_MAX], dir[] = "/tmp/ember-exited-XXXXXX", prog[PATH_MAX],
				cmd[PATH_MAX * 3];
	struct ember_symbolizer_opts opts = {.sz = sizeof(opts), .max_open_files = 1};
	struct ember_symbolize_request req, other;
	struct ember_symbolizer *s = NULL;
	char mapped[4096], other_path[PATH_MAX];
	uint64_t work_a, work_b, main_addr;
	pid_t pid;

	fixture_path("sym_c_gcc_dwarf5", fixture, sizeof(fixture));
	fixture_path("sym_c_nopie", other_path, sizeof(other_path));
	work_a = elf_symbol_value(fixture, "work_a");
	work_b = elf_symbol_value(fixture, "work_b");
	main_addr = elf_symbol_value(other_path, "work_a");
	ASSERT(mkdtemp(dir) != NULL);
	snprintf(prog, sizeof(prog), "%s/gone_soon", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", fixture, prog);
	ASSERT_EQ(run(cmd), 0);
	pid = spawn_and_wait((char *[]){prog, "--ms", "20000", NULL}, "gone_soon");
	ASSERT(pid > 0);
	ASSERT_EQ(unlink(prog), 0);

	ASSERT_EQ(symbolizer__new(&opts, &s), 0);
	live_request(pid, "gone_soon", work_a, &req, mapped, sizeof(mapped));
	ASSERT_EQ(symbolizer__preload(s, &req), 0);
	expect_function(s, &req, "work_a");
	/* Another file takes the only open slot. */
	request_for(other_path, 0, main_addr, &other);
	expect_function(s, &other, "work_a");
	stop(pid);
	/* Same mapping, an address not asked before. */
	req.address += work_b - work_a;
	expect_function(s, &req, "work_b");
	symbolizer__free(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	run(cmd);
}

/* ---- private mount namespace ------------------------------------------- */

static void test_mount_ns(void)
{
	char fixture[PATH_MAX], dir[] = "/tmp/ember-mntns-XXXXXX", script[PATH_MAX * 4];
	struct ember_symbolize_request req;
	struct ember_symbolizer *s;
	char mapped[4096], prog[PATH_MAX + 32];
	uint64_t work_b;
	pid_t pid;

	if (run("command -v unshare >/dev/null") != 0)
		missing_tool("unshare (Debian util-linux)");
	fixture_path("sym_cpp_gcc_dwarf5", fixture, sizeof(fixture));
	work_b =
	    elf_symbol_value(fixture, "_ZN13ember_fixture10sum_sortedIlEET_RSt6vectorIS1_SaIS1_EE");
	ASSERT_NE(work_b, 0);
	ASSERT(mkdtemp(dir) != NULL);
	/* What the test needs (CAP_SYS_ADMIN): a namespace and a tmpfs mount in it. */
	snprintf(script, sizeof(script),
		 "unshare -m --propagation private mount -t tmpfs tmpfs '%s' 2>/dev/null", dir);
	if (run(script) != 0) {
		rmdir(dir);
		SKIP("cannot mount a tmpfs in a private mount namespace (needs CAP_SYS_ADMIN)");
	}
	snprintf(prog, sizeof(prog), "%s/ns_only_prog", dir);
	/* Inside: a tmpfs over the (empty on the host) directory holds the copy. */
	snprintf(script, sizeof(script),
		 "mount -t tmpfs tmpfs '%s' && cp '%s' '%s' && exec '%s' --ms 20000", dir, fixture,
		 prog, prog);
	pid = spawn_and_wait(
	    (char *[]){"unshare", "-m", "--propagation", "private", "sh", "-c", script, NULL},
	    "ns_only_prog");
	ASSERT(access(prog, F_OK) != 0); /* not visible from here */
	live_request(pid, "ns_only_prog", work_b, &req, mapped, sizeof(mapped));
	s = new_sym();
	expect_function(
	    s, &req,
	    "long ember_fixture::sum_sorted<long>(std::vector<long, std::allocator<long> >&)");
	symbolizer__free(s);
	stop(pid);
	rmdir(dir);
}

/* ---- vDSO of another process -------------------------------------------- */

static void test_vdso_child(void)
{
	char fixture[PATH_MAX], maps[64], line[4096];
	struct ember_symbolize_request req = {.path = "[vdso]"};
	struct ember_frame f[MAX_FRAMES];
	struct ember_symbolizer *s;
	uint32_t nr;
	pid_t pid;
	FILE *in;

	fixture_path("sym_c_gcc_dwarf5", fixture, sizeof(fixture));
	/*
	 * "[vdso]" alone would match the parent's mappings the child shows before
	 * its exec, and a read during the exec finds none: wait for the fixture's
	 * own file, then for the vDSO the exec maps after it.
	 */
	pid = spawn_and_wait((char *[]){fixture, "--ms", "20000", NULL}, "sym_c_gcc_dwarf5");
	ASSERT(pid > 0);
	wait_for_mapping(pid, fixture, "[vdso]");
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	in = fopen(maps, "r");
	ASSERT(in != NULL);
	while (fgets(line, sizeof(line), in)) {
		unsigned long long start;

		if (strstr(line, "[vdso]") && sscanf(line, "%llx-", &start) == 1)
			req.map_start = start;
	}
	fclose(in);
	ASSERT_NE(req.map_start, 0);
	req.pid = (uint32_t)pid;
	s = new_sym();
	/* The kernel maps one image into every process: offsets agree with ours. */
	req.address = req.map_start + vdso_symbol("__vdso_gettimeofday") + 1;
	ASSERT_EQ(symbolizer__resolve(s, &req, f, MAX_FRAMES, &nr), 0);
	ASSERT_EQ(nr, 1);
	ASSERT_STR_EQ(f[0].function, "__vdso_gettimeofday");
	symbolizer__free(s);
	stop(pid);
}

/* ---- node --perf-basic-prof -------------------------------------------- */

static void test_node(void)
{
	static const char js[] =
	    "function hotLoop(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003;"
	    " return s; }\n"
	    "const end = Date.now() + 20000; let t = 0;"
	    " while (Date.now() < end) t += hotLoop(100000);\n";
	char map[64], line[4096], script[] = "/tmp/ember-node-XXXXXX.js";
	struct ember_frame f[MAX_FRAMES];
	struct ember_symbolizer *s;
	unsigned long long addr = 0;
	bool found = false;
	double deadline;
	uint32_t nr;
	pid_t pid;
	FILE *in;
	int fd;

	if (run("command -v node >/dev/null") != 0)
		missing_tool("node (Debian nodejs)");
	fd = mkstemps(script, 3);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, js, sizeof(js) - 1), (ssize_t)sizeof(js) - 1);
	close(fd);
	pid = spawn_and_wait((char *[]){"node", "--perf-basic-prof", script, NULL}, "node");
	ASSERT(pid > 0);
	snprintf(map, sizeof(map), "/tmp/perf-%d.map", (int)pid);
	/* Wait until V8 has compiled (and logged) the hot function; node runs 20 s. */
	deadline = now_s() + SPAWN_WAIT_S;
	while (!found && now_s() < deadline) {
		in = fopen(map, "r");
		while (in && fgets(line, sizeof(line), in))
			if (strstr(line, "hotLoop") && sscanf(line, "%llx", &addr) == 1)
				found = true;
		if (in)
			fclose(in);
		if (!found && waitpid(pid, NULL, WNOHANG) == pid)
			TEST_FAIL("node (pid %d) exited before %s named hotLoop", (int)pid, map);
		if (!found)
			usleep(100 * 1000);
	}
	if (!found) {
		stop(pid);
		TEST_FAIL("%s named no hotLoop within %d s", map, SPAWN_WAIT_S);
	}
	s = new_sym();
	{
		struct ember_symbolize_request req = {
		    .pid = (uint32_t)pid, .path = "", .address = addr + 1};

		ASSERT_EQ(symbolizer__resolve(s, &req, f, MAX_FRAMES, &nr), 0);
		ASSERT_EQ(nr, 1);
		ASSERT_EQ(f[0].flags, EMBER_FRAME_JIT);
		ASSERT(strstr(f[0].function, "hotLoop") != NULL);
	}
	symbolizer__free(s);
	stop(pid);
	unlink(map);
	unlink(script);
}

int main(int argc, char **argv)
{
	static const struct sym_case cases[] = {
	    {"perfmap", test_perfmap},	 {"deleted_binary", test_deleted},
	    {"mount_ns", test_mount_ns}, {"vdso_process", test_vdso_child},
	    {"node_perfmap", test_node}, {"exited_process", test_exited},
	};
	elf_version(EV_CURRENT);
	return run_sym_cases(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
