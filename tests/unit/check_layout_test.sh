#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The layout check (tools/scripts/check_layout.py): the tree keeps to
# docs/architecture.md (include directions, file sizes), and the check does fail
# on each kind of violation, shown on a small tree of its own.
set -euo pipefail
src=${EMBER_SRC:?}
check="python3 $src/tools/scripts/check_layout.py"

$check "$src"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t"/{support,profile,probes,unwinder,symbolizer,agg,output,tools}
for h in support/support.h profile/profile.h probes/probes.h probes/sampler_abi.h \
	unwinder/unwinder.h symbolizer/symbolizer.h symbolizer/internal.h agg/agg.h \
	output/output.h output/internal.h tools/cli.h; do
	: >"$t/$h"
done
printf '#include "agg/agg.h"\n' >"$t/symbolizer/upward.c"
printf '#include "profile/profile.h"\n#include "symbolizer/internal.h"\n' >"$t/agg/private.c"
printf '#include "../tools/cli.h"\n' >"$t/output/relative.c"
printf '#include "probes/probes.h"\n' >"$t/unwinder/loader.c"
printf '#include "internal.h"\n#include "output/internal.h"\n' >"$t/output/own.c"
printf '#include "agg/agg.h"\n#include "output/output.h"\n#include "cli.h"\n' >"$t/tools/ok.c"
seq 1001 | sed 's|^|// line |' >"$t/output/long.c"
seq 1000 | sed 's|^|// line |' >"$t/output/just_fits.c"

if out=$($check "$t"); then
	echo "FAIL: the check passed a tree with violations:"
	echo "$out"
	exit 1
fi
expect() {
	grep -qF -- "$1" <<<"$out" || { echo "FAIL: no line with '$1' in:"; echo "$out"; exit 1; }
}
expect 'symbolizer/upward.c:1: #include "agg/agg.h": symbolizer may not depend on agg'
expect 'agg/private.c:2: #include "symbolizer/internal.h": symbolizer/internal.h is private to symbolizer'
expect 'output/relative.c:1: #include "../tools/cli.h": a library includes the programs'
expect 'unwinder/loader.c:1: #include "probes/probes.h": probes/probes.h is private to probes'
expect 'output/long.c: 1001 lines, more than 1000'
expect 'check_layout: 19 files, 5 violations'
if grep -qE 'output/own.c|tools/ok.c|agg/private.c:1:|just_fits' <<<"$out"; then
	echo "FAIL: allowed includes reported:"
	echo "$out"
	exit 1
fi
echo "layout ok"
