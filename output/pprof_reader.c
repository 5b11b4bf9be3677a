// SPDX-License-Identifier: MIT
/*
 * pprof reader: an uncompressed Profile protobuf (callers undo gzip) into an
 * ember profile. Mappings come back one to one, with the kernel flag from the
 * path; Locations become address locations (with their Lines as frames) or
 * name-only ones, and a Location's kind (kernel, JIT) comes from its mapping,
 * synthetic ("[kernel.kallsyms]", "[jit]") or real. Sample counts are the
 * values of one sample type, picked as pprof picks it (--sample-index, the
 * default_sample_type, the last type), in that type's unit. Sample labels
 * give pid, tid, names and process facts; other labels and the
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
	uint32_t *mapping_ids;	    /* per pprof mapping position: ember id */
	uint32_t *location_ids;	    /* per pprof location position: ember id */
	struct ember_frame *frames; /* one location's, reused */
	size_t cap_frames;
	uint32_t *locs; /* one sample's location ids, reused */
	size_t cap_locs;
	int64_t off_cpu_index; /* value off_cpu/nanoseconds, or -1: the sample's kind */
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

/*
 * The ember mapping of @pl (0 without one) and the kind it gives the
 * location's frames: kernel from the mapping's flag, JIT from its path.
 */
static int location_mapping(struct pb_reader *r, const PbLocation *pl, uint32_t *mapping_id,
			    uint32_t *kind)
{
	const struct ember_mapping *m;
	int64_t mpos;

	*mapping_id = 0;
	*kind = 0;
	if (!pl->mapping_id)
		return 0;
	mpos = id_find(&r->mappings, pl->mapping_id);
	if (mpos < 0) {
		pr_err("%s: pprof location %" PRIu64 " names unknown mapping %" PRIu64, r->name,
		       pl->id, pl->mapping_id);
		return -EINVAL;
	}
	*mapping_id = r->mapping_ids[mpos];
	m = profile__mapping(r->p, *mapping_id);
	if (m->flags & EMBER_MAPPING_KERNEL)
		*kind = EMBER_FRAME_KERNEL;
	else if (is_jit_path(m->path))
		*kind = EMBER_FRAME_JIT;
	return 0;
}

/*
 * Frame @f from Line @k of @pl, with frame kind @kind. Its name goes to
 * @names first (at *@name_off, NUL-terminated), since the profile interns
 * copies: the caller sets f->function once @names stops moving.
 */
static int read_line(struct pb_reader *r, const PbLocation *pl, size_t k, uint32_t kind,
		     struct ember_frame *f, struct obuf *names, size_t *name_off)
{
	const PbProfile *prof = r->prof;
	const PbLine *line = pl->line[k];
	int64_t fpos = id_find(&r->functions, line->function_id);
	const PbFunction *fn;
	const char *name;
	bool bad = false;
	size_t len;
	int err;

	if (fpos < 0) {
		pr_err("%s: pprof location %" PRIu64 " names unknown function %" PRIu64, r->name,
		       pl->id, line->function_id);
		return -EINVAL;
	}
	fn = prof->function[fpos];
	name = pb_opt_str(prof, fn->name, &bad);
	f->system_name = pb_opt_str(prof, fn->system_name, &bad);
	f->file = pb_opt_str(prof, fn->filename, &bad);
	if (bad) {
		pr_err("%s: pprof function %" PRIu64 " has a bad string index", r->name, fn->id);
		return -EINVAL;
	}
	if (!name)
		name = f->system_name ? f->system_name : "[unknown]";
	if (f->system_name && strcmp(f->system_name, name) == 0)
		f->system_name = NULL;
	f->line = line->line > 0 && line->line <= UINT32_MAX ? (uint32_t)line->line : 0;
	f->start_line =
	    fn->start_line > 0 && fn->start_line <= UINT32_MAX ? (uint32_t)fn->start_line : 0;
	/* Every line but the last is inlined into the next (pprof's order). */
	f->flags = kind | (k + 1 < pl->n_line ? EMBER_FRAME_INLINE : 0);
	f->flags |= name_suffix_flag(name, &len);
	*name_off = names->len;
	err = obuf_append(names, name, len);
	if (!err)
		err = obuf_append(names, "", 1);
	return err;
}

/*
 * Interns pprof location @i with the @n frames in r->frames: an address
 * location (with those frames when it has any), a name-only location, an
 * address alone, or one "[unknown]" frame of kind @kind.
 */
static int intern_location(struct pb_reader *r, size_t i, uint32_t mapping_id, uint32_t kind,
			   uint32_t n)
{
	const PbLocation *pl = r->prof->location[i];
	uint32_t *id = &r->location_ids[i];
	int err;

	if (pl->address && mapping_id) {
		err = profile__intern_location(r->p, mapping_id, 0, pl->address, false, id);
		if (!err && n)
			err = profile__set_location_frames(r->p, *id, r->frames, n);
	} else if (n) {
		err = profile__intern_frames_location(r->p, r->frames, n, id);
	} else if (pl->address) {
		err = profile__intern_location(r->p, 0, 0, pl->address, false, id);
	} else {
		struct ember_frame unknown = {.function = "[unknown]",
					      .flags = kind | EMBER_FRAME_UNKNOWN};

		err = profile__intern_frames_location(r->p, &unknown, 1, id);
	}
	return err;
}

static int read_location(struct pb_reader *r, size_t i, struct obuf *names)
{
	const PbLocation *pl = r->prof->location[i];
	uint32_t mapping_id, kind;
	size_t *name_off = NULL, k;
	int err;

	err = location_mapping(r, pl, &mapping_id, &kind);
	if (err)
		return err;
	if (pl->n_line > UINT32_MAX ||
	    ember_grow((void **)&r->frames, &r->cap_frames, pl->n_line + 1, sizeof(*r->frames)))
		return -ENOMEM;
	name_off = calloc(pl->n_line + 1, sizeof(*name_off));
	if (!name_off)
		return -ENOMEM;
	names->len = 0;
	for (k = 0; k < pl->n_line && !err; k++)
		err = read_line(r, pl, k, kind, &r->frames[k], names, &name_off[k]);
	if (err)
		goto out;
	for (k = 0; k < pl->n_line; k++)
		r->frames[k].function = names->data + name_off[k];
	err = intern_location(r, i, mapping_id, kind, (uint32_t)pl->n_line);
out:
	free(name_off);
	return err;
}

/* Every location, in the message's order; one buffer holds a location's frame names at a time. */
static int read_locations(struct pb_reader *r)
{
	struct obuf names = {0};
	size_t i;
	int err = 0;

	r->location_ids = calloc(r->prof->n_location + 1, sizeof(*r->location_ids));
	if (!r->location_ids)
		return -ENOMEM;
	for (i = 0; i < r->prof->n_location && !err; i++)
		err = read_location(r, i, &names);
	obuf_free(&names);
	return err;
}

/* The names of the profile's sample types, for messages: "samples, cpu". */
static int list_types(const PbProfile *prof, struct obuf *b)
{
	size_t i;
	int err = 0;

	for (i = 0; i < prof->n_sample_type && !err; i++)
		err = obuf_printf(b, "%s%s", i ? ", " : "",
				  pb_str(prof, prof->sample_type[i]->type) ?: "?");
	return err;
}

/*
 * Position of the sample type named @want (a type name, or a 0-based index
 * in decimal), or -1. pprof matches a name exactly.
 */
static int64_t find_type(const PbProfile *prof, const char *want)
{
	char *end;
	unsigned long long n;
	size_t i;

	for (i = 0; i < prof->n_sample_type; i++) {
		const char *type = pb_str(prof, prof->sample_type[i]->type);

		if (type && strcmp(type, want) == 0)
			return (int64_t)i;
	}
	errno = 0;
	n = strtoull(want, &end, 10);
	if (*want >= '0' && *want <= '9' && !errno && !*end && n < prof->n_sample_type)
		return (int64_t)n;
	return -1;
}

/* The strings ember's writer puts first in every string table, since its first version. */
static const char *const ember_strings[] = {
    "", "samples", "count", "cpu", "nanoseconds", "pid", "tid", "thread_name", "process_name",
};

static bool type_is(const PbProfile *prof, size_t k, const char *type, const char *unit)
{
	const char *t = pb_str(prof, prof->sample_type[k]->type);
	const char *u = pb_str(prof, prof->sample_type[k]->unit);

	return t && u && strcmp(t, type) == 0 && strcmp(u, unit) == 0;
}

/*
 * A CPU profile ember wrote before its writer set default_sample_type (agent
 * windows of older releases): exactly samples/count and cpu/nanoseconds, no
 * default, and ember's string table (or an "ember." comment). pprof's rule
 * would read its cpu time; ember read, and writes, its sample counts. A Go CPU
 * profile has the same types but neither mark, and keeps pprof's rule.
 */
static bool is_old_ember_cpu(const PbProfile *prof)
{
	size_t n = sizeof(ember_strings) / sizeof(ember_strings[0]), i;
	bool ours = prof->n_string_table >= n;

	if (prof->default_sample_type || prof->n_sample_type != 2 ||
	    !type_is(prof, 0, "samples", "count") || !type_is(prof, 1, "cpu", "nanoseconds"))
		return false;
	for (i = 0; ours && i < n; i++)
		ours = strcmp(prof->string_table[i], ember_strings[i]) == 0;
	for (i = 0; !ours && i < prof->n_comment; i++) {
		const char *c = pb_str(prof, prof->comment[i]);

		ours = c && strncmp(c, "ember.", 6) == 0;
	}
	return ours;
}

/*
 * Picks the sample type whose values are the counts, as `go tool pprof` does:
 * @want (--sample-index), else default_sample_type, else the last type (but
 * the counts of an old ember CPU profile: is_old_ember_cpu). The
 * three ember writes (samples/count, off_cpu/nanoseconds, wall/nanoseconds)
 * are ember's value types; any other pair is kept as it is, in its own unit:
 * nothing is divided by the period, which pprof does not do either.
 */
static int pick_value(struct pb_reader *r, const char *want, size_t *index)
{
	const PbProfile *prof = r->prof;
	const char *type, *unit;
	struct obuf names = {0};
	int64_t i = -1;
	size_t k;

	if (prof->n_sample_type == 0) {
		pr_err("%s: pprof profile has no sample types", r->name);
		return -EINVAL;
	}
	for (k = 0; k < prof->n_sample_type; k++) {
		type = pb_str(prof, prof->sample_type[k]->type);
		unit = pb_str(prof, prof->sample_type[k]->unit);
		if (!type || !unit) {
			pr_err("%s: pprof sample type %zu has a bad string index", r->name, k);
			return -EINVAL;
		}
		/* The kind of each sample (blocked, preempted) of ember's time profiles. */
		if (strcmp(type, "off_cpu") == 0 && strcmp(unit, "nanoseconds") == 0)
			r->off_cpu_index = (int64_t)k;
	}
	if (!want && prof->default_sample_type) {
		want = pb_str(prof, prof->default_sample_type);
		if (!want) {
			pr_err("%s: pprof default_sample_type has a bad string index", r->name);
			return -EINVAL;
		}
	}
	if (want)
		i = find_type(prof, want);
	else
		i = is_old_ember_cpu(prof) ? 0 : (int64_t)prof->n_sample_type - 1;
	if (i < 0) {
		int err = list_types(prof, &names);

		if (!err)
			pr_err("%s: no sample type '%s' in this profile (it has %s)", r->name, want,
			       names.data);
		obuf_free(&names);
		return err ? err : -EINVAL;
	}
	*index = (size_t)i;
	/* pprof's type and unit "" mean samples and count: say so rather than leave them empty. */
	type = pb_str(prof, prof->sample_type[i]->type);
	unit = pb_str(prof, prof->sample_type[i]->unit);
	type = *type ? type : "samples";
	unit = *unit ? unit : "count";
	if (strcmp(type, "samples") == 0 && strcmp(unit, "count") == 0)
		profile__set_value_type(r->p, EMBER_VALUE_SAMPLES);
	else if (strcmp(type, "off_cpu") == 0 && strcmp(unit, "nanoseconds") == 0)
		profile__set_value_type(r->p, EMBER_VALUE_OFF_CPU_NS);
	else if (strcmp(type, "wall") == 0 && strcmp(unit, "nanoseconds") == 0)
		profile__set_value_type(r->p, EMBER_VALUE_WALL_NS);
	else
		return profile__set_sample_type(r->p, type, unit);
	return 0;
}

/* The ember ids of sample @i's locations, into r->locs. */
static int sample_location_ids(struct pb_reader *r, size_t i)
{
	const PbSample *ps = r->prof->sample[i];
	size_t k;

	if (ps->n_location_id > UINT32_MAX ||
	    ember_grow((void **)&r->locs, &r->cap_locs, ps->n_location_id + 1, sizeof(*r->locs)))
		return -ENOMEM;
	for (k = 0; k < ps->n_location_id; k++) {
		int64_t pos = id_find(&r->locations, ps->location_id[k]);

		if (pos < 0) {
			pr_err("%s: pprof sample %zu names unknown location %" PRIu64, r->name, i,
			       ps->location_id[k]);
			return -EINVAL;
		}
		r->locs[k] = r->location_ids[pos];
	}
	return 0;
}

/*
 * Sample @i's labels: the ones ember writes for a sample go to @s and @pr
 * (strings stay the message's); any other is a profile label, which ember
 * writes onto every sample.
 */
static int read_labels(struct pb_reader *r, size_t i, struct ember_sample *s,
		       struct ember_process *pr)
{
	const PbProfile *prof = r->prof;
	const PbSample *ps = prof->sample[i];
	size_t k;
	int err = 0;

	for (k = 0; k < ps->n_label && !err; k++) {
		const PbLabel *l = ps->label[k];
		const char *key = pb_str(prof, l->key), *str = pb_str(prof, l->str);

		if (!key || !str) {
			pr_err("%s: pprof sample %zu has a label with a bad string index", r->name,
			       i);
			return -EINVAL;
		}
		if (strcmp(key, "pid") == 0 && l->num > 0 && l->num <= UINT32_MAX)
			s->pid = (uint32_t)l->num;
		else if (strcmp(key, "tid") == 0 && l->num > 0 && l->num <= UINT32_MAX)
			s->tid = (uint32_t)l->num;
		else if (strcmp(key, "thread_name") == 0 && *str)
			s->thread_name = str;
		else if (strcmp(key, "process_name") == 0 && *str)
			s->process_name = str;
		else if (strcmp(key, "exe") == 0 && *str)
			pr->exe = str;
		else if (strcmp(key, "cgroup") == 0 && *str)
			pr->cgroup = str;
		else if (strcmp(key, "container_id") == 0 && *str)
			pr->container_id = str;
		else if (*str && *key)
			err = profile__set_label(r->p, key, str);
	}
	return err;
}

/*
 * Adds sample @i with value @value_index as its count; a sample worth nothing
 * (or less: pprof's diff profiles) is skipped.
 */
static int read_sample(struct pb_reader *r, size_t i, size_t value_index)
{
	const PbSample *ps = r->prof->sample[i];
	struct ember_sample s = {0};
	struct ember_process pr = {0};
	int64_t v;
	int err;

	if (ps->n_value != r->prof->n_sample_type) {
		pr_err("%s: pprof sample %zu has %zu values for %zu sample types", r->name, i,
		       ps->n_value, r->prof->n_sample_type);
		return -EINVAL;
	}
	v = value_index < ps->n_value ? ps->value[value_index] : 0;
	if (v <= 0)
		return 0;
	s.count = (uint64_t)v;
	err = sample_location_ids(r, i);
	if (err)
		return err;
	s.nr_locations = (uint32_t)ps->n_location_id;
	s.locations = r->locs;
	if (r->off_cpu_index >= 0 && ps->value[r->off_cpu_index] > 0) {
		const struct ember_location *leaf =
		    s.nr_locations ? profile__location(r->p, s.locations[0]) : NULL;
		const char *preempted = ember_sample_kind_marker(EMBER_SAMPLE_OFF_CPU_PREEMPTED);

		s.kind = leaf && leaf->nr_frames && strcmp(leaf->frames[0].function, preempted) == 0
			     ? EMBER_SAMPLE_OFF_CPU_PREEMPTED
			     : EMBER_SAMPLE_OFF_CPU_BLOCKED;
	}
	err = read_labels(r, i, &s, &pr);
	if (!err && s.pid && (pr.exe || pr.cgroup || pr.container_id)) {
		pr.pid = s.pid;
		pr.name = s.process_name;
		err = profile__set_process(r->p, &pr);
	}
	if (!err)
		err = profile__add_sample(r->p, &s);
	return err;
}

static int read_samples(struct pb_reader *r, const char *sample_index)
{
	size_t i, value_index = 0;
	int err;

	err = pick_value(r, sample_index, &value_index);
	for (i = 0; i < r->prof->n_sample && !err; i++)
		err = read_sample(r, i, value_index);
	return err;
}

/* The comment naming the counters that are 0 ("a,b,c"): each becomes a counter of 0. */
static int read_zero_counters(struct pb_reader *r, const char *list)
{
	int err = 0;

	while (*list && !err) {
		const char *comma = strchr(list, ',');
		size_t n = comma ? (size_t)(comma - list) : strlen(list);
		char *name = strndup(list, n);

		if (!name)
			return -ENOMEM;
		if (*name)
			err = profile__add_counter(r->p, name, 0);
		free(name);
		list += n + (comma ? 1 : 0);
	}
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

		if (c && strncmp(c, COUNTERS_ZERO_PREFIX, strlen(COUNTERS_ZERO_PREFIX)) == 0) {
			err = read_zero_counters(r, c + strlen(COUNTERS_ZERO_PREFIX));
			continue;
		}
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

/* Sampling frequency in Hz (from a period of 1 ns to 1 s, in nanoseconds), start and duration. */
static void read_timing(struct pb_reader *r)
{
	const PbProfile *prof = r->prof;

	if (prof->period > 0 && prof->period <= 1000000000 && prof->period_type) {
		const char *unit = pb_str(prof, prof->period_type->unit);

		if (unit && strcmp(unit, "nanoseconds") == 0)
			profile__set_frequency(r->p, (uint32_t)(1000000000 / prof->period));
	}
	profile__set_time(r->p, prof->time_nanos > 0 ? (uint64_t)prof->time_nanos : 0,
			  prof->duration_nanos > 0 ? (uint64_t)prof->duration_nanos : 0);
}

int pprof__read(const uint8_t *buf, size_t len, const struct ember_read_opts *opts,
		struct ember_profile *p)
{
	struct pb_reader r = {
	    .p = p, .name = opts && opts->name ? opts->name : "input", .off_cpu_index = -1};
	PbProfile *prof;
	int err;

	prof = perftools__profiles__profile__unpack(NULL, len, buf);
	if (!prof) {
		pr_err("%s: looks like pprof (protobuf), but it is not a valid Profile message "
		       "(%zu bytes: corrupt or truncated)",
		       r.name, len);
		return -EINVAL;
	}
	r.prof = prof;
	if (prof->n_string_table == 0 || prof->string_table[0][0] != '\0') {
		pr_err("%s: looks like pprof (protobuf), but its string table %s (truncated?)",
		       r.name, prof->n_string_table ? "does not start with \"\"" : "is missing");
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
	if (!err)
		err = read_locations(&r);
	if (!err)
		err = read_samples(&r, opts ? opts->sample_index : NULL);
	if (!err)
		err = read_comments(&r);
	if (!err)
		read_timing(&r);
out:
	ember_index__free(r.mappings.index);
	ember_index__free(r.functions.index);
	ember_index__free(r.locations.index);
	free(r.mapping_ids);
	free(r.location_ids);
	free(r.frames);
	free(r.locs);
	perftools__profiles__profile__free_unpacked(prof, NULL);
	return err;
}
