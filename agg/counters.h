/* SPDX-License-Identifier: MIT */
/*
 * Private to agg/: the counter names of the sampler's per-CPU statistics
 * (enum ember_stat of probes/sampler_abi.h), as profiles carry them.
 */
#ifndef EMBER_AGG_COUNTERS_H
#define EMBER_AGG_COUNTERS_H

#include <stddef.h>
#include <linux/types.h> /* the __u32 of the ABI header */

#include "probes/sampler_abi.h"

/* The counter name of statistic @i (enum ember_stat); NULL for none. */
const char *ember_sampler_stat_name(size_t i);

#endif /* EMBER_AGG_COUNTERS_H */
