/* SPDX-License-Identifier: MIT */
/*
 * Private to agg/: the userspace half of off-CPU time (probes/offcpu.bpf.h).
 * A thread asleep across a drain has its stacks in the generation being
 * drained; they are copied into the active generation before it is cleared.
 */
#ifndef EMBER_AGG_OFFCPU_H
#define EMBER_AGG_OFFCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ember_probe;
struct ember_stack;

/*
 * Copies the stacks of every thread off the CPU now from generation @old's
 * stacks maps into generation @old ^ 1's (same keys), so its switch-in still
 * finds them. Call after the flip has quiesced @old and before its stacks are
 * cleared. @buf holds one stack (scratch). Returns the number of stacks that
 * could not be copied (the new generation's map full), or a negative errno.
 */
int offcpu_keep_sleepers(struct ember_probe *probe, int old, struct ember_stack *buf);

/*
 * At the end of a recording, with the sched_switch program detached: counts
 * every thread still off the CPU from its switch-out to @end_ns
 * (CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns) into generation @gen's
 * counts map, as its switch-in would have, so the next drain has them: a
 * thread blocked for the whole recording is in the profile, and --wall adds
 * up. The kernel stack is the one stored at the switch-out (sched_frames), or
 * none: it is walked at the switch-in. Intervals under @min_block_ns are left
 * out. Returns the number of intervals added, or a negative errno.
 */
int offcpu_sweep(struct ember_probe *probe, int gen, uint64_t end_ns, uint64_t min_block_ns,
		 bool sched_frames);

#endif /* EMBER_AGG_OFFCPU_H */
