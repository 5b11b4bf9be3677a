// SPDX-License-Identifier: MIT
/*
 * Logging for every ember module (one line per message on stderr, never stdout).
 * Clocks are in clock.c, the online-CPU list in cpu_list.c.
 */
#include <stdarg.h>
#include <stdio.h>

#include "support.h"

static enum ember_log_level log_level = EMBER_LOG_WARN;

void ember_log_set_level(enum ember_log_level level)
{
	log_level = level;
}

enum ember_log_level ember_log_get_level(void)
{
	return log_level;
}

void ember_log(enum ember_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	/* One fprintf per piece; stderr is unbuffered, and lines stay whole enough for a CLI. */
	fputs("ember: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
