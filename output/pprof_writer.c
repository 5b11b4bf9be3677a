// SPDX-License-Identifier: MIT
/*
 * pprof writer: the gzip-compressed Profile protobuf that `go tool pprof`,
 * speedscope and most continuous-profiling backends read. Messages come from
 * output/profile.proto through protobuf-c; the reader is pprof_reader.c.
 *
 * Mapping of the model: ember mappings become pprof Mappings one to one;
 * address locations become Locations with their address and one Line per
 * frame (innermost first, as pprof wants); name-only locations (from folded or
 * perf script input) become address-less Locations, where a run of
 * single-frame inline locations is folded into the Location of the frame they
 * are inlined into, so that folded -> pprof -> folded gives the same text.
 * Kernel and JIT frames without a mapping get a synthetic "[kernel.kallsyms]"
 * or "[jit]" mapping, which is also how the reader gets those flags back.
 * Strings that are not valid UTF-8 (proto3 requires it) get U+FFFD for each
 * bad byte: only names like that do not round-trip exactly.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "output/output.h"
#include "output/pprof_proto.h"
#include "support/support.h"

/* Process facts that become sample labels: executable, cgroup, container. */
#define FACT_LABELS 3

struct pb_writer {
	const struct ember_profile *p;

	/* string table */
	char **strings;
	size_t nr_strings, cap_strings;
	struct ember_index *string_index;

	PbFunction *functions;
	size_t nr_functions, cap_functions;
	struct ember_index *function_index;

	PbMapping *mappings; /* ember's, then the synthetic ones */
	size_t nr_mappings, cap_mappings;
	uint64_t kernel_mapping, jit_mapping; /* pprof ids; 0 until needed */
	uint64_t *mapping_ids;		      /* per ember mapping id: its pprof id */

	PbLocation *locations;
	size_t nr_locations, cap_locations;
	PbLine *lines; /* all Lines; locations point in after building (array moves) */
	size_t nr_lines, cap_lines;
	size_t *line_first; /* per pprof location: index into lines */
	size_t cap_line_first;
	uint64_t *single; /* per ember location id: its pprof location id; 0 none yet */
	/* Runs of name-only inline locations: key is the ember id sequence. */
	uint32_t *runs; /* concatenated sequences */
	size_t nr_runs_ids, cap_runs_ids;
	struct run {
		size_t first, n; /* in runs */
		uint64_t id;	 /* pprof location */
	} * run_list;
	size_t nr_run_list, cap_run_list;
	struct ember_index *run_index;

	/* What every sample shares, in string table ids (k_: label keys). */
	uint64_t period;		     /* ns between samples; 0 when unknown */
	PbValueType types[2], *type_ptrs[2]; /* samples/count, cpu/nanoseconds */
	PbValueType period_type;
	int64_t k_pid, k_tid, k_thread, k_process;
	int64_t k_facts[FACT_LABELS]; /* exe, cgroup, container_id; -1 until first used */
	int64_t *k_labels, *v_labels; /* per profile label: key and value */

	/* Samples: each array in one allocation, which the messages point into. */
	PbSample *samples;
	size_t nr_samples;
	int64_t *values;		    /* per sample: samples, cpu ns */
	PbLabel *labels, **label_ptrs;	    /* per sample: SAMPLE_LABELS(w) */
	uint64_t *ids;			    /* all samples' location ids, leaf first */
	size_t *ids_first, nr_ids, cap_ids; /* per sample: index into ids */
	int64_t *comments;		    /* per counter: its comment string */
};

/* Labels of a sample at most: pid, tid, thread and process name, facts, profile labels. */
#define SAMPLE_LABELS(w) (4 + FACT_LABELS + profile__nr_labels((w)->p))

struct string_lookup {
	const struct pb_writer *w;
	const char *s;
};

static bool string_eq(const void *ctx, uint32_t index)
{
	const struct string_lookup *l = ctx;

	return strcmp(l->w->strings[index], l->s) == 0;
}

/* Index of @s in the string table, adding a copy when new; -ENOMEM. */
static int64_t str_id(struct pb_writer *w, const char *s)
{
	struct string_lookup l = {w, s ? s : ""};
	uint64_t h = ember_hash_bytes(l.s, strlen(l.s), 0x57);
	int64_t found = ember_index__find(w->string_index, h, string_eq, &l);
	char *copy;

	if (found >= 0)
		return found;
	/*
	 * proto3 strings must be UTF-8 and strict decoders (protobuf for C++,
	 * Java, Python) reject a profile that breaks it: replace invalid bytes.
	 */
	if (!utf8_valid(l.s)) {
		struct obuf clean = {0};
		int64_t id = obuf_utf8(&clean, l.s) ? -ENOMEM : str_id(w, clean.data);

		obuf_free(&clean);
		return id;
	}
	copy = strdup(l.s);
	if (!copy ||
	    ember_grow((void **)&w->strings, &w->cap_strings, w->nr_strings + 1,
		       sizeof(*w->strings)) ||
	    ember_index__insert(w->string_index, h, (uint32_t)w->nr_strings)) {
		free(copy);
		return -ENOMEM;
	}
	w->strings[w->nr_strings++] = copy;
	return (int64_t)w->nr_strings - 1;
}

struct function_lookup {
	const struct pb_writer *w;
	int64_t name, system_name, filename;
};

static bool function_eq(const void *ctx, uint32_t index)
{
	const struct function_lookup *l = ctx;
	const PbFunction *f = &l->w->functions[index];

	return f->name == l->name && f->system_name == l->system_name && f->filename == l->filename;
}

/* pprof function id of @f (1-based), adding it when new; 0 on -ENOMEM. */
static uint64_t function_id(struct pb_writer *w, const struct ember_frame *f, const char *suffix)
{
	struct function_lookup l = {w, 0, 0, 0};
	PbFunction init = PERFTOOLS__PROFILES__FUNCTION__INIT;
	uint64_t h;
	int64_t found;

	if (*suffix) {
		/* A kind the Location cannot carry stays in the name (see header). */
		char *name = NULL;

		if (asprintf(&name, "%s%s", f->function, suffix) < 0)
			return 0;
		l.name = str_id(w, name);
		free(name);
	} else {
		l.name = str_id(w, f->function);
	}
	l.system_name = f->system_name ? str_id(w, f->system_name) : l.name;
	l.filename = str_id(w, f->file);
	if (l.name < 0 || l.system_name < 0 || l.filename < 0)
		return 0;
	h = ember_hash_u64(ember_hash_u64((uint64_t)l.name, (uint64_t)l.system_name),
			   (uint64_t)l.filename);
	found = ember_index__find(w->function_index, h, function_eq, &l);
	if (found >= 0)
		return (uint64_t)found + 1;
	if (ember_grow((void **)&w->functions, &w->cap_functions, w->nr_functions + 1,
		       sizeof(*w->functions)) ||
	    ember_index__insert(w->function_index, h, (uint32_t)w->nr_functions))
		return 0;
	init.id = w->nr_functions + 1;
	init.name = l.name;
	init.system_name = l.system_name;
	init.filename = l.filename;
	init.start_line = f->start_line; /* 0 (pprof's "unknown") without DWARF */
	w->functions[w->nr_functions++] = init;
	return init.id;
}

static int add_mapping(struct pb_writer *w, const struct ember_mapping *m, uint64_t *id)
{
	PbMapping pm = PERFTOOLS__PROFILES__MAPPING__INIT;
	int64_t file, build_id;

	file = str_id(w, m->path);
	build_id = str_id(w, m->build_id);
	if (file < 0 || build_id < 0)
		return -ENOMEM;
	if (ember_grow((void **)&w->mappings, &w->cap_mappings, w->nr_mappings + 1,
		       sizeof(*w->mappings)))
		return -ENOMEM;
	pm.id = w->nr_mappings + 1;
	pm.memory_start = m->start;
	pm.memory_limit = m->limit;
	pm.file_offset = m->offset;
	pm.filename = file;
	pm.build_id = build_id;
	pm.has_functions = !!(m->flags & EMBER_MAPPING_HAS_FUNCTIONS);
	pm.has_filenames = !!(m->flags & EMBER_MAPPING_HAS_FILENAMES);
	pm.has_line_numbers = !!(m->flags & EMBER_MAPPING_HAS_LINES);
	pm.has_inline_frames = !!(m->flags & EMBER_MAPPING_HAS_INLINES);
	w->mappings[w->nr_mappings++] = pm;
	*id = pm.id;
	return 0;
}

/* The synthetic mapping for name-only frames of kind @flags; 0 for user frames. */
static int synthetic_mapping(struct pb_writer *w, uint32_t flags, uint64_t *id)
{
	/* Name-only frames have names only: say so truthfully in the flags. */
	struct ember_mapping m = {.flags = EMBER_MAPPING_HAS_FUNCTIONS};
	uint64_t *slot;
	int err;

	*id = 0;
	if (flags & EMBER_FRAME_KERNEL) {
		slot = &w->kernel_mapping;
		m.path = KERNEL_MAPPING_NAME;
		m.flags |= EMBER_MAPPING_KERNEL;
	} else if (flags & EMBER_FRAME_JIT) {
		slot = &w->jit_mapping;
		m.path = JIT_MAPPING_NAME;
	} else {
		return 0;
	}
	if (!*slot) {
		err = add_mapping(w, &m, slot);
		if (err)
			return err;
	}
	*id = *slot;
	return 0;
}

/*
 * Adds a pprof Location for @frames (innermost first). @outer_flags decides
 * the synthetic mapping of name-only locations. Sets *@id.
 */
static int add_location(struct pb_writer *w, uint64_t address, uint64_t mapping_id,
			const struct ember_frame *const *frames, uint32_t nr, bool keep_suffix,
			uint64_t *id)
{
	PbLocation loc = PERFTOOLS__PROFILES__LOCATION__INIT;
	uint32_t i;

	if (ember_grow((void **)&w->locations, &w->cap_locations, w->nr_locations + 1,
		       sizeof(*w->locations)) ||
	    ember_grow((void **)&w->line_first, &w->cap_line_first, w->nr_locations + 1,
		       sizeof(*w->line_first)) ||
	    ember_grow((void **)&w->lines, &w->cap_lines, w->nr_lines + nr, sizeof(*w->lines)))
		return -ENOMEM;
	w->line_first[w->nr_locations] = w->nr_lines;
	for (i = 0; i < nr; i++) {
		PbLine line = PERFTOOLS__PROFILES__LINE__INIT;
		const char *suffix = "";

		if (keep_suffix && (frames[i]->flags & EMBER_FRAME_INLINE))
			suffix = frame_suffix(EMBER_FRAME_INLINE);
		line.function_id = function_id(w, frames[i], suffix);
		if (!line.function_id)
			return -ENOMEM;
		line.line = frames[i]->line;
		w->lines[w->nr_lines++] = line;
	}
	loc.id = w->nr_locations + 1;
	loc.mapping_id = mapping_id;
	loc.address = address;
	loc.n_line = nr;
	w->locations[w->nr_locations++] = loc;
	*id = loc.id;
	return 0;
}

static bool is_name_only(const struct ember_location *l)
{
	return l->address == 0 && l->mapping_id == 0 && l->nr_frames > 0;
}

/* A name-only location whose outermost frame is inlined into the next location. */
static bool is_inline_link(const struct ember_location *l)
{
	return is_name_only(l) && (l->frames[l->nr_frames - 1].flags & EMBER_FRAME_INLINE);
}

/* pprof location of ember location @id on its own. */
static int single_location(struct pb_writer *w, uint32_t id, uint64_t *out)
{
	const struct ember_location *l = profile__location(w->p, id);
	const struct ember_frame *stack_frames[64], **frames = stack_frames;
	uint64_t mapping_id = w->mapping_ids[l->mapping_id];
	uint32_t i;
	int err;

	if (w->single[id]) {
		*out = w->single[id];
		return 0;
	}
	if (l->nr_frames > 64) {
		frames = calloc(l->nr_frames, sizeof(*frames));
		if (!frames)
			return -ENOMEM;
	}
	for (i = 0; i < l->nr_frames; i++)
		frames[i] = &l->frames[i];
	err = 0;
	if (is_name_only(l))
		err = synthetic_mapping(w, l->frames[l->nr_frames - 1].flags, &mapping_id);
	if (!err)
		err = add_location(w, l->address, mapping_id, frames, l->nr_frames,
				   is_inline_link(l), &w->single[id]);
	if (frames != stack_frames)
		free(frames);
	*out = w->single[id];
	return err;
}

struct run_lookup {
	const struct pb_writer *w;
	const uint32_t *ids;
	size_t n;
};

static bool run_eq(const void *ctx, uint32_t index)
{
	const struct run_lookup *l = ctx;
	const struct run *r = &l->w->run_list[index];

	return r->n == l->n && memcmp(&l->w->runs[r->first], l->ids, l->n * sizeof(*l->ids)) == 0;
}

/* pprof location for name-only locations @ids[0..n) (leaf first: inline chain, then outer). */
static int run_location(struct pb_writer *w, const uint32_t *ids, size_t n, uint64_t *out)
{
	struct run_lookup l = {w, ids, n};
	const struct ember_frame **frames = NULL;
	uint64_t h = ember_hash_bytes(ids, n * sizeof(*ids), 0x2a);
	int64_t found = ember_index__find(w->run_index, h, run_eq, &l);
	uint64_t mapping_id;
	size_t i, nr = 0;
	uint32_t j;
	int err;

	if (found >= 0) {
		*out = w->run_list[found].id;
		return 0;
	}
	for (i = 0; i < n; i++)
		nr += profile__location(w->p, ids[i])->nr_frames;
	frames = calloc(nr, sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	nr = 0;
	for (i = 0; i < n; i++) {
		const struct ember_location *loc = profile__location(w->p, ids[i]);

		for (j = 0; j < loc->nr_frames; j++)
			frames[nr++] = &loc->frames[j];
	}
	err = synthetic_mapping(w, frames[nr - 1]->flags, &mapping_id);
	if (!err)
		err = add_location(w, 0, mapping_id, frames, (uint32_t)nr, false, out);
	if (!err)
		err = ember_grow((void **)&w->run_list, &w->cap_run_list, w->nr_run_list + 1,
				 sizeof(*w->run_list));
	if (!err)
		err = ember_grow((void **)&w->runs, &w->cap_runs_ids, w->nr_runs_ids + n,
				 sizeof(*w->runs));
	if (!err)
		err = ember_index__insert(w->run_index, h, (uint32_t)w->nr_run_list);
	if (!err) {
		memcpy(&w->runs[w->nr_runs_ids], ids, n * sizeof(*ids));
		w->run_list[w->nr_run_list++] = (struct run){w->nr_runs_ids, n, *out};
		w->nr_runs_ids += n;
	}
	free(frames);
	return err;
}

/* Appends the pprof location ids of sample @s (leaf first) to @ids. */
static int sample_locations(struct pb_writer *w, const struct ember_sample *s, uint64_t **ids,
			    size_t *nr, size_t *cap)
{
	uint32_t i = 0, j;
	int err;

	while (i < s->nr_locations) {
		uint64_t id;

		j = i;
		while (j < s->nr_locations &&
		       is_inline_link(profile__location(w->p, s->locations[j])))
			j++;
		if (j > i && j < s->nr_locations &&
		    is_name_only(profile__location(w->p, s->locations[j]))) {
			err = run_location(w, &s->locations[i], j - i + 1, &id);
			i = j + 1;
		} else {
			err = single_location(w, s->locations[i], &id);
			i++;
		}
		if (!err)
			err = ember_grow((void **)ids, cap, *nr + 1, sizeof(**ids));
		if (err)
			return err;
		(*ids)[(*nr)++] = id;
	}
	return 0;
}

static void writer_free(struct pb_writer *w)
{
	size_t i;

	for (i = 0; i < w->nr_strings; i++)
		free(w->strings[i]);
	free(w->strings);
	ember_index__free(w->string_index);
	free(w->functions);
	ember_index__free(w->function_index);
	free(w->mappings);
	free(w->mapping_ids);
	for (i = 0; i < w->nr_locations; i++)
		free(w->locations[i].line);
	free(w->locations);
	free(w->lines);
	free(w->line_first);
	free(w->single);
	free(w->runs);
	free(w->run_list);
	ember_index__free(w->run_index);
	free(w->k_labels);
	free(w->v_labels);
	free(w->samples);
	free(w->values);
	free(w->labels);
	free(w->label_ptrs);
	free(w->ids);
	free(w->ids_first);
	free(w->comments);
}

/* Sets *@id to the index of @s in the string table: 0 or -ENOMEM. */
static int intern(struct pb_writer *w, const char *s, int64_t *id)
{
	*id = str_id(w, s);
	return *id < 0 ? -ENOMEM : 0;
}

/*
 * The indexes, and the strings every profile has: "" (string 0, as pprof
 * requires), the sample types, and the label keys of every sample.
 */
static int writer_init(struct pb_writer *w)
{
	PbValueType vinit = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	int64_t empty;
	const struct {
		const char *s;
		int64_t *id;
	} known[] = {
	    {"", &empty},
	    {"samples", &w->types[0].type},
	    {"count", &w->types[0].unit},
	    {"cpu", &w->types[1].type},
	    {"nanoseconds", &w->types[1].unit},
	    {"pid", &w->k_pid},
	    {"tid", &w->k_tid},
	    {"thread_name", &w->k_thread},
	    {"process_name", &w->k_process},
	};
	size_t i;

	if (ember_index__new(&w->string_index) || ember_index__new(&w->function_index) ||
	    ember_index__new(&w->run_index))
		return -ENOMEM;
	w->single = calloc(profile__nr_locations(w->p) + 1, sizeof(*w->single));
	if (!w->single)
		return -ENOMEM;
	w->types[0] = w->types[1] = vinit;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (intern(w, known[i].s, known[i].id))
			return -ENOMEM;
	w->type_ptrs[0] = &w->types[0];
	w->type_ptrs[1] = &w->types[1];
	w->period_type = w->types[1];
	w->period = profile__period_ns(w->p);
	w->nr_samples = profile__nr_samples(w->p);
	/* Interned on first use: a profile without process facts has no such strings. */
	for (i = 0; i < 3; i++)
		w->k_facts[i] = -1;
	return 0;
}

/*
 * User mappings first: pprof tools take the first mapping for the main
 * binary ("File:" in go tool pprof), and that is not the kernel.
 */
static int write_mappings(struct pb_writer *w)
{
	size_t nr = profile__nr_mappings(w->p), i;
	int kernel, err;

	w->mapping_ids = calloc(nr + 1, sizeof(*w->mapping_ids));
	if (!w->mapping_ids)
		return -ENOMEM;
	for (kernel = 0; kernel < 2; kernel++) {
		for (i = 1; i <= nr; i++) {
			const struct ember_mapping *m = profile__mapping(w->p, (uint32_t)i);

			if (!!(m->flags & EMBER_MAPPING_KERNEL) != kernel)
				continue;
			err = add_mapping(w, m, &w->mapping_ids[i]);
			if (err)
				return err;
			if (kernel && !w->kernel_mapping)
				w->kernel_mapping = w->mapping_ids[i];
		}
	}
	return 0;
}

/* The profile's labels go onto every sample: their strings are interned once, here. */
static int intern_labels(struct pb_writer *w)
{
	size_t nr = profile__nr_labels(w->p), i;
	int err = 0;

	w->k_labels = calloc(nr + 1, sizeof(*w->k_labels));
	w->v_labels = calloc(nr + 1, sizeof(*w->v_labels));
	if (!w->k_labels || !w->v_labels)
		return -ENOMEM;
	for (i = 0; i < nr && !err; i++) {
		const char *key, *value;

		profile__label(w->p, i, &key, &value);
		err = intern(w, key, &w->k_labels[i]);
		if (!err)
			err = intern(w, value, &w->v_labels[i]);
	}
	return err;
}

/* Sets @lab to key @key with the string @value. */
static int str_label(struct pb_writer *w, PbLabel *lab, int64_t key, const char *value)
{
	lab->key = key;
	return intern(w, value, &lab->str);
}

/* Appends at @lab[*@n] what the collector knew of process @pid: executable, cgroup, container. */
static int process_labels(struct pb_writer *w, uint32_t pid, PbLabel *lab, size_t *n)
{
	static const char *const keys[FACT_LABELS] = {"exe", "cgroup", "container_id"};
	const struct ember_process *pr = profile__process(w->p, pid);
	const char *vals[FACT_LABELS] = {pr ? pr->exe : NULL, pr ? pr->cgroup : NULL,
					 pr ? pr->container_id : NULL};
	size_t k;
	int err;

	for (k = 0; k < FACT_LABELS; k++) {
		if (!vals[k])
			continue;
		if (w->k_facts[k] < 0) {
			err = intern(w, keys[k], &w->k_facts[k]);
			if (err)
				return err;
		}
		err = str_label(w, &lab[(*n)++], w->k_facts[k], vals[k]);
		if (err)
			return err;
	}
	return 0;
}

/* Fills @lab (room for SAMPLE_LABELS(w), initialized) with the labels of @s; *@n: how many. */
static int sample_labels(struct pb_writer *w, const struct ember_sample *s, PbLabel *lab, size_t *n)
{
	size_t k, i = 0;
	int err = 0;

	if (s->pid) {
		lab[i].key = w->k_pid;
		lab[i++].num = s->pid;
	}
	if (s->tid) {
		lab[i].key = w->k_tid;
		lab[i++].num = s->tid;
	}
	if (s->thread_name)
		err = str_label(w, &lab[i++], w->k_thread, s->thread_name);
	if (!err && s->process_name)
		err = str_label(w, &lab[i++], w->k_process, s->process_name);
	if (!err && s->pid)
		err = process_labels(w, s->pid, lab, &i);
	for (k = 0; !err && k < profile__nr_labels(w->p); k++) {
		lab[i].key = w->k_labels[k];
		lab[i++].str = w->v_labels[k];
	}
	*n = i;
	return err;
}

/* Sample @i of the profile: its locations, values (samples, cpu ns) and labels. */
static int write_sample(struct pb_writer *w, size_t i)
{
	PbSample init = PERFTOOLS__PROFILES__SAMPLE__INIT;
	PbLabel linit = PERFTOOLS__PROFILES__LABEL__INIT;
	size_t per_sample = SAMPLE_LABELS(w), k;
	PbLabel *lab = &w->labels[i * per_sample];
	PbLabel **lp = &w->label_ptrs[i * per_sample];
	PbSample *ps = &w->samples[i];
	struct ember_sample s;
	int err;

	profile__sample(w->p, i, &s);
	w->ids_first[i] = w->nr_ids;
	err = sample_locations(w, &s, &w->ids, &w->nr_ids, &w->cap_ids);
	if (err)
		return err;
	*ps = init;
	ps->n_location_id = w->nr_ids - w->ids_first[i];
	ps->n_value = 2;
	ps->value = &w->values[2 * i];
	/* Counts past INT64_MAX cannot be represented; no real profile gets there. */
	w->values[2 * i] = (int64_t)s.count;
	w->values[2 * i + 1] = (int64_t)(s.count * w->period);
	for (k = 0; k < per_sample; k++) {
		lab[k] = linit;
		lp[k] = &lab[k];
	}
	ps->label = lp;
	return sample_labels(w, &s, lab, &ps->n_label);
}

/* Every sample, each array in one allocation that the messages point into. */
static int write_samples(struct pb_writer *w)
{
	size_t nr = w->nr_samples, per_sample = SAMPLE_LABELS(w), i;
	int err = 0;

	w->samples = calloc(nr + 1, sizeof(*w->samples));
	w->values = calloc(2 * nr + 1, sizeof(*w->values));
	w->labels = calloc(nr * per_sample + 1, sizeof(*w->labels));
	w->label_ptrs = calloc(nr * per_sample + 1, sizeof(*w->label_ptrs));
	w->ids_first = calloc(nr + 1, sizeof(*w->ids_first));
	if (!w->samples || !w->values || !w->labels || !w->label_ptrs || !w->ids_first)
		return -ENOMEM;
	for (i = 0; i < nr && !err; i++)
		err = write_sample(w, i);
	/* ids moved as it grew: point into it now that it is final. */
	for (i = 0; i < nr && !err; i++)
		w->samples[i].location_id = w->ids ? &w->ids[w->ids_first[i]] : NULL;
	return err;
}

/* Collector counters become comments COUNTER_PREFIX "NAME=VALUE", which the reader parses. */
static int write_comments(struct pb_writer *w)
{
	size_t nr = profile__nr_counters(w->p), i;
	int err = 0;

	w->comments = calloc(nr + 1, sizeof(*w->comments));
	if (!w->comments)
		return -ENOMEM;
	for (i = 0; i < nr && !err; i++) {
		const char *name;
		uint64_t value;
		char *text;

		profile__counter(w->p, i, &name, &value);
		if (asprintf(&text, COUNTER_PREFIX "%s=%" PRIu64, name, value) < 0)
			return -ENOMEM;
		err = intern(w, text, &w->comments[i]);
		free(text);
	}
	return err;
}

/* Points each Location at its Lines, now that the lines array no longer moves. */
static int link_lines(struct pb_writer *w)
{
	size_t i, k;

	for (i = 0; i < w->nr_locations; i++) {
		PbLine **lp = calloc(w->locations[i].n_line + 1, sizeof(*lp));

		if (!lp)
			return -ENOMEM;
		for (k = 0; k < w->locations[i].n_line; k++)
			lp[k] = &w->lines[w->line_first[i] + k];
		w->locations[i].line = lp;
	}
	return 0;
}

/*
 * Sets *@out to a new array of pointers to the @n elements of @size bytes at
 * @elems: a repeated message field, as protobuf-c holds one.
 */
static int point_at(void ***out, void *elems, size_t n, size_t size)
{
	void **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	size_t k;

	if (!ptrs)
		return -ENOMEM;
	for (k = 0; k < n; k++)
		ptrs[k] = (char *)elems + k * size;
	*out = ptrs;
	return 0;
}

/*
 * Points @prof at the finished tables. The pointer arrays it gets (sample,
 * mapping, location, function) are the caller's to free, also on error.
 */
static int fill_profile(struct pb_writer *w, PbProfile *prof)
{
	void **ptrs[4] = {NULL, NULL, NULL, NULL};
	int err;

	err = link_lines(w);
	if (!err)
		err = point_at(&ptrs[0], w->samples, w->nr_samples, sizeof(*w->samples));
	if (!err)
		err = point_at(&ptrs[1], w->mappings, w->nr_mappings, sizeof(*w->mappings));
	if (!err)
		err = point_at(&ptrs[2], w->locations, w->nr_locations, sizeof(*w->locations));
	if (!err)
		err = point_at(&ptrs[3], w->functions, w->nr_functions, sizeof(*w->functions));
	prof->sample = (PbSample **)ptrs[0];
	prof->mapping = (PbMapping **)ptrs[1];
	prof->location = (PbLocation **)ptrs[2];
	prof->function = (PbFunction **)ptrs[3];
	if (err)
		return err;
	prof->n_sample_type = 2;
	prof->sample_type = w->type_ptrs;
	prof->n_sample = w->nr_samples;
	prof->n_mapping = w->nr_mappings;
	prof->n_location = w->nr_locations;
	prof->n_function = w->nr_functions;
	prof->n_string_table = w->nr_strings;
	prof->string_table = w->strings;
	prof->time_nanos = (int64_t)profile__start_ns(w->p);
	prof->duration_nanos = (int64_t)profile__duration_ns(w->p);
	prof->period_type = &w->period_type;
	prof->period = (int64_t)w->period;
	prof->n_comment = profile__nr_counters(w->p);
	prof->comment = w->comments;
	/* Without a known period the cpu values are all 0: show samples by default. */
	if (!w->period)
		prof->default_sample_type = w->types[0].type;
	return 0;
}

/* Serializes @prof into a new buffer *@out (the caller frees it) of *@out_len bytes. */
static int pack(const PbProfile *prof, uint8_t **out, size_t *out_len)
{
	size_t len = protobuf_c_message_get_packed_size(&prof->base);
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(&prof->base, buf);
	*out = buf;
	*out_len = len;
	return 0;
}

int pprof__encode(const struct ember_profile *p, uint8_t **out, size_t *out_len)
{
	struct pb_writer w = {.p = p};
	PbProfile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	int err;

	/* The steps run in this order because it is the order of the string table. */
	err = writer_init(&w);
	if (!err)
		err = write_mappings(&w);
	if (!err)
		err = intern_labels(&w);
	if (!err)
		err = write_samples(&w);
	if (!err)
		err = write_comments(&w);
	if (!err)
		err = fill_profile(&w, &prof);
	if (!err)
		err = pack(&prof, out, out_len);
	free(prof.sample);
	free(prof.mapping);
	free(prof.location);
	free(prof.function);
	writer_free(&w);
	return err;
}

int pprof__write(const struct ember_profile *p, FILE *out)
{
	uint8_t *buf = NULL;
	size_t len;
	int err = pprof__encode(p, &buf, &len);

	if (!err)
		err = compress__write(EMBER_COMPRESSION_GZIP, buf, len, out);
	if (!err && fflush(out))
		err = -EIO;
	free(buf);
	return err;
}
