// SPDX-License-Identifier: MIT
/*
 * Benchmark driver for tools/bench/unwind_cost.sh: builds the unwind table of
 * each ELF file named on the command line ITER times with unwind_table__build_fd
 * (unwinder/table.c, libdw CFI) and prints one line per file:
 *   path rows=N bytes=B bpf_bytes=R ms_median=M ms_min=M ms_max=M maxrss_kib=K
 * bytes is unwind_table__bytes (heap held by the built table); bpf_bytes is what
 * the rows take in the kernel's unwind_rows map (8 bytes a row). Build time is
 * wall time of open + build + free, so the page cache is warm after the first
 * build and the median is the steady-state cost. maxrss_kib is the process peak
 * after all builds of this file and idle_rss_kib the peak before the first build
 * (cumulative over files: run one file per process to attribute it).
 * Usage: table_build [-n ITER] FILE...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "unwinder/unwinder.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int bench_file(const char *path, int iter)
{
	struct ember_unwind_table *t = NULL;
	double *ms = calloc(iter, sizeof(*ms));
	size_t rows = 0, bytes = 0;
	struct rusage ru;
	long idle_rss;
	int i, fd, err = 0;

	if (!ms)
		return -ENOMEM;
	getrusage(RUSAGE_SELF, &ru);
	idle_rss = ru.ru_maxrss;
	for (i = 0; i < iter; i++) {
		double t0 = now_ms();

		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			fprintf(stderr, "table_build: %s: %s\n", path, strerror(-err));
			goto out;
		}
		err = unwind_table__build_fd(fd, &t);
		close(fd);
		if (err) {
			fprintf(stderr, "table_build: %s: build failed: %s\n", path,
				strerror(-err));
			goto out;
		}
		rows = unwind_table__nr_rows(t);
		bytes = unwind_table__bytes(t);
		unwind_table__free(t);
		t = NULL;
		ms[i] = now_ms() - t0;
	}
	qsort(ms, iter, sizeof(*ms), cmp_double);
	getrusage(RUSAGE_SELF, &ru);
	printf("%s rows=%zu bytes=%zu bpf_bytes=%zu ms_median=%.2f ms_min=%.2f ms_max=%.2f "
	       "maxrss_kib=%ld idle_rss_kib=%ld\n",
	       path, rows, bytes, rows * 8, ms[iter / 2], ms[0], ms[iter - 1], ru.ru_maxrss,
	       idle_rss);
out:
	free(ms);
	return err;
}

int main(int argc, char **argv)
{
	int iter = 7, i = 1, err = 0;

	if (argc > 2 && strcmp(argv[1], "-n") == 0) {
		iter = atoi(argv[2]);
		i = 3;
	}
	if (iter < 1 || i >= argc) {
		fprintf(stderr, "usage: table_build [-n ITER] FILE...\n");
		return 2;
	}
	for (; i < argc; i++)
		if (bench_file(argv[i], iter))
			err = 1;
	return err;
}
