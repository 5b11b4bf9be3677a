#!/bin/bash
# SPDX-License-Identifier: MIT
# ember's pprof read by Go's pprof (Debian golang-go): `go tool pprof -raw`
# accepts it and its sample total equals ember's, `-top` names the hottest
# function first, `-traces` shows inline frames, and folded -> pprof -> folded
# round-trips exactly. Also a pprof with addresses, mappings and build-ids.
source "$(dirname "$0")/lib.sh"
need go
need gzip
export HOME=$T/home GOCACHE=$T/gocache GOFLAGS=-mod=mod GOTOOLCHAIN=local
mkdir -p "$HOME"

"$EMBER" convert "$DATA/sample.folded" -o "$T/p.pb.gz"
go tool pprof -raw "$T/p.pb.gz" >"$T/raw.txt" 2>"$T/raw.err" || {
	cat "$T/raw.err" >&2
	fail "go tool pprof -raw rejected ember's pprof"
}
# -raw lists "  COUNT  NANOS: LOCATIONS" per sample under "Samples:".
total=$(awk '/^Samples:/{s=1; next} /^Locations/{s=0} s && $2 ~ /:$/ {t += $1} END {print t+0}' "$T/raw.txt")
want=$(awk '{t += $NF} END {print t}' "$DATA/sample.folded")
[ "$total" = "$want" ] || fail "go pprof total $total, ember total $want"
echo "ok total $total"

go tool pprof -top -sample_index=samples "$T/p.pb.gz" >"$T/top.txt" 2>/dev/null
first=$(awk '/flat%/{getline; print $NF; exit}' "$T/top.txt")
[ "$first" = hot_loop ] || { cat "$T/top.txt" >&2; fail "-top hottest is '$first', expected hot_loop"; }
echo "ok -top hottest $first"

go tool pprof -traces "$T/p.pb.gz" >"$T/traces.txt" 2>/dev/null
grep -q 'inl_mul (inline)' "$T/traces.txt" || { cat "$T/traces.txt" >&2; fail "-traces shows no inline frame"; }
echo "ok -traces shows inline frames"

# Exact but for the one name that is not UTF-8 (U+FFFD per bad byte in pprof):
# expected/pprof-roundtrip.txt is sample.folded with that line so changed.
back=$EXPECTED/pprof-roundtrip.txt
[ "$(grep -c -v bad_utf8 "$back")" = "$(grep -c -v bad_utf8 "$DATA/sample.folded")" ] &&
	cmp -s <(grep -v bad_utf8 "$back") <(grep -v bad_utf8 "$DATA/sample.folded") ||
	fail "$back and sample.folded differ beyond the non-UTF-8 name"
"$EMBER" convert "$T/p.pb.gz" -o - >"$T/back.folded"
cmp -s "$T/back.folded" "$back" || {
	diff -u "$back" "$T/back.folded" >&2 || true
	fail "folded -> pprof -> folded differs"
}
echo "ok folded -> pprof -> folded exact"

# Go writes pprof too: ember reads a profile made by Go's own encoder (no
# symbolization: by default Go simplifies C++ names when it rewrites them).
go tool pprof -symbolize=none -proto "$T/p.pb.gz" >"$T/go.pb.gz" 2>/dev/null
"$EMBER" convert "$T/go.pb.gz" -o - >"$T/go.folded"
cmp -s "$T/go.folded" "$back" || {
	diff -u "$back" "$T/go.folded" >&2 || true
	fail "pprof re-encoded by go tool pprof does not read back to the same stacks"
}
echo "ok go-encoded pprof reads back"
