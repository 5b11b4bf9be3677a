#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ember query` over synthetic agent windows (tools/bench/gen_windows.py writes
# pprof files named and shaped as the agent's): selection by time and labels,
# totals, group-by, errors, the index file. Usage: history_tests.sh CASE.
source "$(dirname "$0")/../output/lib.sh"
GEN="python3 $SRC/tools/bench/gen_windows.py"
START=1796133600 # 2026-12-01T14:00:00Z
case_name=${1:?usage: history_tests.sh CASE}

# Sum of the counts of folded text on stdin.
total() { awk '{ s += $NF } END { printf "%d\n", s }'; }

# Sum over the windows of $1, each read on its own.
windows_total() {
	local f s=0
	for f in "$1"/ember-*.pb.gz; do
		s=$((s + $("$EMBER" convert "$f" -o - | total)))
	done
	echo "$s"
}

# Runs ember, keeping stderr in $T/err and the exit status in $rc.
run() {
	set +e
	"$EMBER" "$@" 2>"$T/err"
	rc=$?
	set -e
}

gen() { $GEN "$@" >/dev/null; }

case $case_name in
totals)
	gen "$T/d" --start $START --count 12 --stacks 120 --procs 4
	want=$(windows_total "$T/d")
	got=$("$EMBER" query "$T/d" -o - | total)
	[ "$got" = "$want" ] || fail "query total $got, windows sum to $want"
	# Again from the index (now present), and through pprof.
	[ -s "$T/d/.ember-index" ] || fail "no index written"
	# A window given twice (the directory twice, and one of its files) counts once.
	f=$(ls "$T"/d/ember-*.pb.gz | sed -n 2p)
	got=$("$EMBER" query "$T/d" "$T/d/" "$f" -o - | total)
	[ "$got" = "$want" ] || fail "inputs given twice: $got, want $want"
	"$EMBER" query "$T/d" -o "$T/all.pb.gz"
	got=$("$EMBER" convert "$T/all.pb.gz" -o - | total)
	[ "$got" = "$want" ] || fail "pprof total $got, windows sum to $want"
	# A FIFO (like /dev/null or /dev/stdout) is written in place, not replaced by a rename.
	mkfifo "$T/fifo"
	# (The reader gives up after 30 s: a FIFO replaced by a file has no writer.)
	timeout 30 cat "$T/fifo" >"$T/fifo_out" &
	"$EMBER" query "$T/d" -o "$T/fifo" --format folded
	wait || true
	[ -p "$T/fifo" ] || fail "the FIFO was replaced by a file"
	got=$(total <"$T/fifo_out")
	[ "$got" = "$want" ] || fail "FIFO total $got, want $want"
	# The merged pprof starts at the first window and lasts the sum of the windows.
	"$EMBER" report "$T/all.pb.gz" >/dev/null
	python3 - "$T/all.pb.gz" <<'PY'
import gzip, sys
data = gzip.decompress(open(sys.argv[1], "rb").read())
def fields(b):
    i = 0
    while i < len(b):
        k = 0; s = 0
        while True:
            c = b[i]; i += 1; k |= (c & 0x7f) << s; s += 7
            if c < 0x80: break
        f, w = k >> 3, k & 7
        if w == 0:
            v = 0; s = 0
            while True:
                c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
                if c < 0x80: break
            yield f, v
        elif w == 2:
            n = 0; s = 0
            while True:
                c = b[i]; i += 1; n |= (c & 0x7f) << s; s += 7
                if c < 0x80: break
            i += n
        else:
            raise SystemExit("unexpected wire type %d" % w)
got = dict((f, v) for f, v in fields(data) if f in (9, 10))
want = {9: 1796133600250000000, 10: 12 * 10000000000}
if got != want:
    raise SystemExit("time/duration %r, want %r" % (got, want))
PY
	;;
where)
	gen "$T/d" --start $START --count 6 --stacks 90 --procs 3
	all=$("$EMBER" query "$T/d" -o - | total)
	# proc1's samples: every line rooted at proc1, and all of them.
	"$EMBER" query "$T/d" -o "$T/all.folded"
	want=$(grep '^proc1;' "$T/all.folded" | total)
	[ "$want" -gt 0 ] || fail "no proc1 samples in the fixture"
	"$EMBER" query "$T/d" --where process_name=proc1 -o "$T/p1.folded"
	if grep -v '^proc1;' "$T/p1.folded"; then fail "--where process_name=proc1 kept others"; fi
	got=$(total <"$T/p1.folded")
	[ "$got" = "$want" ] || fail "proc1: $got, want $want"
	# A regex matches whole values; conditions are a conjunction.
	got=$("$EMBER" query "$T/d" --where 'process_name=~proc.*' -o - | total)
	want=$(grep -E '^proc[0-9]+;' "$T/all.folded" | total)
	[ "$got" = "$want" ] || fail "regex proc.*: $got, want $want"
	run query "$T/d" --where 'process_name=~roc1' -o -
	[ $rc = 8 ] || fail "a partial regex match should match nothing (exit $rc)"
	got=$("$EMBER" query "$T/d" --where process_name=proc1 --where host=synthetic-host -o - | total)
	[ "$got" = "$(total <"$T/p1.folded")" ] || fail "with host label: $got"
	run query "$T/d" --where process_name=proc1 --where pid=1000 -o -
	[ $rc = 8 ] || fail "proc1 with busy_main's pid should match nothing (exit $rc)"
	grep -q "no sample matches --where" "$T/err" || fail "message: $(cat "$T/err")"
	[ "$all" -gt "$got" ] || fail "filter kept everything"
	# Label sets in the index let a query skip windows without decoding them.
	"$EMBER" query "$T/d" --where host=elsewhere -v -o - 2>"$T/err" >/dev/null || true
	grep -q "6 left out by their labels, 0 merged, 0 decoded" "$T/err" ||
		fail "windows without the label were decoded: $(cat "$T/err")"
	run query "$T/d" --where novalue -o -
	[ $rc = 2 ] || fail "--where without = should be a usage error (exit $rc)"
	run query "$T/d" --where 'pid=~(' -o -
	[ $rc = 2 ] || fail "a bad regex should be a usage error (exit $rc)"
	;;
range)
	gen "$T/d" --start $START --count 10 --stacks 40 --procs 2
	# Windows start at :00.25, :10.25, ...; [14:00:10.25, 14:00:40.25) holds 3 of them.
	want=0
	for f in "$T"/d/ember-20261201T1400{1,2,3}0Z-*.pb.gz; do
		want=$((want + $("$EMBER" convert "$f" -o - | total)))
	done
	got=$("$EMBER" query "$T/d" --from 2026-12-01T14:00:10.25Z --to 2026-12-01T15:00:40.25+01:00 \
		-v -o - 2>"$T/err" | total)
	[ "$got" = "$want" ] || fail "range total $got, want $want"
	grep -q "10 windows, 3 in range" "$T/err" || fail "stats: $(cat "$T/err")"
	# A start 1 ns after the range's end is out; the start itself is in.
	got=$("$EMBER" query "$T/d" --from 2026-12-01T14:00:10.250000001Z \
		--to 2026-12-01T14:00:20.250000001Z -o - | total)
	want=$("$EMBER" convert "$T"/d/ember-20261201T140020Z-*.pb.gz -o - | total)
	[ "$got" = "$want" ] || fail "ns boundaries: $got, want $want"
	# Cold (no index) and warm decode only the windows in range.
	rm -f "$T/d/.ember-index"
	"$EMBER" query "$T/d" --from 2026-12-01T14:00:30Z --to 2026-12-01T14:00:50Z -v -o - \
		2>"$T/err" >/dev/null
	grep -q "2 in range, 0 left out by their labels, 2 merged, 2 decoded" "$T/err" ||
		fail "cold: $(cat "$T/err")"
	;;
group_by)
	gen "$T/d" --start $START --count 3 --stacks 60 --procs 3
	"$EMBER" query "$T/d" -o "$T/all.folded"
	"$EMBER" query "$T/d" --group-by pid -o "$T/g.folded"
	[ "$(total <"$T/g.folded")" = "$(total <"$T/all.folded")" ] || fail "group-by changed the total"
	cut -d';' -f1 "$T/g.folded" | sort -u >"$T/roots"
	printf 'pid=1000\npid=1017\npid=1034\n' | diff - "$T/roots" || fail "roots by pid"
	# Under each pid root, that pid's process, and its samples only.
	got=$(grep '^pid=1017;' "$T/g.folded" | total)
	want=$("$EMBER" query "$T/d" --where pid=1017 -o - | total)
	[ "$got" = "$want" ] || fail "pid=1017: $got, want $want"
	if grep '^pid=1017;' "$T/g.folded" | grep -v '^pid=1017;proc1;'; then
		fail "pid 1017's process frame is missing"
	fi
	"$EMBER" query "$T/d" --group-by container_id -o - | cut -d';' -f1 | sort -u | grep -qx 'container_id=?' ||
		fail "a missing label should root at KEY=?"
	;;
malformed_time)
	gen "$T/d" --start $START --count 2
	for t in yesterday 2026-12-01 2026-12-01T14:00:00 -1w 2026-02-30T00:00:00Z; do
		run query "$T/d" --from "$t" -o -
		[ $rc = 2 ] || fail "--from $t: exit $rc, want 2"
		[ "$(wc -l <"$T/err")" = 1 ] || fail "--from $t: not one line: $(cat "$T/err")"
		grep -q "invalid value for --from: '$t'" "$T/err" || fail "message: $(cat "$T/err")"
	done
	run query "$T/d" --to junk -o -
	[ $rc = 2 ] || fail "--to junk: exit $rc"
	run query "$T/d" --from now --to -1h -o -
	[ $rc = 2 ] || fail "--from after --to: exit $rc"
	;;
empty_range)
	gen "$T/d" --start $START --count 4
	run query "$T/d" --from 2026-12-02T00:00:00Z --to 2026-12-03T00:00:00Z -o "$T/out.folded"
	[ $rc = 8 ] || fail "empty range: exit $rc, want 8"
	grep -q "no window starts in \[2026-12-02T00:00:00.000Z, 2026-12-03T00:00:00.000Z)" "$T/err" ||
		fail "message lacks the range: $(cat "$T/err")"
	# Not indexed yet: the span comes from the file names, to the second.
	grep -Eq "holds 4 windows, starting from 2026-12-01T14:00:00\.[0-9]{3}Z to 2026-12-01T14:00:30\.[0-9]{3}Z" \
		"$T/err" || fail "message lacks the count and span: $(cat "$T/err")"
	# Indexed: to the ns of the windows' own starts.
	"$EMBER" query "$T/d" -o "$T/x.folded"
	run query "$T/d" --from 2026-12-02T00:00:00Z -o -
	grep -q "holds 4 windows, starting from 2026-12-01T14:00:00.250Z to 2026-12-01T14:00:30.250Z" \
		"$T/err" || fail "indexed span: $(cat "$T/err")"
	[ ! -e "$T/out.folded" ] || fail "an output was written"
	mkdir "$T/none"
	run query "$T/none" -o -
	[ $rc = 8 ] || fail "empty directory: exit $rc"
	run query "$T/missing" -o -
	[ $rc = 7 ] || fail "missing directory: exit $rc"
	;;
corrupt)
	gen "$T/d" --start $START --count 5
	want=$(windows_total "$T/d")
	bad=$(ls "$T"/d/ember-*.pb.gz | sed -n 3p)
	want=$((want - $("$EMBER" convert "$bad" -o - | total)))
	head -c 300 "$bad" >"$T/cut" && mv "$T/cut" "$bad"
	run query "$T/d" -o "$T/out.folded"
	[ $rc = 0 ] || fail "corrupt window: exit $rc: $(cat "$T/err")"
	[ "$(total <"$T/out.folded")" = "$want" ] || fail "total with the corrupt one skipped"
	grep -q "$(basename "$bad"): corrupt or unreadable window (.*); skipped" "$T/err" ||
		fail "not reported: $(cat "$T/err")"
	grep -q "note: 1 corrupt window skipped" "$T/err" || fail "not counted: $(cat "$T/err")"
	run query "$T/d" --strict -o "$T/strict.folded"
	[ $rc = 7 ] || fail "--strict: exit $rc, want 7"
	[ ! -e "$T/strict.folded" ] || fail "--strict wrote an output"
	;;
mixed_rates)
	gen "$T/d" --start $START --count 2 --freq 99
	gen "$T/d" --start $((START + 20)) --count 2 --freq 49 --seq 3
	run query "$T/d" -o -
	[ $rc = 7 ] || fail "mixed frequencies: exit $rc, want 7"
	grep -q "different frequencies: .* at 99 Hz, .* at 49 Hz" "$T/err" || fail "message: $(cat "$T/err")"
	# Either part alone is fine.
	"$EMBER" query "$T/d" --to 2026-12-01T14:00:20Z -o - >/dev/null
	"$EMBER" query "$T/d" --from 2026-12-01T14:00:20Z -o - >/dev/null
	# Off-CPU ns add up whatever the frequency, but not with CPU sample counts.
	gen "$T/o" --start $START --count 1 --freq 99 --kind offcpu
	gen "$T/o" --start $((START + 10)) --count 1 --freq 49 --kind offcpu --seq 2
	"$EMBER" query "$T/o" -o - >/dev/null
	gen "$T/o" --start $((START + 20)) --count 1 --seq 3
	run query "$T/o" -o -
	[ $rc = 7 ] || fail "cpu with off-cpu: exit $rc, want 7"
	grep -q "windows of different kinds: .* counts off_cpu/nanoseconds, .* counts samples/count" "$T/err" ||
		fail "message: $(cat "$T/err")"
	;;
old_windows)
	# Windows of older releases (no default_sample_type) with new ones: all count samples.
	$GEN "$T/d" --start $START --count 2 --old >"$T/gen"
	$GEN "$T/d" --start $((START + 20)) --count 2 --seq 3 >>"$T/gen"
	want=$(awk '{ s += $3 } END { print s }' "$T/gen")
	old=$T/d/$(awk 'NR == 1 { print $1 }' "$T/gen")
	got=$("$EMBER" convert "$old" -o - | total)
	[ "$got" = "$(awk 'NR == 1 { print $3 }' "$T/gen")" ] || fail "an old window reads $got"
	run query "$T/d" -o "$T/all.folded"
	[ $rc = 0 ] || fail "old and new windows: exit $rc: $(cat "$T/err")"
	[ "$(total <"$T/all.folded")" = "$want" ] || fail "total $(total <"$T/all.folded"), want $want"
	# A window of another kind is named by its own sample type, the others by theirs.
	"$EMBER" convert "$old" --sample-index cpu -o "$T/d/ember-20261201T140100Z-000009.pb.gz"
	run query "$T/d" -o -
	[ $rc = 7 ] || fail "cpu time with sample counts: exit $rc, want 7"
	grep -q "different kinds: .*000001.pb.gz counts samples/count, .*000009.pb.gz counts cpu/nanoseconds" "$T/err" ||
		fail "message: $(cat "$T/err")"
	;;
index)
	gen "$T/d" --start $START --count 4 --seed 1
	"$EMBER" query "$T/d" -o "$T/a.folded"
	head -1 "$T/d/.ember-index" | grep -qx 'ember-index 1' || fail "index header"
	[ "$(grep -c '^w' "$T/d/.ember-index")" = 4 ] || fail "index entries"
	# Warm: nothing to decode but what is merged.
	"$EMBER" query "$T/d" --from 2026-12-01T14:00:30Z -v -o - 2>"$T/err" >/dev/null
	grep -q "1 merged, 1 decoded" "$T/err" || fail "warm: $(cat "$T/err")"
	# Replace a window (new content, same name): the index entry is stale.
	w=$(ls "$T"/d/ember-*.pb.gz | sed -n 2p)
	$GEN "$T/new" --start $((START + 10)) --count 1 --seed 7 --seq 2 >/dev/null
	sleep 0.01
	cp "$T"/new/ember-*.pb.gz "$w"
	want=$(windows_total "$T/d")
	got=$("$EMBER" query "$T/d" -v -o - 2>"$T/err" | total)
	[ "$got" = "$want" ] || fail "after replace: $got, want $want"
	grep -q "4 merged, 4 decoded" "$T/err" || fail "stats: $(cat "$T/err")"
	# The stale entry was refreshed: a label-pruned query decodes nothing.
	"$EMBER" query "$T/d" --where host=elsewhere -v -o - 2>"$T/err" >/dev/null || true
	grep -q "0 decoded" "$T/err" || fail "index not refreshed: $(cat "$T/err")"
	# touch: same bytes, new mtime: decoded again, same result.
	touch "$w"
	"$EMBER" query "$T/d" --where host=elsewhere -v -o - 2>"$T/err" >/dev/null || true
	grep -q "1 decoded" "$T/err" || fail "touched window not refreshed: $(cat "$T/err")"
	# A corrupt index is ignored (reported) and rewritten.
	printf 'ember-index 1\nw\tbogus\n' >"$T/d/.ember-index"
	got=$("$EMBER" query "$T/d" -o - 2>"$T/err" | total)
	[ "$got" = "$want" ] || fail "with a corrupt index: $got, want $want"
	grep -q "index .* is corrupt" "$T/err" || fail "corrupt index not reported: $(cat "$T/err")"
	[ "$(grep -c '^w' "$T/d/.ember-index")" = 4 ] || fail "index not rewritten"
	# An index entry whose numbers lie (a forged total) is the index's word; but one for
	# a file that is gone is dropped.
	rm "$w"
	"$EMBER" query "$T/d" -o "$T/x.folded"
	[ "$(grep -c '^w' "$T/d/.ember-index")" = 3 ] || fail "entry of a removed window kept"
	;;
readonly)
	gen "$T/d" --start $START --count 3
	want=$(windows_total "$T/d")
	chmod 0555 "$T/d"
	chmod 0755 "$T"
	if [ "$(id -u)" = 0 ]; then
		command -v setpriv >/dev/null || skip "setpriv is needed to drop root"
		as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	else
		as_user() { "$@"; }
	fi
	got=$(as_user "$EMBER" query "$T/d" -o - 2>"$T/err" | total)
	[ "$got" = "$want" ] || fail "read-only directory: $got, want $want ($(cat "$T/err"))"
	[ ! -s "$T/err" ] || fail "messages for a read-only directory: $(cat "$T/err")"
	[ ! -e "$T/d/.ember-index" ] || fail "an index appeared in a read-only directory"
	chmod 0755 "$T/d"
	;;
commands)
	# report, convert and diff take the same selection and several inputs.
	gen "$T/d" --start $START --count 6 --stacks 50 --procs 3
	gen "$T/e" --start $((START + 60)) --count 2 --stacks 50 --procs 3 --seq 7 --seed 3
	a=$("$EMBER" query "$T/d" --to 2026-12-01T14:00:30Z -o - | total)
	b=$("$EMBER" query "$T/d" --from 2026-12-01T14:00:30Z -o - | total)
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ] || fail "fixture ranges empty"
	"$EMBER" report "$T/d" --from 2026-12-01T14:00:30Z -n 3 >"$T/report"
	grep -q "^Total: $b samples" "$T/report" || fail "report DIR --from: $(head -1 "$T/report")"
	"$EMBER" report "$T/d" --where process_name=proc1 >"$T/report"
	want=$("$EMBER" query "$T/d" --where process_name=proc1 -o - | total)
	grep -q "^Total: $want samples" "$T/report" || fail "report --where: $(head -1 "$T/report")"
	run report "$T/d" --from 2027-01-01T00:00:00Z
	[ $rc = 8 ] || fail "report of an empty range: exit $rc"
	# convert merges several inputs (two directories here).
	got=$("$EMBER" convert "$T/d" "$T/e" -o - | total)
	want=$(($("$EMBER" query "$T/d" -o - | total) + $("$EMBER" query "$T/e" -o - | total)))
	[ "$got" = "$want" ] || fail "convert DIR DIR: $got, want $want"
	got=$("$EMBER" convert "$T/d" --group-by process_name -o - | cut -d';' -f1 | sort -u | tr '\n' ' ')
	[ "$got" = "process_name=busy_main process_name=proc1 process_name=proc2 " ] ||
		fail "convert --group-by: $got"
	# A lone file without selection flags reads as before.
	f=$(ls "$T"/d/ember-*.pb.gz | head -1)
	"$EMBER" convert "$f" -o "$T/one.folded"
	[ -s "$T/one.folded" ] || fail "convert FILE"
	# diff DIR@FROM..TO DIR@FROM..TO: each side its own range.
	"$EMBER" diff --folded --no-normalize "$T/d@..2026-12-01T14:00:30Z" \
		"$T/d@2026-12-01T14:00:30Z.." -o "$T/diff.folded"
	got=$(awk '{ x += $(NF-1); y += $NF } END { print x, y }' "$T/diff.folded")
	[ "$got" = "$a $b" ] || fail "diff sides: $got, want $a $b"
	# --from/--to apply to a side without its own range.
	"$EMBER" diff --folded --no-normalize --from 2026-12-01T14:00:30Z "$T/d" \
		"$T/d@..2026-12-01T14:00:30Z" -o "$T/diff2.folded"
	got=$(awk '{ x += $(NF-1); y += $NF } END { print x, y }' "$T/diff2.folded")
	[ "$got" = "$b $a" ] || fail "diff with --from: $got, want $b $a"
	run diff "$T/d@yesterday.." "$T/d" -o -
	[ $rc = 2 ] || fail "diff with a bad range: exit $rc"
	;;
*)
	fail "unknown case $case_name"
	;;
esac
echo "ok $case_name"
