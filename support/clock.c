// SPDX-License-Identifier: MIT
/*
 * Clocks in nanoseconds: CLOCK_MONOTONIC for durations (it never steps back),
 * CLOCK_REALTIME for wall-clock times.
 */
#include <time.h>

#include "support.h"

uint64_t ember_now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ember_now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
