// SPDX-License-Identifier: MIT
/*
 * Clocks in nanoseconds: CLOCK_MONOTONIC for durations (it never steps back),
 * CLOCK_REALTIME for wall-clock times and the edges of a profile.
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

uint64_t ember_wall_span_ns(uint64_t start_real, uint64_t end_real, uint64_t mono_ns)
{
	return end_real >= start_real ? end_real - start_real : mono_ns;
}
