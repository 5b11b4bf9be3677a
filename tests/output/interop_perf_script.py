#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""perf script text made by the real perf on this machine, read by ember.

Records the spin_target fixture with `perf record -a -g` (one event, then
cpu-clock and task-clock at once), prints each recording with several
`perf script -F` field sets (default, without time, with period, with cpu,
tid only, --no-demangle, -F -time / +period edits), and for each computes a
reference here, straightforwardly: records are a header line then frame lines
(leaf first) up to a blank line; the header's fields are those -F asked for.
For the first event (and the second with --event), the total and the top-5
leaf functions weighted by 1 per record (--weight samples) and by the period
(--weight period, when the variant prints it), and the fixture's own total,
must equal what `ember convert FILE -o -` (folded) gives; --weight auto must
equal period weighting when every record has a period, sample weighting
otherwise. Without --event, the other event is named on stderr.
Needs root and perf_event (label bpf): exits 77 otherwise.
"""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

EMBER = os.path.abspath(os.environ["EMBER"])
FIXTURE = os.environ["EMBER_SPIN"]
COMM = os.path.basename(FIXTURE)[:15]


def skip(msg):
    print("SKIP: " + msg, file=sys.stderr)
    sys.exit(77)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# Header fields of a -F list, in the order perf prints them.
ORDER = ["comm", "pid", "tid", "cpu", "time", "period", "event"]


def parse(text, fields):
    """Records (comm, event, period or None, leaf name) of perf script text
    printed with header fields `fields` (a set of ORDER's names)."""
    recs = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.startswith("#"):
            continue
        # The first line after a blank one is the header, indented when the
        # tid comes first (perf prints it as %5d).
        toks = line.split()
        comm = event = period = None
        # From the right: event, period, time, cpu, [pid/]tid; the rest is the comm.
        if "event" in fields:
            event = toks.pop()
            assert event.endswith(":"), line
            event = event[:-1]
        if "period" in fields:
            period = int(toks.pop())
        if "time" in fields:
            assert toks.pop().endswith(":"), line
        if "cpu" in fields:
            assert toks.pop().startswith("["), line
        if "tid" in fields or "pid" in fields:
            toks.pop()
        if "comm" in fields:
            comm = " ".join(toks)
        frames = []
        while i < len(lines) and lines[i].strip():
            frames.append(lines[i].strip())
            i += 1
        recs.append((comm, event, period, leaf(frames[0]) if frames else None))
    return recs


def leaf(frame):
    """The function of a frame line "ADDR SYM[+0xOFF] [(DSO)]" as
    stackcollapse-perf.pl names it, plus ember's _[k] on kernel code."""
    m = re.match(r"^([0-9a-f]+) (.*?)(?: \((.*)\))?$", frame)
    if not m:
        fail("not a frame line: %r" % frame)
    addr, sym, dso = int(m.group(1), 16), m.group(2), m.group(3)
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    if sym == "[unknown]" and dso and dso != "[unknown]":
        sym = "[%s]" % os.path.basename(dso)
    # Without a dso (-F ...,ip,sym), kernel code is known by its address.
    if dso == "[kernel.kallsyms]" or (dso is None and addr >= 0xFFFF800000000000):
        sym += "_[k]"
    return sym


def reference(recs, event, by_period):
    total = 0
    fixture = 0
    leaves = collections.Counter()
    for comm, ev, period, lf in recs:
        if ev != event:
            continue
        w = period if by_period else 1
        total += w
        if comm == COMM:
            fixture += w
        if lf is not None:
            leaves[lf] += w
    return total, fixture, leaves


def ember(path, args):
    r = run([EMBER, "convert"] + args + [path, "-o", "-"])
    if r.returncode != 0:
        fail("ember convert %s %s: exit %d: %s" % (" ".join(args), path, r.returncode, r.stderr))
    total = fixture = 0
    leaves = collections.Counter()
    for line in r.stdout.splitlines():
        stack, _, n = line.rpartition(" ")
        n = int(n)
        frames = stack.split(";")
        total += n
        if frames[0] == COMM:
            fixture += n
        if len(frames) > 1:
            leaves[frames[-1]] += n
    return total, fixture, leaves, r.stderr


def top(c, n=5):
    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def check(name, path, recs, fields, event, events, has_comm):
    has_period = "period" in fields
    args_ev = [] if event == events[0] else ["--event", event]
    weights = [("samples", False)] + ([("period", True)] if has_period else [])
    if not has_period:
        r = run([EMBER, "convert"] + args_ev + ["--weight", "period", path, "-o", "-"])
        if r.returncode == 0 or "have no period" not in r.stderr:
            fail("%s: --weight period without periods: exit %d, %r" % (name, r.returncode, r.stderr))
    for weight, by_period in weights + [("auto", has_period)]:
        want = reference(recs, event, by_period)
        got = ember(path, args_ev + ["--weight", weight])
        what = "%s, event %s, --weight %s" % (name, event, weight)
        if want[0] == 0:
            fail("%s: the reference total is 0: the recording measures nothing" % what)
        if got[0] != want[0]:
            fail("%s: ember total %d, reference %d" % (what, got[0], want[0]))
        if top(got[2]) != top(want[2]):
            fail("%s: ember top leaves %s, reference %s" % (what, top(got[2]), top(want[2])))
        if has_comm:
            if got[1] != want[1]:
                fail("%s: ember %s total %d, reference %d" % (what, COMM, got[1], want[1]))
            if want[1] == 0:
                fail("%s: no record of %s" % (what, COMM))
        if weight == "auto" and len(events) > 1 and not args_ev:
            for other in events[1:]:
                if "'%s'" % other not in got[3]:
                    fail("%s: stderr does not name the other event %s: %r" % (what, other, got[3]))
        print("ok %s: total %d, %s %d, top %s" % (what, want[0], COMM, want[1], top(want[2], 2)))


def fixture_top_leaf(recs, event):
    c = collections.Counter(lf for comm, ev, _, lf in recs if comm == COMM and ev == event)
    return top(c, 1)[0][0] if c else None


def main():
    if os.geteuid() != 0:
        skip("perf record -a needs root")
    if not shutil.which("perf"):
        skip("perf is not installed")
    t = tempfile.mkdtemp()
    try:
        datas = {}
        for name, ev in [("one", []), ("two", ["-e", "cpu-clock", "-e", "task-clock"])]:
            d = os.path.join(t, name + ".data")
            r = run(["perf", "record", "-a", "-g", "-F", "499"] + ev + ["-o", d, "--", FIXTURE, "1", "cpu"])
            if r.returncode != 0:
                skip("perf record %s failed: %s" % (" ".join(ev), r.stderr[-500:]))
            datas[name] = d
        default = {"comm", "tid", "cpu", "time", "period", "event"}
        variants = [
            ("default", [], default),
            ("no-time", ["-F", "comm,pid,tid,event,ip,sym,dso"], {"comm", "pid", "tid", "event"}),
            ("period", ["-F", "comm,tid,time,period,event,ip,sym,dso"],
             {"comm", "tid", "time", "period", "event"}),
            ("cpu", ["-F", "comm,pid,tid,cpu,time,event,ip,sym,dso"],
             {"comm", "pid", "tid", "cpu", "time", "event"}),
            ("tid-only", ["-F", "tid,ip,sym"], {"tid"}),
            ("no-event", ["-F", "comm,tid,period,ip,sym,dso,symoff"], {"comm", "tid", "period"}),
            ("minus-time", ["-F", "-time"], default - {"time"}),
            ("plus-period", ["-F", "comm,tid,event,ip,sym,dso", "-F", "+period"],
             {"comm", "tid", "period", "event"}),
            ("no-demangle", ["--no-demangle"], default),
        ]
        checked = 0
        for rec in ("one", "two"):
            for name, args, fields in variants:
                path = os.path.join(t, "%s-%s.txt" % (rec, name))
                r = run(["perf", "script", "-i", datas[rec]] + args)
                if r.returncode != 0 or not r.stdout:
                    fail("perf script %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr[-500:]))
                with open(path, "w") as f:
                    f.write(r.stdout)
                recs = parse(r.stdout, fields)
                events = []
                for _, ev, _, _ in recs:
                    if ev not in events:
                        events.append(ev)
                if rec == "two" and "event" in fields and len(events) != 2:
                    fail("%s %s: events %s, expected cpu-clock and task-clock" % (rec, name, events))
                for ev in events:
                    check("%s %s" % (rec, name), path, recs, fields, ev, events, "comm" in fields)
                    checked += 1
                    if "comm" in fields and fixture_top_leaf(recs, ev) != "spin_here":
                        fail("%s %s: %s's top leaf is %s, not spin_here"
                             % (rec, name, COMM, fixture_top_leaf(recs, ev)))
        if checked < 20:
            fail("only %d variant/event pairs checked" % checked)
    finally:
        shutil.rmtree(t)


main()
