#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`ember convert --symbolize` (and report --symbolize) on a pprof of bare addresses.

A generator (gen_unsym_pprof) writes what an agent with `symbolize = none` ships:
runtime addresses of a stripped PIE fixture in a mapping with its path, build-id,
start, limit and file offset, loaded at a made-up base. `ember convert --symbolize
--debug-dir` (the debug file in a build-id tree of a temporary directory, after an
empty root) must name every address as eu-addr2line names it in the unstripped
original: leaves at their address, callers (return addresses taken from objdump's
call instructions) at address - 1, inline chains as ember writes them (innermost
frames "_[i]"). An address of a mapping whose file exists nowhere stays unresolved
and is counted; one whose file is not at its path is found as ROOT/.build-id/xx/rest
(the build-id tree's binary). Without --symbolize nothing is named; without the debug root the
stripped file has no names for main and work_c.
Environment: EMBER, EMBER_FIXTURES, GEN (the generator).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

EMBER = os.environ["EMBER"]
FIX = os.environ["EMBER_FIXTURES"]
GEN = os.environ["GEN"]
BASE = 0x555555554000  # where the "process" loaded the fixture


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def text_segment(path):
    """(file offset, vaddr, memsz) of the executable PT_LOAD of @path."""
    for line in run(["readelf", "-lW", path]).stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD" and "E" in f[6:-1]:
            return int(f[1], 16), int(f[2], 16), int(f[5], 16)
    fail("no executable segment in " + path)


def functions(path):
    """{name: (vaddr, size)} of the sized functions nm lists."""
    out = {}
    for line in run(["nm", "-S", path]).stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tT" and not f[3].startswith("_"):
            out[f[3]] = (int(f[0], 16), int(f[1], 16))
    return out


def return_addresses(path, funcs):
    """Addresses right after each call instruction inside @funcs."""
    lines = run(["objdump", "-d", "--no-show-raw-insn", path]).stdout.splitlines()
    insns = []
    for line in lines:
        m = re.match(r"\s+([0-9a-f]+):\s+(\S+)", line)
        if m:
            insns.append((int(m.group(1), 16), m.group(2)))
    inside = lambda a: any(v <= a < v + s for v, s in funcs.values())
    return [insns[i + 1][0] for i in range(len(insns) - 1)
            if insns[i][1].startswith("call") and inside(insns[i][0])]


def addr2line(path, vaddrs):
    """Per vaddr, the function names eu-addr2line -i gives, innermost first."""
    out = run(["eu-addr2line", "-a", "-i", "-f", "-C", "-e", path] +
              ["0x%x" % a for a in vaddrs]).stdout.splitlines()
    groups, cur = [], None
    for i, line in enumerate(out):
        if re.fullmatch(r"0x[0-9a-f]+", line):
            cur = []
            groups.append(cur)
        elif cur is not None and not re.match(r"^(/|\?\?:)", line):
            cur.append(re.sub(r" inlined at .*", "", line))
    if len(groups) != len(vaddrs):
        fail("eu-addr2line gave %d answers for %d addresses" % (len(groups), len(vaddrs)))
    return groups


def folded_frames(names):
    """A location's frames in folded order (outermost first), inlines marked."""
    return [n + ("_[i]" if k < len(names) - 1 else "") for k, n in
            reversed(list(enumerate(names)))]


def read_folded(path):
    out = {}
    for line in open(path):
        stack, count = line.rstrip("\n").rsplit(" ", 1)
        root, _, rest = stack.partition(";")
        out[root] = rest
    return out


def main():
    if not shutil.which("eu-addr2line") or not shutil.which("objdump"):
        print("SKIP: eu-addr2line or objdump missing")
        sys.exit(77)
    orig = FIX + "/sym_c_gcc_dwarf5"
    stripped = FIX + "/sym_split/sym_c_gcc_dwarf5.stripped"
    bid = re.search(r"Build ID: ([0-9a-f]+)", run(["readelf", "-n", orig]).stdout).group(1)
    tmp = tempfile.mkdtemp(prefix="ember-convsym-")
    try:
        empty, root = tmp + "/empty", tmp + "/root"
        os.makedirs(empty)
        os.makedirs("%s/.build-id/%s" % (root, bid[:2]))
        shutil.copy("%s/sym_split/debugroot/.build-id/%s/%s.debug" % (FIX, bid[:2], bid[2:]),
                    "%s/.build-id/%s/%s.debug" % (root, bid[:2], bid[2:]))

        off, vaddr, memsz = text_segment(stripped)
        start = BASE + vaddr
        rt = lambda v: start + (v - vaddr)
        funcs = {n: functions(orig)[n] for n in ("main", "work_a", "work_b", "work_c")}
        leaves = [v + d for v, s in funcs.values() for d in range(0, s, max(1, s // 7))]
        rets = return_addresses(orig, funcs)
        if len(rets) < 3:
            fail("only %d call sites in the fixture" % len(rets))
        anchor = leaves[0]
        mappings = ["%s,%s,%x,%x,%x" % (stripped, bid, start, start + memsz, off),
                    "/nonexistent/libgone.so,%s,%x,%x,0" % ("ab" * 20, 0x7f0000001000,
                                                             0x7f0000002000)]
        stacks = ["1:%x" % rt(a) for a in leaves]
        stacks += ["1:%x,1:%x" % (rt(anchor), rt(r)) for r in rets]
        stacks.append("2:7f0000001234")

        pb = tmp + "/in.pb.gz"
        r = run([GEN, pb] + mappings + ["--"] + stacks)
        if r.returncode:
            fail("generator: " + r.stderr)

        # Expected: eu-addr2line on the unstripped original, callers at address - 1.
        names = addr2line(orig, leaves + [r - 1 for r in rets])
        want = {}
        for i, a in enumerate(leaves):
            want["s-%d" % (i + 1)] = ";".join(folded_frames(names[i]))
        leaf_frames = folded_frames(names[0])
        for j, _ in enumerate(rets):
            k = len(leaves) + j
            want["s-%d" % (k + 1)] = ";".join(folded_frames(names[k]) + leaf_frames)

        out = tmp + "/out.folded"
        r = run([EMBER, "convert", pb, "--symbolize", "--debug-dir", empty, "--debug-dir", root,
                 "--per-pid", "-o", out])
        if r.returncode:
            fail("convert --symbolize exited %d: %s" % (r.returncode, r.stderr))
        m = re.search(r"symbolized (\d+) of (\d+) locations \((\d+) unresolved", r.stderr)
        if not m:
            fail("no summary line: " + r.stderr)
        nr_locs = len(set(leaves) | {anchor}) + len(set(rets)) + 1
        if (int(m.group(2)), int(m.group(3))) != (nr_locs, 1):
            fail("summary %r, want %d locations, 1 unresolved" % (m.group(0), nr_locs))
        got = read_folded(out)
        bad = 0
        for k, v in want.items():
            if got.get(k) != v:
                bad += 1
                print("%s: ember %r, eu-addr2line %r" % (k, got.get(k), v), file=sys.stderr)
        if bad:
            fail("%d of %d stacks differ from eu-addr2line" % (bad, len(want)))
        gone = got.get("s-%d" % len(stacks), "")
        if "libgone" not in gone and "[unknown]" not in gone:
            fail("unresolved address shown as %r" % gone)

        # A binary not at its path (another host's): ROOT/.build-id/xx/rest holds it. In a
        # profile of its own, so that no other mapping has opened the same build already.
        shutil.copy(stripped, "%s/.build-id/%s/%s" % (root, bid[:2], bid[2:]))
        moved = tmp + "/moved.pb.gz"
        r = run([GEN, moved, "/nonexistent/moved/app,%s,%x,%x,%x" % (bid, start, start + memsz,
                                                                     off), "--"] +
                ["1:%x" % rt(a) for a in leaves[:5]])
        r2 = run([EMBER, "convert", moved, "--symbolize", "--debug-dir", root, "--per-pid", "-o",
                  tmp + "/moved.folded"])
        if r.returncode or r2.returncode:
            fail("moved binary: %s %s" % (r.stderr, r2.stderr))
        got_moved = read_folded(tmp + "/moved.folded")
        for i in range(5):
            k = "s-%d" % (i + 1)
            if got_moved.get(k) != want[k]:
                fail("binary from the build-id tree: %s is %r, want %r" %
                     (k, got_moved.get(k), want[k]))
        os.unlink("%s/.build-id/%s/%s" % (root, bid[:2], bid[2:]))

        # pprof out keeps the names (and the counter); folded from it is the same.
        r = run([EMBER, "convert", pb, "--symbolize", "--debug-dir", root, "-o",
                 tmp + "/out.pb.gz"])
        r2 = run([EMBER, "convert", tmp + "/out.pb.gz", "--per-pid", "-o", tmp + "/re.folded"])
        if r.returncode or r2.returncode or read_folded(tmp + "/re.folded") != got:
            fail("pprof written by convert --symbolize reads back differently: %s %s" %
                 (r.stderr, r2.stderr))
        raw = run(["gzip", "-dc", tmp + "/out.pb.gz"], errors="replace").stdout
        if "symbolize.unresolved=1" not in raw:
            fail("no symbolize.unresolved=1 comment in the pprof")

        # report --symbolize names the fixture's functions too.
        r = run([EMBER, "report", pb, "--symbolize", "--debug-dir", root])
        if r.returncode or "work_a" not in r.stdout:
            fail("report --symbolize: %d\n%s%s" % (r.returncode, r.stdout, r.stderr))

        # Without --symbolize: not one name. Without the root: the stripped file alone.
        r = run([EMBER, "convert", pb, "--debug-dir", root, "--per-pid", "-o",
                 tmp + "/plain.folded"])
        if r.returncode or any(f in open(tmp + "/plain.folded").read() for f in funcs):
            fail("convert without --symbolize named functions (exit %d)" % r.returncode)
        if "--debug-dir has no effect without --symbolize" not in r.stderr:
            fail("no warning for --debug-dir without --symbolize: %r" % r.stderr)
        run([EMBER, "convert", pb, "--symbolize", "--per-pid", "-o", tmp + "/noroot.folded"])
        noroot = open(tmp + "/noroot.folded").read()
        if "work_c" in noroot or "main" in noroot:
            fail("names found without the debug root: the test proves nothing")

        # A --debug-dir that is not a directory: usage error.
        for d in ("/nonexistent/ember-debug", orig):
            r = run([EMBER, "convert", pb, "--symbolize", "--debug-dir", d, "-o", out])
            if r.returncode != 2 or not r.stderr.startswith("ember: "):
                fail("--debug-dir %s: exit %d, %r" % (d, r.returncode, r.stderr))
        print("PASS: %d stacks named as eu-addr2line names them" % len(want))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
