#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark of `ember query` over a long history: 24 h of 10 s windows (8,640
# pprof files, tools/bench/gen_windows.py: 400 distinct stacks over 8 processes,
# each window seeing ~70% of them, ~8 KB per file) ending now; then the wall
# time and peak RSS of queries over the last 1 h and the whole 24 h, cold (no
# DIR/.ember-index) and warm (index present). Figures: docs/performance.md.
# Usage: tools/bench/query_history.sh [BUILD_DIR] (default build); WORK=dir to
# keep the windows (default a temporary directory, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
EMBER=$PWD/$BUILD/ember
WORK=${WORK:-}
keep=1
if [ -z "$WORK" ]; then
	WORK=$(mktemp -d)
	keep=0
fi
trap '[ $keep = 1 ] || rm -rf "$WORK"' EXIT
D=$WORK/windows
COUNT=${COUNT:-8640}
if [ "$(ls "$D" 2>/dev/null | grep -c '^ember-' || true)" != "$COUNT" ]; then
	rm -rf "$D"
	now=$(date +%s)
	start=$((now - COUNT * 10))
	t0=$(date +%s.%N)
	python3 tools/bench/gen_windows.py "$D" --start "$start" --count "$COUNT" --stacks 400 \
		--procs 8 >/dev/null
	echo "generated $COUNT windows in $(echo "$(date +%s.%N) - $t0" | bc) s:" \
		"$(du -sh "$D" | cut -f1), $(($(du -sb "$D" | cut -f1) / COUNT)) bytes per window"
fi
# The windows end at generation time: ranges relative to it, not to now.
last=$(ls "$D" | grep '^ember-' | tail -1 | sed 's/^ember-\([0-9]\{8\}T[0-9]\{6\}Z\).*/\1/')
end=$(date -u -d "${last:0:8} ${last:9:2}:${last:11:2}:${last:13:2}" +%s)
end=$((end + 10))
from1h=$(date -u -d "@$((end - 3600))" +%Y-%m-%dT%H:%M:%SZ)
from24h=$(date -u -d "@$((end - 86400))" +%Y-%m-%dT%H:%M:%SZ)

measure() { # NAME ARGS...: one timed query
	local name=$1
	shift
	/usr/bin/time -v "$EMBER" query "$D" "$@" -o "$WORK/out.pb.gz" 2>"$WORK/time.txt"
	local wall rss cpu
	wall=$(grep 'Elapsed (wall clock)' "$WORK/time.txt" | awk '{print $NF}')
	rss=$(grep 'Maximum resident' "$WORK/time.txt" | awk '{print $NF}')
	# CPU time (user + system) says more than wall time on a loaded machine.
	cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$WORK/time.txt")
	printf '%-10s wall %8s  cpu %6s s  peak RSS %6.1f MB  output %s bytes\n' "$name" "$wall" \
		"$cpu" "$(echo "$rss / 1024" | bc -l)" "$(stat -c %s "$WORK/out.pb.gz")"
}

echo "ember query over $COUNT windows ($(nproc) CPUs; $(uptime | sed 's/.*load/load/')):"
rm -f "$D/.ember-index"
measure "1h cold" --from "$from1h"
measure "1h warm" --from "$from1h"
rm -f "$D/.ember-index"
measure "24h cold" --from "$from24h"
measure "24h warm" --from "$from24h"
echo "index: $(stat -c %s "$D/.ember-index") bytes"
# A label query the index answers without decoding windows that lack the label.
measure "24h where" --from "$from24h" --where process_name=proc3
