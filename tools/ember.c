// SPDX-License-Identifier: MIT
/*
 * ember: the command-line entry point. Dispatches to subcommands; `ember help
 * CMD` and `ember man` render the option tables each subcommand documents.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "output_cli.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const struct cli_command *doc; /* its options, for help and the man page */
};

static const struct subcommand subcommands[] = {
    {"record", cmd_record, "sample CPU stacks and write a profile (like perf record + flamegraph)",
     &cli_record_command},
    {"symbolize", cmd_symbolize, "resolve addresses of a file or process to functions and lines",
     &cli_symbolize_command},
    {"report", cmd_report, "top functions of a profile, flat and cumulative", &cli_report_command},
    {"convert", cmd_convert, "convert between folded, pprof, SVG and speedscope",
     &cli_convert_command},
    {"diff", cmd_diff, "differential flamegraph of two profiles", &cli_diff_command},
    {"query", cmd_query, "merge an agent's windows by time range and labels into one profile",
     &cli_query_command},
    {"serve", cmd_serve, "web UI over a profile or an agent's history: timeline, flamegraph, diff",
     &cli_serve_command},
    {"agent", cmd_agent, "always-on profiler writing a profile every window", &cli_agent_command},
};

#define NR_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: ember COMMAND [OPTIONS]\n\n"
		"ember is a continuous CPU profiler for Linux: eBPF stack sampling on every\n"
		"CPU, symbolized on the host, written as folded stacks, pprof or flamegraphs.\n\n"
		"Commands:\n");
	for (i = 0; i < NR_SUBCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\n  ember help COMMAND   options of COMMAND\n"
		     "  ember --version      version\n"
		     "  ember man            the manual page (roff) on stdout\n");
}

static const struct subcommand *find(const char *name)
{
	size_t i;

	for (i = 0; i < NR_SUBCOMMANDS; i++)
		if (strcmp(subcommands[i].name, name) == 0)
			return &subcommands[i];
	return NULL;
}

static int help(const char *name)
{
	const struct subcommand *sc = find(name);
	char *argv[] = {(char *)name, (char *)"--help", NULL};

	if (!sc) {
		fprintf(stderr, "ember: unknown command '%s' (see 'ember --help')\n", name);
		return EMBER_EXIT_USAGE;
	}
	if (sc->doc) {
		cli_print_help(stdout, sc->doc);
		return EMBER_EXIT_OK;
	}
	return sc->run(2, argv);
}

static int man(void)
{
	size_t i;

	printf(".TH EMBER 1 \"\" \"ember %s\" \"User Commands\"\n"
	       ".SH NAME\nember \\- continuous CPU profiler for Linux\n"
	       ".SH SYNOPSIS\n.B ember\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n"
	       ".SH EXIT STATUS\n0 success; 1 runtime failure; 2 bad flags or values; "
	       "3 missing capability; 4 kernel lacks BTF or a feature; 5 no such process; "
	       "6 output not writable; 7 bad input file; 8 no window in the time range.\n"
	       "With \\-\\- CMD, CMD's own status.\n",
	       EMBER_VERSION);
	for (i = 0; i < NR_SUBCOMMANDS; i++)
		if (subcommands[i].doc)
			cli_print_man(stdout, subcommands[i].doc);
	return EMBER_EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct subcommand *sc;

	if (argc < 2) {
		usage(stderr);
		return EMBER_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EMBER_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("ember %s\n", EMBER_VERSION);
		return EMBER_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return EMBER_EXIT_OK;
		}
		return help(argv[2]);
	}
	if (strcmp(argv[1], "man") == 0)
		return man();
	sc = find(argv[1]);
	if (!sc) {
		fprintf(stderr, "ember: unknown command '%s' (see 'ember --help')\n", argv[1]);
		return EMBER_EXIT_USAGE;
	}
	return sc->run(argc - 1, argv + 1);
}
