#!/bin/bash
# SPDX-License-Identifier: MIT
# Golden-file tests of every writer: runs ember on tests/output/data and
# compares byte for byte with tests/output/expected.
#
#   golden.sh CASE        one case (folded, svg, svg-options, pprof,
#                         pprof-roundtrip, speedscope, report, diff-svg,
#                         diff-folded, perf-script, zstd)
#
# Regenerate after an intended output change (then review `git diff`):
#   EMBER=build/ember EMBER_REGEN=1 bash tests/output/golden.sh all
# pprof is compared after gunzip (the protobuf bytes), so a zlib upgrade does
# not break it; SVGs are also checked to be well-formed XML with xmllint.
source "$(dirname "$0")/lib.sh"

case_cmd() {
	local name=$1 out=$2
	case $name in
	folded) "$EMBER" convert "$DATA/sample.folded" -o - >"$out" ;;
	svg) "$EMBER" convert "$DATA/sample.folded" -o "$T/x.svg" && cat "$T/x.svg" >"$out" ;;
	svg-options)
		"$EMBER" convert "$DATA/sample.folded" -o "$T/x.svg" --title 'Options <&> "test"' \
			--subtitle 'inverted, reversed, hashed' --width 800 --minwidth 2 --colors mem \
			--hash --reverse --inverted --countname 'ms' && cat "$T/x.svg" >"$out" ;;
	pprof)
		"$EMBER" convert "$DATA/sample.folded" -o "$T/x.pb.gz" && gzip -dc "$T/x.pb.gz" >"$out" ;;
	pprof-roundtrip)
		"$EMBER" convert "$DATA/sample.folded" -o "$T/x.pb.gz" &&
			"$EMBER" convert "$T/x.pb.gz" -o - >"$out" ;;
	speedscope) "$EMBER" convert "$DATA/sample.folded" -o "$T/x.json" && cat "$T/x.json" >"$out" ;;
	report)
		{
			"$EMBER" report "$DATA/sample.folded"
			"$EMBER" report --sort cum -n 5 "$DATA/sample.folded"
			"$EMBER" report --focus 'compute|io' -n 8 "$DATA/sample.folded"
		} >"$out" ;;
	diff-svg)
		"$EMBER" diff "$DATA/sample.folded" "$DATA/after.folded" -o "$T/d.svg" &&
			cat "$T/d.svg" >"$out" ;;
	diff-folded)
		{
			"$EMBER" diff --folded "$DATA/sample.folded" "$DATA/after.folded"
			echo "--- --no-normalize"
			"$EMBER" diff --folded --no-normalize "$DATA/sample.folded" "$DATA/after.folded"
		} >"$out" ;;
	perf-script) "$EMBER" convert - -o - --per-pid <"$DATA/perf-script.txt" >"$out" ;;
	zstd)
		"$EMBER" convert "$DATA/sample.folded" -o "$T/x.folded.zst"
		zstd -q -dc "$T/x.folded.zst" >"$out" ;;
	*) fail "unknown case $name" ;;
	esac
}

expected_name() {
	case $1 in
	svg | svg-options | diff-svg) echo "$1.svg" ;;
	pprof) echo "pprof.pb" ;;
	speedscope) echo "speedscope.json" ;;
	zstd) echo "folded.txt" ;;
	*) echo "$1.txt" ;;
	esac
}

run_case() {
	local name=$1 got=$T/$1.out exp
	exp=$EXPECTED/$(expected_name "$1")
	case_cmd "$name" "$got" || fail "$name: ember failed"
	case $name in
	svg | svg-options | diff-svg)
		if command -v xmllint >/dev/null; then
			xmllint --noout "$got" || fail "$name: not well-formed XML"
		fi ;;
	esac
	if [ "${EMBER_REGEN:-}" = 1 ]; then
		cp "$got" "$exp"
		echo "regenerated $exp"
		return
	fi
	[ -f "$exp" ] || fail "$name: $exp missing (regenerate: EMBER_REGEN=1 $0 $name)"
	if ! cmp -s "$got" "$exp"; then
		diff -u "$exp" "$got" | head -40 >&2 || true
		fail "$name: output differs from $exp (if intended: EMBER_REGEN=1 $0 $name)"
	fi
	echo "ok $name"
}

if [ "${1:-all}" = all ]; then
	for c in folded svg svg-options pprof pprof-roundtrip speedscope report diff-svg diff-folded \
		perf-script zstd; do
		run_case "$c"
	done
else
	run_case "$1"
fi
