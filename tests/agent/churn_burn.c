// SPDX-License-Identifier: MIT
/*
 * Fixture for the agent's churn test: a short-lived process that burns a fixed
 * amount of CPU time (not wall time, so a loaded machine does not change how
 * much it is sampled) in burn() and exits. Usage: churn_burn [MILLISECONDS]
 * (CPU time, default 30).
 */
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

/* Not a leaf, so a frame-pointer walk keeps burn()'s caller (gcc 12 leaves leaves frameless). */
__attribute__((noinline)) void publish(unsigned long x)
{
	sink = x;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void burn(double cpu_ms)
{
	struct timespec ts;
	unsigned long x = sink, i;

	do {
		for (i = 0; i < 20000ul; i++)
			x = x * 6364136223846793005ul + 1442695040888963407ul;
		publish(x);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	} while (ts.tv_sec * 1e3 + ts.tv_nsec / 1e6 < cpu_ms);
	__asm__ volatile("" ::: "memory"); /* no tail call: keep this frame */
}

int main(int argc, char **argv)
{
	burn(argc > 1 ? atof(argv[1]) : 30);
	return 0;
}
