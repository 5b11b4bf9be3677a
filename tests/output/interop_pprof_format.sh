#!/bin/bash
# SPDX-License-Identifier: MIT
# ember's pprof decoded by the npm pprof-format package: same total and hottest
# leaf function as ember's own report, both sample types present.
source "$(dirname "$0")/lib.sh"
npm_deps
"$EMBER" convert "$DATA/sample.folded" -o "$T/p.pb.gz"
node "$SRC/tests/interop/pprof_decode.mjs" "$T/p.pb.gz" >"$T/out.txt" || fail "pprof-format could not decode"
cat "$T/out.txt"
want=$(awk '{t += $NF} END {print t}' "$DATA/sample.folded")
grep -qx "total $want" "$T/out.txt" || fail "total differs from $want"
grep -qx "hottest hot_loop" "$T/out.txt" || fail "hottest is not hot_loop"
grep -qx "types samples/count,cpu/nanoseconds" "$T/out.txt" || fail "sample types"
# An empty profile is a valid pprof too.
: >"$T/empty.folded"
"$EMBER" convert "$T/empty.folded" -o "$T/empty.pb.gz"
node "$SRC/tests/interop/pprof_decode.mjs" "$T/empty.pb.gz" | grep -qx "total 0" || fail "empty profile"
echo ok
