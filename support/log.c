// SPDX-License-Identifier: MIT
/*
 * Logging for every ember module (one line per message on stderr, never stdout),
 * clocks, and the online-CPU list.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

void ember_online_cpus(char *buf, size_t size)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
}

bool ember_cpu_in_list(const char *list, int cpu)
{
	const char *p = list;

	if (!*list)
		return true;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;

		if (end == p)
			break;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		if (cpu >= a && cpu <= b)
			return true;
		p = *end == ',' ? end + 1 : end;
		if (*p == '\n')
			break;
	}
	return false;
}
