// SPDX-License-Identifier: MIT
/*
 * Times of history queries: RFC 3339 stamps, "now" and times relative to now,
 * all to nanoseconds since the epoch (CLOCK_REALTIME, the axis the agent's
 * windows start on).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.h"

#define NS_PER_S 1000000000ull

static const char time_forms[] = "expected RFC 3339 like 2026-12-01T14:00:00Z or "
				 "2026-12-01T14:00:00.5+01:00, now, or -30s, -10m, -1h, -2d";

/* Reads exactly @n digits at *@s into *@v; advances *@s. */
static bool digits(const char **s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		*v = *v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	return true;
}

static bool expect(const char **s, char c)
{
	if (**s != c)
		return false;
	(*s)++;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_rfc3339(const char *s, uint64_t *out_ns)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, max_day;
	uint64_t frac_ns = 0, scale = NS_PER_S / 10;
	struct tm tm = {0};
	int64_t t;

	if (!digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) || !expect(&s, '-') ||
	    !digits(&s, 2, &d))
		return -EINVAL;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return -EINVAL;
	s++;
	if (!digits(&s, 2, &h) || !expect(&s, ':') || !digits(&s, 2, &mi) || !expect(&s, ':') ||
	    !digits(&s, 2, &sec))
		return -EINVAL;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		/* Digits past nanoseconds are read and dropped. */
		for (; *s >= '0' && *s <= '9'; s++) {
			frac_ns += (uint64_t)(*s - '0') * scale;
			scale /= 10;
		}
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '+' ? 1 : -1;
		s++;
		if (!digits(&s, 2, &oh) || !expect(&s, ':') || !digits(&s, 2, &om) || oh > 23 ||
		    om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*s || y < 1970 || mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	max_day = mdays[mo - 1] + (mo == 2 && leap(y));
	if (d < 1 || d > max_day)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	/* A leap second (:60) is the first instant of the next minute, as POSIX time has it. */
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm) - (int64_t)sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -EINVAL;
	*out_ns = (uint64_t)t * NS_PER_S + frac_ns;
	return 0;
}

static int parse_relative(const char *s, uint64_t now_ns, uint64_t *out_ns)
{
	double v, unit;
	char *end;

	if (*s != '-' || !((s[1] >= '0' && s[1] <= '9') || s[1] == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s + 1, &end);
	if (errno || end == s + 1)
		return -EINVAL;
	if (strcmp(end, "s") == 0)
		unit = 1;
	else if (strcmp(end, "m") == 0)
		unit = 60;
	else if (strcmp(end, "h") == 0)
		unit = 3600;
	else if (strcmp(end, "d") == 0)
		unit = 86400;
	else
		return -EINVAL;
	v *= unit * (double)NS_PER_S;
	if (!(v >= 0) || v > (double)now_ns)
		return -EINVAL;
	*out_ns = now_ns - (uint64_t)v;
	return 0;
}

int history_parse_time(const char *s, uint64_t now_ns, uint64_t *out_ns, char *why, size_t why_size)
{
	int err;

	if (strcmp(s, "now") == 0) {
		*out_ns = now_ns;
		return 0;
	}
	err = s[0] == '-' ? parse_relative(s, now_ns, out_ns) : parse_rfc3339(s, out_ns);
	if (err && why && why_size)
		snprintf(why, why_size, "%s", time_forms);
	return err;
}

const char *history_format_time(uint64_t ns, char *buf, size_t size)
{
	time_t t = (time_t)(ns / NS_PER_S);
	char stamp[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03uZ", stamp, (unsigned int)(ns % NS_PER_S / 1000000));
	return buf;
}
