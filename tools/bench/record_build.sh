#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark for issue 12, acceptance item 4: `ember record -- make -j2` of 40 small generated C
# files. Every compiler process (gcc, cc1, as, collect2, ld) is new, so the figure shows how
# many samples come before a process has its unwind tables.
#
# Runs the build twice under `ember record -v` with a fresh unwind table cache: "cold" (every
# table built while the build runs) and "warm" (the same cache again: tables loaded from disk;
# what a second recording on a host sees), and prints for all samples of each run the
# fractions truncated (target <= 2%) and reaching a root (target >= 97%), with
# tools/bench/folded_fractions.py, plus the unwind counters.
#
# Needs root. Environment: EMBER (default build/ember), FILES=40, FREQ=999 (Hz), KEEP_TMP=1.
set -euo pipefail

EMBER=${EMBER:-build/ember}
FILES=${FILES:-40}
FREQ=${FREQ:-999}
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
[ -z "${KEEP_TMP:-}" ] || echo "keeping $tmp"

mkdir -p "$tmp/src"
for i in $(seq "$FILES"); do
	cat >"$tmp/src/f$i.c" <<C
#include <stdio.h>
#include <string.h>
struct item$i { int key; char name[32]; double weight; };
static int cmp$i(const void *a, const void *b)
{
	return ((const struct item$i *)a)->key - ((const struct item$i *)b)->key;
}
int f$i(int n)
{
	struct item$i items[64];
	int i, sum = 0;
	for (i = 0; i < 64; i++) {
		items[i].key = (i * 7919 + n) % 101;
		snprintf(items[i].name, sizeof(items[i].name), "item-%d-%d", $i, i);
		items[i].weight = i * 0.5;
	}
	qsort(items, 64, sizeof(items[0]), cmp$i);
	for (i = 0; i < 64; i++)
		sum += items[i].key + (int)strlen(items[i].name);
	return sum;
}
C
done
{
	echo "OBJS = $(seq -f 'f%g.o' -s ' ' "$FILES")"
	echo "all: \$(OBJS)"
	printf '%%.o: %%.c\n\tgcc -O2 -g -c $< -o $@\n'
	echo "clean:"
	printf '\trm -f $(OBJS)\n'
} >"$tmp/src/Makefile"

for run in cold warm; do
	make -s -C "$tmp/src" clean
	"$EMBER" record -F "$FREQ" -v --unwind-cache "$tmp/cache" -o "$tmp/$run.folded" -- \
		make -s -C "$tmp/src" -j2 2>"$tmp/$run.log"
	echo "== $run cache"
	grep -E "sampler.samples:|unwind\.(process_without|stopped|tables.built|tables.from)" \
		"$tmp/$run.log" | sed 's/^ember: *//'
	python3 "$here/folded_fractions.py" "$tmp/$run.folded"
done
