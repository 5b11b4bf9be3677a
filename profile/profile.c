// SPDX-License-Identifier: MIT
/*
 * The profile model: dense arrays of mappings, locations and samples, each with
 * an index table for de-duplication. Ids are 1-based positions in those arrays,
 * so writers walk them in insertion order and output is deterministic. All
 * strings live in one pool owned by the profile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "support/support.h"

struct stored_sample {
	struct ember_sample s; /* locations points into the profile's loc_ids array */
	size_t first_loc;      /* index into loc_ids */
};

struct named_counter {
	const char *name;
	uint64_t value;
};

struct label {
	const char *key, *value;
};

struct ember_profile {
	struct ember_strpool *pool;

	struct ember_mapping *mappings;
	size_t nr_mappings, cap_mappings;
	struct ember_index *mapping_index;

	struct ember_location *locations;
	size_t nr_locations, cap_locations;
	struct ember_index *location_index;
	uint32_t *location_pids; /* pid that keys an unmapped location, parallel array */
	size_t cap_location_pids;

	/* Frames of all locations, in one array; locations point in via frame_first. */
	struct ember_frame *frames;
	size_t nr_frames, cap_frames;
	size_t *frame_first;		       /* per location: index into frames */
	const struct ember_frame *frames_base; /* frames when location pointers were set */
	size_t cap_frame_first;

	struct stored_sample *samples;
	size_t nr_samples, cap_samples;
	struct ember_index *sample_index;
	uint32_t *loc_ids;
	size_t nr_loc_ids, cap_loc_ids;

	struct ember_process *processes;
	size_t nr_processes, cap_processes;
	struct ember_index *process_index;

	struct named_counter *counters;
	size_t nr_counters, cap_counters;
	struct label *labels;
	size_t nr_labels, cap_labels;

	uint64_t start_ns, duration_ns, total;
	uint32_t hz;
	enum ember_value_type value_type;
	const char *other_type, *other_unit; /* EMBER_VALUE_OTHER: pooled strings */
};

int profile__new(struct ember_profile **out)
{
	struct ember_profile *p = calloc(1, sizeof(*p));
	int err = -ENOMEM;

	if (!p)
		return -ENOMEM;
	if (ember_strpool__new(&p->pool) || ember_index__new(&p->mapping_index) ||
	    ember_index__new(&p->location_index) || ember_index__new(&p->sample_index) ||
	    ember_index__new(&p->process_index))
		goto err_out;
	*out = p;
	return 0;
err_out:
	profile__free(p);
	return err;
}

void profile__free(struct ember_profile *p)
{
	if (!p)
		return;
	ember_strpool__free(p->pool);
	ember_index__free(p->mapping_index);
	ember_index__free(p->location_index);
	ember_index__free(p->sample_index);
	ember_index__free(p->process_index);
	free(p->processes);
	free(p->mappings);
	free(p->locations);
	free(p->location_pids);
	free(p->frames);
	free(p->frame_first);
	free(p->samples);
	free(p->loc_ids);
	free(p->counters);
	free(p->labels);
	free(p);
}

void profile__set_time(struct ember_profile *p, uint64_t start_realtime_ns, uint64_t duration_ns)
{
	p->start_ns = start_realtime_ns;
	p->duration_ns = duration_ns;
}

void profile__set_frequency(struct ember_profile *p, uint32_t hz)
{
	p->hz = hz;
}

uint64_t profile__start_ns(const struct ember_profile *p)
{
	return p->start_ns;
}

uint64_t profile__duration_ns(const struct ember_profile *p)
{
	return p->duration_ns;
}

uint32_t profile__frequency(const struct ember_profile *p)
{
	return p->hz;
}

uint64_t profile__period_ns(const struct ember_profile *p)
{
	return p->hz ? 1000000000ull / p->hz : 0;
}

void profile__set_value_type(struct ember_profile *p, enum ember_value_type type)
{
	p->value_type = type;
}

enum ember_value_type profile__value_type(const struct ember_profile *p)
{
	return p->value_type;
}

const char *ember_value_type_name(enum ember_value_type type)
{
	switch (type) {
	case EMBER_VALUE_OFF_CPU_NS:
		return "off_cpu";
	case EMBER_VALUE_WALL_NS:
		return "wall";
	default:
		return "samples";
	}
}

const char *ember_sample_kind_marker(uint32_t kind)
{
	switch (kind) {
	case EMBER_SAMPLE_OFF_CPU_BLOCKED:
		return "[off-cpu: blocked]";
	case EMBER_SAMPLE_OFF_CPU_PREEMPTED:
		return "[off-cpu: preempted]";
	default:
		return NULL;
	}
}

const char *profile__intern(struct ember_profile *p, const char *s)
{
	return s ? ember_strpool__intern(p->pool, s) : NULL;
}

/* Interns @s; *@ok becomes false when @s was non-NULL and interning failed. */
static const char *intern_opt(struct ember_profile *p, const char *s, bool *ok)
{
	const char *r;

	if (!s)
		return NULL;
	r = ember_strpool__intern(p->pool, s);
	if (!r)
		*ok = false;
	return r;
}

int profile__add_counter(struct ember_profile *p, const char *name, uint64_t value)
{
	const char *n = profile__intern(p, name);
	size_t i;

	if (!n)
		return -ENOMEM;
	/* Few counters (tens): interned pointers compare by address. */
	for (i = 0; i < p->nr_counters; i++) {
		if (p->counters[i].name == n) {
			p->counters[i].value += value;
			return 0;
		}
	}
	if (ember_grow((void **)&p->counters, &p->cap_counters, p->nr_counters + 1,
		       sizeof(*p->counters)))
		return -ENOMEM;
	p->counters[p->nr_counters].name = n;
	p->counters[p->nr_counters].value = value;
	p->nr_counters++;
	return 0;
}

size_t profile__nr_counters(const struct ember_profile *p)
{
	return p->nr_counters;
}

void profile__counter(const struct ember_profile *p, size_t i, const char **name, uint64_t *value)
{
	*name = p->counters[i].name;
	*value = p->counters[i].value;
}

uint64_t profile__counter_value(const struct ember_profile *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nr_counters; i++)
		if (strcmp(p->counters[i].name, name) == 0)
			return p->counters[i].value;
	return 0;
}

int profile__set_label(struct ember_profile *p, const char *key, const char *value)
{
	const char *k = profile__intern(p, key), *v = profile__intern(p, value);
	size_t i;

	if (!k || !v)
		return -ENOMEM;
	for (i = 0; i < p->nr_labels; i++) {
		if (p->labels[i].key == k) {
			p->labels[i].value = v;
			return 0;
		}
	}
	if (ember_grow((void **)&p->labels, &p->cap_labels, p->nr_labels + 1, sizeof(*p->labels)))
		return -ENOMEM;
	p->labels[p->nr_labels].key = k;
	p->labels[p->nr_labels].value = v;
	p->nr_labels++;
	return 0;
}

size_t profile__nr_labels(const struct ember_profile *p)
{
	return p->nr_labels;
}

void profile__label(const struct ember_profile *p, size_t i, const char **key, const char **value)
{
	*key = p->labels[i].key;
	*value = p->labels[i].value;
}

/* ---- mappings ---------------------------------------------------------- */

struct mapping_lookup {
	const struct ember_profile *p;
	const struct ember_mapping *m; /* strings interned */
};

static bool mapping_eq(const void *ctx, uint32_t index)
{
	const struct mapping_lookup *l = ctx;
	const struct ember_mapping *a = &l->p->mappings[index], *b = l->m;

	/* The has_* flags describe what symbolization found, not which mapping it is. */
	return a->start == b->start && a->limit == b->limit && a->offset == b->offset &&
	       a->pid == b->pid && a->path == b->path && a->build_id == b->build_id &&
	       (a->flags & EMBER_MAPPING_KERNEL) == (b->flags & EMBER_MAPPING_KERNEL);
}

int profile__intern_mapping(struct ember_profile *p, const struct ember_mapping *m, uint32_t *id)
{
	struct ember_mapping copy = *m;
	struct mapping_lookup l = {p, &copy};
	bool ok = true;
	uint64_t h;
	int64_t found;
	int err;

	copy.path = intern_opt(p, m->path, &ok);
	copy.build_id = intern_opt(p, m->build_id, &ok);
	if (!ok)
		return -ENOMEM;
	h = ember_hash_u64(ember_hash_u64(ember_hash_u64(m->start, m->limit), m->offset),
			   (uintptr_t)copy.path ^ m->pid);
	found = ember_index__find(p->mapping_index, h, mapping_eq, &l);
	if (found >= 0) {
		p->mappings[found].flags |= m->flags; /* e.g. has_* flags of a merged profile */
		*id = (uint32_t)found + 1;
		return 0;
	}
	err = ember_grow((void **)&p->mappings, &p->cap_mappings, p->nr_mappings + 1,
			 sizeof(*p->mappings));
	if (err)
		return err;
	err = ember_index__insert(p->mapping_index, h, (uint32_t)p->nr_mappings);
	if (err)
		return err;
	p->mappings[p->nr_mappings++] = copy;
	*id = (uint32_t)p->nr_mappings;
	return 0;
}

size_t profile__nr_mappings(const struct ember_profile *p)
{
	return p->nr_mappings;
}

const struct ember_mapping *profile__mapping(const struct ember_profile *p, uint32_t id)
{
	if (id == 0 || id > p->nr_mappings)
		return NULL;
	return &p->mappings[id - 1];
}

/* ---- locations --------------------------------------------------------- */

struct location_lookup {
	const struct ember_profile *p;
	uint32_t mapping_id, pid, is_return;
	uint64_t address;
	/* name-only locations: compare frames */
	const struct ember_frame *frames;
	uint32_t nr_frames;
};

static bool frames_equal(const struct ember_frame *a, const struct ember_frame *b, uint32_t n)
{
	uint32_t i;

	/* Strings are interned in the same pool, so pointers compare. */
	for (i = 0; i < n; i++)
		if (a[i].function != b[i].function || a[i].system_name != b[i].system_name ||
		    a[i].file != b[i].file || a[i].line != b[i].line || a[i].flags != b[i].flags ||
		    a[i].start_line != b[i].start_line)
			return false;
	return true;
}

static bool location_eq(const void *ctx, uint32_t index)
{
	const struct location_lookup *l = ctx;
	const struct ember_location *loc = &l->p->locations[index];

	if (l->frames) {
		return loc->address == 0 && loc->mapping_id == 0 &&
		       loc->nr_frames == l->nr_frames && l->p->location_pids[index] == 0 &&
		       frames_equal(&l->p->frames[l->p->frame_first[index]], l->frames,
				    l->nr_frames);
	}
	return loc->address == l->address && loc->mapping_id == l->mapping_id &&
	       loc->is_return == l->is_return && l->p->location_pids[index] == l->pid &&
	       (l->address || loc->nr_frames == 0);
}

static int add_location(struct ember_profile *p, uint64_t hash, const struct ember_location *loc,
			uint32_t pid, uint32_t *id)
{
	size_t n = p->nr_locations;
	int err;

	if (n >= UINT32_MAX - 1)
		return -ENOMEM;
	err = ember_grow((void **)&p->locations, &p->cap_locations, n + 1, sizeof(*p->locations));
	if (!err)
		err = ember_grow((void **)&p->location_pids, &p->cap_location_pids, n + 1,
				 sizeof(*p->location_pids));
	if (!err)
		err = ember_grow((void **)&p->frame_first, &p->cap_frame_first, n + 1,
				 sizeof(*p->frame_first));
	if (!err)
		err = ember_index__insert(p->location_index, hash, (uint32_t)n);
	if (err)
		return err;
	p->locations[n] = *loc;
	p->locations[n].nr_frames = 0;
	p->locations[n].frames = NULL;
	p->location_pids[n] = pid;
	p->frame_first[n] = p->nr_frames;
	p->nr_locations++;
	*id = (uint32_t)n + 1;
	return 0;
}

int profile__intern_location(struct ember_profile *p, uint32_t mapping_id, uint32_t pid,
			     uint64_t address, bool is_return, uint32_t *id)
{
	struct ember_location loc = {
	    .address = address, .mapping_id = mapping_id, .is_return = is_return};
	struct location_lookup l = {.p = p,
				    .mapping_id = mapping_id,
				    .pid = mapping_id ? 0 : pid,
				    .is_return = is_return,
				    .address = address};
	uint64_t h =
	    ember_hash_u64(ember_hash_u64(ember_hash_u64(address, mapping_id), l.pid), is_return);
	int64_t found = ember_index__find(p->location_index, h, location_eq, &l);

	if (found >= 0) {
		*id = (uint32_t)found + 1;
		return 0;
	}
	return add_location(p, h, &loc, l.pid, id);
}

/* Copies @frames into the profile's pool and frame array; returns the first index. */
static int store_frames(struct ember_profile *p, const struct ember_frame *frames, uint32_t n,
			size_t *first)
{
	bool ok = true;
	uint32_t i;
	int err;

	err = ember_grow((void **)&p->frames, &p->cap_frames, p->nr_frames + n, sizeof(*p->frames));
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		struct ember_frame *f = &p->frames[p->nr_frames + i];

		f->function =
		    intern_opt(p, frames[i].function ? frames[i].function : "[unknown]", &ok);
		f->system_name = intern_opt(p, frames[i].system_name, &ok);
		f->file = intern_opt(p, frames[i].file, &ok);
		f->line = frames[i].line;
		f->flags = frames[i].flags;
		f->start_line = frames[i].start_line;
	}
	if (!ok)
		return -ENOMEM;
	*first = p->nr_frames;
	return 0;
}

/*
 * Location frame pointers go stale only when the frames array moves, which
 * geometric growth makes rare: refresh them all then, else just location @id.
 */
static void relink_frames(struct ember_profile *p, uint32_t id)
{
	size_t i;

	if (p->frames != p->frames_base) {
		p->frames_base = p->frames;
		for (i = 0; i < p->nr_locations; i++)
			p->locations[i].frames =
			    p->locations[i].nr_frames ? &p->frames[p->frame_first[i]] : NULL;
		return;
	}
	if (id && p->locations[id - 1].nr_frames)
		p->locations[id - 1].frames = &p->frames[p->frame_first[id - 1]];
}

int profile__intern_frames_location(struct ember_profile *p, const struct ember_frame *frames,
				    uint32_t nr_frames, uint32_t *id)
{
	struct ember_location loc = {0};
	struct location_lookup l = {.p = p, .nr_frames = nr_frames};
	struct ember_frame *interned;
	size_t first, saved_nr_frames = p->nr_frames;
	uint64_t h = 0x10ca7e;
	uint32_t i;
	int64_t found;
	int err;

	if (nr_frames == 0)
		return -EINVAL;
	/* Intern into the frame array's tail first so comparison is by pointer. */
	err = store_frames(p, frames, nr_frames, &first);
	if (err)
		return err;
	interned = &p->frames[first];
	for (i = 0; i < nr_frames; i++) {
		h = ember_hash_u64(h, (uintptr_t)interned[i].function);
		h = ember_hash_u64(h, (uintptr_t)interned[i].file ^ interned[i].line);
		h = ember_hash_u64(h, interned[i].flags);
	}
	l.frames = interned;
	found = ember_index__find(p->location_index, h, location_eq, &l);
	if (found >= 0) {
		p->nr_frames = saved_nr_frames; /* drop the tentative copy */
		*id = (uint32_t)found + 1;
		relink_frames(p, 0);
		return 0;
	}
	err = add_location(p, h, &loc, 0, id);
	if (err) {
		p->nr_frames = saved_nr_frames;
		relink_frames(p, 0);
		return err;
	}
	p->nr_frames += nr_frames;
	p->frame_first[*id - 1] = first;
	p->locations[*id - 1].nr_frames = nr_frames;
	relink_frames(p, *id);
	return 0;
}

int profile__set_location_frames(struct ember_profile *p, uint32_t id,
				 const struct ember_frame *frames, uint32_t nr_frames)
{
	size_t first;
	int err;

	if (id == 0 || id > p->nr_locations)
		return -EINVAL;
	/* Old frames, if any, stay in the array unused: re-symbolizing is rare. */
	err = store_frames(p, frames, nr_frames, &first);
	if (err)
		return err;
	p->nr_frames += nr_frames;
	p->frame_first[id - 1] = first;
	p->locations[id - 1].nr_frames = nr_frames;
	relink_frames(p, id);
	return 0;
}

size_t profile__nr_locations(const struct ember_profile *p)
{
	return p->nr_locations;
}

const struct ember_location *profile__location(const struct ember_profile *p, uint32_t id)
{
	if (id == 0 || id > p->nr_locations)
		return NULL;
	return &p->locations[id - 1];
}

/* ---- samples ----------------------------------------------------------- */

struct sample_lookup {
	const struct ember_profile *p;
	const struct ember_sample *s; /* names interned */
};

static bool sample_eq(const void *ctx, uint32_t index)
{
	const struct sample_lookup *l = ctx;
	const struct ember_sample *a = &l->p->samples[index].s, *b = l->s;

	return a->pid == b->pid && a->tid == b->tid && a->kind == b->kind &&
	       a->process_name == b->process_name && a->thread_name == b->thread_name &&
	       a->nr_locations == b->nr_locations &&
	       (b->nr_locations == 0 || /* empty stacks: loc_ids may still be NULL */
		memcmp(&l->p->loc_ids[l->p->samples[index].first_loc], b->locations,
		       b->nr_locations * sizeof(*b->locations)) == 0);
}

int profile__add_sample(struct ember_profile *p, const struct ember_sample *s)
{
	struct ember_sample copy = *s;
	struct sample_lookup l = {p, &copy};
	struct stored_sample *st;
	bool ok = true;
	uint64_t h;
	int64_t found;
	uint32_t i;
	int err;

	for (i = 0; i < s->nr_locations; i++)
		if (s->locations[i] == 0 || s->locations[i] > p->nr_locations)
			return -EINVAL;
	copy.process_name = intern_opt(p, s->process_name, &ok);
	copy.thread_name = intern_opt(p, s->thread_name, &ok);
	if (!ok)
		return -ENOMEM;
	h = ember_hash_bytes(s->locations, s->nr_locations * sizeof(*s->locations),
			     ((uint64_t)s->pid << 32) | s->tid);
	h = ember_hash_u64(h, (uintptr_t)copy.process_name ^ ((uintptr_t)copy.thread_name << 1) ^
				  s->kind);
	found = ember_index__find(p->sample_index, h, sample_eq, &l);
	if (found >= 0) {
		p->samples[found].s.count += s->count;
		p->total += s->count;
		return 0;
	}
	err = ember_grow((void **)&p->samples, &p->cap_samples, p->nr_samples + 1,
			 sizeof(*p->samples));
	if (!err)
		err = ember_grow((void **)&p->loc_ids, &p->cap_loc_ids,
				 p->nr_loc_ids + s->nr_locations, sizeof(*p->loc_ids));
	if (!err)
		err = ember_index__insert(p->sample_index, h, (uint32_t)p->nr_samples);
	if (err)
		return err;
	st = &p->samples[p->nr_samples++];
	st->s = copy;
	st->first_loc = p->nr_loc_ids;
	if (s->nr_locations) /* loc_ids is NULL until the first non-empty stack */
		memcpy(&p->loc_ids[p->nr_loc_ids], s->locations,
		       s->nr_locations * sizeof(*s->locations));
	p->nr_loc_ids += s->nr_locations;
	p->total += s->count;
	return 0;
}

size_t profile__nr_samples(const struct ember_profile *p)
{
	return p->nr_samples;
}

void profile__sample(const struct ember_profile *p, size_t i, struct ember_sample *out)
{
	*out = p->samples[i].s;
	out->locations = p->loc_ids ? &p->loc_ids[p->samples[i].first_loc] : NULL;
}

uint64_t profile__total(const struct ember_profile *p)
{
	return p->total;
}

/* ---- processes --------------------------------------------------------- */

struct process_lookup {
	const struct ember_profile *p;
	uint32_t pid;
};

static bool process_eq(const void *ctx, uint32_t index)
{
	const struct process_lookup *l = ctx;

	return l->p->processes[index].pid == l->pid;
}

int profile__set_process(struct ember_profile *p, const struct ember_process *info)
{
	struct process_lookup l = {p, info->pid};
	uint64_t h = ember_hash_u64(0x9e0, info->pid);
	struct ember_process copy = *info;
	bool ok = true;
	int64_t found;
	int err;

	copy.name = intern_opt(p, info->name, &ok);
	copy.exe = intern_opt(p, info->exe, &ok);
	copy.cgroup = intern_opt(p, info->cgroup, &ok);
	copy.container_id = intern_opt(p, info->container_id, &ok);
	if (!ok)
		return -ENOMEM;
	found = ember_index__find(p->process_index, h, process_eq, &l);
	if (found >= 0) {
		p->processes[found] = copy;
		return 0;
	}
	err = ember_grow((void **)&p->processes, &p->cap_processes, p->nr_processes + 1,
			 sizeof(*p->processes));
	if (!err)
		err = ember_index__insert(p->process_index, h, (uint32_t)p->nr_processes);
	if (err)
		return err;
	p->processes[p->nr_processes++] = copy;
	return 0;
}

const struct ember_process *profile__process(const struct ember_profile *p, uint32_t pid)
{
	struct process_lookup l = {p, pid};
	int64_t found =
	    ember_index__find(p->process_index, ember_hash_u64(0x9e0, pid), process_eq, &l);

	return found >= 0 ? &p->processes[found] : NULL;
}

int profile__set_sample_type(struct ember_profile *p, const char *type, const char *unit)
{
	const char *t, *u;

	if (!type || !*type || !unit || !*unit)
		return -EINVAL;
	t = profile__intern(p, type);
	u = profile__intern(p, unit);
	if (!t || !u)
		return -ENOMEM;
	p->other_type = t;
	p->other_unit = u;
	p->value_type = EMBER_VALUE_OTHER;
	return 0;
}

void profile__sample_type(const struct ember_profile *p, const char **type, const char **unit)
{
	if (p->value_type == EMBER_VALUE_OTHER) {
		*type = p->other_type;
		*unit = p->other_unit;
		return;
	}
	*type = ember_value_type_name(p->value_type);
	*unit = p->value_type == EMBER_VALUE_SAMPLES ? "count" : "nanoseconds";
}

/* True when @a and @b count the same thing (value type, and sample type and unit). */
static bool same_sample_type(const struct ember_profile *a, const struct ember_profile *b)
{
	return a->value_type == b->value_type &&
	       (a->value_type != EMBER_VALUE_OTHER || (strcmp(a->other_type, b->other_type) == 0 &&
						       strcmp(a->other_unit, b->other_unit) == 0));
}

/* ---- merge ------------------------------------------------------------- */

int profile__merge(struct ember_profile *dst, const struct ember_profile *src)
{
	return profile__merge_opts(dst, src, NULL);
}

int profile__merge_opts(struct ember_profile *dst, const struct ember_profile *src,
			const struct ember_merge_opts *opts)
{
	uint32_t *map_ids = NULL, *loc_ids = NULL, *stack = NULL;
	size_t i, cap_stack = 0;
	int err = -ENOMEM;

	if (!same_sample_type(dst, src)) {
		if (dst->nr_samples && src->nr_samples)
			return -EINVAL;
		if (src->nr_samples) {
			dst->value_type = src->value_type;
			if (src->value_type == EMBER_VALUE_OTHER &&
			    profile__set_sample_type(dst, src->other_type, src->other_unit))
				return -ENOMEM;
		}
	}
	map_ids = calloc(src->nr_mappings + 1, sizeof(*map_ids));
	loc_ids = calloc(src->nr_locations + 1, sizeof(*loc_ids));
	if (!map_ids || !loc_ids)
		goto out;
	for (i = 0; i < src->nr_mappings; i++) {
		err = profile__intern_mapping(dst, &src->mappings[i], &map_ids[i + 1]);
		if (err)
			goto out;
	}
	for (i = 0; i < src->nr_locations; i++) {
		const struct ember_location *loc = &src->locations[i];
		uint32_t id;

		if (!loc->address && !loc->mapping_id && loc->nr_frames) {
			err =
			    profile__intern_frames_location(dst, loc->frames, loc->nr_frames, &id);
		} else {
			err = profile__intern_location(dst, map_ids[loc->mapping_id],
						       src->location_pids[i], loc->address,
						       loc->is_return, &id);
			if (!err && loc->nr_frames && !dst->locations[id - 1].nr_frames)
				err = profile__set_location_frames(dst, id, loc->frames,
								   loc->nr_frames);
		}
		if (err)
			goto out;
		loc_ids[i + 1] = id;
	}
	for (i = 0; i < src->nr_samples; i++) {
		const char *roots[EMBER_MERGE_MAX_ROOTS];
		uint32_t nr_roots = 0, j;
		struct ember_sample s;

		profile__sample(src, i, &s);
		if (opts && opts->sample && !opts->sample(src, &s, roots, &nr_roots, opts->ctx))
			continue;
		if (nr_roots > EMBER_MERGE_MAX_ROOTS) {
			err = -EINVAL;
			goto out;
		}
		err = ember_grow((void **)&stack, &cap_stack, (size_t)s.nr_locations + nr_roots,
				 sizeof(*stack));
		if (err)
			goto out;
		for (j = 0; j < s.nr_locations; j++)
			stack[j] = loc_ids[s.locations[j]];
		/* Leaf first: the extra frames go last, the outermost at the very end. */
		for (j = 0; j < nr_roots; j++) {
			struct ember_frame f = {.function = roots[nr_roots - 1 - j]};

			err =
			    profile__intern_frames_location(dst, &f, 1, &stack[s.nr_locations + j]);
			if (err)
				goto out;
		}
		s.nr_locations += nr_roots;
		s.locations = stack;
		err = profile__add_sample(dst, &s);
		if (err)
			goto out;
	}
	for (i = 0; i < src->nr_processes; i++) {
		err = profile__set_process(dst, &src->processes[i]);
		if (err)
			goto out;
	}
	for (i = 0; i < src->nr_counters; i++) {
		err = profile__add_counter(dst, src->counters[i].name, src->counters[i].value);
		if (err)
			goto out;
	}
	for (i = 0; i < src->nr_labels; i++) {
		err = profile__set_label(dst, src->labels[i].key, src->labels[i].value);
		if (err)
			goto out;
	}
	err = 0;
out:
	free(map_ids);
	free(loc_ids);
	free(stack);
	return err;
}

int profile__add_mapping_flags(struct ember_profile *p, uint32_t id, uint32_t flags)
{
	if (!id || id > p->nr_mappings)
		return -EINVAL;
	p->mappings[id - 1].flags |= flags;
	return 0;
}

int profile__add_mapping_flags_of(struct ember_profile *p, uint32_t id,
				  const struct ember_frame *frames, uint32_t n)
{
	uint32_t flags = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (frames[i].flags & (EMBER_FRAME_UNKNOWN | EMBER_FRAME_MARKER))
			continue;
		flags |= EMBER_MAPPING_HAS_FUNCTIONS;
		if (frames[i].file)
			flags |= EMBER_MAPPING_HAS_FILENAMES;
		if (frames[i].line)
			flags |= EMBER_MAPPING_HAS_LINES;
		if (frames[i].flags & EMBER_FRAME_INLINE)
			flags |= EMBER_MAPPING_HAS_INLINES;
	}
	return profile__add_mapping_flags(p, id, flags);
}
