// SPDX-License-Identifier: MIT
/* Unit tests of the profile model in agg/: interning, aggregation, merge, processes. */
#include <errno.h>

#include "profile/profile.h"
#include "test.h"

static void test_aggregation(void)
{
	struct ember_profile *p;
	struct ember_mapping m = {.start = 0x1000,
				  .limit = 0x2000,
				  .offset = 0,
				  .path = "/bin/x",
				  .build_id = "abcd",
				  .pid = 7};
	uint32_t mid, mid2, l1, l2, l3, stack[2];
	struct ember_sample s = {.pid = 7, .tid = 8, .process_name = "x", .thread_name = "x"};
	struct ember_sample got;

	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(profile__intern_mapping(p, &m, &mid), 0);
	m.flags = EMBER_MAPPING_HAS_FUNCTIONS; /* derived flags do not make another mapping */
	ASSERT_EQ(profile__intern_mapping(p, &m, &mid2), 0);
	ASSERT_EQ(mid, mid2);
	ASSERT(profile__mapping(p, mid)->flags & EMBER_MAPPING_HAS_FUNCTIONS);
	m.flags = 0;
	ASSERT_EQ(profile__nr_mappings(p), 1);
	ASSERT_STR_EQ(profile__mapping(p, mid)->path, "/bin/x");

	ASSERT_EQ(profile__intern_location(p, mid, 7, 0x1100, false, &l1), 0);
	ASSERT_EQ(profile__intern_location(p, mid, 7, 0x1200, true, &l2), 0);
	ASSERT_EQ(profile__intern_location(p, mid, 7, 0x1100, true, &l3), 0);
	ASSERT_NE(l1, l3); /* same address as a return address is a different location */
	ASSERT_EQ(profile__intern_location(p, mid, 9, 0x1100, false, &l3), 0);
	ASSERT_EQ(l1, l3); /* mapped locations do not depend on the pid */
	ASSERT_EQ(profile__intern_location(p, 0, 7, 0x5000, false, &l1), 0);
	ASSERT_EQ(profile__intern_location(p, 0, 9, 0x5000, false, &l3), 0);
	ASSERT_NE(l1, l3); /* unmapped locations do */

	ASSERT_EQ(profile__intern_location(p, mid, 7, 0x1100, false, &l1), 0);
	stack[0] = l1;
	stack[1] = l2;
	s.locations = stack;
	s.nr_locations = 2;
	s.count = 3;
	ASSERT_EQ(profile__add_sample(p, &s), 0);
	s.count = 4;
	ASSERT_EQ(profile__add_sample(p, &s), 0);
	ASSERT_EQ(profile__nr_samples(p), 1);
	ASSERT_EQ(profile__total(p), 7);
	s.tid = 9; /* another thread: another sample */
	ASSERT_EQ(profile__add_sample(p, &s), 0);
	ASSERT_EQ(profile__nr_samples(p), 2);
	profile__sample(p, 0, &got);
	ASSERT_EQ(got.count, 7);
	ASSERT_EQ(got.nr_locations, 2);
	ASSERT_EQ(got.locations[1], l2);
	stack[0] = 999; /* no such location */
	ASSERT_EQ(profile__add_sample(p, &s), -EINVAL);
	profile__free(p);
}

static void test_frames_and_merge(void)
{
	struct ember_profile *a, *b;
	struct ember_frame f1[2] = {{.function = "inner", .flags = EMBER_FRAME_INLINE},
				    {.function = "outer", .file = "x.c", .line = 3}};
	struct ember_frame f2 = {.function = "sys_read", .flags = EMBER_FRAME_KERNEL};
	uint32_t la, lb, lc, ids[2];
	struct ember_sample s = {.count = 5};
	const struct ember_location *loc;
	int i;

	ASSERT_EQ(profile__new(&a), 0);
	ASSERT_EQ(profile__new(&b), 0);
	ASSERT_EQ(profile__intern_frames_location(a, f1, 2, &la), 0);
	ASSERT_EQ(profile__intern_frames_location(a, f1, 2, &lb), 0);
	ASSERT_EQ(la, lb);
	ASSERT_EQ(profile__intern_frames_location(a, &f2, 1, &lc), 0);
	ASSERT_NE(la, lc);
	/* Many locations: frame pointers must stay valid as the frame array grows. */
	for (i = 0; i < 3000; i++) {
		struct ember_frame f = {.function = profile__intern(a, "f")};
		char name[32];
		uint32_t id;

		snprintf(name, sizeof(name), "fn%d", i);
		f.function = name;
		ASSERT_EQ(profile__intern_frames_location(a, &f, 1, &id), 0);
	}
	loc = profile__location(a, la);
	ASSERT_EQ(loc->nr_frames, 2);
	ASSERT_STR_EQ(loc->frames[0].function, "inner");
	ASSERT_STR_EQ(loc->frames[1].file, "x.c");
	ids[0] = lc;
	ids[1] = la;
	s.locations = ids;
	s.nr_locations = 2;
	ASSERT_EQ(profile__add_sample(a, &s), 0);
	ASSERT_EQ(profile__add_counter(a, "lost.x", 2), 0);
	ASSERT_EQ(profile__add_counter(a, "lost.x", 3), 0);
	ASSERT_EQ(profile__counter_value(a, "lost.x"), 5);
	ASSERT_EQ(profile__set_label(a, "service", "db"), 0);
	{
		struct ember_process pr = {.pid = 3, .name = "db", .container_id = "c0"};

		ASSERT_EQ(profile__set_process(a, &pr), 0);
	}
	ASSERT_EQ(profile__merge(b, a), 0);
	ASSERT_EQ(profile__merge(b, a), 0);
	ASSERT_EQ(profile__total(b), 10);
	ASSERT_EQ(profile__nr_samples(b), 1);
	ASSERT_EQ(profile__counter_value(b, "lost.x"), 10);
	ASSERT_STR_EQ(profile__process(b, 3)->container_id, "c0");
	ASSERT(profile__process(b, 4) == NULL);
	profile__free(a);
	profile__free(b);
	profile__free(NULL);
}

/* profile__merge_opts keeps what the callback keeps, with its root frames above. */
static bool keep_pid_7(const struct ember_profile *src, struct ember_sample *s, const char **roots,
		       uint32_t *nr_roots, void *ctx)
{
	int *calls = ctx;

	(void)src;
	(*calls)++;
	if (s->pid != 7)
		return false;
	roots[(*nr_roots)++] = "pid=7";
	roots[(*nr_roots)++] = s->process_name;
	s->process_name = NULL;
	return true;
}

static void test_merge_opts(void)
{
	struct ember_frame leaf = {.function = "leaf"};
	struct ember_profile *a, *b;
	struct ember_sample s = {.count = 4, .pid = 7, .process_name = "seven"}, got;
	int calls = 0;
	struct ember_merge_opts mo = {.sz = sizeof(mo), .sample = keep_pid_7, .ctx = &calls};
	const struct ember_location *loc;
	uint32_t id;

	ASSERT_EQ(profile__new(&a), 0);
	ASSERT_EQ(profile__new(&b), 0);
	ASSERT_EQ(profile__intern_frames_location(a, &leaf, 1, &id), 0);
	s.locations = &id;
	s.nr_locations = 1;
	ASSERT_EQ(profile__add_sample(a, &s), 0);
	s.pid = 8;
	s.count = 100;
	ASSERT_EQ(profile__add_sample(a, &s), 0);
	ASSERT_EQ(profile__merge_opts(b, a, &mo), 0);
	ASSERT_EQ(calls, 2);
	ASSERT_EQ(profile__nr_samples(b), 1);
	ASSERT_EQ(profile__total(b), 4);
	profile__sample(b, 0, &got);
	ASSERT(got.process_name == NULL);
	ASSERT_EQ(got.nr_locations, 3);
	/* Leaf first: leaf, then the process frame, the group frame outermost. */
	loc = profile__location(b, got.locations[0]);
	ASSERT_STR_EQ(loc->frames[0].function, "leaf");
	loc = profile__location(b, got.locations[1]);
	ASSERT_STR_EQ(loc->frames[0].function, "seven");
	loc = profile__location(b, got.locations[2]);
	ASSERT_STR_EQ(loc->frames[0].function, "pid=7");
	/* NULL options: everything, as profile__merge. */
	ASSERT_EQ(profile__merge_opts(b, a, NULL), 0);
	ASSERT_EQ(profile__total(b), 108);
	profile__free(a);
	profile__free(b);
}

int main(void)
{
	test_aggregation();
	test_frames_and_merge();
	test_merge_opts();
	return 0;
}
