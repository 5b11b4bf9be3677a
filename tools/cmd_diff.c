// SPDX-License-Identifier: MIT
/*
 * `ember diff BEFORE AFTER -o diff.svg`: a differential flamegraph (widths
 * from AFTER, red where a frame's share grew, blue where it shrank), or with
 * --folded the "stack countA countB" lines difffolded.pl prints.
 */
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "output_cli.h"
#include "support/support.h"

enum { OPT_FOLDED = 1, OPT_NEGATE, OPT_NO_NORMALIZE, OPT_HELP };

static const struct cli_option diff_options[] = {
    {"output", 'o', 0, "FILE",
     "Output file (default \"-\", stdout). An SVG unless --folded; a trailing .zst "
     "compresses with zstd."},
    {"folded", 0, OPT_FOLDED, NULL,
     "Write \"stack countA countB\" lines (the union of both profiles' stacks, sorted) "
     "instead of an SVG."},
    {"negate", 0, OPT_NEGATE, NULL,
     "Widths from BEFORE and colours from its point of view: shows what AFTER lost."},
    {"no-normalize", 0, OPT_NO_NORMALIZE, NULL,
     "Compare raw sample counts. By default each profile is scaled by its total, so a "
     "longer recording does not look like a regression."},
    OUTPUT_CLI_INPUT_OPTIONS,
    OUTPUT_CLI_ROOT_OPTIONS,
    OUTPUT_CLI_SVG_OPTIONS,
    OUTPUT_CLI_END_OPTIONS(OPT_HELP),
};

const struct cli_command cli_diff_command = {
    .name = "diff",
    .synopsis = "ember diff [OPTIONS] BEFORE AFTER [-o FILE]",
    .summary = "differential flamegraph of two profiles",
    .description = "Compares two profiles (folded, pprof or `perf script` text, compressed "
		   "or not). Frame widths come from AFTER; red frames take a larger share of "
		   "AFTER than of BEFORE, blue a smaller one, with the colour's depth "
		   "proportional to the change.",
    .options = diff_options,
    .exit_codes = output_cli_exit_codes,
};

int cmd_diff(int argc, char **argv)
{
	struct output_cli oc;
	struct ember_diff_opts d = {.sz = sizeof(d)};
	struct ember_output_opts wo = {.sz = sizeof(wo)};
	struct ember_profile *a = NULL, *b = NULL;
	const char *in[2] = {NULL, NULL}, *out = "-";
	const char *ta, *ua, *tb, *ub;
	bool folded = false;
	int c, ret = EMBER_EXIT_OK, err, nr_in = 0;

	if (output_cli_init(&oc, diff_options))
		return EMBER_EXIT_FAILURE;
	while (optind < argc) {
		c = getopt_long(argc, argv, oc.shortopts, oc.longopts, NULL);
		if (c == -1) {
			if (optind < argc) {
				if (nr_in == 2)
					return cli_usage_error("diff",
							       "two input files expected, "
							       "got '%s' too",
							       argv[optind]);
				in[nr_in++] = argv[optind++];
			}
			continue;
		}
		err = output_cli_option(&oc, c, optarg);
		if (err < 0)
			return -err;
		if (err)
			continue;
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case OPT_FOLDED:
			folded = true;
			break;
		case OPT_NEGATE:
			d.negate = true;
			break;
		case OPT_NO_NORMALIZE:
			d.no_normalize = true;
			break;
		case 'v':
			ember_log_set_level(EMBER_LOG_DEBUG);
			break;
		case 'h':
		case OPT_HELP:
			cli_print_help(stdout, &cli_diff_command);
			return EMBER_EXIT_OK;
		default:
			return cli_usage_error("diff", "unknown option");
		}
	}
	if (nr_in != 2)
		return cli_usage_error("diff", "expected two input files, BEFORE and AFTER");
	if (strcmp(in[0], "-") == 0 && strcmp(in[1], "-") == 0)
		return cli_usage_error("diff", "only one input can be stdin");
	err = output__read_path(in[0], &oc.read, &a);
	if (!err)
		err = output__read_path(in[1], &oc.read, &b);
	if (err) {
		ret = output_cli_read_exit(err);
		goto out;
	}
	/* Shares of samples against shares of nanoseconds would compare nothing. */
	profile__sample_type(a, &ta, &ua);
	profile__sample_type(b, &tb, &ub);
	if (strcmp(ta, tb) != 0 || strcmp(ua, ub) != 0) {
		fprintf(stderr,
			"ember: cannot diff a %s profile against a %s one (record both with the "
			"same of --off-cpu, --wall or neither; pprof input: the same "
			"--sample-index)\n",
			ta, tb);
		ret = EMBER_EXIT_USAGE;
		goto out;
	}
	if (!oc.svg.title)
		oc.svg.title = "Differential Flame Graph";
	if (!oc.svg.countname && profile__value_type(b) != EMBER_VALUE_SAMPLES)
		oc.svg.countname = profile__value_type(b) == EMBER_VALUE_OTHER ? ub : "ns";
	wo.format = folded ? EMBER_FORMAT_FOLDED : EMBER_FORMAT_SVG;
	wo.svg = &oc.svg;
	wo.diff_before = a;
	wo.diff = &d;
	err = output__write_path(b, out, &wo);
	if (err) {
		/* output__write_path() said what failed, except on stdout. */
		if (strcmp(out, "-") == 0)
			fprintf(stderr, "ember: cannot write %s: %s\n", out, strerror(-err));
		ret = output_cli_write_exit(err);
	}
out:
	profile__free(a);
	profile__free(b);
	return ret;
}
