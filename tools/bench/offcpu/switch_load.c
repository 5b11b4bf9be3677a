// SPDX-License-Identifier: MIT
/*
 * Context-switch load for tools/bench/offcpu_overhead.sh. Two threads pass a
 * byte back and forth over two pipes, each switch a block in read(2); with
 * GAP_US > 0 the first thread sleeps that many microseconds per round trip,
 * which sets the rate. Usage: switch_load GAP_US SECONDS
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int ab[2], ba[2];
static volatile int done;

static void *echo(void *arg)
{
	char c;

	(void)arg;
	while (read(ab[0], &c, 1) == 1 && c)
		if (write(ba[1], &c, 1) != 1)
			break;
	return NULL;
}

int main(int argc, char **argv)
{
	long gap_us = argc > 1 ? atol(argv[1]) : 0;
	double seconds = argc > 2 ? atof(argv[2]) : 10;
	struct timespec gap = {0, gap_us * 1000}, t0, t;
	pthread_t th;
	char c = 1;

	if (pipe(ab) || pipe(ba))
		return 1;
	pthread_create(&th, NULL, echo, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
			return 1;
		if (gap_us)
			nanosleep(&gap, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
			break;
	}
	c = 0;
	if (write(ab[1], &c, 1) != 1)
		return 1;
	pthread_join(th, NULL);
	return 0;
}
