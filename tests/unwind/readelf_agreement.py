#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks ember's unwind table rows against `readelf --debug-dump=frames-interp`.

Usage: readelf_agreement.py DUMP_TOOL ELF...   (label unit: no BPF needed)
For every row readelf prints (and every FDE that only inherits its CIE's
initial rule), ember's table at that address must give the same CFA rule,
the same rules for the caller's rbp and rbx (rbx may be "unknown" where both are
saved and their offsets do not fit the row's packed byte), and the return
address at CFA-8, in rdi (vfork), or the outermost-frame marker where readelf
says the return address is undefined.
"""
import bisect
import re
import subprocess
import sys

NONE, RSP, RBP, PLT, SIGNAL, END, UNSUPPORTED, RBX = range(8)
RSP_RA_REG = 11
SAME, CFA_OFFSET, RBP_UNSUPPORTED = range(3)


def ember_rows(tool, path):
    out = subprocess.run([tool, path], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        pc, kind, off, rkind, roff, xkind, xoff = line.split()
        rows.append((int(pc, 16), int(kind), int(off), int(rkind), int(roff), int(xkind),
                     int(xoff)))
    return rows


def readelf_rows(path):
    """Yields (start, end, cfa, rbp, rbx, ra, signal) for every rule readelf shows."""
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
                yield (lo, hi, row.get("CFA"), row.get("rbp"), row.get("rbx"), row.get("ra"),
                       "S" in aug)


def reg_rule(v):
    """(kind, offset in 8-byte units) of readelf's rule for a callee-saved register."""
    # readelf prints "u" both for DW_CFA_undefined and for "no rule yet"; the x86-64
    # ABI (and libdw) make a callee-saved register without a rule "same value".
    if v in (None, "s", "u"):
        return SAME, 0
    m = re.match(r"^c(-?\d+)$", v)
    if m and int(m.group(1)) % 8 == 0 and -128 <= int(m.group(1)) // 8 <= 127:
        return CFA_OFFSET, int(m.group(1)) // 8
    return RBP_UNSUPPORTED, None


def expected(cfa, rbp, rbx, ra, signal):
    if signal:
        return ("kind", SIGNAL)
    if ra == "u":
        return ("kind", END)
    if ra not in ("c-8", "r5 (rdi)"):
        return ("kind", UNSUPPORTED)
    if cfa == "exp":
        return ("exp",)
    m = re.match(r"^(rsp|rbp|rbx)\+(\d+)$", cfa or "")
    if not m:
        return ("kind", UNSUPPORTED)
    kind = {"rsp": RSP, "rbp": RBP, "rbx": RBX}[m.group(1)]
    rk, ro = reg_rule(rbp)
    xk, xo = reg_rule(rbx)
    if ra != "c-8":
        if kind != RSP or rk != SAME or xk != SAME:
            return ("kind", UNSUPPORTED)
        return ("ra_reg", int(m.group(2)))
    return ("rule", kind, int(m.group(2)), rk, ro, xk, xo)


def check_file(tool, path):
    rows = ember_rows(tool, path)
    pcs = [r[0] for r in rows]
    checked = 0
    for lo, hi, cfa, rbp, rbx, ra, signal in readelf_rows(path):
        want = expected(cfa, rbp, rbx, ra, signal)
        for pc in sorted({lo, (lo + hi - 1) // 2, hi - 1}):
            k = bisect.bisect_right(pcs, pc) - 1
            if k < 0:
                sys.exit("%s: no ember row covers %#x (readelf: CFA %s)" % (path, pc, cfa))
            _, kind, off, rkind, roff, xkind, xoff = rows[k]
            if want[0] == "kind":
                ok = kind == want[1]
            elif want[0] == "exp":
                ok = kind in (PLT, SIGNAL, UNSUPPORTED)
            elif want[0] == "ra_reg":
                ok = (kind, off, roff) == (RSP_RA_REG, want[1], 5)
            else:
                _, wk, wo, wrk, wro, wxk, wxo = want
                ok = (kind, off, rkind) == (wk, wo, wrk) and (wrk != CFA_OFFSET or roff == wro)
                # Both saved, offsets not packable into nibbles: rbx is given up.
                packable = wrk != CFA_OFFSET or (-16 <= wro <= -1 and -16 <= wxo <= -1)
                if wxk == CFA_OFFSET and xkind == RBP_UNSUPPORTED and not packable:
                    pass
                else:
                    ok = ok and xkind == wxk and (wxk != CFA_OFFSET or xoff == wxo)
            if not ok:
                sys.exit("%s: at %#x readelf says CFA=%s rbp=%s rbx=%s ra=%s, ember row %r" %
                         (path, pc, cfa, rbp, rbx, ra, rows[k]))
            checked += 1
    if checked == 0:
        sys.exit("%s: readelf printed no rows" % path)
    print("%s: %d addresses agree (%d ember rows)" % (path, checked, len(rows)))


if __name__ == "__main__":
    for elf in sys.argv[2:]:
        check_file(sys.argv[1], elf)
