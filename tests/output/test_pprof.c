// SPDX-License-Identifier: MIT
/*
 * pprof writer and reader: folded -> pprof -> folded is exact (inline, kernel
 * and JIT markers included), and a symbolized profile keeps its mappings,
 * addresses, inline lines, labels, counters and timing through a round trip.
 * Corrupt and truncated input fails cleanly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "test.h"

static char *folded_text(const struct ember_profile *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ASSERT(f);
	ASSERT_EQ(folded__write(p, NULL, f), 0);
	fclose(f);
	return text;
}

static struct ember_profile *via_pprof(const struct ember_profile *p)
{
	struct ember_profile *q;
	uint8_t *buf;
	size_t len;

	ASSERT_EQ(pprof__encode(p, &buf, &len), 0);
	ASSERT_EQ(profile__new(&q), 0);
	ASSERT_EQ(pprof__read(buf, len, NULL, q), 0);
	free(buf);
	return q;
}

static void test_folded_roundtrip(void)
{
	static const char input[] =
	    "app;main;compute;inl_helper_[i];leaf 7\n"
	    "app;main;entry_SYSCALL_64_[k];do_syscall_64_[k];"
	    "x64_sys_read_[k] 3\n"
	    "app;main;jitted_fn_[j];inl_[i] 2\n"
	    "app;main;x_[i];y_[i];z 1\n"
	    "java;Interpreter_[j];Foo::bar<int>(std::vector<int> const&) 5\n"
	    "top_[i];next 4\n";
	/* Sorted order, as the writer prints. */
	static const char expect[] =
	    "app;main;compute;inl_helper_[i];leaf 7\n"
	    "app;main;entry_SYSCALL_64_[k];do_syscall_64_[k];"
	    "x64_sys_read_[k] 3\n"
	    "app;main;jitted_fn_[j];inl_[i] 2\n"
	    "app;main;x_[i];y_[i];z 1\n"
	    "java;Interpreter_[j];Foo::bar<int>(std::vector<int> const&) 5\n"
	    "top_[i];next 4\n";
	struct ember_profile *p, *q;
	char *a, *b;

	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(folded__read(input, strlen(input), NULL, p), 0);
	ASSERT_EQ(profile__total(p), 22);
	a = folded_text(p);
	ASSERT_STR_EQ(a, expect);
	q = via_pprof(p);
	ASSERT_EQ(profile__total(q), 22);
	b = folded_text(q);
	ASSERT_STR_EQ(b, expect);
	free(a);
	free(b);
	profile__free(p);
	profile__free(q);
}

static void test_symbolized_roundtrip(void)
{
	struct ember_mapping exe = {.start = 0x400000,
				    .limit = 0x401000,
				    .offset = 0x1000,
				    .path = "/usr/bin/app",
				    .build_id = "0123456789abcdef",
				    .flags = EMBER_MAPPING_HAS_FUNCTIONS | EMBER_MAPPING_HAS_LINES |
					     EMBER_MAPPING_HAS_INLINES |
					     EMBER_MAPPING_HAS_FILENAMES,
				    .pid = 42};
	struct ember_mapping kern = {.start = 0xffffffff81000000ull,
				     .limit = 0xffffffff82000000ull,
				     .path = "[kernel.kallsyms]",
				     .flags = EMBER_MAPPING_KERNEL | EMBER_MAPPING_HAS_FUNCTIONS};
	struct ember_frame leaf[] = {
	    {.function = "inlined", .file = "a.c", .line = 10, .flags = EMBER_FRAME_INLINE},
	    {.function = "outer", .system_name = "_Z5outerv", .file = "a.c", .line = 20},
	};
	struct ember_frame mainf = {.function = "main", .file = "main.c", .line = 5};
	struct ember_frame kf = {.function = "do_syscall_64", .flags = EMBER_FRAME_KERNEL};
	struct ember_profile *p, *q;
	uint32_t m1, m2, l1, l2, l3, stack[3];
	struct ember_sample s = {
	    .pid = 42, .tid = 43, .process_name = "app", .thread_name = "worker", .count = 9};
	const struct ember_location *loc;
	const struct ember_mapping *m;
	const char *k, *v;
	char *a, *b;

	ASSERT_EQ(profile__new(&p), 0);
	profile__set_frequency(p, 99);
	profile__set_time(p, 1700000000000000000ull, 2000000000ull);
	ASSERT_EQ(profile__intern_mapping(p, &exe, &m1), 0);
	ASSERT_EQ(profile__intern_mapping(p, &kern, &m2), 0);
	ASSERT_EQ(profile__intern_location(p, m2, 0, 0xffffffff81000100ull, false, &l1), 0);
	ASSERT_EQ(profile__intern_location(p, m1, 42, 0x400100, true, &l2), 0);
	ASSERT_EQ(profile__intern_location(p, m1, 42, 0x400200, true, &l3), 0);
	ASSERT_EQ(profile__set_location_frames(p, l1, &kf, 1), 0);
	ASSERT_EQ(profile__set_location_frames(p, l2, leaf, 2), 0);
	ASSERT_EQ(profile__set_location_frames(p, l3, &mainf, 1), 0);
	stack[0] = l1;
	stack[1] = l2;
	stack[2] = l3;
	s.nr_locations = 3;
	s.locations = stack;
	ASSERT_EQ(profile__add_sample(p, &s), 0);
	ASSERT_EQ(profile__set_label(p, "env", "prod"), 0);
	ASSERT_EQ(profile__add_counter(p, "lost.counts_map_full", 5), 0);

	q = via_pprof(p);
	ASSERT_EQ(profile__total(q), 9);
	ASSERT_EQ(profile__frequency(q), 99);
	ASSERT_EQ(profile__start_ns(q), 1700000000000000000ull);
	ASSERT_EQ(profile__duration_ns(q), 2000000000ull);
	ASSERT_EQ(profile__counter_value(q, "lost.counts_map_full"), 5);
	ASSERT_EQ(profile__nr_labels(q), 1);
	profile__label(q, 0, &k, &v);
	ASSERT_STR_EQ(k, "env");
	ASSERT_STR_EQ(v, "prod");
	ASSERT_EQ(profile__nr_mappings(q), 2);
	m = profile__mapping(q, 1);
	ASSERT_STR_EQ(m->path, "/usr/bin/app");
	ASSERT_STR_EQ(m->build_id, "0123456789abcdef");
	ASSERT_EQ(m->start, 0x400000);
	ASSERT_EQ(m->limit, 0x401000);
	ASSERT_EQ(m->offset, 0x1000);
	ASSERT_EQ(m->flags, exe.flags);
	ASSERT(profile__mapping(q, 2)->flags & EMBER_MAPPING_KERNEL);
	ASSERT_EQ(profile__nr_samples(q), 1);
	profile__sample(q, 0, &s);
	ASSERT_EQ(s.pid, 42);
	ASSERT_EQ(s.tid, 43);
	ASSERT_STR_EQ(s.thread_name, "worker");
	ASSERT_STR_EQ(s.process_name, "app");
	ASSERT_EQ(s.nr_locations, 3);
	loc = profile__location(q, s.locations[1]);
	ASSERT_EQ(loc->address, 0x400100);
	ASSERT_EQ(loc->nr_frames, 2);
	ASSERT_STR_EQ(loc->frames[0].function, "inlined");
	ASSERT_EQ(loc->frames[0].flags, EMBER_FRAME_INLINE);
	ASSERT_EQ(loc->frames[0].line, 10);
	ASSERT_STR_EQ(loc->frames[1].system_name, "_Z5outerv");
	ASSERT_STR_EQ(loc->frames[1].file, "a.c");
	ASSERT_EQ(loc->frames[1].flags, 0);
	loc = profile__location(q, s.locations[0]);
	ASSERT_EQ(loc->frames[0].flags, EMBER_FRAME_KERNEL);
	a = folded_text(p);
	b = folded_text(q);
	ASSERT_STR_EQ(a, b);
	free(a);
	free(b);
	profile__free(p);
	profile__free(q);
}

static void test_empty(void)
{
	struct ember_profile *p, *q;
	char *a;

	ASSERT_EQ(profile__new(&p), 0);
	q = via_pprof(p);
	ASSERT_EQ(profile__total(q), 0);
	ASSERT_EQ(profile__nr_samples(q), 0);
	a = folded_text(q);
	ASSERT_STR_EQ(a, "");
	free(a);
	profile__free(p);
	profile__free(q);
}

static void test_corrupt(void)
{
	struct ember_profile *p, *q;
	uint8_t *buf;
	size_t len, cut;
	static const char input[] = "a;b;c 3\na;d 2\n";

	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(folded__read(input, strlen(input), NULL, p), 0);
	ASSERT_EQ(pprof__encode(p, &buf, &len), 0);
	/* Every truncation either fails with -EINVAL or reads a consistent prefix. */
	for (cut = 0; cut < len; cut++) {
		int err;

		ASSERT_EQ(profile__new(&q), 0);
		err = pprof__read(buf, cut, NULL, q);
		ASSERT(err == 0 || err == -EINVAL);
		ASSERT_LE(profile__total(q), 5);
		profile__free(q);
	}
	/* Flipping each byte must never crash. */
	for (cut = 0; cut < len; cut++) {
		buf[cut] ^= 0xff;
		ASSERT_EQ(profile__new(&q), 0);
		(void)pprof__read(buf, len, NULL, q);
		profile__free(q);
		buf[cut] ^= 0xff;
	}
	free(buf);
	profile__free(p);
}

/*
 * Off-CPU and wall-clock profiles (issue 14): a wall profile keeps its unit,
 * its samples' kinds (blocked vs preempted from the leaf marker) and its ns
 * through pprof; an off-CPU one reads back as off-CPU.
 */
static void test_time_profiles(void)
{
	static const enum ember_value_type types[] = {EMBER_VALUE_WALL_NS, EMBER_VALUE_OFF_CPU_NS};
	size_t t, i;

	for (t = 0; t < 2; t++) {
		struct ember_profile *p, *q;
		struct ember_frame f[3] = {
		    {.function = "main"},
		    {.function = "[off-cpu: blocked]", .flags = EMBER_FRAME_MARKER},
		    {.function = "[off-cpu: preempted]", .flags = EMBER_FRAME_MARKER}};
		uint32_t ids[3], stack[2];
		uint64_t blocked = 0, preempted = 0, on = 0;
		struct ember_sample s = {.pid = 1, .tid = 1, .process_name = "x"};

		ASSERT_EQ(profile__new(&p), 0);
		profile__set_frequency(p, 1000);
		profile__set_value_type(p, types[t]);
		for (i = 0; i < 3; i++)
			ASSERT_EQ(profile__intern_frames_location(p, &f[i], 1, &ids[i]), 0);
		stack[1] = ids[0];
		s.locations = stack;
		if (types[t] == EMBER_VALUE_WALL_NS) { /* 3 samples of 1 ms on the CPU */
			stack[0] = ids[0];
			s.locations = &stack[1];
			s.nr_locations = 1;
			s.count = 3000000;
			ASSERT_EQ(profile__add_sample(p, &s), 0);
			s.locations = stack;
		}
		s.nr_locations = 2;
		stack[0] = ids[1];
		s.kind = EMBER_SAMPLE_OFF_CPU_BLOCKED;
		s.count = 2000000000;
		ASSERT_EQ(profile__add_sample(p, &s), 0);
		stack[0] = ids[2];
		s.kind = EMBER_SAMPLE_OFF_CPU_PREEMPTED;
		s.count = 7000000;
		ASSERT_EQ(profile__add_sample(p, &s), 0);
		q = via_pprof(p);
		ASSERT_EQ(profile__value_type(q), types[t]);
		ASSERT_EQ(profile__total(q), profile__total(p));
		for (i = 0; i < profile__nr_samples(q); i++) {
			struct ember_sample g;

			profile__sample(q, i, &g);
			if (g.kind == EMBER_SAMPLE_OFF_CPU_BLOCKED)
				blocked += g.count;
			else if (g.kind == EMBER_SAMPLE_OFF_CPU_PREEMPTED)
				preempted += g.count;
			else
				on += g.count;
		}
		ASSERT_EQ(blocked, 2000000000);
		ASSERT_EQ(preempted, 7000000);
		ASSERT_EQ(on, types[t] == EMBER_VALUE_WALL_NS ? 3000000 : 0);
		profile__free(p);
		profile__free(q);
	}
}

int main(void)
{
	test_time_profiles();
	test_folded_roundtrip();
	test_symbolized_roundtrip();
	test_empty();
	test_corrupt();
	return 0;
}
