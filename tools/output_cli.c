// SPDX-License-Identifier: MIT
/* Flags shared by the commands that read profiles and write flamegraphs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "output_cli.h"

int output_cli_init(struct output_cli *c, const struct cli_option *options)
{
	memset(c, 0, sizeof(*c));
	c->svg.sz = sizeof(c->svg);
	c->svg.minwidth = -1;
	c->folded.sz = sizeof(c->folded);
	c->read.sz = sizeof(c->read);
	optind = 1;
	return cli_getopt_tables(options, c->longopts, OUTPUT_CLI_MAX_OPTIONS, c->shortopts);
}

static bool known_palette(const char *s)
{
	static const char *const names[] = {"ember", "hot",  "mem",    "io",	 "red",	  "green",
					    "blue",  "aqua", "yellow", "purple", "orange"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return true;
	return false;
}

int output_cli_option(struct output_cli *c, int id, const char *arg)
{
	uint64_t v;
	char *end;
	double d;

	switch (id) {
	case OCLI_TITLE:
		c->svg.title = arg;
		return 1;
	case OCLI_SUBTITLE:
		c->svg.subtitle = arg;
		return 1;
	case OCLI_WIDTH:
		if (cli_parse_u64("width", arg, 100, 100000, &v))
			return -EMBER_EXIT_USAGE;
		c->svg.width = (uint32_t)v;
		return 1;
	case OCLI_MINWIDTH:
		errno = 0;
		d = strtod(arg, &end);
		if (errno || end == arg || *end || !(d >= 0 && d <= 10000)) {
			fprintf(stderr,
				"ember: invalid value for --minwidth: '%s' (expected pixels, "
				"0..10000)\n",
				arg);
			return -EMBER_EXIT_USAGE;
		}
		/* 0 asks for every frame; the library reads 0 as "default". */
		c->svg.minwidth = d > 0 ? d : 1e-9;
		return 1;
	case OCLI_COLORS:
		if (!known_palette(arg)) {
			fprintf(stderr,
				"ember: invalid value for --colors: '%s' (expected ember, hot, "
				"mem, io, red, green, blue, aqua, yellow, purple, orange)\n",
				arg);
			return -EMBER_EXIT_USAGE;
		}
		c->svg.colors = arg;
		return 1;
	case OCLI_HASH:
		c->svg.hash = true;
		return 1;
	case OCLI_REVERSE:
		c->svg.reverse = true;
		return 1;
	case OCLI_INVERTED:
		c->svg.inverted = true;
		return 1;
	case OCLI_COUNTNAME:
		c->svg.countname = arg;
		return 1;
	case OCLI_STRICT:
		c->read.strict = true;
		return 1;
	case OCLI_LENIENT:
		c->read.lenient = true;
		return 1;
	case OCLI_SAMPLE_INDEX:
		if (!*arg) {
			fprintf(stderr, "ember: invalid value for --sample-index: '' (expected a "
					"sample type name or index)\n");
			return -EMBER_EXIT_USAGE;
		}
		c->read.sample_index = arg;
		return 1;
	case OCLI_EVENT:
		c->read.event = arg;
		return 1;
	case OCLI_WEIGHT:
		if (strcmp(arg, "auto") == 0)
			c->read.weight = EMBER_WEIGHT_AUTO;
		else if (strcmp(arg, "samples") == 0)
			c->read.weight = EMBER_WEIGHT_SAMPLES;
		else if (strcmp(arg, "period") == 0)
			c->read.weight = EMBER_WEIGHT_PERIOD;
		else {
			fprintf(stderr,
				"ember: invalid value for --weight: '%s' (expected auto, samples "
				"or period)\n",
				arg);
			return -EMBER_EXIT_USAGE;
		}
		return 1;
	case OCLI_PER_PID:
		c->svg.per_pid = c->folded.per_pid = true;
		return 1;
	case OCLI_PER_THREAD:
		c->svg.per_thread = c->folded.per_thread = true;
		return 1;
	default:
		return 0;
	}
}

const int output_cli_exit_codes[] = {
    EMBER_EXIT_OK, EMBER_EXIT_FAILURE, EMBER_EXIT_USAGE, EMBER_EXIT_OUTPUT, EMBER_EXIT_INPUT, -1,
};

const int output_cli_history_exit_codes[] = {
    EMBER_EXIT_OK,
    EMBER_EXIT_FAILURE,
    EMBER_EXIT_USAGE,
    EMBER_EXIT_OUTPUT,
    EMBER_EXIT_INPUT,
    EMBER_EXIT_NO_DATA,
    -1,
};

int output_cli_read_exit(int err)
{
	return err == -ENOMEM ? EMBER_EXIT_FAILURE : EMBER_EXIT_INPUT;
}

int output_cli_write_exit(int err)
{
	return err == -ENOMEM ? EMBER_EXIT_FAILURE : EMBER_EXIT_OUTPUT;
}
