// SPDX-License-Identifier: MIT
/*
 * Folded reader and writer: kind suffixes, CRLF, malformed lines (reported
 * and skipped, or fatal with strict), empty input, names with separators.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "support/support.h"
#include "test.h"

static char *write_folded(const struct ember_profile *p, const struct ember_folded_opts *o)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ASSERT(f);
	ASSERT_EQ(folded__write(p, o, f), 0);
	fclose(f);
	return text;
}

static struct ember_profile *read_folded(const char *text, bool strict, int expect_err)
{
	struct ember_read_opts o = {.sz = sizeof(o), .strict = strict, .name = "t.folded"};
	struct ember_profile *p;

	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(folded__read(text, strlen(text), &o, p), expect_err);
	return p;
}

static void test_suffixes(void)
{
	struct ember_profile *p = read_folded("a;b_[k];c_[i];d_[j];_[k] 5\n", false, 0);
	struct ember_sample s;
	const struct ember_location *l;

	ASSERT_EQ(profile__nr_samples(p), 1);
	profile__sample(p, 0, &s);
	ASSERT_EQ(s.nr_locations, 5);
	ASSERT(s.process_name == NULL);
	ASSERT_EQ(s.pid, 0);
	l = profile__location(p, s.locations[0]);     /* leaf first */
	ASSERT_STR_EQ(l->frames[0].function, "_[k]"); /* a bare suffix is a name */
	ASSERT_EQ(l->frames[0].flags, 0);
	l = profile__location(p, s.locations[1]);
	ASSERT_STR_EQ(l->frames[0].function, "d");
	ASSERT_EQ(l->frames[0].flags, EMBER_FRAME_JIT);
	l = profile__location(p, s.locations[2]);
	ASSERT_EQ(l->frames[0].flags, EMBER_FRAME_INLINE);
	l = profile__location(p, s.locations[3]);
	ASSERT_STR_EQ(l->frames[0].function, "b");
	ASSERT_EQ(l->frames[0].flags, EMBER_FRAME_KERNEL);
	ASSERT_EQ(l->address, 0);
	ASSERT_EQ(l->mapping_id, 0);
	profile__free(p);
}

static void test_malformed(void)
{
	static const char text[] = "ok;one 1\n"
				   "no_count\n"
				   "bad;count x\n"
				   "neg;count -3\n"
				   " 4\n"
				   "empty;;frame 2\n"
				   "trailing; 2\n"
				   "overflow 99999999999999999999999\n"
				   "crlf;two 2\r\n"
				   "\n"
				   "ok;one 3";
	struct ember_profile *p = read_folded(text, false, 0);
	char *out = write_folded(p, NULL);

	ASSERT_STR_EQ(out, "crlf;two 2\nok;one 4\n");
	ASSERT_EQ(profile__total(p), 6);
	free(out);
	profile__free(p);
	/* strict: the first bad line fails the read */
	p = read_folded(text, true, -EINVAL);
	profile__free(p);
}

static void test_empty_and_writer(void)
{
	struct ember_profile *p = read_folded("", true, 0);
	struct ember_folded_opts o = {.sz = sizeof(o), .per_pid = true, .per_thread = true};
	struct ember_frame f = {.function = "semi;colon\nnewline", .file = "x.c", .line = 3};
	struct ember_sample s = {
	    .pid = 7, .tid = 8, .process_name = "proc", .thread_name = "thr", .count = 2};
	uint32_t id;
	char *out;

	out = write_folded(p, NULL);
	ASSERT_STR_EQ(out, "");
	free(out);
	ASSERT_EQ(profile__intern_frames_location(p, &f, 1, &id), 0);
	s.nr_locations = 1;
	s.locations = &id;
	ASSERT_EQ(profile__add_sample(p, &s), 0);
	out = write_folded(p, &o);
	ASSERT_STR_EQ(out, "proc-7;thr-8;semi_colon_newline 2\n");
	free(out);
	o.per_pid = o.per_thread = false;
	o.lines = true;
	out = write_folded(p, &o);
	ASSERT_STR_EQ(out, "proc;semi_colon_newline:x.c:3 2\n");
	free(out);
	profile__free(p);
}

int main(void)
{
	ember_log_set_level(EMBER_LOG_ERROR);
	test_suffixes();
	test_malformed();
	test_empty_and_writer();
	return 0;
}
