// SPDX-License-Identifier: MIT
/*
 * What the counters of a collected profile mean, defined once for every
 * command and output: which "lost.*" counters are samples missing from the
 * profile, which are stacks missing from samples that are in it, and which
 * are not samples at all. Also folds the symbolizer's counters into a
 * profile, as a whole (one symbolizer per profile) or as the growth since the
 * previous profile (one symbolizer for a sequence of windows). And the names
 * the sampler's statistics (probes/sampler_abi.h, enum ember_stat) go by.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agg/agg.h"
#include "counters.h"
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

/* ---- the sampler's statistics ------------------------------------------- */

_Static_assert(EMBER_STAT__COUNT == 30, "every sampler stat needs a name below");

static const char *const stat_names[EMBER_STAT__COUNT] = {
    [EMBER_STAT_SAMPLES] = "sampler.samples",
    [EMBER_STAT_LOST_COUNTS_FULL] = "lost.counts_map_full",
    [EMBER_STAT_KSTACK_MAP_FULL] = "lost.kernel_stack.stack_map_full",
    [EMBER_STAT_USTACK_MAP_FULL] = "lost.user_stack.stack_map_full",
    [EMBER_STAT_KSTACK_READ_ERROR] = "lost.kernel_stack.read_error",
    [EMBER_STAT_USTACK_READ_ERROR] = "lost.user_stack.read_error",
    [EMBER_STAT_KSTACK_TRUNCATED] = "truncated.kernel_stack",
    [EMBER_STAT_USTACK_TRUNCATED] = "truncated.user_stack",
    [EMBER_STAT_EVENTS_LOST] = "lost.process_events",
    [EMBER_STAT_TARGETS_FULL] = "lost.children_not_followed",
    [EMBER_STAT_GENERATION_RETRY] = "sampler.generation_retries",
    [EMBER_STAT_UNWIND_NO_PROC] = "unwind.process_without_tables",
    [EMBER_STAT_UNWIND_FP_FRAMES] = "unwind.frames.frame_pointer",
    [EMBER_STAT_UNWIND_TABLE_FRAMES] = "unwind.frames.table",
    [EMBER_STAT_UNWIND_UNSUPPORTED] = "unwind.stopped.unsupported_rule",
    [EMBER_STAT_UNWIND_READ_FAULT] = "unwind.stopped.read_fault",
    [EMBER_STAT_UNWIND_BAD_FRAME] = "unwind.stopped.bad_frame",
    [EMBER_STAT_UNWIND_NO_MAPPING] = "unwind.stopped.no_mapping",
    [EMBER_STAT_STACK_HASH_COLLISION] = "sampler.stack_hash_collisions",
    [EMBER_STAT_STACK_NO_MEMORY] = "lost.stack.kernel_out_of_memory",
    [EMBER_STAT_STACK_COLLISION_LOST] = "lost.stack.hash_collision",
    [EMBER_STAT_USTACK_EXITING] = "sampler.no_user_stack.exiting",
    [EMBER_STAT_USTACK_IN_EXEC] = "sampler.no_user_stack.in_execve",
    [EMBER_STAT_OFFCPU_SWITCHES] = "off_cpu.switches",
    [EMBER_STAT_OFFCPU_INTERVALS] = "off_cpu.intervals",
    [EMBER_STAT_OFFCPU_SHORT] = "off_cpu.below_min_block",
    [EMBER_STAT_OFFCPU_THREADS_FULL] = "lost.off_cpu.threads_map_full",
    [EMBER_STAT_OFFCPU_LOST] = "lost.off_cpu.counts_map_full",
    [EMBER_STAT_OFFCPU_LOST_NS] = "lost.off_cpu.counts_map_full_ns",
    [EMBER_STAT_OFFCPU_STACK_EXPIRED] = "lost.stack.off_cpu_expired",
};

const char *ember_sampler_stat_name(size_t i)
{
	return i < EMBER_STAT__COUNT ? stat_names[i] : NULL;
}
