// SPDX-License-Identifier: MIT
/*
 * The fixed CPU workload of tools/bench/record_overhead.sh: W worker processes
 * (one per CPU by default, since sampling overhead is paid per CPU), each
 * running exactly N iterations of a dependent multiply/xor-shift chain at the
 * bottom of a DEPTH-deep call chain. The amount of work never depends on time,
 * so a profiler's overhead shows up as a longer wall time.
 *
 * Built with frame pointers and without sibling calls, so a frame-pointer
 * unwinder (ember, perf -g, bpftrace ustack) walks about DEPTH + 3 user frames
 * per sample: the cost of a realistic, not a one-frame, user stack.
 *
 * Usage: workload WORKERS ITERATIONS DEPTH
 * Prints one line: "wall_ns=... cpu_ns=...", where wall_ns is
 * CLOCK_MONOTONIC from before the first fork to after the last worker exited
 * and cpu_ns is the workers' user + system time (ns).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define CHUNK 1000000ull /* iterations per descent to the leaf */

static volatile uint64_t sink; /* the result is stored: the work cannot be elided */

static uint64_t __attribute__((noinline)) spin(uint64_t x, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		x ^= x >> 29;
	}
	return x;
}

static uint64_t __attribute__((noinline)) descend(int depth, uint64_t x, uint64_t n)
{
	if (depth <= 0)
		return spin(x, n);
	/* Not a tail call: the xor keeps this frame on the stack. */
	return descend(depth - 1, x, n) ^ (uint64_t)depth;
}

static uint64_t __attribute__((noinline)) work(uint64_t iterations, int depth, uint64_t seed)
{
	uint64_t x = seed, done = 0;

	while (done < iterations) {
		uint64_t n = iterations - done < CHUNK ? iterations - done : CHUNK;

		x = descend(depth, x, n);
		done += n;
	}
	return x;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	uint64_t start, wall, cpu, iterations;
	int workers, depth, i, status, failed = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: %s WORKERS ITERATIONS DEPTH\n", argv[0]);
		return 2;
	}
	workers = atoi(argv[1]);
	iterations = strtoull(argv[2], NULL, 10);
	depth = atoi(argv[3]);
	if (workers < 1 || iterations == 0 || depth < 0 || depth > 100) {
		fprintf(stderr, "workload: bad arguments\n");
		return 2;
	}

	start = now_ns();
	for (i = 0; i < workers; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "workload: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0) {
			sink = work(iterations, depth, 0x9e3779b97f4a7c15ull + (uint64_t)i);
			_exit(0);
		}
	}
	for (i = 0; i < workers; i++) {
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	wall = now_ns() - start;
	getrusage(RUSAGE_CHILDREN, &ru);
	cpu =
	    (uint64_t)ru.ru_utime.tv_sec * 1000000000ull + (uint64_t)ru.ru_utime.tv_usec * 1000ull +
	    (uint64_t)ru.ru_stime.tv_sec * 1000000000ull + (uint64_t)ru.ru_stime.tv_usec * 1000ull;
	printf("wall_ns=%llu cpu_ns=%llu\n", (unsigned long long)wall, (unsigned long long)cpu);
	return failed;
}
