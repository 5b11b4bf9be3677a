#!/bin/bash
# SPDX-License-Identifier: MIT
# Golden-file tests of every writer: runs ember on tests/output/data and
# compares byte for byte with tests/output/expected.
#
#   golden.sh CASE        one case (folded, svg, svg-options, pprof,
#                         pprof-roundtrip, speedscope, report, diff-svg,
#                         diff-folded, perf-script, zstd, empty, errors)
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
	empty)
		# An empty profile gives valid, empty outputs in every format.
		: >"$T/e.folded"
		"$EMBER" convert "$T/e.folded" -o "$T/e.svg"
		if command -v xmllint >/dev/null; then
			xmllint --noout "$T/e.svg" || fail "empty SVG is not well-formed"
		fi
		"$EMBER" convert "$T/e.folded" -o "$T/e.pb.gz"
		"$EMBER" convert "$T/e.folded" -o "$T/e.json"
		{
			echo "--- folded"
			"$EMBER" convert "$T/e.pb.gz" -o -
			echo "--- speedscope"
			cat "$T/e.json"
			echo "--- report"
			"$EMBER" report "$T/e.pb.gz"
			echo "--- diff --folded"
			"$EMBER" diff --folded "$T/e.folded" "$T/e.pb.gz"
		} >"$out" ;;
	errors)
		# Bad input and bad flags: one clear line each and the documented exit code.
		(
			cd "$T"
			printf 'a;b 1\nno count here\na;;c 2\n' >bad.folded
			head -c 60 "$EXPECTED/pprof.pb" | gzip >truncated.pb.gz
			printf '\x1f\x8b\x08\x00corrupt' >corrupt.pb.gz
			for cmd in "convert bad.folded -o ok.folded" "convert --strict bad.folded -o x.svg" \
				"convert truncated.pb.gz -o x.svg" "convert corrupt.pb.gz -o x.svg" \
				"report missing.folded" "convert bad.folded -o /nonexistent/x.svg" \
				"convert bad.folded -o x.unknown" "convert --width 10 bad.folded -o x.svg" \
				"report --sort sideways bad.folded" "report --focus ( bad.folded" \
				"diff bad.folded" "convert --colors plaid bad.folded -o x.svg"; do
				echo "\$ ember $cmd"
				set +e
				# shellcheck disable=SC2086
				"$EMBER" $cmd 2>&1 >/dev/null
				echo "exit $?"
				set -e
			done
		) >"$out" ;;
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
	# The version ember writes into SVG comments and speedscope's "exporter"
	# must not turn every release into a golden-file change.
	case $name in
	svg | svg-options | diff-svg | speedscope | empty)
		sed -E 's/ember [0-9]+\.[0-9]+\.[0-9]+/ember VERSION/g' "$got" >"$got.v"
		mv "$got.v" "$got" ;;
	esac
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
		perf-script zstd empty errors; do
		run_case "$c"
	done
else
	run_case "$1"
fi
