// SPDX-License-Identifier: MIT
/*
 * String interning. Strings live in blocks chained for freeing, the first
 * 1 KiB and each next one twice the last up to 64 KiB (larger strings get a
 * block of their own), so that the many small pools of a symbolizer (one per
 * file) cost what they hold; an index table finds an existing copy.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define BLOCK_BYTES	  (64 * 1024)
#define FIRST_BLOCK_BYTES 1024

struct pool_block {
	struct pool_block *next;
	size_t used; /* bytes of data[] in use */
	size_t size; /* bytes of data[] */
	char data[];
};

struct ember_strpool {
	struct pool_block *blocks;
	struct ember_index *index;
	const char **strings; /* by index: pointer into a block */
	size_t nr_strings, cap_strings;
	size_t bytes;
};

struct lookup {
	const struct ember_strpool *pool;
	const char *s;
	size_t len;
};

static bool string_eq(const void *ctx, uint32_t index)
{
	const struct lookup *l = ctx;
	const char *have = l->pool->strings[index];

	return strncmp(have, l->s, l->len) == 0 && have[l->len] == '\0';
}

int ember_strpool__new(struct ember_strpool **out)
{
	struct ember_strpool *pool = calloc(1, sizeof(*pool));
	int err;

	if (!pool)
		return -ENOMEM;
	err = ember_index__new(&pool->index);
	if (err) {
		free(pool);
		return err;
	}
	*out = pool;
	return 0;
}

void ember_strpool__free(struct ember_strpool *pool)
{
	struct pool_block *b, *next;

	if (!pool)
		return;
	for (b = pool->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	ember_index__free(pool->index);
	free(pool->strings);
	free(pool);
}

static char *pool_alloc(struct ember_strpool *pool, size_t n)
{
	struct pool_block *b = pool->blocks;

	if (!b || b->size - b->used < n) {
		size_t grown = !b			   ? FIRST_BLOCK_BYTES
			       : b->size < BLOCK_BYTES / 2 ? 2 * b->size
							   : BLOCK_BYTES;
		size_t size = n > grown ? n : grown;

		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->used = 0;
		b->size = size;
		/* A big one-off block goes second so the current block keeps filling. */
		if (size > grown && pool->blocks) {
			b->next = pool->blocks->next;
			pool->blocks->next = b;
		} else {
			b->next = pool->blocks;
			pool->blocks = b;
		}
		pool->bytes += sizeof(*b) + size;
	}
	b->used += n;
	return b->data + b->used - n;
}

const char *ember_strpool__intern_len(struct ember_strpool *pool, const char *s, size_t len)
{
	struct lookup l = {pool, s, len};
	uint64_t h = ember_hash_bytes(s, len, 0x5eed);
	int64_t found = ember_index__find(pool->index, h, string_eq, &l);
	char *copy;

	if (found >= 0)
		return pool->strings[found];
	if (len == SIZE_MAX || pool->nr_strings >= UINT32_MAX)
		return NULL;
	if (ember_grow((void **)&pool->strings, &pool->cap_strings, pool->nr_strings + 1,
		       sizeof(*pool->strings)))
		return NULL;
	copy = pool_alloc(pool, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	if (ember_index__insert(pool->index, h, (uint32_t)pool->nr_strings))
		return NULL;
	pool->strings[pool->nr_strings++] = copy;
	return copy;
}

const char *ember_strpool__intern(struct ember_strpool *pool, const char *s)
{
	return ember_strpool__intern_len(pool, s, strlen(s));
}

const char *ember_strpool__internf(struct ember_strpool *pool, const char *fmt, ...)
{
	const char *res;
	char *tmp = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	res = ember_strpool__intern_len(pool, tmp, (size_t)n);
	free(tmp);
	return res;
}

size_t ember_strpool__bytes(const struct ember_strpool *pool)
{
	return pool->bytes + pool->cap_strings * sizeof(*pool->strings);
}
