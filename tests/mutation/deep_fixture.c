// SPDX-License-Identifier: MIT
/*
 * Fixture of unwind_guard_deep_stacks: recurse() calls itself DEPTH times, then
 * spin_at_depth() burns UNITS fixed units of CPU work (about 5 ms each here).
 * Work, not wall time, so the sample count does not depend on how busy the
 * machine is. Usage: deep_fixture DEPTH UNITS. About DEPTH + 5 frames: main,
 * recurse x (DEPTH + 1), spin_at_depth and libc's start.
 */
#include <stdlib.h>

#define UNIT_ITERATIONS 4000000ul

static volatile unsigned long sink;

__attribute__((noinline)) void spin_at_depth(unsigned long units)
{
	unsigned long i, x = sink;

	for (i = 0; i < units * UNIT_ITERATIONS; i++)
		x = x * 6364136223846793005ul + 1442695040888963407ul;
	sink = x;
}

__attribute__((noinline)) void recurse(int depth, unsigned long units)
{
	if (depth <= 0)
		spin_at_depth(units);
	else
		recurse(depth - 1, units);
	__asm__ volatile("" ::: "memory"); /* no tail call: one frame per level */
}

int main(int argc, char **argv)
{
	recurse(argc > 1 ? atoi(argv[1]) : 100, argc > 2 ? strtoul(argv[2], NULL, 10) : 100);
	return 0;
}
