// SPDX-License-Identifier: MIT
/*
 * `ember report FILE`: the top functions of a profile, flat (self) and
 * cumulative, like `pprof -top`.
 */
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "history_cli.h"
#include "output_cli.h"
#include "support/support.h"
#include "symbolize_cli.h"

enum { OPT_SORT = 1, OPT_FOCUS, OPT_HELP };

static const struct cli_option report_options[] = {
    {"sort", 's', OPT_SORT, "flat|cum",
     "Order rows by flat (samples in the function itself, the default) or cumulative "
     "samples (in the function and everything it calls)."},
    {"nodes", 'n', 0, "N", "Show the top N functions (default 20)."},
    {"focus", 0, OPT_FOCUS, "REGEX",
     "Only count stacks with a frame matching REGEX (POSIX extended); percentages stay "
     "relative to the whole profile."},
    OUTPUT_CLI_INPUT_OPTIONS,
    SYMBOLIZE_CLI_SYMBOLIZE_OPTION,
    SYMBOLIZE_CLI_DEBUG_DIR_OPTION,
    HISTORY_CLI_OPTIONS,
    OUTPUT_CLI_END_OPTIONS(OPT_HELP),
};

/* The report goes to stdout: no output path to fail on. */
static const int report_exit_codes[] = {
    EMBER_EXIT_OK, EMBER_EXIT_FAILURE, EMBER_EXIT_USAGE, EMBER_EXIT_INPUT, EMBER_EXIT_NO_DATA, -1,
};

const struct cli_command cli_report_command = {
    .name = "report",
    .synopsis = "ember report [OPTIONS] FILE|DIR[@FROM..TO]... [--from T] [--to T] [--where K=V]",
    .summary = "top functions of a profile, flat and cumulative",
    .description = "Prints a table of the functions with the most samples in FILE (folded, "
		   "pprof or `perf script` text, compressed or not; \"-\" is stdin): flat and "
		   "cumulative samples, their percentages of the total, and the running sum "
		   "of flat percentages. Kernel, inline and JIT frames keep their _[k], _[i], "
		   "_[j] suffixes. A pprof profile is read as one of its sample types "
		   "(--sample-index), whose values keep their unit: bytes and time are "
		   "labelled as go tool pprof -top labels them (1.68MB, 500ms). --symbolize "
		   "names the functions of addresses left unsymbolized (an agent's "
		   "symbolize = none windows) first. Several inputs, an agent output "
		   "directory or the selection flags (--from, --to, --where, --group-by) "
		   "merge windows as `ember query` does: ember report /var/lib/ember --from -1h.",
    .options = report_options,
    .exit_codes = report_exit_codes,
};

/*
 * Parses report's flags into @oc, @sc, @hc and @ro, the inputs into @in. Returns -1
 * to go on, else the exit code (help printed: EMBER_EXIT_OK).
 */
static int report_args(int argc, char **argv, struct output_cli *oc, struct symbolize_cli *sc,
		       struct history_cli *hc, struct ember_report_opts *ro, char **in,
		       size_t *nr_in)
{
	uint64_t v;
	int c, err;

	while (optind < argc) {
		c = getopt_long(argc, argv, oc->shortopts, oc->longopts, NULL);
		if (c == -1) {
			if (optind < argc)
				in[(*nr_in)++] = argv[optind++];
			continue;
		}
		err = output_cli_option(oc, c, optarg);
		if (!err)
			err = symbolize_cli_option(sc, "report", c, optarg);
		if (!err)
			err = history_cli_option(hc, c, optarg);
		if (err < 0)
			return -err;
		if (err)
			continue;
		switch (c) {
		case 's':
			if (strcmp(optarg, "flat") == 0)
				ro->sort = EMBER_REPORT_SORT_FLAT;
			else if (strcmp(optarg, "cum") == 0)
				ro->sort = EMBER_REPORT_SORT_CUM;
			else
				return cli_usage_error("report",
						       "invalid value for --sort: '%s' "
						       "(expected flat or cum)",
						       optarg);
			break;
		case 'n':
			if (cli_parse_u64("nodes", optarg, 1, 1000000, &v))
				return EMBER_EXIT_USAGE;
			ro->top = (uint32_t)v;
			break;
		case OPT_FOCUS:
			ro->focus = optarg;
			break;
		case 'v':
			ember_log_set_level(EMBER_LOG_DEBUG);
			break;
		case 'h':
		case OPT_HELP:
			cli_print_help(stdout, &cli_report_command);
			return EMBER_EXIT_OK;
		default:
			return cli_usage_error("report", "unknown option");
		}
	}
	return -1;
}

int cmd_report(int argc, char **argv)
{
	struct output_cli oc;
	struct symbolize_cli sc = {0};
	struct ember_report_opts ro = {.sz = sizeof(ro)};
	struct ember_profile *p = NULL;
	struct history_cli hc;
	char **in = NULL; /* point into argv */
	size_t nr_in = 0;
	int ret = EMBER_EXIT_OK, err;

	if (output_cli_init(&oc, report_options) || history_cli_init(&hc, "report"))
		return EMBER_EXIT_FAILURE;
	in = calloc((size_t)argc + 1, sizeof(*in));
	if (!in) {
		history_cli_free(&hc);
		return EMBER_EXIT_FAILURE;
	}
	ret = report_args(argc, argv, &oc, &sc, &hc, &ro, in, &nr_in);
	if (ret != -1)
		goto out;
	ret = EMBER_EXIT_OK;
	if (!nr_in) {
		ret = cli_usage_error("report", "missing input file");
		goto out;
	}
	if (ro.focus) {
		regex_t re;

		if (regcomp(&re, ro.focus, REG_EXTENDED | REG_NOSUB)) {
			ret = cli_usage_error("report",
					      "invalid value for --focus: '%s' (not a regular "
					      "expression)",
					      ro.focus);
			goto out;
		}
		regfree(&re);
	}
	ret = history_cli_read(&hc, in, nr_in, &oc.read, &p);
	if (ret)
		goto out;
	ret = symbolize_cli_profile(&sc, "report", &p);
	if (ret)
		goto out;
	err = report__write(p, &ro, stdout);
	if (err == -EINVAL)
		ret = cli_usage_error("report",
				      "invalid value for --focus: '%s' (not a regular "
				      "expression)",
				      ro.focus);
	else if (err)
		ret = output_cli_write_exit(err);
out:
	profile__free(p);
	symbolize_cli_free(&sc);
	free(in);
	history_cli_free(&hc);
	return ret;
}
