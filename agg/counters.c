// SPDX-License-Identifier: MIT
/*
 * What the counters of a collected profile mean, defined once for every
 * command and output: which "lost.*" counters are samples missing from the
 * profile, which are stacks missing from samples that are in it, and which
 * are not samples at all. Also folds the symbolizer's counters into a
 * profile, as a whole (one symbolizer per profile) or as the growth since the
 * previous profile (one symbolizer for a sequence of windows).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agg/agg.h"
#include "support/support.h"
#include "symbolizer/symbolizer.h"

/*
 * The taxonomy, first match wins. Read with probes/sampler.bpf.c: sampler.samples
 * is bumped for every sample that passed the filter; a sample whose count-map
 * insert fails is then gone (lost.counts_map_full), while a stack that cannot be
 * stored leaves its sample counted under a marker frame. Process events,
 * side-band records and children not followed are bookkeeping of the process
 * tracker (agg/collector.c, agg/sideband.c), not samples.
 */
static const struct {
	const char *name;
	bool prefix; /* @name is a prefix of the counters it covers */
	enum ember_counter_kind kind;
} taxonomy[] = {
    {"lost.counts_map_full", false, EMBER_COUNTER_LOST_SAMPLES},
    {"lost.kernel_stack.", true, EMBER_COUNTER_LOST_STACKS},
    {"lost.user_stack.", true, EMBER_COUNTER_LOST_STACKS},
    {"lost.stack.", true, EMBER_COUNTER_LOST_STACKS},
    {"lost.", true, EMBER_COUNTER_LOST_EVENTS},
};

enum ember_counter_kind ember_counter_kind(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(taxonomy) / sizeof(taxonomy[0]); i++) {
		if (taxonomy[i].prefix
			? strncmp(name, taxonomy[i].name, strlen(taxonomy[i].name)) == 0
			: strcmp(name, taxonomy[i].name) == 0)
			return taxonomy[i].kind;
	}
	return EMBER_COUNTER_OTHER;
}

uint64_t ember_lost_samples(const struct ember_profile *p)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < profile__nr_counters(p); i++) {
		const char *name;
		uint64_t v;

		profile__counter(p, i, &name, &v);
		if (ember_counter_kind(name) == EMBER_COUNTER_LOST_SAMPLES)
			sum += v;
	}
	return sum;
}

struct ember_symbolizer_baseline {
	struct {
		const char *name; /* the symbolizer's string: valid while it lives */
		uint64_t value;
	} * prev;
	size_t nr, cap;
};

int symbolizer_baseline__new(struct ember_symbolizer_baseline **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void symbolizer_baseline__free(struct ember_symbolizer_baseline *b)
{
	if (!b)
		return;
	free(b->prev);
	free(b);
}

void symbolizer_baseline__reset(struct ember_symbolizer_baseline *b)
{
	b->nr = 0;
}

/* The slot of counter @name in @b, added with value 0 when new. NULL on -ENOMEM. */
static uint64_t *baseline_slot(struct ember_symbolizer_baseline *b, const char *name)
{
	size_t k;

	for (k = 0; k < b->nr; k++)
		if (strcmp(b->prev[k].name, name) == 0)
			return &b->prev[k].value;
	if (ember_grow((void **)&b->prev, &b->cap, k + 1, sizeof(*b->prev)))
		return NULL;
	b->prev[k].name = name;
	b->prev[k].value = 0;
	b->nr++;
	return &b->prev[k].value;
}

int ember_add_symbolizer_counters(struct ember_profile *p, const struct ember_symbolizer *sym,
				  struct ember_symbolizer_baseline *since)
{
	size_t i;

	for (i = 0; i < symbolizer__nr_counters(sym); i++) {
		const char *name;
		uint64_t v, prev, *slot;
		int err;

		symbolizer__counter(sym, i, &name, &v);
		if (!since) {
			err = profile__add_counter(p, name, v);
			if (err)
				return err;
			continue;
		}
		slot = baseline_slot(since, name);
		if (!slot)
			return -ENOMEM;
		prev = *slot;
		*slot = v;
		if (v > prev) {
			err = profile__add_counter(p, name, v - prev);
			if (err)
				return err;
		}
	}
	/* A level, not a count: what the symbolizer holds after this profile. */
	return profile__add_counter(p, "symbolize.bytes_held", symbolizer__bytes(sym));
}
