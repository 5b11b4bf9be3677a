#!/bin/bash
# SPDX-License-Identifier: MIT
# Output benchmark: a generated folded profile of 200k unique stacks converted
# to an SVG flamegraph and to pprof, each timed (wall seconds) with its peak
# RSS (GNU time). Results go to docs/performance.md, section "Outputs".
#   tools/bench/output_bench.sh [build/ember] [stacks] [runs]
set -euo pipefail
EMBER=${1:-build/ember}
STACKS=${2:-200000}
RUNS=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

python3 "$here/gen_folded.py" "$STACKS" >"$T/stacks.folded"
echo "input: $(wc -l <"$T/stacks.folded") unique stacks, $(du -h "$T/stacks.folded" | cut -f1)," \
	"$(awk -F';' '{n += NF} END {printf "%.1f", n / NR}' "$T/stacks.folded") frames/stack"

measure() {
	local name=$1
	shift
	local best_wall="" best_rss=""
	for i in $(seq "$RUNS"); do
		/usr/bin/time -f "%e %M" -o "$T/time" "$@" >/dev/null
		read -r wall rss <"$T/time"
		if [ -z "$best_wall" ] || awk "BEGIN {exit !($wall < $best_wall)}"; then
			best_wall=$wall
		fi
		if [ -z "$best_rss" ] || [ "$rss" -gt "$best_rss" ]; then
			best_rss=$rss
		fi
		all="${all:-} $wall"
	done
	printf '%-24s best %6.2f s of %d runs (all:%s), peak RSS %d MiB\n' "$name" "$best_wall" \
		"$RUNS" "$all" $((best_rss / 1024))
	all=""
}

measure "folded -> SVG" "$EMBER" convert "$T/stacks.folded" -o "$T/out.svg"
echo "  output $(du -h "$T/out.svg" | cut -f1)"
measure "folded -> pprof" "$EMBER" convert "$T/stacks.folded" -o "$T/out.pb.gz"
echo "  output $(du -h "$T/out.pb.gz" | cut -f1)"
measure "pprof -> folded" "$EMBER" convert "$T/out.pb.gz" -o "$T/back.folded"
cmp -s <(sort "$T/stacks.folded") "$T/back.folded" && echo "  round trip exact"
