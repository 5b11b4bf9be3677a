// SPDX-License-Identifier: MIT
/*
 * `ember serve PATH [--listen ADDR:PORT]`: a local, read-only web UI over a
 * profile file or an agent directory (tools/serve/page.html, embedded), served
 * through tools/serve/http.c until SIGINT or SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "serve/serve.h"
#include "support/support.h"

enum { OPT_LISTEN = 1, OPT_HELP };

static const struct cli_option serve_options[] = {
    {"listen", 'l', OPT_LISTEN, "ADDR:PORT",
     "IPv4 address and port to listen on (default 127.0.0.1 and a free port; PORT 0 is a "
     "free port). An address other than loopback serves the profiles to the network and "
     "is warned about."},
    {"verbose", 'v', 0, NULL, "Log every step."},
    {"help", 'h', OPT_HELP, NULL, "Show this help."},
    {0},
};

static const int serve_exit_codes[] = {EMBER_EXIT_OK, EMBER_EXIT_FAILURE, EMBER_EXIT_USAGE,
				       EMBER_EXIT_INPUT, -1};

const struct cli_command cli_serve_command = {
    .name = "serve",
    .synopsis = "ember serve [OPTIONS] PATH [--listen ADDR:PORT]",
    .summary = "web UI over a profile or an agent's history: timeline, flamegraph, diff",
    .description =
	"Serves a page (everything embedded, works offline) over PATH, a profile file of any "
	"format ember reads or a directory `ember agent` writes: a timeline of the samples per "
	"window where a range is selected by dragging, the flamegraph of the selection (zoom, "
	"search, tooltips), its top functions, --where label filters, the differential of two "
	"ranges, and downloads as pprof, SVG or folded. Prints \"ember: serving "
	"http://ADDR:PORT/\" on stderr when ready. Read-only: no file but PATH's profiles is "
	"read. See docs/serve.md.",
    .options = serve_options,
    .exit_codes = serve_exit_codes,
};

/* "ADDR:PORT" or ":PORT" into @addr (@size bytes) and *@port. 0 or -EINVAL. */
static int parse_listen(const char *s, char *addr, size_t size, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	struct in_addr ia;
	char why[80];
	uint64_t v;
	size_t len;

	if (!colon)
		return -EINVAL;
	len = (size_t)(colon - s);
	if (len >= size)
		return -EINVAL;
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (!len)
		snprintf(addr, size, "127.0.0.1");
	if (inet_pton(AF_INET, addr, &ia) != 1)
		return -EINVAL;
	if (cli_parse_uint(colon + 1, 0, 65535, &v, why, sizeof(why)))
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/*
 * Learns every window's metadata now (decodes the ones the index lacks and
 * saves the index), so the timeline needs no decode: a query whose condition
 * no sample meets decodes only what is unknown and merges nothing.
 */
static int learn_windows(struct history *h)
{
	struct history_query *q;
	struct ember_profile *p = NULL;
	char why[64];
	int err;

	err = history_query__new(&q);
	if (err)
		return err;
	err = history_query__add_where(q, "__ember_serve_nothing=", why, sizeof(why));
	if (!err)
		err = history__query(h, q, &p, NULL);
	profile__free(p);
	history_query__free(q);
	return err == -ENODATA ? 0 : err;
}

int cmd_serve(int argc, char **argv)
{
	struct http_server_opts ho = {.sz = sizeof(ho)};
	struct serve sv = {0};
	struct http_server *srv = NULL;
	char addr[64] = "127.0.0.1";
	sigset_t set;
	int c, sig, ret = EMBER_EXIT_FAILURE;
	uint16_t port = 0;
	struct option longopts[8];
	char shortopts[8 * 2 + 3];

	cli_getopt_tables(serve_options, longopts, 8, shortopts);
	optind = 1;
	opterr = 0;
	while (optind < argc) {
		c = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (c == -1) {
			/* PATH may come before the options (getopt stops at it). */
			if (optind < argc) {
				if (sv.path) {
					ret = cli_usage_error("serve",
							      "one PATH expected, got '%s' too",
							      argv[optind]);
					goto out;
				}
				sv.path = argv[optind++];
			}
			continue;
		}
		switch (c) {
		case 'l':
			if (parse_listen(optarg, addr, sizeof(addr), &port)) {
				ret = cli_usage_error("serve",
						      "invalid value for --listen: '%s' "
						      "(expected IPV4ADDR:PORT)",
						      optarg);
				goto out;
			}
			break;
		case 'v':
			ember_log_set_level(EMBER_LOG_DEBUG);
			break;
		case 'h':
		case OPT_HELP:
			cli_print_help(stdout, &cli_serve_command);
			ret = EMBER_EXIT_OK;
			goto out;
		default:
			ret = cli_usage_error("serve", "unknown option");
			goto out;
		}
	}
	if (!sv.path) {
		ret =
		    cli_usage_error("serve", "one PATH expected (a profile or an agent directory)");
		goto out;
	}
	if (history__new(&sv.h))
		goto out;
	if (history__add_path(sv.h, sv.path)) {
		ret = EMBER_EXIT_INPUT;
		goto out;
	}
	if (learn_windows(sv.h))
		goto out;
	if (strncmp(addr, "127.", 4))
		pr_warn("serve: listening on %s, not loopback: anyone who reaches this host can "
			"read these profiles",
			addr);
	ho.addr = addr;
	ho.port = port;
	/* Block the signals before the server's thread starts, so it inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (http_server__new(&ho, serve_handle, &sv, &srv))
		goto out;
	fprintf(stderr, "ember: serving http://%s:%u/\n", addr, http_server__port(srv));
	fflush(stderr);
	sigwait(&set, &sig);
	ret = EMBER_EXIT_OK;
out:
	http_server__free(srv);
	history__free(sv.h);
	return ret;
}
