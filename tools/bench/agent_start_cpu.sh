#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark for issue 12, acceptance item 5 (first window <= 0.5 s of CPU) and the issue's
# "a SIGHUP that changes frequency": the CPU time the agent spends on its first window and on
# a reload that changes the sampling frequency, with its default settings (19 Hz, unwind auto,
# local symbolization) on whatever the host runs.
#
# Method. Starts `ember agent` (5 s windows, no jitter, folded output into a temp dir), reads
# its utime + stime (/proc/PID/stat) and the run time of its BPF programs (bpftool prog show:
# run_time_ns of the programs the agent's pid holds, with kernel.bpf_stats_enabled=1 for the
# run, restored after) when window 1 is logged: that is the first window's cost, start-up
# (sampler load and verification, unwind tables of every process on the host) included. Then
# it measures the steady cost per second over windows 4 to 6, rewrites the config with another frequency, sends SIGHUP, and reads
# both again SETTLE seconds after "reload: configuration ... applied": the reload's cost is
# that growth minus the steady cost per second times its length. /proc's CPU times count in
# clock ticks (10 ms here).
#
# Needs root and bpftool. Environment: EMBER (default build/ember), SETTLE=5 (seconds).
set -euo pipefail

EMBER=${EMBER:-build/ember}
SETTLE=${SETTLE:-5}
tmp=$(mktemp -d)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
agent=
cleanup() {
	[ -z "$agent" ] || kill "$agent" 2>/dev/null || true
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$tmp"
}
trap cleanup EXIT
sysctl -qw kernel.bpf_stats_enabled=1

printf 'window = 5s\njitter = no\nformat = folded.zst\n' >"$tmp/agent.conf"
"$EMBER" agent -c "$tmp/agent.conf" -o "$tmp/out" 2>"$tmp/log" &
agent=$!

wait_log() { # PATTERN COUNT
	for _ in $(seq 1200); do
		[ "$(grep -cE "$1" "$tmp/log" || true)" -ge "$2" ] && return 0
		kill -0 "$agent" 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
		sleep 0.05
	done
	echo "timed out waiting for $1" >&2
	exit 1
}
# CPU seconds of the agent process: user + system, then BPF programs it holds.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' /proc/"$agent"/stat; }
# The agent's programs are those its file descriptors hold (fdinfo prog_id).
bpf_s() {
	bpftool prog show --json | python3 -c '
import glob, json, sys
ids = set()
for f in glob.glob("/proc/%s/fdinfo/*" % sys.argv[1]):
    try:
        ids.update(int(l.split()[1]) for l in open(f) if l.startswith("prog_id:"))
    except OSError:
        pass
print("%.3f" % (sum(p.get("run_time_ns", 0) for p in json.load(sys.stdin)
                    if p["id"] in ids) / 1e9))' "$agent"
}

wait_log "window 1: " 1
c1=$(cpu_s) b1=$(bpf_s)
# Steady: windows 4 to 6 (window 2 symbolizes window 1 with cold caches).
wait_log "window 4: " 1
c2=$(cpu_s) b2=$(bpf_s)
wait_log "window 6: " 1
steady=$(python3 -c "print((($(cpu_s) - $c2) + ($(bpf_s) - $b2)) / 10)")
printf 'window = 5s\njitter = no\nformat = folded.zst\nfrequency = 29\n' >"$tmp/agent.conf"
c3=$(cpu_s) b3=$(bpf_s)
t3=$(date +%s.%N)
kill -HUP "$agent"
wait_log "reload: configuration of .* applied" 1
sleep "$SETTLE"
c4=$(cpu_s) b4=$(bpf_s)
t4=$(date +%s.%N)
python3 - "$c1" "$b1" "$steady" "$c3" "$b3" "$c4" "$b4" "$t3" "$t4" <<'PY'
import sys
c1, b1, steady, c3, b3, c4, b4, t3, t4 = map(float, sys.argv[1:])
print("first window (start-up included): %.3f s CPU (user+sys %.3f, BPF %.3f)" % (c1 + b1, c1, b1))
print("steady: %.5f s CPU per second (%.3f%% of a core) at 19 Hz" % (steady, 100 * steady))
reload = (c4 - c3) + (b4 - b3) - steady * (t4 - t3)
print("SIGHUP 19 -> 29 Hz: %.3f s CPU over %.1f s after the signal, steady cost removed" %
      (reload, t4 - t3))
print("first window + SIGHUP: %.3f s (target <= 0.5 s)" % (c1 + b1 + reload))
PY
grep -E "window 1:   (sampler.load_ns|unwind.tables.(built|build_ns))" "$tmp/log" | sed 's/^ember: *//' || true
