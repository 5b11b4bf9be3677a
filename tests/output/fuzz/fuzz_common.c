// SPDX-License-Identifier: MIT
/* Writers run over whatever a fuzzed reader produced (see fuzz.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

static void check(int err, const char *what)
{
	if (err && err != -ENOMEM) {
		fprintf(stderr, "%s failed: %d\n", what, err);
		abort();
	}
}

void fuzz_write_all(const struct ember_profile *p)
{
	struct ember_profile *q = NULL;
	FILE *null = fopen("/dev/null", "w");
	uint8_t *pb = NULL;
	size_t len = 0;

	if (!null)
		abort();
	check(folded__write(p, NULL, null), "folded__write");
	check(svg__write(p, NULL, null), "svg__write");
	check(speedscope__write(p, null), "speedscope__write");
	check(report__write(p, NULL, null), "report__write");
	check(pprof__encode(p, &pb, &len), "pprof__encode");
	if (pb && profile__new(&q) == 0) {
		check(pprof__read(pb, len, NULL, q), "pprof__read of our own output");
		if (profile__total(q) > profile__total(p))
			abort();
	}
	profile__free(q);
	free(pb);
	fclose(null);
}
