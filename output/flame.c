// SPDX-License-Identifier: MIT
/*
 * Flame stacks: every sample's frames, root first, sorted by name the way
 * flamegraph.pl sorts its input, so the same profile always draws the same
 * picture. Walking the sorted stacks with only the current path open yields
 * each frame with its position and width when it closes; a 200k-stack profile
 * with millions of distinct call paths then needs no tree of millions of
 * nodes, only the frame lists it already has.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "support/support.h"

int flame_stacks_init(struct flame_stacks *fs, bool reverse, bool per_pid, bool per_thread,
		      bool intern_all)
{
	memset(fs, 0, sizeof(*fs));
	fs->reverse = reverse;
	fs->intern_all = intern_all;
	fs->walker.per_pid = per_pid;
	fs->walker.per_thread = per_thread;
	return ember_strpool__new(&fs->pool);
}

void flame_stacks_free(struct flame_stacks *fs)
{
	free(fs->frames);
	free(fs->stacks);
	ember_strpool__free(fs->pool);
	stack_walker_free(&fs->walker);
	memset(fs, 0, sizeof(*fs));
}

int flame_stacks_add_profile(struct flame_stacks *fs, const struct ember_profile *p, int which)
{
	size_t i, k, n = profile__nr_samples(p);
	int err = 0;

	for (i = 0; i < n && !err; i++) {
		struct flame_stack *st;
		struct ember_sample s;
		size_t depth;

		profile__sample(p, i, &s);
		if (!s.count)
			continue;
		err = stack_walk(&fs->walker, p, &s);
		depth = fs->walker.nr;
		if (!err && depth > UINT32_MAX - 1)
			err = -E2BIG;
		if (!err)
			err = ember_grow((void **)&fs->frames, &fs->cap_frames,
					 fs->nr_frames + depth, sizeof(*fs->frames));
		if (err)
			break;
		for (k = 0; k < depth; k++) {
			const struct stack_frame *f =
			    &fs->walker.frames[fs->reverse ? depth - 1 - k : k];
			struct flame_frame *out = &fs->frames[fs->nr_frames + k];
			const char *name = *f->name ? f->name : "[unknown]";

			/* Roots live in the walker's buffer: they need a lasting copy. */
			if (fs->intern_all || !f->frame || !*f->name) {
				name = ember_strpool__intern(fs->pool, name);
				if (!name)
					return -ENOMEM;
			}
			out->name = name;
			out->flags = f->flags & (FRAME_KIND_MASK | EMBER_FRAME_UNKNOWN);
		}
		if (ember_grow((void **)&fs->stacks, &fs->cap, fs->nr + 1, sizeof(*fs->stacks)))
			return -ENOMEM;
		st = &fs->stacks[fs->nr++];
		memset(st, 0, sizeof(*st));
		st->first = fs->nr_frames;
		st->depth = (uint32_t)depth;
		st->count[which] = s.count;
		fs->nr_frames += depth;
		fs->total[which] += s.count;
		if (depth > fs->max_depth)
			fs->max_depth = (uint32_t)depth;
	}
	return err;
}

/* Frame order: name bytes, then kind. Interned names compare by pointer first. */
static int compare_frame(const struct flame_frame *a, const struct flame_frame *b)
{
	int c;

	if (a->name != b->name) {
		c = strcmp(a->name, b->name);
		if (c)
			return c;
	}
	return a->flags < b->flags ? -1 : a->flags > b->flags;
}

static int compare_stacks(const void *x, const void *y, void *frames)
{
	const struct flame_stack *a = x, *b = y;
	const struct flame_frame *f = frames;
	uint32_t k, n = a->depth < b->depth ? a->depth : b->depth;

	for (k = 0; k < n; k++) {
		int c = compare_frame(&f[a->first + k], &f[b->first + k]);

		if (c)
			return c;
	}
	/* A stack that is a prefix of another comes first (flamegraph.pl's order). */
	return a->depth < b->depth ? -1 : a->depth > b->depth;
}

int flame_stacks_finish(struct flame_stacks *fs)
{
	size_t i, out = 0;

	if (!fs->nr)
		return 0;
	qsort_r(fs->stacks, fs->nr, sizeof(*fs->stacks), compare_stacks, fs->frames);
	/* Equal stacks (two threads folded alike, BEFORE and AFTER) become one. */
	for (i = 1; i < fs->nr; i++) {
		struct flame_stack *prev = &fs->stacks[out];

		if (compare_stacks(prev, &fs->stacks[i], fs->frames) == 0) {
			prev->count[0] += fs->stacks[i].count[0];
			prev->count[1] += fs->stacks[i].count[1];
		} else {
			fs->stacks[++out] = fs->stacks[i];
		}
	}
	fs->nr = out + 1;
	return 0;
}

int flame_stacks_walk(const struct flame_stacks *fs, int (*fn)(const struct flame_node *, void *),
		      void *ctx)
{
	struct flame_node *open = NULL; /* open[0] is the root, open[d] the frame at depth d */
	uint64_t pos[2] = {0, 0};
	size_t i, nr_open = 1, cap_open = 0;
	int ret = 0;

	if (ember_grow((void **)&open, &cap_open, (size_t)fs->max_depth + 1, sizeof(*open)))
		return -ENOMEM;
	open[0] = (struct flame_node){.name = "all"};
	for (i = 0; i < fs->nr && !ret; i++) {
		const struct flame_stack *st = &fs->stacks[i];
		const struct flame_frame *f = &fs->frames[st->first];
		size_t common = 0, d;

		/* Frames shared with the open path stay open; the rest close, deepest first. */
		while (common + 1 < nr_open && common < st->depth &&
		       compare_frame(
			   &(struct flame_frame){open[common + 1].name, open[common + 1].flags},
			   &f[common]) == 0)
			common++;
		while (nr_open > common + 1 && !ret) {
			struct flame_node *n = &open[--nr_open];

			n->total[0] = pos[0] - n->start[0];
			n->total[1] = pos[1] - n->start[1];
			ret = fn(n, ctx);
		}
		for (d = common; d < st->depth; d++) {
			open[nr_open] = (struct flame_node){.name = f[d].name,
							    .flags = f[d].flags,
							    .depth = (uint32_t)nr_open,
							    .start = {pos[0], pos[1]}};
			nr_open++;
		}
		pos[0] += st->count[0];
		pos[1] += st->count[1];
	}
	while (nr_open > 0 && !ret) {
		struct flame_node *n = &open[--nr_open];

		n->total[0] = pos[0] - n->start[0];
		n->total[1] = pos[1] - n->start[1];
		ret = fn(n, ctx);
	}
	free(open);
	return ret;
}
