#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""In-kernel cost per sample of two samplers attached at the same time to the same workload.

Benchmark for issue 9, item 3 of Build: the two samplers run side by side in one run, so the
machine's load, cache pressure and frequency drift fall on both alike (alternating runs on a
shared VM spread by 30% and more between runs). Each sampler opens its own cpu-clock events
at 999 Hz per CPU; on every tick both programs run. A sampler is one of
  ember:PATH:UNWIND   `PATH record -p PIDS -F 999 --unwind UNWIND` (its ember_sample program)
  bpftrace            `bpftrace -e 'profile:hz:999 /pid == A || pid == B/ { @[kstack, ustack] = count(); }'`
The workload is two copies of a fixture (tests/fixtures/depth.c: DEPTH recursive frames, about
DEPTH + 5 user frames per sample), one pinned per CPU. After both samplers run and SETTLE
seconds passed (unwind tables loaded), run_time_ns / run_cnt of both programs (bpf_stats,
kernel.bpf_stats_enabled=1) are read before and after WINDOW seconds. Prints ns per program
run for each, and B/A, per round and the median of the rounds. Needs root.

Usage: sampler_side_by_side.py A B [--fixture PATH] [--depth N] [--rounds N]
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time


def bpftool_prog(prog_id):
    out = subprocess.run(["bpftool", "prog", "show", "id", str(prog_id), "-j"],
                         capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else {}


def perf_prog_of(pid):
    """The perf_event program that process @pid holds (from /proc/PID/fdinfo)."""
    ids = set()
    for f in glob.glob("/proc/%d/fdinfo/*" % pid):
        try:
            with open(f) as fd:
                ids.update(l.split()[1] for l in fd if l.startswith("prog_id:"))
        except OSError:
            pass
    for i in sorted(ids):
        if bpftool_prog(i).get("type") == "perf_event":
            return i
    return None


def start(spec, pids, n):
    err = open("/tmp/sampler-side-by-side.%d.err" % n, "w")
    if spec == "bpftrace":
        prog = "profile:hz:999 /%s/ { @[kstack, ustack] = count(); }" % " || ".join(
            "pid == %d" % p for p in pids)
        return subprocess.Popen(["bpftrace", "-e", prog], stdout=subprocess.DEVNULL, stderr=err)
    kind, path, unwind = spec.split(":")
    if kind != "ember":
        sys.exit("sampler_side_by_side: unknown sampler %r" % spec)
    return subprocess.Popen([path, "record", "-p", ",".join(map(str, pids)), "-F", "999",
                             "--unwind", unwind, "-o", "/tmp/sampler-side-by-side.%d.folded" % n],
                            stderr=err)


def one_round(a, b, fixture, depth, settle, window):
    work = [subprocess.Popen(["taskset", "-c", str(c), fixture, str(depth), "3600"],
                             stdout=subprocess.DEVNULL) for c in (0, 1)]
    procs = []
    try:
        pids = [w.pid for w in work]
        procs = [start(s, pids, n) for n, s in enumerate((a, b))]
        ids, deadline = [None, None], time.monotonic() + 60
        while None in ids:  # each sampler has loaded and attached its program
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                sys.exit("sampler_side_by_side: a sampler did not start (see "
                         "/tmp/sampler-side-by-side.*.err)")
            ids = [perf_prog_of(p.pid) for p in procs]
            time.sleep(0.1)
        time.sleep(settle)
        before = [bpftool_prog(i) for i in ids]
        time.sleep(window)
        after = [bpftool_prog(i) for i in ids]
        return [(y.get("run_time_ns", 0) - x.get("run_time_ns", 0)) /
                max(1, y.get("run_cnt", 0) - x.get("run_cnt", 0)) for x, y in zip(before, after)]
    finally:
        for p in procs:
            p.send_signal(2)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:  # a sampler stuck in its start-up or exit
                p.kill()
                p.wait()
        for w in work:
            w.kill()
            w.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--fixture", default="build/tests/fixtures/depth_fp")
    ap.add_argument("--depth", type=int, default=45)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--window", type=float, default=4.0)
    o = ap.parse_args()
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_before = f.read().strip()
    subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=1"], check=True)
    try:
        rows = []
        print("A = %s\nB = %s\nworkload: 2 x %s %d" % (o.a, o.b, o.fixture, o.depth))
        for r in range(o.rounds):
            na, nb = one_round(o.a, o.b, o.fixture, o.depth, o.settle, o.window)
            rows.append((na, nb))
            print("round %d: A %.0f ns  B %.0f ns  B/A %.3f" % (r + 1, na, nb, nb / na),
                  flush=True)
        ratios = [nb / na for na, nb in rows]
        print("median: A %.0f ns  B %.0f ns  B/A %.3f (%.3f..%.3f)" %
              (statistics.median(x for x, _ in rows), statistics.median(y for _, y in rows),
               statistics.median(ratios), min(ratios), max(ratios)))
    finally:
        subprocess.run(["sysctl", "-qw", "kernel.bpf_stats_enabled=" + stats_before])


if __name__ == "__main__":
    main()
