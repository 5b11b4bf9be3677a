#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark for issue 12: what table unwinding costs the event loop under process churn.
#
# Runs `ember record -a -v` (MODE=record), or `ember agent -v` with its default settings but
# folded output and 5 s windows (MODE=agent), unwind auto unless UNWIND says otherwise, while
# RATE new processes a second (tests/agent/churn_burn, BURN_MS of CPU each) start for
# DURATION seconds, then prints the collector's longest event handling of one poll
# (collector.event_handling_max_ns: how long a process event waited behind others, table
# building included when it happens on the event thread; for the agent the largest of its
# windows), the unwind counters, and of the churn processes' samples the fractions
# symbolized, truncated and reaching a root (tools/bench/folded_fractions.py). Record
# preloads the symbolizer on the event thread for every new process (the agent does not),
# which is part of its figure; the figure is wall time, so a loaded machine adds to it.
#
# Needs root. Environment: MODE=record, EMBER (default build/ember), CHURN_BURN (default
# build/tests/agent/churn_burn), DURATION=30, RATE=20, BURN_MS=30, UNWIND=auto,
# UNWIND_CACHE=none (a disk cache turns building into loading; none shows building).
set -euo pipefail

EMBER=${EMBER:-build/ember}
CHURN_BURN=${CHURN_BURN:-build/tests/agent/churn_burn}
DURATION=${DURATION:-30}
RATE=${RATE:-20}
BURN_MS=${BURN_MS:-30}
UNWIND=${UNWIND:-auto}
UNWIND_CACHE=${UNWIND_CACHE:-none}
MODE=${MODE:-record}

tmp=$(mktemp -d)
[ -z "${KEEP_TMP:-}" ] || echo "keeping $tmp"
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT

if [ "$MODE" = agent ]; then
	"$EMBER" agent -c /dev/null -o "$tmp/out" --format folded.zst --window 5s --jitter no -v \
		--unwind "$UNWIND" 2>"$tmp/log" &
	ready="agent: sampling"
else
	"$EMBER" record -a -d "$((DURATION + 3))" -v --unwind "$UNWIND" \
		--unwind-cache "$UNWIND_CACHE" -o "$tmp/out.folded" 2>"$tmp/log" &
	ready="ember: ready:"
fi
rec=$!
# Readiness: ember announces it on stderr once sampling runs.
for _ in $(seq 600); do
	grep -q "$ready" "$tmp/log" && break
	kill -0 "$rec" 2>/dev/null || { cat "$tmp/log"; exit 1; }
	sleep 0.05
done
grep -q "$ready" "$tmp/log" || { echo "ember never became ready" >&2; exit 1; }

python3 - "$CHURN_BURN" "$DURATION" "$RATE" "$BURN_MS" <<'EOF'
import os, sys, time
burn, duration, rate, ms = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
t0, n, kids = time.time(), 0, []
while time.time() - t0 < duration:
    if n < (time.time() - t0) * rate:
        kids.append(os.posix_spawn(burn, [burn, ms], os.environ))
        n += 1
    kids = [k for k in kids if os.waitpid(k, os.WNOHANG)[0] == 0]
    time.sleep(0.002)
for k in kids:
    os.waitpid(k, 0)
print("started %d processes" % n)
EOF
if [ "$MODE" = agent ]; then
	kill -TERM "$rec"
	wait "$rec"
	awk '/collector.event_handling_max_ns/ { if ($NF > m) m = $NF }
	     END { print "largest window collector.event_handling_max_ns: " m + 0 }' "$tmp/log"
	for f in "$tmp"/out/*.folded.zst; do zstd -dcq "$f"; done >"$tmp/out.folded"
else
	wait "$rec"
	grep -E "collector.event_handling_max_ns|unwind\.|sampler.samples:" "$tmp/log" |
		sed 's/^ember: *//'
fi
python3 "$(dirname "$0")/folded_fractions.py" "$tmp/out.folded" churn_burn
