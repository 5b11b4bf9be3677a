// SPDX-License-Identifier: MIT
/*
 * speedscope's file format (https://www.speedscope.app/file-format-schema.json):
 * one "sampled" profile whose samples are stacks of indices into a shared
 * frame table, root first, weighted by their sample counts. Frame names keep
 * the folded kind suffixes so kernel and inline frames stay recognizable.
 * The reader takes "sampled" and "evented" profiles (other profilers' files,
 * py-spy's among them): events become stacks weighted by the time between them.
 */
#include <errno.h>
#include <math.h>
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

/*
 * The speedscope unit of @p's counts: "bytes" and "nanoseconds" (pprof's
 * heap and time types, ember's off-CPU and wall-clock ns), else "none".
 */
static const char *speedscope_unit(const struct ember_profile *p)
{
	const char *type, *unit;

	profile__sample_type(p, &type, &unit);
	if (strcmp(unit, "bytes") == 0 || strcmp(unit, "nanoseconds") == 0)
		return unit;
	return "none";
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
		err =
		    obuf_printf(&b,
				"]},\"profiles\":[{\"type\":\"sampled\",\"name\":\"ember profile\","
				"\"unit\":\"%s\",\"startValue\":0,\"endValue\":%llu,\"samples\":[",
				speedscope_unit(p), (unsigned long long)profile__total(p));
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

/* ---- reader ------------------------------------------------------------ */

struct ss_reader {
	struct ember_profile *p;
	const struct json_value *frames; /* shared.frames */
	uint32_t *locs;			 /* per shared frame: location id, 0 until used */
	uint32_t *stack;		 /* leaf first, for one sample */
	size_t cap_stack;
	double scale;		  /* weight unit -> count (time units -> ns) */
	const char *process_name; /* profile name when the file has several */
	const char *name;
};

/* Location of shared frame @index (a JSON number), interned on first use. */
static int frame_location(struct ss_reader *r, const struct json_value *index, uint32_t *id)
{
	const struct json_value *f, *name, *file, *line;
	struct ember_frame fr = {0};
	char *copy = NULL;
	size_t len;
	double i = index->number;
	int err;

	if (index->type != JSON_NUMBER || i < 0 || i >= (double)r->frames->nr || i != floor(i))
		return -EINVAL;
	if (r->locs[(size_t)i]) {
		*id = r->locs[(size_t)i];
		return 0;
	}
	f = &r->frames->items[(size_t)i];
	name = json_get(f, "name");
	if (!name || name->type != JSON_STRING)
		return -EINVAL;
	file = json_get(f, "file");
	line = json_get(f, "line");
	len = name->len;
	fr.flags = folded_strip_suffix(name->string, &len);
	copy = strndup(name->string, len);
	if (!copy)
		return -ENOMEM;
	fr.function = *copy ? copy : "[unknown]";
	if (file && file->type == JSON_STRING && *file->string)
		fr.file = file->string;
	if (line && line->type == JSON_NUMBER && line->number >= 1 && line->number <= UINT32_MAX)
		fr.line = (uint32_t)line->number;
	err = profile__intern_frames_location(r->p, &fr, 1, &r->locs[(size_t)i]);
	free(copy);
	*id = r->locs[(size_t)i];
	return err;
}

/* Adds the stack @frames (JSON numbers, root first) with @weight in file units. */
static int add_stack(struct ss_reader *r, const struct json_value *frames, size_t nr, double weight)
{
	struct ember_sample s = {.process_name = r->process_name};
	double count = weight * r->scale;
	size_t k;
	int err;

	if (!(count >= 0) || count > 9e18)
		return -EINVAL;
	s.count = (uint64_t)llround(count);
	if (!s.count)
		return 0;
	if (nr > UINT32_MAX ||
	    ember_grow((void **)&r->stack, &r->cap_stack, nr + 1, sizeof(*r->stack)))
		return -ENOMEM;
	for (k = 0; k < nr; k++) {
		err = frame_location(r, &frames[k], &r->stack[nr - 1 - k]);
		if (err)
			return err;
	}
	s.nr_locations = (uint32_t)nr;
	s.locations = r->stack;
	return profile__add_sample(r->p, &s);
}

static int read_sampled(struct ss_reader *r, const struct json_value *prof)
{
	const struct json_value *samples = json_get(prof, "samples");
	const struct json_value *weights = json_get(prof, "weights");
	size_t i;
	int err = 0;

	if (!samples || samples->type != JSON_ARRAY ||
	    (weights && (weights->type != JSON_ARRAY || weights->nr != samples->nr)))
		return -EINVAL;
	for (i = 0; i < samples->nr && !err; i++) {
		const struct json_value *st = &samples->items[i];
		double w = 1;

		if (st->type != JSON_ARRAY)
			return -EINVAL;
		if (weights) {
			if (weights->items[i].type != JSON_NUMBER)
				return -EINVAL;
			w = weights->items[i].number;
		}
		err = add_stack(r, st->items, st->nr, w);
	}
	return err;
}

/*
 * Evented: the time between two events belongs to the stack open in between.
 * The events must nest: times never decrease, a close names the innermost
 * open frame, and every open frame is closed by the end. Otherwise the times
 * would be charged to stacks that never ran, so the profile is refused
 * (@why says why, @at_event where).
 */
static int read_evented(struct ss_reader *r, const struct json_value *prof, const char **why,
			size_t *at_event)
{
	const struct json_value *events = json_get(prof, "events"), **open = NULL;
	struct json_value *frames = NULL;
	size_t i, k, depth = 0, cap = 0;
	double last = 0;
	int err = 0;

	*at_event = 0;
	if (!events || events->type != JSON_ARRAY) {
		*why = "no \"events\" array";
		return -EINVAL;
	}
	for (i = 0; i < events->nr && !err; i++) {
		const struct json_value *e = &events->items[i];
		const struct json_value *type = json_get(e, "type"), *at = json_get(e, "at");
		const struct json_value *frame = json_get(e, "frame");

		*at_event = i;
		if (!type || type->type != JSON_STRING || !at || at->type != JSON_NUMBER ||
		    !frame || frame->type != JSON_NUMBER) {
			*why = "needs a \"type\", an \"at\" time and a \"frame\" index";
			err = -EINVAL;
			break;
		}
		if (at->number < last) {
			*why = "its time is before the previous event's";
			err = -EINVAL;
			break;
		}
		if (depth && at->number > last) {
			/* The stack as JSON numbers, root first, for add_stack(). */
			for (k = 0; k < depth; k++)
				frames[k] = *open[k];
			err = add_stack(r, frames, depth, at->number - last);
			if (err) {
				*why = "names a frame that is not in shared.frames";
				break;
			}
		}
		last = at->number;
		if (strcmp(type->string, "O") == 0) {
			struct json_value *grown;

			if (ember_grow((void **)&open, &cap, depth + 1, sizeof(*open))) {
				err = -ENOMEM;
				break;
			}
			grown = realloc(frames, cap * sizeof(*frames));
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			frames = grown;
			open[depth++] = frame;
		} else if (strcmp(type->string, "C") == 0) {
			if (!depth) {
				*why = "closes a frame when none is open";
				err = -EINVAL;
				break;
			}
			if (open[depth - 1]->number != frame->number) {
				*why = "closes a frame other than the innermost open one";
				err = -EINVAL;
				break;
			}
			depth--;
		} else {
			*why = "its type is neither \"O\" (open) nor \"C\" (close)";
			err = -EINVAL;
		}
	}
	if (!err && depth) {
		*at_event = SIZE_MAX;
		*why = "leaves frames open at its end (every \"O\" event needs its \"C\")";
		err = -EINVAL;
	}
	free(open);
	free(frames);
	return err;
}

/* Counts per unit: time units become nanoseconds so that short spans still count. */
static double unit_scale(const struct json_value *unit)
{
	static const struct {
		const char *name;
		double ns;
	} units[] = {
	    {"nanoseconds", 1}, {"microseconds", 1e3}, {"milliseconds", 1e6}, {"seconds", 1e9}};
	size_t i;

	if (unit && unit->type == JSON_STRING)
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(unit->string, units[i].name) == 0)
				return units[i].ns;
	return 1;
}

int speedscope__read(const char *buf, size_t len, const struct ember_read_opts *opts,
		     struct ember_profile *p)
{
	struct ss_reader r = {.p = p, .name = opts && opts->name ? opts->name : "input"};
	const struct json_value *shared, *profiles;
	struct json_value root;
	size_t i;
	int err;

	err = json_parse(buf, len, &root);
	if (err) {
		if (err == -EINVAL)
			pr_err("%s: looks like speedscope (JSON), but it is not valid JSON "
			       "(truncated or corrupt)",
			       r.name);
		return err;
	}
	shared = json_get(&root, "shared");
	r.frames = json_get(shared, "frames");
	profiles = json_get(&root, "profiles");
	if (!r.frames || r.frames->type != JSON_ARRAY || !profiles ||
	    profiles->type != JSON_ARRAY) {
		pr_err("%s: looks like speedscope (JSON), but it has no %s array", r.name,
		       !r.frames || r.frames->type != JSON_ARRAY ? "\"shared.frames\""
								 : "\"profiles\"");
		err = -EINVAL;
		goto out;
	}
	r.locs = calloc(r.frames->nr + 1, sizeof(*r.locs));
	if (!r.locs) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < profiles->nr && !err; i++) {
		const struct json_value *prof = &profiles->items[i];
		const struct json_value *type = json_get(prof, "type"),
					*name = json_get(prof, "name");

		r.scale = unit_scale(json_get(prof, "unit"));
		/* Several profiles (threads, as py-spy writes them): each name is a root. */
		r.process_name =
		    profiles->nr > 1 && name && name->type == JSON_STRING && *name->string
			? name->string
			: NULL;
		if (!type || type->type != JSON_STRING) {
			err = -EINVAL;
		} else if (strcmp(type->string, "sampled") == 0) {
			err = read_sampled(&r, prof);
		} else if (strcmp(type->string, "evented") == 0) {
			const char *why = NULL;
			size_t at = 0;

			err = read_evented(&r, prof, &why, &at);
			if (err == -EINVAL && why) {
				if (at == SIZE_MAX)
					pr_err("%s: speedscope evented profile %zu %s", r.name, i,
					       why);
				else
					pr_err("%s: speedscope evented profile %zu: event %zu: %s",
					       r.name, i, at, why);
				break;
			}
		} else {
			err = -EINVAL;
		}
		if (err == -EINVAL)
			pr_err("%s: speedscope profile %zu is malformed", r.name, i);
	}
out:
	free(r.locs);
	free(r.stack);
	json_free(&root);
	return err;
}
