// SPDX-License-Identifier: MIT
/* Unit tests of support/: growth, hashing, the index table and the string pool. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "support/support.h"
#include "test.h"

static bool eq_value(const void *ctx, uint32_t index)
{
	const uint32_t *values = ((const uint32_t *const *)ctx)[0];
	const uint32_t *want = ((const uint32_t *const *)ctx)[1];

	return values[index] == *want;
}

static void test_index(void)
{
	struct ember_index *idx;
	uint32_t values[5000], i;

	ASSERT_EQ(ember_index__new(&idx), 0);
	for (i = 0; i < 5000; i++) {
		values[i] = i * 7;
		/* Deliberately poor hash (i % 13) so probe chains get long. */
		ASSERT_EQ(ember_index__insert(idx, i % 13, i), 0);
	}
	ASSERT_EQ(ember_index__size(idx), 5000);
	for (i = 0; i < 5000; i += 97) {
		uint32_t want = i * 7;
		const void *ctx[2] = {values, &want};

		ASSERT_EQ(ember_index__find(idx, i % 13, eq_value, ctx), i);
	}
	{
		uint32_t want = 3;
		const void *ctx[2] = {values, &want};

		ASSERT_EQ(ember_index__find(idx, 3, eq_value, ctx), -1);
	}
	ember_index__clear(idx);
	ASSERT_EQ(ember_index__size(idx), 0);
	ember_index__free(idx);
	ember_index__free(NULL);
}

static void test_strpool(void)
{
	struct ember_strpool *pool;
	const char *a, *b, *c, *big;
	char longstr[100000];

	ASSERT_EQ(ember_strpool__new(&pool), 0);
	a = ember_strpool__intern(pool, "main");
	b = ember_strpool__intern_len(pool, "main_x", 4);
	c = ember_strpool__internf(pool, "%s", "main");
	ASSERT(a == b && b == c);
	ASSERT_STR_EQ(a, "main");
	ASSERT(ember_strpool__intern(pool, "mai") != a);
	memset(longstr, 'x', sizeof(longstr) - 1);
	longstr[sizeof(longstr) - 1] = '\0';
	big = ember_strpool__intern(pool, longstr); /* larger than one block */
	ASSERT(big && strlen(big) == sizeof(longstr) - 1);
	ASSERT(ember_strpool__intern(pool, "main") == a); /* still found after a big block */
	ASSERT_GT(ember_strpool__bytes(pool), sizeof(longstr));
	ember_strpool__free(pool);
	ember_strpool__free(NULL);
}

static void test_grow(void)
{
	int *arr = NULL;
	size_t cap = 0;

	ASSERT_EQ(ember_grow((void **)&arr, &cap, 1, sizeof(*arr)), 0);
	ASSERT_GE(cap, 16);
	ASSERT_EQ(ember_grow((void **)&arr, &cap, 1000, sizeof(*arr)), 0);
	ASSERT_GE(cap, 1000);
	ASSERT_EQ(ember_grow((void **)&arr, &cap, SIZE_MAX / 2, sizeof(*arr)), -ENOMEM);
	ASSERT_GE(cap, 1000); /* unchanged on failure */
	free(arr);
}

static void test_hash(void)
{
	ASSERT_EQ(ember_hash_bytes("abc", 3, 1), ember_hash_bytes("abc", 3, 1));
	ASSERT_NE(ember_hash_bytes("abc", 3, 1), ember_hash_bytes("abd", 3, 1));
	ASSERT_NE(ember_hash_bytes("abc", 3, 1), ember_hash_bytes("abc", 3, 2));
	ASSERT_NE(ember_hash_u64(0, 1), ember_hash_u64(0, 2));
}

static void test_cpu_list(void)
{
	char online[4096];
	long nonline, counted = 0;

	ASSERT(ember_cpu_in_list("0-3,5\n", 0));
	ASSERT(ember_cpu_in_list("0-3,5\n", 3));
	ASSERT(!ember_cpu_in_list("0-3,5\n", 4));
	ASSERT(ember_cpu_in_list("0-3,5\n", 5));
	ASSERT(!ember_cpu_in_list("0-3,5\n", 6));
	ASSERT(ember_cpu_in_list("7", 7));
	ASSERT(ember_cpu_in_list("", 42)); /* unknown list: every CPU */
	/*
	 * The real list: it must have been read (an empty one would hold every CPU,
	 * so nothing below could fail), be a whole line of the kernel's syntax, and
	 * hold as many CPUs as sysconf() counts online (glibc parses it separately).
	 */
	ember_online_cpus(online, sizeof(online));
	if (!online[0])
		TEST_FAIL("/sys/devices/system/cpu/online could not be read");
	ASSERT_EQ(online[strspn(online, "0123456789,-")], '\n');
	ASSERT_EQ(online[strspn(online, "0123456789,-") + 1], '\0');
	nonline = sysconf(_SC_NPROCESSORS_ONLN);
	ASSERT_GT(nonline, 0);
	for (int cpu = 0; cpu < 65536; cpu++)
		counted += ember_cpu_in_list(online, cpu);
	ASSERT_EQ(counted, nonline);
	ASSERT(ember_cpu_in_list(online, 0)); /* CPU 0 cannot go offline on x86 */
	ASSERT(!ember_cpu_in_list(online, 65536));
}

/* A profile's length is taken on the wall clock, so windows meet on that axis. */
static void test_wall_span(void)
{
	const uint64_t s = 1000000000ull;

	ASSERT_EQ(ember_wall_span_ns(100 * s, 110 * s, 10 * s), 10 * s);
	/* The clock stepped forward 2 s within a 10 s window: the window covers 12 s of it. */
	ASSERT_EQ(ember_wall_span_ns(100 * s, 112 * s, 10 * s), 12 * s);
	/* Stepped back: 5 s of wall clock, still the wall clock's axis. */
	ASSERT_EQ(ember_wall_span_ns(100 * s, 105 * s, 10 * s), 5 * s);
	/* Stepped back past the start: no negative length, the monotonic one. */
	ASSERT_EQ(ember_wall_span_ns(100 * s, 99 * s, 10 * s), 10 * s);
	ASSERT_EQ(ember_wall_span_ns(100 * s, 100 * s, 0), 0);
}

int main(void)
{
	test_wall_span();
	test_cpu_list();
	test_index();
	test_strpool();
	test_grow();
	test_hash();
	return 0;
}
