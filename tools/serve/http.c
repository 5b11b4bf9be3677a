// SPDX-License-Identifier: MIT
/*
 * The HTTP server object over libmicrohttpd: binds, runs the library's
 * internal polling thread, and turns each GET into one handler call and one
 * response. Parsing, limits and timeouts are the library's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/http.h"
#include "support/support.h"

struct http_server {
	struct MHD_Daemon *d;
	http_handler_fn handler;
	void *ctx;
	uint16_t port;
};

struct http_request {
	struct MHD_Connection *conn;
	const char *path;
};

const char *http_request__path(const struct http_request *r)
{
	return r->path;
}

struct args_walk {
	const char *key;
	const char **vals;
	size_t max, n;
};

static enum MHD_Result args_one(void *arg, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct args_walk *w = arg;

	(void)kind;
	if (key && !strcmp(key, w->key)) {
		if (w->n < w->max)
			w->vals[w->n] = value ? value : "";
		w->n++;
	}
	return MHD_YES;
}

size_t http_request__args(const struct http_request *r, const char *key, const char **vals,
			  size_t max)
{
	struct args_walk w = {.key = key, .vals = vals, .max = max};

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, args_one, &w);
	return w.n;
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned int status, const char *type,
			     char *body, size_t len, const char *filename)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char disp[160];

	resp = MHD_create_response_from_buffer(
	    len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	/* The page and its API are the only content: no other origin may frame or script them. */
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (filename) {
		snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", filename);
		MHD_add_response_header(resp, "Content-Disposition", disp);
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static const char not_allowed[] = "only GET and HEAD are served\n";
	struct http_server *s = cls;
	struct http_response r = {.status = 200, .content_type = "text/plain; charset=utf-8"};
	struct http_request req = {.conn = conn, .path = url};
	int err;

	(void)version;
	(void)upload;
	/*
	 * Other methods are refused on the first call, before any body is read
	 * (the library takes no response in the middle of an upload).
	 */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return queue(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r.content_type, strdup(not_allowed),
			     sizeof(not_allowed) - 1, NULL);
	/* The first call for a GET only announces it; answer on the second. */
	if (!*con_cls) {
		*con_cls = s;
		return MHD_YES;
	}
	*upload_size = 0;
	err = s->handler(s->ctx, &req, &r);
	if (err) {
		free(r.body);
		pr_warn("serve: %s: %s", url, strerror(-err));
		return queue(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
			     NULL, 0, NULL);
	}
	return queue(conn, r.status, r.content_type, r.body, r.len, r.filename);
}

int http_server__new(const struct http_server_opts *opts, http_handler_fn handler, void *ctx,
		     struct http_server **out)
{
	struct http_server_opts o = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const union MHD_DaemonInfo *info;
	struct http_server *s = NULL;
	int err;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (inet_pton(AF_INET, o.addr ? o.addr : "127.0.0.1", &sa.sin_addr) != 1) {
		pr_err("serve: not an IPv4 address: '%s'", o.addr);
		err = -EINVAL;
		goto out;
	}
	sa.sin_port = htons(o.port);
	s = calloc(1, sizeof(*s));
	if (!s) {
		err = -ENOMEM;
		goto out;
	}
	s->handler = handler;
	s->ctx = ctx;
	errno = 0;
	s->d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)(o.max_conns ? o.max_conns : 32), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(o.conn_memory ? o.conn_memory : 32 * 1024), MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)(o.timeout_s ? o.timeout_s : 30), MHD_OPTION_END);
	if (!s->d) {
		err = errno ? -errno : -EADDRINUSE;
		pr_err("serve: cannot listen on %s:%u: %s", o.addr ? o.addr : "127.0.0.1", o.port,
		       strerror(-err));
		goto out;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : o.port;
	*out = s;
	s = NULL;
	err = 0;
out:
	http_server__free(s);
	return err;
}

uint16_t http_server__port(const struct http_server *s)
{
	return s->port;
}

void http_server__free(struct http_server *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d);
	free(s);
}
