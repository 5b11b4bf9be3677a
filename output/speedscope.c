// SPDX-License-Identifier: MIT
/*
 * speedscope's file format (https://www.speedscope.app/file-format-schema.json):
 * one "sampled" profile whose samples are stacks of indices into a shared
 * frame table, root first, weighted by their sample counts. Frame names keep
 * the folded kind suffixes so kernel and inline frames stay recognizable.
 * The reader takes "sampled" and "evented" profiles (other profilers' files,
 * py-spy's among them): events become stacks weighted by the time between them.
 * Reading parses with json-c in strict mode; json_text_check() adds the RFC 8259
 * rules json-c leaves out, so ember still refuses all its own parser refused
 * (and now leading zeros too; a repeated key counts with its last value).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

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

/*
 * Nesting bound for hostile input: json-c's tokener keeps a fixed stack of
 * this many levels (objects and arrays), the bound ember's own parser had.
 */
#define SS_MAX_DEPTH 64
#define SS_CHUNK     ((size_t)1 << 30) /* bytes per json_tokener_parse_ex() call */

struct ss_reader {
	struct ember_profile *p;
	struct json_object *frames; /* shared.frames */
	size_t nr_frames;
	uint32_t *locs;		   /* per shared frame: location id, 0 until used */
	uint32_t *stack;	   /* leaf first, for one sample */
	struct json_object **refs; /* one sample's frame indices, root first */
	size_t cap_stack, cap_refs;
	double scale;		  /* weight unit -> count (time units -> ns) */
	const char *process_name; /* profile name when the file has several */
	const char *name;
};

/* Member @key of @obj, or NULL (also when @obj is not an object). */
static struct json_object *member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* Whether @v is a JSON number (json-c splits them into int and double). */
static bool number(struct json_object *v, double *out)
{
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
		*out = json_object_get_double(v);
		return true;
	}
	return false;
}

/* The string @v holds, or NULL when @v is not a string. */
static const char *string(struct json_object *v)
{
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The 4 hex digits of a \u escape at @s; -EINVAL if they are not. */
static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

/*
 * Checks the string whose opening quote is at *@i, leaving *@i after its
 * closing quote. json-c has found that quote, so every escape is complete.
 */
static int check_string(const char *buf, size_t len, size_t *i, const char **why)
{
	unsigned cp, lo;
	size_t k = *i + 1;

	while (k < len && buf[k] != '"') {
		*i = k;
		if ((unsigned char)buf[k] < 0x20) {
			*why = "raw control character in a string";
			return -EINVAL;
		}
		if (buf[k] != '\\') {
			k++;
			continue;
		}
		if (k + 1 < len && buf[k + 1] != 'u') {
			k += 2;
			continue;
		}
		*why = "\\u0000 or a lone surrogate escape in a string";
		if (k + 6 > len || hex4(buf + k + 2, &cp) || !cp || (cp >= 0xdc00 && cp <= 0xdfff))
			return -EINVAL;
		k += 6;
		if (cp < 0xd800 || cp > 0xdbff)
			continue;
		if (k + 6 > len || buf[k] != '\\' || buf[k + 1] != 'u' || hex4(buf + k + 2, &lo) ||
		    lo < 0xdc00 || lo > 0xdfff)
			return -EINVAL;
		k += 6;
	}
	*i = k + 1;
	return 0;
}

/*
 * The RFC 8259 rules json-c does not enforce, checked on @len bytes at @buf
 * that json-c parsed: no raw control character inside a string, no lone
 * surrogate escape (json-c writes U+FFFD for it), no \u0000 (it would cut the
 * C string: a profile name never needs it), no bare words but true, false
 * and null (json-c takes NaN and Infinity), and numbers under 64 characters that
 * fit a double. Returns 0, or -EINVAL with the byte offset in @at and the
 * broken rule in @why.
 */
static int json_text_check(const char *buf, size_t len, size_t *at, const char **why)
{
	size_t i = 0, n;
	int err;

	while (i < len) {
		char c = buf[i];

		*at = i;
		if (c == '"') {
			err = check_string(buf, len, &i, why);
			if (err) {
				*at = i;
				return err;
			}
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			char num[64];

			*why = "number of 64 characters or more, or out of a double's range";
			for (n = 0; i < len && buf[i] && strchr("0123456789+-.eE", buf[i]); n++) {
				if (n + 1 >= sizeof(num))
					return -EINVAL; /* ember's parser took no longer numbers */
				num[n] = buf[i++];
			}
			num[n] = '\0';
			if (!isfinite(strtod(num, NULL)))
				return -EINVAL;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			/* json-c also takes NaN and Infinity, in any case. */
			*why = "a bare word other than true, false or null";
			for (n = 0; i + n < len && ((buf[i + n] >= 'a' && buf[i + n] <= 'z') ||
						    (buf[i + n] >= 'A' && buf[i + n] <= 'Z'));
			     n++)
				;
			if (!(n == 4 && (memcmp(buf + i, "true", 4) == 0 ||
					 memcmp(buf + i, "null", 4) == 0)) &&
			    !(n == 5 && memcmp(buf + i, "false", 5) == 0))
				return -EINVAL;
			i += n;
		} else {
			i++;
		}
	}
	return 0;
}

/* Location of shared frame @index (a JSON number), interned on first use. */
static int frame_location(struct ss_reader *r, struct json_object *index, uint32_t *id)
{
	struct json_object *f;
	struct ember_frame fr = {0};
	const char *name, *file;
	char *copy = NULL;
	size_t len;
	double i, line;
	int err;

	if (!number(index, &i) || i < 0 || i >= (double)r->nr_frames || i != floor(i))
		return -EINVAL;
	if (r->locs[(size_t)i]) {
		*id = r->locs[(size_t)i];
		return 0;
	}
	f = json_object_array_get_idx(r->frames, (size_t)i);
	name = string(member(f, "name"));
	if (!name)
		return -EINVAL;
	file = string(member(f, "file"));
	len = strlen(name);
	fr.flags = folded_strip_suffix(name, &len);
	copy = strndup(name, len);
	if (!copy)
		return -ENOMEM;
	fr.function = *copy ? copy : "[unknown]";
	if (file && *file)
		fr.file = file;
	if (number(member(f, "line"), &line) && line >= 1 && line <= UINT32_MAX)
		fr.line = (uint32_t)line;
	err = profile__intern_frames_location(r->p, &fr, 1, &r->locs[(size_t)i]);
	free(copy);
	*id = r->locs[(size_t)i];
	return err;
}

/* Adds the stack @frames (JSON numbers, root first) with @weight in file units. */
static int add_stack(struct ss_reader *r, struct json_object *const *frames, size_t nr,
		     double weight)
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
		err = frame_location(r, frames[k], &r->stack[nr - 1 - k]);
		if (err)
			return err;
	}
	s.nr_locations = (uint32_t)nr;
	s.locations = r->stack;
	return profile__add_sample(r->p, &s);
}

static int read_sampled(struct ss_reader *r, struct json_object *prof)
{
	struct json_object *samples = member(prof, "samples");
	struct json_object *weights = member(prof, "weights");
	size_t i, k, n;
	int err = 0;

	if (!json_object_is_type(samples, json_type_array) ||
	    (weights && (!json_object_is_type(weights, json_type_array) ||
			 json_object_array_length(weights) != json_object_array_length(samples))))
		return -EINVAL;
	n = json_object_array_length(samples);
	for (i = 0; i < n && !err; i++) {
		struct json_object *st = json_object_array_get_idx(samples, i);
		double w = 1;
		size_t nr;

		if (!json_object_is_type(st, json_type_array))
			return -EINVAL;
		if (weights && !number(json_object_array_get_idx(weights, i), &w))
			return -EINVAL;
		nr = json_object_array_length(st);
		if (ember_grow((void **)&r->refs, &r->cap_refs, nr + 1, sizeof(*r->refs)))
			return -ENOMEM;
		for (k = 0; k < nr; k++)
			r->refs[k] = json_object_array_get_idx(st, k);
		err = add_stack(r, r->refs, nr, w);
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
static int read_evented(struct ss_reader *r, struct json_object *prof, const char **why,
			size_t *at_event)
{
	struct json_object *events = member(prof, "events"), **open = NULL;
	size_t i, n, depth = 0, cap = 0;
	double last = 0;
	int err = 0;

	*at_event = 0;
	if (!json_object_is_type(events, json_type_array)) {
		*why = "no \"events\" array";
		return -EINVAL;
	}
	n = json_object_array_length(events);
	for (i = 0; i < n && !err; i++) {
		struct json_object *e = json_object_array_get_idx(events, i);
		struct json_object *frame = member(e, "frame");
		const char *type = string(member(e, "type"));
		double at, fi, open_fi;

		*at_event = i;
		if (!type || !number(member(e, "at"), &at) || !number(frame, &fi)) {
			*why = "needs a \"type\", an \"at\" time and a \"frame\" index";
			err = -EINVAL;
			break;
		}
		if (at < last) {
			*why = "its time is before the previous event's";
			err = -EINVAL;
			break;
		}
		if (depth && at > last) {
			err = add_stack(r, open, depth, at - last);
			if (err) {
				*why = "names a frame that is not in shared.frames";
				break;
			}
		}
		last = at;
		if (strcmp(type, "O") == 0) {
			if (ember_grow((void **)&open, &cap, depth + 1, sizeof(*open))) {
				err = -ENOMEM;
				break;
			}
			open[depth++] = frame;
		} else if (strcmp(type, "C") == 0) {
			if (!depth) {
				*why = "closes a frame when none is open";
				err = -EINVAL;
				break;
			}
			if (!number(open[depth - 1], &open_fi) || open_fi != fi) {
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
	return err;
}

/* Counts per unit: time units become nanoseconds so that short spans still count. */
static double unit_scale(const char *unit)
{
	static const struct {
		const char *name;
		double ns;
	} units[] = {
	    {"nanoseconds", 1}, {"microseconds", 1e3}, {"milliseconds", 1e6}, {"seconds", 1e9}};
	size_t i;

	if (unit)
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(unit, units[i].name) == 0)
				return units[i].ns;
	return 1;
}

/*
 * Parses @len bytes at @buf as one JSON value into @out (the caller puts it).
 * Invalid JSON is -EINVAL, logged once with why and at which byte.
 */
static int parse_json(const struct ss_reader *r, const char *buf, size_t len,
		      struct json_object **out)
{
	struct json_tokener *tok = NULL;
	enum json_tokener_error jerr;
	const char *why = NULL;
	size_t at = 0, off = 0;
	int err = 0;

	*out = NULL;
	tok = json_tokener_new_ex(SS_MAX_DEPTH);
	if (!tok) {
		err = -ENOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	/* json-c takes an int length: files over 2 GiB go in pieces it resumes on. */
	do {
		size_t n = len - off < SS_CHUNK ? len - off : SS_CHUNK;

		*out = json_tokener_parse_ex(tok, buf + off, (int)n);
		jerr = json_tokener_get_error(tok);
		at = off + json_tokener_get_parse_end(tok);
		off += n;
	} while (jerr == json_tokener_continue && off < len);
	if (jerr == json_tokener_continue) {
		why = "unexpected end of data";
		err = -EINVAL;
	} else if (jerr != json_tokener_success) {
		why = json_tokener_error_desc(jerr);
		err = -EINVAL;
	} else if (at != len) {
		/* json-c stops at a NUL byte; anything after the value is garbage. */
		why = "data after the JSON value";
		err = -EINVAL;
	} else {
		err = json_text_check(buf, len, &at, &why);
	}
	if (err == -EINVAL)
		pr_err("%s: looks like speedscope (JSON), but it is not valid JSON "
		       "(truncated or corrupt): %s at byte %zu",
		       r->name, why, at);
out:
	if (err) {
		json_object_put(*out);
		*out = NULL;
	}
	json_tokener_free(tok);
	return err;
}

int speedscope__read(const char *buf, size_t len, const struct ember_read_opts *opts,
		     struct ember_profile *p)
{
	struct ss_reader r = {.p = p, .name = opts && opts->name ? opts->name : "input"};
	struct json_object *root = NULL, *profiles;
	size_t i, nr_profiles;
	int err;

	err = parse_json(&r, buf, len, &root);
	if (err)
		return err;
	r.frames = member(member(root, "shared"), "frames");
	profiles = member(root, "profiles");
	if (!json_object_is_type(r.frames, json_type_array) ||
	    !json_object_is_type(profiles, json_type_array)) {
		pr_err("%s: looks like speedscope (JSON), but it has no %s array", r.name,
		       !json_object_is_type(r.frames, json_type_array) ? "\"shared.frames\""
								       : "\"profiles\"");
		err = -EINVAL;
		goto out;
	}
	r.nr_frames = json_object_array_length(r.frames);
	r.locs = calloc(r.nr_frames + 1, sizeof(*r.locs));
	if (!r.locs) {
		err = -ENOMEM;
		goto out;
	}
	nr_profiles = json_object_array_length(profiles);
	for (i = 0; i < nr_profiles && !err; i++) {
		struct json_object *prof = json_object_array_get_idx(profiles, i);
		const char *type = string(member(prof, "type"));
		const char *name = string(member(prof, "name"));

		r.scale = unit_scale(string(member(prof, "unit")));
		/* Several profiles (threads, as py-spy writes them): each name is a root. */
		r.process_name = nr_profiles > 1 && name && *name ? name : NULL;
		if (!type) {
			err = -EINVAL;
		} else if (strcmp(type, "sampled") == 0) {
			err = read_sampled(&r, prof);
		} else if (strcmp(type, "evented") == 0) {
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
	free(r.refs);
	json_object_put(root);
	return err;
}
