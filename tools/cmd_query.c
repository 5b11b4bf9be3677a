// SPDX-License-Identifier: MIT
/*
 * `ember query DIR|FILE... [--from T] [--to T] [--where K=V]... [--group-by K]
 * -o OUT`: merges the agent's windows that start in a time range, keeping the
 * samples whose labels match, into one profile written like convert writes.
 * The history engine is history/; this file is its command line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "history_cli.h"
#include "output_cli.h"
#include "support/support.h"
#include "symbolize_cli.h"

enum { OPT_FORMAT = 1, OPT_STRICT, OPT_HELP };

static const struct cli_option query_options[] = {
    {"output", 'o', 0, "FILE",
     "Output file; \"-\" is stdout (folded unless --format says otherwise). The format "
     "follows the extension: .folded or .txt (folded), .pb.gz or .pprof (pprof), .svg "
     "(flamegraph), .json (speedscope); a trailing .zst compresses with zstd."},
    {"format", 'f', OPT_FORMAT, "FORMAT",
     "Output format regardless of the extension: folded, pprof, svg, speedscope."},
    HISTORY_CLI_OPTIONS,
    {"strict", 0, OPT_STRICT, NULL,
     "Fail (exit 7) on a corrupt or unreadable window instead of skipping it (skipped "
     "windows are named on stderr and counted)."},
    SYMBOLIZE_CLI_SYMBOLIZE_OPTION,
    SYMBOLIZE_CLI_DEBUG_DIR_OPTION,
    OUTPUT_CLI_ROOT_OPTIONS,
    OUTPUT_CLI_SVG_OPTIONS,
    OUTPUT_CLI_END_OPTIONS(OPT_HELP),
};

static const int query_exit_codes[] = {
    EMBER_EXIT_OK,
    EMBER_EXIT_FAILURE,
    EMBER_EXIT_USAGE,
    EMBER_EXIT_OUTPUT,
    EMBER_EXIT_INPUT,
    EMBER_EXIT_NO_DATA,
    -1,
};

const struct cli_command cli_query_command = {
    .name = "query",
    .synopsis = "ember query [OPTIONS] DIR|FILE... [--from TIME] [--to TIME] "
		"[--where KEY=VALUE]... [--group-by KEY] -o OUT",
    .summary = "merge an agent's windows by time range and labels into one profile",
    .description =
	"Reads the windows `ember agent` wrote to DIR (and any profile FILE given), keeps "
	"those whose start lies in [--from, --to) and the samples that match every --where, "
	"and writes them merged to OUT: stacks, mappings and build-ids, labels, the earliest "
	"start and the sum of the windows' durations. Window metadata is cached in "
	"DIR/.ember-index (rebuilt when missing, stale or corrupt; not saved when DIR is read "
	"only), so only the windows in range are decoded. Windows of CPU sample counts at "
	"different frequencies, or of different kinds (CPU, off-CPU, wall), are refused. "
	"Example: ember query /var/lib/ember --from -1h --where process_name=nginx -o "
	"nginx.svg. See docs/history.md.",
    .options = query_options,
    .exit_codes = query_exit_codes,
};

int cmd_query(int argc, char **argv)
{
	struct output_cli oc;
	struct history_cli hc;
	struct ember_output_opts wo = {.sz = sizeof(wo)};
	struct ember_profile *p = NULL;
	struct symbolize_cli sc = {0};
	const char *out = NULL;
	char **inputs = NULL; /* point into argv */
	size_t nr_inputs = 0;
	int c, ret = EMBER_EXIT_OK, err;

	if (output_cli_init(&oc, query_options))
		return EMBER_EXIT_FAILURE;
	if (history_cli_init(&hc, "query"))
		return EMBER_EXIT_FAILURE;
	inputs = calloc((size_t)argc + 1, sizeof(*inputs));
	if (!inputs) {
		ret = EMBER_EXIT_FAILURE;
		goto out;
	}
	while (optind < argc) {
		c = getopt_long(argc, argv, oc.shortopts, oc.longopts, NULL);
		if (c == -1) {
			/* Positionals may come before options ("DIR -o OUT"). */
			if (optind < argc)
				inputs[nr_inputs++] = argv[optind++];
			continue;
		}
		err = output_cli_option(&oc, c, optarg);
		if (!err)
			err = symbolize_cli_option(&sc, "query", c, optarg);
		if (!err)
			err = history_cli_option(&hc, c, optarg);
		if (err < 0) {
			ret = -err;
			goto out;
		}
		if (err)
			continue;
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'f':
			wo.format = output__format_from_name(optarg);
			if (wo.format == EMBER_FORMAT_AUTO ||
			    wo.format == EMBER_FORMAT_PERFSCRIPT) {
				ret = cli_usage_error("query",
						      "invalid value for --format: '%s' "
						      "(expected folded, pprof, svg, speedscope)",
						      optarg);
				goto out;
			}
			break;
		case OPT_STRICT:
			hc.strict = true;
			break;
		case 'v':
			ember_log_set_level(EMBER_LOG_DEBUG);
			break;
		case 'h':
		case OPT_HELP:
			cli_print_help(stdout, &cli_query_command);
			goto out;
		default:
			ret = cli_usage_error("query", "unknown option");
			goto out;
		}
	}
	if (!nr_inputs) {
		ret = cli_usage_error("query", "missing input: an agent output directory or "
					       "profile files");
		goto out;
	}
	if (!out)
		out = "-";
	if (wo.format == EMBER_FORMAT_AUTO && strcmp(out, "-") != 0) {
		enum ember_format f = output__format_from_path(out, NULL);

		if (f == EMBER_FORMAT_AUTO || f == EMBER_FORMAT_PERFSCRIPT) {
			ret =
			    cli_usage_error("query",
					    "%s: unknown output format (use .folded, .txt, .pb.gz, "
					    ".pprof, .svg, .json, optionally + .zst, or --format)",
					    out);
			goto out;
		}
	}
	ret = history_cli_load(&hc, inputs, nr_inputs, &p);
	if (ret)
		goto out;
	/* After the merge: each file is opened once for the whole range. */
	ret = symbolize_cli_profile(&sc, "query", &p);
	if (ret)
		goto out;
	wo.folded = &oc.folded;
	wo.svg = &oc.svg;
	err = output__write_path(p, out, &wo);
	if (err)
		ret = err == -EINVAL ? EMBER_EXIT_USAGE : output_cli_write_exit(err);
out:
	profile__free(p);
	symbolize_cli_free(&sc);
	free(inputs);
	history_cli_free(&hc);
	return ret;
}
