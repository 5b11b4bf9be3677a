/* SPDX-License-Identifier: MIT */
/*
 * The pieces of `ember agent` (tools/cmd_agent.c drives them):
 *
 *  - agent_config: settings from /etc/ember/agent.conf and the command line,
 *    parsed by one function so a key and its flag always mean the same thing.
 *  - agent_store: writes each window's profile atomically into the output
 *    directory and enforces retention by total bytes and by age.
 *  - agent_pusher: an on-disk spool of windows waiting for a Pyroscope-style
 *    /ingest endpoint, and the thread that sends them in order, with backoff.
 *  - agent_metrics: the agent's own figures per window (samples, losses, times,
 *    RSS, spool), as a log line and as Prometheus text on a loopback port.
 *  - agent_windows: the window engine. Decides where windows begin and end,
 *    drains the collector into them, and hands each finished window to a
 *    worker thread that symbolizes, writes, pushes and reports it.
 *
 * Private to tools/. Errors are negative errnos; objects are opaque with
 * __new/__free (free accepts NULL). The pusher, the metrics server and the
 * window engine run threads of their own; their functions are safe to call
 * from the main thread while those threads run, and nothing else is
 * thread-safe.
 */
#ifndef EMBER_AGENT_H
#define EMBER_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ember_collector;
struct ember_profile;

/* ---- configuration ------------------------------------------------------ */

#define AGENT_DEFAULT_CONFIG "/etc/ember/agent.conf"

enum agent_format {
	AGENT_FORMAT_PPROF = 0,	 /* .pb.gz */
	AGENT_FORMAT_FOLDED_ZST, /* .folded.zst */
};

enum agent_symbolize {
	AGENT_SYMBOLIZE_LOCAL = 0, /* resolve on this host */
	AGENT_SYMBOLIZE_NONE,	   /* ship addresses, build-ids and file offsets */
};

struct agent_label {
	char *key, *value;
};

struct agent_config {
	uint32_t frequency_hz; /* samples per second per CPU */
	double window_s;       /* seconds per profile */
	bool jitter;	       /* shorten the first window by a random amount */
	char *output_dir;      /* where window files go */
	enum agent_format format;
	uint64_t retention_bytes; /* total size of window files kept; 0: no limit */
	double retention_age_s;	  /* oldest window kept, seconds; 0: no limit */
	enum agent_symbolize symbolize;
	int unwind;		     /* enum ember_unwind (agg/agg.h): auto, fp, dwarf */
	int mode;		     /* enum ember_mode (agg/agg.h): cpu, off-cpu, wall */
	uint32_t unwind_rows;	     /* unwind table rows the sampler holds (8 bytes each) */
	char *unwind_cache;	     /* unwind table disk cache directory; NULL: none */
	char *push_url;		     /* NULL: no push */
	char *push_app;		     /* application name in the ingest "name" parameter */
	char *push_token_file;	     /* bearer token, first line of the file */
	char *push_basic_auth_file;  /* "user:password", first line of the file */
	char *push_ca_file;	     /* CA bundle for https; NULL: system default */
	char *spool_dir;	     /* NULL: OUTPUT_DIR/spool */
	uint64_t spool_bytes;	     /* bound of the spool; oldest windows dropped beyond */
	double push_timeout_s;	     /* per request */
	double push_backoff_min_s;   /* first retry delay */
	double push_backoff_max_s;   /* retry delay cap */
	uint32_t metrics_port;	     /* 0: no Prometheus endpoint; else 127.0.0.1:PORT, or
				      * AGENT_METRICS_PORT_AUTO: a port the kernel picks */
	uint64_t symbolizer_memory;  /* bytes the symbolizer may hold (its budget: the files
				      * used least are dropped past it); 0: no limit */
	double symbolizer_max_age_s; /* obsolete (seconds): parsed, ignored with a warning */
	char *debug_dirs;	     /* debug-dir roots in the order given, each ended by '\n'
				      * (repeatable key); NULL: none */
	bool verbose;
	struct agent_label *labels; /* static labels, in order of first setting */
	size_t nr_labels, cap_labels;

	/* What a Pyroscope server takes (its validation and limits; tools/agent/push.c). */
	char *push_tenant;	   /* X-Scope-OrgID of a multi-tenant server; NULL: none */
	double push_max_age_s;	   /* windows that started longer ago (s) are not sent; 0: none */
	double push_rl_max_s;	   /* seconds one window may be answered 429 before it is dropped */
	uint64_t push_max_bytes;   /* uncompressed bytes per request; larger windows are split */
	uint32_t push_max_samples; /* pprof samples per request; larger windows are split */
	uint32_t push_labels;	   /* enum ember_pprof_label bits (output/output.h) kept as sample
				    * labels, which the server makes series labels */
};

/* metrics-port = auto: listen on a free port chosen by the kernel (logged at start). */
#define AGENT_METRICS_PORT_AUTO 65536u

/* Fills @cfg with the defaults (documented in the option table). 0 or -ENOMEM. */
int agent_config__init(struct agent_config *cfg);
/* Frees the strings and labels of @cfg (not @cfg itself). */
void agent_config__release(struct agent_config *cfg);

/*
 * Sets @key (a long flag name, e.g. "frequency", or "label.KEY") from @value.
 * On a bad key returns -ENOENT; on a bad value -EINVAL with a reason such as
 * "expected 1..20000" written into @why (@why_size bytes). -ENOMEM otherwise.
 */
int agent_config__set(struct agent_config *cfg, const char *key, const char *value, char *why,
		      size_t why_size);

/*
 * Reads the config file at @path into @cfg: lines "key = value", '#' comments,
 * blank lines. Every error is printed to stderr as "ember: PATH:LINE: ..." naming
 * the key. Returns 0, -ENOENT when the file does not exist (nothing printed:
 * the caller decides whether that matters), -EINVAL after a printed error, or
 * another negative errno (printed).
 */
int agent_config__load(struct agent_config *cfg, const char *path);

/* Checks cross-key constraints (retention, push settings); prints and returns -EINVAL. */
int agent_config__validate(const struct agent_config *cfg);

/* ---- window files and retention ----------------------------------------- */

struct agent_store;

/*
 * Opens @dir (created if missing, mode 0750) for window files and proves it is
 * writable by creating and removing a probe file. Prints a clear error and
 * returns a negative errno when it is not.
 */
int agent_store__new(const char *dir, struct agent_store **out);
void agent_store__free(struct agent_store *s);

/*
 * Writes @p as window file "ember-YYYYMMDDTHHMMSSZ-SEQ.EXT" (start time of the
 * window, UTC): encoded in memory, then retention makes room for it (see
 * agent_store__retain; @max_bytes 0 and @max_age_s 0 mean no limit), then a
 * temporary file is renamed into place. A window larger than @max_bytes is not
 * written (-EFBIG). *@bytes_kept (may be NULL) gets the directory's window
 * bytes afterwards; @path_out (may be NULL) the file's path.
 */
int agent_store__write(struct agent_store *s, const struct ember_profile *p,
		       enum agent_format format, uint64_t max_bytes, double max_age_s,
		       uint64_t *bytes_kept, char *path_out, size_t path_size);

/*
 * Removes window files, oldest first, until their total is at most @max_bytes
 * (0: no limit) and none is older than @max_age_s (0: no limit); leftover
 * temporary files of an interrupted write are removed too. Returns the number
 * of files removed or a negative errno; *@bytes_kept gets the total left.
 */
int agent_store__retain(struct agent_store *s, uint64_t max_bytes, double max_age_s,
			uint64_t *bytes_kept);

/* ---- push: spool and sender thread ---------------------------------------- */

struct agent_pusher;

struct agent_push_stats {
	uint64_t sent;	   /* requests accepted (2xx); a split window sends several */
	uint64_t rejected; /* windows dropped after a 4xx answer (422: after its retries) */
	uint64_t dropped;  /* windows dropped because the spool was full */
	uint64_t failures; /* failed attempts, retried (network, 5xx, 408, 401, 403, 422, 429) */

	uint64_t expired;	   /* windows dropped unsent: older than push-max-age */
	uint64_t oversize;	   /* windows refused unsent: over push-max-bytes even split */
	uint64_t rate_limit_drops; /* windows dropped after push-rate-limit-max of 429s */
	uint64_t split;		   /* windows sent in several requests (over a size limit) */
	uint64_t auth_failures;	   /* failed attempts answered 401 or 403 */
	uint64_t unprocessable;	   /* failed attempts answered 422 */
	uint64_t rate_limited;	   /* failed attempts answered 429 */

	uint64_t spool_files, spool_bytes;
	bool backing_off;
};

/*
 * Creates the spool directory from @cfg (spool_dir or OUTPUT_DIR/spool), reads
 * the credentials files and starts the sender thread, which first delivers any
 * windows left in the spool by an earlier run. Prints a clear error on failure.
 */
int agent_pusher__new(const struct agent_config *cfg, struct agent_pusher **out);

/*
 * Queues window @p (taken from @from_s to @until_s, Unix seconds, at @hz) for
 * delivery: encoded as gzip pprof into the spool (temporary file + rename),
 * oldest entries dropped beyond the spool bound. Returns 0 or a negative errno.
 */
int agent_pusher__enqueue(struct agent_pusher *pu, const struct ember_profile *p, uint64_t from_s,
			  uint64_t until_s, uint32_t hz);

/*
 * Waits up to @timeout_s for the spool to empty (used at shutdown), then stops
 * the thread; what is left stays in the spool for the next start. Accepts NULL.
 */
void agent_pusher__free(struct agent_pusher *pu, double timeout_s);

void agent_pusher__stats(struct agent_pusher *pu, struct agent_push_stats *out);

/* ---- self-metrics -------------------------------------------------------- */

struct agent_window_stats {
	uint64_t seq;	   /* window number since start, from 1 */
	double duration_s; /* wall time the window covered */
	uint32_t hz;
	uint64_t samples;			 /* in the profile */
	uint64_t sampler_samples;		 /* counted by the sampler (profile + lost) */
	uint64_t lost;				 /* lost samples: ember_lost_samples() */
	uint64_t stacks;			 /* unique stacks in the profile */
	double drain_ms, symbolize_ms, write_ms; /* time spent in each step */
	uint64_t processes;			 /* process records in the window */
	uint64_t rss_bytes;			 /* agent resident set after the window */
	uint64_t symbolizer_bytes;		 /* what the symbolizer holds after it */
	uint64_t symbolizer_evictions;		 /* files it dropped for the window */
	uint64_t output_bytes;			 /* window files kept after retention */
	struct agent_push_stats push;
	bool have_push;
};

/* Current resident set size of this process in bytes, 0 when unknown. */
uint64_t agent_rss_bytes(void);
/* Its anonymous part (RssAnon: what the process allocated), bytes; 0 when unknown. */
uint64_t agent_anon_bytes(void);

/*
 * Logs one line of @w and, with -v, one per counter of @p (losses by reason,
 * symbolizer counters).
 */
void agent_metrics__log(const struct agent_window_stats *w, const struct ember_profile *p,
			bool verbose);

struct agent_metrics_server;

/*
 * Serves Prometheus text on 127.0.0.1:@port (0: a free port the kernel picks)
 * from its own thread, and logs the address it listens on.
 */
int agent_metrics_server__new(uint16_t port, struct agent_metrics_server **out);
void agent_metrics_server__free(struct agent_metrics_server *m);

/*
 * Publishes the figures of the window just ended plus running totals (kept by
 * the server). Loss counters come from @p's "lost.*" counters, by their kind
 * (ember_counter_kind): lost samples, lost stacks and lost events apart.
 */
int agent_metrics_server__update(struct agent_metrics_server *m, const struct agent_window_stats *w,
				 const struct ember_profile *p);

/* ---- windows: boundaries, queue and worker ------------------------------ */

struct agent_windows;

/*
 * Creates the window engine and its symbolizer (local symbolization, a small
 * open-file budget; the memory budget comes with each window's configuration).
 * @store is borrowed and must outlive the engine. Host and kernel release,
 * labels of every window, are read here. 0 or a negative errno.
 */
int agent_windows__new(struct agent_store *store, struct agent_windows **out);

/*
 * Starts the worker thread that symbolizes, writes (to the store), pushes
 * (@pusher, NULL: none) and reports (@metrics, NULL: none) finished windows;
 * both are borrowed and must outlive the engine. The thread inherits the
 * caller's signal mask. Prints an error and returns a negative errno on failure.
 */
int agent_windows__start_worker(struct agent_windows *win, struct agent_pusher *pusher,
				struct agent_metrics_server *metrics);

/*
 * Starts @c sampling and begins the first window, shortened to a random part
 * of @cfg->window_s when @cfg->jitter (a part under 1 s gets a whole window
 * added); *@first_s gets its length in seconds. Prints an error when the perf
 * events cannot be opened.
 */
int agent_windows__start(struct agent_windows *win, struct ember_collector *c,
			 const struct agent_config *cfg, double *first_s);

/*
 * Call after every collector__poll: drains @c when a drain is due (every half
 * window, at most 5 s apart) and, when the window's end has passed, cuts it
 * there and queues it with @cfg's labels and settings. The next window is
 * shortened by the lateness of the cut, so window starts keep their cadence.
 * 0 or a negative errno (the agent exits).
 */
int agent_windows__tick(struct agent_windows *win, struct ember_collector *c,
			const struct agent_config *cfg);

/*
 * Moves sampling from @old to @next (a reload with a new frequency or unwind
 * mode) at one boundary: @old stops and @next starts back to back, the window
 * in progress ends there with all of @old's samples (at @cfg's frequency, with
 * @cfg's labels), and the next one begins with length @window_s seconds. When
 * @next cannot start, @old samples on, the window goes on and *@switched is
 * false; the caller then frees @next, otherwise @old. 0 or a negative errno
 * (also when @old could not start again).
 */
int agent_windows__switch(struct agent_windows *win, struct ember_collector *old,
			  struct ember_collector *next, const struct agent_config *cfg,
			  double window_s, bool *switched);

/*
 * Ends sampling: stops @c, drains all it has left and queues the partial
 * window. 0 or a negative errno.
 */
int agent_windows__finish(struct agent_windows *win, struct ember_collector *c,
			  const struct agent_config *cfg);

/* Windows finished (queued) since the start. */
uint64_t agent_windows__nr_finished(const struct agent_windows *win);

/*
 * Lets the worker write every queued window, then stops it. Returns 0 or the
 * worker's error (-ENOMEM: windows were not written).
 */
int agent_windows__join(struct agent_windows *win);

/* Joins the worker (see agent_windows__join) and frees everything. Accepts NULL. */
void agent_windows__free(struct agent_windows *win);

#endif /* EMBER_AGENT_H */
