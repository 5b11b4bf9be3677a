// SPDX-License-Identifier: MIT
/*
 * Push of window profiles to a Pyroscope-compatible ingest endpoint
 * (POST /ingest?name=APP{labels}&from=&until=&format=pprof&sampleRate=HZ).
 *
 * Every window first goes to an on-disk spool (one gzip pprof file per request,
 * named by a sequence number, written through a temporary file and rename);
 * one sender thread always sends the oldest spooled file and removes it only
 * once the server answered 2xx. So windows arrive in order, an outage or a
 * restart of the agent loses nothing that fits the spool bound and
 * push-max-age, and a window is sent again only when an answer was lost in
 * transit (the server cannot be told apart from one that never got it).
 *
 * What a Pyroscope server does with a request decides the rest (its ingest
 * handler, validation and limits): the service name is everything before '{'
 * of "name", so it is sent as configured, without a ".cpu" suffix; a window
 * over its per-profile limits (uncompressed size, samples) is split here by
 * samples into several requests, or refused when even one part is too large;
 * a window older than its reject-older-than would be refused, so it is dropped
 * (push-max-age) instead of sent. Answers: network errors, 5xx and 408 back
 * off exponentially; 401 and 403 too (usually a credential being rotated);
 * 422 also comes for backend failures of a good body, so it is retried a few
 * times before the window is dropped; 429 backs off until the window has been
 * limited for push-rate-limit-max, then it is dropped so it cannot block the
 * spool; other 4xx answers mean the server will never take that body. Every
 * drop and retry is counted by kind and logged.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "profile/profile.h"
#include "output/output.h"
#include "support/support.h"

#define SPOOL_SUFFIX ".pb.gz"
#define MAX_BODY     (256u << 20) /* bytes; a spool file larger than this is corrupt */
#define TRIES_422    4		  /* attempts of one request answered 422 before it is dropped */
/* Sample labels a push may leave out (every enum ember_pprof_label bit). */
#define ALL_SAMPLE_LABELS                                                                    \
	(EMBER_PPROF_LABEL_PID | EMBER_PPROF_LABEL_TID | EMBER_PPROF_LABEL_THREAD_NAME |     \
	 EMBER_PPROF_LABEL_PROCESS_NAME | EMBER_PPROF_LABEL_EXE | EMBER_PPROF_LABEL_CGROUP | \
	 EMBER_PPROF_LABEL_CONTAINER_ID)
/* Halvings of the part size tried for a window over push-max-bytes before it is refused. */
#define MAX_SPLIT_ROUNDS 6

struct spool_entry {
	uint64_t seq, from_s, until_s;
	uint32_t hz;
	uint64_t bytes;
	char name[96];
};

struct agent_pusher {
	char *dir;
	char *ingest_url;	       /* ".../ingest" */
	char *name_prefix;	       /* "APP{host=...,k=v" without the closing brace */
	char *auth_header;	       /* "Authorization: Bearer ..." or NULL */
	char *tenant_header;	       /* "X-Scope-OrgID: ..." or NULL */
	char *userpwd;		       /* "user:password" or NULL */
	char *token_file, *basic_file; /* where they come from, read again after 401/403 */
	char *ca_file;
	uint64_t spool_bytes;
	double timeout_s, backoff_min_s, backoff_max_s;
	double max_age_s, rate_limit_max_s; /* push-max-age (0: none), push-rate-limit-max */
	uint64_t max_bytes;		    /* uncompressed bytes per request */
	uint32_t max_samples;		    /* pprof samples per request */
	struct ember_pprof_opts pprof;	    /* labels left out of pushed profiles */

	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* new window, or stop */
	pthread_cond_t idle; /* the spool became empty */
	bool stop;
	uint64_t next_seq;
	uint64_t in_flight; /* seq being sent, 0 for none: never dropped underneath the sender */
	struct agent_push_stats stats;
};

/* Parses "SEQ-FROM-UNTIL-HZ.pb.gz". */
static bool parse_entry(const char *name, struct spool_entry *e)
{
	unsigned long long seq, from, until;
	unsigned int hz;
	int end = 0;

	if (sscanf(name, "%llu-%llu-%llu-%u%n", &seq, &from, &until, &hz, &end) != 4 ||
	    strcmp(name + end, SPOOL_SUFFIX) != 0 || strlen(name) >= sizeof(e->name))
		return false;
	e->seq = seq;
	e->from_s = from;
	e->until_s = until;
	e->hz = hz;
	snprintf(e->name, sizeof(e->name), "%s", name);
	return true;
}

/*
 * Lists the spool: the oldest entry into *@oldest (when @oldest is not NULL and
 * there is one), count and bytes into the stats, highest seq into *@max_seq.
 * Removes stale temporary files when @clean_tmp. Call with the lock held.
 */
static int scan_spool(struct agent_pusher *pu, struct spool_entry *oldest, bool *have_oldest,
		      uint64_t *max_seq, bool clean_tmp)
{
	uint64_t files = 0, bytes = 0, top = 0;
	struct dirent *de;
	DIR *d = opendir(pu->dir);

	if (have_oldest)
		*have_oldest = false;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct spool_entry e;
		struct stat st;
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", pu->dir, de->d_name);
		if (clean_tmp && strncmp(de->d_name, ".tmp-", 5) == 0) {
			unlink(path);
			continue;
		}
		if (!parse_entry(de->d_name, &e) || stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		e.bytes = (uint64_t)st.st_size;
		files++;
		bytes += e.bytes;
		if (e.seq > top)
			top = e.seq;
		if (oldest && (!*have_oldest || e.seq < oldest->seq)) {
			*oldest = e;
			*have_oldest = true;
		}
	}
	closedir(d);
	pu->stats.spool_files = files;
	pu->stats.spool_bytes = bytes;
	if (max_seq)
		*max_seq = top;
	return 0;
}

static char *read_secret(const char *path, const char *what)
{
	char *line = NULL, *s, *end;
	size_t cap = 0;
	struct stat st;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(stderr, "ember: cannot read %s %s: %s\n", what, path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0004))
		pr_warn("%s %s is readable by every user; chmod o-r it", what, path);
	if (getline(&line, &cap, f) < 0) {
		fprintf(stderr, "ember: %s %s is empty\n", what, path);
		free(line);
		fclose(f);
		return NULL;
	}
	fclose(f);
	for (s = line; isspace((unsigned char)*s); s++)
		;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (!*s) {
		fprintf(stderr, "ember: %s %s is empty\n", what, path);
		free(line);
		return NULL;
	}
	memmove(line, s, strlen(s) + 1);
	return line;
}

static int make_dir(const char *dir)
{
	char *copy = strdup(dir), *p;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0750) && errno != EEXIST) {
			err = -errno;
			break;
		}
		*p = '/';
	}
	if (!err && mkdir(copy, 0700) && errno != EEXIST)
		err = -errno;
	free(copy);
	return err;
}

static int build_names(struct agent_pusher *pu, const struct agent_config *cfg)
{
	char host[256] = "unknown", *buf = NULL;
	size_t len = 0, i, ulen;
	FILE *m;

	gethostname(host, sizeof(host) - 1);
	ulen = strlen(cfg->push_url);
	while (ulen && cfg->push_url[ulen - 1] == '/')
		ulen--;
	if (ulen >= 7 && strncmp(cfg->push_url + ulen - 7, "/ingest", 7) == 0) {
		if (asprintf(&pu->ingest_url, "%.*s", (int)ulen, cfg->push_url) < 0)
			return -ENOMEM;
	} else if (asprintf(&pu->ingest_url, "%.*s/ingest", (int)ulen, cfg->push_url) < 0) {
		return -ENOMEM;
	}
	m = open_memstream(&buf, &len);
	if (!m)
		return -ENOMEM;
	/*
	 * Pyroscope's series key: APP{label=value,...}. The server files everything before
	 * '{' as service_name (an older one took a ".cpu" suffix as the profile type: cpu
	 * is also its default). Values were checked for , { } = at config load.
	 */
	fprintf(m, "%s{host=%s", cfg->push_app, host);
	for (i = 0; i < cfg->nr_labels; i++)
		fprintf(m, ",%s=%s", cfg->labels[i].key, cfg->labels[i].value);
	if (fclose(m) || !buf) {
		free(buf);
		return -ENOMEM;
	}
	pu->name_prefix = buf;
	return 0;
}

/* Aborts a transfer in progress when the agent stops (after its drain timeout). */
static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct agent_pusher *pu = arg;
	bool stop;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	pthread_mutex_lock(&pu->lock);
	stop = pu->stop;
	pthread_mutex_unlock(&pu->lock);
	return stop ? 1 : 0;
}

/* Keeps up to @cap bytes of the answer for the log. */
struct answer {
	char text[256];
	size_t len;
};

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	size_t n = size * nmemb, room = sizeof(a->text) - 1 - a->len;

	memcpy(a->text + a->len, data, n < room ? n : room);
	a->len += n < room ? n : room;
	a->text[a->len] = '\0';
	return n;
}

static int read_body(const char *path, char **body, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_size <= 0 || (uint64_t)st.st_size > MAX_BODY) {
		err = -EINVAL;
		goto out;
	}
	*body = malloc((size_t)st.st_size);
	if (!*body) {
		err = -ENOMEM;
		goto out;
	}
	n = read(fd, *body, (size_t)st.st_size);
	if (n != st.st_size) {
		free(*body);
		*body = NULL;
		err = n < 0 ? -errno : -EIO;
		goto out;
	}
	*len = (size_t)n;
out:
	close(fd);
	return err;
}

/*
 * Sends one spool entry. Returns the HTTP status, or 0 when there was no
 * answer (connection refused, timeout), or a negative errno for a local error.
 */
static long send_entry(struct agent_pusher *pu, CURL *curl, const struct spool_entry *e,
		       struct answer *ans, char *errbuf)
{
	struct curl_slist *headers = NULL;
	char *body = NULL, *url = NULL, *name = NULL, *ename = NULL, path[4096];
	size_t len = 0;
	long status = 0;
	CURLcode rc;
	int err;

	snprintf(path, sizeof(path), "%s/%s", pu->dir, e->name);
	err = read_body(path, &body, &len);
	if (err)
		return err;
	if (asprintf(&name, "%s}", pu->name_prefix) < 0) {
		status = -ENOMEM;
		goto out;
	}
	ename = curl_easy_escape(curl, name, 0);
	if (!ename || asprintf(&url,
			       "%s?name=%s&from=%llu&until=%llu&format=pprof&sampleRate=%u"
			       "&spyName=ember",
			       pu->ingest_url, ename, (unsigned long long)e->from_s,
			       (unsigned long long)e->until_s, e->hz) < 0) {
		url = NULL;
		status = -ENOMEM;
		goto out;
	}
	headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
	/* No "Expect: 100-continue" round trip: bodies are small and sent whole. */
	headers = curl_slist_append(headers, "Expect:");
	if (pu->auth_header)
		headers = curl_slist_append(headers, pu->auth_header);
	if (pu->tenant_header)
		headers = curl_slist_append(headers, pu->tenant_header);
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "ember-agent/" EMBER_VERSION);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(pu->timeout_s * 1000));
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(pu->timeout_s < 10 ? pu->timeout_s * 1000 : 10000));
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, pu);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, ans);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	/* Redirects could turn the POST into a GET and lose the body: treat them as errors. */
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (pu->userpwd) {
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(curl, CURLOPT_USERPWD, pu->userpwd);
	}
	if (pu->ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, pu->ca_file);
	errbuf[0] = '\0';
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	else if (!errbuf[0])
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
out:
	curl_slist_free_all(headers);
	curl_free(ename);
	free(name);
	free(url);
	free(body);
	return status;
}

static void deadline_after(struct timespec *ts, double seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)seconds;
	ts->tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Removes spool entry @e (call with the lock held). */
static void remove_entry(struct agent_pusher *pu, const struct spool_entry *e)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", pu->dir, e->name);
	unlink(path);
}

/*
 * After a 401 or 403: a credential is usually being rotated, so its file is read
 * again and a new one applies from the next attempt. A file that cannot be read
 * (logged) keeps the credentials in use. Sender thread only: it alone uses them.
 */
static void reread_credentials(struct agent_pusher *pu)
{
	char *secret, *header = NULL;

	if (pu->token_file && (secret = read_secret(pu->token_file, "push token file"))) {
		if (asprintf(&header, "Authorization: Bearer %s", secret) >= 0) {
			if (!pu->auth_header || strcmp(header, pu->auth_header) != 0)
				pr_info("push: %s changed; the next attempt sends the new token",
					pu->token_file);
			free(pu->auth_header);
			pu->auth_header = header;
		}
		free(secret);
	}
	if (pu->basic_file && (secret = read_secret(pu->basic_file, "push credentials file"))) {
		if (!strchr(secret, ':')) {
			free(secret);
			return;
		}
		if (!pu->userpwd || strcmp(secret, pu->userpwd) != 0)
			pr_info("push: %s changed; the next attempt sends the new credentials",
				pu->basic_file);
		free(pu->userpwd);
		pu->userpwd = secret;
	}
}

/* How the sender treats an answer (or its absence). */
enum verdict {
	V_SENT,		 /* 2xx */
	V_DROP,		 /* the server will never take this body */
	V_RETRY,	 /* network, 5xx, 408: back off and send it again */
	V_RETRY_AUTH,	 /* 401, 403: back off; a credential is likely being rotated */
	V_RETRY_422,	 /* 422: back off, at most TRIES_422 attempts */
	V_RETRY_LIMITED, /* 429: back off, at most push-rate-limit-max for one window */
};

static enum verdict judge(long status)
{
	if (status >= 200 && status < 300)
		return V_SENT;
	if (status == -EINVAL || status == -ENOENT)
		return V_DROP; /* an unreadable spool file */
	if (status == 401 || status == 403)
		return V_RETRY_AUTH;
	if (status == 422)
		return V_RETRY_422;
	if (status == 429)
		return V_RETRY_LIMITED;
	if (status >= 400 && status < 500 && status != 408)
		return V_DROP;
	return V_RETRY;
}

static void *sender_main(void *arg)
{
	struct agent_pusher *pu = arg;
	char errbuf[CURL_ERROR_SIZE];
	double backoff = 0; /* seconds; 0 while the server answers */
	struct timespec retry_at = {0};
	/* The entry being retried, its 422 answers and when its first 429 came (s, monotonic). */
	uint64_t cur_seq = 0, cur_422 = 0;
	double cur_429_since = -1;
	CURL *curl = curl_easy_init();

	if (!curl) {
		pr_err("push: cannot initialise libcurl; windows stay in the spool");
		return NULL;
	}
	pthread_mutex_lock(&pu->lock);
	while (!pu->stop) {
		struct spool_entry e;
		struct answer ans = {{0}, 0};
		struct timespec now;
		enum verdict v;
		bool have;
		long status;
		double mono;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (backoff > 0 &&
		    (now.tv_sec < retry_at.tv_sec ||
		     (now.tv_sec == retry_at.tv_sec && now.tv_nsec < retry_at.tv_nsec))) {
			pthread_cond_timedwait(&pu->wake, &pu->lock, &retry_at);
			continue;
		}
		if (scan_spool(pu, &e, &have, NULL, false) || !have) {
			pthread_cond_broadcast(&pu->idle);
			pthread_cond_wait(&pu->wake, &pu->lock);
			continue;
		}
		/*
		 * The server would refuse it: its reject-older-than applies to the profile's
		 * time, the window's start. Drop it unsent.
		 */
		if (pu->max_age_s > 0 && (double)time(NULL) - (double)e.from_s > pu->max_age_s) {
			remove_entry(pu, &e);
			pu->stats.expired++;
			pr_warn(
			    "push: window %llu (%llu-%llu) started longer ago than push-max-age "
			    "(%gs); dropped unsent",
			    (unsigned long long)e.seq, (unsigned long long)e.from_s,
			    (unsigned long long)e.until_s, pu->max_age_s);
			continue;
		}
		if (e.seq != cur_seq) {
			cur_seq = e.seq;
			cur_422 = 0;
			cur_429_since = -1;
		}
		pu->in_flight = e.seq;
		pthread_mutex_unlock(&pu->lock);

		status = send_entry(pu, curl, &e, &ans, errbuf);

		pthread_mutex_lock(&pu->lock);
		pu->in_flight = 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		mono = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
		v = judge(status);
		if (v == V_RETRY_422 && ++cur_422 >= TRIES_422) {
			pu->stats.unprocessable++;
			pu->stats.failures++;
			v = V_DROP;
		}
		if (v == V_RETRY_LIMITED && cur_429_since >= 0 &&
		    mono - cur_429_since >= pu->rate_limit_max_s) {
			remove_entry(pu, &e);
			pu->stats.rate_limited++;
			pu->stats.failures++;
			pu->stats.rate_limit_drops++;
			pr_err(
			    "push: %s answered 429 to window %llu for %.0f s (push-rate-limit-max); "
			    "dropped (%s)",
			    pu->ingest_url, (unsigned long long)e.seq, mono - cur_429_since,
			    ans.text);
			continue;
		}
		if (v == V_SENT) {
			remove_entry(pu, &e);
			pu->stats.sent++;
			if (backoff > 0)
				pr_info("push: %s answers again; sending the spool in order",
					pu->ingest_url);
			backoff = 0;
			pu->stats.backing_off = false;
			pr_debug("push: window %llu sent (%llu bytes, HTTP %ld)",
				 (unsigned long long)e.seq, (unsigned long long)e.bytes, status);
			continue;
		}
		if (v == V_DROP) {
			remove_entry(pu, &e);
			pu->stats.rejected++;
			if (status > 0)
				pr_err("push: %s rejected window %llu with HTTP %ld (%s); dropped, "
				       "not retried%s",
				       pu->ingest_url, (unsigned long long)e.seq, status, ans.text,
				       status == 422 ? " again" : "");
			else
				pr_err("push: spooled window %s is unreadable (%s); dropped",
				       e.name, strerror((int)-status));
			continue;
		}
		if (pu->stop)
			break;
		pu->stats.failures++;
		if (v == V_RETRY_AUTH) {
			pu->stats.auth_failures++;
			reread_credentials(pu);
		} else if (v == V_RETRY_422)
			pu->stats.unprocessable++;
		else if (v == V_RETRY_LIMITED) {
			pu->stats.rate_limited++;
			if (cur_429_since < 0)
				cur_429_since = mono;
		}
		backoff = backoff > 0 ? backoff * 2 : pu->backoff_min_s;
		if (backoff > pu->backoff_max_s)
			backoff = pu->backoff_max_s;
		pu->stats.backing_off = true;
		if (v == V_RETRY_AUTH)
			pr_warn("push: %s refused the credentials (HTTP %ld) for window %llu; "
				"retrying in %.1f s",
				pu->ingest_url, status, (unsigned long long)e.seq, backoff);
		else if (v == V_RETRY_422)
			pr_warn(
			    "push: %s answered HTTP 422 for window %llu (%s; attempt %llu of %d); "
			    "retrying in %.1f s",
			    pu->ingest_url, (unsigned long long)e.seq, ans.text,
			    (unsigned long long)cur_422, TRIES_422, backoff);
		else if (status > 0)
			pr_warn("push: %s answered HTTP %ld for window %llu; retrying in %.1f s",
				pu->ingest_url, status, (unsigned long long)e.seq, backoff);
		else if (status == 0)
			pr_warn("push: %s: %s; window %llu stays spooled, retrying in %.1f s",
				pu->ingest_url, errbuf, (unsigned long long)e.seq, backoff);
		else
			pr_warn("push: window %llu: %s; retrying in %.1f s",
				(unsigned long long)e.seq, strerror((int)-status), backoff);
		deadline_after(&retry_at, backoff);
	}
	pthread_mutex_unlock(&pu->lock);
	curl_easy_cleanup(curl);
	return NULL;
}

int agent_pusher__new(const struct agent_config *cfg, struct agent_pusher **out)
{
	struct agent_pusher *pu = calloc(1, sizeof(*pu));
	pthread_condattr_t ca;
	uint64_t max_seq = 0;
	int err;

	if (!pu)
		return -ENOMEM;
	pthread_mutex_init(&pu->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pu->wake, &ca);
	pthread_cond_init(&pu->idle, &ca);
	pthread_condattr_destroy(&ca);
	pu->spool_bytes = cfg->spool_bytes;
	pu->timeout_s = cfg->push_timeout_s;
	pu->backoff_min_s = cfg->push_backoff_min_s;
	pu->backoff_max_s = cfg->push_backoff_max_s;
	pu->max_age_s = cfg->push_max_age_s;
	pu->rate_limit_max_s = cfg->push_rl_max_s;
	pu->max_bytes = cfg->push_max_bytes;
	pu->max_samples = cfg->push_max_samples;
	pu->pprof.sz = sizeof(pu->pprof);
	pu->pprof.omit_labels = ALL_SAMPLE_LABELS & ~cfg->push_labels;
	/* Chosen pid and tid must be strings: Pyroscope makes series of string labels only. */
	pu->pprof.pid_as_string =
	    cfg->push_labels & (EMBER_PPROF_LABEL_PID | EMBER_PPROF_LABEL_TID);
	if (cfg->spool_dir)
		pu->dir = strdup(cfg->spool_dir);
	else if (asprintf(&pu->dir, "%s/spool", cfg->output_dir) < 0)
		pu->dir = NULL;
	err = -ENOMEM;
	if (!pu->dir || build_names(pu, cfg))
		goto fail;
	if (cfg->push_ca_file && !(pu->ca_file = strdup(cfg->push_ca_file)))
		goto fail;
	if (cfg->push_tenant &&
	    asprintf(&pu->tenant_header, "X-Scope-OrgID: %s", cfg->push_tenant) < 0) {
		pu->tenant_header = NULL;
		goto fail;
	}
	err = -EINVAL;
	if ((cfg->push_token_file && !(pu->token_file = strdup(cfg->push_token_file))) ||
	    (cfg->push_basic_auth_file && !(pu->basic_file = strdup(cfg->push_basic_auth_file)))) {
		err = -ENOMEM;
		goto fail;
	}
	if (cfg->push_token_file) {
		char *token = read_secret(cfg->push_token_file, "push token file");

		if (!token)
			goto fail;
		if (asprintf(&pu->auth_header, "Authorization: Bearer %s", token) < 0)
			pu->auth_header = NULL;
		free(token);
		if (!pu->auth_header) {
			err = -ENOMEM;
			goto fail;
		}
	}
	if (cfg->push_basic_auth_file) {
		pu->userpwd = read_secret(cfg->push_basic_auth_file, "push credentials file");
		if (!pu->userpwd)
			goto fail;
		if (!strchr(pu->userpwd, ':')) {
			fprintf(stderr,
				"ember: push credentials file %s: expected 'user:password'\n",
				cfg->push_basic_auth_file);
			goto fail;
		}
	}
	err = make_dir(pu->dir);
	if (err) {
		fprintf(stderr, "ember: cannot create spool directory %s: %s\n", pu->dir,
			strerror(-err));
		goto fail;
	}
	err = scan_spool(pu, NULL, NULL, &max_seq, true);
	if (err) {
		fprintf(stderr, "ember: cannot read spool directory %s: %s\n", pu->dir,
			strerror(-err));
		goto fail;
	}
	if (pu->stats.spool_files)
		pr_info("push: %llu windows left in %s by an earlier run will be sent first",
			(unsigned long long)pu->stats.spool_files, pu->dir);
	pu->next_seq = max_seq + 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		err = -EIO;
		fprintf(stderr, "ember: cannot initialise libcurl\n");
		goto fail;
	}
	err = -pthread_create(&pu->thread, NULL, sender_main, pu);
	if (err) {
		fprintf(stderr, "ember: cannot start the push thread: %s\n", strerror(-err));
		goto fail;
	}
	pu->started = true;
	*out = pu;
	return 0;
fail:
	agent_pusher__free(pu, 0);
	return err;
}

/* Drops the oldest entries (not the one in flight) while the spool is over its bound. */
static void enforce_bound(struct agent_pusher *pu)
{
	while (pu->stats.spool_bytes > pu->spool_bytes && pu->stats.spool_files > 1) {
		struct spool_entry e;
		char path[4096];
		bool have;

		if (scan_spool(pu, &e, &have, NULL, false) || !have)
			return;
		if (e.seq == pu->in_flight) {
			/* Skip the one being sent: drop the next oldest instead. */
			struct dirent *de;
			bool found = false;
			DIR *d = opendir(pu->dir);

			if (!d)
				return;
			while ((de = readdir(d))) {
				struct spool_entry x;

				if (parse_entry(de->d_name, &x) && x.seq != pu->in_flight &&
				    (!found || x.seq < e.seq)) {
					e = x;
					found = true;
				}
			}
			closedir(d);
			if (!found)
				return;
		}
		snprintf(path, sizeof(path), "%s/%s", pu->dir, e.name);
		if (unlink(path))
			return;
		pu->stats.dropped++;
		pr_warn("push: spool %s over %llu bytes: dropped window %llu (%llu-%llu)", pu->dir,
			(unsigned long long)pu->spool_bytes, (unsigned long long)e.seq,
			(unsigned long long)e.from_s, (unsigned long long)e.until_s);
		scan_spool(pu, NULL, NULL, NULL, false);
	}
}

/* Writes @len bytes of uncompressed pprof at @buf, gzip'ed, as spool entry @seq. */
static int spool_part(struct agent_pusher *pu, uint64_t seq, const uint8_t *buf, size_t len,
		      uint64_t from_s, uint64_t until_s, uint32_t hz)
{
	char tmp[4096], final[4096];
	FILE *f = NULL;
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s/.tmp-%020llu", pu->dir, (unsigned long long)seq);
	snprintf(final, sizeof(final), "%s/%020llu-%llu-%llu-%u" SPOOL_SUFFIX, pu->dir,
		 (unsigned long long)seq, (unsigned long long)from_s, (unsigned long long)until_s,
		 hz);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto out;
	}
	err = compress__write(EMBER_COMPRESSION_GZIP, buf, len, f);
	if (!err && fflush(f))
		err = -errno;
	/* The window must survive a crash once it is in the spool: that is the spool's point. */
	if (!err && fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -EIO;
	if (!err && rename(tmp, final))
		err = -errno;
out:
	if (err)
		unlink(tmp);
	return err;
}

/*
 * Encodes @p in @nr_parts requests of consecutive samples (as even as can be) into
 * @bufs/@lens (room for @nr_parts each). *@biggest gets the largest part's bytes.
 */
static int encode_parts(struct agent_pusher *pu, const struct ember_profile *p, size_t nr_parts,
			uint8_t **bufs, size_t *lens, size_t *biggest)
{
	size_t nr = profile__nr_samples(p), first = 0, k;
	int err = 0;

	*biggest = 0;
	for (k = 0; k < nr_parts && !err; k++) {
		struct ember_pprof_opts o = pu->pprof;
		size_t n = nr / nr_parts + (k < nr % nr_parts ? 1 : 0);

		o.first_sample = first;
		o.nr_samples = n;
		/* An empty window is still sent whole: an empty range means "to the end". */
		err = pprof__encode_opts(p, &o, &bufs[k], &lens[k]);
		if (!err && lens[k] > *biggest)
			*biggest = lens[k];
		first += n;
	}
	return err;
}

static void free_parts(uint8_t **bufs, size_t n)
{
	for (size_t k = 0; bufs && k < n; k++)
		free(bufs[k]);
	free(bufs);
}

int agent_pusher__enqueue(struct agent_pusher *pu, const struct ember_profile *p, uint64_t from_s,
			  uint64_t until_s, uint32_t hz)
{
	size_t nr = profile__nr_samples(p), parts, nr_bufs = 0, biggest = 0, k, round;
	uint8_t **bufs = NULL;
	size_t *lens = NULL;
	uint64_t seq = 0;
	int err = 0;

	/* Pyroscope refuses a profile over its sample or size limit: split by samples. */
	parts = nr > pu->max_samples ? (nr + pu->max_samples - 1) / pu->max_samples : 1;
	for (round = 0;; round++) {
		free_parts(bufs, nr_bufs);
		free(lens);
		bufs = calloc(parts, sizeof(*bufs));
		lens = calloc(parts, sizeof(*lens));
		nr_bufs = bufs ? parts : 0;
		if (!bufs || !lens) {
			err = -ENOMEM;
			goto fail;
		}
		err = encode_parts(pu, p, parts, bufs, lens, &biggest);
		if (err)
			goto fail;
		if (biggest <= pu->max_bytes)
			break;
		if (parts >= nr || round == MAX_SPLIT_ROUNDS) {
			pthread_mutex_lock(&pu->lock);
			pu->stats.oversize++;
			pthread_mutex_unlock(&pu->lock);
			pr_err(
			    "push: window %llu-%llu refused before sending: a part of %zu samples "
			    "is %zu bytes uncompressed, over push-max-bytes (%llu)",
			    (unsigned long long)from_s, (unsigned long long)until_s, nr / parts,
			    biggest, (unsigned long long)pu->max_bytes);
			goto out;
		}
		parts = parts * 2 < nr ? parts * 2 : nr;
	}
	for (k = 0; k < parts; k++) {
		pthread_mutex_lock(&pu->lock);
		seq = pu->next_seq++;
		pthread_mutex_unlock(&pu->lock);
		err = spool_part(pu, seq, bufs[k], lens[k], from_s, until_s, hz);
		if (err)
			goto fail;
	}
	pthread_mutex_lock(&pu->lock);
	if (parts > 1) {
		pu->stats.split++;
		pr_info(
		    "push: window %llu-%llu (%zu samples) sent as %zu requests (push-max-samples "
		    "%u, push-max-bytes %llu)",
		    (unsigned long long)from_s, (unsigned long long)until_s, nr, parts,
		    pu->max_samples, (unsigned long long)pu->max_bytes);
	}
	scan_spool(pu, NULL, NULL, NULL, false);
	enforce_bound(pu);
	pthread_cond_signal(&pu->wake);
	pthread_mutex_unlock(&pu->lock);
	goto out;
fail:
	pr_err("push: cannot spool window %llu-%llu (entry %llu) in %s: %s",
	       (unsigned long long)from_s, (unsigned long long)until_s, (unsigned long long)seq,
	       pu->dir, strerror(-err));
out:
	free_parts(bufs, nr_bufs);
	free(lens);
	return err;
}

void agent_pusher__stats(struct agent_pusher *pu, struct agent_push_stats *out)
{
	pthread_mutex_lock(&pu->lock);
	*out = pu->stats;
	pthread_mutex_unlock(&pu->lock);
}

void agent_pusher__free(struct agent_pusher *pu, double timeout_s)
{
	if (!pu)
		return;
	if (pu->started) {
		struct timespec deadline;

		deadline_after(&deadline, timeout_s);
		pthread_mutex_lock(&pu->lock);
		/* Give the sender a bounded time to empty the spool; the rest waits on disk. */
		while (!pu->stats.backing_off && pu->stats.spool_files > 0 &&
		       pthread_cond_timedwait(&pu->idle, &pu->lock, &deadline) == 0)
			;
		if (pu->stats.spool_files)
			pr_info("push: %llu windows stay in %s for the next start",
				(unsigned long long)pu->stats.spool_files, pu->dir);
		pu->stop = true;
		pthread_cond_broadcast(&pu->wake);
		pthread_mutex_unlock(&pu->lock);
		pthread_join(pu->thread, NULL);
		curl_global_cleanup();
	}
	pthread_cond_destroy(&pu->wake);
	pthread_cond_destroy(&pu->idle);
	pthread_mutex_destroy(&pu->lock);
	free(pu->dir);
	free(pu->ingest_url);
	free(pu->name_prefix);
	free(pu->auth_header);
	free(pu->tenant_header);
	free(pu->userpwd);
	free(pu->token_file);
	free(pu->basic_file);
	free(pu->ca_file);
	free(pu);
}
