// SPDX-License-Identifier: MIT
/*
 * Folded stacks, the "a;b;c 12" text format that flamegraph.pl, inferno and
 * speedscope read: the writer (lines from samples that fold to the same text,
 * e.g. two threads without --per-thread, are summed, then sorted for stable
 * output) and the reader (one name-only location per frame, so that
 * folded -> pprof -> folded gives back the same text).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "output/output.h"
#include "support/support.h"

/* Frame names must not contain the format's separators: ';' ends a frame, '\n' a line. */
static int append_name(struct obuf *b, const char *name)
{
	size_t start = b->len, i;
	int err = obuf_puts(b, *name ? name : "[unknown]");

	if (err)
		return err;
	for (i = start; i < b->len; i++)
		if (b->data[i] == ';' || b->data[i] == '\n' || b->data[i] == '\r')
			b->data[i] = '_';
	return 0;
}

int folded_append_stack(struct obuf *b, const struct stack_frame *frames, size_t nr, bool lines)
{
	size_t i;
	int err = 0;

	for (i = 0; i < nr && !err; i++) {
		const struct ember_frame *f = frames[i].frame;

		if (i)
			err = obuf_append(b, ";", 1);
		if (!err)
			err = append_name(b, frames[i].name);
		if (!err && lines && f && f->file && f->line)
			err = obuf_printf(b, ":%s:%u", f->file, f->line);
		if (!err)
			err = obuf_puts(b, frame_suffix(frames[i].flags));
	}
	return err;
}

struct line_lookup {
	const struct folded_set *set;
	const char *s;
};

static bool line_eq(const void *ctx, uint32_t index)
{
	const struct line_lookup *l = ctx;

	return strcmp(l->set->text.data + l->set->lines[index].offset, l->s) == 0;
}

int folded_set_init(struct folded_set *set)
{
	memset(set, 0, sizeof(*set));
	return ember_index__new(&set->index);
}

void folded_set_free(struct folded_set *set)
{
	ember_index__free(set->index);
	obuf_free(&set->text);
	free(set->lines);
	memset(set, 0, sizeof(*set));
}

int folded_set_add(struct folded_set *set, const char *line, size_t len, int which, uint64_t count)
{
	struct line_lookup l = {set, line};
	uint64_t h = ember_hash_bytes(line, len, 0xf01d);
	int64_t found = ember_index__find(set->index, h, line_eq, &l);
	int err;

	if (found >= 0) {
		set->lines[found].count[which] += count;
		return 0;
	}
	if (set->nr >= UINT32_MAX)
		return -ENOMEM;
	err = ember_grow((void **)&set->lines, &set->cap, set->nr + 1, sizeof(*set->lines));
	if (!err)
		err = ember_index__insert(set->index, h, (uint32_t)set->nr);
	if (err)
		return err;
	set->lines[set->nr].offset = set->text.len;
	set->lines[set->nr].count[0] = 0;
	set->lines[set->nr].count[1] = 0;
	set->lines[set->nr].count[which] = count;
	set->nr++;
	return obuf_append(&set->text, line, len + 1); /* keep the NUL */
}

int folded_set_add_profile(struct folded_set *set, const struct ember_profile *p,
			   const struct ember_folded_opts *o, int which)
{
	struct stack_walker w = {.per_pid = o->per_pid, .per_thread = o->per_thread};
	struct obuf line = {0};
	size_t i, n = profile__nr_samples(p);
	int err = 0;

	for (i = 0; i < n && !err; i++) {
		struct ember_sample s;

		profile__sample(p, i, &s);
		line.len = 0;
		err = stack_walk(&w, p, &s);
		if (!err)
			err = folded_append_stack(&line, w.frames, w.nr, o->lines);
		if (!err)
			err = folded_set_add(set, line.data, line.len, which, s.count);
	}
	stack_walker_free(&w);
	obuf_free(&line);
	return err;
}

static int compare_lines(const void *a, const void *b, void *text)
{
	const struct folded_line *x = a, *y = b;

	return strcmp((const char *)text + x->offset, (const char *)text + y->offset);
}

void folded_set_sort(struct folded_set *set)
{
	if (set->nr)
		qsort_r(set->lines, set->nr, sizeof(*set->lines), compare_lines, set->text.data);
}

int folded__write(const struct ember_profile *p, const struct ember_folded_opts *opts, FILE *out)
{
	struct ember_folded_opts o = {0};
	struct folded_set set;
	size_t i;
	int err;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	err = folded_set_init(&set);
	if (!err)
		err = folded_set_add_profile(&set, p, &o, 0);
	if (err)
		goto out;
	folded_set_sort(&set);
	for (i = 0; i < set.nr; i++) {
		if (fprintf(out, "%s %llu\n", set.text.data + set.lines[i].offset,
			    (unsigned long long)set.lines[i].count[0]) < 0) {
			err = -EIO;
			goto out;
		}
	}
	err = fflush(out) ? -EIO : 0;
out:
	folded_set_free(&set);
	return err;
}

/* ---- reader ------------------------------------------------------------ */

uint32_t folded_strip_suffix(const char *name, size_t *len)
{
	static const struct {
		char c;
		uint32_t flag;
	} kinds[] = {{'k', EMBER_FRAME_KERNEL}, {'i', EMBER_FRAME_INLINE}, {'j', EMBER_FRAME_JIT}};
	size_t i, n = *len;

	/* A bare "_[k]" is a name, not a suffix on an empty name. */
	if (n <= 4 || name[n - 4] != '_' || name[n - 3] != '[' || name[n - 1] != ']')
		return 0;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (name[n - 2] == kinds[i].c) {
			*len = n - 4;
			return kinds[i].flag;
		}
	}
	return 0;
}

/* Parses a decimal count (the whole of @len bytes); false when not one. */
static bool parse_count(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* A frame text already seen: its bytes in the reader's arena, its location. */
struct seen_frame {
	size_t offset; /* into folded_reader.arena */
	size_t len;
	uint32_t id;
};

/* Malformed lines named one by one on stderr; the rest are counted. */
#define BAD_SHOWN 10

struct folded_reader {
	struct ember_profile *p;
	struct obuf names; /* one frame name, NUL-terminated */
	uint32_t *locs;	   /* this line's locations, root first */
	uint32_t *leaf_first;
	size_t nr_locs, cap_locs, cap_leaf_first;
	/*
	 * The previous good line and its locations: sorted files (what every folded
	 * writer produces) share long prefixes between neighbours, reused for free.
	 */
	const char *prev;
	size_t prev_len;
	uint32_t *prev_locs;
	size_t nr_prev, cap_prev;
	/* Every distinct frame text: one hash lookup instead of interning each time. */
	struct seen_frame *seen;
	size_t nr_seen, cap_seen;
	/* Copies of the seen texts side by side: compares stay in cache, not all over the input. */
	struct obuf arena;
	struct ember_index *seen_index;
	const char *probe;
	size_t probe_len;

	const char *name;
	bool strict, lenient;
	size_t nr_bad, nr_good;
	/* The first malformed lines: reported once it is known whether any line was good. */
	struct bad_line {
		size_t lineno;
		const char *why;
	} bad[BAD_SHOWN];
	const char *first_bad; /* text of the first malformed line, into the input */
	size_t first_bad_len;
};

static bool seen_eq(const void *ctx, uint32_t index)
{
	const struct folded_reader *r = ctx;
	const struct seen_frame *f = &r->seen[index];

	return f->len == r->probe_len && memcmp(r->arena.data + f->offset, r->probe, f->len) == 0;
}

/* Location of the frame text @text (@n bytes, with its kind suffix). */
static int frame_location(struct folded_reader *r, const char *text, size_t n, uint32_t *id)
{
	struct ember_frame f = {0};
	uint64_t h = ember_hash_bytes(text, n, 0xf7a3e);
	size_t len = n;
	int64_t found;
	int err;

	r->probe = text;
	r->probe_len = n;
	found = ember_index__find(r->seen_index, h, seen_eq, r);
	if (found >= 0) {
		*id = r->seen[found].id;
		return 0;
	}
	f.flags = folded_strip_suffix(text, &len);
	r->names.len = 0;
	err = obuf_append(&r->names, text, len);
	if (err)
		return err;
	f.function = r->names.data;
	err = profile__intern_frames_location(r->p, &f, 1, id);
	if (!err && r->nr_seen >= UINT32_MAX)
		err = -ENOMEM;
	if (!err)
		err = ember_grow((void **)&r->seen, &r->cap_seen, r->nr_seen + 1, sizeof(*r->seen));
	if (!err)
		err = ember_index__insert(r->seen_index, h, (uint32_t)r->nr_seen);
	if (!err)
		err = obuf_append(&r->arena, text, n);
	if (err)
		return err;
	r->seen[r->nr_seen++] = (struct seen_frame){r->arena.len - n, n, *id};
	return 0;
}

/*
 * The one-line refusal of input in which no line was "STACK COUNT": which
 * line, why, and its start, so a file of another format is recognizable.
 */
static void refuse(const struct folded_reader *r)
{
	struct obuf quoted = {0};
	size_t n = r->first_bad_len < 60 ? r->first_bad_len : 60, i;
	int err = 0;

	for (i = 0; i < n && !err; i++) {
		unsigned char c = (unsigned char)r->first_bad[i];

		err = c < 0x20 || c == '"' || c == '\\' || c >= 0x7f
			  ? obuf_printf(&quoted, c == '"' ? "\\\"" : "\\x%02x", c)
			  : obuf_append(&quoted, &r->first_bad[i], 1);
	}
	if (!err && n < r->first_bad_len)
		err = obuf_puts(&quoted, "...");
	pr_err("%s: looks like folded stacks, but line %zu is not \"STACK COUNT\" (%s): \"%s\"",
	       r->name, r->bad[0].lineno, r->bad[0].why, err ? "" : quoted.data ?: "");
	obuf_free(&quoted);
}

/* Parses one line (no newline). 1 when malformed, 0 when added, < 0 on error. */
static int read_line(struct folded_reader *r, const char *line, size_t len, const char **why)
{
	const char *sp, *frame;
	struct ember_sample s = {0};
	uint64_t count;
	size_t stack_len, common = 0, i;
	bool reuse;
	int err;

	/* No folding tool writes comments: "#" opens other formats' headers. */
	if (line[0] == '#') {
		*why = "a \"#\" comment";
		return 1;
	}
	sp = len ? memrchr(line, ' ', len) : NULL;
	if (!sp) {
		*why = "no count";
		return 1;
	}
	stack_len = (size_t)(sp - line);
	if (!parse_count(sp + 1, len - stack_len - 1, &count)) {
		*why = "count is not a non-negative integer";
		return 1;
	}
	if (stack_len == 0) {
		*why = "empty stack";
		return 1;
	}
	if (memchr(line, '\0', len)) {
		*why = "NUL byte";
		return 1;
	}
	if (r->prev) {
		size_t max = stack_len < r->prev_len ? stack_len : r->prev_len;

		while (common < max && line[common] == r->prev[common])
			common++;
	}
	reuse = r->prev != NULL;
	r->nr_locs = 0;
	frame = line;
	while (frame <= line + stack_len) {
		const char *end = memchr(frame, ';', (size_t)(line + stack_len - frame));
		size_t n, e;
		uint32_t id;

		if (!end)
			end = line + stack_len;
		n = (size_t)(end - frame);
		e = (size_t)(end - line);
		if (n == 0) {
			*why = "empty frame";
			return 1;
		}
		/* Same bytes up to here and a frame boundary there too: same frame. */
		reuse = reuse && e <= common && r->nr_locs < r->nr_prev &&
			(e == r->prev_len || r->prev[e] == ';');
		if (reuse) {
			id = r->prev_locs[r->nr_locs];
		} else {
			err = frame_location(r, frame, n, &id);
			if (err)
				return err;
		}
		if (ember_grow((void **)&r->locs, &r->cap_locs, r->nr_locs + 1, sizeof(*r->locs)))
			return -ENOMEM;
		r->locs[r->nr_locs++] = id;
		frame = end + 1;
	}
	/* Folded lines are root first, samples leaf first. */
	if (ember_grow((void **)&r->leaf_first, &r->cap_leaf_first, r->nr_locs,
		       sizeof(*r->leaf_first)) ||
	    ember_grow((void **)&r->prev_locs, &r->cap_prev, r->nr_locs, sizeof(*r->prev_locs)))
		return -ENOMEM;
	for (i = 0; i < r->nr_locs; i++)
		r->leaf_first[i] = r->locs[r->nr_locs - 1 - i];
	memcpy(r->prev_locs, r->locs, r->nr_locs * sizeof(*r->locs));
	r->nr_prev = r->nr_locs;
	r->prev = line;
	r->prev_len = stack_len;
	s.count = count;
	s.nr_locations = (uint32_t)r->nr_locs;
	s.locations = r->leaf_first;
	return profile__add_sample(r->p, &s);
}

int folded__read(const char *buf, size_t len, const struct ember_read_opts *opts,
		 struct ember_profile *p)
{
	struct folded_reader r = {.p = p, .name = "input"};
	size_t pos = 0, lineno = 0, i;
	int err;

	if (opts) {
		r.strict = opts->strict;
		r.lenient = opts->lenient;
		if (opts->name)
			r.name = opts->name;
	}
	err = ember_index__new(&r.seen_index);
	if (err)
		return err;
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		const char *why = NULL;

		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n && line[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		err = read_line(&r, line, n, &why);
		if (err < 0)
			goto out;
		if (err == 0) {
			r.nr_good++;
			continue;
		}
		err = 0;
		if (r.strict) {
			pr_err("%s:%zu: malformed folded line: %s", r.name, lineno, why);
			err = -EINVAL;
			goto out;
		}
		if (!r.nr_bad) {
			r.first_bad = line;
			r.first_bad_len = n;
		}
		/* A file of garbage should not flood the terminal. */
		if (r.nr_bad < BAD_SHOWN)
			r.bad[r.nr_bad] = (struct bad_line){lineno, why};
		r.nr_bad++;
	}
	/* Not one good line: another format (or none), not a profile with a few bad lines. */
	if (r.nr_bad && !r.nr_good && !r.lenient) {
		refuse(&r);
		err = -EINVAL;
		goto out;
	}
	for (i = 0; i < r.nr_bad && i < BAD_SHOWN; i++)
		pr_warn("%s:%zu: malformed folded line skipped: %s", r.name, r.bad[i].lineno,
			r.bad[i].why);
	if (r.nr_bad > BAD_SHOWN)
		pr_warn("%s: %zu malformed lines skipped in all", r.name, r.nr_bad);
out:
	obuf_free(&r.names);
	free(r.locs);
	free(r.leaf_first);
	free(r.prev_locs);
	free(r.seen);
	obuf_free(&r.arena);
	ember_index__free(r.seen_index);
	return err;
}
