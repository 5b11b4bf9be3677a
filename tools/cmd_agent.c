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
 * This file holds the flags, the config load and reload, and the wiring; the
 * windows themselves (boundaries, drains, the queue and the worker thread)
 * are tools/agent/windows.c. SIGHUP reloads the config file (a new frequency
 * ends the current window early, so each file has one sampling rate); SIGTERM
 * and SIGINT write the partial window and exit 0.
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

#include "agent/agent.h"
#include "agg/agg.h"
#include "cli.h"
#include "commands.h"
#include "output/output.h"
#include "support/support.h"
#include "symbolize_cli.h" /* --debug-dir */

#define POLL_MS		100  /* process events and signals are handled this often */
#define SHUTDOWN_PUSH_S 10.0 /* at exit, time given to the spool to empty (seconds) */

enum {
	OPT_WINDOW = 1000,
	OPT_JITTER,
	OPT_FORMAT,
	OPT_RETENTION_BYTES,
	OPT_RETENTION_AGE,
	OPT_SYMBOLIZE,
	OPT_UNWIND,
	OPT_UNWIND_ROWS,
	OPT_UNWIND_CACHE,
	OPT_MODE,
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
	OPT_PUSH_TENANT,
	OPT_PUSH_MAX_AGE,
	OPT_PUSH_RATE_LIMIT_MAX,
	OPT_PUSH_MAX_BYTES,
	OPT_PUSH_MAX_SAMPLES,
	OPT_PUSH_SAMPLE_LABELS,
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
    SYMBOLIZE_CLI_DEBUG_DIR_OPTION,
    {"unwind", 0, OPT_UNWIND, "auto|fp|dwarf",
     "How user stacks are walked: auto (default): .eh_frame tables where a binary has "
     "them (complete stacks of binaries built without frame pointers), frame pointers "
     "elsewhere; fp: frame pointers only, no per-process work; dwarf: tables only."},
    {"mode", 0, OPT_MODE, "cpu|off-cpu|wall",
     "What each window measures: cpu (default): CPU samples; off-cpu: nanoseconds threads "
     "spent off the CPU (intervals of 1 ms and more), at the stacks where they left it, "
     "under '[off-cpu: blocked]' or '[off-cpu: preempted]'; wall: both in nanoseconds, "
     "each CPU sample at 1/F s (as record --off-cpu and --wall)."},
    {"unwind-rows", 0, OPT_UNWIND_ROWS, "N",
     "Rows of unwind tables the sampler holds (8 bytes each of kernel memory, charged to the "
     "agent's cgroup, not in its RSS; 1024..67108864, default 1048576 = 8 MiB). Past it the "
     "least recently used tables are evicted and counted (unwind.tables.evicted)."},
    {"unwind-cache", 0, OPT_UNWIND_CACHE, "DIR|none",
     "Keep built unwind tables in DIR by build-id (default /var/cache/ember/unwind, shared "
     "with ember record; kept under 256 MiB, least recently used first out), so that a "
     "restart or a SIGHUP that loads a new sampler reads them instead of parsing .eh_frame "
     "of every binary on the host again."},
    {"label", 'l', 0, "KEY=VALUE",
     "Static label on every window (service, env, region...); repeatable. In the config "
     "file: 'label.KEY = VALUE'. host and kernel_release are always added."},
    {"push", 0, OPT_PUSH, "URL",
     "Also send each window to a Pyroscope-compatible server: POST URL/ingest (or URL when "
     "it ends in /ingest) with name=APP{host=...,labels}, from, until, format=pprof and "
     "sampleRate. Windows wait in an on-disk spool and are delivered in order, with "
     "exponential backoff while the server is unreachable or answers 5xx, 408, 401, 403 or "
     "429; 422 is retried 3 times; other 4xx answers drop the window. Every drop and retry "
     "is counted and logged."},
    {"push-app", 0, OPT_PUSH_APP, "NAME",
     "Service name for --push, filed as service_name exactly (letters, digits, _ . / -; "
     "default ember)."},
    {"push-tenant", 0, OPT_PUSH_TENANT, "ID",
     "Send 'X-Scope-OrgID: ID', the tenant of a multi-tenant Pyroscope (1..150 of letters, "
     "digits, ! - _ . * ' ( ); default none)."},
    {"push-max-age", 0, OPT_PUSH_MAX_AGE, "DURATION",
     "Windows that started longer ago than this are dropped from the spool unsent and counted "
     "(default 50m, under Pyroscope's 1 h reject-older-than; 0: no limit)."},
    {"push-rate-limit-max", 0, OPT_PUSH_RATE_LIMIT_MAX, "DURATION",
     "Longest time one window may be answered 429 (rate limited) before it is dropped and "
     "counted, so that it cannot block the spool (default 5m)."},
    {"push-max-bytes", 0, OPT_PUSH_MAX_BYTES, "SIZE",
     "Largest uncompressed profile per request (1K..4M, default 2M, Pyroscope's ingestion "
     "burst): a larger window is sent in several requests, split by samples; one that "
     "cannot be split under it is refused before sending (counted)."},
    {"push-max-samples", 0, OPT_PUSH_MAX_SAMPLES, "N",
     "Most pprof samples per request (default 16000, Pyroscope's limit): a window with more "
     "is split."},
    {"push-sample-labels", 0, OPT_PUSH_SAMPLE_LABELS, "LIST",
     "Sample labels kept in pushed profiles, which Pyroscope turns into series labels: a "
     "comma-separated list of pid, tid, thread_name, process_name, exe, cgroup, "
     "container_id, or none (default process_name). Chosen pid and tid are sent as strings, "
     "the others are left out. Each adds series: thread_name, pid and tid multiply them (5,000 active series per "
     "tenant by default). Window files keep every label."},
    {"push-token-file", 0, OPT_PUSH_TOKEN_FILE, "FILE",
     "Send 'Authorization: Bearer TOKEN' with TOKEN the first line of FILE (credentials are "
     "never taken from the command line; the file is read again after a 401 or 403)."},
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
     "Memory the local symbolizer may hold (default 16M; 0: no limit): symbol tables and "
     "names, DWARF indexes, symbol and debug sections mapped or decompressed, kernel "
     "symbols, per-process state. Past it the files used least are dropped and read again "
     "when an address of theirs comes back; exited processes are forgotten once their "
     "samples are written. The symbolizer is never restarted."},
    {"symbolizer-max-age", 0, OPT_SYMBOLIZER_MAX_AGE, "DURATION",
     "Obsolete, accepted and ignored (a warning says so): the symbolizer no longer "
     "restarts; it keeps within --symbolizer-memory."},
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

struct agent {
	struct agent_config cfg;
	struct ember_collector *collector;
	struct agent_windows *windows; /* boundaries, queue and worker (tools/agent/windows.c) */
	struct agent_store *store;
	struct agent_pusher *pusher;
	struct agent_metrics_server *metrics;
};

static int new_collector(const struct agent_config *cfg, struct ember_collector **out)
{
	struct ember_collector_opts co = {.sz = sizeof(co)};
	int err;

	co.frequency_hz = cfg->frequency_hz;
	co.unwind = (enum ember_unwind)cfg->unwind;
	co.unwind_rows = cfg->unwind_rows;
	co.unwind_cache_dir = cfg->unwind_cache;
	co.mode = (enum ember_mode)cfg->mode;
	co.min_block_ns = EMBER_MIN_BLOCK_DEFAULT_NS;
	co.target = EMBER_TARGET_ALL;
	err = collector__new(&co, out);
	if (err)
		cli_sampler_error(CLI_SAMPLER_LOAD, err);
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
 * written with all of the old frequency's samples (agent_windows__switch).
 */
static int reload(struct agent *ag, int argc, char **argv, const struct agent_args *a)
{
	struct agent_config next;
	struct ember_collector *nc = NULL;
	bool switched;
	int ret, err = 0;

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
	    str_differs(next.push_tenant, ag->cfg.push_tenant) ||
	    next.metrics_port != ag->cfg.metrics_port ||
	    str_differs(next.unwind_cache, ag->cfg.unwind_cache) ||
	    strcmp(next.output_dir, ag->cfg.output_dir) != 0)
		pr_warn("reload: output-dir, push, metrics-port and unwind-cache settings take "
			"effect at the next start");
	/* A new sampler below keeps the running cache directory, as the warning says. */
	if (str_differs(next.unwind_cache, ag->cfg.unwind_cache)) {
		free(next.unwind_cache);
		next.unwind_cache = ag->cfg.unwind_cache ? strdup(ag->cfg.unwind_cache) : NULL;
		if (ag->cfg.unwind_cache && !next.unwind_cache) {
			agent_config__release(&next);
			return -ENOMEM;
		}
	}
	if (next.frequency_hz != ag->cfg.frequency_hz || next.unwind != ag->cfg.unwind ||
	    next.unwind_rows != ag->cfg.unwind_rows || next.mode != ag->cfg.mode) {
		err = new_collector(&next, &nc);
		if (err) {
			pr_err("reload: keeping %u Hz", ag->cfg.frequency_hz);
			next.frequency_hz = ag->cfg.frequency_hz;
			next.unwind = ag->cfg.unwind;
			next.unwind_rows = ag->cfg.unwind_rows;
			next.mode = ag->cfg.mode;
		} else {
			err = agent_windows__switch(ag->windows, ag->collector, nc, &ag->cfg,
						    next.window_s, &switched);
			if (!switched) {
				/* The old one samples on. */
				collector__free(nc);
				nc = NULL;
				next.frequency_hz = ag->cfg.frequency_hz;
				next.unwind = ag->cfg.unwind;
				next.unwind_rows = ag->cfg.unwind_rows;
				next.mode = ag->cfg.mode;
				if (err) {
					agent_config__release(&next);
					return err;
				}
			}
		}
	}
	if (nc) {
		collector__free(ag->collector);
		ag->collector = nc;
		pr_info("reload: sampling at %u Hz (was %u Hz)", next.frequency_hz,
			ag->cfg.frequency_hz);
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

/* Lets the worker write the queued windows, then frees all; returns the worker's error. */
static int agent_release(struct agent *ag)
{
	int worker_err = ag->windows ? agent_windows__join(ag->windows) : 0;

	agent_windows__free(ag->windows);
	collector__free(ag->collector);
	agent_pusher__free(ag->pusher, SHUTDOWN_PUSH_S);
	agent_metrics_server__free(ag->metrics);
	agent_store__free(ag->store);
	agent_config__release(&ag->cfg);
	return worker_err;
}

int cmd_agent(int argc, char **argv)
{
	struct agent_args a = {.config_path = AGENT_DEFAULT_CONFIG};
	struct sigaction stop_sa = {.sa_handler = on_stop}, hup_sa = {.sa_handler = on_reload};
	struct agent ag;
	uint64_t started;
	double first_s;
	sigset_t old;
	int ret, err, worker_err;

	memset(&ag, 0, sizeof(ag));
	/* Two threads allocate (main: drains; worker: symbolization): one arena is enough
	 * and avoids a second arena's fragmentation in a process that runs for months. */
	mallopt(M_ARENA_MAX, 1);
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

	signal(SIGPIPE, SIG_IGN); /* a scraper or server closing early must not kill us */
	sigaction(SIGINT, &stop_sa, NULL);
	sigaction(SIGTERM, &stop_sa, NULL);
	sigaction(SIGHUP, &hup_sa, NULL);

	err = agent_windows__new(ag.store, &ag.windows);
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
	if (!err)
		err = agent_windows__start_worker(ag.windows, ag.pusher, ag.metrics);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out;

	err = new_collector(&ag.cfg, &ag.collector);
	if (err) {
		ret = cli_sampler_exit_code(CLI_SAMPLER_LOAD, err);
		goto out;
	}
	err = agent_windows__start(ag.windows, ag.collector, &ag.cfg, &first_s);
	if (err) {
		ret = cli_sampler_exit_code(CLI_SAMPLER_START, err);
		goto out;
	}
	started = ember_now_mono_ns();
	/* The readiness line: every perf event is attached and the first window runs. */
	pr_info("agent: sampling %u CPUs at %u Hz, %g s windows (first %.1f s) into %s%s%s",
		collector__nr_cpus(ag.collector), ag.cfg.frequency_hz, ag.cfg.window_s, first_s,
		ag.cfg.output_dir, ag.cfg.push_url ? ", pushing to " : "",
		ag.cfg.push_url ? ag.cfg.push_url : "");

	while (!stop_signal) {
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
		if (a.duration_s > 0 &&
		    ember_now_mono_ns() - started >= (uint64_t)(a.duration_s * 1e9))
			break;
		if (agent_windows__tick(ag.windows, ag.collector, &ag.cfg))
			goto out;
	}
	/* The partial window, with everything the sampler took until it stopped. */
	if (agent_windows__finish(ag.windows, ag.collector, &ag.cfg))
		goto out;
	if (stop_signal)
		pr_info("agent: stopped by signal %d after %llu windows", (int)stop_signal,
			(unsigned long long)agent_windows__nr_finished(ag.windows));
	ret = EMBER_EXIT_OK;
out:
	worker_err = agent_release(&ag);
	if (ret == EMBER_EXIT_OK && worker_err) {
		fprintf(stderr, "ember: writing windows failed: %s\n", strerror(-worker_err));
		ret = EMBER_EXIT_FAILURE;
	}
	return ret;
}
