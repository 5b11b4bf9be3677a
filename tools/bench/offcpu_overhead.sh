#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 14, acceptance 5: BPF run time per context switch (ns, from the kernel's
# bpf_stats: run_time_ns / run_cnt of the sched_switch program) of
# `ember record --off-cpu -a` and of a bpftrace script doing the same work
# (offcpu/offcpu.bt: stamp + kernel and user stack at switch-out, sum at
# switch-in), at about 10k and 100k switches/s of offcpu/switch_load.
# Usage: tools/bench/offcpu_overhead.sh [BUILD_DIR] [SECONDS]
# Environment: EMBER_ARGS (extra `ember record` flags, e.g. "--unwind fp"), GAPS
# (microseconds of sleep per round trip, one run each; default "200 0"), TOOLS
# (default "ember bpftrace").
# Needs root; mounts tracefs for bpftrace's tracepoint if it is not mounted.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
secs="${2:-10}"
ember="$build/ember"
load="$(mktemp -d)/switch_load"
cc -O2 -pthread -o "$load" "$here/offcpu/switch_load.c"
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
trap 'sysctl -qw kernel.bpf_stats_enabled=$old_stats' EXIT

ctxt() { awk '/^ctxt/ {print $2}' /proc/stat; }

# prog_stats NAME_REGEX: "run_cnt run_time_ns" summed over loaded programs whose name matches.
prog_stats() {
	bpftool -j prog show | python3 -c '
import json, re, sys
cnt = ns = 0
for p in json.load(sys.stdin):
    if re.search(sys.argv[1], p.get("name", "")):
        cnt += p.get("run_cnt", 0); ns += p.get("run_time_ns", 0)
print(cnt, ns)' "$1"
}

# measure TOOL GAP_US: starts the tool, waits until its program is loaded, runs the
# load for $secs, and prints the switch rate and the per-switch cost.
measure() {
	local tool=$1 gap=$2 pid name c0 c1 s0 s1 t0 t1
	if [[ $tool == ember ]]; then
		name='^ember_switch$'
		# shellcheck disable=SC2086 # EMBER_ARGS is a list of flags
		"$ember" record --off-cpu -a ${EMBER_ARGS:-} --ready-fd 3 3>"$build/.ready" \
			-o "$(mktemp -d)/x.folded" 2>/dev/null &
		pid=$!
		until [[ -s "$build/.ready" ]]; do sleep 0.05; done
		rm -f "$build/.ready"
	else
		name='^sched_switch$'
		bpftrace "$here/offcpu/offcpu.bt" >/dev/null 2>&1 &
		pid=$!
		until [[ $(prog_stats "$name" | cut -d' ' -f1) != 0 ]]; do sleep 0.05; done
	fi
	read -r c0 s0 < <(prog_stats "$name")
	t0=$(ctxt)
	"$load" "$gap" "$secs"
	t1=$(ctxt)
	read -r c1 s1 < <(prog_stats "$name")
	kill -INT "$pid"
	wait "$pid" || true
	python3 -c "
cnt = $c1 - $c0; ns = $s1 - $s0
print('%-8s gap %4s us: %7.0f switches/s, %.0f ns per switch (%d runs)' %
      ('$tool', '$gap', ($t1 - $t0) / $secs, ns / cnt if cnt else 0, cnt))"
}

for gap in ${GAPS:-200 0}; do
	for tool in ${TOOLS:-ember bpftrace}; do
		measure "$tool" "$gap"
	done
done
