// SPDX-License-Identifier: MIT
/*
 * The agent's own figures: one log line per window (samples, losses, time spent
 * draining, symbolizing and writing, RSS, spool), and optionally the same as
 * Prometheus text on 127.0.0.1:PORT. The server runs on its own thread so a slow
 * or stuck scraper can never delay sampling; it serves a text rendered by the
 * main thread at the end of each window, swapped in under a lock.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "agg/agg.h"
#include "support/support.h"

#define CLIENT_TIMEOUT_MS 2000 /* a scraper gets this long to send its request */

uint64_t agent_rss_bytes(void)
{
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	return n == 2 && page > 0 ? resident * (uint64_t)page : 0;
}

uint64_t agent_anon_bytes(void)
{
	unsigned long long kb = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

void agent_metrics__log(const struct agent_window_stats *w, const struct ember_profile *p,
			bool verbose)
{
	/* Off-CPU and wall-clock windows count nanoseconds (agent mode). */
	const char *unit = profile__value_type(p) == EMBER_VALUE_SAMPLES ? "samples" : "ns";
	uint64_t seen = w->samples + w->lost;
	size_t i;

	pr_info("window %llu: %.2f s at %u Hz: %llu %s, %llu stacks, %llu processes; "
		"lost %llu (%.2f%%); drain %.1f ms, symbolize %.1f ms, write %.1f ms; "
		"rss %.1f MB; symbolizer %.1f MB; output %.1f MB",
		(unsigned long long)w->seq, w->duration_s, w->hz, (unsigned long long)w->samples,
		unit, (unsigned long long)w->stacks, (unsigned long long)w->processes,
		(unsigned long long)w->lost, seen ? 100.0 * (double)w->lost / (double)seen : 0.0,
		w->drain_ms, w->symbolize_ms, w->write_ms, (double)w->rss_bytes / 1048576.0,
		(double)w->symbolizer_bytes / 1048576.0, (double)w->output_bytes / 1048576.0);
	if (w->have_push)
		pr_info("window %llu: push: sent %llu, rejected %llu, dropped %llu, expired %llu, "
			"oversize %llu, rate-limit drops %llu, split %llu; failed attempts %llu "
			"(auth %llu, 422 %llu, 429 %llu); spool %llu windows, %.2f MB%s",
			(unsigned long long)w->seq, (unsigned long long)w->push.sent,
			(unsigned long long)w->push.rejected, (unsigned long long)w->push.dropped,
			(unsigned long long)w->push.expired, (unsigned long long)w->push.oversize,
			(unsigned long long)w->push.rate_limit_drops,
			(unsigned long long)w->push.split, (unsigned long long)w->push.failures,
			(unsigned long long)w->push.auth_failures,
			(unsigned long long)w->push.unprocessable,
			(unsigned long long)w->push.rate_limited,
			(unsigned long long)w->push.spool_files,
			(double)w->push.spool_bytes / 1048576.0,
			w->push.backing_off ? "; backing off" : "");
	for (i = 0; i < profile__nr_counters(p); i++) {
		const char *name;
		uint64_t v;

		profile__counter(p, i, &name, &v);
		/* Losses are always worth a line; the rest only with -v. */
		if (ember_counter_kind(name) != EMBER_COUNTER_OTHER ? !v && !verbose : !verbose)
			continue;
		pr_info("window %llu:   %s: %llu", (unsigned long long)w->seq, name,
			(unsigned long long)v);
	}
}

struct agent_metrics_server {
	int listen_fd, stop_fd;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	char *text; /* current exposition, owned; NULL before the first window */
	size_t len;
	/* running totals since start */
	uint64_t windows, samples, lost, sampler_samples, symbolizer_evictions;
	double drain_s, symbolize_s, write_s;
	struct {
		char *name; /* without "lost." */
		enum ember_counter_kind kind;
		uint64_t value;
	} * losses; /* per-reason totals of "lost.*" */
	size_t nr_losses, cap_losses;
};

static void serve_one(struct agent_metrics_server *m, int fd)
{
	static const char empty[] = "# no window completed yet\n";
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char req[1024], *body = NULL, head[256];
	size_t len = 0, got = 0;
	int hl;

	/* Read the request line; anything that is not "GET /metrics" gets a 404. */
	while (got < sizeof(req) - 1 && poll(&pfd, 1, CLIENT_TIMEOUT_MS) == 1) {
		ssize_t n = read(fd, req + got, sizeof(req) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = '\0';
	if (strncmp(req, "GET /metrics ", 13) != 0 && strncmp(req, "GET / ", 6) != 0) {
		static const char nf[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n"
					 "Connection: close\r\n\r\n";

		if (write(fd, nf, sizeof(nf) - 1) < 0)
			return;
		return;
	}
	pthread_mutex_lock(&m->lock);
	if (m->text) {
		body = malloc(m->len);
		if (body) {
			memcpy(body, m->text, m->len);
			len = m->len;
		}
	}
	pthread_mutex_unlock(&m->lock);
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
		      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		      body ? len : sizeof(empty) - 1);
	if (write(fd, head, (size_t)hl) == hl) {
		const char *p = body ? body : empty;
		size_t left = body ? len : sizeof(empty) - 1;

		while (left) {
			ssize_t n = write(fd, p, left);

			if (n <= 0)
				break;
			p += n;
			left -= (size_t)n;
		}
	}
	free(body);
}

static void *server_main(void *arg)
{
	struct agent_metrics_server *m = arg;

	for (;;) {
		struct pollfd pfd[2] = {{.fd = m->listen_fd, .events = POLLIN},
					{.fd = m->stop_fd, .events = POLLIN}};
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(m, fd);
		close(fd);
	}
	return NULL;
}

int agent_metrics_server__new(uint16_t port, struct agent_metrics_server **out)
{
	struct agent_metrics_server *m = calloc(1, sizeof(*m));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	socklen_t len;
	int one = 1, err;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->stop_fd = -1;
	/* Loopback only: the figures are for a local scraper, not the network. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	m->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0) {
		err = -errno;
		goto fail;
	}
	setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->listen_fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(m->listen_fd, 8)) {
		err = -errno;
		fprintf(stderr, "ember: cannot listen on 127.0.0.1:%u for metrics: %s\n", port,
			strerror(-err));
		goto fail;
	}
	len = sizeof(sin);
	if (getsockname(m->listen_fd, (struct sockaddr *)&sin, &len)) {
		err = -errno;
		goto fail;
	}
	/* The bound port: with port 0 nobody else knows it (tests read this line). */
	pr_info("agent: metrics on http://127.0.0.1:%u/metrics", ntohs(sin.sin_port));
	m->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (m->stop_fd < 0) {
		err = -errno;
		goto fail;
	}
	err = -pthread_create(&m->thread, NULL, server_main, m);
	if (err)
		goto fail;
	m->started = true;
	*out = m;
	return 0;
fail:
	agent_metrics_server__free(m);
	return err;
}

void agent_metrics_server__free(struct agent_metrics_server *m)
{
	size_t i;

	if (!m)
		return;
	if (m->started) {
		uint64_t one = 1;

		if (write(m->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(m->thread, NULL);
		else
			pthread_cancel(m->thread);
	}
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	pthread_mutex_destroy(&m->lock);
	for (i = 0; i < m->nr_losses; i++)
		free(m->losses[i].name);
	free(m->losses);
	free(m->text);
	free(m);
}

static int add_loss(struct agent_metrics_server *m, const char *name, enum ember_counter_kind kind,
		    uint64_t v)
{
	size_t i;

	for (i = 0; i < m->nr_losses; i++) {
		if (strcmp(m->losses[i].name, name) == 0) {
			m->losses[i].value += v;
			return 0;
		}
	}
	if (ember_grow((void **)&m->losses, &m->cap_losses, m->nr_losses + 1, sizeof(*m->losses)))
		return -ENOMEM;
	m->losses[m->nr_losses].name = strdup(name);
	if (!m->losses[m->nr_losses].name)
		return -ENOMEM;
	m->losses[m->nr_losses].kind = kind;
	m->losses[m->nr_losses++].value = v;
	return 0;
}

/* One Prometheus family per kind of loss: only lost samples are samples. */
static const struct loss_family {
	enum ember_counter_kind kind;
	const char *metric, *help;
} loss_families[] = {
    {EMBER_COUNTER_LOST_SAMPLES, "ember_agent_lost_samples_total",
     "Samples taken but in no window, by reason."},
    {EMBER_COUNTER_LOST_STACKS, "ember_agent_lost_stacks_total",
     "Stacks lost from samples that are in the windows (under a marker frame), by reason."},
    {EMBER_COUNTER_LOST_EVENTS, "ember_agent_lost_events_total",
     "Process events and side-band records lost (not samples), by reason."},
};

static void print_losses(FILE *f, const struct agent_metrics_server *m,
			 const struct loss_family *fam)
{
	size_t i;

	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", fam->metric, fam->help, fam->metric);
	for (i = 0; i < m->nr_losses; i++)
		if (m->losses[i].kind == fam->kind)
			fprintf(f, "%s{reason=\"%s\"} %llu\n", fam->metric, m->losses[i].name,
				(unsigned long long)m->losses[i].value);
}

int agent_metrics_server__update(struct agent_metrics_server *m, const struct agent_window_stats *w,
				 const struct ember_profile *p)
{
	char *buf = NULL, *old;
	enum ember_counter_kind kind;
	size_t len = 0, i;
	FILE *f;

	m->windows++;
	m->samples += w->samples;
	m->lost += w->lost;
	m->sampler_samples += w->sampler_samples;
	m->drain_s += w->drain_ms / 1e3;
	m->symbolize_s += w->symbolize_ms / 1e3;
	m->write_s += w->write_ms / 1e3;
	m->symbolizer_evictions += w->symbolizer_evictions;
	for (i = 0; i < profile__nr_counters(p); i++) {
		const char *name;
		uint64_t v;

		profile__counter(p, i, &name, &v);
		kind = ember_counter_kind(name);
		if (kind != EMBER_COUNTER_OTHER && /* every loss is "lost.*" */
		    add_loss(m, name + 5, kind, v))
			return -ENOMEM;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f,
		"# HELP ember_agent_windows_total Windows written since start.\n"
		"# TYPE ember_agent_windows_total counter\n"
		"ember_agent_windows_total %llu\n",
		(unsigned long long)m->windows);
	fprintf(f,
		"# HELP ember_agent_samples_total Samples in written windows.\n"
		"# TYPE ember_agent_samples_total counter\n"
		"ember_agent_samples_total %llu\n",
		(unsigned long long)m->samples);
	for (i = 0; i < sizeof(loss_families) / sizeof(loss_families[0]); i++)
		print_losses(f, m, &loss_families[i]);
	fprintf(f,
		"# HELP ember_agent_step_seconds_total Time spent per step of the window.\n"
		"# TYPE ember_agent_step_seconds_total counter\n"
		"ember_agent_step_seconds_total{step=\"drain\"} %.6f\n"
		"ember_agent_step_seconds_total{step=\"symbolize\"} %.6f\n"
		"ember_agent_step_seconds_total{step=\"write\"} %.6f\n",
		m->drain_s, m->symbolize_s, m->write_s);
	fprintf(f,
		"# HELP ember_agent_frequency_hertz Sampling frequency per CPU.\n"
		"# TYPE ember_agent_frequency_hertz gauge\n"
		"ember_agent_frequency_hertz %u\n"
		"# HELP ember_agent_resident_bytes Resident set size of the agent.\n"
		"# TYPE ember_agent_resident_bytes gauge\n"
		"ember_agent_resident_bytes %llu\n"
		"# HELP ember_agent_output_bytes Bytes of window files kept.\n"
		"# TYPE ember_agent_output_bytes gauge\n"
		"ember_agent_output_bytes %llu\n"
		"# HELP ember_agent_last_window_samples Samples in the last window.\n"
		"# TYPE ember_agent_last_window_samples gauge\n"
		"ember_agent_last_window_samples %llu\n",
		w->hz, (unsigned long long)w->rss_bytes, (unsigned long long)w->output_bytes,
		(unsigned long long)w->samples);
	fprintf(f,
		"# HELP ember_agent_symbolizer_bytes Bytes the symbolizer holds (budget: "
		"symbolizer-memory).\n"
		"# TYPE ember_agent_symbolizer_bytes gauge\n"
		"ember_agent_symbolizer_bytes %llu\n"
		"# HELP ember_agent_symbolizer_evictions_total Files the symbolizer dropped to "
		"keep within its budget.\n"
		"# TYPE ember_agent_symbolizer_evictions_total counter\n"
		"ember_agent_symbolizer_evictions_total %llu\n",
		(unsigned long long)w->symbolizer_bytes,
		(unsigned long long)m->symbolizer_evictions);
	if (w->have_push) {
		const struct agent_push_stats *ps = &w->push;

		fprintf(
		    f,
		    "# HELP ember_agent_push_windows_total Windows (requests, for sent) by push "
		    "outcome.\n"
		    "# TYPE ember_agent_push_windows_total counter\n"
		    "ember_agent_push_windows_total{outcome=\"sent\"} %llu\n"
		    "ember_agent_push_windows_total{outcome=\"rejected\"} %llu\n"
		    "ember_agent_push_windows_total{outcome=\"dropped\"} %llu\n"
		    "ember_agent_push_windows_total{outcome=\"expired\"} %llu\n"
		    "ember_agent_push_windows_total{outcome=\"oversize\"} %llu\n"
		    "ember_agent_push_windows_total{outcome=\"rate_limited\"} %llu\n"
		    "# HELP ember_agent_push_split_windows_total Windows sent in several requests.\n"
		    "# TYPE ember_agent_push_split_windows_total counter\n"
		    "ember_agent_push_split_windows_total %llu\n"
		    "# HELP ember_agent_push_failures_total Failed push attempts (retried).\n"
		    "# TYPE ember_agent_push_failures_total counter\n"
		    "ember_agent_push_failures_total %llu\n"
		    "# HELP ember_agent_push_failed_attempts_total Failed push attempts by answer.\n"
		    "# TYPE ember_agent_push_failed_attempts_total counter\n"
		    "ember_agent_push_failed_attempts_total{reason=\"auth\"} %llu\n"
		    "ember_agent_push_failed_attempts_total{reason=\"unprocessable\"} %llu\n"
		    "ember_agent_push_failed_attempts_total{reason=\"rate_limited\"} %llu\n"
		    "ember_agent_push_failed_attempts_total{reason=\"other\"} %llu\n"
		    "# HELP ember_agent_spool_windows Windows waiting in the spool.\n"
		    "# TYPE ember_agent_spool_windows gauge\n"
		    "ember_agent_spool_windows %llu\n"
		    "# HELP ember_agent_spool_bytes Bytes waiting in the spool.\n"
		    "# TYPE ember_agent_spool_bytes gauge\n"
		    "ember_agent_spool_bytes %llu\n",
		    (unsigned long long)ps->sent, (unsigned long long)ps->rejected,
		    (unsigned long long)ps->dropped, (unsigned long long)ps->expired,
		    (unsigned long long)ps->oversize, (unsigned long long)ps->rate_limit_drops,
		    (unsigned long long)ps->split, (unsigned long long)ps->failures,
		    (unsigned long long)ps->auth_failures, (unsigned long long)ps->unprocessable,
		    (unsigned long long)ps->rate_limited,
		    (unsigned long long)(ps->failures - ps->auth_failures - ps->unprocessable -
					 ps->rate_limited),
		    (unsigned long long)ps->spool_files, (unsigned long long)ps->spool_bytes);
	}
	if (fclose(f) || !buf) {
		free(buf);
		return -ENOMEM;
	}
	pthread_mutex_lock(&m->lock);
	old = m->text;
	m->text = buf;
	m->len = len;
	pthread_mutex_unlock(&m->lock);
	free(old);
	return 0;
}
