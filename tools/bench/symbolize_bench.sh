#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 3, acceptance 7 (benchmark, not a ctest): batch symbolization of one
# address list (functions + inline chains + lines) on a large -g binary, for
# ember symbolize, eu-addr2line -i -f -C, addr2line -i -f -C and llvm-symbolizer.
#
# The binary: googletest's own unit test (gtest-all.cc + gtest_unittest.cc +
# gtest_main.cc from Debian's googletest package, /usr/src/googletest) built with
# g++ -O2 -g: ~22 MB, 1 MB of .text, 10 MB of .debug_info in 3 large CUs.
#
#   cold: page cache dropped (when /proc/sys/vm/drop_caches is writable), one
#         pass over the list in a fresh process;
#   warm: page cache warm, the list given 3 times to one process (ember
#         remembers answers; the others recompute them); median of 5 runs.
# Prints addresses/s and peak RSS per tool, and checks ember's answers against
# eu-addr2line (innermost name, chain, file:line; see test_sym_addr2line.c for
# where eu-addr2line is wrong) and binutils addr2line.
#
# Usage: symbolize_bench.sh EMBER [N_ADDRESSES] [WORKDIR]
set -euo pipefail
ember=${1:?usage: symbolize_bench.sh EMBER [N] [WORKDIR]}
n=${2:-2000}
work=${3:-/tmp/ember-symbench}
src=/usr/src/googletest/googletest
[ -d "$src" ] || { echo "needs Debian package googletest (/usr/src/googletest)" >&2; exit 77; }
mkdir -p "$work"
bin=$work/gtest_unittest
if [ ! -x "$bin" ]; then
	echo "building $bin (about a minute)..." >&2
	g++ -O2 -g -I"$src/include" -I"$src" -o "$bin" "$src/src/gtest-all.cc" \
		"$src/test/gtest_unittest.cc" "$src/src/gtest_main.cc" -lpthread
fi
read -r text_addr text_size < <(readelf -SW "$bin" | awk '$2 == ".text" {print $4, $6}')
python3 - "$text_addr" "$text_size" "$n" > "$work/addrs" <<'EOF'
import sys
start, size, n = int(sys.argv[1], 16), int(sys.argv[2], 16), int(sys.argv[3])
for i in range(n):
    print(hex(start + size * i // n + i % 3))
EOF
for _ in 1 2 3; do cat "$work/addrs"; done > "$work/addrs3"

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
# run NAME INPUT COUNT REPEAT CMD...: prints "NAME addr/s seconds peakRSS" (median
# of REPEAT runs; timings of one run of ~0.2 s vary by +-30% here).
run() {
	local name=$1 input=$2 count=$3 repeat=$4; shift 4
	: > "$work/times"
	for _ in $(seq "$repeat"); do
		/usr/bin/time -f '%e %M' -o "$work/time" "$@" < "$input" > "$work/out.$name" 2>/dev/null || true
		cat "$work/time" >> "$work/times"
	done
	python3 - "$name" "$count" "$work/times" <<'PY'
import sys
name, count = sys.argv[1], int(sys.argv[2])
runs = sorted((float(a), int(b)) for a, b in (l.split() for l in open(sys.argv[3])))
secs, rss = runs[len(runs) // 2]
print('%-16s %10.0f addr/s %8.2f s %8d KB' % (name, count / max(secs, 0.001), secs, rss))
PY
}

tools=(ember eu-addr2line addr2line llvm-symbolizer)
cmd() {
	case $1 in
	ember) echo "$ember symbolize --elf $bin" ;;
	eu-addr2line) echo "eu-addr2line -i -f -C -e $bin" ;;
	addr2line) echo "addr2line -i -f -C -e $bin" ;;
	llvm-symbolizer) echo "llvm-symbolizer --obj=$bin" ;;
	esac
}
echo "binary: $bin ($(stat -c %s "$bin") bytes), $n addresses over .text"
echo "== cold (fresh process, page cache dropped)"
for t in "${tools[@]}"; do
	drop_caches
	# shellcheck disable=SC2046
	run "$t" "$work/addrs" "$n" 1 $(cmd "$t")
	cp "$work/out.$t" "$work/cold.$t"
done
echo "== warm (page cache warm, the list 3 times in one process)"
for t in "${tools[@]}"; do
	# shellcheck disable=SC2046
	# eu-addr2line takes minutes per run: once is enough to rank it.
	reps=5
	[ "$t" = eu-addr2line ] && reps=1
	run "$t" "$work/addrs3" $((3 * n)) "$reps" $(cmd "$t")
done

# Answers: ember against eu-addr2line, then binutils where they differ.
"$ember" symbolize -a --elf "$bin" < "$work/addrs" > "$work/a.ember"
eu-addr2line -a -i -f -C -e "$bin" < "$work/addrs" > "$work/a.eu" 2>/dev/null || true
addr2line -a -i -f -C -e "$bin" < "$work/addrs" > "$work/a.bu"
python3 - "$work/a.ember" "$work/a.eu" "$work/a.bu" <<'EOF'
import re, sys
def parse(fn):
    recs, cur = {}, None
    for l in open(fn):
        l = l.rstrip('\n')
        if re.match(r'^0x[0-9a-f]{8,}$', l):
            cur = int(l, 16); recs[cur] = []; continue
        recs[cur].append(l)
    out = {}
    for a, ls in recs.items():
        fr = []
        for i in range(0, len(ls) - 1, 2):
            f = re.sub(r' inlined (at|in) .*', '', ls[i]) if i == 0 else ls[i]
            f = '??' if re.search(r'\+0x[0-9a-f]+$', f) else f
            loc = re.sub(r' \(discriminator \d+\)', '', ls[i + 1])
            loc = re.sub(r'^(.*):(\d+):\d+$', r'\1:\2', loc)
            fr.append((f, loc))
        out[a] = fr
    return out
e, u, b = (parse(f) for f in sys.argv[1:4])
eq = sum(e[a] == u.get(a) for a in e)
bu = sum(e[a] != u.get(a) and e[a] == b.get(a) for a in e)
print("answers: %d addresses, %d equal to eu-addr2line, %d more equal to addr2line, %d differ from both"
      % (len(e), eq, bu, len(e) - eq - bu))
EOF
