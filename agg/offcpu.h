/* SPDX-License-Identifier: MIT */
/*
 * Private to agg/: the userspace half of off-CPU time (probes/offcpu.bpf.h).
 * A thread asleep across a drain has its stacks in the generation being
 * drained; they are copied into the active generation before it is cleared.
 */
#ifndef EMBER_AGG_OFFCPU_H
#define EMBER_AGG_OFFCPU_H

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

#endif /* EMBER_AGG_OFFCPU_H */
