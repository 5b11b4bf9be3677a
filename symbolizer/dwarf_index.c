// SPDX-License-Identifier: MIT
/*
 * A per-CU address index of function scopes. libdw's dwarf_getscopes() walks a
 * CU's DIE tree for every address asked, which costs seconds per thousand
 * addresses on the large CUs C++ produces. Here each CU's tree is walked once:
 * every subprogram and inlined subroutine with code becomes a scope (parent
 * link, call site), its PC ranges are clipped to its ancestors' ranges (the
 * part of the tree dwarf_getscopes() would descend into: DIEs with code, and
 * namespaces and classes holding them), and the nested
 * ranges are flattened into sorted, disjoint segments that each name their
 * innermost scope. A lookup is then one binary search.
 */
#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <elfutils/libdw.h>

#include "internal.h"

struct range {
	uint64_t lo, hi; /* [lo, hi) in DWARF addresses */
};

struct painted {
	uint64_t lo, hi;
	uint32_t depth; /* nesting depth of the scope: deeper paints over */
	int32_t scope;
};

struct seg {
	uint64_t lo, hi;
	int32_t scope;
};

struct dw_cu_index {
	struct dw_scope *scopes;
	size_t nr_scopes, cap_scopes;
	struct seg *segs;
	size_t nr_segs, cap_segs;
};

struct builder {
	struct dw_cu_index *ix;
	struct painted *paint;
	size_t nr_paint, cap_paint;
	struct range *ranges; /* stack of clip lists, grown as the walk deepens */
	size_t nr_ranges, cap_ranges;
};

static bool is_function(int tag)
{
	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

/* Blocks: code ranges that may hold inlined subroutines, without a scope of their own. */
static bool is_block(int tag)
{
	return tag == DW_TAG_lexical_block || tag == DW_TAG_try_block ||
	       tag == DW_TAG_catch_block || tag == DW_TAG_with_stmt || tag == DW_TAG_common_block;
}

static bool is_container(int tag)
{
	return tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
	       tag == DW_TAG_structure_type || tag == DW_TAG_union_type || tag == DW_TAG_module ||
	       tag == DW_TAG_interface_type;
}

/*
 * Appends to b->ranges the ranges of @die intersected with the clip list
 * [@clip, @clip + @nclip) (NULL: no clip). Returns how many were appended, or
 * a negative errno.
 */
static ssize_t die_ranges(struct builder *b, Dwarf_Die *die, size_t clip, size_t nclip,
			  bool has_clip)
{
	Dwarf_Addr base, start, end;
	ptrdiff_t off = 0;
	size_t first = b->nr_ranges;

	while ((off = dwarf_ranges(die, off, &base, &start, &end)) > 0) {
		if (end <= start)
			continue;
		for (size_t i = 0; i < (has_clip ? nclip : 1); i++) {
			uint64_t lo = start, hi = end;

			if (has_clip) {
				const struct range *c = &b->ranges[clip + i];

				lo = lo > c->lo ? lo : c->lo;
				hi = hi < c->hi ? hi : c->hi;
			}
			if (lo >= hi)
				continue;
			if (ember_grow((void **)&b->ranges, &b->cap_ranges, b->nr_ranges + 1,
				       sizeof(*b->ranges)))
				return -ENOMEM;
			b->ranges[b->nr_ranges++] = (struct range){lo, hi};
		}
	}
	return (ssize_t)(b->nr_ranges - first);
}

static int add_paint(struct builder *b, uint64_t lo, uint64_t hi, uint32_t depth, int32_t scope)
{
	if (ember_grow((void **)&b->paint, &b->cap_paint, b->nr_paint + 1, sizeof(*b->paint)))
		return -ENOMEM;
	b->paint[b->nr_paint++] = (struct painted){lo, hi, depth, scope};
	return 0;
}

/*
 * Walks the children of @die. Only children with code in the clip ranges are
 * entered, as dwarf_getscopes() prunes the rest.
 */
static int walk(struct builder *b, Dwarf_Die *die, int32_t parent, size_t clip, size_t nclip,
		bool has_clip, uint32_t depth)
{
	Dwarf_Die child;
	int rc, err = 0;

	/* Deeper than any real program nests: damaged DWARF. */
	if (depth > 256)
		return 0;
	rc = dwarf_child(die, &child);
	while (rc == 0) {
		size_t mark = b->nr_ranges;
		int tag = dwarf_tag(&child);
		ssize_t n;

		/* Partial units shared by dwz (Debian's debug packages) are part
		 * of the tree where they are imported. */
		if (tag == DW_TAG_imported_unit) {
			Dwarf_Attribute attr;
			Dwarf_Die unit;

			if (dwarf_formref_die(dwarf_attr(&child, DW_AT_import, &attr), &unit)) {
				err = walk(b, &unit, parent, clip, nclip, has_clip, depth + 1);
				if (err)
					return err;
			}
			rc = dwarf_siblingof(&child, &child);
			continue;
		}
		/* Parameters, variables, types, members, labels, call sites: no
		 * scope within, and most of a CU's DIEs. Not asking them for
		 * ranges halves the walk. */
		if (!is_function(tag) && !is_block(tag) && !is_container(tag)) {
			rc = dwarf_siblingof(&child, &child);
			continue;
		}
		n = die_ranges(b, &child, clip, nclip, has_clip);
		/* Containers without code of their own hold definitions with
		 * code (clang puts C++ functions inside their namespace). */
		if (n == 0 && is_container(tag)) {
			err = walk(b, &child, parent, clip, nclip, has_clip, depth + 1);
			if (err)
				return err;
			rc = dwarf_siblingof(&child, &child);
			continue;
		}

		if (n < 0)
			return (int)n;
		if (n > 0) {
			int32_t scope = parent;

			if (is_function(tag)) {
				struct dw_cu_index *ix = b->ix;
				struct dw_scope *sc;

				err = ember_grow((void **)&ix->scopes, &ix->cap_scopes,
						 ix->nr_scopes + 1, sizeof(*ix->scopes));
				if (err)
					return err;
				scope = (int32_t)ix->nr_scopes++;
				sc = &ix->scopes[scope];
				memset(sc, 0, sizeof(*sc));
				sc->die = dwarf_dieoffset(&child);
				sc->parent = parent;
				sc->is_inline = tag == DW_TAG_inlined_subroutine;
				for (ssize_t i = 0; i < n; i++) {
					err = add_paint(b, b->ranges[mark + i].lo,
							b->ranges[mark + i].hi, depth, scope);
					if (err)
						return err;
				}
			}
			err = walk(b, &child, scope, mark, (size_t)n, true, depth + 1);
			if (err)
				return err;
		}
		b->nr_ranges = mark;
		rc = dwarf_siblingof(&child, &child);
	}
	return 0;
}

static int paint_cmp(const void *a, const void *b)
{
	const struct painted *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->hi > y->hi ? -1 : x->hi < y->hi;
}

static int emit(struct dw_cu_index *ix, uint64_t lo, uint64_t hi, int32_t scope)
{
	if (lo >= hi)
		return 0;
	/* Merge with the previous segment when it continues it. */
	if (ix->nr_segs && ix->segs[ix->nr_segs - 1].hi == lo &&
	    ix->segs[ix->nr_segs - 1].scope == scope) {
		ix->segs[ix->nr_segs - 1].hi = hi;
		return 0;
	}
	if (ember_grow((void **)&ix->segs, &ix->cap_segs, ix->nr_segs + 1, sizeof(*ix->segs)))
		return -ENOMEM;
	ix->segs[ix->nr_segs++] = (struct seg){lo, hi, scope};
	return 0;
}

/*
 * Flattens the nested ranges: sorted by start (outer first), a stack holds
 * the ranges open at the cursor, and the top of the stack, the innermost,
 * owns each stretch up to the next start or end.
 */
static int flatten(struct builder *b)
{
	struct dw_cu_index *ix = b->ix;
	struct painted *stack = NULL;
	size_t depth = 0, cap = 0;
	uint64_t cursor = 0;
	int err = 0;

	if (b->nr_paint == 0)
		return 0;
	qsort(b->paint, b->nr_paint, sizeof(*b->paint), paint_cmp);
	for (size_t i = 0; i <= b->nr_paint; i++) {
		const struct painted *p = i < b->nr_paint ? &b->paint[i] : NULL;
		uint64_t next = p ? p->lo : UINT64_MAX;

		/* Close every open range that ends before the next one starts. */
		while (depth && stack[depth - 1].hi <= next) {
			struct painted *top = &stack[depth - 1];

			if (cursor < top->hi) {
				err = emit(ix, cursor, top->hi, top->scope);
				if (err)
					goto out;
				cursor = top->hi;
			}
			depth--;
		}
		if (!p)
			break;
		if (depth && cursor < p->lo) {
			err = emit(ix, cursor, p->lo, stack[depth - 1].scope);
			if (err)
				goto out;
		}
		if (cursor < p->lo)
			cursor = p->lo;
		err = ember_grow((void **)&stack, &cap, depth + 1, sizeof(*stack));
		if (err)
			goto out;
		stack[depth++] = *p;
	}
out:
	free(stack);
	return err;
}

int dw_cu_index__build(Dwarf_Die *cudie, struct dw_cu_index **out)
{
	struct builder b = {0};
	int err;

	*out = NULL;
	b.ix = calloc(1, sizeof(*b.ix));
	if (!b.ix)
		return -ENOMEM;
	err = walk(&b, cudie, -1, 0, 0, false, 0);
	if (!err)
		err = flatten(&b);
	free(b.paint);
	free(b.ranges);
	if (err) {
		dw_cu_index__free(b.ix);
		return err;
	}
	*out = b.ix;
	return 0;
}

void dw_cu_index__free(struct dw_cu_index *ix)
{
	if (!ix)
		return;
	free(ix->scopes);
	free(ix->segs);
	free(ix);
}

int32_t dw_cu_index__find(const struct dw_cu_index *ix, uint64_t pc)
{
	size_t lo = 0, hi = ix->nr_segs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->segs[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || pc >= ix->segs[lo - 1].hi)
		return -1;
	return ix->segs[lo - 1].scope;
}

struct dw_scope *dw_cu_index__scope(struct dw_cu_index *ix, int32_t i)
{
	return i >= 0 && (size_t)i < ix->nr_scopes ? &ix->scopes[i] : NULL;
}

size_t dw_cu_index__bytes(const struct dw_cu_index *ix)
{
	return sizeof(*ix) + ix->cap_scopes * sizeof(*ix->scopes) +
	       ix->cap_segs * sizeof(*ix->segs);
}
