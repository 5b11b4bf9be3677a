#!/bin/bash
# SPDX-License-Identifier: MIT
# `ember symbolize` end to end: --elf output equals eu-addr2line -i -f -C (columns
# and eu-addr2line's abbreviated first line aside), addresses from stdin, --pid on
# a live fixture, and the documented exit codes for bad input.
set -euo pipefail
: "${EMBER:?}" "${EMBER_FIXTURES:?}"
command -v eu-addr2line >/dev/null || { echo "SKIP: eu-addr2line missing"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT

fx=$EMBER_FIXTURES/sym_c_gcc_dwarf5
# Every 37th byte of work_a..main's neighbourhood: inline chains included.
addrs=$(nm "$fx" | awk '$3 == "work_a" || $3 == "work_b" || $3 == "main" {print $1}' |
	while read -r a; do for d in 0 5 37 74 111; do printf '0x%x\n' $((0x$a + d)); done; done)

# eu-addr2line's first line names the innermost function, then " inlined at"
# with a chain computed differently; compare the innermost name only.
normalize() { sed -E 's/ inlined (at|in) .*//; s/^(.*):([0-9]+):[0-9]+$/\1:\2/'; }
# shellcheck disable=SC2086
eu-addr2line -i -f -C -e "$fx" $addrs | normalize > "$tmp/eu"
# shellcheck disable=SC2086
"$EMBER" symbolize --elf "$fx" $addrs | normalize > "$tmp/ember"
diff -u "$tmp/eu" "$tmp/ember" || fail "ember symbolize --elf differs from eu-addr2line"
echo "$addrs" | "$EMBER" symbolize --elf "$fx" | normalize > "$tmp/stdin"
cmp -s "$tmp/ember" "$tmp/stdin" || fail "addresses from stdin give other frames"

# --pid: a runtime address of work_a in a running PIE fixture.
"$fx" --ms 20000 > /dev/null &
pid=$!
for _ in $(seq 100); do grep -q sym_c_gcc_dwarf5 "/proc/$pid/maps" 2>/dev/null && break; sleep 0.05; done
base=$(awk '/sym_c_gcc_dwarf5/ && $3 == "00000000" {print $1; exit}' "/proc/$pid/maps" | cut -d- -f1)
off=$(nm "$fx" | awk '$3 == "work_a" {print $1}')
addr=$(printf '0x%x' $((0x$base + 0x$off)))
out=$("$EMBER" symbolize --pid "$pid" "$addr")
echo "$out" | grep -qx 'work_a' || fail "--pid $pid $addr: $out"
echo "$out" | grep -q 'sym_inline.c:' || fail "--pid: no file:line: $out"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

# Exit codes (tools/commands.h).
rc=0; "$EMBER" symbolize 0x1000 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "no --elf/--pid: exit $rc, want 2"
rc=0; "$EMBER" symbolize --elf /nonexistent/file 0x1000 >/dev/null 2>&1 || rc=$?
[ "$rc" = 7 ] || fail "unreadable --elf: exit $rc, want 7"
rc=0; "$EMBER" symbolize --pid 999999999 0x1000 >/dev/null 2>&1 || rc=$?
[ "$rc" = 5 ] || fail "missing --pid: exit $rc, want 5"
rc=0; "$EMBER" symbolize --elf "$fx" zz >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad address: exit $rc, want 2"
# A non-ELF file still answers, with a placeholder.
echo "not elf" > "$tmp/notelf"
"$EMBER" symbolize --elf "$tmp/notelf" 0x10 | head -1 | grep -qx 'notelf+0x10' || fail "non-ELF placeholder"
echo PASS
