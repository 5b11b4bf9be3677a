// SPDX-License-Identifier: MIT
/*
 * `ember convert IN -o OUT`: reads a profile (folded, pprof, speedscope JSON,
 * `perf script` text; gzip or zstd compressed or not) and writes it as folded, pprof, SVG or
 * speedscope JSON, the format picked from OUT's extension or --format.
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

static const struct cli_option convert_options[] = {
    {"output", 'o', 0, "FILE",
     "Output file; \"-\" is stdout (folded unless --format says otherwise). The format "
     "follows the extension: .folded or .txt (folded), .pb.gz or .pprof (pprof), .svg "
     "(flamegraph), .json (speedscope); a trailing .zst compresses with zstd."},
    {"format", 'f', CONVERT_OPT_FORMAT, "FORMAT",
     "Output format regardless of the extension: folded, pprof, svg, speedscope."},
    {"input-format", 0, CONVERT_OPT_INPUT_FORMAT, "FORMAT",
     "Input format instead of guessing from content and name: folded, pprof, perf-script, "
     "speedscope."},
    {"label", 'l', CONVERT_OPT_LABEL, "KEY=VALUE",
     "Add a profile label (written to pprof as a sample label). Repeatable."},
    OUTPUT_CLI_INPUT_OPTIONS,
    SYMBOLIZE_CLI_SYMBOLIZE_OPTION,
    SYMBOLIZE_CLI_DEBUG_DIR_OPTION,
    HISTORY_CLI_OPTIONS,
    OUTPUT_CLI_ROOT_OPTIONS,
    OUTPUT_CLI_SVG_OPTIONS,
    OUTPUT_CLI_END_OPTIONS(CONVERT_OPT_HELP),
};

const struct cli_command cli_convert_command = {
    .name = "convert",
    .synopsis = "ember convert [OPTIONS] IN|DIR[@FROM..TO]... -o OUT",
    .summary = "convert between folded, pprof, SVG and speedscope",
    .description = "Reads IN (\"-\" is stdin) as folded stacks, pprof, speedscope JSON or "
		   "`perf script` text, compressed with gzip or zstd or not, and writes it to "
		   "OUT. Example: "
		   "perf script | ember convert - -o out.svg. Several inputs, an agent output "
		   "directory or the selection flags (--from, --to, --where, --group-by) "
		   "merge windows as `ember query` does. With --symbolize, addresses "
		   "left unsymbolized (an agent's symbolize = none windows) get their "
		   "functions here: ember convert window.pb.gz --symbolize --debug-dir "
		   "/srv/debug -o named.pb.gz.",
    .options = convert_options,
    .exit_codes = output_cli_history_exit_codes,
};

/*
 * convert, or query when @cmd is cli_query_command: query reads its inputs as a
 * history always (a single file is one window: selection, index, --strict for
 * corrupt windows), convert only when several inputs, a directory or a
 * selection flag ask for it.
 */
int cmd_convert_as(int argc, char **argv, const struct cli_command *cmd)
{
	bool query = cmd == &cli_query_command;
	struct output_cli oc;
	struct symbolize_cli sc = {0};
	struct ember_output_opts wo = {.sz = sizeof(wo)};
	struct ember_profile *p = NULL;
	const char *out = NULL;
	struct history_cli hc;
	char **in = NULL; /* point into argv */
	size_t nr_in = 0;
	struct cli_label *labels = NULL; /* values point into argv */
	size_t nr_labels = 0, i;
	int c, ret = EMBER_EXIT_OK, err;

	if (output_cli_init(&oc, cmd->options) || history_cli_init(&hc, cmd->name))
		return EMBER_EXIT_FAILURE;
	labels = calloc((size_t)argc + 1, sizeof(*labels));
	in = calloc((size_t)argc + 1, sizeof(*in));
	if (!labels || !in) {
		ret = EMBER_EXIT_FAILURE;
		goto out;
	}
	while (optind < argc) {
		c = getopt_long(argc, argv, oc.shortopts, oc.longopts, NULL);
		if (c == -1) {
			/* Positionals may come before options ("IN -o OUT"). */
			if (optind < argc)
				in[nr_in++] = argv[optind++];
			continue;
		}
		err = output_cli_option(&oc, c, optarg);
		if (!err)
			err = symbolize_cli_option(&sc, cmd->name, c, optarg);
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
				ret = cli_usage_error(cmd->name,
						      "invalid value for --format: '%s' "
						      "(expected folded, pprof, svg, "
						      "speedscope)",
						      optarg);
				goto out;
			}
			break;
		case CONVERT_OPT_INPUT_FORMAT:
			oc.read.format = output__format_from_name(optarg);
			if (oc.read.format != EMBER_FORMAT_FOLDED &&
			    oc.read.format != EMBER_FORMAT_PPROF &&
			    oc.read.format != EMBER_FORMAT_PERFSCRIPT &&
			    oc.read.format != EMBER_FORMAT_SPEEDSCOPE) {
				ret = cli_usage_error(cmd->name,
						      "invalid value for --input-format: "
						      "'%s' (expected folded, pprof, "
						      "perf-script, speedscope)",
						      optarg);
				goto out;
			}
			break;
		case 'l':
			if (cli_parse_label(cmd->name, optarg, &labels[nr_labels])) {
				ret = EMBER_EXIT_USAGE;
				goto out;
			}
			nr_labels++;
			break;
		case 'v':
			ember_log_set_level(EMBER_LOG_DEBUG);
			break;
		case 'h':
		case CONVERT_OPT_HELP:
			cli_print_help(stdout, cmd);
			goto out;
		default:
			ret = cli_usage_error(cmd->name, "unknown option");
			goto out;
		}
	}
	if (!nr_in) {
		ret = cli_usage_error(cmd->name, query ? "missing input: an agent output directory "
							 "or profile files"
						       : "missing input file");
		goto out;
	}
	if (!out)
		out = "-";
	/* Say a bad output name before spending time on the input. */
	if (wo.format == EMBER_FORMAT_AUTO && strcmp(out, "-") != 0) {
		enum ember_format f = output__format_from_path(out, NULL);

		if (f == EMBER_FORMAT_AUTO || f == EMBER_FORMAT_PERFSCRIPT) {
			ret =
			    cli_usage_error(cmd->name,
					    "%s: unknown output format (use .folded, .txt, .pb.gz, "
					    ".pprof, .svg, .json, optionally + .zst, or --format)",
					    out);
			goto out;
		}
	}
	hc.strict = hc.strict || oc.read.strict;
	ret = query ? history_cli_load(&hc, in, nr_in, &p)
		    : history_cli_read(&hc, in, nr_in, &oc.read, &p);
	if (ret)
		goto out;
	/* After a merge: each file is opened once for the whole range. */
	ret = symbolize_cli_profile(&sc, cmd->name, &p);
	if (ret)
		goto out;
	for (i = 0; i < nr_labels; i++) {
		err = profile__set_label(p, labels[i].key, labels[i].value);
		if (err) {
			ret = EMBER_EXIT_FAILURE;
			goto out;
		}
	}
	wo.folded = &oc.folded;
	wo.svg = &oc.svg;
	err = output__write_path(p, out, &wo);
	/* output__write_path() said what failed. */
	if (err)
		ret = err == -EINVAL ? EMBER_EXIT_USAGE : output_cli_write_exit(err);
out:
	profile__free(p);
	symbolize_cli_free(&sc);
	free(labels);
	free(in);
	history_cli_free(&hc);
	return ret;
}

int cmd_convert(int argc, char **argv)
{
	return cmd_convert_as(argc, argv, &cli_convert_command);
}
