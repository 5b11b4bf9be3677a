#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes synthetic agent windows: pprof files named and shaped as `ember agent`
writes them (tools/agent/store.c: ember-YYYYmmddTHHMMSSZ-SEQ.pb.gz; sample types
samples/count and cpu/nanoseconds, or those and off_cpu, wall/nanoseconds, with
default_sample_type set as ember sets it; per-sample labels pid,
tid, thread_name, process_name, exe, host), for tests/history and
tools/bench/query_history.sh. The protobuf is encoded here from the published
field numbers (no protobuf module needed).

Usage: gen_windows.py DIR --start EPOCH_S [--count N] [--interval S] [--freq HZ]
       [--stacks N] [--procs N] [--seed N] [--kind cpu|offcpu] [--seq N]
       [--offset-ns NS] [--host NAME] [--old]
Each window i starts at START + i*INTERVAL s + OFFSET_NS and lasts INTERVAL s.
--old writes CPU windows as ember's writer did before it set default_sample_type
(its string table starts "", samples, count, cpu, nanoseconds, pid, tid,
thread_name, process_name; no default): pprof's rule alone would read their cpu time.
Prints one line per window: NAME START_NS TOTAL (the sum of its sample counts).
"""
import argparse
import gzip
import os
import random
import struct
import time


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    return key(field, 2) + varint(len(b)) + b


def f_packed(field, values):
    return f_bytes(field, b"".join(varint(v) for v in values))


class Strings:
    def __init__(self):
        self.index = {"": 0}
        self.table = [""]

    def __call__(self, s):
        if s not in self.index:
            self.index[s] = len(self.table)
            self.table.append(s)
        return self.index[s]


def build_static(args, rng):
    """The parts of every window that do not change: processes, stacks, tables."""
    st = Strings()
    if args.old:
        for s in ("samples", "count", "cpu", "nanoseconds", "pid", "tid", "thread_name",
                  "process_name"):
            st(s)
    procs = []
    for p in range(args.procs):
        name = "proc%d" % p if p else "busy_main"
        procs.append({"pid": 1000 + p * 17, "name": name, "exe": "/usr/bin/" + name,
                      "threads": [(1000 + p * 17 + t, "%s-w%d" % (name, t)) for t in range(3)]})
    nr_funcs = max(50, args.stacks // 2)
    funcs = ["func_%03d_%s" % (i, rng.choice(["parse", "hash", "copy", "wait", "run", "lock"]))
             for i in range(nr_funcs)]
    mapping = f_varint(1, 1) + f_varint(2, 0x400000) + f_varint(3, 0x800000) + \
        f_varint(4, 0) + f_varint(5, st("/usr/bin/busy")) + \
        f_varint(6, st("4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b"))
    functions = b"".join(f_bytes(5, f_varint(1, i + 1) + f_varint(2, st(n)) + f_varint(3, st(n)) +
                                 f_varint(4, st("src/busy.c")))
                         for i, n in enumerate(funcs))
    locations = b"".join(f_bytes(4, f_varint(1, i + 1) + f_varint(2, 1) +
                                 f_varint(3, 0x401000 + i * 0x40) +
                                 f_bytes(4, f_varint(1, i + 1) + f_varint(2, 10 + i)))
                         for i in range(nr_funcs))
    stacks = []
    for s in range(args.stacks):
        depth = rng.randint(4, 24)
        locs = [rng.randrange(nr_funcs) + 1 for _ in range(depth)]
        proc = procs[s % len(procs)]
        tid, tname = proc["threads"][s % 3]
        labels = [f_varint(1, st("pid")) + f_varint(3, proc["pid"]),
                  f_varint(1, st("tid")) + f_varint(3, tid),
                  f_varint(1, st("thread_name")) + f_varint(2, st(tname)),
                  f_varint(1, st("process_name")) + f_varint(2, st(proc["name"])),
                  f_varint(1, st("exe")) + f_varint(2, st(proc["exe"])),
                  f_varint(1, st("host")) + f_varint(2, st(args.host))]
        stacks.append((f_packed(1, locs), b"".join(f_bytes(3, lab) for lab in labels),
                       proc["name"]))
    period = 1000000000 // args.freq
    if args.kind == "cpu":
        types = [(st("samples"), st("count")), (st("cpu"), st("nanoseconds"))]
        period_type = (st("cpu"), st("nanoseconds"))
    else:
        # As ember's writer lays out an off-CPU profile: four types, off_cpu the default.
        types = [(st("samples"), st("count")), (st("cpu"), st("nanoseconds")),
                 (st("off_cpu"), st("nanoseconds")), (st("wall"), st("nanoseconds"))]
        period_type = (st("cpu"), st("nanoseconds"))
    head = b"".join(f_bytes(1, f_varint(1, t) + f_varint(2, u)) for t, u in types)
    tail = f_bytes(3, mapping) + locations + functions + \
        b"".join(f_bytes(6, s.encode()) for s in st.table) + \
        f_bytes(11, f_varint(1, period_type[0]) + f_varint(2, period_type[1])) + \
        f_varint(12, period)
    # default_sample_type (14) as ember's writer sets it: pprof's rule would read the
    # last type otherwise.
    if not (args.old and args.kind == "cpu"):
        tail += f_varint(14, types[0 if args.kind == "cpu" else 2][0])
    return head, tail, stacks, period


def window(static, rng, start_ns, duration_ns, kind):
    head, tail, stacks, period = static
    out = [head]
    total = 0
    for locs, labels, _ in stacks:
        if rng.random() < 0.3:
            continue  # not every stack is seen in every window
        count = rng.randint(1, 40)
        if kind == "offcpu":
            count *= 1000  # off-CPU counts are ns
        total += count
        values = [count, count * period] if kind == "cpu" else [0, 0, count, count]
        out.append(f_bytes(2, locs + f_packed(2, values) + labels))
    out.append(tail)
    out.append(f_varint(9, start_ns) + f_varint(10, duration_ns))
    return b"".join(out), total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--start", type=float, required=True, help="epoch seconds of window 0")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--freq", type=int, default=99)
    ap.add_argument("--stacks", type=int, default=300)
    ap.add_argument("--procs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kind", choices=["cpu", "offcpu"], default="cpu")
    ap.add_argument("--seq", type=int, default=1, help="sequence number of window 0")
    ap.add_argument("--offset-ns", type=int, default=250000000)
    ap.add_argument("--host", default="synthetic-host")
    ap.add_argument("--old", action="store_true", help="no default_sample_type (CPU windows)")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    rng = random.Random(args.seed)
    static = build_static(args, rng)
    duration_ns = int(args.interval * 1e9)
    for i in range(args.count):
        start_ns = int(args.start * 1e9) + i * duration_ns + args.offset_ns
        data, total = window(static, rng, start_ns, duration_ns, args.kind)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start_ns // 1000000000))
        name = "ember-%s-%06d.pb.gz" % (stamp, args.seq + i)
        tmp = os.path.join(args.dir, name + ".gen")
        with open(tmp, "wb") as f:
            f.write(gzip.compress(data, compresslevel=6, mtime=0))
        os.replace(tmp, os.path.join(args.dir, name))
        print(name, start_ns, total)


if __name__ == "__main__":
    main()
