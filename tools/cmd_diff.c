// SPDX-License-Identifier: MIT
/*
 * `ember diff BEFORE AFTER -o diff.svg`: a differential flamegraph (widths
 * from AFTER, red where a frame's share grew, blue where it shrank), or with
 * --folded the "stack countA countB" lines difffolded.pl prints.
 */
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "history_cli.h"
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
    HISTORY_CLI_OPTIONS,
    OUTPUT_CLI_ROOT_OPTIONS,
    OUTPUT_CLI_SVG_OPTIONS,
    OUTPUT_CLI_END_OPTIONS(OPT_HELP),
};

const struct cli_command cli_diff_command = {
    .name = "diff",
    .synopsis = "ember diff [OPTIONS] BEFORE AFTER [-o FILE]; BEFORE, AFTER: FILE, DIR or "
		"DIR@FROM..TO",
    .summary = "differential flamegraph of two profiles",
    .description = "Compares two profiles (folded, pprof or `perf script` text, compressed "
		   "or not). Frame widths come from AFTER; red frames take a larger share of "
		   "AFTER than of BEFORE, blue a smaller one, with the colour's depth "
		   "proportional to the change. BEFORE and AFTER may be agent output "
		   "directories, each with its own time range as DIR@FROM..TO (FROM and TO "
		   "as for --from; either may be empty): ember diff "
		   "/var/lib/ember@-2h..-1h /var/lib/ember@-1h.. -o diff.svg. --from, --to "
		   "and --where apply to both sides (a side's @FROM..TO overrides --from and "
		   "--to).",
    .options = diff_options,
    .exit_codes = output_cli_history_exit_codes,
};

/*
 * Parses diff's flags into @oc, @hc, @d, @folded and @out, the inputs into @in
 * (two at most). Returns -1 to go on, else the exit code.
 */
static int diff_args(int argc, char **argv, struct output_cli *oc, struct history_cli *hc,
		     struct ember_diff_opts *d, bool *folded, const char **out, char **in,
		     int *nr_in)
{
	int c, err;

	while (optind < argc) {
		c = getopt_long(argc, argv, oc->shortopts, oc->longopts, NULL);
		if (c == -1) {
			if (optind < argc) {
				if (*nr_in == 2)
					return cli_usage_error("diff",
							       "two input files expected, "
							       "got '%s' too",
							       argv[optind]);
				in[(*nr_in)++] = argv[optind++];
			}
			continue;
		}
		err = output_cli_option(oc, c, optarg);
		if (!err)
			err = history_cli_option(hc, c, optarg);
		if (err < 0)
			return -err;
		if (err)
			continue;
		switch (c) {
		case 'o':
			*out = optarg;
			break;
		case OPT_FOLDED:
			*folded = true;
			break;
		case OPT_NEGATE:
			d->negate = true;
			break;
		case OPT_NO_NORMALIZE:
			d->no_normalize = true;
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
	return -1;
}

/* Writes the differential of @a (BEFORE) and @b (AFTER); returns the exit code. */
static int diff_write(struct output_cli *oc, struct ember_diff_opts *d, bool folded,
		      const char *out, const struct ember_profile *a, const struct ember_profile *b)
{
	struct ember_output_opts wo = {.sz = sizeof(wo)};
	const char *ta, *ua, *tb, *ub;
	int err;

	/* Shares of samples against shares of nanoseconds would compare nothing. */
	profile__sample_type(a, &ta, &ua);
	profile__sample_type(b, &tb, &ub);
	if (strcmp(ta, tb) != 0 || strcmp(ua, ub) != 0) {
		fprintf(stderr,
			"ember: cannot diff a %s profile against a %s one (record both with the "
			"same of --off-cpu, --wall or neither; pprof input: the same "
			"--sample-index)\n",
			ta, tb);
		return EMBER_EXIT_USAGE;
	}
	if (!oc->svg.title)
		oc->svg.title = "Differential Flame Graph";
	if (!oc->svg.countname && profile__value_type(b) != EMBER_VALUE_SAMPLES)
		oc->svg.countname = profile__value_type(b) == EMBER_VALUE_OTHER ? ub : "ns";
	wo.format = folded ? EMBER_FORMAT_FOLDED : EMBER_FORMAT_SVG;
	wo.svg = &oc->svg;
	wo.diff_before = a;
	wo.diff = d;
	err = output__write_path(b, out, &wo);
	if (err) {
		/* output__write_path() said what failed, except on stdout. */
		if (strcmp(out, "-") == 0)
			fprintf(stderr, "ember: cannot write %s: %s\n", out, strerror(-err));
		return output_cli_write_exit(err);
	}
	return EMBER_EXIT_OK;
}

int cmd_diff(int argc, char **argv)
{
	struct output_cli oc;
	struct ember_diff_opts d = {.sz = sizeof(d)};
	struct ember_profile *a = NULL, *b = NULL;
	char *in[2] = {NULL, NULL};
	const char *out = "-";
	struct history_cli hc;
	bool folded = false;
	int ret = EMBER_EXIT_OK, nr_in = 0;

	if (output_cli_init(&oc, diff_options) || history_cli_init(&hc, "diff"))
		return EMBER_EXIT_FAILURE;
	ret = diff_args(argc, argv, &oc, &hc, &d, &folded, &out, in, &nr_in);
	if (ret != -1)
		goto out;
	ret = EMBER_EXIT_OK;
	if (nr_in != 2) {
		ret = cli_usage_error("diff", "expected two input files, BEFORE and AFTER");
		goto out;
	}
	if (strcmp(in[0], "-") == 0 && strcmp(in[1], "-") == 0) {
		ret = cli_usage_error("diff", "only one input can be stdin");
		goto out;
	}
	ret = history_cli_read(&hc, &in[0], 1, &oc.read, &a);
	if (!ret)
		ret = history_cli_read(&hc, &in[1], 1, &oc.read, &b);
	if (ret)
		goto out;
	ret = diff_write(&oc, &d, folded, out, a, b);
out:
	profile__free(a);
	profile__free(b);
	history_cli_free(&hc);
	return ret;
}
