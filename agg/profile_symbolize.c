// SPDX-License-Identifier: MIT
/*
 * The join of a collected profile with the symbolizer: every location that has
 * an address in a mapping gets its frames from symbolizer__resolve(), and the
 * mapping learns what the profile now carries for it (pprof's has_* flags).
 *
 * Locations are resolved file by file (build-id, path, then address), not in
 * the order the stacks met them: each file is read once per profile and is done
 * with before the next, so the symbolizer's memory budget is exceeded by at
 * most the file in use, and a file the budget dropped is not read again for
 * every stack that comes back to it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agg/agg.h"
#include "symbolizer/symbolizer.h"

/* Frames of one address, innermost inline first (symbolizer__resolve's bound). */
#define MAX_FRAMES_PER_LOCATION 64

/* A location to resolve, with the keys that order it by file. */
struct pending {
	const char *build_id; /* "" when unknown */
	const char *path;
	uint64_t address;
	uint32_t id;
};

static int cmp_pending(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	int c = strcmp(x->build_id, y->build_id);

	if (!c)
		c = strcmp(x->path, y->path);
	if (!c)
		c = x->address < y->address ? -1 : x->address > y->address;
	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* Placeholder for a location whose mapping is unknown. */
static int resolve_unmapped(struct ember_profile *p, uint32_t id)
{
	struct ember_frame unknown = {.function = "[unknown]", .flags = EMBER_FRAME_UNKNOWN};
	int err = profile__add_counter(p, "symbolize.no_mapping", 1);

	return err ? err : profile__set_location_frames(p, id, &unknown, 1);
}

static int resolve_location(struct ember_profile *p, struct ember_symbolizer *sym, uint32_t id)
{
	struct ember_frame frames[MAX_FRAMES_PER_LOCATION];
	const struct ember_location *loc = profile__location(p, id);
	const struct ember_mapping *m = profile__mapping(p, loc->mapping_id);
	struct ember_symbolize_request req = {
	    .pid = m->pid,
	    .path = m->path,
	    .build_id = m->build_id,
	    .map_start = m->start,
	    .map_offset = m->offset,
	    .address = loc->address,
	    .is_kernel = m->flags & EMBER_MAPPING_KERNEL,
	    .is_return = loc->is_return,
	};
	uint32_t n = 0, mapping_id = loc->mapping_id;
	int err;

	err = symbolizer__resolve(sym, &req, frames, MAX_FRAMES_PER_LOCATION, &n);
	if (err)
		return err;
	if (n == 0) {
		frames[0] =
		    (struct ember_frame){.function = "[unknown]", .flags = EMBER_FRAME_UNKNOWN};
		n = 1;
	}
	err = profile__set_location_frames(p, id, frames, n);
	if (err)
		return err;
	return profile__add_mapping_flags_of(p, mapping_id, frames, n);
}

int profile__symbolize(struct ember_profile *p, struct ember_symbolizer *sym)
{
	size_t i, nr = profile__nr_locations(p), nr_pending = 0;
	struct pending *todo;
	int err = 0;

	todo = calloc(nr ? nr : 1, sizeof(*todo));
	if (!todo)
		return -ENOMEM;
	for (i = 0; i < nr && !err; i++) {
		uint32_t id = (uint32_t)i + 1;
		const struct ember_location *loc = profile__location(p, id);
		const struct ember_mapping *m;

		if (loc->nr_frames || !loc->address)
			continue;
		m = profile__mapping(p, loc->mapping_id);
		if (!m) {
			err = resolve_unmapped(p, id);
			continue;
		}
		todo[nr_pending++] = (struct pending){
		    .build_id = m->build_id ? m->build_id : "",
		    .path = m->path ? m->path : "",
		    .address = loc->address,
		    .id = id,
		};
	}
	if (!err && nr_pending > 1)
		qsort(todo, nr_pending, sizeof(*todo), cmp_pending);
	for (i = 0; i < nr_pending && !err; i++)
		err = resolve_location(p, sym, todo[i].id);
	free(todo);
	/* Nothing is in use between profiles: what the budget let stay for the
	 * last lookups goes too, so the symbolizer waits within its budget. */
	if (!err)
		symbolizer__trim(sym);
	return err;
}
