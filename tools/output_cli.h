/* SPDX-License-Identifier: MIT */
/*
 * Command-line flags shared by the commands that write flamegraphs and read
 * profile files (convert, diff, and record's -o x.svg): one definition of each
 * option's text, so help and man pages agree across commands.
 */
#ifndef EMBER_OUTPUT_CLI_H
#define EMBER_OUTPUT_CLI_H

#include "cli.h"
#include "output/output.h"

enum output_cli_id {
	OCLI_TITLE = 1000,
	OCLI_SUBTITLE,
	OCLI_WIDTH,
	OCLI_MINWIDTH,
	OCLI_COLORS,
	OCLI_HASH,
	OCLI_REVERSE,
	OCLI_INVERTED,
	OCLI_COUNTNAME,
	OCLI_STRICT,
	OCLI_PER_PID,
	OCLI_PER_THREAD,
	OCLI_EVENT,
	OCLI_WEIGHT,
	OCLI_SAMPLE_INDEX,
	OCLI_LENIENT,
	OCLI_LAST,
};

/* cli_option entries for the SVG flags; use inside an option table initializer. */
// clang-format off
#define OUTPUT_CLI_SVG_OPTIONS \
	{ "title", 0, OCLI_TITLE, "TEXT", "SVG: title at the top (default \"Flame Graph\")." }, \
	{ "subtitle", 0, OCLI_SUBTITLE, "TEXT", "SVG: second line under the title." }, \
	{ "width", 0, OCLI_WIDTH, "PX", "SVG: image width in pixels (default 1200)." }, \
	{ "minwidth", 0, OCLI_MINWIDTH, "PX", \
	  "SVG: frames narrower than this many pixels are merged into one frame per run " \
	  "(default 0.1; 0 draws every frame)." }, \
	{ "colors", 0, OCLI_COLORS, "PALETTE", \
	  "SVG: palette of user frames: ember (default), hot, mem, io, red, green, blue, aqua, " \
	  "yellow, purple, orange. Kernel (orange), JIT (green) and inline (aqua) frames keep " \
	  "their colours." }, \
	{ "hash", 0, OCLI_HASH, NULL, "SVG: colour by a hash of the name, stable across graphs." }, \
	{ "reverse", 0, OCLI_REVERSE, NULL, "SVG: reverse stacks (leaf functions at the root)." }, \
	{ "inverted", 0, OCLI_INVERTED, NULL, "SVG: icicle graph, root at the top." }, \
	{ "countname", 0, OCLI_COUNTNAME, "NAME", "SVG: unit of counts in tooltips (default samples)." }

#define OUTPUT_CLI_INPUT_OPTIONS \
	{ "strict", 0, OCLI_STRICT, NULL, \
	  "Fail on the first malformed input line or record instead of skipping it (skipped " \
	  "lines are reported with their line number)." }, \
	{ "lenient", 0, OCLI_LENIENT, NULL, \
	  "Folded input: read a file in which no line is \"STACK COUNT\" as an empty profile " \
	  "(with warnings) instead of refusing it (exit 7)." }, \
	{ "sample-index", 0, OCLI_SAMPLE_INDEX, "NAME|N", \
	  "pprof input: the sample type to read, by name (inuse_space, alloc_objects, cpu, " \
	  "samples, ...) or 0-based index, as go tool pprof -sample_index (default: the " \
	  "profile's default_sample_type, else its last type). Values keep their unit: " \
	  "bytes, nanoseconds, counts." }, \
	{ "event", 0, OCLI_EVENT, "NAME", \
	  "perf script input: read the records of event NAME (as perf script prints it, e.g. " \
	  "cycles:u; default the first event in the file; the others are named on stderr)." }, \
	{ "weight", 0, OCLI_WEIGHT, "auto|samples|period", \
	  "perf script input: what a record counts: its period (events, or ns of cpu-clock), " \
	  "or one sample. auto (default): the period when every record has one, as " \
	  "stackcollapse-perf.pl counts." }

/* The last entries of a file command's table: -v, -h (@help_id) and the terminator. */
#define OUTPUT_CLI_END_OPTIONS(help_id) \
	{ "verbose", 'v', 0, NULL, "More messages on stderr." }, \
	{ "help", 'h', help_id, NULL, "This help." }, \
	{ NULL, 0, 0, NULL, NULL }

#define OUTPUT_CLI_ROOT_OPTIONS \
	{ "per-pid", 0, OCLI_PER_PID, NULL, "Root frames \"name-PID\" (folded and SVG)." }, \
	{ "per-thread", 0, OCLI_PER_THREAD, NULL, "A \"thread-TID\" frame under each process." }
// clang-format on

/* Documentation of the commands (option tables, for help and man pages). */
extern const struct cli_command cli_report_command;
extern const struct cli_command cli_convert_command;
extern const struct cli_command cli_diff_command;
extern const struct cli_command cli_query_command;

/*
 * convert's engine, run as @cmd: cli_convert_command, or cli_query_command
 * (cmd_query.c), whose table uses the same option ids: query is convert with
 * its inputs always read as a history (tools/cmd_convert.c).
 */
enum convert_option_id {
	CONVERT_OPT_FORMAT = 1,
	CONVERT_OPT_INPUT_FORMAT,
	CONVERT_OPT_LABEL,
	CONVERT_OPT_HELP,
};
int cmd_convert_as(int argc, char **argv, const struct cli_command *cmd);

/* Longest option table of a file command, terminator included (entries). */
#define OUTPUT_CLI_MAX_OPTIONS 64

struct output_cli {
	struct ember_svg_opts svg;
	struct ember_folded_opts folded;
	struct ember_read_opts read;
	/* getopt_long's tables, made from the command's cli_option table */
	struct option longopts[OUTPUT_CLI_MAX_OPTIONS];
	char shortopts[OUTPUT_CLI_MAX_OPTIONS * 2 + 3];
};

/*
 * Sets the shared options to their defaults and makes getopt_long's tables
 * from @options; resets optind for a fresh parse. 0 or -E2BIG.
 */
int output_cli_init(struct output_cli *c, const struct cli_option *options);

/*
 * Handles option @id with argument @arg when it is one of the shared ones:
 * returns 1 when handled, 0 when not ours, or EMBER_EXIT_USAGE's negative on a
 * bad value (a message was printed).
 */
int output_cli_option(struct output_cli *c, int id, const char *arg);

/* Exit codes of convert and diff, for their help and man page (-1 ends the list). */
extern const int output_cli_exit_codes[];
/* The same and EMBER_EXIT_NO_DATA, for commands that read agent histories too. */
extern const int output_cli_history_exit_codes[];

/* Exit code for a failed read (-errno @err). */
int output_cli_read_exit(int err);
/* Exit code for a failed write. */
int output_cli_write_exit(int err);

#endif /* EMBER_OUTPUT_CLI_H */
