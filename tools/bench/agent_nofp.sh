#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark for issue 12, acceptance item 1: `ember agent` with its default settings (19 Hz,
# unwind auto) on programs without frame pointers: the fixture split_nofp_gcc
# (-fomit-frame-pointer) and Debian's xz (xz -6 of generated text), each started after the
# agent (so their tables are built or found while they run). Prints, per program, the
# fractions of its window samples symbolized, truncated and reaching a root
# (tools/bench/folded_fractions.py: main / libc start / a thread start, no truncation marker).
#
# Needs root. Environment: EMBER (default build/ember), FIXTURES (default build/tests/fixtures),
# SECONDS_EACH=20 (each program runs that long, both at once), FREQ=19.
set -euo pipefail

EMBER=${EMBER:-build/ember}
FIXTURES=${FIXTURES:-build/tests/fixtures}
SECONDS_EACH=${SECONDS_EACH:-20}
FREQ=${FREQ:-19}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
agent=
cleanup() {
	[ -z "$agent" ] || kill "$agent" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

printf 'window = 5s\njitter = no\nformat = folded.zst\nfrequency = %s\n' "$FREQ" >"$tmp/agent.conf"
"$EMBER" agent -c "$tmp/agent.conf" -o "$tmp/out" 2>"$tmp/log" &
agent=$!
for _ in $(seq 600); do
	grep -q "agent: sampling" "$tmp/log" && break
	kill -0 "$agent" 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
	sleep 0.05
done
grep -q "agent: sampling" "$tmp/log" || { echo "agent did not start" >&2; exit 1; }

python3 -c "
import random
random.seed(1)
words = [''.join(random.choice('abcdefghij') for _ in range(random.randint(2, 9))) for _ in range(5000)]
print(' '.join(random.choice(words) for _ in range(4000000)))" >"$tmp/text"
end=$((SECONDS + SECONDS_EACH))
(while [ "$SECONDS" -lt "$end" ]; do xz -6 -T1 -c "$tmp/text" >/dev/null; done) &
xz_loop=$!
# About 33 units a second (tests/fixtures/split.c).
"$FIXTURES/split_nofp_gcc" $((SECONDS_EACH * 33)) >/dev/null &
fixture=$!
wait "$xz_loop" "$fixture"
kill -TERM "$agent"
wait "$agent" || true
agent=
for f in "$tmp"/out/*.folded.zst; do zstd -dcq "$f"; done >"$tmp/all.folded"
python3 "$here/folded_fractions.py" "$tmp/all.folded" xz
python3 "$here/folded_fractions.py" "$tmp/all.folded" split_nofp_gcc
