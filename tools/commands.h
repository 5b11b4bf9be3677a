/* SPDX-License-Identifier: MIT */
/*
 * The ember subcommands. Each lives in tools/cmd_<name>.c, takes the arguments
 * after its name (argv[0] is the subcommand), and returns the process exit code
 * (see enum ember_exit).
 */
#ifndef EMBER_COMMANDS_H
#define EMBER_COMMANDS_H

/* Documented exit codes (README "Exit codes"). */
enum ember_exit {
	EMBER_EXIT_OK = 0,
	EMBER_EXIT_FAILURE = 1,	    /* runtime failure (I/O, out of memory, kernel refused) */
	EMBER_EXIT_USAGE = 2,	    /* bad flags or flag values */
	EMBER_EXIT_PERMISSION = 3,  /* missing capability (CAP_BPF, CAP_PERFMON) */
	EMBER_EXIT_UNSUPPORTED = 4, /* kernel lacks BTF or a needed feature */
	EMBER_EXIT_NO_TARGET = 5,   /* named process does not exist */
	EMBER_EXIT_OUTPUT = 6,	    /* output path cannot be written */
	EMBER_EXIT_INPUT = 7,	    /* input file unreadable or malformed */
	EMBER_EXIT_NO_DATA = 8,	    /* a history selection holds no window (or no sample) */
};

int cmd_record(int argc, char **argv);
int cmd_symbolize(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Documentation of `ember serve` (tools/serve/cmd_serve.c). */
struct cli_command;
extern const struct cli_command cli_serve_command;

#endif /* EMBER_COMMANDS_H */
