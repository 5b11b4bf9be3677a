// SPDX-License-Identifier: MIT
/*
 * The agent's window engine: where `ember agent` decides window boundaries,
 * and what becomes of a window once it is cut. On the main thread it drains
 * the collector every few seconds and cuts the stream into windows of the
 * configured length, keeping their cadence (agent_windows__tick); it cuts
 * early when a reload moves sampling to a new sampler (agent_windows__switch)
 * and at exit (agent_windows__finish). Each finished window is queued for a
 * worker thread that symbolizes, writes, pushes and reports it.
 *
 * Windows are cut with collector__drain, which moves every sample into exactly
 * one drain, so no sample is lost or counted twice at a boundary; the last
 * window of a sampler ends with collector__finish, which drains what is left.
 *
 * One symbolizer serves the agent's whole life, within its memory budget
 * (symbolizer-memory): it drops the files it used least, and the worker
 * makes it forget each exited process once the window holding the last of
 * its samples is symbolized and written (the collector reports the processes
 * it forgot at each drain).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/utsname.h>

#include "agent.h"
#include "cli.h"
#include "agg/agg.h"
#include "support/support.h"
#include "symbolizer/symbolizer.h"

#define MAX_DRAIN_S 5.0 /* drain the kernel maps at least this often (seconds) */

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
	char *debug_dirs; /* agent_config.debug_dirs when the window closed (malloc'd) */
	uint32_t *exited; /* processes whose last samples this window holds (malloc'd) */
	size_t nr_exited;
	bool verbose;
};

struct agent_windows {
	struct ember_profile *window;		       /* samples of the window in progress */
	uint64_t window_start_mono, window_start_real; /* ns */
	uint64_t window_end_mono;		       /* ns: when the current window closes */
	uint64_t next_drain_mono;		       /* ns */
	double drain_ms;			       /* spent draining the current window */
	uint64_t seq;				       /* windows finished */
	char host[256], kernel[128];
	uint32_t *exited; /* reported by the drains of the window in progress */
	size_t nr_exited, cap_exited;

	/*
	 * The worker thread symbolizes, writes and pushes finished windows, so the
	 * main thread never stops handling process events for that long: a process
	 * whose exec it misses while symbolizing would have no mappings to resolve.
	 * Only the worker touches these, apart from the queue under @lock.
	 */
	struct agent_store *store; /* borrowed */
	struct ember_symbolizer *sym;
	char *sym_debug_dirs;	     /* the debug-dir roots @sym searches (as in agent_config) */
	struct agent_pusher *pusher; /* borrowed; NULL: no push */
	struct agent_metrics_server *metrics; /* borrowed; NULL: none */
	/* symbolizer counters at the previous window: windows carry the difference */
	struct ember_symbolizer_baseline *sym_prev;
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

static int start_collector(struct ember_collector *c)
{
	uint32_t *pids = NULL;
	size_t nr = 0;
	int err = collector__start(c);

	if (err) {
		cli_sampler_error(CLI_SAMPLER_START, err);
		return err;
	}
	/* The first call makes the collector keep the PIDs of processes it forgets. */
	err = collector__take_exited(c, &pids, &nr);
	free(pids);
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
static int begin_window(struct agent_windows *win, struct boundary b, double length_s)
{
	int err = profile__new(&win->window);

	if (err)
		return err;
	win->window_start_mono = b.mono;
	win->window_start_real = b.real;
	win->window_end_mono = b.mono + (uint64_t)(length_s * 1e9);
	win->drain_ms = 0;
	return 0;
}

/* Drains @c into the window in progress; with @last, everything @c has left. */
static int drain(struct agent_windows *win, struct ember_collector *c, bool last)
{
	uint64_t t0 = ember_now_mono_ns();
	int err = last ? collector__finish(c, win->window) : collector__drain(c, win->window);
	uint32_t *pids = NULL;
	size_t nr = 0;

	win->drain_ms += (double)(ember_now_mono_ns() - t0) / 1e6;
	if (err) {
		pr_err("draining samples failed: %s", strerror(-err));
		return err;
	}
	/* Forgotten by the symbolizer once this window is written. */
	err = collector__take_exited(c, &pids, &nr);
	if (!err && nr)
		err = ember_grow((void **)&win->exited, &win->cap_exited, win->nr_exited + nr,
				 sizeof(*win->exited));
	if (!err && nr) {
		memcpy(win->exited + win->nr_exited, pids, nr * sizeof(*pids));
		win->nr_exited += nr;
	}
	free(pids);
	return err;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t count_processes(struct agent_windows *win, const struct ember_profile *p)
{
	size_t n = profile__nr_samples(p), i, k = 0;
	uint64_t distinct = 0;

	if (!n || ember_grow((void **)&win->pids, &win->cap_pids, n, sizeof(*win->pids)))
		return 0;
	for (i = 0; i < n; i++) {
		struct ember_sample s;

		profile__sample(p, i, &s);
		if (s.pid)
			win->pids[k++] = s.pid;
	}
	qsort(win->pids, k, sizeof(*win->pids), cmp_u32);
	for (i = 0; i < k; i++)
		if (i == 0 || win->pids[i] != win->pids[i - 1])
			distinct++;
	return distinct;
}

/*
 * The agent's symbolizer options: a small open-file budget, for descriptors;
 * the memory budget is set from each window's configuration.
 */
static int new_symbolizer(struct agent_windows *win, const char *debug_dirs)
{
	struct ember_symbolizer_opts so = {.sz = sizeof(so), .max_open_files = 16};
	char *copy = debug_dirs ? strdup(debug_dirs) : NULL, *p, *nl;
	const char **dirs = NULL;
	size_t nr = 0, cap = 0;
	int err = debug_dirs && !copy ? -ENOMEM : 0;

	for (p = copy; !err && p && (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		err = ember_grow((void **)&dirs, &cap, nr + 1, sizeof(*dirs)) ? -ENOMEM : 0;
		if (!err)
			dirs[nr++] = p;
	}
	so.debug_dirs = dirs;
	so.nr_debug_dirs = nr;
	if (!err)
		err = symbolizer__new(&so, &win->sym);
	free(dirs);
	if (!err) {
		/* The strings were copied by the symbolizer; keep the list to compare. */
		free(win->sym_debug_dirs);
		win->sym_debug_dirs = debug_dirs ? strdup(debug_dirs) : NULL;
		if (debug_dirs && !win->sym_debug_dirs)
			err = -ENOMEM;
	}
	free(copy);
	return err;
}

/*
 * A reload changed debug-dir: a symbolizer with the new roots takes over (what
 * the old one cached was found through the old roots); the counters it starts
 * from are zero again.
 */
static int follow_debug_dirs(struct agent_windows *win, const char *debug_dirs)
{
	struct ember_symbolizer *old = win->sym;
	int err;

	if (!strcmp(debug_dirs ? debug_dirs : "", win->sym_debug_dirs ? win->sym_debug_dirs : ""))
		return 0;
	err = new_symbolizer(win, debug_dirs);
	if (err) {
		win->sym = old;
		return err;
	}
	symbolizer__free(old);
	symbolizer_baseline__reset(win->sym_prev);
	pr_debug("symbolizer: new debug-dir roots");
	return 0;
}

static void job_free(struct window_job *job)
{
	profile__free(job->p);
	free(job->exited);
	free(job->debug_dirs);
	free(job);
}

/*
 * Worker side of a window: symbolization, file, spool, metrics. A window that
 * cannot be written is logged, not fatal: the agent keeps sampling. Returns
 * -ENOMEM only.
 */
static int process_window(struct agent_windows *win, struct window_job *job)
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
		err = follow_debug_dirs(win, job->debug_dirs);
		if (err)
			return err;
		symbolizer__set_memory_budget(win->sym, job->symbolizer_memory);
		err = profile__symbolize(p, win->sym);
		if (!err)
			err = ember_add_symbolizer_counters(p, win->sym, win->sym_prev);
		if (err)
			return err;
	}
	w.symbolize_ms = (double)(ember_now_mono_ns() - t0) / 1e6;

	t0 = ember_now_mono_ns();
	agent_store__write(win->store, p, job->format, job->retention_bytes, job->retention_age_s,
			   &kept, NULL, 0);
	if (win->pusher)
		agent_pusher__enqueue(
		    win->pusher, p, profile__start_ns(p) / 1000000000ull,
		    (profile__start_ns(p) + profile__duration_ns(p) + 999999999ull) / 1000000000ull,
		    job->hz);
	w.write_ms = (double)(ember_now_mono_ns() - t0) / 1e6;

	w.samples = profile__total(p);
	w.lost = ember_lost_samples(p);
	w.sampler_samples = profile__counter_value(p, "sampler.samples");
	w.stacks = profile__nr_samples(p);
	w.processes = count_processes(win, p);
	/* Their samples are symbolized and written: nothing will ask for them again. */
	for (size_t i = 0; i < job->nr_exited; i++)
		symbolizer__forget_process(win->sym, job->exited[i]);
	w.rss_bytes = agent_rss_bytes();
	w.symbolizer_bytes = symbolizer__bytes(win->sym);
	w.symbolizer_evictions = profile__counter_value(p, "symbolize.evictions");
	w.output_bytes = kept;
	if (win->pusher) {
		agent_pusher__stats(win->pusher, &w.push);
		w.have_push = true;
	}
	agent_metrics__log(&w, p, job->verbose);
	if (win->metrics && agent_metrics_server__update(win->metrics, &w, p))
		return -ENOMEM;
	return 0;
}

static void *worker_main(void *arg)
{
	struct agent_windows *win = arg;

	pthread_mutex_lock(&win->lock);
	for (;;) {
		struct window_job *job = win->head;
		int err;

		if (!job) {
			if (win->worker_stop)
				break;
			pthread_cond_wait(&win->wake, &win->lock);
			continue;
		}
		win->head = job->next;
		if (!win->head)
			win->tail = NULL;
		win->queued--;
		pthread_mutex_unlock(&win->lock);
		err = win->worker_err ? 0 : process_window(win, job);
		job_free(job);
		/*
		 * A window's profile and the symbolizer's transient buffers are freed by
		 * now; give the pages back so RSS measures what the agent keeps, not the
		 * high-water mark of its largest window. Costs well under 1 ms per window.
		 */
		malloc_trim(0);
		pthread_mutex_lock(&win->lock);
		if (err)
			win->worker_err = err;
	}
	pthread_mutex_unlock(&win->lock);
	return NULL;
}

/*
 * Closes the window in progress, drained up to @end, and hands it to the
 * worker. The labels are set here, from the configuration the window was
 * sampled under. Returns 0, or -ENOMEM (also when the worker failed so).
 */
static int finish_window(struct agent_windows *win, struct boundary end,
			 const struct agent_config *cfg)
{
	uint32_t hz = cfg->frequency_hz;
	struct ember_profile *p = win->window;
	struct window_job *job;
	size_t i, queued;
	int err;

	win->seq++;
	profile__set_time(p, win->window_start_real,
			  ember_wall_span_ns(win->window_start_real, end.real,
					     end.mono - win->window_start_mono));
	profile__set_frequency(p, hz);
	err = profile__set_label(p, "host", win->host);
	if (!err)
		err = profile__set_label(p, "kernel_release", win->kernel);
	for (i = 0; !err && i < cfg->nr_labels; i++)
		err = profile__set_label(p, cfg->labels[i].key, cfg->labels[i].value);
	job = err ? NULL : calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->p = p;
	job->seq = win->seq;
	job->hz = hz;
	job->duration_s = (double)(end.mono - win->window_start_mono) / 1e9;
	job->drain_ms = win->drain_ms;
	job->symbolize = cfg->symbolize;
	job->format = cfg->format;
	job->retention_bytes = cfg->retention_bytes;
	job->retention_age_s = cfg->retention_age_s;
	job->symbolizer_memory = cfg->symbolizer_memory;
	job->debug_dirs = cfg->debug_dirs ? strdup(cfg->debug_dirs) : NULL;
	if (cfg->debug_dirs && !job->debug_dirs) {
		free(job);
		return -ENOMEM;
	}
	job->exited = win->exited;
	job->nr_exited = win->nr_exited;
	win->exited = NULL;
	win->nr_exited = win->cap_exited = 0;
	job->verbose = cfg->verbose;
	win->window = NULL;
	pthread_mutex_lock(&win->lock);
	if (win->tail)
		win->tail->next = job;
	else
		win->head = job;
	win->tail = job;
	queued = ++win->queued;
	err = win->worker_err;
	pthread_cond_signal(&win->wake);
	pthread_mutex_unlock(&win->lock);
	if (queued > 2)
		pr_warn("window %llu: %zu windows wait for symbolization and writing",
			(unsigned long long)job->seq, queued);
	return err;
}

static double drain_interval_s(const struct agent_config *cfg)
{
	return cfg->window_s / 2 < MAX_DRAIN_S ? cfg->window_s / 2 : MAX_DRAIN_S;
}

int agent_windows__new(struct agent_store *store, struct agent_windows **out)
{
	struct agent_windows *win = calloc(1, sizeof(*win));
	struct utsname uts;
	int err;

	if (!win)
		return -ENOMEM;
	pthread_mutex_init(&win->lock, NULL);
	pthread_cond_init(&win->wake, NULL);
	win->store = store;
	gethostname(win->host, sizeof(win->host) - 1);
	if (uname(&uts) == 0)
		snprintf(win->kernel, sizeof(win->kernel), "%s", uts.release);
	err = symbolizer_baseline__new(&win->sym_prev);
	if (!err)
		err = new_symbolizer(win, NULL);
	if (err) {
		agent_windows__free(win);
		return err;
	}
	*out = win;
	return 0;
}

int agent_windows__start_worker(struct agent_windows *win, struct agent_pusher *pusher,
				struct agent_metrics_server *metrics)
{
	int err;

	win->pusher = pusher;
	win->metrics = metrics;
	err = -pthread_create(&win->worker, NULL, worker_main, win);
	if (err)
		fprintf(stderr, "ember: cannot start the window thread: %s\n", strerror(-err));
	win->worker_started = !err;
	return err;
}

int agent_windows__join(struct agent_windows *win)
{
	int err;

	if (win->worker_started) {
		/* The worker finishes the queued windows (the partial one too), then exits. */
		pthread_mutex_lock(&win->lock);
		win->worker_stop = true;
		pthread_cond_signal(&win->wake);
		pthread_mutex_unlock(&win->lock);
		pthread_join(win->worker, NULL);
		win->worker_started = false;
	}
	pthread_mutex_lock(&win->lock);
	err = win->worker_err;
	pthread_mutex_unlock(&win->lock);
	return err;
}

void agent_windows__free(struct agent_windows *win)
{
	if (!win)
		return;
	agent_windows__join(win);
	while (win->head) {
		struct window_job *job = win->head;

		win->head = job->next;
		job_free(job);
	}
	pthread_cond_destroy(&win->wake);
	pthread_mutex_destroy(&win->lock);
	symbolizer__free(win->sym);
	free(win->sym_debug_dirs);
	profile__free(win->window);
	symbolizer_baseline__free(win->sym_prev);
	free(win->exited);
	free(win->pids);
	free(win);
}

int agent_windows__start(struct agent_windows *win, struct ember_collector *c,
			 const struct agent_config *cfg, double *first_s)
{
	int err = start_collector(c);

	if (err)
		return err;
	/* Spread the fleet: the first window ends somewhere in the first window length. */
	*first_s = cfg->window_s;
	if (cfg->jitter) {
		*first_s = cfg->window_s * rand_unit();
		if (*first_s < 1)
			*first_s += cfg->window_s;
	}
	err = begin_window(win, now_boundary(), *first_s);
	if (err)
		return err;
	win->next_drain_mono = win->window_start_mono + (uint64_t)(drain_interval_s(cfg) * 1e9);
	return 0;
}

int agent_windows__tick(struct agent_windows *win, struct ember_collector *c,
			const struct agent_config *cfg)
{
	uint64_t now = ember_now_mono_ns();
	int err = 0;

	if (now >= win->window_end_mono) {
		struct boundary cut = now_boundary();
		/* Keep the cadence: a window cut late (poll period, a slow drain)
		 * makes the next one shorter, so window starts do not drift. */
		double late_s = (double)(cut.mono - win->window_end_mono) / 1e9;

		if (late_s > cfg->window_s / 2)
			late_s = 0; /* far behind (suspend?): start a new cadence */
		err = drain(win, c, false);
		if (!err)
			err = finish_window(win, cut, cfg);
		if (!err)
			err = begin_window(win, cut, cfg->window_s - late_s);
	} else if (now >= win->next_drain_mono) {
		err = drain(win, c, false);
	} else {
		return 0;
	}
	win->next_drain_mono = now + (uint64_t)(drain_interval_s(cfg) * 1e9);
	return err;
}

int agent_windows__switch(struct agent_windows *win, struct ember_collector *old,
			  struct ember_collector *next, const struct agent_config *cfg,
			  double window_s, bool *switched)
{
	struct boundary cut = now_boundary();
	int err;

	*switched = false;
	collector__stop(old);
	err = start_collector(next);
	if (err)
		return start_collector(
		    old); /* keep sampling with the old one rather than not at all */
	*switched = true;
	err = drain(win, old, true);
	if (!err)
		err = finish_window(win, cut, cfg);
	if (!err)
		err = begin_window(win, cut, window_s);
	win->next_drain_mono = ember_now_mono_ns();
	return err;
}

int agent_windows__finish(struct agent_windows *win, struct ember_collector *c,
			  const struct agent_config *cfg)
{
	struct boundary end = now_boundary();
	int err;

	/* Sampling ends at the boundary; stopping first keeps its cost out of drain_ms. */
	collector__stop(c);
	err = drain(win, c, true);
	return err ? err : finish_window(win, end, cfg);
}

uint64_t agent_windows__nr_finished(const struct agent_windows *win)
{
	return win->seq;
}
