#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark for issue 2, acceptance item 7: what system-wide profiling at FREQ Hz costs a fixed
# CPU workload, for ember, perf and bpftrace, and what each BPF sampler costs per sample in the
# kernel.
#
# Configurations, run in alternation (A B C D A B C D ...), RUNS rounds:
#   A  none      no profiler
#   B  ember     ember record -a -F FREQ -o TMP/ember.folded
#   C  perf      perf record -a -g -F FREQ -o TMP/perf.data   (+ -D -1 --control and
#                --no-buildid: see below)
#   D  bpftrace  bpftrace -e 'profile:hz:FREQ { @[kstack, ustack] = count(); }'
#
# The workload (record/workload.c, compiled here) is WORKERS processes (default: one per online
# CPU, because sampling costs per CPU) that each run ITERATIONS iterations of a dependent
# multiply/xor-shift chain under a DEPTH-deep frame-pointer call chain. It times itself
# (CLOCK_MONOTONIC from before the first fork to after the last exit), so profiler start-up and
# shut-down are outside the measurement. Every profiler is fully started before the workload
# starts and stopped (SIGINT) after it ends:
#   ember     it wrote its --ready-fd byte (every perf event attached) and its perf_event
#             program (ember_sample) has run, then SETTLE seconds
#   perf      started with -D -1 (events disabled) and enabled through --control; perf's "ack"
#             comes back once the events are on, then SETTLE seconds. --no-buildid only skips
#             perf's build-id pass after the recording ends (outside the measurement), which in
#             Debian 12's perf 6.1 aborted here ("assertion failed at util/build-id.c:1010",
#             then "stack smashing detected") on other users' short-lived binaries
#   bpftrace  it printed "Attaching" and its perf_event program has run, then SETTLE seconds
#   none      SETTLE seconds, so every configuration waits alike
#
# In-kernel cost per sample: kernel.bpf_stats_enabled=1 for the whole benchmark (restored at the
# end). run_time_ns and run_cnt of the profiler's perf_event program (found through
# /proc/PID/fdinfo, read with `bpftool prog show id N -j`) are read right before and right after
# the workload; the difference divided gives ns per sample over the workload only.
#
# Prints a results table (ratios are per round: time under the profiler / baseline time of the same
# round; median and min..max over rounds) and the raw per-run data. Writes nothing outside a temp
# dir, which is removed at the end unless KEEP_TMP=1.
#
# Needs root (BPF, perf events, sysctl). Environment:
#   EMBER=PATH      ember binary to use (default: build with tools/scripts/build.sh into the temp dir)
#   RUNS=5          rounds (each runs all four configurations once)
#   FREQ=999        sampling frequency, Hz per CPU
#   WORKERS=nproc   workload processes
#   ITERATIONS=4000000000  iterations per worker (about 6.5 s on the 2-CPU reference machine)
#   DEPTH=12        call-chain depth above the workload's leaf (user frames per sample: DEPTH + 4)
#   SETTLE=0.5      seconds between "profiler ready" and the workload's start
#   CONFIGS="none ember perf bpftrace"  subset or order of configurations
#   KEEP_TMP=1      keep the temp dir (raw CSV, profiler outputs)
#   NOISE_PCT=0.5   a run during which other processes used more CPU than this share of the
#                   workload's CPU time is discarded and redone (at most RETRIES=3 times; the last
#                   try is kept and flagged): a shared machine's builds and tests would otherwise
#                   swamp sub-1% effects
#   QUIET_WAIT_S=60 before each run, wait up to this long for the machine to be idle (< 5% busy)
set -euo pipefail

RUNS=${RUNS:-5}
FREQ=${FREQ:-999}
WORKERS=${WORKERS:-$(nproc)}
ITERATIONS=${ITERATIONS:-4000000000}
DEPTH=${DEPTH:-12}
SETTLE=${SETTLE:-0.5}
CONFIGS=${CONFIGS:-none ember perf bpftrace}
NOISE_PCT=${NOISE_PCT:-0.5}
RETRIES=${RETRIES:-3}
QUIET_WAIT_S=${QUIET_WAIT_S:-60}
READY_TIMEOUT_S=30

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() {
	echo "record_overhead: $*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root (BPF programs, perf events, sysctl)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ember-record-bench.XXXXXX")
prof_pid=
wl_pid=
old_bpf_stats=

cleanup() {
	if [[ -n $wl_pid ]] && kill -0 "$wl_pid" 2>/dev/null; then
		pkill -TERM -P "$wl_pid" 2>/dev/null || true
		kill -TERM "$wl_pid" 2>/dev/null || true
	fi
	if [[ -n $prof_pid ]] && kill -0 "$prof_pid" 2>/dev/null; then
		kill -INT "$prof_pid" 2>/dev/null || true
		wait "$prof_pid" 2>/dev/null || true
	fi
	if [[ -n $old_bpf_stats ]]; then
		sysctl -qw kernel.bpf_stats_enabled="$old_bpf_stats" || true
	fi
	if [[ ${KEEP_TMP:-0} == 1 ]]; then
		echo "record_overhead: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# install-deps.sh installs the whole list in one apt-get call, so an unrelated package that cannot be
# installed here fails it: carry on when what this benchmark runs is present.
if ! "$repo/tools/scripts/install-deps.sh" --bench; then
	echo "record_overhead: warning: install-deps.sh --bench failed; checking the tools it needs" >&2
fi
for tool in gcc python3 bpftool perf bpftrace; do
	command -v "$tool" >/dev/null || die "$tool is missing (tools/scripts/install-deps.sh --bench)"
done

if [[ -z ${EMBER:-} ]]; then
	echo "record_overhead: building ember into $tmp/build" >&2
	BUILD_DIR="$tmp/build" "$repo/tools/scripts/build.sh" >"$tmp/build.log" 2>&1 ||
		die "build failed (log: $tmp/build.log; set EMBER=PATH to use a built binary)"
	EMBER="$tmp/build/ember"
fi
[[ -x $EMBER ]] || die "EMBER=$EMBER is not an executable"

gcc -O2 -fno-omit-frame-pointer -fno-optimize-sibling-calls -Wall -Wextra \
	-o "$tmp/workload" "$here/record/workload.c"

# The perf_event (type 7) BPF program id held by process $1, or nothing.
perf_prog_id() {
	local f type id
	for f in /proc/"$1"/fdinfo/*; do
		type=$(awk '$1 == "prog_type:" { print $2 }' "$f" 2>/dev/null) || continue
		[[ $type == 7 ]] || continue
		id=$(awk '$1 == "prog_id:" { print $2 }' "$f" 2>/dev/null) || continue
		echo "$id"
		return 0
	done
}

# "NAME RUN_TIME_NS RUN_CNT" of BPF program $1.
prog_stats() {
	bpftool prog show id "$1" -j |
		python3 -c 'import json, sys
p = json.load(sys.stdin)
print(p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}

# utime + stime of process $1 and its waited-for children, in clock ticks.
proc_ticks() {
	awk '{ print $14 + $15 + $16 + $17 }' /proc/"$1"/stat 2>/dev/null || echo 0
}

# Busy (user nice system irq softirq) clock ticks of all CPUs, from /proc/stat.
busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
}

# Waits (up to QUIET_WAIT_S) until the machine was less than 5% busy over half a second.
wait_quiet() {
	local deadline=$((SECONDS + QUIET_WAIT_S)) b0 b1 ncpu
	ncpu=$(nproc)
	while ((SECONDS < deadline)); do
		b0=$(busy_ticks)
		sleep 0.5
		b1=$(busy_ticks)
		# 5% of ncpu CPUs over 0.5 s, in ticks.
		if (((b1 - b0) * 100 <= 5 * ncpu * hz / 2)); then
			return 0
		fi
	done
	echo "record_overhead: warning: machine still busy after ${QUIET_WAIT_S}s; running anyway" >&2
}

# Waits until the profiler's perf_event program has run once; sets prog_id.
wait_prog_running() {
	local deadline=$((SECONDS + READY_TIMEOUT_S)) name rt cnt
	prog_id=
	while ((SECONDS < deadline)); do
		kill -0 "$prof_pid" 2>/dev/null || return 1
		prog_id=$(perf_prog_id "$prof_pid")
		if [[ -n $prog_id ]]; then
			read -r name rt cnt < <(prog_stats "$prog_id")
			((cnt > 0)) && return 0
		fi
		sleep 0.05
	done
	return 1
}

start_profiler() {
	local cfg=$1 deadline line
	prof_pid=
	prog_id=
	case $cfg in
	none) ;;
	ember)
		# ember writes a byte to --ready-fd once every perf event is attached.
		rm -f "$tmp/ember.ready"
		mkfifo "$tmp/ember.ready"
		"$EMBER" record -a -F "$FREQ" --ready-fd 3 -o "$tmp/ember.folded" \
			>"$tmp/ember.out" 2>"$tmp/ember.err" 3>"$tmp/ember.ready" &
		prof_pid=$!
		read -r -t "$READY_TIMEOUT_S" -n 1 line <"$tmp/ember.ready" && [[ $line == r ]] ||
			die "ember did not get ready: $(tail -3 "$tmp/ember.err")"
		wait_prog_running || die "ember's program did not run: $(tail -3 "$tmp/ember.err")"
		;;
	perf)
		rm -f "$tmp/perf.ctl" "$tmp/perf.ack"
		mkfifo "$tmp/perf.ctl" "$tmp/perf.ack"
		exec {ctl_fd}<>"$tmp/perf.ctl" {ack_fd}<>"$tmp/perf.ack"
		perf record -a -g -F "$FREQ" -o "$tmp/perf.data" --no-buildid -D -1 --control "fd:$ctl_fd,$ack_fd" \
			>"$tmp/perf.out" 2>&1 &
		prof_pid=$!
		echo enable >&"$ctl_fd"
		read -r -t "$READY_TIMEOUT_S" line <&"$ack_fd" || die "perf did not start: $(tail -3 "$tmp/perf.out")"
		[[ $line == ack ]] || die "perf answered '$line' to enable"
		exec {ctl_fd}>&- {ack_fd}>&-
		;;
	bpftrace)
		bpftrace -e "profile:hz:$FREQ { @[kstack, ustack] = count(); }" >"$tmp/bpftrace.out" 2>&1 &
		prof_pid=$!
		deadline=$((SECONDS + READY_TIMEOUT_S))
		until grep -qs Attaching "$tmp/bpftrace.out"; do
			((SECONDS < deadline)) && kill -0 "$prof_pid" 2>/dev/null ||
				die "bpftrace did not start: $(tail -3 "$tmp/bpftrace.out")"
			sleep 0.05
		done
		wait_prog_running || die "bpftrace's program did not run: $(tail -3 "$tmp/bpftrace.out")"
		;;
	*) die "unknown configuration '$cfg'" ;;
	esac
	sleep "$SETTLE"
}

stop_profiler() {
	local rc=0
	[[ -n $prof_pid ]] || return 0
	kill -INT "$prof_pid"
	wait "$prof_pid" || rc=$?
	# ember exits 0 after SIGINT (profile written); perf and bpftrace exit 0 or 130.
	if [[ $1 == ember && $rc -ne 0 ]]; then
		die "ember exited $rc: $(tail -3 "$tmp/ember.err")"
	fi
	prof_pid=
	rm -f "$tmp/perf.data" "$tmp/perf.data.old"
}

old_bpf_stats=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1

hz=$(getconf CLK_TCK)
csv="$tmp/runs.csv"
echo "round,config,wall_ns,workload_cpu_ns,prog_name,prog_run_ns,prog_run_cnt,profiler_cpu_ns,other_cpu_ns,noisy" >"$csv"

echo "record_overhead: $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)," \
	"ember $EMBER, $RUNS rounds of: $CONFIGS" >&2
echo "record_overhead: workload: $WORKERS workers x $ITERATIONS iterations, depth $DEPTH" >&2
# One unmeasured warm-up run (page cache, CPU frequency, first-exec costs).
"$tmp/workload" "$WORKERS" "$ITERATIONS" "$DEPTH" >/dev/null

for ((round = 1; round <= RUNS; round++)); do
	for cfg in $CONFIGS; do
		for ((try = 1; ; try++)); do
			wait_quiet
			start_profiler "$cfg"
			name=- rt0=0 cnt0=0 rt1=0 cnt1=0 pt0=0 pt1=0
			if [[ -n $prog_id ]]; then
				read -r name rt0 cnt0 < <(prog_stats "$prog_id")
				pt0=$(proc_ticks "$prof_pid")
			fi
			b0=$(busy_ticks)
			# In the background so that a signal to this script is handled at once.
			"$tmp/workload" "$WORKERS" "$ITERATIONS" "$DEPTH" >"$tmp/workload.out" &
			wl_pid=$!
			wait "$wl_pid" || die "the workload failed"
			wl_pid=
			out=$(cat "$tmp/workload.out")
			b1=$(busy_ticks)
			if [[ -n $prog_id ]]; then
				read -r name rt1 cnt1 < <(prog_stats "$prog_id")
				pt1=$(proc_ticks "$prof_pid")
			fi
			stop_profiler "$cfg"
			wall=$(sed -n 's/.*wall_ns=\([0-9]*\).*/\1/p' <<<"$out")
			wcpu=$(sed -n 's/.*cpu_ns=\([0-9]*\).*/\1/p' <<<"$out")
			pcpu=$(((pt1 - pt0) * 1000000000 / hz))
			other=$(((b1 - b0) * 1000000000 / hz - wcpu - pcpu))
			noisy=$(awk -v o="$other" -v w="$wcpu" -v p="$NOISE_PCT" 'BEGIN { print (o > w * p / 100) ? 1 : 0 }')
			# Another user of this machine may have switched the statistics off meanwhile.
			if [[ $(sysctl -n kernel.bpf_stats_enabled) != 1 ]]; then
				echo "record_overhead: kernel.bpf_stats_enabled was reset by someone else; set again" >&2
				sysctl -qw kernel.bpf_stats_enabled=1
				noisy=1
			fi
			printf 'record_overhead: round %d/%d %-8s %6.3f s, others used %4.0f ms%s\n' \
				"$round" "$RUNS" "$cfg" "$(awk -v w="$wall" 'BEGIN { print w / 1e9 }')" \
				"$(awk -v o="$other" 'BEGIN { print o / 1e6 }')" \
				"$( ((noisy)) && echo ": noisy, $( ((try < RETRIES)) && echo redone || echo kept)")" >&2
			if ((!noisy || try >= RETRIES)); then
				echo "$round,$cfg,$wall,$wcpu,$name,$((rt1 - rt0)),$((cnt1 - cnt0)),$pcpu,$other,$noisy" >>"$csv"
				break
			fi
		done
	done
done

# A sanity check that ember saw the workload's deep stacks, not just its leaf.
if [[ " $CONFIGS " == *" ember "* ]] && ! grep -q 'descend;descend;spin' "$tmp/ember.folded"; then
	echo "record_overhead: warning: ember's profile has no workload stack with" \
		"descend;descend;spin" >&2
fi

python3 "$here/record/summarize.py" "$csv" "$FREQ" "$WORKERS"
echo
echo "raw runs ($csv):"
cat "$csv"
