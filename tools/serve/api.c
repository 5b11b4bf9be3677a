// SPDX-License-Identifier: MIT
/*
 * The routes of `ember serve`: the page, the JSON timeline, and the selection
 * (a time range and --where conditions) rendered by ember's own writers, so
 * the page's flamegraph is the SVG writer's (one layout, one colour rule) and
 * downloads are what `ember query` writes. Every answer is computed from the
 * history given at start; no route maps a URL to a file, so nothing outside
 * PATH can be served.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output/output.h"
#include "serve/serve.h"
#include "support/support.h"

extern const char serve_page_html[];

#define MAX_WHERE     8	  /* conditions per request */
#define MAX_WHERE_LEN 256 /* bytes of one condition; regexes cost at most that much */

/* Sets @r to a plain-text error; 0 (the answer is the error) or -ENOMEM. */
static int answer_error(struct http_response *r, unsigned int status, const char *msg)
{
	r->status = status;
	r->content_type = "text/plain; charset=utf-8";
	if (asprintf(&r->body, "error: %s\n", msg) < 0) {
		r->body = NULL;
		return -ENOMEM;
	}
	r->len = strlen(r->body);
	return 0;
}

/*
 * A time of a range: decimal milliseconds since the epoch (what the page
 * sends) or any history_parse_time form. Empty: @dflt. 0 or -EINVAL.
 */
static int parse_ms(const char *s, size_t len, uint64_t dflt, uint64_t *out, char *why,
		    size_t why_size)
{
	char buf[64], *end;
	struct timespec ts;
	unsigned long long ms;

	if (!len) {
		*out = dflt;
		return 0;
	}
	if (len >= sizeof(buf)) {
		snprintf(why, why_size, "time too long");
		return -EINVAL;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	ms = strtoull(buf, &end, 10);
	if (!*end && !errno && buf[0] >= '0' && buf[0] <= '9' && ms < UINT64_MAX / 1000000) {
		*out = ms * 1000000ull;
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return history_parse_time(buf, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
				  out, why, why_size);
}

/* "FROM..TO" (either may be empty) into [*from, *to). 0 or -EINVAL with @why. */
static int parse_range(const char *s, uint64_t *from, uint64_t *to, char *why, size_t why_size)
{
	const char *dots = strstr(s, "..");
	int err;

	if (!dots) {
		snprintf(why, why_size, "a range is FROM..TO");
		return -EINVAL;
	}
	err = parse_ms(s, (size_t)(dots - s), 0, from, why, why_size);
	if (!err)
		err = parse_ms(dots + 2, strlen(dots + 2), HISTORY_TIME_MAX, to, why, why_size);
	if (!err && *from >= *to) {
		snprintf(why, why_size, "FROM is not before TO");
		err = -EINVAL;
	}
	return err;
}

/*
 * The profile the request selects: range argument @range_key ("r": FROM..TO;
 * absent: everything) and every "where". 0 with *@out, or 0 with an error
 * answer in @r (*@out NULL), or -ENOMEM.
 */
static int select_profile(struct serve *sv, const struct http_request *req, const char *range_key,
			  struct http_response *r, struct ember_profile **out)
{
	const char *where[MAX_WHERE], *range = NULL;
	struct history_query *q = NULL;
	uint64_t from = 0, to = HISTORY_TIME_MAX;
	char why[200] = "";
	size_t i, n;
	int err;

	*out = NULL;
	err = history_query__new(&q);
	if (err)
		goto out;
	if (http_request__args(req, range_key, &range, 1) > 1) {
		err = answer_error(r, 400, "one range per side");
		goto out;
	}
	if (range && parse_range(range, &from, &to, why, sizeof(why))) {
		err = answer_error(r, 400, why);
		goto out;
	}
	history_query__set_range(q, from, to);
	n = http_request__args(req, "where", where, MAX_WHERE);
	if (n > MAX_WHERE) {
		err = answer_error(r, 400, "too many where conditions (at most 8)");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!where[i][0])
			continue;
		if (strlen(where[i]) > MAX_WHERE_LEN) {
			err = answer_error(r, 400, "where condition too long (at most 256 bytes)");
			goto out;
		}
		err = history_query__add_where(q, where[i], why, sizeof(why));
		if (err == -ENOMEM)
			goto out;
		if (err) {
			err = answer_error(r, 400, why);
			goto out;
		}
	}
	err = history__query(sv->h, q, out, NULL);
	if (err == -ENODATA)
		err = answer_error(r, 404, "no sample in the selection");
	else if (err == -EINVAL)
		err = answer_error(r, 422, "the selected windows do not add up (see the log)");
	else if (err && err != -ENOMEM)
		err = answer_error(r, 500, strerror(-err));
out:
	history_query__free(q);
	return err;
}

/* Runs @write into a memory stream that becomes @r's body. */
static int answer_stream(struct http_response *r, const char *type,
			 int (*write)(void *arg, FILE *f), void *arg)
{
	FILE *f;
	int err;

	f = open_memstream(&r->body, &r->len);
	if (!f)
		return -errno;
	err = write(arg, f);
	if (fclose(f) && !err)
		err = -EIO;
	if (err) {
		free(r->body);
		r->body = NULL;
		return err;
	}
	r->content_type = type;
	return 0;
}

struct render {
	const struct ember_profile *p, *before;
	struct ember_svg_opts svg;
	struct ember_report_opts report;
	enum ember_format fmt;
	char subtitle[160];
};

static int write_svg(void *arg, FILE *f)
{
	struct render *rd = arg;

	return svg__write(rd->p, &rd->svg, f);
}

static int write_diff(void *arg, FILE *f)
{
	struct render *rd = arg;

	return diff__write_svg(rd->before, rd->p, NULL, &rd->svg, f);
}

static int write_top(void *arg, FILE *f)
{
	struct render *rd = arg;

	return report__write(rd->p, &rd->report, f);
}

static int write_download(void *arg, FILE *f)
{
	struct render *rd = arg;

	if (rd->fmt == EMBER_FORMAT_PPROF)
		return pprof__write(rd->p, f);
	if (rd->fmt == EMBER_FORMAT_SVG)
		return svg__write(rd->p, &rd->svg, f);
	return folded__write(rd->p, NULL, f);
}

/* The subtitle names the total: the page and its tests read it from the image. */
static void set_subtitle(struct render *rd, const char *what)
{
	const char *type, *unit;

	profile__sample_type(rd->p, &type, &unit);
	snprintf(rd->subtitle, sizeof(rd->subtitle), "%s: %llu %s", what,
		 (unsigned long long)profile__total(rd->p), strcmp(unit, "count") ? unit : type);
	rd->svg.subtitle = rd->subtitle;
	/*
	 * Every frame drawn alone, none merged into a nameless one: the page's
	 * search then reports the selection's exact share (px; 0 means default 0.1).
	 */
	rd->svg.minwidth = 1e-9;
}

/* /api/timeline: every window's start and duration (ms) and total, as JSON. */
static int answer_timeline(struct serve *sv, struct http_response *r)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	const struct history_window *w;
	const char *s;
	size_t i;
	int err = -ENOMEM;

	if (!root || !arr)
		goto out;
	json_object_object_add(root, "windows", arr);
	for (i = 0; i < history__nr_windows(sv->h); i++) {
		json_object *o;

		w = history__window(sv->h, i);
		if (!w->known || w->error)
			continue;
		o = json_object_new_object();
		if (!o || json_object_array_add(arr, o)) {
			json_object_put(o);
			goto out;
		}
		/* ms: a double holds them exactly, ns since the epoch it does not. */
		json_object_object_add(o, "start",
				       json_object_new_int64((int64_t)(w->start_ns / 1000000)));
		json_object_object_add(o, "duration",
				       json_object_new_int64((int64_t)(w->duration_ns / 1000000)));
		json_object_object_add(o, "total", json_object_new_int64((int64_t)w->total));
	}
	json_object_object_add(root, "path", json_object_new_string(sv->path));
	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	r->body = s ? strdup(s) : NULL;
	if (!r->body)
		goto out;
	r->len = strlen(r->body);
	r->content_type = "application/json";
	err = 0;
out:
	json_object_put(root);
	if (!root)
		json_object_put(arr);
	return err;
}

/* /api/flame.svg, /api/top, /download. */
static int answer_selection(struct serve *sv, const struct http_request *req,
			    struct http_response *r, const char *path)
{
	struct render rd = {.svg = {.sz = sizeof(rd.svg)}, .report = {.sz = sizeof(rd.report)}};
	struct ember_profile *p = NULL;
	const char *fmt = NULL, *sort = NULL;
	int err;

	if (!strcmp(path, "/download")) {
		http_request__args(req, "fmt", &fmt, 1);
		rd.fmt = fmt ? output__format_from_name(fmt) : EMBER_FORMAT_AUTO;
		if (rd.fmt != EMBER_FORMAT_PPROF && rd.fmt != EMBER_FORMAT_SVG &&
		    rd.fmt != EMBER_FORMAT_FOLDED)
			return answer_error(r, 400, "fmt is pprof, svg or folded");
	}
	err = select_profile(sv, req, "r", r, &p);
	if (err || !p)
		goto out;
	rd.p = p;
	set_subtitle(&rd, "selection");
	if (!strcmp(path, "/api/flame.svg")) {
		err = answer_stream(r, "image/svg+xml", write_svg, &rd);
	} else if (!strcmp(path, "/api/top")) {
		http_request__args(req, "sort", &sort, 1);
		rd.report.sort =
		    sort && !strcmp(sort, "cum") ? EMBER_REPORT_SORT_CUM : EMBER_REPORT_SORT_FLAT;
		rd.report.top = 50;
		err = answer_stream(r, "text/plain; charset=utf-8", write_top, &rd);
	} else {
		err = answer_stream(r,
				    rd.fmt == EMBER_FORMAT_PPROF ? "application/octet-stream"
				    : rd.fmt == EMBER_FORMAT_SVG ? "image/svg+xml"
								 : "text/plain; charset=utf-8",
				    write_download, &rd);
		r->filename = rd.fmt == EMBER_FORMAT_PPROF ? "selection.pb.gz"
			      : rd.fmt == EMBER_FORMAT_SVG ? "selection.svg"
							   : "selection.folded";
	}
out:
	profile__free(p);
	return err;
}

/* /api/diff.svg?a=FROM..TO&b=FROM..TO: red where B's share grew over A's. */
static int answer_diff(struct serve *sv, const struct http_request *req, struct http_response *r)
{
	struct render rd = {.svg = {.sz = sizeof(rd.svg), .title = "Differential"}};
	struct ember_profile *a = NULL, *b = NULL;
	int err;

	err = select_profile(sv, req, "a", r, &a);
	if (!err && a)
		err = select_profile(sv, req, "b", r, &b);
	if (err || !a || !b)
		goto out;
	rd.p = b;
	rd.before = a;
	set_subtitle(&rd, "B against A");
	err = answer_stream(r, "image/svg+xml", write_diff, &rd);
out:
	profile__free(a);
	profile__free(b);
	return err;
}

int serve_handle(void *ctx, const struct http_request *req, struct http_response *r)
{
	struct serve *sv = ctx;
	const char *path = http_request__path(req);

	/* Fixed routes only; traversal is refused loudly rather than 404'd, for the logs. */
	if (path[0] != '/' || strstr(path, "..") || strchr(path, '\\'))
		return answer_error(r, 400, "bad path");
	if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
		r->body = strdup(serve_page_html);
		if (!r->body)
			return -ENOMEM;
		r->len = strlen(r->body);
		r->content_type = "text/html; charset=utf-8";
		return 0;
	}
	if (!strcmp(path, "/api/timeline"))
		return answer_timeline(sv, r);
	if (!strcmp(path, "/api/flame.svg") || !strcmp(path, "/api/top") ||
	    !strcmp(path, "/download"))
		return answer_selection(sv, req, r, path);
	if (!strcmp(path, "/api/diff.svg"))
		return answer_diff(sv, req, r);
	return answer_error(r, 404, "no such page");
}
