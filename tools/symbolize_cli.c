// SPDX-License-Identifier: MIT
/*
 * --debug-dir and --symbolize for every command, and the symbolization of a
 * profile read from a file. A read profile differs from a collected one in two
 * ways that matter here: there is no process to open files through (the
 * mapping's path, build-id, start and file offset are all there is: the
 * symbolizer turns address - start + offset into the file's ELF address), and
 * pprof does not say which addresses are return addresses. ember writes every
 * frame above a stack's leaf as the return address it sampled, so the profile
 * is rebuilt with those locations marked as returns (symbolized at address - 1,
 * as a local symbolization does); an address that is a leaf in one stack and
 * a caller in another becomes two locations, as it was when collected.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "support/support.h"
#include "symbolize_cli.h"

/* Frames of one address, innermost inline first (symbolizer__resolve's bound). */
#define MAX_FRAMES 64

int symbolize_cli_check_dir(const char *dir, char *why, size_t why_size)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		int err = -errno;

		snprintf(why, why_size, "%s", strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, why_size, "not a directory");
		return -ENOTDIR;
	}
	return 0;
}

int symbolize_cli_option(struct symbolize_cli *c, const char *cmd, int id, const char *arg)
{
	char why[128];

	switch (id) {
	case SCLI_DEBUG_DIR:
		if (symbolize_cli_check_dir(arg, why, sizeof(why))) {
			cli_usage_error(cmd, "invalid value for --debug-dir: '%s' (%s)", arg, why);
			return -EMBER_EXIT_USAGE;
		}
		if (ember_grow((void **)&c->debug_dirs, &c->cap_debug_dirs, c->nr_debug_dirs + 1,
			       sizeof(*c->debug_dirs))) {
			fprintf(stderr, "ember: %s: out of memory\n", cmd);
			return -EMBER_EXIT_FAILURE;
		}
		c->debug_dirs[c->nr_debug_dirs++] = arg;
		return 1;
	case SCLI_SYMBOLIZE:
		c->symbolize = true;
		return 1;
	default:
		return 0;
	}
}

void symbolize_cli_fill(const struct symbolize_cli *c, struct ember_symbolizer_opts *o)
{
	o->debug_dirs = c->debug_dirs;
	o->nr_debug_dirs = c->nr_debug_dirs;
}

void symbolize_cli_free(struct symbolize_cli *c)
{
	free(c->debug_dirs);
	memset(c, 0, sizeof(*c));
}

/* An address in a known mapping that no one has symbolized yet. */
static bool unsymbolized(const struct ember_location *l)
{
	return l->address && l->mapping_id && !l->nr_frames;
}

static bool kernel_location(const struct ember_profile *p, const struct ember_location *l)
{
	const struct ember_mapping *m = profile__mapping(p, l->mapping_id);

	return m && (m->flags & EMBER_MAPPING_KERNEL);
}

/* Profile-wide data of @src (metadata, counters, labels, mappings) into @dst. */
static int copy_header(struct ember_profile *dst, const struct ember_profile *src,
		       uint32_t *mapping_ids)
{
	size_t i;
	int err = 0;

	profile__set_time(dst, profile__start_ns(src), profile__duration_ns(src));
	profile__set_frequency(dst, profile__frequency(src));
	profile__set_value_type(dst, profile__value_type(src));
	for (i = 0; i < profile__nr_counters(src) && !err; i++) {
		const char *name;
		uint64_t v;

		profile__counter(src, i, &name, &v);
		err = profile__add_counter(dst, name, v);
	}
	for (i = 0; i < profile__nr_labels(src) && !err; i++) {
		const char *k, *v;

		profile__label(src, i, &k, &v);
		err = profile__set_label(dst, k, v);
	}
	for (i = 1; i <= profile__nr_mappings(src) && !err; i++)
		err = profile__intern_mapping(dst, profile__mapping(src, (uint32_t)i),
					      &mapping_ids[i]);
	return err;
}

/*
 * The location of @dst for location @id of @src seen at a caller position
 * (@caller: above another address of the same kind in its stack); memoized in
 * @memo (two slots per id).
 */
static int copy_location(struct ember_profile *dst, const struct ember_profile *src,
			 const uint32_t *mapping_ids, uint32_t *memo, uint32_t id, bool caller,
			 uint32_t *out)
{
	const struct ember_location *l = profile__location(src, id);
	uint32_t *slot = &memo[2 * (size_t)id + (unsymbolized(l) && caller)];
	int err;

	if (*slot) {
		*out = *slot;
		return 0;
	}
	if (unsymbolized(l)) {
		err = profile__intern_location(dst, mapping_ids[l->mapping_id], 0, l->address,
					       caller, slot);
	} else if (l->address) {
		err = profile__intern_location(dst, mapping_ids[l->mapping_id], 0, l->address,
					       l->is_return, slot);
		if (!err && l->nr_frames)
			err = profile__set_location_frames(dst, *slot, l->frames, l->nr_frames);
	} else {
		err = profile__intern_frames_location(dst, l->frames, l->nr_frames, slot);
	}
	*out = *slot;
	return err;
}

/* @src rebuilt into *@out with callers' unsymbolized addresses marked as returns. */
static int rebuild(const struct ember_profile *src, struct ember_profile **out)
{
	size_t nr_loc = profile__nr_locations(src), i, cap = 0;
	uint32_t *mapping_ids, *memo, *locs = NULL;
	struct ember_profile *dst = NULL;
	int err;

	mapping_ids = calloc(profile__nr_mappings(src) + 1, sizeof(*mapping_ids));
	memo = calloc(2 * (nr_loc + 1), sizeof(*memo));
	err = mapping_ids && memo ? profile__new(&dst) : -ENOMEM;
	if (!err)
		err = copy_header(dst, src, mapping_ids);
	for (i = 0; i < profile__nr_samples(src) && !err; i++) {
		struct ember_sample s;
		const struct ember_process *proc;

		profile__sample(src, i, &s);
		if (ember_grow((void **)&locs, &cap, s.nr_locations + 1, sizeof(*locs))) {
			err = -ENOMEM;
			break;
		}
		for (uint32_t k = 0; k < s.nr_locations && !err; k++) {
			const struct ember_location *l = profile__location(src, s.locations[k]);
			const struct ember_location *prev =
			    k ? profile__location(src, s.locations[k - 1]) : NULL;
			bool caller = prev && prev->address && prev->mapping_id &&
				      kernel_location(src, prev) == kernel_location(src, l);

			err = copy_location(dst, src, mapping_ids, memo, s.locations[k], caller,
					    &locs[k]);
		}
		proc = s.pid ? profile__process(src, s.pid) : NULL;
		if (!err && proc && !profile__process(dst, s.pid))
			err = profile__set_process(dst, proc);
		s.locations = locs;
		if (!err)
			err = profile__add_sample(dst, &s);
	}
	free(locs);
	free(memo);
	free(mapping_ids);
	if (err) {
		profile__free(dst);
		return err;
	}
	*out = dst;
	return 0;
}

struct tally {
	uint64_t todo, resolved, kernel;
};

static int resolve_all(struct ember_profile *p, struct ember_symbolizer *sym, struct tally *t)
{
	struct ember_frame frames[MAX_FRAMES];
	int err = 0;

	for (size_t id = 1; id <= profile__nr_locations(p) && !err; id++) {
		const struct ember_location *l = profile__location(p, (uint32_t)id);
		const struct ember_mapping *m;
		struct ember_symbolize_request req;
		uint32_t n = 0, mapping_id, i;

		if (!unsymbolized(l))
			continue;
		m = profile__mapping(p, l->mapping_id);
		if (m->flags & EMBER_MAPPING_KERNEL) {
			t->kernel++;
			continue;
		}
		t->todo++;
		req = (struct ember_symbolize_request){
		    .path = m->path ? m->path : "",
		    .build_id = m->build_id,
		    .map_start = m->start,
		    .map_offset = m->offset,
		    .address = l->address,
		    .is_return = l->is_return,
		};
		mapping_id = l->mapping_id;
		err = symbolizer__resolve(sym, &req, frames, MAX_FRAMES, &n);
		for (i = 0; i < n && (frames[i].flags & EMBER_FRAME_UNKNOWN); i++)
			;
		if (err || i == n)
			continue; /* nothing but placeholders: keep the bare address */
		err = profile__set_location_frames(p, (uint32_t)id, frames, n);
		if (!err)
			err = profile__add_mapping_flags_of(p, mapping_id, frames, n);
		t->resolved++;
	}
	return err;
}

int symbolize_cli_profile(const struct symbolize_cli *c, const char *cmd, struct ember_profile **p)
{
	struct ember_symbolizer_opts so = {.sz = sizeof(so), .no_kernel = true};
	struct ember_symbolizer *sym = NULL;
	struct ember_profile *q = NULL;
	struct tally t = {0};
	int err;

	if (!c->symbolize) {
		if (c->nr_debug_dirs)
			fprintf(stderr,
				"ember: %s: --debug-dir has no effect without --symbolize\n", cmd);
		return EMBER_EXIT_OK;
	}
	symbolize_cli_fill(c, &so);
	err = symbolizer__new(&so, &sym);
	if (!err)
		err = rebuild(*p, &q);
	if (!err)
		err = resolve_all(q, sym, &t);
	if (!err && t.todo > t.resolved)
		err = profile__add_counter(q, "symbolize.unresolved", t.todo - t.resolved);
	symbolizer__free(sym);
	if (err) {
		fprintf(stderr, "ember: %s: symbolizing: %s\n", cmd, strerror(-err));
		profile__free(q);
		return EMBER_EXIT_FAILURE;
	}
	profile__free(*p);
	*p = q;
	fprintf(stderr,
		"ember: %s: symbolized %" PRIu64 " of %" PRIu64 " locations (%" PRIu64
		" unresolved, %" PRIu64 " kernel left alone)\n",
		cmd, t.resolved, t.todo, t.todo - t.resolved, t.kernel);
	return EMBER_EXIT_OK;
}
