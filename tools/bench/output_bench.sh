#!/bin/bash
# SPDX-License-Identifier: MIT
# Output benchmark: a generated folded profile of 200k unique stacks converted
# to an SVG flamegraph and to pprof, each timed (wall and CPU seconds, best of
# RUNS) with its peak RSS (GNU time). Results go to docs/performance.md,
# section "Outputs". CPU time (user + sys) is the figure to compare when other
# work shares the machine; wall time equals it on an idle one.
#   tools/bench/output_bench.sh [build/ember] [stacks] [runs] [program|uniform]
# "program" stacks share prefixes as a real call graph's do; "uniform" ones
# diverge after a few frames, the worst case (see gen_folded.py).
set -euo pipefail
EMBER=${1:-build/ember}
STACKS=${2:-200000}
RUNS=${3:-5}
SHAPE=${4:-program}
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

python3 "$here/gen_folded.py" "$STACKS" "$SHAPE" >"$T/stacks.folded"
echo "input ($SHAPE): $(wc -l <"$T/stacks.folded") unique stacks," \
	"$(du -h "$T/stacks.folded" | cut -f1), $(awk -F';' '{n += NF} END {printf "%.1f", n / NR}' \
	"$T/stacks.folded") frames/stack; $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg)"

measure() {
	local name=$1 best_wall="" best_cpu="" best_rss="" all="" wall user sys rss cpu
	shift
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f "%e %U %S %M" -o "$T/time" "$@" >/dev/null
		read -r wall user sys rss <"$T/time"
		cpu=$(awk "BEGIN {print $user + $sys}")
		if [ -z "$best_wall" ] || awk "BEGIN {exit !($wall < $best_wall)}"; then
			best_wall=$wall
		fi
		if [ -z "$best_cpu" ] || awk "BEGIN {exit !($cpu < $best_cpu)}"; then
			best_cpu=$cpu
		fi
		if [ -z "$best_rss" ] || [ "$rss" -gt "$best_rss" ]; then
			best_rss=$rss
		fi
		all="$all $wall"
	done
	printf '%-16s wall best %5.2f s (runs:%s), CPU best %5.2f s, peak RSS %d MiB\n' "$name" \
		"$best_wall" "$all" "$best_cpu" $((best_rss / 1024))
}

measure "folded -> SVG" "$EMBER" convert "$T/stacks.folded" -o "$T/out.svg"
echo "  output $(du -h "$T/out.svg" | cut -f1)"
measure "folded -> pprof" "$EMBER" convert "$T/stacks.folded" -o "$T/out.pb.gz"
echo "  output $(du -h "$T/out.pb.gz" | cut -f1)"
measure "pprof -> folded" "$EMBER" convert "$T/out.pb.gz" -o "$T/back.folded"
cmp -s <(sort "$T/stacks.folded") "$T/back.folded" && echo "  round trip exact"
