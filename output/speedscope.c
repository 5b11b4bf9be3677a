// SPDX-License-Identifier: MIT
/*
 * speedscope's file format (https://www.speedscope.app/file-format-schema.json):
 * one "sampled" profile whose samples are stacks of indices into a shared
 * frame table, root first, weighted by their sample counts. Frame names keep
 * the folded kind suffixes so kernel and inline frames stay recognizable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "output/output.h"
#include "support/support.h"

struct sframe {
	const char *name; /* interned display name */
	const char *file; /* profile-owned; NULL if unknown */
	uint32_t line;
};

struct frames {
	struct sframe *list;
	size_t nr, cap;
	struct ember_index *index;
	struct ember_strpool *pool;
	const struct sframe *probe;
};

static bool sframe_eq(const void *ctx, uint32_t index)
{
	const struct frames *f = ctx;
	const struct sframe *a = &f->list[index], *b = f->probe;

	return a->name == b->name && a->line == b->line &&
	       (a->file == b->file || (a->file && b->file && strcmp(a->file, b->file) == 0));
}

static int frame_index(struct frames *f, struct sframe *key, uint32_t *out)
{
	uint64_t h = ember_hash_u64((uintptr_t)key->name, key->line);
	int64_t found;

	if (key->file)
		h = ember_hash_bytes(key->file, strlen(key->file), h);
	f->probe = key;
	found = ember_index__find(f->index, h, sframe_eq, f);
	if (found >= 0) {
		*out = (uint32_t)found;
		return 0;
	}
	if (ember_grow((void **)&f->list, &f->cap, f->nr + 1, sizeof(*f->list)) ||
	    ember_index__insert(f->index, h, (uint32_t)f->nr))
		return -ENOMEM;
	f->list[f->nr] = *key;
	*out = (uint32_t)f->nr++;
	return 0;
}

int speedscope__write(const struct ember_profile *p, FILE *out)
{
	struct stack_walker w = {0};
	struct frames fr = {0};
	struct obuf samples = {0}, weights = {0}, name = {0}, b = {0};
	size_t i, k, n = profile__nr_samples(p);
	int err;

	err = ember_index__new(&fr.index);
	if (!err)
		err = ember_strpool__new(&fr.pool);
	for (i = 0; i < n && !err; i++) {
		struct ember_sample s;

		profile__sample(p, i, &s);
		err = stack_walk(&w, p, &s);
		if (!err)
			err = obuf_puts(&samples, i ? ",[" : "[");
		for (k = 0; k < w.nr && !err; k++) {
			const struct stack_frame *f = &w.frames[k];
			struct sframe key = {0};
			uint32_t idx;

			name.len = 0;
			err = obuf_puts(&name, f->name);
			if (!err)
				err = obuf_puts(&name, frame_suffix(f->flags));
			if (err)
				break;
			key.name = ember_strpool__intern(fr.pool, name.data);
			if (!key.name) {
				err = -ENOMEM;
				break;
			}
			if (f->frame) {
				key.file = f->frame->file;
				key.line = f->frame->line;
			}
			err = frame_index(&fr, &key, &idx);
			if (!err)
				err = obuf_printf(&samples, k ? ",%u" : "%u", idx);
		}
		if (!err)
			err = obuf_puts(&samples, "]");
		if (!err)
			err = obuf_printf(&weights, i ? ",%llu" : "%llu",
					  (unsigned long long)s.count);
	}
	if (err)
		goto out;
	err = obuf_puts(&b, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
			    "\"exporter\":\"ember " EMBER_VERSION "\",\"name\":\"ember profile\","
			    "\"activeProfileIndex\":0,\"shared\":{\"frames\":[");
	for (i = 0; i < fr.nr && !err; i++) {
		err = obuf_puts(&b, i ? ",{\"name\":\"" : "{\"name\":\"");
		if (!err)
			err = obuf_json(&b, fr.list[i].name);
		if (!err && fr.list[i].file) {
			err = obuf_puts(&b, "\",\"file\":\"");
			if (!err)
				err = obuf_json(&b, fr.list[i].file);
		}
		if (!err && fr.list[i].line)
			err = obuf_printf(&b, "\",\"line\":%u}", fr.list[i].line);
		else if (!err)
			err = obuf_puts(&b, "\"}");
	}
	if (!err)
		err = obuf_printf(
		    &b,
		    "]},\"profiles\":[{\"type\":\"sampled\",\"name\":\"ember profile\","
		    "\"unit\":\"none\",\"startValue\":0,\"endValue\":%llu,\"samples\":[",
		    (unsigned long long)profile__total(p));
	if (!err && samples.len)
		err = obuf_append(&b, samples.data, samples.len);
	if (!err)
		err = obuf_puts(&b, "],\"weights\":[");
	if (!err && weights.len)
		err = obuf_append(&b, weights.data, weights.len);
	if (!err)
		err = obuf_puts(&b, "]}]}\n");
	if (!err)
		err = obuf_write(&b, out);
	if (!err && fflush(out))
		err = -EIO;
out:
	stack_walker_free(&w);
	ember_index__free(fr.index);
	ember_strpool__free(fr.pool);
	free(fr.list);
	obuf_free(&samples);
	obuf_free(&weights);
	obuf_free(&name);
	obuf_free(&b);
	return err;
}
