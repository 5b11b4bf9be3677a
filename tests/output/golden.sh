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
# not break it. Every output is validated before it is compared or written:
# every command of the case exited 0, the output is not empty, SVGs are
# well-formed XML (xmllint, Debian libxml2-utils) and the other formats parse.
# A missing tool is a failure, not a skip.
source "$(dirname "$0")/lib.sh"

# A tool the checks need: missing is a failure (tools/scripts/install-deps.sh installs it).
require() {
	command -v "$1" >/dev/null 2>&1 ||
		fail "$1 is not installed (Debian $2; tools/scripts/install-deps.sh)"
}

# Runs one command of a case and fails the case unless it exits 0. case_cmd
# checks every command this way: `set -e` alone would not do, as it is off
# in any function or subshell whose status is itself tested.
must() {
	local rc=0
	"$@" || rc=$?
	[ "$rc" -eq 0 ] || fail "${CASE:-?}: '$*' exited $rc"
}

case_cmd() {
	local name=$1 out=$2
	case $name in
	folded) must "$EMBER" convert "$DATA/sample.folded" -o - >"$out" ;;
	svg)
		must "$EMBER" convert "$DATA/sample.folded" -o "$T/x.svg"
		must cat "$T/x.svg" >"$out" ;;
	svg-options)
		must "$EMBER" convert "$DATA/sample.folded" -o "$T/x.svg" --title 'Options <&> "test"' \
			--subtitle 'inverted, reversed, hashed' --width 800 --minwidth 2 --colors mem \
			--hash --reverse --inverted --countname 'ms'
		must cat "$T/x.svg" >"$out" ;;
	pprof)
		must "$EMBER" convert "$DATA/sample.folded" -o "$T/x.pb.gz"
		must gzip -dc "$T/x.pb.gz" >"$out" ;;
	pprof-roundtrip)
		must "$EMBER" convert "$DATA/sample.folded" -o "$T/x.pb.gz"
		must "$EMBER" convert "$T/x.pb.gz" -o - >"$out" ;;
	speedscope)
		must "$EMBER" convert "$DATA/sample.folded" -o "$T/x.json"
		must cat "$T/x.json" >"$out" ;;
	report)
		{
			must "$EMBER" report "$DATA/sample.folded"
			must "$EMBER" report --sort cum -n 5 "$DATA/sample.folded"
			must "$EMBER" report --focus 'compute|io' -n 8 "$DATA/sample.folded"
		} >"$out" ;;
	diff-svg)
		must "$EMBER" diff "$DATA/sample.folded" "$DATA/after.folded" -o "$T/d.svg"
		must cat "$T/d.svg" >"$out" ;;
	diff-folded)
		{
			must "$EMBER" diff --folded "$DATA/sample.folded" "$DATA/after.folded"
			echo "--- --no-normalize"
			must "$EMBER" diff --folded --no-normalize "$DATA/sample.folded" "$DATA/after.folded"
		} >"$out" ;;
	perf-script) must "$EMBER" convert - -o - --per-pid <"$DATA/perf-script.txt" >"$out" ;;
	zstd)
		require zstd zstd
		must "$EMBER" convert "$DATA/sample.folded" -o "$T/x.folded.zst"
		must zstd -q -dc "$T/x.folded.zst" >"$out" ;;
	empty)
		# An empty profile gives valid, empty outputs in every format.
		: >"$T/e.folded"
		must "$EMBER" convert "$T/e.folded" -o "$T/e.svg"
		valid_svg "$T/e.svg" 0 || fail "empty: $T/e.svg is not a valid SVG"
		must "$EMBER" convert "$T/e.folded" -o "$T/e.pb.gz"
		must "$EMBER" convert "$T/e.folded" -o "$T/e.json"
		{
			echo "--- folded"
			must "$EMBER" convert "$T/e.pb.gz" -o -
			echo "--- speedscope"
			must cat "$T/e.json"
			echo "--- report"
			must "$EMBER" report "$T/e.pb.gz"
			echo "--- diff --folded"
			must "$EMBER" diff --folded "$T/e.folded" "$T/e.pb.gz"
		} >"$out" ;;
	errors)
		# Bad input and bad flags: one clear line each and the documented exit
		# code. The subshell's own commands go through must; its status is checked.
		(
			must cd "$T"
			must printf 'a;b 1\nno count here\na;;c 2\n' >"$T/bad.folded"
			must head -c 60 "$EXPECTED/pprof.pb" >"$T/truncated.pb"
			must gzip -n "$T/truncated.pb"
			must printf '\x1f\x8b\x08\x00corrupt' >"$T/corrupt.pb.gz"
			# Input of no readable format: each refused with what it looked like.
			must printf '# captured on: Tue Dec  1 2026\nheap profile: 1: 2 [3: 4] @ heap\n' \
				>"$T/legacy.txt"
			must printf -- '--- symbol\nbinary=/bin/x\n0x1234 main\n---\n' >"$T/legacy.sym"
			must head -c 50 "$EXPECTED/pprof.pb" >"$T/truncated-raw.pb"
			must cp "$EXPECTED/pprof.pb" "$T/ok.pb"
			must "$EMBER" convert "$DATA/sample.folded" -o "$T/ok.json"
			must head -c 70 "$T/ok.json" >"$T/cut.json"
			must printf '\x7fELF\x02\x01\x01\x00\x00binary' >"$T/binary.bin"
			local ev='{"shared":{"frames":[{"name":"a"},{"name":"b"}]},"profiles":[{"type":'
			ev+='"evented","unit":"milliseconds","events":[{"type":"O","frame":0,"at":0},'
			must printf '%s{"type":"O","frame":1,"at":2},{"type":"C","frame":1,"at":5}]}]}' \
				"$ev" >"$T/unclosed.json"
			must printf '%s{"type":"O","frame":1,"at":2},{"type":"C","frame":0,"at":5},%s' \
				"$ev" '{"type":"C","frame":1,"at":6}]}]}' >"$T/mismatched.json"
			must printf '%s{"type":"O","frame":1,"at":2},{"type":"C","frame":1,"at":1},%s' \
				"$ev" '{"type":"C","frame":0,"at":6}]}]}' >"$T/backwards.json"
			for cmd in "convert bad.folded -o ok.folded" "convert --strict bad.folded -o x.svg" \
				"convert truncated.pb.gz -o x.svg" "convert corrupt.pb.gz -o x.svg" \
				"report missing.folded" "convert bad.folded -o /nonexistent/x.svg" \
				"convert bad.folded -o x.unknown" "convert --width 10 bad.folded -o x.svg" \
				"report --sort sideways bad.folded" "report --focus ( bad.folded" \
				"diff bad.folded" "convert --colors plaid bad.folded -o x.svg" \
				"report legacy.txt" "report --lenient legacy.txt" "report --strict legacy.txt" \
				"convert legacy.sym -o x.svg" "report truncated-raw.pb" "report cut.json" \
				"report binary.bin" "report unclosed.json" "report mismatched.json" \
				"report backwards.json" \
				"report --sample-index nosuch ok.pb" "report --sample-index 7 ok.pb"; do
				echo "\$ ember $cmd"
				rc=0
				# shellcheck disable=SC2086,SC2069 # stderr into the output, stdout dropped
				"$EMBER" $cmd 2>&1 >/dev/null || rc=$?
				echo "exit $rc"
			done
		) >"$out" || fail "errors: the commands could not be run" ;;
	*) fail "unknown case $name" ;;
	esac
}

# Whether @1 is a well-formed SVG document with more than @2 <rect> elements.
valid_svg() {
	local rects
	xmllint --noout "$1" || return 1
	[ "$(xmllint --xpath 'name(/*)' "$1")" = svg ] || return 1
	rects=$(xmllint --xpath 'count(//*[local-name()="rect"])' "$1") || return 1
	[ "$rects" -gt "$2" ]
}

# Whether file @1 is JSON with speedscope's schema and at least one profile.
valid_speedscope() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
sys.exit(0 if d.get("$schema", "").endswith("speedscope.app/file-format-schema.json")
	and len(d.get("profiles", [])) >= 1 else 1)' "$1"
}

# Whether every line of @1 matches the extended regexp @2 and the file ends in a newline.
all_lines() {
	[ -z "$(tail -c 1 "$1")" ] && ! LC_ALL=C grep -qvE "$2" "$1"
}

# Checks output @2 of case @1 before it is compared or regenerated: not empty,
# and of its format (as far as a shell script can parse it). A crashed or
# truncated writer, a bare "<svg>" or a report cut short fails here.
validate() {
	local name=$1 got=$2 n
	[ -s "$got" ] || fail "$name: empty output"
	case $name in
	svg | svg-options | diff-svg)
		valid_svg "$got" 1 || fail "$name: not a well-formed SVG with frames" ;;
	folded | pprof-roundtrip | perf-script | zstd)
		all_lines "$got" '^.+ [0-9]+$' || fail "$name: not folded stacks ('STACK COUNT' lines)" ;;
	diff-folded)
		all_lines "$got" '^(.+ [0-9]+ [0-9]+|--- --no-normalize)$' ||
			fail "$name: not 'STACK BEFORE AFTER' lines"
		[ "$(grep -c -- '^--- --no-normalize$' "$got")" = 1 ] || fail "$name: second diff missing" ;;
	pprof)
		# Protobuf bytes: ember's reader must decode them back into stacks.
		must gzip -c "$got" >"$T/check.pb.gz"
		must "$EMBER" convert "$T/check.pb.gz" -o "$T/check.folded"
		all_lines "$T/check.folded" '^.+ [0-9]+$' && [ -s "$T/check.folded" ] ||
			fail "$name: does not decode to stacks" ;;
	speedscope)
		valid_speedscope "$got" || fail "$name: not a speedscope JSON file" ;;
	report)
		all_lines "$got" '^(Total: [0-9]+ samples; .*|Focus: .*| +flat +flat% +sum% +cum +cum% +function| +[0-9]+ +[0-9.]+% +[0-9.]+% +[0-9]+ +[0-9.]+% +.+)$' ||
			fail "$name: not report lines"
		[ "$(grep -c '^Total: ' "$got")" = 3 ] || fail "$name: not three reports" ;;
	empty)
		[ "$(grep -- '^--- ' "$got" | tr '\n' '|')" = \
			"--- folded|--- speedscope|--- report|--- diff --folded|" ] ||
			fail "$name: sections missing"
		sed -n '/^--- speedscope$/,/^--- report$/p' "$got" | sed '1d;$d' >"$T/check.json"
		valid_speedscope "$T/check.json" || fail "$name: speedscope section is not speedscope JSON"
		grep -q '^Total: 0 samples' "$got" || fail "$name: report of no samples missing" ;;
	errors)
		# One block per command; an exit of 126 or more is a crash or signal.
		n=$(grep -c '^\$ ember ' "$got")
		[ "$n" = 24 ] && [ "$(grep -cE '^exit [0-9]+$' "$got")" = "$n" ] ||
			fail "$name: not one exit status per command"
		! grep -qE '^exit (12[6-9]|1[3-9][0-9]|2[0-9][0-9])$' "$got" ||
			fail "$name: a command crashed or was killed"
		awk '/^\$ ember /{ if (cmd && !msg) exit 1; cmd = 1; msg = 0; next }
			/^ember: /{ msg = 1 } END { exit (cmd && msg) ? 0 : 1 }' "$got" ||
			fail "$name: a command printed no 'ember: ' message" ;;
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
	CASE=$name
	exp=$EXPECTED/$(expected_name "$1")
	case $name in
	svg | svg-options | diff-svg | empty) require xmllint libxml2-utils ;;
	esac
	case $name in
	speedscope | empty) require python3 python3 ;;
	esac
	case_cmd "$name" "$got"
	# The version ember writes into SVG comments and speedscope's "exporter"
	# must not turn every release into a golden-file change.
	case $name in
	svg | svg-options | diff-svg | speedscope | empty)
		sed -E 's/ember [0-9]+\.[0-9]+\.[0-9]+/ember VERSION/g' "$got" >"$got.v"
		mv "$got.v" "$got" ;;
	esac
	validate "$name" "$got"
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
