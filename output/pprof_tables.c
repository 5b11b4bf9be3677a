// SPDX-License-Identifier: MIT
/*
 * The tables of a pprof Profile being written (strings, Functions, Mappings,
 * Locations with their Lines) and how ember's locations become pprof
 * Locations; pprof_writer.c adds the samples that point into them.
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
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "output/output.h"
#include "output/pprof_tables.h"
#include "support/support.h"

int pb_tables_init(struct pb_tables *t, const struct ember_profile *p)
{
	memset(t, 0, sizeof(*t));
	t->p = p;
	if (ember_index__new(&t->string_index) || ember_index__new(&t->function_index) ||
	    ember_index__new(&t->run_index))
		return -ENOMEM;
	t->single = calloc(profile__nr_locations(p) + 1, sizeof(*t->single));
	if (!t->single || pb_tables_str(t, "") != 0)
		return -ENOMEM;
	return 0;
}

void pb_tables_free(struct pb_tables *t)
{
	size_t i;

	for (i = 0; i < t->nr_strings; i++)
		free(t->strings[i]);
	free(t->strings);
	ember_index__free(t->string_index);
	free(t->functions);
	ember_index__free(t->function_index);
	free(t->mappings);
	free(t->mapping_ids);
	for (i = 0; i < t->nr_locations; i++)
		free(t->locations[i].line);
	free(t->locations);
	free(t->lines);
	free(t->line_first);
	free(t->single);
	free(t->runs);
	free(t->run_list);
	ember_index__free(t->run_index);
}

struct string_lookup {
	const struct pb_tables *t;
	const char *s;
};

static bool string_eq(const void *ctx, uint32_t index)
{
	const struct string_lookup *l = ctx;

	return strcmp(l->t->strings[index], l->s) == 0;
}

int64_t pb_tables_str(struct pb_tables *t, const char *s)
{
	struct string_lookup l = {t, s ? s : ""};
	uint64_t h = ember_hash_bytes(l.s, strlen(l.s), 0x57);
	int64_t found = ember_index__find(t->string_index, h, string_eq, &l);
	char *copy;

	if (found >= 0)
		return found;
	/*
	 * proto3 strings must be UTF-8 and strict decoders (protobuf for C++,
	 * Java, Python) reject a profile that breaks it: replace invalid bytes.
	 */
	if (!utf8_valid(l.s)) {
		struct obuf clean = {0};
		int64_t id = obuf_utf8(&clean, l.s) ? -ENOMEM : pb_tables_str(t, clean.data);

		obuf_free(&clean);
		return id;
	}
	copy = strdup(l.s);
	if (!copy ||
	    ember_grow((void **)&t->strings, &t->cap_strings, t->nr_strings + 1,
		       sizeof(*t->strings)) ||
	    ember_index__insert(t->string_index, h, (uint32_t)t->nr_strings)) {
		free(copy);
		return -ENOMEM;
	}
	t->strings[t->nr_strings++] = copy;
	return (int64_t)t->nr_strings - 1;
}

struct function_lookup {
	const struct pb_tables *t;
	int64_t name, system_name, filename;
};

static bool function_eq(const void *ctx, uint32_t index)
{
	const struct function_lookup *l = ctx;
	const PbFunction *f = &l->t->functions[index];

	return f->name == l->name && f->system_name == l->system_name && f->filename == l->filename;
}

/* pprof function id of @f (1-based), adding it when new; 0 on -ENOMEM. */
static uint64_t function_id(struct pb_tables *t, const struct ember_frame *f, const char *suffix)
{
	struct function_lookup l = {t, 0, 0, 0};
	PbFunction init = PERFTOOLS__PROFILES__FUNCTION__INIT;
	uint64_t h;
	int64_t found;

	if (*suffix) {
		/* A kind the Location cannot carry stays in the name (see header). */
		char *name = NULL;

		if (asprintf(&name, "%s%s", f->function, suffix) < 0)
			return 0;
		l.name = pb_tables_str(t, name);
		free(name);
	} else {
		l.name = pb_tables_str(t, f->function);
	}
	l.system_name = f->system_name ? pb_tables_str(t, f->system_name) : l.name;
	l.filename = pb_tables_str(t, f->file);
	if (l.name < 0 || l.system_name < 0 || l.filename < 0)
		return 0;
	h = ember_hash_u64(ember_hash_u64((uint64_t)l.name, (uint64_t)l.system_name),
			   (uint64_t)l.filename);
	found = ember_index__find(t->function_index, h, function_eq, &l);
	if (found >= 0)
		return (uint64_t)found + 1;
	if (ember_grow((void **)&t->functions, &t->cap_functions, t->nr_functions + 1,
		       sizeof(*t->functions)) ||
	    ember_index__insert(t->function_index, h, (uint32_t)t->nr_functions))
		return 0;
	init.id = t->nr_functions + 1;
	init.name = l.name;
	init.system_name = l.system_name;
	init.filename = l.filename;
	init.start_line = f->start_line; /* 0 (pprof's "unknown") without DWARF */
	t->functions[t->nr_functions++] = init;
	return init.id;
}

static int add_mapping(struct pb_tables *t, const struct ember_mapping *m, uint64_t *id)
{
	PbMapping pm = PERFTOOLS__PROFILES__MAPPING__INIT;
	int64_t file, build_id;

	file = pb_tables_str(t, m->path);
	build_id = pb_tables_str(t, m->build_id);
	if (file < 0 || build_id < 0)
		return -ENOMEM;
	if (ember_grow((void **)&t->mappings, &t->cap_mappings, t->nr_mappings + 1,
		       sizeof(*t->mappings)))
		return -ENOMEM;
	pm.id = t->nr_mappings + 1;
	pm.memory_start = m->start;
	pm.memory_limit = m->limit;
	pm.file_offset = m->offset;
	pm.filename = file;
	pm.build_id = build_id;
	pm.has_functions = !!(m->flags & EMBER_MAPPING_HAS_FUNCTIONS);
	pm.has_filenames = !!(m->flags & EMBER_MAPPING_HAS_FILENAMES);
	pm.has_line_numbers = !!(m->flags & EMBER_MAPPING_HAS_LINES);
	pm.has_inline_frames = !!(m->flags & EMBER_MAPPING_HAS_INLINES);
	t->mappings[t->nr_mappings++] = pm;
	*id = pm.id;
	return 0;
}

/* The synthetic mapping for name-only frames of kind @flags; 0 for user frames. */
static int synthetic_mapping(struct pb_tables *t, uint32_t flags, uint64_t *id)
{
	/* Name-only frames have names only: say so truthfully in the flags. */
	struct ember_mapping m = {.flags = EMBER_MAPPING_HAS_FUNCTIONS};
	uint64_t *slot;
	int err;

	*id = 0;
	if (flags & EMBER_FRAME_KERNEL) {
		slot = &t->kernel_mapping;
		m.path = KERNEL_MAPPING_NAME;
		m.flags |= EMBER_MAPPING_KERNEL;
	} else if (flags & EMBER_FRAME_JIT) {
		slot = &t->jit_mapping;
		m.path = JIT_MAPPING_NAME;
	} else {
		return 0;
	}
	if (!*slot) {
		err = add_mapping(t, &m, slot);
		if (err)
			return err;
	}
	*id = *slot;
	return 0;
}

/*
 * Adds a pprof Location for @frames (innermost first) and sets *@id. With
 * @keep_suffix inline frames keep "_[i]" in their names: the location's last
 * frame is inlined into the next location, which pprof's Lines cannot say.
 */
static int add_location(struct pb_tables *t, uint64_t address, uint64_t mapping_id,
			const struct ember_frame *const *frames, uint32_t nr, bool keep_suffix,
			uint64_t *id)
{
	PbLocation loc = PERFTOOLS__PROFILES__LOCATION__INIT;
	uint32_t i;

	if (ember_grow((void **)&t->locations, &t->cap_locations, t->nr_locations + 1,
		       sizeof(*t->locations)) ||
	    ember_grow((void **)&t->line_first, &t->cap_line_first, t->nr_locations + 1,
		       sizeof(*t->line_first)) ||
	    ember_grow((void **)&t->lines, &t->cap_lines, t->nr_lines + nr, sizeof(*t->lines)))
		return -ENOMEM;
	t->line_first[t->nr_locations] = t->nr_lines;
	for (i = 0; i < nr; i++) {
		PbLine line = PERFTOOLS__PROFILES__LINE__INIT;
		const char *suffix = "";

		if (keep_suffix && (frames[i]->flags & EMBER_FRAME_INLINE))
			suffix = frame_suffix(EMBER_FRAME_INLINE);
		line.function_id = function_id(t, frames[i], suffix);
		if (!line.function_id)
			return -ENOMEM;
		line.line = frames[i]->line;
		t->lines[t->nr_lines++] = line;
	}
	loc.id = t->nr_locations + 1;
	loc.mapping_id = mapping_id;
	loc.address = address;
	loc.n_line = nr;
	t->locations[t->nr_locations++] = loc;
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
static int single_location(struct pb_tables *t, uint32_t id, uint64_t *out)
{
	const struct ember_location *l = profile__location(t->p, id);
	const struct ember_frame *stack_frames[64], **frames = stack_frames;
	uint64_t mapping_id = t->mapping_ids[l->mapping_id];
	uint32_t i;
	int err;

	if (t->single[id]) {
		*out = t->single[id];
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
		err = synthetic_mapping(t, l->frames[l->nr_frames - 1].flags, &mapping_id);
	if (!err)
		err = add_location(t, l->address, mapping_id, frames, l->nr_frames,
				   is_inline_link(l), &t->single[id]);
	if (frames != stack_frames)
		free(frames);
	*out = t->single[id];
	return err;
}

struct run_lookup {
	const struct pb_tables *t;
	const uint32_t *ids;
	size_t n;
};

static bool run_eq(const void *ctx, uint32_t index)
{
	const struct run_lookup *l = ctx;
	const struct run *r = &l->t->run_list[index];

	return r->n == l->n && memcmp(&l->t->runs[r->first], l->ids, l->n * sizeof(*l->ids)) == 0;
}

/* pprof location for name-only locations @ids[0..n) (leaf first: inline chain, then outer). */
static int run_location(struct pb_tables *t, const uint32_t *ids, size_t n, uint64_t *out)
{
	struct run_lookup l = {t, ids, n};
	const struct ember_frame **frames = NULL;
	uint64_t h = ember_hash_bytes(ids, n * sizeof(*ids), 0x2a);
	int64_t found = ember_index__find(t->run_index, h, run_eq, &l);
	uint64_t mapping_id;
	size_t i, nr = 0;
	uint32_t j;
	int err;

	if (found >= 0) {
		*out = t->run_list[found].id;
		return 0;
	}
	for (i = 0; i < n; i++)
		nr += profile__location(t->p, ids[i])->nr_frames;
	frames = calloc(nr, sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	nr = 0;
	for (i = 0; i < n; i++) {
		const struct ember_location *loc = profile__location(t->p, ids[i]);

		for (j = 0; j < loc->nr_frames; j++)
			frames[nr++] = &loc->frames[j];
	}
	err = synthetic_mapping(t, frames[nr - 1]->flags, &mapping_id);
	if (!err)
		err = add_location(t, 0, mapping_id, frames, (uint32_t)nr, false, out);
	if (!err)
		err = ember_grow((void **)&t->run_list, &t->cap_run_list, t->nr_run_list + 1,
				 sizeof(*t->run_list));
	if (!err)
		err = ember_grow((void **)&t->runs, &t->cap_runs_ids, t->nr_runs_ids + n,
				 sizeof(*t->runs));
	if (!err)
		err = ember_index__insert(t->run_index, h, (uint32_t)t->nr_run_list);
	if (!err) {
		memcpy(&t->runs[t->nr_runs_ids], ids, n * sizeof(*ids));
		t->run_list[t->nr_run_list++] = (struct run){t->nr_runs_ids, n, *out};
		t->nr_runs_ids += n;
	}
	free(frames);
	return err;
}

int pb_tables_sample_locations(struct pb_tables *t, const struct ember_sample *s, uint64_t **ids,
			       size_t *nr, size_t *cap)
{
	uint32_t i = 0, j;
	int err;

	while (i < s->nr_locations) {
		uint64_t id;

		j = i;
		while (j < s->nr_locations &&
		       is_inline_link(profile__location(t->p, s->locations[j])))
			j++;
		if (j > i && j < s->nr_locations &&
		    is_name_only(profile__location(t->p, s->locations[j]))) {
			err = run_location(t, &s->locations[i], j - i + 1, &id);
			i = j + 1;
		} else {
			err = single_location(t, s->locations[i], &id);
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

/*
 * User mappings first: pprof tools take the first mapping for the main
 * binary ("File:" in go tool pprof), and that is not the kernel.
 */
int pb_tables_add_mappings(struct pb_tables *t)
{
	size_t nr = profile__nr_mappings(t->p), i;
	int kernel, err;

	t->mapping_ids = calloc(nr + 1, sizeof(*t->mapping_ids));
	if (!t->mapping_ids)
		return -ENOMEM;
	for (kernel = 0; kernel < 2; kernel++) {
		for (i = 1; i <= nr; i++) {
			const struct ember_mapping *m = profile__mapping(t->p, (uint32_t)i);

			if (!!(m->flags & EMBER_MAPPING_KERNEL) != kernel)
				continue;
			err = add_mapping(t, m, &t->mapping_ids[i]);
			if (err)
				return err;
			if (kernel && !t->kernel_mapping)
				t->kernel_mapping = t->mapping_ids[i];
		}
	}
	return 0;
}

/* The lines array no longer moves: point the Locations into it. */
int pb_tables_link_lines(struct pb_tables *t)
{
	size_t i, k;

	for (i = 0; i < t->nr_locations; i++) {
		PbLine **lp = calloc(t->locations[i].n_line + 1, sizeof(*lp));

		if (!lp)
			return -ENOMEM;
		for (k = 0; k < t->locations[i].n_line; k++)
			lp[k] = &t->lines[t->line_first[i] + k];
		t->locations[i].line = lp;
	}
	return 0;
}
