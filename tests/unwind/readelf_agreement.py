#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks ember's unwind table rows against `readelf --debug-dump=frames-interp`.

Usage: readelf_agreement.py DUMP_TOOL ELF...   (label unit: no BPF needed)
For every row readelf prints (and every FDE that only inherits its CIE's
initial rule), ember's table at that address must give the same CFA rule,
the same rule for the caller's rbp, and the return address at CFA-8 (or the
outermost-frame marker where readelf says the return address is undefined).
"""
import bisect
import re
import subprocess
import sys

NONE, RSP, RBP, PLT, SIGNAL, END, UNSUPPORTED = range(7)
SAME, CFA_OFFSET, RBP_UNSUPPORTED = range(3)


def ember_rows(tool, path):
    out = subprocess.run([tool, path], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        pc, kind, off, rkind, roff = line.split()
        rows.append((int(pc, 16), int(kind), int(off), int(rkind), int(roff)))
    return rows


def readelf_rows(path):
    """Yields (start, end, cfa, rbp, ra, signal) for every rule readelf shows."""
    # readelf exits 1 on libc (it cannot follow the debug link) yet prints every table.
    text = subprocess.run(["readelf", "--debug-dump=frames-interp", path],
                          capture_output=True, text=True).stdout
    cies = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m_cie = re.match(r"^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ CIE \"([^\"]*)\"", line)
        m_fde = re.match(r"^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ FDE cie=([0-9a-f]+) "
                         r"pc=([0-9a-f]+)\.\.([0-9a-f]+)", line)
        i += 1
        if not (m_cie or m_fde):
            continue
        table = []
        cols = None
        # A table is a "LOC CFA ..." header and rows up to the next blank line.
        if i < len(lines) and lines[i].split()[:1] == ["LOC"]:
            cols = lines[i].split()
            i += 1
            while i < len(lines) and lines[i].strip():
                # "r10 (r10)" (register rule) is one value with a space in it.
                table.append(dict(zip(cols, re.findall(r"r\d+ \(\w+\)|\S+", lines[i]))))
                i += 1
        if m_cie:
            cies[m_cie.group(1)] = (m_cie.group(2), table[0] if table else {})
            continue
        aug, initial = cies[m_fde.group(2)]
        start, end = int(m_fde.group(3), 16), int(m_fde.group(4), 16)
        if not table:
            table = [dict(initial, LOC="%x" % start)]
        for k, row in enumerate(table):
            lo = int(row["LOC"], 16)
            hi = int(table[k + 1]["LOC"], 16) if k + 1 < len(table) else end
            if hi > lo:
                yield lo, hi, row.get("CFA"), row.get("rbp"), row.get("ra"), "S" in aug


def expected(cfa, rbp, ra, signal):
    if signal:
        return ("kind", SIGNAL)
    if ra == "u":
        return ("kind", END)
    if ra != "c-8":
        return ("kind", UNSUPPORTED)
    if cfa == "exp":
        return ("exp",)
    m = re.match(r"^(rsp|rbp)\+(\d+)$", cfa or "")
    if not m:
        return ("kind", UNSUPPORTED)
    kind = RSP if m.group(1) == "rsp" else RBP
    # readelf prints "u" both for DW_CFA_undefined and for "no rule yet"; the x86-64
    # ABI (and libdw) make a callee-saved register without a rule "same value".
    if rbp in (None, "s", "u"):
        rk, ro = SAME, 0
    else:
        mr = re.match(r"^c(-?\d+)$", rbp)
        rk, ro = (CFA_OFFSET, int(mr.group(1)) // 8) if mr else (RBP_UNSUPPORTED, None)
    return ("rule", kind, int(m.group(2)), rk, ro)


def check_file(tool, path):
    rows = ember_rows(tool, path)
    pcs = [r[0] for r in rows]
    checked = 0
    for lo, hi, cfa, rbp, ra, signal in readelf_rows(path):
        want = expected(cfa, rbp, ra, signal)
        for pc in sorted({lo, (lo + hi - 1) // 2, hi - 1}):
            k = bisect.bisect_right(pcs, pc) - 1
            if k < 0:
                sys.exit("%s: no ember row covers %#x (readelf: CFA %s)" % (path, pc, cfa))
            _, kind, off, rkind, roff = rows[k]
            if want[0] == "kind":
                ok = kind == want[1]
            elif want[0] == "exp":
                ok = kind in (PLT, SIGNAL, UNSUPPORTED)
            else:
                _, wk, wo, wrk, wro = want
                ok = (kind, off, rkind) == (wk, wo, wrk) and (wrk != CFA_OFFSET or roff == wro)
            if not ok:
                sys.exit("%s: at %#x readelf says CFA=%s rbp=%s ra=%s, ember row %r" %
                         (path, pc, cfa, rbp, ra, rows[k]))
            checked += 1
    if checked == 0:
        sys.exit("%s: readelf printed no rows" % path)
    print("%s: %d addresses agree (%d ember rows)" % (path, checked, len(rows)))


if __name__ == "__main__":
    for elf in sys.argv[2:]:
        check_file(sys.argv[1], elf)
