/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The sampler's stack storage, included once by sampler.bpf.c (after stat_inc):
 * the stacks maps of each size class and generation, the stack hash, the full
 * compare that keeps two stacks from ever being merged, and store_stack(),
 * which puts a stack into the smallest class that holds it. Kept apart so the
 * sampler stays readable; not a header for any other program.
 */
#ifndef EMBER_STACKS_BPF_H
#define EMBER_STACKS_BPF_H

/*
 * Preallocated: an entry allocated on demand in irq context can fail when the
 * allocator's per-CPU cache is empty, losing the stack. Userspace sizes these
 * maps from the samples a drain window can hold, so preallocation stays small.
 * One map per size class (enum ember_stack_class) and generation.
 */
#define STACKS_MAPS(name, value_type, entries)                           \
	struct {                                                         \
		__uint(type, BPF_MAP_TYPE_HASH);                         \
		__uint(max_entries, entries); /* resized by userspace */ \
		__type(key, __u64);                                      \
		__type(value, value_type);                               \
	} name##0 SEC(".maps"), name##1 SEC(".maps")

STACKS_MAPS(stacks_small, struct ember_stack_small, 16384);
STACKS_MAPS(stacks_medium, struct ember_stack_medium, 8192);
STACKS_MAPS(stacks_large, struct ember_stack, 2048);

/*
 * Open-coded numeric iterators (kernel 6.4+; libbpf 1.1's headers predate the
 * bpf_for macro). The verifier checks an iterator loop's body until its state
 * repeats, a couple of passes, where a bounded loop is checked once for every
 * iteration: a 512-frame hash and compare unrolled cost ~10k verified
 * instructions, a tenth of the sampler's start-up verification budget.
 */
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

#define CHUNK_FRAMES 8 /* frames per iterator step: one kfunc call per 8 frames */

/*
 * FNV-1a-style mix over the stack's addresses. Global, like the same_*()
 * functions: the verifier checks the loop once, not once for every depth at
 * which the caller's walk may have ended.
 */
__noinline __u64 hash_stack(const struct ember_stack *st)
{
	struct bpf_iter_num it;
	__u32 nr, j, k;
	__u64 h;
	int *c;

	if (!st)
		return 1;
	nr = st->nr;
	if (nr > EMBER_MAX_STACK_DEPTH)
		nr = EMBER_MAX_STACK_DEPTH;
	h = 0xcbf29ce484222325ull ^ st->kernel ^ ((__u64)st->end << 8);
	bpf_iter_num_new(&it, 0, (nr + CHUNK_FRAMES - 1) / CHUNK_FRAMES);
	while ((c = bpf_iter_num_next(&it))) {
		for (j = 0; j < CHUNK_FRAMES; j++) {
			k = (__u32)*c * CHUNK_FRAMES + j;
			if (k >= nr)
				break;
			h ^= st->ips[k];
			h *= 0x100000001b3ull;
			h ^= h >> 29;
		}
	}
	bpf_iter_num_destroy(&it);
	h ^= st->nr;
	return h;
}

/* Whether the first @nr of @frames entries of @a and @b are equal. */
static __always_inline bool same_ips(const __u64 *a, const __u64 *b, __u32 nr, __u32 frames)
{
	struct bpf_iter_num it;
	bool same = true;
	__u32 j, k;
	int *c;

	if (nr > frames)
		nr = frames;
	bpf_iter_num_new(&it, 0, (nr + CHUNK_FRAMES - 1) / CHUNK_FRAMES);
	while (same && (c = bpf_iter_num_next(&it))) {
		for (j = 0; j < CHUNK_FRAMES; j++) {
			k = (__u32)*c * CHUNK_FRAMES + j;
			if (k >= nr)
				break;
			if (a[k] != b[k]) {
				same = false;
				break;
			}
		}
	}
	bpf_iter_num_destroy(&it);
	return same;
}

#define SAME_HEAD(a, b) ((a)->nr == (b)->nr && (a)->kernel == (b)->kernel && (a)->end == (b)->end)

/*
 * Whether stored stack @a (one per size class, each verified once) is @b. The
 * loop of each is bounded by its class's slots, so comparing a short stack
 * never costs the verifier (or the CPU) a 512-frame loop.
 */
__noinline int same_small(const struct ember_stack_small *a, const struct ember_stack *b)
{
	if (!a || !b || !SAME_HEAD(a, b))
		return false;
	return same_ips(a->ips, b->ips, a->nr, EMBER_STACK_SMALL_FRAMES);
}

__noinline int same_medium(const struct ember_stack_medium *a, const struct ember_stack *b)
{
	if (!a || !b || !SAME_HEAD(a, b))
		return false;
	return same_ips(a->ips, b->ips, a->nr, EMBER_STACK_MEDIUM_FRAMES);
}

__noinline int same_large(const struct ember_stack *a, const struct ember_stack *b)
{
	if (!a || !b || !SAME_HEAD(a, b))
		return false;
	return same_ips(a->ips, b->ips, a->nr, EMBER_MAX_STACK_DEPTH);
}

/* Whether the stacks map of generation @g and class @cls holds @st under key @h. */
static __always_inline int lookup_same(__u32 g, __u32 cls, __u64 h, const struct ember_stack *st,
				       bool *found)
{
	void *have;

	if (cls == EMBER_STACK_CLASS_SMALL) {
		have = bpf_map_lookup_elem(g ? (void *)&stacks_small1 : (void *)&stacks_small0, &h);
		*found = have != NULL;
		return have && same_small(have, st);
	}
	if (cls == EMBER_STACK_CLASS_MEDIUM) {
		have =
		    bpf_map_lookup_elem(g ? (void *)&stacks_medium1 : (void *)&stacks_medium0, &h);
		*found = have != NULL;
		return have && same_medium(have, st);
	}
	have = bpf_map_lookup_elem(g ? (void *)&stacks_large1 : (void *)&stacks_large0, &h);
	*found = have != NULL;
	return have && same_large(have, st);
}

/* Inserts @st (its class's prefix of it) under @h. 0 or the helper's negative error. */
static __always_inline long insert_stack(__u32 g, __u32 cls, __u64 h, const struct ember_stack *st)
{
	if (cls == EMBER_STACK_CLASS_SMALL)
		return bpf_map_update_elem(g ? (void *)&stacks_small1 : (void *)&stacks_small0, &h,
					   st, BPF_NOEXIST);
	if (cls == EMBER_STACK_CLASS_MEDIUM)
		return bpf_map_update_elem(g ? (void *)&stacks_medium1 : (void *)&stacks_medium0,
					   &h, st, BPF_NOEXIST);
	return bpf_map_update_elem(g ? (void *)&stacks_large1 : (void *)&stacks_large0, &h, st,
				   BPF_NOEXIST);
}

/* The key of hash @h in class @cls: the class in the low 2 bits, so never 0. */
static __always_inline __u64 class_key(__u64 h, __u32 cls)
{
	return (h & ~3ull) | cls;
}

/*
 * Stores @st in the stacks map of generation @g and class @cls under hash @h;
 * *@key receives the map key. A key already present is compared in full, so two
 * different stacks are never merged: on a 64-bit hash collision the stack goes
 * under a second hash, and if that collides too it is counted as lost. Returns
 * EMBER_STACK_OK or the status of the loss (EMBER_STACK_MAP_FULL: try a larger
 * class). Global: verified once for every class and generation.
 */
__noinline int store_in_class(const struct ember_stack *st, __u32 g, __u32 cls, __u64 h, __u64 *key)
{
	bool found = false;
	__u64 k = class_key(h, cls);
	int attempt;
	long err;

	if (!st || !key)
		return EMBER_STACK_READ_ERROR;
	*key = 0;
	for (attempt = 0; attempt < 2; attempt++) {
		if (lookup_same(g, cls, k, st, &found)) {
			*key = k;
			return EMBER_STACK_OK;
		}
		if (found) {
			stat_inc(EMBER_STAT_STACK_HASH_COLLISION);
			k = class_key((k ^ 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull, cls);
			continue;
		}
		err = insert_stack(g, cls, k, st);
		if (!err || err == -17 /* EEXIST: another CPU stored it just now */) {
			*key = k;
			return EMBER_STACK_OK;
		}
		if (err == -12 /* ENOMEM: the allocator had nothing at hand in irq context */) {
			stat_inc(EMBER_STAT_STACK_NO_MEMORY);
			return EMBER_STACK_NO_MEMORY;
		}
		return EMBER_STACK_MAP_FULL; /* E2BIG: max_entries reached */
	}
	stat_inc(EMBER_STAT_STACK_COLLISION_LOST);
	return EMBER_STACK_COLLISION;
}

/*
 * Stores @st in the smallest size class that holds it, or in a larger one when
 * that class's map is full, and returns its status; *@key receives the map key
 * (0 when the stack was lost).
 */
static __always_inline __u16 store_stack(struct ember_stack *st, __u32 g, __u64 *key)
{
	__u64 h = hash_stack(st);
	__u32 cls;
	int status = EMBER_STACK_MAP_FULL;

	cls = st->nr <= EMBER_STACK_SMALL_FRAMES    ? EMBER_STACK_CLASS_SMALL
	      : st->nr <= EMBER_STACK_MEDIUM_FRAMES ? EMBER_STACK_CLASS_MEDIUM
						    : EMBER_STACK_CLASS_LARGE;
	for (; cls <= EMBER_STACK_CLASS_LARGE; cls++) {
		status = store_in_class(st, g, cls, h, key);
		if (status != EMBER_STACK_MAP_FULL)
			break;
	}
	if (status != EMBER_STACK_OK)
		return status;
	return st->end == EMBER_UNWIND_END_DEPTH ? EMBER_STACK_TRUNCATED : EMBER_STACK_OK;
}

#endif /* EMBER_STACKS_BPF_H */
