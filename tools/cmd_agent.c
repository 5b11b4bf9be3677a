// SPDX-License-Identifier: MIT
/*
 * `ember agent`: the always-on fleet profiler. Samples every CPU at a low rate
 * (19 Hz by default) for as long as it runs and cuts the stream into windows
 * (10 s by default, the first one shortened by a random amount so a fleet's
 * hosts do not all write at the same moment). Each window becomes one profile:
 * labelled with host, kernel and the static labels of the config, symbolized
 * here (or not, with --symbolize=none), written atomically into the output
 * directory under a retention budget, and optionally pushed to a
 * Pyroscope-compatible server through an on-disk spool (tools/agent/push.c).
 *
 * Windows are cut with collector__drain, which moves every sample into exactly
 * one drain, so no sample is lost or counted twice at a boundary. SIGHUP
 * reloads the config file (a new frequency ends the current window early, so
 * each file has one sampling rate); SIGTERM and SIGINT write the partial window
 * and exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/utsname.h>

#include "agent/agent.h"
#include "agg/agg.h"
#include "cli.h"
#include "commands.h"
#include "output/output.h"
#include "support/support.h"
#include "symbolizer/symbolizer.h"

#define POLL_MS		100  /* process events and signals are handled this often */
#define MAX_DRAIN_S	5.0  /* drain the kernel maps at least this often (seconds) */
#define SHUTDOWN_PUSH_S 10.0 /* at exit, time given to the spool to empty (seconds) */

enum {
	OPT_WINDOW = 1000,
	OPT_JITTER,
	OPT_FORMAT,
	OPT_RETENTION_BYTES,
	OPT_RETENTION_AGE,
	OPT_SYMBOLIZE,
	OPT_UNWIND,
	OPT_PUSH,
	OPT_PUSH_APP,
	OPT_PUSH_TOKEN_FILE,
	OPT_PUSH_BASIC_AUTH_FILE,
	OPT_PUSH_CA_FILE,
	OPT_SPOOL_DIR,
	OPT_SPOOL_BYTES,
	OPT_PUSH_TIMEOUT,
	OPT_PUSH_BACKOFF_MIN,
	OPT_PUSH_BACKOFF_MAX,
	OPT_METRICS_PORT,
	OPT_SYMBOLIZER_MEMORY,
	OPT_SYMBOLIZER_MAX_AGE,
	OPT_DURATION,
	OPT_CHECK_CONFIG,
};

static const struct cli_option agent_options[] = {
    {"config", 'c', 0, "FILE",
     "Read settings from FILE (default " AGENT_DEFAULT_CONFIG "; a missing default file is "
     "fine). Each line is 'key = value' where key is the long name of a flag below, or "
     "'label.NAME = VALUE'; '#' starts a comment. Flags given on the command line win over "
     "the file. SIGHUP reads the file again."},
    {"frequency", 'F', 0, "HZ", "Samples per second per CPU, 1..20000 (default 19)."},
    {"window", 0, OPT_WINDOW, "SECONDS",
     "Length of each profile window (10, 30s, 1m; at least 1 s; default 10s)."},
    {"jitter", 0, OPT_JITTER, "yes|no",
     "Shorten the first window by a random amount so that the hosts of a fleet do not all "
     "write and push at the same moment (default yes)."},
    {"output-dir", 'o', 0, "DIR",
     "Directory for window files, created if missing (default /var/lib/ember/profiles). "
     "Files are named ember-START-SEQ.pb.gz (or .folded.zst), START being the window's "
     "start in UTC, and appear whole (temporary file + rename)."},
    {"format", 0, OPT_FORMAT, "pprof|folded.zst",
     "Window file format: gzip pprof (default) or zstd-compressed folded stacks."},
    {"retention-bytes", 0, OPT_RETENTION_BYTES, "SIZE",
     "Keep at most this many bytes of window files (1048576, 512K, 100M, 2G; 0: no limit; "
     "default 256M); the oldest windows are removed first."},
    {"retention-age", 0, OPT_RETENTION_AGE, "DURATION",
     "Remove window files older than this (30m, 12h, 7d; 0: no limit; default 7d)."},
    {"symbolize", 0, OPT_SYMBOLIZE, "local|none",
     "local (default): resolve functions, inlines and lines on this host. none: ship raw "
     "addresses with the build-id and file offset of each mapping, for a central "
     "symbolizer."},
    {"unwind", 0, OPT_UNWIND, "auto|fp|dwarf",
     "How user stacks are walked: fp (default): frame pointers only, no per-process "
     "work; auto: .eh_frame tables where a binary has them (complete stacks of binaries "
     "built without frame pointers), frame pointers elsewhere; dwarf: tables only. auto "
     "is not the default yet because building tables delays process events under heavy "
     "process churn."},
    {"label", 'l', 0, "KEY=VALUE",
     "Static label on every window (service, env, region...); repeatable. In the config "
     "file: 'label.KEY = VALUE'. host and kernel_release are always added."},
    {"push", 0, OPT_PUSH, "URL",
     "Also send each window to a Pyroscope-compatible server: POST URL/ingest (or URL when "
     "it ends in /ingest) with name=APP.cpu{host=...,labels}, from, until, format=pprof and "
     "sampleRate. Windows wait in an on-disk spool and are delivered in order, with "
     "exponential backoff while the server is unreachable or answers 5xx, 408 or 429; "
     "other 4xx answers drop the window (counted)."},
    {"push-app", 0, OPT_PUSH_APP, "NAME", "Application name for --push (default ember)."},
    {"push-token-file", 0, OPT_PUSH_TOKEN_FILE, "FILE",
     "Send 'Authorization: Bearer TOKEN' with TOKEN the first line of FILE (credentials are "
     "never taken from the command line)."},
    {"push-basic-auth-file", 0, OPT_PUSH_BASIC_AUTH_FILE, "FILE",
     "Use HTTP basic authentication with 'user:password', the first line of FILE."},
    {"push-ca-file", 0, OPT_PUSH_CA_FILE, "FILE",
     "CA certificates (PEM) to verify an https server with, instead of the system's."},
    {"spool-dir", 0, OPT_SPOOL_DIR, "DIR",
     "Where windows wait for --push (default OUTPUT_DIR/spool). Survives restarts: windows "
     "left by an earlier run are sent first."},
    {"spool-bytes", 0, OPT_SPOOL_BYTES, "SIZE",
     "Bound of the spool (default 64M): beyond it the oldest unsent windows are dropped "
     "(counted)."},
    {"push-timeout", 0, OPT_PUSH_TIMEOUT, "SECONDS", "Timeout of one push request (default 30s)."},
    {"push-backoff-min", 0, OPT_PUSH_BACKOFF_MIN, "SECONDS",
     "First retry delay after a failed push; doubled after every failure (default 1s)."},
    {"push-backoff-max", 0, OPT_PUSH_BACKOFF_MAX, "SECONDS", "Longest retry delay (default 5m)."},
    {"metrics-port", 0, OPT_METRICS_PORT, "PORT",
     "Serve the agent's own metrics in Prometheus text format on 127.0.0.1:PORT/metrics "
     "(default 0: off; auto: a free port the kernel picks, logged at start as 'agent: "
     "metrics on http://127.0.0.1:PORT/metrics'). The same figures are logged every "
     "window."},
    {"symbolizer-memory", 0, OPT_SYMBOLIZER_MEMORY, "SIZE",
     "When the agent's anonymous memory exceeds SIZE after a window, drop the symbolizer's "
     "caches (symbol tables, DWARF, per-process bindings) and start them afresh (default "
     "64M; 0: never). Keeps memory bounded on hosts that run ever new binaries and "
     "processes."},
    {"symbolizer-max-age", 0, OPT_SYMBOLIZER_MAX_AGE, "DURATION",
     "Also start the symbolizer's caches afresh this often (default 1h; 0: never)."},
    {"duration", 'd', 0, "SECONDS",
     "Stop after this long, as on SIGTERM (default: run until stopped). For tests and "
     "benchmarks."},
    {"check-config", 0, OPT_CHECK_CONFIG, NULL,
     "Check the config file and flags, print any error, and exit (0 when valid)."},
    {"verbose", 'v', 0, NULL, "Log every counter of every window, and debug messages."},
    {"help", 'h', 0, NULL, "Show this help."},
    {NULL, 0, 0, NULL, NULL},
};

static const int agent_exit_codes[] = {
    EMBER_EXIT_OK,
    EMBER_EXIT_FAILURE,
    EMBER_EXIT_USAGE,
    EMBER_EXIT_PERMISSION,
    EMBER_EXIT_UNSUPPORTED,
    EMBER_EXIT_OUTPUT,
    -1,
};

const struct cli_command cli_agent_command = {
    .name = "agent",
    .synopsis = "ember agent [OPTIONS]",
    .summary = "always-on profiler writing one profile per window",
    .description =
	"Samples kernel and user stacks of every process on every CPU, forever, at a low "
	"rate, and writes one profile per window into --output-dir, keeping the directory "
	"under its retention budget. Each window carries the labels host, kernel_release, "
	"pid, process_name and the static labels of the config, and its loss counters (as "
	"pprof comments). Once every perf event is attached it logs 'agent: sampling N CPUs at "
	"F Hz ...'. A summary line per window goes to stderr (samples, losses, drain, "
	"symbolization and write time, RSS, spool). SIGHUP reloads the config file and logs "
	"'reload: ... applied' or 'reload failed'; SIGTERM and SIGINT write the partial window "
	"and exit 0. Meant to run as a systemd service "
	"(tools/ember-agent.service).",
    .options = agent_options,
    .exit_codes = agent_exit_codes,
};

static volatile sig_atomic_t stop_signal, reload_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void on_reload(int sig)
{
	(void)sig;
	reload_signal = 1;
}

struct agent_args {
	const char *config_path;
	bool config_explicit;
	bool check_only;
	double duration_s;
};

static const struct cli_option *option_by_value(int c)
{
	const struct cli_option *o;

	for (o = agent_options; o->long_name; o++)
		if ((o->short_name && o->short_name == c) || (!o->short_name && o->id == c))
			return o;
	return NULL;
}

/*
 * One pass over argv. With @cfg NULL only --config, --help, --duration and
 * --check-config are taken (to find the file before reading it); otherwise the
 * flags are applied on top of @cfg. Returns -1 to go on, else an exit code.
 */
static int parse_flags(int argc, char **argv, struct agent_config *cfg, struct agent_args *a)
{
	struct option longopts[64];
	char shortopts[131], why[160];
	int c;

	cli_getopt_tables(agent_options, longopts, 64, shortopts);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct cli_option *o = option_by_value(c);
		char key[300];
		const char *value = optarg;
		int err;

		if (c == ':')
			return cli_usage_error("agent", "option '%s' needs a value",
					       argv[optind - 1]);
		if (!o)
			return cli_usage_error("agent", "unknown option '%s'", argv[optind - 1]);
		if (c == 'h') {
			cli_print_help(stdout, &cli_agent_command);
			return EMBER_EXIT_OK;
		}
		if (!cfg) {
			if (c == 'c') {
				a->config_path = optarg;
				a->config_explicit = true;
			} else if (c == OPT_CHECK_CONFIG) {
				a->check_only = true;
			} else if (c == 'd' &&
				   cli_parse_seconds("duration", optarg, &a->duration_s)) {
				return EMBER_EXIT_USAGE;
			}
			continue;
		}
		if (c == 'c' || c == 'd' || c == OPT_CHECK_CONFIG)
			continue;
		if (c == 'l') {
			struct cli_label l;

			if (cli_parse_label("agent", optarg, &l))
				return EMBER_EXIT_USAGE;
			snprintf(key, sizeof(key), "label.%s", l.key);
			value = l.value;
		} else {
			snprintf(key, sizeof(key), "%s", o->long_name);
			if (!o->arg)
				value = "yes";
		}
		err = agent_config__set(cfg, key, value, why, sizeof(why));
		if (err == -EINVAL) {
			fprintf(stderr, "ember: invalid value for --%s: '%s' (%s)\n", o->long_name,
				optarg ? optarg : "", why);
			return EMBER_EXIT_USAGE;
		}
		if (err) {
			fprintf(stderr, "ember: --%s: %s\n", o->long_name, strerror(-err));
			return EMBER_EXIT_FAILURE;
		}
	}
	if (optind < argc)
		return cli_usage_error("agent", "unexpected argument '%s'", argv[optind]);
	return -1;
}

/* Defaults, then the config file, then the flags: the whole configuration. */
static int load_config(int argc, char **argv, const struct agent_args *a, struct agent_config *cfg)
{
	int err, ret;

	err = agent_config__init(cfg);
	if (err)
		return EMBER_EXIT_FAILURE;
	err = agent_config__load(cfg, a->config_path);
	if (err == -ENOENT && a->config_explicit) {
		fprintf(stderr, "ember: config file %s does not exist\n", a->config_path);
		return EMBER_EXIT_USAGE;
	}
	if (err && err != -ENOENT)
		return err == -ENOMEM ? EMBER_EXIT_FAILURE : EMBER_EXIT_USAGE;
	ret = parse_flags(argc, argv, cfg, NULL);
	if (ret >= 0)
		return ret;
	if (agent_config__validate(cfg))
		return EMBER_EXIT_USAGE;
	return -1;
}

/* A drained window on its way to the worker: everything it needs, copied. */
struct window_job {
	struct window_job *next;
	struct ember_profile *p; /* labels, time and frequency already set */
	uint64_t seq;
	uint32_t hz;
	double duration_s, drain_ms;
	enum agent_symbolize symbolize;
	enum agent_format format;
	uint64_t retention_bytes;
	double retention_age_s;
	uint64_t symbolizer_memory;
	double symbolizer_max_age_s;
	bool verbose;
};

struct agent {
	struct agent_config cfg;
	struct ember_collector *collector;
	struct ember_profile *window;		       /* samples of the window in progress */
	uint64_t window_start_mono, window_start_real; /* ns */
	uint64_t window_end_mono;		       /* ns: when the current window closes */
	uint64_t next_drain_mono;		       /* ns */
	double drain_ms;			       /* spent draining the current window */
	uint64_t seq;				       /* windows finished */
	char host[256], kernel[128];

	/*
	 * The worker thread symbolizes, writes and pushes finished windows, so the
	 * main thread never stops handling process events for that long: a process
	 * whose exec it misses while symbolizing would have no mappings to resolve.
	 * Only the worker touches these, apart from the queue under @lock.
	 */
	struct agent_store *store;
	struct ember_symbolizer *sym;
	uint64_t sym_born_mono; /* ns: when @sym was created */
	struct agent_pusher *pusher;
	struct agent_metrics_server *metrics;
	/* symbolizer counters at the previous window: windows carry the difference */
	struct {
		const char *name;
		uint64_t value;
	} * sym_prev;
	size_t nr_sym_prev, cap_sym_prev;
	uint32_t *pids; /* scratch for counting processes */
	size_t cap_pids;

	pthread_t worker;
	bool worker_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct window_job *head, *tail; /* queue, oldest first */
	size_t queued;
	bool worker_stop; /* finish the queue, then exit */
	int worker_err;	  /* -ENOMEM from the worker: the agent exits */
};

static int new_collector(uint32_t hz, int unwind, struct ember_collector **out)
{
	struct ember_collector_opts co = {.sz = sizeof(co)};
	int err;

	co.frequency_hz = hz;
	co.unwind = (enum ember_unwind)unwind;
	co.target = EMBER_TARGET_ALL;
	err = collector__new(&co, out);
	if (err)
		cli_sampler_error(CLI_SAMPLER_LOAD, err);
	return err;
}

static int start_collector(struct ember_collector *c)
{
	int err = collector__start(c);

	if (err)
		cli_sampler_error(CLI_SAMPLER_START, err);
	return err;
}

static double rand_unit(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)(ember_now_mono_ns() ^ (uint64_t)getpid());
	return r / 4294967296.0;
}

/* A window boundary: taken just before the drain that cuts the sampler's buffers. */
struct boundary {
	uint64_t mono, real; /* ns */
};

static struct boundary now_boundary(void)
{
	struct boundary b = {ember_now_mono_ns(), ember_now_real_ns()};

	return b;
}

/*
 * Starts the next window at @b, the boundary where the previous one was cut
 * (not "now": symbolizing and writing the previous window takes time while
 * the sampler already fills the new one).
 */
static int begin_window(struct agent *ag, struct boundary b, double length_s)
{
	int err = profile__new(&ag->window);

	if (err)
		return err;
	ag->window_start_mono = b.mono;
	ag->window_start_real = b.real;
	ag->window_end_mono = b.mono + (uint64_t)(length_s * 1e9);
	ag->drain_ms = 0;
	return 0;
}

static int drain(struct agent *ag, struct ember_collector *c)
{
	uint64_t t0 = ember_now_mono_ns();
	int err = collector__drain(c, ag->window);

	ag->drain_ms += (double)(ember_now_mono_ns() - t0) / 1e6;
	if (err)
		pr_err("draining samples failed: %s", strerror(-err));
	return err;
}

/* Adds what the symbolizer counted since the previous window. */
static int add_symbolizer_deltas(struct agent *ag, struct ember_profile *p)
{
	size_t i, k;

	for (i = 0; i < symbolizer__nr_counters(ag->sym); i++) {
		const char *name;
		uint64_t v, prev = 0;
		int err;

		symbolizer__counter(ag->sym, i, &name, &v);
		for (k = 0; k < ag->nr_sym_prev; k++)
			if (strcmp(ag->sym_prev[k].name, name) == 0)
				break;
		if (k == ag->nr_sym_prev) {
			if (ember_grow((void **)&ag->sym_prev, &ag->cap_sym_prev, k + 1,
				       sizeof(*ag->sym_prev)))
				return -ENOMEM;
			ag->sym_prev[k].name = name;
			ag->sym_prev[k].value = 0;
			ag->nr_sym_prev++;
		}
		prev = ag->sym_prev[k].value;
		ag->sym_prev[k].value = v;
		if (v > prev) {
			err = profile__add_counter(p, name, v - prev);
			if (err)
				return err;
		}
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t count_processes(struct agent *ag, const struct ember_profile *p)
{
	size_t n = profile__nr_samples(p), i, k = 0;
	uint64_t distinct = 0;

	if (!n || ember_grow((void **)&ag->pids, &ag->cap_pids, n, sizeof(*ag->pids)))
		return 0;
	for (i = 0; i < n; i++) {
		struct ember_sample s;

		profile__sample(p, i, &s);
		if (s.pid)
			ag->pids[k++] = s.pid;
	}
	qsort(ag->pids, k, sizeof(*ag->pids), cmp_u32);
	for (i = 0; i < k; i++)
		if (i == 0 || ag->pids[i] != ag->pids[i - 1])
			distinct++;
	return distinct;
}

static uint64_t sum_prefix(const struct ember_profile *p, const char *prefix)
{
	size_t i, len = strlen(prefix);
	uint64_t sum = 0;

	for (i = 0; i < profile__nr_counters(p); i++) {
		const char *name;
		uint64_t v;

		profile__counter(p, i, &name, &v);
		if (strncmp(name, prefix, len) == 0)
			sum += v;
	}
	return sum;
}

/*
 * Worker side of a window: symbolization, file, spool, metrics. A window that
 * cannot be written is logged, not fatal: the agent keeps sampling. Returns
 * -ENOMEM only.
 */
static int process_window(struct agent *ag, struct window_job *job)
{
	struct agent_window_stats w = {0};
	struct ember_profile *p = job->p;
	uint64_t t0, kept = 0;
	int err;

	w.seq = job->seq;
	w.hz = job->hz;
	w.duration_s = job->duration_s;
	w.drain_ms = job->drain_ms;
	t0 = ember_now_mono_ns();
	if (job->symbolize == AGENT_SYMBOLIZE_LOCAL) {
		err = profile__symbolize(p, ag->sym);
		if (!err)
			err = add_symbolizer_deltas(ag, p);
		if (err)
			return err;
	}
	w.symbolize_ms = (double)(ember_now_mono_ns() - t0) / 1e6;

	t0 = ember_now_mono_ns();
	agent_store__write(ag->store, p, job->format, job->retention_bytes, job->retention_age_s,
			   &kept, NULL, 0);
	if (ag->pusher)
		agent_pusher__enqueue(
		    ag->pusher, p, profile__start_ns(p) / 1000000000ull,
		    (profile__start_ns(p) + profile__duration_ns(p) + 999999999ull) / 1000000000ull,
		    job->hz);
	w.write_ms = (double)(ember_now_mono_ns() - t0) / 1e6;

	w.samples = profile__total(p);
	w.lost = sum_prefix(p, "lost.");
	w.sampler_samples = profile__counter_value(p, "sampler.samples");
	w.stacks = profile__nr_samples(p);
	w.processes = count_processes(ag, p);
	w.rss_bytes = agent_rss_bytes();
	w.output_bytes = kept;
	if (ag->pusher) {
		agent_pusher__stats(ag->pusher, &w.push);
		w.have_push = true;
	}
	agent_metrics__log(&w, p, job->verbose);
	if (ag->metrics && agent_metrics_server__update(ag->metrics, &w, p))
		return -ENOMEM;
	return 0;
}

/* The agent's symbolizer options: a small open-file budget, for memory. */
static int new_symbolizer(struct agent *ag)
{
	struct ember_symbolizer_opts so = {.sz = sizeof(so), .max_open_files = 16};
	int err = symbolizer__new(&so, &ag->sym);

	ag->sym_born_mono = ember_now_mono_ns();
	ag->nr_sym_prev = 0; /* a new symbolizer counts from 0 */
	return err;
}

/*
 * The symbolizer keeps what it learned (symbol tables of every file it closed,
 * bindings of every process it saw) for its whole life. A host that runs new
 * binaries and processes for months would grow it without end, so it is
 * started afresh when the agent's own memory passes its budget, and at a
 * fixed age. The next window pays for cold caches once.
 */
static int maybe_reset_symbolizer(struct agent *ag, const struct window_job *job)
{
	uint64_t anon = agent_anon_bytes();
	double age_s = (double)(ember_now_mono_ns() - ag->sym_born_mono) / 1e9;
	bool over = job->symbolizer_memory && anon > job->symbolizer_memory;
	bool old = job->symbolizer_max_age_s > 0 && age_s >= job->symbolizer_max_age_s;

	if (job->symbolize != AGENT_SYMBOLIZE_LOCAL || (!over && !old))
		return 0;
	pr_info("window %llu: symbolizer caches dropped (%s: %.1f MB anonymous, %.0f s old)",
		(unsigned long long)job->seq, over ? "memory budget" : "age",
		(double)anon / 1048576.0, age_s);
	symbolizer__free(ag->sym);
	ag->sym = NULL;
	malloc_trim(0);
	return new_symbolizer(ag);
}

static void *worker_main(void *arg)
{
	struct agent *ag = arg;

	pthread_mutex_lock(&ag->lock);
	for (;;) {
		struct window_job *job = ag->head;
		int err;

		if (!job) {
			if (ag->worker_stop)
				break;
			pthread_cond_wait(&ag->wake, &ag->lock);
			continue;
		}
		ag->head = job->next;
		if (!ag->head)
			ag->tail = NULL;
		ag->queued--;
		pthread_mutex_unlock(&ag->lock);
		err = ag->worker_err ? 0 : process_window(ag, job);
		profile__free(job->p);
		job->p = NULL;
		if (!err && !ag->worker_err)
			err = maybe_reset_symbolizer(ag, job);
		free(job);
		/*
		 * A window's profile and the symbolizer's transient buffers are freed by
		 * now; give the pages back so RSS measures what the agent keeps, not the
		 * high-water mark of its largest window. Costs well under 1 ms per window.
		 */
		malloc_trim(0);
		pthread_mutex_lock(&ag->lock);
		if (err)
			ag->worker_err = err;
	}
	pthread_mutex_unlock(&ag->lock);
	return NULL;
}

/*
 * Closes the window in progress, drained up to @end, and hands it to the
 * worker. The labels are set here, from the configuration the window was
 * sampled under. Returns 0, or -ENOMEM (also when the worker failed so).
 */
static int finish_window(struct agent *ag, struct boundary end, uint32_t hz)
{
	struct ember_profile *p = ag->window;
	struct window_job *job;
	size_t i, queued;
	int err;

	ag->seq++;
	profile__set_time(p, ag->window_start_real, end.mono - ag->window_start_mono);
	profile__set_frequency(p, hz);
	err = profile__set_label(p, "host", ag->host);
	if (!err)
		err = profile__set_label(p, "kernel_release", ag->kernel);
	for (i = 0; !err && i < ag->cfg.nr_labels; i++)
		err = profile__set_label(p, ag->cfg.labels[i].key, ag->cfg.labels[i].value);
	job = err ? NULL : calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->p = p;
	job->seq = ag->seq;
	job->hz = hz;
	job->duration_s = (double)(end.mono - ag->window_start_mono) / 1e9;
	job->drain_ms = ag->drain_ms;
	job->symbolize = ag->cfg.symbolize;
	job->format = ag->cfg.format;
	job->retention_bytes = ag->cfg.retention_bytes;
	job->retention_age_s = ag->cfg.retention_age_s;
	job->symbolizer_memory = ag->cfg.symbolizer_memory;
	job->symbolizer_max_age_s = ag->cfg.symbolizer_max_age_s;
	job->verbose = ag->cfg.verbose;
	ag->window = NULL;
	pthread_mutex_lock(&ag->lock);
	if (ag->tail)
		ag->tail->next = job;
	else
		ag->head = job;
	ag->tail = job;
	queued = ++ag->queued;
	err = ag->worker_err;
	pthread_cond_signal(&ag->wake);
	pthread_mutex_unlock(&ag->lock);
	if (queued > 2)
		pr_warn("window %llu: %zu windows wait for symbolization and writing",
			(unsigned long long)job->seq, queued);
	return err;
}

/* Starts a thread with the agent's signals blocked, so only the main thread takes them. */
static void block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

static bool str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/*
 * SIGHUP: reads the config again. A bad file keeps the running configuration.
 * A new frequency (or unwind mode) needs a new sampler: the new one is loaded first, then the
 * old one stops and the new one starts back to back, and the current window is
 * written with the old frequency's samples (drained twice to empty both of its
 * buffers).
 */
static int reload(struct agent *ag, int argc, char **argv, const struct agent_args *a)
{
	struct agent_config next;
	struct ember_collector *nc = NULL;
	struct boundary cut = {0, 0};
	int ret, err, i;

	pr_info("SIGHUP: reloading %s", a->config_path);
	ret = load_config(argc, argv, a, &next);
	if (ret >= 0) {
		pr_err("reload failed; keeping the running configuration");
		agent_config__release(&next);
		return 0;
	}
	if (str_differs(next.push_url, ag->cfg.push_url) ||
	    str_differs(next.spool_dir, ag->cfg.spool_dir) ||
	    str_differs(next.push_token_file, ag->cfg.push_token_file) ||
	    str_differs(next.push_basic_auth_file, ag->cfg.push_basic_auth_file) ||
	    next.metrics_port != ag->cfg.metrics_port ||
	    strcmp(next.output_dir, ag->cfg.output_dir) != 0)
		pr_warn("reload: output-dir, push and metrics-port settings take effect at the "
			"next start");
	if (next.frequency_hz != ag->cfg.frequency_hz || next.unwind != ag->cfg.unwind) {
		err = new_collector(next.frequency_hz, next.unwind, &nc);
		if (err) {
			pr_err("reload: keeping %u Hz", ag->cfg.frequency_hz);
			next.frequency_hz = ag->cfg.frequency_hz;
			next.unwind = ag->cfg.unwind;
		} else {
			cut = now_boundary();
			collector__stop(ag->collector);
			err = start_collector(nc);
			if (err) {
				/* Keep sampling with the old one rather than not at all. */
				collector__free(nc);
				nc = NULL;
				next.frequency_hz = ag->cfg.frequency_hz;
				next.unwind = ag->cfg.unwind;
				err = start_collector(ag->collector);
				if (err) {
					agent_config__release(&next);
					return err;
				}
			}
		}
	}
	if (nc) {
		for (i = 0; i < 2; i++) {
			err = drain(ag, ag->collector);
			if (err)
				break;
		}
		if (!err)
			err = finish_window(ag, cut, ag->cfg.frequency_hz);
		collector__free(ag->collector);
		ag->collector = nc;
		pr_info("reload: sampling at %u Hz (was %u Hz)", next.frequency_hz,
			ag->cfg.frequency_hz);
		if (!err)
			err = begin_window(ag, cut, next.window_s);
		ag->next_drain_mono = ember_now_mono_ns();
		if (err) {
			agent_config__release(&next);
			return err;
		}
	}
	/* These keep what they were started with (see the warning above). */
	free(next.push_url);
	next.push_url = ag->cfg.push_url ? strdup(ag->cfg.push_url) : NULL;
	free(next.output_dir);
	next.output_dir = strdup(ag->cfg.output_dir);
	next.metrics_port = ag->cfg.metrics_port;
	if ((ag->cfg.push_url && !next.push_url) || !next.output_dir) {
		agent_config__release(&next);
		return -ENOMEM;
	}
	agent_config__release(&ag->cfg);
	ag->cfg = next;
	ember_log_set_level(ag->cfg.verbose ? EMBER_LOG_DEBUG : EMBER_LOG_INFO);
	/* The end of a handled SIGHUP, for whoever sent it (tests wait for this line). */
	pr_info("reload: configuration of %s applied", a->config_path);
	return 0;
}

static void agent_release(struct agent *ag)
{
	if (ag->worker_started) {
		/* The worker finishes the queued windows (the partial one too), then exits. */
		pthread_mutex_lock(&ag->lock);
		ag->worker_stop = true;
		pthread_cond_signal(&ag->wake);
		pthread_mutex_unlock(&ag->lock);
		pthread_join(ag->worker, NULL);
	}
	while (ag->head) {
		struct window_job *job = ag->head;

		ag->head = job->next;
		profile__free(job->p);
		free(job);
	}
	pthread_cond_destroy(&ag->wake);
	pthread_mutex_destroy(&ag->lock);
	collector__free(ag->collector);
	symbolizer__free(ag->sym);
	agent_pusher__free(ag->pusher, SHUTDOWN_PUSH_S);
	agent_metrics_server__free(ag->metrics);
	agent_store__free(ag->store);
	profile__free(ag->window);
	agent_config__release(&ag->cfg);
	free(ag->sym_prev);
	free(ag->pids);
}

static double drain_interval_s(const struct agent_config *cfg)
{
	return cfg->window_s / 2 < MAX_DRAIN_S ? cfg->window_s / 2 : MAX_DRAIN_S;
}

int cmd_agent(int argc, char **argv)
{
	struct agent_args a = {.config_path = AGENT_DEFAULT_CONFIG};
	struct sigaction stop_sa = {.sa_handler = on_stop}, hup_sa = {.sa_handler = on_reload};
	struct agent ag;
	struct utsname uts;
	uint64_t started;
	double first_s;
	sigset_t old;
	int ret, err, i;

	memset(&ag, 0, sizeof(ag));
	/* Two threads allocate (main: drains; worker: symbolization): one arena is enough
	 * and avoids a second arena's fragmentation in a process that runs for months. */
	mallopt(M_ARENA_MAX, 1);
	pthread_mutex_init(&ag.lock, NULL);
	pthread_cond_init(&ag.wake, NULL);
	ret = parse_flags(argc, argv, NULL, &a);
	if (ret >= 0)
		return ret;
	ret = load_config(argc, argv, &a, &ag.cfg);
	if (ret >= 0)
		goto out;
	if (a.check_only) {
		printf("ember: configuration is valid (%s%s)\n", a.config_path,
		       access(a.config_path, F_OK) == 0 ? "" : ": not present, defaults");
		ret = EMBER_EXIT_OK;
		goto out;
	}
	ember_log_set_level(ag.cfg.verbose ? EMBER_LOG_DEBUG : EMBER_LOG_INFO);
	ret = EMBER_EXIT_OUTPUT;
	if (agent_store__new(ag.cfg.output_dir, &ag.store))
		goto out;
	ret = cli_check_sampler_privileges("with the capabilities of tools/ember-agent.service");
	if (ret)
		goto out;
	ret = EMBER_EXIT_FAILURE;
	gethostname(ag.host, sizeof(ag.host) - 1);
	if (uname(&uts) == 0)
		snprintf(ag.kernel, sizeof(ag.kernel), "%s", uts.release);

	signal(SIGPIPE, SIG_IGN); /* a scraper or server closing early must not kill us */
	sigaction(SIGINT, &stop_sa, NULL);
	sigaction(SIGTERM, &stop_sa, NULL);
	sigaction(SIGHUP, &hup_sa, NULL);

	err = new_symbolizer(&ag);
	if (err) {
		fprintf(stderr, "ember: cannot set up symbolization: %s\n", strerror(-err));
		goto out;
	}
	block_signals(&old);
	if (ag.cfg.push_url && agent_pusher__new(&ag.cfg, &ag.pusher))
		err = -EINVAL;
	if (!err && ag.cfg.metrics_port &&
	    agent_metrics_server__new(
		ag.cfg.metrics_port == AGENT_METRICS_PORT_AUTO ? 0 : (uint16_t)ag.cfg.metrics_port,
		&ag.metrics))
		err = -EINVAL;
	if (!err) {
		err = -pthread_create(&ag.worker, NULL, worker_main, &ag);
		if (err)
			fprintf(stderr, "ember: cannot start the window thread: %s\n",
				strerror(-err));
		ag.worker_started = !err;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out;

	err = new_collector(ag.cfg.frequency_hz, ag.cfg.unwind, &ag.collector);
	if (err) {
		ret = cli_sampler_exit_code(CLI_SAMPLER_LOAD, err);
		goto out;
	}
	err = start_collector(ag.collector);
	if (err) {
		ret = cli_sampler_exit_code(CLI_SAMPLER_START, err);
		goto out;
	}
	/* Spread the fleet: the first window ends somewhere in the first window length. */
	first_s = ag.cfg.window_s;
	if (ag.cfg.jitter) {
		first_s = ag.cfg.window_s * rand_unit();
		if (first_s < 1)
			first_s += ag.cfg.window_s;
	}
	if (begin_window(&ag, now_boundary(), first_s))
		goto out;
	started = ag.window_start_mono;
	ag.next_drain_mono = started + (uint64_t)(drain_interval_s(&ag.cfg) * 1e9);
	/* The readiness line: every perf event is attached and the first window runs. */
	pr_info("agent: sampling %u CPUs at %u Hz, %g s windows (first %.1f s) into %s%s%s",
		collector__nr_cpus(ag.collector), ag.cfg.frequency_hz, ag.cfg.window_s, first_s,
		ag.cfg.output_dir, ag.cfg.push_url ? ", pushing to " : "",
		ag.cfg.push_url ? ag.cfg.push_url : "");

	while (!stop_signal) {
		uint64_t now;

		err = collector__poll(ag.collector, POLL_MS);
		if (err < 0 && err != -EINTR) {
			pr_err("reading process events failed: %s", strerror(-err));
			goto out;
		}
		if (reload_signal) {
			reload_signal = 0;
			if (reload(&ag, argc, argv, &a))
				goto out;
		}
		now = ember_now_mono_ns();
		if (a.duration_s > 0 && now - started >= (uint64_t)(a.duration_s * 1e9))
			break;
		if (now >= ag.window_end_mono) {
			struct boundary cut = now_boundary();
			/* Keep the cadence: a window cut late (poll period, a slow drain)
			 * makes the next one shorter, so window starts do not drift. */
			double late_s = (double)(cut.mono - ag.window_end_mono) / 1e9;

			if (late_s > ag.cfg.window_s / 2)
				late_s = 0; /* far behind (suspend?): start a new cadence */
			if (drain(&ag, ag.collector) ||
			    finish_window(&ag, cut, ag.cfg.frequency_hz) ||
			    begin_window(&ag, cut, ag.cfg.window_s - late_s))
				goto out;
			ag.next_drain_mono = now + (uint64_t)(drain_interval_s(&ag.cfg) * 1e9);
		} else if (now >= ag.next_drain_mono) {
			if (drain(&ag, ag.collector))
				goto out;
			ag.next_drain_mono = now + (uint64_t)(drain_interval_s(&ag.cfg) * 1e9);
		}
	}
	/* The partial window: stop, then empty both buffers of the sampler. */
	{
		struct boundary end = now_boundary();

		collector__stop(ag.collector);
		for (i = 0; i < 2; i++)
			if (drain(&ag, ag.collector))
				goto out;
		if (finish_window(&ag, end, ag.cfg.frequency_hz))
			goto out;
	}
	if (stop_signal)
		pr_info("agent: stopped by signal %d after %llu windows", (int)stop_signal,
			(unsigned long long)ag.seq);
	ret = EMBER_EXIT_OK;
out:
	agent_release(&ag);
	if (ret == EMBER_EXIT_OK && ag.worker_err) {
		fprintf(stderr, "ember: writing windows failed: %s\n", strerror(-ag.worker_err));
		ret = EMBER_EXIT_FAILURE;
	}
	return ret;
}
