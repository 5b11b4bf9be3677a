#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Cost of `ember agent` on a busy machine (issue 6, acceptance 6): for each
# frequency, runs the agent for DURATION seconds while every CPU is kept busy
# (one xz per CPU plus a loop that starts ~20 short processes per second), and
# reports the agent's CPU time (user + sys from /proc/PID/stat, plus the run time
# of its BPF programs from kernel.bpf_stats_enabled) as a percentage of one core,
# and its RSS (sampled every 5 s: first, last, peak). Needs root.
#
# Usage: tools/bench/agent_overhead.sh [DURATION_S] [FREQ...]
#        (defaults: 300 s, 19 and 99 Hz; EMBER=path/to/ember, default build/ember;
#        the agent's logs are kept as $LOGDIR/ember-agent-bench-HZ.log, default /tmp;
#        AGENT_ARGS adds flags, e.g. AGENT_ARGS="--symbolize none")
set -euo pipefail

duration=${1:-300}
shift || true
freqs=("$@")
[ ${#freqs[@]} -gt 0 ] || freqs=(19 99)
ember=${EMBER:-build/ember}
tck=$(getconf CLK_TCK)
ncpu=$(nproc)
work=$(mktemp -d /tmp/ember-agent-bench.XXXXXX)
load_pids=()

cleanup() {
	for p in "${load_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${old_stats:-}" ] && sysctl -q kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$work"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "agent_overhead.sh: needs root" >&2; exit 77; }
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q kernel.bpf_stats_enabled=1

# The load: every CPU busy in a real program, and process churn for the tracker.
for _ in $(seq "$ncpu"); do
	xz -T1 -6 -c </dev/urandom >/dev/null &
	load_pids+=($!)
done
(while :; do for _ in $(seq 20); do /bin/true; done; sleep 1; done) &
load_pids+=($!)

# Sum of run_time_ns of the BPF programs whose fds process $1 holds (from
# /proc/PID/fdinfo: bpftool here cannot show the owning pids).
bpf_ns() {
	local ids
	ids=$(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u)
	bpftool prog show -j 2>/dev/null | python3 -c '
import json, sys
ids = set(int(x) for x in sys.argv[1:])
print(sum(p.get("run_time_ns", 0) for p in json.load(sys.stdin) if p["id"] in ids))' $ids
}

calc() { awk "BEGIN { printf \"%.6f\\n\", $* }"; }
before() { awk "BEGIN { exit !($1 < $2) }"; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

printf "%-6s %-8s %-10s %-10s %-10s %-8s %-9s %-9s %-9s %s\n" Hz seconds user+sys_s bpf_s \
	cpu_%core samples rss_first rss_last rss_peak windows
for hz in "${freqs[@]}"; do
	out="$work/out-$hz"
	# shellcheck disable=SC2086 # AGENT_ARGS is a list of extra flags
	"$ember" agent -c /dev/null -o "$out" -F "$hz" --window 10s ${AGENT_ARGS:-} 2>"$work/log-$hz" &
	agent=$!
	sleep 2 # BPF load and the first /proc scan are start-up, not steady state
	t0=$(date +%s.%N)
	c0=$(cpu_ticks "$agent")
	b0=$(bpf_ns "$agent")
	first=$(rss_kb "$agent")
	peak=$first
	end=$(calc "$t0 + $duration")
	while before "$(date +%s.%N)" "$end"; do
		sleep 5
		r=$(rss_kb "$agent")
		[ "$r" -gt "$peak" ] && peak=$r
	done
	c1=$(cpu_ticks "$agent")
	b1=$(bpf_ns "$agent")
	t1=$(date +%s.%N)
	last=$(rss_kb "$agent")
	kill -TERM "$agent"
	wait "$agent"
	secs=$(calc "$t1 - $t0")
	us=$(calc "($c1 - $c0) / $tck")
	bs=$(calc "($b1 - $b0) / 1000000000")
	pct=$(calc "100 * ($us + $bs) / $secs")
	samples=$(grep -o 'at [0-9]* Hz: [0-9]* samples' "$work/log-$hz" | awk '{s += $4} END {print s}')
	windows=$(ls "$out" | grep -c '^ember-')
	printf "%-6s %-8.1f %-10.3f %-10.3f %-10.3f %-8s %-9s %-9s %-9s %s\n" "$hz" "$secs" "$us" \
		"$bs" "$pct" "$samples" "${first}k" "${last}k" "${peak}k" "$windows"
	cp "$work/log-$hz" "${LOGDIR:-/tmp}/ember-agent-bench-$hz.log"
done
