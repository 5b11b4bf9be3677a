/* SPDX-License-Identifier: MIT */
/*
 * Command-line plumbing shared by the subcommands. Each option is documented
 * once, in a struct cli_option table next to the command that uses it; the
 * getopt table, `--help` text and the man page (`ember man`) are generated from
 * those tables, so they cannot drift apart.
 */
#ifndef EMBER_CLI_H
#define EMBER_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cli_option {
	const char *long_name; /* without "--"; NULL ends a table */
	int short_name;	       /* 0 when none; else the getopt value returned */
	int id;		       /* value getopt_long returns for the long form */
	const char *arg;       /* argument name, NULL for a flag */
	const char *help;      /* one paragraph, no trailing newline */
};

struct cli_command {
	const char *name;	 /* "record" */
	const char *synopsis;	 /* "ember record [OPTIONS] [-a | -p PID | -- CMD [ARGS]]" */
	const char *summary;	 /* one line */
	const char *description; /* paragraph(s) for the man page and help */
	const struct cli_option *options;
};

/*
 * Fills @longopts (room for @max entries) and @shortopts (room for @max*2+3
 * chars) from @opts for getopt_long. Returns 0 or -E2BIG.
 */
int cli_getopt_tables(const struct cli_option *opts, struct option *longopts, size_t max,
		      char *shortopts);

/* Writes `ember help CMD` text. */
void cli_print_help(FILE *out, const struct cli_command *cmd);

/* Writes the roff man-page section of @cmd. */
void cli_print_man(FILE *out, const struct cli_command *cmd);

/*
 * Parses @s as a whole decimal integer in [@min, @max]. On failure prints
 * "ember: invalid value for --@flag: '@s' (expected @min..@max)" and returns -EINVAL.
 */
int cli_parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses seconds: "10", "2.5", "500ms", "1m". -EINVAL with a message on failure. */
int cli_parse_seconds(const char *flag, const char *s, double *out);

/* Reports a usage error "ember: MESSAGE" plus a hint to `ember help CMD`; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const struct cli_command cli_record_command;
extern const struct cli_command cli_agent_command;
extern const struct cli_command cli_symbolize_command;

#endif /* EMBER_CLI_H */
