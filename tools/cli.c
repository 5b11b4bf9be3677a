// SPDX-License-Identifier: MIT
/*
 * Option tables to getopt, help text and man pages (options and exit codes);
 * usage errors. The value parsers are in cli_values.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

int cli_getopt_tables(const struct cli_option *opts, struct option *longopts, size_t max,
		      char *shortopts)
{
	size_t n = 0, s = 0;

	shortopts[s++] = '+'; /* stop at the first non-option: "-- CMD" and CMD's own flags */
	shortopts[s++] = ':'; /* report a missing value as ':' rather than '?' */
	for (; opts->long_name; opts++) {
		if (n + 1 >= max)
			return -E2BIG;
		longopts[n].name = opts->long_name;
		longopts[n].has_arg = opts->arg ? required_argument : no_argument;
		longopts[n].flag = NULL;
		longopts[n].val = opts->short_name ? opts->short_name : opts->id;
		n++;
		if (opts->short_name) {
			shortopts[s++] = (char)opts->short_name;
			if (opts->arg)
				shortopts[s++] = ':';
		}
	}
	memset(&longopts[n], 0, sizeof(longopts[n]));
	shortopts[s] = '\0';
	return 0;
}

/* Wraps @text at 100 columns with @indent spaces on every line. */
static void print_wrapped(FILE *out, const char *text, int indent)
{
	const int width = 100;
	int col = indent;
	const char *p = text;

	fprintf(out, "%*s", indent, "");
	while (*p) {
		size_t word = strcspn(p, " \n");

		if (col > indent && col + (int)word + 1 > width) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', out);
			col++;
		}
		fwrite(p, 1, word, out);
		col += (int)word;
		p += word;
		if (*p == '\n') {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		}
		while (*p == ' ' || *p == '\n')
			p++;
	}
	fputc('\n', out);
}

/* Meaning of each enum ember_exit code, as README "Exit codes" documents it. */
static const char *const exit_meanings[] = {
    [EMBER_EXIT_OK] = "success",
    [EMBER_EXIT_FAILURE] = "runtime failure (I/O, out of memory, perf or BPF refused for "
			   "another reason)",
    [EMBER_EXIT_USAGE] = "bad flags or values (of a flag or config key)",
    [EMBER_EXIT_PERMISSION] = "missing capability (CAP_BPF and CAP_PERFMON, or root)",
    [EMBER_EXIT_UNSUPPORTED] = "kernel without BTF or a needed BPF feature (the verifier "
			       "rejected the sampler)",
    [EMBER_EXIT_NO_TARGET] = "no such process (--pid) or cgroup (--cgroup)",
    [EMBER_EXIT_OUTPUT] = "the output path cannot be written",
    [EMBER_EXIT_INPUT] = "an input file is unreadable or malformed",
    [EMBER_EXIT_NO_DATA] = "no window of the history lies in the time range (or no sample "
			   "matches --where)",
};

static const char *exit_meaning(int code)
{
	if (code < 0 || (size_t)code >= sizeof(exit_meanings) / sizeof(exit_meanings[0]))
		return "";
	return exit_meanings[code];
}

void cli_print_help(FILE *out, const struct cli_command *cmd)
{
	const struct cli_option *o;
	const int *c;

	fprintf(out, "Usage: %s\n\n", cmd->synopsis);
	print_wrapped(out, cmd->description, 0);
	fprintf(out, "\nOptions:\n");
	for (o = cmd->options; o->long_name; o++) {
		if (o->short_name)
			fprintf(out, "  -%c, --%s%s%s\n", o->short_name, o->long_name,
				o->arg ? " " : "", o->arg ? o->arg : "");
		else
			fprintf(out, "      --%s%s%s\n", o->long_name, o->arg ? " " : "",
				o->arg ? o->arg : "");
		print_wrapped(out, o->help, 10);
	}
	if (!cmd->exit_codes)
		return;
	fprintf(out, "\nExit status:\n");
	for (c = cmd->exit_codes; *c >= 0; c++)
		fprintf(out, "  %d  %s\n", *c, exit_meaning(*c));
}

static void man_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '-')
			fputs("\\-", out);
		else if (*s == '\n')
			fputs("\n.br\n", out);
		else
			fputc(*s, out);
	}
}

void cli_print_man(FILE *out, const struct cli_command *cmd)
{
	const struct cli_option *o;
	const int *c;

	fprintf(out, ".SH \"EMBER %s\"\n", cmd->name);
	fprintf(out, ".B ");
	man_escape(out, cmd->synopsis);
	fprintf(out, "\n.PP\n");
	man_escape(out, cmd->description);
	fprintf(out, "\n");
	for (o = cmd->options; o->long_name; o++) {
		fprintf(out, ".TP\n.B ");
		if (o->short_name)
			fprintf(out, "\\-%c, ", o->short_name);
		fprintf(out, "\\-\\-");
		man_escape(out, o->long_name);
		if (o->arg) {
			fprintf(out, " \\fI");
			man_escape(out, o->arg);
			fprintf(out, "\\fR");
		}
		fprintf(out, "\n");
		man_escape(out, o->help);
		fprintf(out, "\n");
	}
	if (!cmd->exit_codes)
		return;
	fprintf(out, ".SS \"Exit status of ember %s\"\n", cmd->name);
	for (c = cmd->exit_codes; *c >= 0; c++) {
		fprintf(out, ".TP\n.B %d\n", *c);
		man_escape(out, exit_meaning(*c));
		fprintf(out, "\n");
	}
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("ember: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'ember help %s')\n", cmd);
	return EMBER_EXIT_USAGE;
}
