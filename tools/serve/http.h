/* SPDX-License-Identifier: MIT */
/*
 * http: a small HTTP/1.1 server object over libmicrohttpd (Debian
 * libmicrohttpd-dev), for `ember serve`. One internal polling thread answers
 * every request, so a handler never runs concurrently with another and may use
 * state that is not thread-safe (the history engine). Connections, the memory
 * of one connection (request line, headers and query string: a longer one
 * gets 414/431 from the library) and idle time are bounded; only GET and HEAD
 * reach the handler.
 *
 * Errors: 0 or a negative errno. Thread-safety: __new and __free from one
 * thread; the handler runs on the server's thread.
 */
#ifndef EMBER_SERVE_HTTP_H
#define EMBER_SERVE_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct http_request;

/* The URL path, percent-decoded by the library ("/api/flame"). Valid during the handler. */
const char *http_request__path(const struct http_request *r);

/*
 * The values of query argument @key, decoded, in order: up to @max of them in
 * @vals (valid during the handler). Returns how many there are (may exceed @max).
 */
size_t http_request__args(const struct http_request *r, const char *key, const char **vals,
			  size_t max);

/* What a handler answers. */
struct http_response {
	unsigned int status;	  /* 200, 400, 404, ... */
	const char *content_type; /* static string */
	char *body;		  /* malloc'd; the server frees it (NULL: empty) */
	size_t len;		  /* bytes of @body */
	const char *filename;	  /* non-NULL: sent as an attachment of this name (static) */
};

/* Fills @resp; returns 0 or a negative errno (the client then gets a 500). */
typedef int (*http_handler_fn)(void *ctx, const struct http_request *req,
			       struct http_response *resp);

struct http_server_opts {
	size_t sz;		/* sizeof(struct http_server_opts) */
	const char *addr;	/* IPv4 address to bind; NULL: 127.0.0.1 */
	uint16_t port;		/* 0: a free port */
	unsigned int max_conns; /* 0: 32 */
	size_t conn_memory;	/* bytes per connection; 0: 32 KiB */
	unsigned int timeout_s; /* idle connection timeout; 0: 30 s */
};

struct http_server;

/*
 * Starts listening and serving with @handler (@ctx passed through). @opts may
 * be NULL. Returns 0, -EINVAL for a bad address, -EADDRINUSE etc. (logged).
 */
int http_server__new(const struct http_server_opts *opts, http_handler_fn handler, void *ctx,
		     struct http_server **out);

/* The port listened on (the one chosen when 0 was asked). */
uint16_t http_server__port(const struct http_server *s);

/* Stops the server (waits for its thread) and frees it; NULL is fine. */
void http_server__free(struct http_server *s);

#endif /* EMBER_SERVE_HTTP_H */
