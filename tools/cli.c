// SPDX-License-Identifier: MIT
/* Option tables to getopt, help text and man pages; number parsing with clear errors. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
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

void cli_print_help(FILE *out, const struct cli_command *cmd)
{
	const struct cli_option *o;

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

int cli_parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "ember: invalid value for --%s: '%s' (expected %llu..%llu)\n", flag,
		s ? s : "", (unsigned long long)min, (unsigned long long)max);
	return -EINVAL;
}

int cli_parse_seconds(const char *flag, const char *s, double *out)
{
	double v, mult = 1;
	char *end;

	errno = 0;
	if (!s || !*s)
		goto bad;
	v = strtod(s, &end);
	if (errno || end == s)
		goto bad;
	if (strcmp(end, "ms") == 0)
		mult = 0.001;
	else if (strcmp(end, "m") == 0)
		mult = 60;
	else if (strcmp(end, "h") == 0)
		mult = 3600;
	else if (*end && strcmp(end, "s") != 0)
		goto bad;
	v *= mult;
	if (!isfinite(v) || v <= 0 || v > 366.0 * 24 * 3600)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr,
		"ember: invalid value for --%s: '%s' (expected a duration > 0: 10, 2.5s, "
		"500ms, 1m)\n",
		flag, s ? s : "");
	return -EINVAL;
}
