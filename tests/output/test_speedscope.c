// SPDX-License-Identifier: MIT
/*
 * speedscope reader and writer: ember -> speedscope -> ember keeps the stacks,
 * evented profiles become time-weighted stacks (time units in ns), several
 * profiles get their names as roots, and bad JSON or bad indices fail cleanly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "support/support.h"
#include "test.h"

static char *folded_text(const struct ember_profile *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ASSERT_EQ(folded__write(p, NULL, f), 0);
	fclose(f);
	return text;
}

static int read_json(const char *json, struct ember_profile **out)
{
	int err;

	ASSERT_EQ(profile__new(out), 0);
	err = speedscope__read(json, strlen(json), NULL, *out);
	return err;
}

static void test_roundtrip(void)
{
	static const char folded[] = "a;b_[k];c 3\na;d_[i];\"q\\u\" 2\n";
	struct ember_profile *p, *q;
	char *json = NULL, *text;
	size_t len = 0;
	FILE *f;

	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(folded__read(folded, strlen(folded), NULL, p), 0);
	f = open_memstream(&json, &len);
	ASSERT_EQ(speedscope__write(p, f), 0);
	fclose(f);
	ASSERT_EQ(read_json(json, &q), 0);
	text = folded_text(q);
	ASSERT_STR_EQ(text, folded);
	free(text);
	/* every truncation before the final newline is invalid JSON */
	for (size_t cut = 0; cut + 1 < len; cut++) {
		struct ember_profile *r;

		ASSERT_EQ(profile__new(&r), 0);
		ASSERT_EQ(speedscope__read(json, cut, NULL, r), -EINVAL);
		profile__free(r);
	}
	free(json);
	profile__free(p);
	profile__free(q);
}

static void test_evented(void)
{
	static const char json[] =
	    "{\"shared\":{\"frames\":[{\"name\":\"main\"},{\"name\":\"w\\u00e9\",\"file\":\"w.c\","
	    "\"line\":3}]},\"profiles\":[{\"type\":\"evented\",\"name\":\"T1\",\"unit\":"
	    "\"microseconds\",\"startValue\":0,\"endValue\":9,\"events\":["
	    "{\"type\":\"O\",\"frame\":0,\"at\":0},{\"type\":\"O\",\"frame\":1,\"at\":1.5},"
	    "{\"type\":\"C\",\"frame\":1,\"at\":4},{\"type\":\"C\",\"frame\":0,\"at\":9}]},"
	    "{\"type\":\"sampled\",\"name\":\"T2\",\"unit\":\"none\",\"startValue\":0,"
	    "\"endValue\":1,\"samples\":[[0]],\"weights\":[7]}]}";
	struct ember_profile *p;
	char *text;

	ASSERT_EQ(read_json(json, &p), 0);
	text = folded_text(p);
	ASSERT_STR_EQ(text, "T1;main 6500\nT1;main;w\xc3\xa9 2500\nT2;main 7\n");
	free(text);
	profile__free(p);
}

static void test_bad(void)
{
	static const char *const bad[] = {
	    "",
	    "{}",
	    "[1,2]",
	    "{\"shared\":{\"frames\":[]},\"profiles\":[{\"type\":\"sampled\",\"samples\":[[0]]}]}",
	    "{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
	    "\"samples\":[[0.5]]}]}",
	    "{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
	    "\"samples\":[[0]],\"weights\":[1,2]}]}",
	    "{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"evented\","
	    "\"events\":[{\"type\":\"C\",\"frame\":0,\"at\":1}]}]}",
	    "{\"shared\":{\"frames\":[{\"name\":\"a\\ud800\"}]},\"profiles\":[]}",
	    "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	    "{\"shared\":{\"frames\":[]},\"profiles\":[]} trailing",
	    /* what json-c takes but RFC 8259 (and ember's reader before it) does not */
	    "{\"shared\":{\"frames\":[{\"name\":\"a\\udc00\"}]},\"profiles\":[]}",
	    "{\"shared\":{\"frames\":[{\"name\":\"a\\u0000\"}]},\"profiles\":[]}",
	    "{\"shared\":{\"frames\":[{\"name\":\"a\tb\"}]},\"profiles\":[]}",
	    "{\"shared\":{\"frames\":[],\"x\":NaN},\"profiles\":[]}",
	    "{\"shared\":{\"frames\":[],\"x\":-Infinity},\"profiles\":[]}",
	    "{\"shared\":{\"frames\":[],\"x\":1e400},\"profiles\":[]}",
	    /* json-c's strict mode refuses these */
	    "{\"shared\":{\"frames\":[],\"x\":01},\"profiles\":[]}",
	    "{\"shared\":{\"frames\":[]},\"profiles\":[]}/* comment */",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ember_profile *p;
		int err = read_json(bad[i], &p);

		if (err != -EINVAL)
			TEST_FAIL("bad input %zu: %d", i, err);
		profile__free(p);
	}
}

/* The nesting bound is 64 arrays or objects, as before json-c. */
static void test_depth(void)
{
	static const char open[] =
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
			  close[] =
			      "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]";
	char json[256];
	int n;

	for (n = 63; n <= 65; n++) {
		struct ember_profile *p;
		/* the root object and n - 1 arrays: n levels */
		int len = snprintf(json, sizeof(json),
				   "{\"shared\":{\"frames\":[]},\"profiles\":[],\"x\":%.*s%.*s}",
				   n - 1, open, n - 1, close);

		ASSERT_EQ(profile__new(&p), 0);
		ASSERT_EQ(speedscope__read(json, (size_t)len, NULL, p), n <= 64 ? 0 : -EINVAL);
		profile__free(p);
	}
}

int main(void)
{
	ember_log_set_level(EMBER_LOG_ERROR);
	test_roundtrip();
	test_evented();
	test_bad();
	test_depth();
	return 0;
}
