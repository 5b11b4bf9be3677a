/* SPDX-License-Identifier: MIT */
/*
 * Private to tools/serve/: the state of `ember serve` and its request handler
 * (api.c), which cmd_serve.c hands to the http server.
 */
#ifndef EMBER_SERVE_SERVE_H
#define EMBER_SERVE_SERVE_H

#include "history/history.h"
#include "serve/http.h"

struct serve {
	struct history *h; /* PATH's windows; used only on the server's one thread */
	const char *path;  /* PATH as given */
};

/* The http_handler_fn of `ember serve` (@ctx: struct serve). */
int serve_handle(void *ctx, const struct http_request *req, struct http_response *r);

#endif /* EMBER_SERVE_SERVE_H */
