// SPDX-License-Identifier: MIT
/*
 * Unit tests of the CLI toolkit (tools/cli.h): the duration grammar every flag
 * and config key shares, label keys, numbers, the sampler error to exit code
 * mapping, the exit-status section of generated help, and the files a command
 * maps first (for record -- CMD to load their unwind tables).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "test.h"

/* Seconds of @s, asserting that it parses; exact units compare within 1 ns. */
#define ASSERT_DURATION(s, flags, want)                                                    \
	do {                                                                               \
		double got_ = -1;                                                          \
		char why_[128] = "";                                                       \
		if (cli_parse_duration((s), (flags), &got_, why_, sizeof(why_)) != 0)      \
			TEST_FAIL("'%s' should parse: %s", (s), why_);                     \
		if (fabs(got_ - (want)) > 1e-9)                                            \
			TEST_FAIL("'%s': %.9f s, want %.9f s", (s), got_, (double)(want)); \
	} while (0)

static bool duration_fails(const char *s, unsigned int flags)
{
	double v = 42;
	char why[128] = "";

	if (cli_parse_duration(s, flags, &v, why, sizeof(why)) != -EINVAL)
		return false;
	/* The value is untouched and the reason names the grammar. */
	return v == 42 && strstr(why, "expected a duration") && strstr(why, "7d");
}

static void test_durations(void)
{
	ASSERT_DURATION("500ms", 0, 0.5);
	ASSERT_DURATION("10s", 0, 10);
	ASSERT_DURATION("10", 0, 10); /* no unit: seconds */
	ASSERT_DURATION("2.5", 0, 2.5);
	ASSERT_DURATION(".5s", 0, 0.5);
	ASSERT_DURATION("3.", 0, 3);
	ASSERT_DURATION("5m", 0, 300);
	ASSERT_DURATION("2h", 0, 7200);
	ASSERT_DURATION("7d", 0, 7 * 86400);
	ASSERT_DURATION("1d", 0, 86400);
	ASSERT_DURATION("1.5ms", 0, 0.0015);
	ASSERT_DURATION("3650d", 0, CLI_DURATION_MAX_S);
	ASSERT_DURATION("0", CLI_DURATION_ZERO, 0);
	ASSERT_DURATION("0s", CLI_DURATION_ZERO, 0);

	/* Zero only where it means "no limit". */
	ASSERT(duration_fails("0", 0));
	ASSERT(duration_fails("0ms", 0));
	ASSERT(duration_fails("0.0", 0));
	/* Not DIGITS[.DIGITS]UNIT. */
	ASSERT(duration_fails("", 0));
	ASSERT(duration_fails(NULL, 0));
	ASSERT(duration_fails("soon", 0));
	ASSERT(duration_fails("-1", CLI_DURATION_ZERO));
	ASSERT(duration_fails("+1", 0));
	ASSERT(duration_fails(" 1", 0));
	ASSERT(duration_fails("1 ", 0));
	ASSERT(duration_fails(".", 0));
	ASSERT(duration_fails("s", 0));
	ASSERT(duration_fails("ms", 0));
	ASSERT(duration_fails("1w", 0));
	ASSERT(duration_fails("1sec", 0));
	ASSERT(duration_fails("1S", 0));
	ASSERT(duration_fails("1mss", 0));
	ASSERT(duration_fails("1..5", 0));
	ASSERT(duration_fails("1e3", 0));
	ASSERT(duration_fails("0x10", 0));
	ASSERT(duration_fails("inf", 0));
	ASSERT(duration_fails("nan", 0));
	ASSERT(duration_fails("1d2h", 0));
	/* Overflow: past the longest duration, and past what a double holds. */
	ASSERT(duration_fails("3651d", 0));
	ASSERT(duration_fails("315360001", 0));
	ASSERT(duration_fails("99999999999999999999999999d", 0));
	{
		char big[400];

		memset(big, '9', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ASSERT(duration_fails(big, CLI_DURATION_ZERO));
	}
	/* The reason says whether 0 was allowed. */
	{
		char why[128];
		double v;

		ASSERT_EQ(cli_parse_duration("x", 0, &v, why, sizeof(why)), -EINVAL);
		ASSERT_STR_EQ(why, "expected a duration > 0: 10, 2.5s, 500ms, 1m, 2h, 7d");
		ASSERT_EQ(cli_parse_duration("x", CLI_DURATION_ZERO, &v, why, sizeof(why)),
			  -EINVAL);
		ASSERT_STR_EQ(why,
			      "expected a duration (0: no limit): 10, 2.5s, 500ms, 1m, 2h, 7d");
	}
}

static void test_seconds_flag(void)
{
	double v = 0;

	ASSERT_EQ(cli_parse_seconds("duration", "1d", &v), 0);
	ASSERT(fabs(v - 86400) < 1e-9);
	ASSERT_EQ(cli_parse_seconds("duration", "500ms", &v), 0);
	ASSERT(fabs(v - 0.5) < 1e-9);
	ASSERT_EQ(cli_parse_seconds("duration", "-1", &v), -EINVAL);
	ASSERT_EQ(cli_parse_seconds("duration", "0", &v), -EINVAL);
	ASSERT_EQ(cli_parse_seconds("duration", NULL, &v), -EINVAL);
}

static void test_labels(void)
{
	struct cli_label l;
	char key[CLI_LABEL_KEY_MAX + 2], arg[CLI_LABEL_KEY_MAX + 8], why[128];

	ASSERT_EQ(cli_parse_label("record", "service=web", &l), 0);
	ASSERT_STR_EQ(l.key, "service");
	ASSERT_STR_EQ(l.value, "web");
	ASSERT_EQ(cli_parse_label("record", "_k9=", &l), 0); /* empty value */
	ASSERT_STR_EQ(l.key, "_k9");
	ASSERT_STR_EQ(l.value, "");
	ASSERT_EQ(cli_parse_label("record", "env=a=b", &l), 0); /* the first '=' splits */
	ASSERT_STR_EQ(l.key, "env");
	ASSERT_STR_EQ(l.value, "a=b");

	ASSERT_EQ(cli_parse_label("record", "novalue", &l), -EINVAL);
	ASSERT_EQ(cli_parse_label("record", "=x", &l), -EINVAL);
	ASSERT_EQ(cli_parse_label("record", "", &l), -EINVAL);
	ASSERT_EQ(cli_parse_label("agent", "bad-name=x", &l), -EINVAL);
	ASSERT_EQ(cli_parse_label("agent", "9lives=x", &l), -EINVAL);
	ASSERT_EQ(cli_parse_label("agent", "a b=x", &l), -EINVAL);
	ASSERT_EQ(cli_parse_label("agent", "k.x=y", &l), -EINVAL);

	/* Keys of exactly CLI_LABEL_KEY_MAX bytes pass; one more does not. */
	memset(key, 'k', CLI_LABEL_KEY_MAX);
	key[CLI_LABEL_KEY_MAX] = '\0';
	ASSERT_EQ(cli_check_label_key(key, why, sizeof(why)), 0);
	snprintf(arg, sizeof(arg), "%s=v", key);
	ASSERT_EQ(cli_parse_label("convert", arg, &l), 0);
	ASSERT_STR_EQ(l.key, key);
	ASSERT_STR_EQ(l.value, "v");
	key[CLI_LABEL_KEY_MAX] = 'k';
	key[CLI_LABEL_KEY_MAX + 1] = '\0';
	ASSERT_EQ(cli_check_label_key(key, why, sizeof(why)), -EINVAL);
	snprintf(arg, sizeof(arg), "%s=v", key);
	ASSERT_EQ(cli_parse_label("convert", arg, &l), -EINVAL);

	ASSERT_EQ(cli_check_label_key("", why, sizeof(why)), -EINVAL);
	ASSERT_EQ(cli_check_label_key("bad-name", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "letters, digits and '_', not starting with a digit"));
	ASSERT_EQ(cli_check_label_key("Service_2", why, sizeof(why)), 0);
}

static void test_u64(void)
{
	uint64_t v = 0;

	ASSERT_EQ(cli_parse_u64("frequency", "99", 1, 20000, &v), 0);
	ASSERT_EQ(v, 99);
	ASSERT_EQ(cli_parse_u64("frequency", "0", 1, 20000, &v), -EINVAL);
	ASSERT_EQ(cli_parse_u64("frequency", "20001", 1, 20000, &v), -EINVAL);
	ASSERT_EQ(cli_parse_u64("frequency", "-1", 0, 20000, &v), -EINVAL);
	ASSERT_EQ(cli_parse_u64("frequency", " 1", 0, 20000, &v), -EINVAL);
	ASSERT_EQ(cli_parse_u64("frequency", "", 0, 20000, &v), -EINVAL);
	ASSERT_EQ(cli_parse_u64("frequency", NULL, 0, 20000, &v), -EINVAL);
	ASSERT_EQ(cli_parse_u64("frequency", "1x", 0, 20000, &v), -EINVAL);
	ASSERT_EQ(cli_parse_u64("frequency", "99999999999999999999999", 0, UINT64_MAX, &v),
		  -EINVAL);
	ASSERT_EQ(v, 99);
	{
		char why[64];

		ASSERT_EQ(cli_parse_uint("70000", 0, 65535, &v, why, sizeof(why)), -EINVAL);
		ASSERT_STR_EQ(why, "expected 0..65535");
		ASSERT_EQ(cli_parse_uint("65535", 0, 65535, &v, why, sizeof(why)), 0);
		ASSERT_EQ(v, 65535);
	}
}

static void test_sampler_exit_codes(void)
{
	ASSERT_EQ(cli_sampler_exit_code(CLI_SAMPLER_LOAD, -EPERM), EMBER_EXIT_PERMISSION);
	ASSERT_EQ(cli_sampler_exit_code(CLI_SAMPLER_LOAD, -EACCES), EMBER_EXIT_UNSUPPORTED);
	ASSERT_EQ(cli_sampler_exit_code(CLI_SAMPLER_LOAD, -EINVAL), EMBER_EXIT_UNSUPPORTED);
	ASSERT_EQ(cli_sampler_exit_code(CLI_SAMPLER_LOAD, -ENOMEM), EMBER_EXIT_FAILURE);
	ASSERT_EQ(cli_sampler_exit_code(CLI_SAMPLER_START, -EPERM), EMBER_EXIT_PERMISSION);
	ASSERT_EQ(cli_sampler_exit_code(CLI_SAMPLER_START, -EACCES), EMBER_EXIT_PERMISSION);
	ASSERT_EQ(cli_sampler_exit_code(CLI_SAMPLER_START, -ENODEV), EMBER_EXIT_FAILURE);
	/* The message variant maps the same way. */
	ASSERT_EQ(cli_sampler_error(CLI_SAMPLER_LOAD, -EACCES), EMBER_EXIT_UNSUPPORTED);
	ASSERT_EQ(cli_sampler_error(CLI_SAMPLER_START, -EACCES), EMBER_EXIT_PERMISSION);
}

static void test_help_exit_status(void)
{
	static const struct cli_option opts[] = {
	    {"help", 'h', 0, NULL, "Show this help."},
	    {NULL, 0, 0, NULL, NULL},
	};
	static const int codes[] = {EMBER_EXIT_OK, EMBER_EXIT_PERMISSION, -1};
	const struct cli_command cmd = {.name = "t",
					.synopsis = "ember t",
					.summary = "test",
					.description = "A test.",
					.options = opts,
					.exit_codes = codes};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ASSERT(f);
	cli_print_help(f, &cmd);
	cli_print_man(f, &cmd);
	ASSERT_EQ(fclose(f), 0);
	ASSERT(strstr(text, "\nExit status:\n  0  success\n  3  missing capability"));
	ASSERT(strstr(text, ".SS \"Exit status of ember t\"\n.TP\n.B 0\nsuccess\n"
			    ".TP\n.B 3\nmissing capability"));
	ASSERT(!strstr(text, "  4  "));
	free(text);
}

/* Whether @want (a path, made canonical) is one of @paths. */
static bool has_file(char **paths, size_t n, const char *want)
{
	char *real = realpath(want, NULL);
	bool found = false;

	ASSERT(real);
	for (size_t i = 0; i < n; i++)
		found |= strcmp(paths[i], real) == 0;
	free(real);
	return found;
}

static void test_command_files(void)
{
	char dir[] = "/tmp/ember-cmdfiles-XXXXXX", script[PATH_MAX], *old_path;
	char **paths;
	size_t n, i;
	FILE *f;

	/* sh on PATH: the file it resolves to, its ld.so, and libc (ours is the same). */
	ASSERT_EQ(cli_command_files("sh", &paths, &n), 0);
	ASSERT_EQ(n, 3);
	ASSERT(has_file(paths, n, "/bin/sh"));
	ASSERT(has_file(paths, n, "/lib64/ld-linux-x86-64.so.2"));
	for (i = 0; i < n; i++)
		ASSERT_EQ(paths[i][0], '/');
	ASSERT(strstr(paths[2], "/libc.so") != NULL);
	cli_command_files_free(paths, n);
	/* A script through env: what runs is the interpreter it names, found on PATH. */
	ASSERT(mkdtemp(dir));
	snprintf(script, sizeof(script), "%s/tool", dir);
	f = fopen(script, "w");
	ASSERT(f);
	fputs("#!/usr/bin/env -S bash\necho hi\n", f);
	fclose(f);
	ASSERT_EQ(chmod(script, 0755), 0);
	old_path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	ASSERT(old_path);
	{
		char path[PATH_MAX + 64];

		snprintf(path, sizeof(path), "%s:%s", dir, old_path);
		setenv("PATH", path, 1);
	}
	ASSERT_EQ(cli_command_files("tool", &paths, &n), 0);
	setenv("PATH", old_path, 1);
	free(old_path);
	ASSERT_EQ(n, 3);
	ASSERT(has_file(paths, n, "/bin/bash"));
	ASSERT(!has_file(paths, n, script));
	cli_command_files_free(paths, n);
	unlink(script);
	rmdir(dir);
	/* Not found: only the C library (execvp will say the command is missing). */
	ASSERT_EQ(cli_command_files("no-such-command-ember", &paths, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT(strstr(paths[0], "/libc.so") != NULL);
	cli_command_files_free(paths, n);
}

int main(void)
{
	test_command_files();
	test_durations();
	test_seconds_flag();
	test_labels();
	test_u64();
	test_sampler_exit_codes();
	test_help_exit_status();
	printf("test_cli ok\n");
	return 0;
}
