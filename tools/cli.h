/* SPDX-License-Identifier: MIT */
/*
 * Command-line plumbing shared by the subcommands. Each option is documented
 * once, in a struct cli_option table next to the command that uses it; the
 * getopt table, `--help` text and the man page (`ember man`) are generated from
 * those tables, so they cannot drift apart (cli.c). Every command also takes
 * its values through the one grammar of each kind (cli_values.c), and the
 * commands that sample share one privilege check and one mapping of sampler
 * errors to exit codes (cli_sampler.c). Nothing here is thread-safe; nothing
 * returns memory the caller must free.
 */
#ifndef EMBER_CLI_H
#define EMBER_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
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
	/*
	 * enum ember_exit codes the command can exit with, ended by -1, listed
	 * with their meaning under "Exit status" in help and man page; NULL: none.
	 */
	const int *exit_codes;
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

/* Reports a usage error "ember: MESSAGE" plus a hint to `ember help CMD`; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * ---- values (tools/cli_values.c) -------------------------------------------
 * The one grammar of each kind of value, for flags and config keys alike.
 * Functions with a @flag print "ember: invalid value for --FLAG: 'S' (WHY)";
 * those with @why write WHY (at most @why_size bytes) for the caller to place.
 */

/*
 * Parses @s as a whole decimal integer (digits only) in [@min, @max]. Returns
 * 0, or -EINVAL with "expected @min..@max" in @why.
 */
int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why,
		   size_t why_size);

/*
 * cli_parse_uint of flag --@flag. On failure prints
 * "ember: invalid value for --@flag: '@s' (expected @min..@max)" and returns -EINVAL.
 */
int cli_parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out);

#define CLI_DURATION_ZERO  1u		    /* cli_parse_duration: 0 is allowed ("no limit") */
#define CLI_DURATION_MAX_S (3650 * 86400.0) /* longest duration, seconds (10 years) */

/*
 * Parses a duration: a decimal number ("10", "2.5", ".5") and an optional unit,
 * ms, s, m, h or d ("500ms", "10s", "5m", "2h", "7d"); no unit means seconds.
 * Writes seconds to *@out_s. The value must be > 0 (>= 0 with CLI_DURATION_ZERO
 * in @flags) and at most CLI_DURATION_MAX_S. Returns 0, or -EINVAL with the
 * expected form in @why.
 */
int cli_parse_duration(const char *s, unsigned int flags, double *out_s, char *why,
		       size_t why_size);

/* cli_parse_duration (> 0) of flag --@flag; prints the error. 0 or -EINVAL. */
int cli_parse_seconds(const char *flag, const char *s, double *out_s);

#define CLI_LABEL_KEY_MAX 200 /* bytes of a label key */

struct cli_label {
	char key[CLI_LABEL_KEY_MAX + 1];
	const char *value; /* points into the string parsed; valid as long as it is */
};

/*
 * Checks a label key: 1..CLI_LABEL_KEY_MAX letters, digits and '_', not
 * starting with a digit (Prometheus and Pyroscope label names, so a label
 * survives every backend). Returns 0, or -EINVAL with the rule in @why.
 */
int cli_check_label_key(const char *key, char *why, size_t why_size);

/*
 * Parses "KEY=VALUE" (@s) for flag --label of command @cmd into @out; the
 * value may be empty and may contain '='. On failure prints the usage error
 * "ember: invalid value for --label: '@s' (WHY) (see 'ember help @cmd')" and
 * returns -EINVAL.
 */
int cli_parse_label(const char *cmd, const char *s, struct cli_label *out);

/*
 * ---- commands that run the sampler (tools/cli_sampler.c) -------------------
 */

/*
 * Checks that this process may load the sampler and open system-wide perf
 * events: CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN. When it may not, prints
 * "ember: missing capability CAP_X: run as root or @remedy" and returns
 * EMBER_EXIT_PERMISSION; otherwise (also when it cannot tell: the kernel then
 * decides) returns 0.
 */
int cli_check_sampler_privileges(const char *remedy);

/* Where a sampler error came from. */
enum cli_sampler_step {
	CLI_SAMPLER_LOAD,  /* collector__new: loading and verifying the BPF sampler */
	CLI_SAMPLER_START, /* collector__start: opening the cpu-clock perf events */
};

/*
 * The exit code (enum ember_exit) for error @err (a negative errno) of @step:
 * EMBER_EXIT_PERMISSION when the kernel wants privileges (-EPERM on load,
 * -EPERM or -EACCES from perf_event_open), EMBER_EXIT_UNSUPPORTED when it
 * rejected the sampler itself (-EACCES, -EINVAL on load: the verifier or a
 * missing feature), EMBER_EXIT_FAILURE otherwise.
 */
int cli_sampler_exit_code(enum cli_sampler_step step, int err);

/* Prints the one-line message for @err of @step; returns cli_sampler_exit_code(). */
int cli_sampler_error(enum cli_sampler_step step, int err);

/*
 * The absolute paths of the files command @name (as execvp would run it) maps
 * first: its executable (or a script's interpreter, through env), that one's
 * ELF interpreter, and this process's C library; into *@paths (*@n of them, at
 * most 8; free with cli_command_files_free). A command not found gives only
 * the C library. 0 or -ENOMEM.
 */
int cli_command_files(const char *name, char ***paths, size_t *n);
void cli_command_files_free(char **paths, size_t n);

extern const struct cli_command cli_record_command;
extern const struct cli_command cli_agent_command;
extern const struct cli_command cli_symbolize_command;

#endif /* EMBER_CLI_H */
