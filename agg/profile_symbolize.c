// SPDX-License-Identifier: MIT
/*
 * The join of a collected profile with the symbolizer: every location that has
 * an address in a mapping gets its frames from symbolizer__resolve(), and the
 * mapping learns what the profile now carries for it (pprof's has_* flags).
 */
#include <errno.h>

#include "agg/agg.h"
#include "symbolizer/symbolizer.h"

/* Frames of one address, innermost inline first (symbolizer__resolve's bound). */
#define MAX_FRAMES_PER_LOCATION 64

/*
 * pprof's has_functions / has_filenames / has_line_numbers / has_inline_frames:
 * set on a mapping once any of its locations resolved to that much, so they
 * say what this profile really carries.
 */
static uint32_t resolved_flags(const struct ember_frame *frames, uint32_t n)
{
	uint32_t flags = 0, i;

	for (i = 0; i < n; i++) {
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
	return flags;
}

int profile__symbolize(struct ember_profile *p, struct ember_symbolizer *sym)
{
	struct ember_frame frames[MAX_FRAMES_PER_LOCATION];
	size_t i, nr = profile__nr_locations(p);
	int err;

	for (i = 0; i < nr; i++) {
		const struct ember_location *loc = profile__location(p, (uint32_t)i + 1);
		const struct ember_mapping *m = profile__mapping(p, loc->mapping_id);
		struct ember_symbolize_request req = {0};
		uint32_t n = 0;

		if (loc->nr_frames || !loc->address)
			continue;
		if (!m) {
			struct ember_frame unknown = {.function = "[unknown]",
						      .flags = EMBER_FRAME_UNKNOWN};

			err = profile__add_counter(p, "symbolize.no_mapping", 1);
			if (!err)
				err = profile__set_location_frames(p, (uint32_t)i + 1, &unknown, 1);
			if (err)
				return err;
			continue;
		}
		req.pid = m->pid;
		req.path = m->path;
		req.build_id = m->build_id;
		req.map_start = m->start;
		req.map_offset = m->offset;
		req.address = loc->address;
		req.is_kernel = m->flags & EMBER_MAPPING_KERNEL;
		req.is_return = loc->is_return;
		err = symbolizer__resolve(sym, &req, frames, MAX_FRAMES_PER_LOCATION, &n);
		if (err)
			return err;
		if (n == 0) {
			frames[0] = (struct ember_frame){.function = "[unknown]",
							 .flags = EMBER_FRAME_UNKNOWN};
			n = 1;
		}
		err = profile__set_location_frames(p, (uint32_t)i + 1, frames, n);
		if (err)
			return err;
		err = profile__add_mapping_flags(p, loc->mapping_id, resolved_flags(frames, n));
		if (err)
			return err;
	}
	return 0;
}
