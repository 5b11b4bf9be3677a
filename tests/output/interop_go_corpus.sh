#!/bin/bash
# SPDX-License-Identifier: MIT
# pprof written by real tools on this machine, read by ember as go tool pprof
# reads it: Go's runtime/pprof CPU and heap profiles (data/goprof/main.go,
# built here with `go build`, offline, standard library only) and the same
# profiles re-encoded by `go tool pprof -proto`. For every sample type of each
# (and the default one), the total equals the sum of that value over
# `go tool pprof -raw`'s samples, and `ember report` prints the same rows as
# `go tool pprof -top` (function, flat, cum, in pprof's units: 1.68MB, 500ms).
# Also an unsymbolized profile (addresses in libc and ld.so, no functions) the
# program encodes by hand: both name those frames [libc.so.6], [ld-linux...].
source "$(dirname "$0")/lib.sh"
need go
export HOME=$T/home GOCACHE=$T/gocache GOPATH=$T/gopath GOFLAGS= GOTOOLCHAIN=local \
	GO111MODULE=off GOPROXY=off
mkdir -p "$HOME"
cp "$DATA/goprof/main.go" "$T/main.go"
(cd "$T" && go build -o "$T/goprof" main.go) || fail "go build of data/goprof/main.go failed"
"$T/goprof" "$T/cpu.pb.gz" "$T/heap.pb.gz" "$T/unsym.pb" "$T/heap-legacy.txt" ||
	fail "the Go program did not write its profiles"
for f in cpu heap; do
	go tool pprof -proto "$T/$f.pb.gz" >"$T/$f-go.pb.gz" 2>/dev/null ||
		fail "go tool pprof -proto $f.pb.gz failed"
done

# The sample types of a profile, in order ("alloc_objects/count ...", from -raw).
types_of() {
	go tool pprof -raw "$1" 2>/dev/null | awk '/^Samples:/{getline; gsub(/\[dflt\]/, ""); print; exit}'
}

# Sum of value @2 (0-based) over the samples of -raw's listing of @1.
raw_total() {
	go tool pprof -raw "$1" 2>/dev/null | awk -v i="$2" '
		/^Samples:/ { getline; s = 1; next }
		/^Locations/ { s = 0 }
		s && /^ *-?[0-9]+( +-?[0-9]+)*:/ { sub(/:.*/, ""); split($0, v, " "); t += v[i + 1] }
		END { printf "%.0f\n", t }'
}

# Rows "function flat cum" of a -top table, pprof's "(inline)" as ember's "_[i]".
pprof_rows() {
	go tool pprof -top -nodefraction=0 -edgefraction=0 -nodecount=100000 "$@" 2>/dev/null |
		awk '/ flat%/ { s = 1; next }
			s && NF >= 6 { name = $6; for (k = 7; k <= NF; k++) name = name " " $k
				sub(/ \(inline\)$/, "_[i]", name); print name "\t" $1 "\t" $4 }' | sort
}

ember_rows() {
	"$EMBER" report -n 100000 "$@" |
		awk 'NR > 2 { name = $6; for (k = 7; k <= NF; k++) name = name " " $k
			print name "\t" $1 "\t" $4 }' | sort
}

checked=0
for p in "$T"/{cpu,heap,cpu-go,heap-go}.pb.gz "$T/unsym.pb"; do
	f=$(basename "$p")
	read -r -a types <<<"$(types_of "$p")"
	[ "${#types[@]}" -ge 2 ] || fail "$f: go tool pprof -raw lists no sample types"
	for i in "${!types[@]}" default; do
		if [ "$i" = default ]; then
			# pprof's default: default_sample_type, else the last type.
			want_type=$(go tool pprof -top "$p" 2>/dev/null | awk '/^Type:/{print $2; exit}')
			sel=()
			psel=()
			idx=
			for k in "${!types[@]}"; do [ "${types[$k]%%/*}" = "$want_type" ] && idx=$k; done
			[ -n "$idx" ] || fail "$f: pprof's default type '$want_type' is not in ${types[*]}"
		else
			idx=$i
			sel=(--sample-index "${types[$i]%%/*}")
			psel=(-sample_index="${types[$i]%%/*}")
		fi
		want=$(raw_total "$p" "$idx")
		got=$("$EMBER" convert "${sel[@]}" "$p" -o - | awk '{t += $NF} END {printf "%.0f\n", t}')
		[ "$got" = "$want" ] ||
			fail "$f ${types[$idx]}: ember total $got, go tool pprof -raw total $want"
		[ "$want" -gt 0 ] || fail "$f ${types[$idx]}: total 0: the corpus measures nothing"
		pprof_rows "${psel[@]}" "$p" >"$T/want.txt"
		ember_rows "${sel[@]}" "$p" >"$T/got.txt"
		[ -s "$T/want.txt" ] || fail "$f ${types[$idx]}: go tool pprof -top printed no rows"
		diff -u "$T/want.txt" "$T/got.txt" >&2 ||
			fail "$f ${types[$idx]} (${i}): ember report rows differ from go tool pprof -top"
		# The header names the type and the total in pprof's label of it.
		ptotal=$(go tool pprof -top "${psel[@]}" -nodefraction=0 "$p" 2>/dev/null |
			awk '/^Showing nodes accounting for/ { sub(/ total$/, ""); print $NF; exit }')
		etotal=$("$EMBER" report "${sel[@]}" "$p" | awk 'NR == 1 {print $2}')
		[ "$etotal" = "$ptotal" ] ||
			fail "$f ${types[$idx]}: ember's total label '$etotal', pprof's '$ptotal'"
		echo "ok $f ${types[$idx]}${sel:+ (--sample-index)}: total $want ($etotal), $(wc -l <"$T/want.txt") rows as pprof -top"
		checked=$((checked + 1))
	done
done
[ "$checked" -ge 19 ] || fail "only $checked profile/type pairs checked"
# Addresses without functions are named after their mapping's file, as pprof names them.
grep -q '^\[libc.so.6\]	' <(pprof_rows "$T/unsym.pb") ||
	fail "go tool pprof shows no [libc.so.6] row: the unsymbolized profile is not what it should be"
"$EMBER" convert "$T/unsym.pb" -o - | grep -qx 'main.caller;\[libc.so.6\];\[ld-linux-x86-64.so.2\] 20000000' ||
	fail "ember's folded stacks do not name the libc and ld.so frames"

# Units reach the outputs: a heap report says bytes, a CPU one time, an SVG the unit.
"$EMBER" report "$T/heap.pb.gz" | head -1 | grep -q ' inuse_space (bytes)' ||
	fail "heap report does not name inuse_space bytes"
"$EMBER" report "$T/cpu.pb.gz" | head -1 | grep -Eq '^Total: [0-9.]+(ms|s) cpu \(nanoseconds\)' ||
	fail "cpu report does not say time"
"$EMBER" convert "$T/heap.pb.gz" -o "$T/heap.svg"
grep -q 'bytes' "$T/heap.svg" || fail "heap SVG does not count bytes"
# ember's own pprof of a heap profile keeps the type: go tool pprof reads it back.
"$EMBER" convert --sample-index alloc_space "$T/heap.pb.gz" -o "$T/ember-heap.pb.gz"
[ "$(go tool pprof -top "$T/ember-heap.pb.gz" 2>/dev/null | awk '/^Type:/{print $2}')" = alloc_space ] ||
	fail "ember's pprof of alloc_space is not of type alloc_space"
[ "$(raw_total "$T/ember-heap.pb.gz" 0)" = "$(raw_total "$T/heap.pb.gz" 1)" ] ||
	fail "ember's pprof of alloc_space has another total"
echo "ok units: report, SVG and ember's own pprof"

# Go's legacy text heap profile (debug=1) is no format ember reads: refused with
# exit 7 and one line naming the format it looked like and the first bad line.
rc=0
"$EMBER" report "$T/heap-legacy.txt" >/dev/null 2>"$T/legacy.err" || rc=$?
[ "$rc" = 7 ] || fail "legacy text heap profile: exit $rc, expected 7"
[ "$(wc -l <"$T/legacy.err")" = 1 ] &&
	grep -q '^ember: .*heap-legacy.txt: looks like folded stacks, but line 1 is not "STACK COUNT" .*: "heap profile: ' \
		"$T/legacy.err" || { cat "$T/legacy.err" >&2; fail "legacy text heap profile: not one clear line"; }
echo "ok Go's legacy text heap profile refused: $(cat "$T/legacy.err")"
