// SPDX-License-Identifier: MIT
/* Logging for every ember module: one line per message on stderr, never stdout. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

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

uint64_t ember_now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ember_now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
