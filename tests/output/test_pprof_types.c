// SPDX-License-Identifier: MIT
/*
 * pprof sample types: a heap profile (written here field by field in the
 * protobuf wire format, independently of ember's writer) reads the type that
 * `go tool pprof` shows: --sample-index by name or number, else
 * default_sample_type, else the last type; values keep their unit and are
 * never divided by the period. A location without lines in a mapping shows the
 * mapping's base name, "[libc.so.6]". ember's own pprof keeps a non-sample type
 * and writes comments only for non-zero counters, the zero ones in one list.
 * ember's CPU profiles of before default_sample_type read as sample counts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "test.h"

/* A protobuf message under construction. */
struct pb {
	uint8_t *data;
	size_t len, cap;
};

static void put_byte(struct pb *b, uint8_t c)
{
	if (b->len == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 256;
		b->data = realloc(b->data, b->cap);
		ASSERT(b->data);
	}
	b->data[b->len++] = c;
}

static void put_varint(struct pb *b, uint64_t v)
{
	while (v >= 0x80) {
		put_byte(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	put_byte(b, (uint8_t)v);
}

/* Field @field as a varint. */
static void put_uint(struct pb *b, unsigned field, uint64_t v)
{
	put_varint(b, (uint64_t)field << 3);
	put_varint(b, v);
}

/* Field @field length-delimited: @n bytes at @s. */
static void put_bytes(struct pb *b, unsigned field, const void *s, size_t n)
{
	size_t i;

	put_varint(b, (uint64_t)field << 3 | 2);
	put_varint(b, n);
	for (i = 0; i < n; i++)
		put_byte(b, ((const uint8_t *)s)[i]);
}

/* Field @field holding the sub-message @m, which is freed. */
static void put_msg(struct pb *b, unsigned field, struct pb *m)
{
	put_bytes(b, field, m->data, m->len);
	free(m->data);
	*m = (struct pb){0};
}

/* String table of the heap profile; indices are positions here. */
static const char *const strings[] = {
    "",
    "alloc_objects",
    "count",
    "alloc_space",
    "bytes",
    "inuse_objects",
    "inuse_space",
    "space",
    "main.alloc",
    "main.main",
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "rare.alloc",
};
enum {
	S_ALLOC_OBJECTS = 1,
	S_COUNT,
	S_ALLOC_SPACE,
	S_BYTES,
	S_INUSE_OBJECTS,
	S_INUSE_SPACE,
	S_SPACE,
	S_ALLOC,
	S_MAIN,
	S_LIBC,
	S_RARE
};

/*
 * Go's heap profile shape: four sample types, period 512 KiB of space. Three
 * stacks: main -> alloc, main -> rare, and one in libc alone,
 * whose location has an address and no lines. @default_type: string index of
 * default_sample_type, 0 for none.
 */
static struct pb heap_profile(int64_t default_type)
{
	static const int64_t values[3][4] = {
	    {10, 5 << 20, 4, 3 << 20}, /* main.alloc: 3 MiB in use */
	    {2, 1 << 20, 0, 0},	       /* rare.alloc: all freed */
	    {1, 4096, 1, 4096},	       /* [libc.so.6] */
	};
	static const uint64_t stacks[3][2] = {{1, 2}, {4, 2}, {3, 0}};
	static const size_t depth[3] = {2, 2, 1};
	static const int types[4][2] = {{S_ALLOC_OBJECTS, S_COUNT},
					{S_ALLOC_SPACE, S_BYTES},
					{S_INUSE_OBJECTS, S_COUNT},
					{S_INUSE_SPACE, S_BYTES}};
	struct pb p = {0}, m = {0}, l = {0};
	size_t i, k;

	for (i = 0; i < 4; i++) {
		put_uint(&m, 1, (uint64_t)types[i][0]);
		put_uint(&m, 2, (uint64_t)types[i][1]);
		put_msg(&p, 1, &m);
	}
	for (i = 0; i < 3; i++) {
		for (k = 0; k < depth[i]; k++)
			put_uint(&m, 1, stacks[i][k]);
		for (k = 0; k < 4; k++)
			put_uint(&m, 2, (uint64_t)values[i][k]);
		put_msg(&p, 2, &m);
	}
	/* mapping 1: libc */
	put_uint(&m, 1, 1);
	put_uint(&m, 2, 0x7f0000000000);
	put_uint(&m, 3, 0x7f0000200000);
	put_uint(&m, 5, S_LIBC);
	put_msg(&p, 3, &m);
	/* locations 1 main.alloc, 2 main.main, 4 rare.alloc; 3 in libc without lines */
	for (i = 1; i <= 4; i++) {
		put_uint(&m, 1, i);
		if (i == 3) {
			put_uint(&m, 2, 1);
			put_uint(&m, 3, 0x7f0000012345);
		} else {
			put_uint(&l, 1, i == 4 ? 3 : i);
			put_uint(&l, 2, 10 * i);
			put_msg(&m, 4, &l);
		}
		put_msg(&p, 4, &m);
	}
	/* functions 1 main.alloc, 2 main.main, 3 rare.alloc */
	for (i = 1; i <= 3; i++) {
		put_uint(&m, 1, i);
		put_uint(&m, 2, i == 1 ? S_ALLOC : i == 2 ? S_MAIN : S_RARE);
		put_msg(&p, 5, &m);
	}
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		put_bytes(&p, 6, strings[i], strlen(strings[i]));
	put_uint(&m, 1, S_SPACE);
	put_uint(&m, 2, S_BYTES);
	put_msg(&p, 11, &m);
	put_uint(&p, 12, 512 * 1024);
	if (default_type)
		put_uint(&p, 14, (uint64_t)default_type);
	return p;
}

/* Reads @b with --sample-index @index (NULL: none); the error, or 0 with *@out. */
static int read_heap(const struct pb *b, const char *index, struct ember_profile **out)
{
	struct ember_read_opts o = {.sz = sizeof(o), .name = "heap", .sample_index = index};
	int err;

	ASSERT_EQ(profile__new(out), 0);
	err = pprof__read(b->data, b->len, &o, *out);
	if (err) {
		profile__free(*out);
		*out = NULL;
	}
	return err;
}

static char *text_of(const struct ember_profile *p, bool report)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ASSERT(f);
	if (report)
		ASSERT_EQ(report__write(p, NULL, f), 0);
	else
		ASSERT_EQ(folded__write(p, NULL, f), 0);
	fclose(f);
	return text;
}

static void assert_type(const struct ember_profile *p, const char *type, const char *unit)
{
	const char *t, *u;

	profile__sample_type(p, &t, &u);
	ASSERT_STR_EQ(t, type);
	ASSERT_STR_EQ(u, unit);
}

static void test_sample_index(void)
{
	struct pb b = heap_profile(0);
	struct ember_profile *p;
	char *text;

	/* No default_sample_type: the last type, inuse_space, in bytes, undivided. */
	ASSERT_EQ(read_heap(&b, NULL, &p), 0);
	ASSERT_EQ(profile__value_type(p), EMBER_VALUE_OTHER);
	assert_type(p, "inuse_space", "bytes");
	ASSERT_EQ(profile__total(p), (3 << 20) + 4096);
	/* rare.alloc holds nothing in use: no sample for it. */
	text = text_of(p, false);
	ASSERT(!strstr(text, "rare.alloc"));
	ASSERT_STR_EQ(text, "[libc.so.6] 4096\nmain.main;main.alloc 3145728\n");
	free(text);
	/* pprof's labels: 3 MiB + 4 KiB is 3076kB in the unit of the smallest row. */
	text = text_of(p, true);
	ASSERT(strncmp(text, "Total: 3076kB inuse_space (bytes);", 34) == 0);
	ASSERT(strstr(text, "      3072kB  99.87%  99.87%       3072kB  99.87%  main.alloc\n"));
	free(text);
	profile__free(p);

	/* By name and by 0-based number. */
	ASSERT_EQ(read_heap(&b, "alloc_objects", &p), 0);
	assert_type(p, "alloc_objects", "count");
	ASSERT_EQ(profile__total(p), 13);
	profile__free(p);
	ASSERT_EQ(read_heap(&b, "1", &p), 0);
	assert_type(p, "alloc_space", "bytes");
	ASSERT_EQ(profile__total(p), (6 << 20) + 4096);
	profile__free(p);
	ASSERT_EQ(read_heap(&b, "inuse_bytes", &p), -EINVAL);
	ASSERT_EQ(read_heap(&b, "4", &p), -EINVAL);
	free(b.data);

	/* default_sample_type wins over the last type; --sample-index over both. */
	b = heap_profile(S_ALLOC_SPACE);
	ASSERT_EQ(read_heap(&b, NULL, &p), 0);
	assert_type(p, "alloc_space", "bytes");
	profile__free(p);
	ASSERT_EQ(read_heap(&b, "inuse_objects", &p), 0);
	assert_type(p, "inuse_objects", "count");
	ASSERT_EQ(profile__total(p), 5);
	profile__free(p);
	free(b.data);
}

/* ember's pprof of a profile read as alloc_space is an alloc_space profile. */
static void test_other_roundtrip(void)
{
	struct pb b = heap_profile(0);
	struct ember_profile *p, *q;
	uint8_t *buf;
	size_t len;
	char *x, *y;

	ASSERT_EQ(read_heap(&b, "alloc_space", &p), 0);
	ASSERT_EQ(pprof__encode(p, &buf, &len), 0);
	ASSERT_EQ(profile__new(&q), 0);
	ASSERT_EQ(pprof__read(buf, len, NULL, q), 0);
	assert_type(q, "alloc_space", "bytes");
	ASSERT_EQ(profile__total(q), profile__total(p));
	x = text_of(p, false);
	y = text_of(q, false);
	ASSERT_STR_EQ(x, y);
	/* A merge keeps types apart: bytes and counts do not add up. */
	profile__free(q);
	ASSERT_EQ(read_heap(&b, "alloc_objects", &q), 0);
	ASSERT_EQ(profile__merge(q, p), -EINVAL);
	free(x);
	free(y);
	free(buf);
	free(b.data);
	profile__free(p);
	profile__free(q);
}

/* Counters: a comment for each non-zero one, one list of the zero ones; all read back. */
static void test_counter_comments(void)
{
	struct ember_profile *p, *q;
	struct ember_sample s = {.count = 3};
	struct ember_frame f = {.function = "main"};
	uint32_t loc;
	uint8_t *buf;
	size_t len, i, zero_lists = 0, named = 0;

	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(profile__intern_frames_location(p, &f, 1, &loc), 0);
	s.nr_locations = 1;
	s.locations = &loc;
	ASSERT_EQ(profile__add_sample(p, &s), 0);
	ASSERT_EQ(profile__add_counter(p, "lost.a", 0), 0);
	ASSERT_EQ(profile__add_counter(p, "lost.b", 5), 0);
	ASSERT_EQ(profile__add_counter(p, "unwind.c", 0), 0);
	ASSERT_EQ(pprof__encode(p, &buf, &len), 0);
	/* The comment strings are in the string table as written. */
	for (i = 0; i + 1 < len; i++) {
		if (i + 22 <= len && memcmp(buf + i, "ember.counter lost.b=5", 22) == 0)
			named++;
		if (i + 20 <= len && memcmp(buf + i, "ember.counter lost.a", 20) == 0)
			TEST_FAIL("a zero counter has its own comment");
		if (i + 35 <= len &&
		    memcmp(buf + i, "ember.counters.zero lost.a,unwind.c", 35) == 0)
			zero_lists++;
	}
	ASSERT_EQ(named, 1);
	ASSERT_EQ(zero_lists, 1);
	ASSERT_EQ(profile__new(&q), 0);
	ASSERT_EQ(pprof__read(buf, len, NULL, q), 0);
	ASSERT_EQ(profile__nr_counters(q), 3);
	ASSERT_EQ(profile__counter_value(q, "lost.b"), 5);
	for (i = 0; i < 3; i++) {
		const char *name;
		uint64_t v;

		profile__counter(q, i, &name, &v);
		ASSERT(strcmp(name, "lost.a") == 0 || strcmp(name, "lost.b") == 0 ||
		       strcmp(name, "unwind.c") == 0);
	}
	/* A CPU profile says what it counts: samples, not the cpu time pprof would pick. */
	ASSERT_EQ(profile__value_type(q), EMBER_VALUE_SAMPLES);
	ASSERT_EQ(profile__total(q), 3);
	free(buf);
	profile__free(p);
	profile__free(q);
}

/*
 * A CPU profile as ember wrote one before it set default_sample_type: types
 * samples/count and cpu/nanoseconds, no default, one sample of 3 samples and
 * 3 x 10101010 ns at main. @strings: ember's string table order ("",
 * samples, count, cpu, nanoseconds, pid, tid, thread_name, process_name);
 * @comment: an "ember.counter" comment; neither is Go's CPU profile shape.
 */
static struct pb old_cpu_profile(bool strings_ours, bool comment)
{
	static const char *const ours[] = {
	    "",	   "samples",	  "count",	  "cpu",  "nanoseconds",	 "pid",
	    "tid", "thread_name", "process_name", "main", "ember.counter lost=2"};
	static const char *const go[] = {
	    "", "samples", "count", "cpu", "nanoseconds", "main", "ember.counter lost=2"};
	const char *const *tab = strings_ours ? ours : go;
	size_t n = strings_ours ? sizeof(ours) / sizeof(ours[0]) : sizeof(go) / sizeof(go[0]);
	int64_t s_main = (int64_t)n - 2, s_comment = (int64_t)n - 1;
	struct pb p = {0}, m = {0}, l = {0};
	size_t i;

	put_uint(&m, 1, 1); /* samples/count */
	put_uint(&m, 2, 2);
	put_msg(&p, 1, &m);
	put_uint(&m, 1, 3); /* cpu/nanoseconds */
	put_uint(&m, 2, 4);
	put_msg(&p, 1, &m);
	put_uint(&m, 1, 1);
	put_uint(&m, 2, 3);
	put_uint(&m, 2, 3 * 10101010);
	put_msg(&p, 2, &m);
	put_uint(&m, 1, 1); /* location 1: main */
	put_uint(&l, 1, 1);
	put_msg(&m, 4, &l);
	put_msg(&p, 4, &m);
	put_uint(&m, 1, 1); /* function 1: main */
	put_uint(&m, 2, (uint64_t)s_main);
	put_msg(&p, 5, &m);
	/* The comment string is in the table either way; the comment field only with @comment. */
	for (i = 0; i < n; i++)
		put_bytes(&p, 6, tab[i], strlen(tab[i]));
	put_uint(&m, 1, 3);
	put_uint(&m, 2, 4);
	put_msg(&p, 11, &m);
	put_uint(&p, 12, 10101010);
	if (comment)
		put_uint(&p, 13, (uint64_t)s_comment);
	return p;
}

/* ember's old CPU profiles read as sample counts; a Go CPU profile as pprof reads it. */
static void test_old_ember_cpu(void)
{
	static const struct {
		bool strings, comment, counts;
	} cases[] = {
	    {true, false, true},
	    {false, true, true},
	    {true, true, true},
	    {false, false, false},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pb b = old_cpu_profile(cases[i].strings, cases[i].comment);
		struct ember_profile *p;

		ASSERT_EQ(read_heap(&b, NULL, &p), 0);
		if (cases[i].counts) {
			ASSERT_EQ(profile__value_type(p), EMBER_VALUE_SAMPLES);
			ASSERT_EQ(profile__total(p), 3);
		} else {
			assert_type(p, "cpu", "nanoseconds");
			ASSERT_EQ(profile__total(p), 3 * 10101010);
		}
		profile__free(p);
		/* --sample-index still picks what it names. */
		ASSERT_EQ(read_heap(&b, "cpu", &p), 0);
		assert_type(p, "cpu", "nanoseconds");
		profile__free(p);
		free(b.data);
	}
}

/*
 * Root names and "[lib.so]" names share one buffer: a stack of many frameless
 * locations with long paths grows it after the root name was written, and the
 * root must still read "name-PID" (ASan sees a dangling pointer otherwise).
 */
static void test_frameless_roots(void)
{
	struct ember_folded_opts fo = {.sz = sizeof(fo), .per_pid = true};
	struct ember_profile *p;
	struct ember_sample s = {.pid = 42, .tid = 42, .process_name = "server", .count = 1};
	uint32_t locs[40];
	char path[300], *text = NULL, want[16];
	size_t len = 0, i;
	FILE *f;

	ASSERT_EQ(profile__new(&p), 0);
	for (i = 0; i < 40; i++) {
		struct ember_mapping m = {.start = 0x100000 * (i + 1), .limit = 0x100000 * (i + 2)};
		uint32_t id;

		snprintf(path, sizeof(path), "/opt/%0200zu/lib%zu.so", i, i);
		m.path = path;
		ASSERT_EQ(profile__intern_mapping(p, &m, &id), 0);
		ASSERT_EQ(profile__intern_location(p, id, 42, m.start + 16, i > 0, &locs[i]), 0);
	}
	s.nr_locations = 40;
	s.locations = locs;
	ASSERT_EQ(profile__add_sample(p, &s), 0);
	f = open_memstream(&text, &len);
	ASSERT(f);
	ASSERT_EQ(folded__write(p, &fo, f), 0);
	fclose(f);
	snprintf(want, sizeof(want), "server-42;");
	ASSERT_EQ(strncmp(text, want, strlen(want)), 0);
	ASSERT(strstr(text, ";[lib39.so];") != NULL);
	ASSERT(strstr(text, ";[lib0.so] 1\n") != NULL);
	free(text);
	profile__free(p);
}

int main(void)
{
	test_frameless_roots();
	test_sample_index();
	test_other_roundtrip();
	test_counter_comments();
	test_old_ember_cpu();
	return 0;
}
