// SPDX-License-Identifier: MIT
/*
 * `ember record`: on-demand profiling of the whole system, some processes, a
 * cgroup, or a command, written as a profile file when the recording ends
 * (duration, Ctrl-C / SIGTERM, the command or the named processes exiting).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "agg/agg.h"
#include "cli.h"
#include "commands.h"
#include "output/output.h"
#include "support/support.h"
#include "symbolize_cli.h"
#include "symbolizer/symbolizer.h"

#define POLL_MS		   100 /* process events and stop conditions are checked this often */
#define PRELOAD_TIMEOUT_MS 500 /* longest wait for the tables of what -- CMD maps first */

enum {
	OPT_CHILDREN = 1000,
	OPT_CGROUP,
	OPT_USER_ONLY,
	OPT_KERNEL_ONLY,
	OPT_PER_PID,
	OPT_PER_THREAD,
	OPT_IDLE,
	OPT_COUNTS_ENTRIES,
	OPT_STACKS_ENTRIES,
	OPT_LINES,
	OPT_NO_DEMANGLE,
	OPT_DRAIN_INTERVAL,
	OPT_UNWIND,
	OPT_UNWIND_ROWS,
	OPT_LABEL,
	OPT_UNWIND_CACHE,
	OPT_TITLE,
	OPT_READY_FD,
	OPT_OFF_CPU,
	OPT_WALL,
	OPT_MIN_BLOCK,
	OPT_SCHED_FRAMES,
};

static const struct cli_option record_options[] = {
    {"all", 'a', 0, NULL, "Profile every process on every CPU (the default)."},
    {"pid", 'p', 0, "PID[,PID...]",
     "Profile only these processes (all their threads). Recording stops when all of them "
     "have exited."},
    {"children", 0, OPT_CHILDREN, NULL,
     "With --pid: also profile processes they fork from now on."},
    {"cgroup", 0, OPT_CGROUP, "PATH",
     "Profile only tasks in this cgroup v2 (a path under /sys/fs/cgroup, absolute or "
     "relative to it)."},
    {"frequency", 'F', 0, "HZ", "Samples per second per CPU, 1..20000 (default 99)."},
    {"duration", 'd', 0, "SECONDS",
     "Stop after this long (10, 2.5, 500ms, 1m, 2h, 7d; no unit: seconds). Default: until "
     "Ctrl-C, or until the command or processes exit."},
    {"output", 'o', 0, "FILE",
     "Write the profile to FILE ('-' for stdout); the format follows the extension "
     "(.svg: interactive flamegraph; .folded, .txt: folded stacks; .pb.gz: pprof; .json: "
     "speedscope; any of them + .zst: zstd-compressed). Default ember.svg."},
    {"off-cpu", 0, OPT_OFF_CPU, NULL,
     "Measure time off the CPU instead of CPU samples: for each thread, the nanoseconds "
     "from each switch-out (sched_switch) to its next switch-in, at the kernel and user "
     "stacks where it left the CPU. A leaf frame '[off-cpu: blocked]' (asleep: a lock, I/O, "
     "a timer) or '[off-cpu: preempted]' (runnable, waiting for a CPU) says why. Counts are "
     "nanoseconds in every format (folded and SVG included)."},
    {"wall", 0, OPT_WALL, NULL,
     "Wall-clock time: on-CPU samples at 1/F s each plus every off-CPU interval, in "
     "nanoseconds, so the time of a thread adds up to its wall-clock time (see "
     "--per-thread). Off-CPU stacks end in the same '[off-cpu: ...]' frame as with "
     "--off-cpu; --min-block does not apply."},
    {"min-block", 0, OPT_MIN_BLOCK, "DURATION",
     "With --off-cpu: do not count off-CPU intervals shorter than this (default 1ms; "
     "0.1ms, 0: every one). Their number is the counter off_cpu.below_min_block."},
    {"sched-frames", 0, OPT_SCHED_FRAMES, NULL,
     "With --off-cpu or --wall: keep the scheduler's own kernel frames (schedule, "
     "do_nanosleep, schedule_timeout, io_schedule, mutex slow paths) at the leaf of off-CPU "
     "stacks. By default the kernel stack is walked when a counted interval ends, from the "
     "stack the thread left, which the kernel gives without them; with this flag it is "
     "walked at every switch-out, about 3x the BPF time per context switch."},
    {"user-only", 0, OPT_USER_ONLY, NULL, "Collect user stacks only."},
    {"kernel-only", 0, OPT_KERNEL_ONLY, NULL, "Collect kernel stacks only."},
    {"per-pid", 0, OPT_PER_PID, NULL, "Root frame is 'name-PID': one tower per process."},
    {"per-thread", 0, OPT_PER_THREAD, NULL,
     "Add a 'NAME-TID' frame under the process (the thread's name; '[thread]-TID' when it "
     "has none): one tower per thread."},
    {"lines", 0, OPT_LINES, NULL, "Append ':file:line' to frames that have line information."},
    {"no-demangle", 0, OPT_NO_DEMANGLE, NULL, "Show C++ and Rust symbols as in the binary."},
    SYMBOLIZE_CLI_DEBUG_DIR_OPTION,
    {"idle", 0, OPT_IDLE, NULL, "Also count the idle task (pid 0) with -a."},
    {"counts-entries", 0, OPT_COUNTS_ENTRIES, "N",
     "Advanced: in-kernel counts map size (unique thread+stack pairs per drain window; by "
     "default what a window can hold: 1.25 x HZ x CPUs x drain interval, 1024..65536). "
     "Overflow is counted as lost samples."},
    {"stacks-entries", 0, OPT_STACKS_ENTRIES, "N",
     "Advanced: in-kernel stacks map size (unique stacks per drain window, preallocated; by "
     "default twice the counts map, at most 32768). N stacks of up to 32 frames, N/2 of up "
     "to 128 and N/8 of up to 512 (about 1.3 KiB per N); a full class spills into the "
     "next larger one. Overflow is counted as lost stacks."},
    {"unwind", 0, OPT_UNWIND, "auto|fp|dwarf",
     "How user stacks are walked. auto (default): from .eh_frame unwind tables in the "
     "kernel where a mapping has them, frame pointers elsewhere (JIT code); fp: frame "
     "pointers only, which cuts stacks through code built without them (most distribution "
     "binaries); dwarf: tables only."},
    {"unwind-rows", 0, OPT_UNWIND_ROWS, "N",
     "Advanced: room for unwind table rows in the kernel (8 bytes each, default 4194304 = 32 MiB). "
     "When full, the least recently used tables no process needs are evicted."},
    {"unwind-cache", 0, OPT_UNWIND_CACHE, "DIR|none",
     "Keep built unwind tables in DIR by build-id, so the next run loads them instead of "
     "parsing .eh_frame again (default /var/cache/ember/unwind, shared with the agent; "
     "kept under 256 MiB, least recently used tables removed first)."},
    {"drain-interval", 0, OPT_DRAIN_INTERVAL, "SECONDS",
     "Advanced: move samples out of the kernel maps this often (10ms to 1h, default 5). "
     "Shorter keeps the maps smaller; every sample still lands in exactly one drain."},
    {"label", 0, OPT_LABEL, "KEY=VALUE",
     "Attach a label to the profile (pprof labels on every sample); repeatable."},
    {"title", 0, OPT_TITLE, "TEXT", "Flamegraph title (default 'ember record')."},
    {"ready-fd", 0, OPT_READY_FD, "FD",
     "Once every perf event is attached and sampling runs, write one byte ('r') to file "
     "descriptor FD and close it, so a script can start its workload then (as with perf's "
     "--control). The same moment is always announced on stderr by the line 'ember: ready: "
     "sampling N CPUs at F Hz'."},
    {"verbose", 'v', 0, NULL, "More detail on stderr: every counter, debug messages."},
    {"help", 'h', 0, NULL, "Show this help."},
    {NULL, 0, 0, NULL, NULL},
};

static const int record_exit_codes[] = {
    EMBER_EXIT_OK,	    EMBER_EXIT_FAILURE,	  EMBER_EXIT_USAGE,  EMBER_EXIT_PERMISSION,
    EMBER_EXIT_UNSUPPORTED, EMBER_EXIT_NO_TARGET, EMBER_EXIT_OUTPUT, -1,
};

const struct cli_command cli_record_command = {
    .name = "record",
    .synopsis = "ember record [OPTIONS] [-a | -p PID[,PID...] | --cgroup PATH | -- CMD [ARGS...]]",
    .summary = "sample CPU stacks and write a profile",
    .description =
	"Samples kernel and user stacks on every online CPU with the software cpu-clock "
	"event, counts them in the kernel, and writes the symbolized profile when the "
	"recording ends: after --duration, on Ctrl-C or SIGTERM (the profile so far is "
	"written whole), when CMD exits (ember then exits with CMD's status), or when all "
	"--pid processes have exited. A summary on stderr gives samples, rate and every "
	"loss by reason.",
    .options = record_options,
    .exit_codes = record_exit_codes,
};

struct record_args {
	uint32_t hz;
	double duration_s;
	const char *output;
	uint32_t *pids;
	size_t nr_pids, cap_pids;
	bool children, user_only, kernel_only, per_pid, per_thread, idle, verbose, lines;
	bool no_demangle, off_cpu, wall, min_block_set, sched_frames;
	double min_block_s;
	struct symbolize_cli sym_cli; /* --debug-dir */
	const char *cgroup;
	uint32_t counts_entries, stacks_entries;
	double drain_interval_s;
	enum ember_unwind unwind;
	uint32_t unwind_rows;
	const char *title;
	int ready_fd;		  /* --ready-fd; -1: none */
	const char *unwind_cache; /* NULL: no disk cache */
	char subtitle[256];	  /* what was recorded, for the flamegraph */
	struct cli_label *labels; /* --label key=value, values point into argv */
	size_t nr_labels, cap_labels;
	char **cmd; /* after "--" */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int parse_pids(const char *s, struct record_args *a)
{
	const char *p = s;

	while (*p) {
		char buf[32];
		size_t len = strcspn(p, ",");
		uint64_t v;

		if (len == 0 || len >= sizeof(buf))
			goto bad;
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (cli_parse_u64("pid", buf, 1, 4194304, &v))
			return -EINVAL;
		if (ember_grow((void **)&a->pids, &a->cap_pids, a->nr_pids + 1, sizeof(*a->pids)))
			return -ENOMEM;
		a->pids[a->nr_pids++] = (uint32_t)v;
		p += len;
		if (*p == ',')
			p++;
	}
	if (a->nr_pids)
		return 0;
bad:
	fprintf(stderr, "ember: invalid value for --pid: '%s' (expected PID[,PID...])\n", s);
	return -EINVAL;
}

/* Parses argv into @a. Returns -1 to continue, else an exit code. */
static int parse_args(int argc, char **argv, struct record_args *a)
{
	struct option longopts[64];
	char shortopts[131];
	uint64_t v;
	int c;

	a->hz = 99;
	a->ready_fd = -1;
	a->drain_interval_s = 5;
	a->unwind_cache = EMBER_UNWIND_CACHE_DIR;
	a->output = "ember.svg";
	cli_getopt_tables(record_options, longopts, 64, shortopts);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			break;
		case 'p':
			if (parse_pids(optarg, a))
				return EMBER_EXIT_USAGE;
			break;
		case OPT_CHILDREN:
			a->children = true;
			break;
		case OPT_CGROUP:
			a->cgroup = optarg;
			break;
		case 'F':
			if (cli_parse_u64("frequency", optarg, 1, 20000, &v))
				return EMBER_EXIT_USAGE;
			a->hz = (uint32_t)v;
			break;
		case 'd':
			if (cli_parse_seconds("duration", optarg, &a->duration_s))
				return EMBER_EXIT_USAGE;
			break;
		case 'o':
			a->output = optarg;
			break;
		case OPT_USER_ONLY:
			a->user_only = true;
			break;
		case OPT_KERNEL_ONLY:
			a->kernel_only = true;
			break;
		case OPT_PER_PID:
			a->per_pid = true;
			break;
		case OPT_PER_THREAD:
			a->per_thread = true;
			break;
		case OPT_LINES:
			a->lines = true;
			break;
		case OPT_NO_DEMANGLE:
			a->no_demangle = true;
			break;
		case SCLI_DEBUG_DIR: {
			int r = symbolize_cli_option(&a->sym_cli, "record", c, optarg);

			if (r < 0)
				return -r;
			break;
		}
		case OPT_IDLE:
			a->idle = true;
			break;
		case OPT_COUNTS_ENTRIES:
			if (cli_parse_u64("counts-entries", optarg, 1, 1u << 24, &v))
				return EMBER_EXIT_USAGE;
			a->counts_entries = (uint32_t)v;
			break;
		case OPT_STACKS_ENTRIES:
			if (cli_parse_u64("stacks-entries", optarg, 1, 1u << 22, &v))
				return EMBER_EXIT_USAGE;
			a->stacks_entries = (uint32_t)v;
			break;
		case OPT_UNWIND:
			if (strcmp(optarg, "auto") == 0)
				a->unwind = EMBER_UNWIND_AUTO;
			else if (strcmp(optarg, "fp") == 0)
				a->unwind = EMBER_UNWIND_FP_ONLY;
			else if (strcmp(optarg, "dwarf") == 0)
				a->unwind = EMBER_UNWIND_DWARF;
			else
				return cli_usage_error("record",
						       "invalid value for --unwind: '%s' (expected "
						       "auto, fp or dwarf)",
						       optarg);
			break;
		case OPT_LABEL:
			if (ember_grow((void **)&a->labels, &a->cap_labels, a->nr_labels + 1,
				       sizeof(*a->labels)))
				return EMBER_EXIT_FAILURE;
			if (cli_parse_label("record", optarg, &a->labels[a->nr_labels]))
				return EMBER_EXIT_USAGE;
			a->nr_labels++;
			break;
		case OPT_UNWIND_CACHE:
			a->unwind_cache = strcmp(optarg, "none") == 0 ? NULL : optarg;
			break;
		case OPT_TITLE:
			a->title = optarg;
			break;
		case OPT_READY_FD:
			if (cli_parse_u64("ready-fd", optarg, 0, 1u << 20, &v))
				return EMBER_EXIT_USAGE;
			if (fcntl((int)v, F_GETFD) < 0)
				return cli_usage_error("record",
						       "invalid value for --ready-fd: '%s' (not an "
						       "open file descriptor)",
						       optarg);
			a->ready_fd = (int)v;
			break;
		case OPT_UNWIND_ROWS:
			if (cli_parse_u64("unwind-rows", optarg, EMBER_UNWIND_ROWS_MIN,
					  EMBER_UNWIND_ROWS_MAX, &v))
				return EMBER_EXIT_USAGE;
			a->unwind_rows = (uint32_t)v;
			break;
		case OPT_DRAIN_INTERVAL:
			if (cli_parse_seconds("drain-interval", optarg, &a->drain_interval_s))
				return EMBER_EXIT_USAGE;
			/* Below 10 ms the drain is a busy loop; past an hour the maps,
			 * sized for one drain, are at their cap long before it comes. */
			if (a->drain_interval_s < 0.01 || a->drain_interval_s > 3600) {
				fprintf(stderr,
					"ember: invalid value for --drain-interval: '%s' (expected "
					"10ms to 1h)\n",
					optarg);
				return EMBER_EXIT_USAGE;
			}
			break;
		case OPT_OFF_CPU:
			a->off_cpu = true;
			break;
		case OPT_WALL:
			a->wall = true;
			break;
		case OPT_SCHED_FRAMES:
			a->sched_frames = true;
			break;
		case OPT_MIN_BLOCK: {
			char why[96];

			if (cli_parse_duration(optarg, CLI_DURATION_ZERO, &a->min_block_s, why,
					       sizeof(why)))
				return cli_usage_error("record",
						       "invalid value for --min-block: "
						       "'%s' (%s)",
						       optarg, why);
			a->min_block_set = true;
			break;
		}
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			cli_print_help(stdout, &cli_record_command);
			return EMBER_EXIT_OK;
		case ':':
			return cli_usage_error("record", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("record", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0)
			return cli_usage_error("record",
					       "unexpected argument '%s' (a command goes "
					       "after '--')",
					       argv[optind]);
		a->cmd = &argv[optind];
	} else if (optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
		return cli_usage_error("record", "no command after '--'");
	}
	if (a->user_only && a->kernel_only)
		return cli_usage_error("record",
				       "--user-only and --kernel-only exclude each other");
	if ((a->nr_pids != 0) + (a->cgroup != NULL) + (a->cmd != NULL) > 1)
		return cli_usage_error("record", "choose one target: -a, -p, --cgroup or -- CMD");
	if (a->off_cpu && a->wall)
		return cli_usage_error("record", "--off-cpu and --wall exclude each other (--wall "
						 "already has the off-CPU time)");
	if (a->min_block_set && !a->off_cpu)
		return cli_usage_error("record", "--min-block needs --off-cpu");
	if (a->sched_frames && !a->off_cpu && !a->wall)
		return cli_usage_error("record", "--sched-frames needs --off-cpu or --wall");
	if (a->children && !a->nr_pids)
		return cli_usage_error("record", "--children needs --pid");
	if (a->ready_fd == STDOUT_FILENO && strcmp(a->output, "-") == 0)
		return cli_usage_error("record",
				       "--ready-fd 1 would write into the profile on stdout");
	return -1;
}

static int check_btf(void)
{
	const char *btf = getenv("EMBER_BTF_PATH"); /* tests point this at a missing file */

	if (!btf)
		btf = "/sys/kernel/btf/vmlinux";
	if (access(btf, R_OK) == 0)
		return 0;
	fprintf(stderr, "ember: kernel has no BTF (%s: %s): ember needs CONFIG_DEBUG_INFO_BTF=y\n",
		btf, strerror(errno));
	return EMBER_EXIT_UNSUPPORTED;
}

static int resolve_cgroup(const char *path, uint64_t *id)
{
	static const char *const roots[] = {"", "/sys/fs/cgroup/", "/sys/fs/cgroup/unified/"};
	char full[PATH_MAX], procs[PATH_MAX + 16];
	struct stat st;
	size_t i;
	int n;

	for (i = 0; i < 3; i++) {
		if (i == 0 && path[0] != '/')
			continue;
		n = snprintf(full, sizeof(full), "%s%s", roots[i],
			     i ? path + (path[0] == '/') : path);
		if (n < 0 || (size_t)n >= sizeof(full))
			continue; /* longer than any path the kernel resolves */
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", full);
		/* cgroup v2 ids are the kernfs inode numbers of the directories. */
		if (stat(full, &st) == 0 && S_ISDIR(st.st_mode) && access(procs, F_OK) == 0) {
			*id = st.st_ino;
			return 0;
		}
	}
	fprintf(stderr, "ember: no cgroup v2 directory '%.200s%s' (under /sys/fs/cgroup)\n", path,
		strlen(path) > 200 ? "..." : "");
	return EMBER_EXIT_NO_TARGET;
}

/*
 * Forks CMD stopped on a pipe so it becomes a target before it runs a single
 * instruction of its own; collector__start happens, then the pipe releases it.
 */
static int spawn(char **cmd, pid_t *pid, int *go_fd)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	*pid = fork();
	if (*pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (*pid == 0) {
		char go;

		close(fds[1]);
		if (read(fds[0], &go, 1) != 1)
			_exit(127); /* ember failed before starting */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execvp(cmd[0], cmd);
		fprintf(stderr, "ember: cannot run '%s': %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	*go_fd = fds[1];
	return 0;
}

/*
 * Loads the unwind tables of what CMD maps first before it is released, so its
 * first samples after exec are walked with them, not with frame pointers: the
 * command has not run yet, so nothing is lost by waiting. Bounded: a cold build
 * of a large binary goes on in the background past PRELOAD_TIMEOUT_MS.
 */
static void preload_command(struct ember_collector *c, const char *cmd)
{
	uint64_t t0 = ember_now_mono_ns();
	char **paths;
	size_t n;
	int err;

	if (cli_command_files(cmd, &paths, &n))
		return;
	err = collector__preload_files(c, (const char *const *)paths, n, PRELOAD_TIMEOUT_MS);
	pr_debug("unwind tables of %zu files '%s' maps first: %s in %.1f ms", n, cmd,
		 err == -ETIMEDOUT ? "still loading"
		 : err		   ? strerror(-err)
				   : "loaded",
		 (double)(ember_now_mono_ns() - t0) / 1e6);
	cli_command_files_free(paths, n);
}

/* A zombie has exited even though kill(pid, 0) still finds it. */
static bool alive(uint32_t pid)
{
	char path[64], buf[512], *paren;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static bool any_alive(const uint32_t *pids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (alive(pids[i]))
			return true;
	return false;
}

/*
 * Checks before recording that @path has a format we write and can be
 * written, so a long recording never ends in "cannot write". The profile itself
 * is written at the end through a temporary file and a rename.
 */
static int check_output(const char *path)
{
	enum ember_format format;
	bool existed;
	int fd;

	if (strcmp(path, "-") == 0)
		return 0;
	format = output__format_from_path(path, NULL);
	if (format == EMBER_FORMAT_AUTO || format == EMBER_FORMAT_PERFSCRIPT) {
		fprintf(stderr,
			"ember: unsupported output format for %s (use .svg, .folded, "
			".pb.gz, .json, optionally with .zst)\n",
			path);
		return EMBER_EXIT_USAGE;
	}
	existed = access(path, F_OK) == 0;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "ember: cannot write %s: %s\n", path, strerror(errno));
		return EMBER_EXIT_OUTPUT;
	}
	close(fd);
	if (!existed)
		unlink(path);
	return 0;
}

/*
 * The lost-samples line is ember_lost_samples(): samples taken but not in the
 * profile. Lost stacks and truncations are shares of the samples that are in
 * it; lost events are not samples, so they get no percentage.
 */
static void print_summary(const struct ember_profile *p, double seconds, unsigned int cpus,
			  uint32_t hz, bool verbose)
{
	uint64_t total = profile__total(p), lost = ember_lost_samples(p);
	uint64_t seen = total + lost, on = 0, blocked = 0, preempted = 0;
	enum ember_value_type type = profile__value_type(p);
	size_t i;

	for (i = 0; type != EMBER_VALUE_SAMPLES && i < profile__nr_samples(p); i++) {
		struct ember_sample s;

		profile__sample(p, i, &s);
		if (s.kind == EMBER_SAMPLE_OFF_CPU_BLOCKED)
			blocked += s.count;
		else if (s.kind == EMBER_SAMPLE_OFF_CPU_PREEMPTED)
			preempted += s.count;
		else
			on += s.count;
	}
	if (type == EMBER_VALUE_SAMPLES)
		fprintf(stderr,
			"ember: recorded %.2f s on %u CPUs at %u Hz: %llu samples (%.1f/s)\n",
			seconds, cpus, hz, (unsigned long long)total,
			seconds > 0 ? total / seconds : 0.0);
	else
		fprintf(stderr,
			"ember: recorded %.2f s on %u CPUs (%s): %.3f s in total: %.3f s on-CPU, "
			"%.3f s off-CPU blocked, %.3f s off-CPU preempted\n",
			seconds, cpus, type == EMBER_VALUE_WALL_NS ? "wall-clock" : "off-CPU",
			total / 1e9, on / 1e9, blocked / 1e9, preempted / 1e9);
	/* Off-CPU time has no samples: its losses are the lost.off_cpu.* counters below. */
	if (type == EMBER_VALUE_WALL_NS)
		seen = profile__counter_value(p, "sampler.samples");
	if (type != EMBER_VALUE_OFF_CPU_NS)
		fprintf(stderr, "ember: lost samples: %llu (%.2f%%)\n", (unsigned long long)lost,
			seen ? 100.0 * lost / seen : 0.0);
	for (i = 0; i < profile__nr_counters(p); i++) {
		enum ember_counter_kind kind;
		const char *name;
		uint64_t v;

		profile__counter(p, i, &name, &v);
		kind = ember_counter_kind(name);
		if (kind == EMBER_COUNTER_LOST_SAMPLES)
			continue; /* in the line above */
		if (!verbose && (!v || kind == EMBER_COUNTER_OTHER))
			continue;
		if (type == EMBER_VALUE_SAMPLES &&
		    (kind == EMBER_COUNTER_LOST_STACKS || strncmp(name, "truncated.", 10) == 0))
			fprintf(stderr, "ember:   %s: %llu (%.2f%% of samples)\n", name,
				(unsigned long long)v, seen ? 100.0 * v / seen : 0.0);
		else
			fprintf(stderr, "ember:   %s: %llu\n", name, (unsigned long long)v);
	}
}

static int write_profile(const struct ember_profile *p, const struct record_args *a)
{
	struct ember_folded_opts fo = {.sz = sizeof(fo),
				       .per_pid = a->per_pid,
				       .per_thread = a->per_thread,
				       .lines = a->lines};
	struct ember_svg_opts so = {.sz = sizeof(so),
				    .title = a->title ? a->title : "ember record",
				    .subtitle = a->subtitle,
				    .per_pid = a->per_pid,
				    .per_thread = a->per_thread};
	struct ember_output_opts oo = {.sz = sizeof(oo), .folded = &fo, .svg = &so};
	int err = output__write_path(p, a->output, &oo);

	if (err) {
		fprintf(stderr, "ember: writing %s failed: %s\n", a->output, strerror(-err));
		return EMBER_EXIT_OUTPUT;
	}
	return 0;
}

/*
 * Announces that sampling runs: every perf event is attached (and a command
 * about to be released). Scripts and tests wait for this instead of sleeping.
 */
static void announce_ready(struct record_args *a, unsigned int cpus)
{
	if (a->off_cpu)
		fprintf(stderr, "ember: ready: tracing off-CPU time on %u CPUs\n", cpus);
	else
		fprintf(stderr, "ember: ready: sampling %u CPUs at %u Hz%s\n", cpus, a->hz,
			a->wall ? " and tracing off-CPU time" : "");
	if (a->ready_fd < 0)
		return;
	if (write(a->ready_fd, "r", 1) != 1)
		pr_warn("cannot write to --ready-fd %d: %s", a->ready_fd, strerror(errno));
	close(a->ready_fd);
	a->ready_fd = -1;
}

/* How long the event loop may wait: until the next poll, drain or the end of --duration. */
static int poll_timeout_ms(const struct record_args *a, uint64_t now, uint64_t start,
			   uint64_t last_drain)
{
	uint64_t wait = (uint64_t)POLL_MS * 1000000, next;

	next = last_drain + (uint64_t)(a->drain_interval_s * 1e9);
	if (next > now && next - now < wait)
		wait = next - now;
	if (a->duration_s > 0) {
		next = start + (uint64_t)(a->duration_s * 1e9);
		if (next <= now)
			return 0;
		if (next - now < wait)
			wait = next - now;
	}
	return (int)((wait + 999999) / 1000000); /* round up: never spin on a sub-ms remainder */
}

static int child_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EMBER_EXIT_FAILURE;
}

int cmd_record(int argc, char **argv)
{
	struct ember_collector_opts co = {.sz = sizeof(co)};
	struct ember_symbolizer_opts so = {.sz = sizeof(so)};
	struct record_args a = {0};
	struct ember_collector *c = NULL;
	struct ember_symbolizer *sym = NULL;
	struct ember_profile *prof = NULL;
	struct sigaction sa = {.sa_handler = on_signal};
	uint64_t start_mono, last_drain, start_real;
	pid_t child = 0;
	int go_fd = -1, child_status = 0, ret, err;
	bool child_done = false;
	char hostname[65];
	size_t k;

	/*
	 * First thing: a SIGINT/SIGTERM during start-up (loading the sampler takes
	 * tens of ms) must end the recording with a valid empty profile, not kill it.
	 */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = parse_args(argc, argv, &a);
	if (ret >= 0)
		goto out;
	if (a.verbose)
		ember_log_set_level(EMBER_LOG_DEBUG);
	ret = cli_check_sampler_privileges(
	    "grant CAP_BPF and CAP_PERFMON (e.g. setcap cap_bpf,cap_perfmon+ep)");
	if (ret)
		goto out;
	ret = check_btf();
	if (ret)
		goto out;
	for (k = 0; k < a.nr_pids; k++) {
		if (kill((pid_t)a.pids[k], 0) && errno == ESRCH) {
			fprintf(stderr, "ember: no process with pid %u\n", a.pids[k]);
			ret = EMBER_EXIT_NO_TARGET;
			goto out;
		}
	}
	co.frequency_hz = a.hz;
	co.target = EMBER_TARGET_ALL;
	if (a.nr_pids || a.cmd) {
		co.target = EMBER_TARGET_PIDS;
		co.pids = a.pids;
		co.nr_pids = a.nr_pids;
		co.children = a.children || a.cmd; /* a command's children are part of it */
	} else if (a.cgroup) {
		co.target = EMBER_TARGET_CGROUP;
		ret = resolve_cgroup(a.cgroup, &co.cgroup_id);
		if (ret)
			goto out;
	}
	co.no_kernel_stacks = a.user_only;
	co.no_user_stacks = a.kernel_only;
	co.include_idle = a.idle;
	co.counts_entries = a.counts_entries;
	co.stacks_entries = a.stacks_entries;
	co.unwind = a.unwind;
	co.unwind_rows = a.unwind_rows;
	co.window_ms = (uint32_t)(a.drain_interval_s * 1000);
	co.unwind_cache_dir = a.unwind_cache;
	co.mode = a.off_cpu ? EMBER_MODE_OFF_CPU : a.wall ? EMBER_MODE_WALL : EMBER_MODE_CPU;
	co.min_block_ns =
	    a.min_block_set ? (uint64_t)(a.min_block_s * 1e9 + 0.5) : EMBER_MIN_BLOCK_DEFAULT_NS;
	co.switch_tracepoint = getenv("EMBER_SWITCH_TRACEPOINT"); /* tests: a missing one */
	co.sched_frames = a.sched_frames;

	ret = check_output(a.output);
	if (ret)
		goto out;
	ret = EMBER_EXIT_FAILURE;

	/* Before sampling: the collector lets it open files while their processes live. */
	so.no_demangle = a.no_demangle;
	symbolize_cli_fill(&a.sym_cli, &so);
	err = symbolizer__new(&so, &sym);
	if (err) {
		fprintf(stderr, "ember: cannot set up the symbolizer: %s\n", strerror(-err));
		goto out;
	}
	co.preload = sym;
	/* Kernel symbols load on their own thread while the sampler loads and samples. */
	if (!a.user_only)
		symbolizer__preload_kernel(sym);
	err = collector__new(&co, &c);
	if (err) {
		ret = cli_sampler_error(CLI_SAMPLER_LOAD, err);
		goto out;
	}
	if (a.cmd) {
		err = spawn(a.cmd, &child, &go_fd);
		if (!err)
			err = collector__add_target(c, (uint32_t)child);
		if (err) {
			fprintf(stderr, "ember: cannot start '%s': %s\n", a.cmd[0], strerror(-err));
			goto out;
		}
	}
	err = profile__new(&prof);
	if (err)
		goto out;
	/* Stopped while loading: no sampling, no command run; an empty profile is written. */
	if (!stop_signal) {
		err = collector__start(c);
		if (err) {
			ret = cli_sampler_error(CLI_SAMPLER_START, err);
			goto out;
		}
		if (a.cmd)
			preload_command(c, a.cmd[0]);
	}
	start_mono = last_drain = ember_now_mono_ns();
	start_real = ember_now_real_ns();
	if (go_fd >= 0 && !stop_signal) {
		if (write(go_fd, "g", 1) != 1)
			pr_warn("cannot release '%s'", a.cmd[0]);
		close(go_fd);
		go_fd = -1;
	}
	if (!stop_signal)
		announce_ready(&a, collector__nr_cpus(c));

	while (!stop_signal) {
		uint64_t now = ember_now_mono_ns();

		err = collector__poll(c, poll_timeout_ms(&a, now, start_mono, last_drain));
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "ember: reading process events failed: %s\n",
				strerror(-err));
			break;
		}
		now = ember_now_mono_ns();
		if (a.duration_s > 0 && now - start_mono >= (uint64_t)(a.duration_s * 1e9))
			break;
		if (child && waitpid(child, &child_status, WNOHANG) == child) {
			child_done = true;
			break;
		}
		if (a.nr_pids && !a.children && !any_alive(a.pids, a.nr_pids)) {
			fprintf(stderr, "ember: the profiled process%s exited; stopping\n",
				a.nr_pids > 1 ? "es" : "");
			break;
		}
		if (now - last_drain >= (uint64_t)(a.drain_interval_s * 1e9)) {
			err = collector__drain(c, prof);
			if (err) {
				fprintf(stderr, "ember: draining samples failed: %s\n",
					strerror(-err));
				goto out;
			}
			last_drain = now;
		}
	}
	err = collector__finish(c, prof);
	if (err) {
		fprintf(stderr, "ember: draining samples failed: %s\n", strerror(-err));
		goto out;
	}
	profile__set_time(
	    prof, start_real,
	    ember_wall_span_ns(start_real, ember_now_real_ns(), ember_now_mono_ns() - start_mono));
	if (gethostname(hostname, sizeof(hostname)))
		snprintf(hostname, sizeof(hostname), "this host");
	hostname[sizeof(hostname) - 1] = '\0';
	profile__set_frequency(prof, a.hz);

	err = profile__symbolize(prof, sym);
	if (!err)
		err = ember_add_symbolizer_counters(prof, sym, NULL);
	if (err) {
		fprintf(stderr, "ember: symbolization failed: %s\n", strerror(-err));
		goto out;
	}
	if (a.off_cpu || a.wall)
		snprintf(a.subtitle, sizeof(a.subtitle),
			 "%.100s, %s, %.1f s, %.3f s counted on %.64s",
			 a.cmd	     ? a.cmd[0]
			 : a.nr_pids ? "selected processes"
			 : a.cgroup  ? a.cgroup
				     : "all processes",
			 a.off_cpu ? "off-CPU time (ns)" : "wall-clock time (ns)",
			 profile__duration_ns(prof) / 1e9, profile__total(prof) / 1e9, hostname);
	else
		snprintf(a.subtitle, sizeof(a.subtitle),
			 "%.100s, %u Hz, %.1f s, %llu samples on %.64s",
			 a.cmd	     ? a.cmd[0]
			 : a.nr_pids ? "selected processes"
			 : a.cgroup  ? a.cgroup
				     : "all processes",
			 a.hz, profile__duration_ns(prof) / 1e9,
			 (unsigned long long)profile__total(prof), hostname);
	for (k = 0; k < a.nr_labels; k++) {
		err = profile__set_label(prof, a.labels[k].key, a.labels[k].value);
		if (err)
			goto out;
	}
	ret = write_profile(prof, &a);
	print_summary(prof, profile__duration_ns(prof) / 1e9, collector__nr_cpus(c), a.hz,
		      a.verbose);
	if (stop_signal)
		fprintf(stderr, "ember: stopped by signal %d; profile written\n", (int)stop_signal);
	if (!ret && strcmp(a.output, "-") != 0)
		fprintf(stderr, "ember: wrote %s (%zu stacks)\n", a.output,
			profile__nr_samples(prof));
	if (!ret && child && go_fd < 0) { /* released: its status is ours */
		if (!child_done) {
			kill(child, SIGTERM);
			waitpid(child, &child_status, 0);
		}
		ret = child_exit_code(child_status);
	}
out:
	if (go_fd >= 0) {
		close(go_fd); /* the child sees EOF and exits 127 without running CMD */
		waitpid(child, NULL, 0);
	}
	if (a.ready_fd >= 0)
		close(a.ready_fd); /* never ready: the reader sees end of file */
	collector__free(c);
	symbolizer__free(sym);
	profile__free(prof);
	free(a.pids);
	free(a.labels);
	symbolize_cli_free(&a.sym_cli);
	return ret;
}
