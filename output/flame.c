// SPDX-License-Identifier: MIT
/*
 * The flame tree: every sample's frames merged into one call tree, root
 * "all", children sorted by name as flamegraph.pl does, so the same profile
 * always draws the same picture. Two counters per node let the differential
 * graph hold BEFORE and AFTER in one tree.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "support/support.h"

struct child_lookup {
	const struct flame_tree *t;
	uint32_t parent, flags;
	const char *name;
};

static bool child_eq(const void *ctx, uint32_t index)
{
	const struct child_lookup *l = ctx;
	const struct flame_node *n = &l->t->nodes[index];

	return n->parent == l->parent && n->name == l->name && n->flags == l->flags && index;
}

int flame_tree_init(struct flame_tree *t, bool reverse, bool per_pid, bool per_thread,
		    bool intern_all)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->reverse = reverse;
	t->intern_all = intern_all;
	t->walker.per_pid = per_pid;
	t->walker.per_thread = per_thread;
	err = ember_index__new(&t->index);
	if (!err)
		err = ember_strpool__new(&t->pool);
	if (!err)
		err = ember_grow((void **)&t->nodes, &t->cap, 1, sizeof(*t->nodes));
	if (err) {
		flame_tree_free(t);
		return -ENOMEM;
	}
	t->nodes[0] = (struct flame_node){ .name = "all" };
	t->nr = 1;
	return 0;
}

void flame_tree_free(struct flame_tree *t)
{
	free(t->nodes);
	free(t->children);
	free(t->prev);
	ember_index__free(t->index);
	ember_strpool__free(t->pool);
	stack_walker_free(&t->walker);
	memset(t, 0, sizeof(*t));
}

/* Child of @parent named @name (interned) with kind @flags, added when new. */
static int child(struct flame_tree *t, uint32_t parent, const char *name, uint32_t flags,
		 uint32_t *out)
{
	struct child_lookup l = { t, parent, flags, name };
	uint64_t h = ember_hash_u64(ember_hash_u64(parent, (uintptr_t)name), flags);
	int64_t found = ember_index__find(t->index, h, child_eq, &l);
	struct flame_node *n;

	if (found >= 0) {
		*out = (uint32_t)found;
		return 0;
	}
	if (t->nr >= UINT32_MAX ||
	    ember_grow((void **)&t->nodes, &t->cap, t->nr + 1, sizeof(*t->nodes)) ||
	    ember_index__insert(t->index, h, (uint32_t)t->nr))
		return -ENOMEM;
	n = &t->nodes[t->nr];
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->flags = flags;
	n->parent = parent;
	n->depth = t->nodes[parent].depth + 1;
	if (n->depth > t->max_depth)
		t->max_depth = n->depth;
	*out = (uint32_t)t->nr++;
	return 0;
}

int flame_tree_add_profile(struct flame_tree *t, const struct ember_profile *p, int which)
{
	size_t i, k, n = profile__nr_samples(p);
	int err = 0;

	t->nr_prev = 0; /* names of another profile never equal by pointer */
	for (i = 0; i < n && !err; i++) {
		struct ember_sample s;
		uint32_t node = 0;
		bool reuse = true;

		profile__sample(p, i, &s);
		err = stack_walk(&t->walker, p, &s);
		if (!err)
			err = ember_grow((void **)&t->prev, &t->cap_prev, t->walker.nr,
					 sizeof(*t->prev));
		if (err)
			break;
		t->nodes[0].total[which] += s.count;
		for (k = 0; k < t->walker.nr && !err; k++) {
			const struct stack_frame *f =
				&t->walker.frames[t->reverse ? t->walker.nr - 1 - k : k];
			uint32_t flags = f->flags & (FRAME_KIND_MASK | EMBER_FRAME_UNKNOWN);
			const char *name = *f->name ? f->name : "[unknown]";

			/*
			 * A profile interns its names, so within one profile a frame's
			 * name pointer identifies it; roots live in the walker's buffer
			 * and names of two profiles differ: those get the tree's copy.
			 */
			if (t->intern_all || !f->frame || !*f->name) {
				name = ember_strpool__intern(t->pool, name);
				if (!name)
					return -ENOMEM;
			}
			reuse = reuse && k < t->nr_prev && t->prev[k].name == name &&
				t->prev[k].flags == flags;
			if (reuse)
				node = t->prev[k].node;
			else
				err = child(t, node, name, flags, &node);
			if (err)
				break;
			t->nodes[node].total[which] += s.count;
			t->prev[k] = (struct flame_step){ name, flags, node };
		}
		t->nr_prev = t->walker.nr;
	}
	return err;
}

static int compare_children(const void *a, const void *b, void *nodes)
{
	const struct flame_node *n = nodes;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = strcmp(n[x].name, n[y].name);

	if (c)
		return c;
	return n[x].flags < n[y].flags ? -1 : n[x].flags > n[y].flags;
}

int flame_tree_finish(struct flame_tree *t)
{
	size_t i, pos = 0;

	t->children = calloc(t->nr, sizeof(*t->children));
	if (!t->children)
		return -ENOMEM;
	/* Counting sort by parent gives each node a contiguous child range. */
	for (i = 1; i < t->nr; i++)
		t->nodes[t->nodes[i].parent].nr_children++;
	for (i = 0; i < t->nr; i++) {
		t->nodes[i].first_child = (uint32_t)pos;
		pos += t->nodes[i].nr_children;
		t->nodes[i].nr_children = 0;
	}
	for (i = 1; i < t->nr; i++) {
		struct flame_node *parent = &t->nodes[t->nodes[i].parent];

		t->children[parent->first_child + parent->nr_children++] = (uint32_t)i;
	}
	for (i = 0; i < t->nr; i++)
		if (t->nodes[i].nr_children > 1)
			qsort_r(&t->children[t->nodes[i].first_child], t->nodes[i].nr_children,
				sizeof(*t->children), compare_children, t->nodes);
	return 0;
}
