// SPDX-License-Identifier: MIT
/*
 * history_parse_time: RFC 3339 stamps (fractions, offsets), "now", relative
 * times, and the malformed ones it must refuse.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "history/history.h"
#include "test.h"

#define NOW 1796133600000000000ull /* 2026-12-01T14:00:00Z */

static uint64_t parse(const char *s)
{
	uint64_t v = 0;
	char why[160] = "";

	if (history_parse_time(s, NOW, &v, why, sizeof(why)) != 0)
		TEST_FAIL("'%s' should parse: %s", s, why);
	return v;
}

static void refused(const char *s)
{
	uint64_t v = 42;
	char why[160] = "";

	if (history_parse_time(s, NOW, &v, why, sizeof(why)) != -EINVAL)
		TEST_FAIL("'%s' should be refused", s);
	ASSERT_EQ(v, 42);
	ASSERT(strstr(why, "RFC 3339") != NULL);
}

int main(void)
{
	char buf[40];

	ASSERT_EQ(parse("2026-12-01T14:00:00Z"), NOW);
	ASSERT_EQ(parse("2026-12-01t14:00:00z"), NOW);
	ASSERT_EQ(parse("2026-12-01 14:00:00Z"), NOW);
	ASSERT_EQ(parse("2026-12-01T14:00:00.5Z"), NOW + 500000000ull);
	ASSERT_EQ(parse("2026-12-01T14:00:00.000000001Z"), NOW + 1);
	ASSERT_EQ(parse("2026-12-01T14:00:00.1234567899Z"), NOW + 123456789);
	ASSERT_EQ(parse("2026-12-01T15:00:00+01:00"), NOW);
	ASSERT_EQ(parse("2026-12-01T08:30:00-05:30"), NOW);
	ASSERT_EQ(parse("2024-02-29T00:00:00Z"), 1709164800000000000ull);
	ASSERT_EQ(parse("now"), NOW);
	ASSERT_EQ(parse("-30s"), NOW - 30000000000ull);
	ASSERT_EQ(parse("-10m"), NOW - 600000000000ull);
	ASSERT_EQ(parse("-1h"), NOW - 3600000000000ull);
	ASSERT_EQ(parse("-1.5h"), NOW - 5400000000000ull);
	ASSERT_EQ(parse("-2d"), NOW - 172800000000000ull);

	refused("");
	refused("yesterday");
	refused("2026-12-01");
	refused("2026-12-01T14:00:00");	 /* no zone */
	refused("2026-12-01T14:00Z");	 /* no seconds */
	refused("2026-13-01T14:00:00Z"); /* month 13 */
	refused("2026-02-29T14:00:00Z"); /* not a leap year */
	refused("2026-12-01T24:00:00Z");
	refused("2026-12-01T14:00:00.Z");    /* empty fraction */
	refused("2026-12-01T14:00:00+0100"); /* offset without colon */
	refused("2026-12-01T14:00:00Zjunk");
	refused("1h");
	refused("-1");
	refused("-1w");
	refused("-h");
	refused("--1h");
	refused("+1h");
	refused("-100000d"); /* before the epoch */

	ASSERT_STR_EQ(history_format_time(NOW + 250000000ull, buf, sizeof(buf)),
		      "2026-12-01T14:00:00.250Z");
	printf("test_history_time ok\n");
	return 0;
}
