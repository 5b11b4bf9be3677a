// SPDX-License-Identifier: MIT
/*
 * `ember query DIR|FILE... [--from T] [--to T] [--where K=V]... [--group-by K]
 * -o OUT`: merges the agent's windows that start in a time range, keeping the
 * samples whose labels match, into one profile written like convert writes.
 * The history engine is history/; the command line is convert's
 * (cmd_convert_as), with this option table.
 */
#include "cli.h"
#include "commands.h"
#include "history_cli.h"
#include "output_cli.h"
#include "support/support.h"
#include "symbolize_cli.h"

static const struct cli_option query_options[] = {
    {"output", 'o', 0, "FILE",
     "Output file; \"-\" is stdout (folded unless --format says otherwise). The format "
     "follows the extension: .folded or .txt (folded), .pb.gz or .pprof (pprof), .svg "
     "(flamegraph), .json (speedscope); a trailing .zst compresses with zstd."},
    {"format", 'f', CONVERT_OPT_FORMAT, "FORMAT",
     "Output format regardless of the extension: folded, pprof, svg, speedscope."},
    HISTORY_CLI_OPTIONS,
    {"strict", 0, OCLI_STRICT, NULL,
     "Fail (exit 7) on a corrupt or unreadable window instead of skipping it (skipped "
     "windows are named on stderr and counted)."},
    SYMBOLIZE_CLI_SYMBOLIZE_OPTION,
    SYMBOLIZE_CLI_DEBUG_DIR_OPTION,
    OUTPUT_CLI_ROOT_OPTIONS,
    OUTPUT_CLI_SVG_OPTIONS,
    OUTPUT_CLI_END_OPTIONS(CONVERT_OPT_HELP),
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
    .exit_codes = output_cli_history_exit_codes,
};

int cmd_query(int argc, char **argv)
{
	return cmd_convert_as(argc, argv, &cli_query_command);
}
