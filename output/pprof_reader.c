// SPDX-License-Identifier: MIT
/*
 * pprof reader: an uncompressed Profile protobuf (callers undo gzip) into an
 * ember profile. Mappings come back one to one, with the kernel flag from the
 * path; Locations become address locations (with their Lines as frames) or
 * name-only ones, and a Location's kind (kernel, JIT) comes from its mapping,
 * synthetic ("[kernel.kallsyms]", "[jit]") or real. Sample counts are the
 * "samples/count" value, or the first value divided by the period. Sample
 * labels give pid, tid, names and process facts; other labels and the
 * "ember.counter" comments are the profile's labels and counters.
 * The writer is pprof_writer.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "output/output.h"
#include "output/pprof_proto.h"
#include "support/support.h"

/* Maps pprof ids (arbitrary uint64) to positions in the message's arrays. */
struct id_map {
	struct ember_index *index;
	const uint64_t *(*id_of)(const void *msgs, uint32_t i);
	const void *msgs;
};

struct id_lookup {
	const struct id_map *m;
	uint64_t id;
};

static bool id_eq(const void *ctx, uint32_t index)
{
	const struct id_lookup *l = ctx;

	return *l->m->id_of(l->m->msgs, index) == l->id;
}

static const uint64_t *mapping_id_of(const void *msgs, uint32_t i)
{
	return &((PbMapping *const *)msgs)[i]->id;
}

static const uint64_t *location_id_of(const void *msgs, uint32_t i)
{
	return &((PbLocation *const *)msgs)[i]->id;
}

static const uint64_t *function_id_of(const void *msgs, uint32_t i)
{
	return &((PbFunction *const *)msgs)[i]->id;
}

/* Position of @id, or -1 (pprof ids are non-zero). */
static int64_t id_find(const struct id_map *m, uint64_t id)
{
	struct id_lookup l = {m, id};

	if (id == 0)
		return -1;
	return ember_index__find(m->index, ember_hash_u64(id, 0x1d), id_eq, &l);
}

static int id_map_build(struct id_map *m, const char *name, const void *msgs, size_t n,
			const uint64_t *(*id_of)(const void *, uint32_t))
{
	size_t i;
	int err;

	m->msgs = msgs;
	m->id_of = id_of;
	err = ember_index__new(&m->index);
	for (i = 0; !err && i < n; i++) {
		uint64_t id = *id_of(msgs, (uint32_t)i);

		if (id == 0 || id_find(m, id) >= 0) {
			pr_err("%s: pprof %s id %" PRIu64 " is zero or repeated", name,
			       id_of == mapping_id_of	 ? "mapping"
			       : id_of == location_id_of ? "location"
							 : "function",
			       id);
			return -EINVAL;
		}
		err = ember_index__insert(m->index, ember_hash_u64(id, 0x1d), (uint32_t)i);
	}
	return err;
}

struct pb_reader {
	const char *name; /* input, for messages */
	const PbProfile *prof;
	struct ember_profile *p;
	struct id_map mappings, locations, functions;
	uint32_t *mapping_ids;	/* per pprof mapping position: ember id */
	uint32_t *location_ids; /* per pprof location position: ember id */
	struct ember_frame *frames;
	size_t cap_frames;
};

/* String @i of the table, or NULL when out of range. */
static const char *pb_str(const PbProfile *prof, int64_t i)
{
	if (i < 0 || (uint64_t)i >= prof->n_string_table)
		return NULL;
	return prof->string_table[i];
}

/* Like pb_str, but "" becomes NULL and a bad index sets *@bad. */
static const char *pb_opt_str(const PbProfile *prof, int64_t i, bool *bad)
{
	const char *s = pb_str(prof, i);

	if (!s) {
		*bad = true;
		return NULL;
	}
	return *s ? s : NULL;
}

static bool is_kernel_path(const char *path)
{
	return path && (strncmp(path, "[kernel", 7) == 0 || strcmp(path, "[vmlinux]") == 0 ||
			strstr(path, "vmlinux") != NULL);
}

static bool is_jit_path(const char *path)
{
	const char *base;

	if (!path)
		return false;
	if (strcmp(path, JIT_MAPPING_NAME) == 0)
		return true;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strncmp(base, "perf-", 5) == 0 && strlen(base) > 4 &&
	       strcmp(base + strlen(base) - 4, ".map") == 0;
}

static int read_mappings(struct pb_reader *r)
{
	const PbProfile *prof = r->prof;
	size_t i;
	int err;

	r->mapping_ids = calloc(prof->n_mapping + 1, sizeof(*r->mapping_ids));
	if (!r->mapping_ids)
		return -ENOMEM;
	for (i = 0; i < prof->n_mapping; i++) {
		const PbMapping *pm = prof->mapping[i];
		struct ember_mapping m = {.start = pm->memory_start,
					  .limit = pm->memory_limit,
					  .offset = pm->file_offset};
		bool bad = false;

		m.path = pb_opt_str(prof, pm->filename, &bad);
		m.build_id = pb_opt_str(prof, pm->build_id, &bad);
		if (bad) {
			pr_err("%s: pprof mapping %" PRIu64 " has a bad string index", r->name,
			       pm->id);
			return -EINVAL;
		}
		m.flags = (pm->has_functions ? EMBER_MAPPING_HAS_FUNCTIONS : 0) |
			  (pm->has_filenames ? EMBER_MAPPING_HAS_FILENAMES : 0) |
			  (pm->has_line_numbers ? EMBER_MAPPING_HAS_LINES : 0) |
			  (pm->has_inline_frames ? EMBER_MAPPING_HAS_INLINES : 0) |
			  (is_kernel_path(m.path) ? EMBER_MAPPING_KERNEL : 0);
		err = profile__intern_mapping(r->p, &m, &r->mapping_ids[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Strips a trailing "_[i]" (kept in names by the writer) and returns the flag. */
static uint32_t name_suffix_flag(const char *name, size_t *len)
{
	size_t n = strlen(name);

	*len = n;
	if (n > 4 && strcmp(name + n - 4, "_[i]") == 0) {
		*len = n - 4;
		return EMBER_FRAME_INLINE;
	}
	return 0;
}

static int read_location(struct pb_reader *r, size_t i, struct obuf *names)
{
	const PbProfile *prof = r->prof;
	const PbLocation *pl = prof->location[i];
	uint32_t mapping_id = 0, kind = 0, n = 0;
	size_t *name_off = NULL, k;
	int64_t mpos = -1;
	int err = 0;

	if (pl->mapping_id) {
		mpos = id_find(&r->mappings, pl->mapping_id);
		if (mpos < 0) {
			pr_err("%s: pprof location %" PRIu64 " names unknown mapping %" PRIu64,
			       r->name, pl->id, pl->mapping_id);
			return -EINVAL;
		}
		mapping_id = r->mapping_ids[mpos];
		if (profile__mapping(r->p, mapping_id)->flags & EMBER_MAPPING_KERNEL)
			kind = EMBER_FRAME_KERNEL;
		else if (is_jit_path(profile__mapping(r->p, mapping_id)->path))
			kind = EMBER_FRAME_JIT;
	}
	if (pl->n_line > UINT32_MAX ||
	    ember_grow((void **)&r->frames, &r->cap_frames, pl->n_line + 1, sizeof(*r->frames)))
		return -ENOMEM;
	name_off = calloc(pl->n_line + 1, sizeof(*name_off));
	if (!name_off)
		return -ENOMEM;
	names->len = 0;
	for (k = 0; k < pl->n_line; k++) {
		const PbLine *line = pl->line[k];
		int64_t fpos = id_find(&r->functions, line->function_id);
		struct ember_frame *f = &r->frames[n];
		const PbFunction *fn;
		const char *name;
		bool bad = false;
		size_t len;

		if (fpos < 0) {
			pr_err("%s: pprof location %" PRIu64 " names unknown function %" PRIu64,
			       r->name, pl->id, line->function_id);
			err = -EINVAL;
			goto out;
		}
		fn = prof->function[fpos];
		name = pb_opt_str(prof, fn->name, &bad);
		f->system_name = pb_opt_str(prof, fn->system_name, &bad);
		f->file = pb_opt_str(prof, fn->filename, &bad);
		if (bad) {
			pr_err("%s: pprof function %" PRIu64 " has a bad string index", r->name,
			       fn->id);
			err = -EINVAL;
			goto out;
		}
		if (!name)
			name = f->system_name ? f->system_name : "[unknown]";
		if (f->system_name && strcmp(f->system_name, name) == 0)
			f->system_name = NULL;
		f->line = line->line > 0 && line->line <= UINT32_MAX ? (uint32_t)line->line : 0;
		f->start_line = fn->start_line > 0 && fn->start_line <= UINT32_MAX
				    ? (uint32_t)fn->start_line
				    : 0;
		/* Every line but the last is inlined into the next (pprof's order). */
		f->flags = kind | (k + 1 < pl->n_line ? EMBER_FRAME_INLINE : 0);
		f->flags |= name_suffix_flag(name, &len);
		/* Names go to a buffer first: the profile interns copies. */
		name_off[n] = names->len;
		err = obuf_append(names, name, len);
		if (!err)
			err = obuf_append(names, "", 1);
		if (err)
			goto out;
		n++;
	}
	for (k = 0; k < n; k++)
		r->frames[k].function = names->data + name_off[k];
	if (pl->address && mapping_id) {
		err = profile__intern_location(r->p, mapping_id, 0, pl->address, false,
					       &r->location_ids[i]);
		if (!err && n)
			err = profile__set_location_frames(r->p, r->location_ids[i], r->frames, n);
	} else if (n) {
		err = profile__intern_frames_location(r->p, r->frames, n, &r->location_ids[i]);
	} else if (pl->address) {
		err = profile__intern_location(r->p, 0, 0, pl->address, false, &r->location_ids[i]);
	} else {
		struct ember_frame unknown = {.function = "[unknown]",
					      .flags = kind | EMBER_FRAME_UNKNOWN};

		err = profile__intern_frames_location(r->p, &unknown, 1, &r->location_ids[i]);
	}
out:
	free(name_off);
	return err;
}

/* Index of the value that counts samples, and the divisor turning it into samples. */
static void pick_value(const PbProfile *prof, size_t *index, uint64_t *divisor)
{
	size_t i;

	*index = 0;
	*divisor = 1;
	for (i = 0; i < prof->n_sample_type; i++) {
		const char *type = pb_str(prof, prof->sample_type[i]->type);
		const char *unit = pb_str(prof, prof->sample_type[i]->unit);

		if (type && unit && strcmp(type, "samples") == 0 && strcmp(unit, "count") == 0) {
			*index = i;
			return;
		}
	}
	/* A cpu profile without a count: time / period is the sample count. */
	if (prof->period > 0 && prof->n_sample_type)
		*divisor = (uint64_t)prof->period;
}

static int read_samples(struct pb_reader *r)
{
	const PbProfile *prof = r->prof;
	uint32_t *locs = NULL;
	size_t i, k, value_index, cap = 0;
	uint64_t divisor;
	int err = 0;

	pick_value(prof, &value_index, &divisor);
	for (i = 0; i < prof->n_sample; i++) {
		const PbSample *ps = prof->sample[i];
		struct ember_sample s = {0};
		struct ember_process pr = {0};
		int64_t v;

		if (ps->n_value != prof->n_sample_type) {
			pr_err("%s: pprof sample %zu has %zu values for %zu sample types", r->name,
			       i, ps->n_value, prof->n_sample_type);
			err = -EINVAL;
			goto out;
		}
		v = value_index < ps->n_value ? ps->value[value_index] : 0;
		if (v <= 0 || (uint64_t)v < divisor)
			continue;
		s.count = (uint64_t)v / divisor;
		if (ps->n_location_id > UINT32_MAX ||
		    ember_grow((void **)&locs, &cap, ps->n_location_id + 1, sizeof(*locs))) {
			err = -ENOMEM;
			goto out;
		}
		for (k = 0; k < ps->n_location_id; k++) {
			int64_t pos = id_find(&r->locations, ps->location_id[k]);

			if (pos < 0) {
				pr_err("%s: pprof sample %zu names unknown location %" PRIu64,
				       r->name, i, ps->location_id[k]);
				err = -EINVAL;
				goto out;
			}
			locs[k] = r->location_ids[pos];
		}
		s.nr_locations = (uint32_t)ps->n_location_id;
		s.locations = locs;
		for (k = 0; k < ps->n_label; k++) {
			const PbLabel *l = ps->label[k];
			const char *key = pb_str(prof, l->key), *str = pb_str(prof, l->str);

			if (!key || !str) {
				pr_err("%s: pprof sample %zu has a label with a bad string index",
				       r->name, i);
				err = -EINVAL;
				goto out;
			}
			if (strcmp(key, "pid") == 0 && l->num > 0 && l->num <= UINT32_MAX)
				s.pid = (uint32_t)l->num;
			else if (strcmp(key, "tid") == 0 && l->num > 0 && l->num <= UINT32_MAX)
				s.tid = (uint32_t)l->num;
			else if (strcmp(key, "thread_name") == 0 && *str)
				s.thread_name = str;
			else if (strcmp(key, "process_name") == 0 && *str)
				s.process_name = str;
			else if (strcmp(key, "exe") == 0 && *str)
				pr.exe = str;
			else if (strcmp(key, "cgroup") == 0 && *str)
				pr.cgroup = str;
			else if (strcmp(key, "container_id") == 0 && *str)
				pr.container_id = str;
			else if (*str && *key)
				/* ember writes profile labels onto every sample */
				err = profile__set_label(r->p, key, str);
			if (err)
				goto out;
		}
		if (s.pid && (pr.exe || pr.cgroup || pr.container_id)) {
			pr.pid = s.pid;
			pr.name = s.process_name;
			err = profile__set_process(r->p, &pr);
			if (err)
				goto out;
		}
		err = profile__add_sample(r->p, &s);
		if (err)
			goto out;
	}
out:
	free(locs);
	return err;
}

static int read_comments(struct pb_reader *r)
{
	const PbProfile *prof = r->prof;
	size_t i, plen = strlen(COUNTER_PREFIX);
	int err = 0;

	for (i = 0; i < prof->n_comment && !err; i++) {
		const char *c = pb_str(prof, prof->comment[i]), *eq;
		char *name, *end;
		unsigned long long v;

		if (!c || strncmp(c, COUNTER_PREFIX, plen) != 0)
			continue;
		eq = strrchr(c, '=');
		if (!eq || eq == c + plen)
			continue;
		errno = 0;
		v = strtoull(eq + 1, &end, 10);
		if (errno || *end || end == eq + 1)
			continue;
		name = strndup(c + plen, (size_t)(eq - c - (ptrdiff_t)plen));
		if (!name)
			return -ENOMEM;
		err = profile__add_counter(r->p, name, v);
		free(name);
	}
	return err;
}

int pprof__read(const uint8_t *buf, size_t len, const struct ember_read_opts *opts,
		struct ember_profile *p)
{
	struct pb_reader r = {.p = p, .name = opts && opts->name ? opts->name : "input"};
	struct obuf names = {0};
	PbProfile *prof;
	size_t i;
	int err;

	prof = perftools__profiles__profile__unpack(NULL, len, buf);
	if (!prof) {
		pr_err("%s: not a pprof profile: not a valid Profile message (%zu bytes, "
		       "corrupt or truncated)",
		       r.name, len);
		return -EINVAL;
	}
	r.prof = prof;
	if (prof->n_string_table == 0 || prof->string_table[0][0] != '\0') {
		pr_err("%s: pprof string table does not start with \"\"", r.name);
		err = -EINVAL;
		goto out;
	}
	err = id_map_build(&r.mappings, r.name, prof->mapping, prof->n_mapping, mapping_id_of);
	if (!err)
		err = id_map_build(&r.functions, r.name, prof->function, prof->n_function,
				   function_id_of);
	if (!err)
		err = id_map_build(&r.locations, r.name, prof->location, prof->n_location,
				   location_id_of);
	if (!err)
		err = read_mappings(&r);
	if (err)
		goto out;
	r.location_ids = calloc(prof->n_location + 1, sizeof(*r.location_ids));
	if (!r.location_ids) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < prof->n_location && !err; i++)
		err = read_location(&r, i, &names);
	if (!err)
		err = read_samples(&r);
	if (!err)
		err = read_comments(&r);
	if (err)
		goto out;
	if (prof->period > 0 && prof->period <= 1000000000 && prof->period_type) {
		const char *unit = pb_str(prof, prof->period_type->unit);

		if (unit && strcmp(unit, "nanoseconds") == 0)
			profile__set_frequency(p, (uint32_t)(1000000000 / prof->period));
	}
	profile__set_time(p, prof->time_nanos > 0 ? (uint64_t)prof->time_nanos : 0,
			  prof->duration_nanos > 0 ? (uint64_t)prof->duration_nanos : 0);
out:
	ember_index__free(r.mappings.index);
	ember_index__free(r.functions.index);
	ember_index__free(r.locations.index);
	free(r.mapping_ids);
	free(r.location_ids);
	free(r.frames);
	obuf_free(&names);
	perftools__profiles__profile__free_unpacked(prof, NULL);
	return err;
}
