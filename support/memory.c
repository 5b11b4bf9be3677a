// SPDX-License-Identifier: MIT
/*
 * Array growth, hashing and the index hash table. The table stores only
 * (hash, index) pairs so callers keep their records in dense arrays that writers
 * can walk in insertion order, which keeps output deterministic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

int ember_grow(void **array, size_t *cap, size_t need, size_t elem_size)
{
	size_t new_cap;
	void *p;

	if (need <= *cap)
		return 0;
	new_cap = *cap ? *cap : 16;
	while (new_cap < need) {
		if (new_cap > SIZE_MAX / 2)
			return -ENOMEM;
		new_cap *= 2;
	}
	if (elem_size && new_cap > SIZE_MAX / elem_size)
		return -ENOMEM;
	p = realloc(*array, new_cap * elem_size);
	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = new_cap;
	return 0;
}

static inline uint64_t mix64(uint64_t x)
{
	/* splitmix64 finalizer: full avalanche, cheap. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t ember_hash_u64(uint64_t h, uint64_t v)
{
	return mix64(h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2)));
}

uint64_t ember_hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		h = ember_hash_u64(h, w);
		p += 8;
		len -= 8;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		h = ember_hash_u64(h, w);
	}
	return mix64(h);
}

struct index_slot {
	uint64_t hash;
	uint32_t index;
	uint32_t used;
};

struct ember_index {
	struct index_slot *slots;
	size_t cap; /* slots, a power of two */
	size_t size;
};

int ember_index__new(struct ember_index **out)
{
	struct ember_index *idx = calloc(1, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	*out = idx;
	return 0;
}

void ember_index__free(struct ember_index *idx)
{
	if (!idx)
		return;
	free(idx->slots);
	free(idx);
}

int64_t ember_index__find(const struct ember_index *idx, uint64_t hash, ember_index_eq_fn eq,
			  const void *ctx)
{
	size_t mask, i;

	if (!idx->cap)
		return -1;
	mask = idx->cap - 1;
	for (i = hash & mask;; i = (i + 1) & mask) {
		const struct index_slot *s = &idx->slots[i];

		if (!s->used)
			return -1;
		if (s->hash == hash && eq(ctx, s->index))
			return s->index;
	}
}

static void place(struct index_slot *slots, size_t cap, uint64_t hash, uint32_t index)
{
	size_t mask = cap - 1, i;

	for (i = hash & mask; slots[i].used; i = (i + 1) & mask)
		;
	slots[i].hash = hash;
	slots[i].index = index;
	slots[i].used = 1;
}

int ember_index__insert(struct ember_index *idx, uint64_t hash, uint32_t index)
{
	/* Keep the load factor under 1/2 so probe runs stay short. */
	if ((idx->size + 1) * 2 > idx->cap) {
		size_t new_cap = idx->cap ? idx->cap * 2 : 64, i;
		struct index_slot *slots;

		if (new_cap > SIZE_MAX / sizeof(*slots))
			return -ENOMEM;
		slots = calloc(new_cap, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (i = 0; i < idx->cap; i++)
			if (idx->slots[i].used)
				place(slots, new_cap, idx->slots[i].hash, idx->slots[i].index);
		free(idx->slots);
		idx->slots = slots;
		idx->cap = new_cap;
	}
	place(idx->slots, idx->cap, hash, index);
	idx->size++;
	return 0;
}

size_t ember_index__size(const struct ember_index *idx)
{
	return idx->size;
}

void ember_index__clear(struct ember_index *idx)
{
	if (idx->cap)
		memset(idx->slots, 0, idx->cap * sizeof(*idx->slots));
	idx->size = 0;
}
