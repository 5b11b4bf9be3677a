#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Helpers for tools/bench/unwind_cost.sh: BPF program and map queries through
bpftool, stack-completeness counts of profiler outputs, and the final table.

  bpfq.py prog PID            "ID RUN_TIME_NS RUN_CNT" of PID's perf_event program
  bpfq.py stats PID           ember's in-kernel counters (stats map, summed over
                              CPUs): "SAMPLES NO_PROC FP_FRAMES TABLE_FRAMES"
  bpfq.py snap PID            "RUN_TIME_NS RUN_CNT SAMPLES NO_PROC FP_FRAMES TABLE_FRAMES"
                              in one call (prog, then stats, read back to back)
  bpfq.py maps PID            BPF maps held by PID: one "name bytes_memlock" line each,
                              then "TOTAL bytes"
  bpfq.py folded FILE         ember folded output: "SAMPLES COMPLETE FRAMES" where
                              COMPLETE counts samples whose stack holds main or
                              __libc_start_call_main and FRAMES is the user frame count
                              of the heaviest stack (kernel frames and the root comm
                              frame left out)
  bpfq.py bpftrace FILE       bpftrace's printed @[ustack] map: "SAMPLES COMPLETE FRAMES"
  bpfq.py perfscript FILE     `perf script` output: "SAMPLES COMPLETE FRAMES"
  bpfq.py summary CSV         the results table from the script's raw CSV
"""
import csv
import json
import os
import re
import statistics
import subprocess
import sys

ROOTS = ("main", "__libc_start_call_main")
PERF_EVENT_PROG = "7"  # BPF_PROG_TYPE_PERF_EVENT in fdinfo
# enum ember_stat in probes/sampler_abi.h
STAT_SAMPLES, STAT_NO_PROC, STAT_FP_FRAMES, STAT_TABLE_FRAMES = 0, 11, 12, 13


def bpftool(*args):
    out = subprocess.run(["bpftool", *args, "-j"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def fdinfo(pid):
    """Yields the key: value dict of every fd of PID."""
    base = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(base):
        try:
            with open(f"{base}/{fd}") as f:
                yield dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        except OSError:
            continue


def prog_stats(pid):
    for info in fdinfo(pid):
        if info.get("prog_type", "").strip() == PERF_EVENT_PROG:
            pid_ = info["prog_id"].strip()
            p = bpftool("prog", "show", "id", pid_)
            return pid_, p.get("run_time_ns", 0), p.get("run_cnt", 0)
    sys.exit(1)


def prog(pid):
    print(*prog_stats(pid))


def snap(pid):
    _, rt, cnt = prog_stats(pid)
    print(rt, cnt, *ember_stats(pid))


def map_ids(pid):
    ids = set()
    for info in fdinfo(pid):
        if "map_id" in info:
            ids.add(info["map_id"].strip())
    return sorted(ids, key=int)


def stats(pid):
    print(*ember_stats(pid))


def ember_stats(pid):
    for mid in map_ids(pid):
        m = bpftool("map", "show", "id", mid)
        if m.get("name") != "stats" or m.get("type") != "percpu_array":
            continue
        sums = {}
        for ent in bpftool("map", "dump", "id", mid):
            if "formatted" in ent:
                ent = ent["formatted"]
            key = ent["key"]
            if isinstance(key, list):  # no BTF: little-endian hex bytes
                key = int.from_bytes(bytes(int(b, 16) for b in key), "little")
            total = 0
            for v in ent["values"]:
                val = v["value"]
                if isinstance(val, list):
                    val = int.from_bytes(bytes(int(b, 16) for b in val), "little")
                total += val
            sums[key] = total
        return [sums.get(k, 0) for k in (STAT_SAMPLES, STAT_NO_PROC, STAT_FP_FRAMES,
                                         STAT_TABLE_FRAMES)]
    sys.exit(1)


def maps(pid):
    total = 0
    for mid in map_ids(pid):
        m = bpftool("map", "show", "id", mid)
        b = int(m.get("bytes_memlock", 0))
        total += b
        print(m.get("name", "?"), b)
    print("TOTAL", total)


def report(samples, complete, heaviest):
    print(samples, complete, heaviest)


def folded(path):
    samples = complete = 0
    best = (0, 0)
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack or not n.isdigit():
                continue
            n = int(n)
            frames = stack.split(";")
            user = [fr for fr in frames[1:] if not fr.endswith("_[k]")]
            samples += n
            if any(fr in ROOTS for fr in user):
                complete += n
            best = max(best, (n, len(user)))
    report(samples, complete, best[1])


def bpftrace(path):
    # @[\n    frame+off\n    ...\n]: COUNT ; frames look like "recurse+15" or "0x7f..."
    samples = complete = 0
    best = (0, 0)
    text = open(path, errors="replace").read()
    for m in re.finditer(r"@\[\n(.*?)\]: (\d+)", text, re.S):
        frames = [ln.strip() for ln in m.group(1).splitlines() if ln.strip()]
        syms = [re.sub(r"\+\d+$", "", fr) for fr in frames]
        n = int(m.group(2))
        samples += n
        if any(s in ROOTS for s in syms):
            complete += n
        best = max(best, (n, len(frames)))
    report(samples, complete, best[1])


def perfscript(path):
    samples = complete = 0
    best = (0, 0)
    shape = {}
    frames = None

    def flush():
        nonlocal samples, complete
        if frames is None:
            return
        samples += 1
        syms = [re.sub(r"\+0x[0-9a-f]+$", "", fr) for fr in frames]
        if any(s in ROOTS for s in syms):
            complete += 1
        shape[len(frames)] = shape.get(len(frames), 0) + 1

    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                flush()
                frames = None
            elif line[0] not in " \t":
                flush()
                frames = []
            elif frames is not None:
                parts = line.split()
                # "ADDR SYM+OFF (DSO)"; kernel frames have a ([kernel.kallsyms]) dso
                if len(parts) >= 2 and "kernel.kallsyms" not in line:
                    frames.append(parts[1])
    flush()
    if shape:
        best = max((n, d) for d, n in shape.items())
    report(samples, complete, best[1])


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def summary(path):
    rows = list(csv.DictReader(open(path)))
    if not rows:
        print("(no runs)")
        return

    def num(r, k):
        try:
            return float(r[k])
        except (KeyError, ValueError):
            return float("nan")

    # Non-target invocations (filtered out early) per profiler, measured on an idle target.
    calib = {}
    for tool in ("ember", "bpftrace"):
        xs = [num(r, "rt_ns") / num(r, "cnt") for r in rows
              if r["section"] == "calib" and r["tool"] == tool and num(r, "cnt") > 0]
        calib[tool] = med(xs) if xs else 0.0

    def per_sample(r):
        """ns per target sample: filtered-out invocations' cost taken off."""
        rt, cnt, tgt = num(r, "rt_ns"), num(r, "cnt"), num(r, "targets")
        if not tgt or tgt != tgt:
            return float("nan")
        return (rt - max(cnt - tgt, 0) * calib.get(r["tool"], 0.0)) / tgt

    def raw(r):
        return num(r, "rt_ns") / num(r, "cnt") if num(r, "cnt") > 0 else float("nan")

    have = {r["section"] for r in rows}
    if "calib" in have:
        print()
        print(f"Filtered-out invocation cost (idle target): ember {calib['ember']:.0f} ns, "
              f"bpftrace {calib['bpftrace']:.0f} ns")
    if "cost" in have:
        cost_table(rows, num, per_sample, raw)
    if "table" in have:
        table_table(rows)
    if "maps" in have:
        maps_table(rows)
    if "side" in have:
        side_table(rows, num, per_sample)


def cost_table(rows, num, per_sample, raw):
    print()
    print("1. In-kernel cost of ember_sample per target sample (bpf_stats, median over runs)")
    hdr = ("config", "workload", "frames", "ns/sample", "min..max", "raw ns/inv", "target%",
           "runs", "frames/sample")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    groups = {}
    for r in rows:
        if r["section"] == "cost":
            groups.setdefault((r["config"], r["workload"]), []).append(r)
    for (cfg, wl), rs in groups.items():
        ps = [per_sample(r) for r in rs]
        tf = [num(r, "table_frames") + num(r, "fp_frames") for r in rs]
        fps = med([t / num(r, "targets") for t, r in zip(tf, rs) if num(r, "targets") > 0])
        print(f"| {cfg} | {wl} | {med([num(r, 'frames') for r in rs]):.0f} | {med(ps):.0f} | "
              f"{min(ps):.0f}..{max(ps):.0f} | {med([raw(r) for r in rs]):.0f} | "
              f"{100 * med([num(r, 'targets') / num(r, 'cnt') for r in rs]):.0f} | {len(rs)} | "
              f"{fps:.1f} |")


def table_table(rows):
    print()
    print("2. Unwind table build (unwinder/table.c, unwind_table__build_fd)")
    print("| file | rows | table bytes (heap) | BPF bytes (8/row) | build ms median | min..max |"
          " driver peak RSS KiB (idle) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if r["section"] == "table":
            print(f"| {r['workload']} | {r['rows']} | {r['bytes']} | {r['bpf_bytes']} | "
                  f"{r['ms']} | {r['ms_range']} | {r['rss']} |")


def maps_table(rows):
    print()
    print("3. BPF map memory of a running ember (bytes_memlock, auto, depth ~50)")
    for r in rows:
        if r["section"] == "maps" and r["bytes"]:
            print(f"   {r['config']:<16} {int(r['bytes']):>12} bytes")


def side_table(rows, num, per_sample):
    print()
    print("4. Side by side (median over runs; completeness = samples whose stack reaches main)")
    print("| workload | profiler | ns/sample (kernel) | complete % | heaviest stack frames | "
          "samples | data bytes | post-processing s |")
    print("|---|---|---|---|---|---|---|---|")
    side = {}
    for r in rows:
        if r["section"] == "side":
            side.setdefault((r["workload"], r["tool"]), []).append(r)
    for (wl, tool), rs in side.items():
        ns = [per_sample(r) for r in rs if r["rt_ns"]]
        comp = [100 * num(r, "complete") / num(r, "samples") for r in rs if num(r, "samples") > 0]
        nsv = f"{med(ns):.0f}" if ns else "-"
        data = med([num(r, "data_bytes") for r in rs]) if rs[0].get("data_bytes") else None
        post = med([num(r, "post_s") for r in rs]) if rs[0].get("post_s") else None
        print(f"| {wl} | {tool} | {nsv} | {med(comp):.1f} | "
              f"{med([num(r, 'frames') for r in rs]):.0f} | "
              f"{med([num(r, 'samples') for r in rs]):.0f} | "
              f"{'-' if data is None else f'{data:.0f}'} | "
              f"{'-' if post is None else f'{post:.2f}'} |")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    cmd, arg = sys.argv[1], sys.argv[2]
    {"prog": prog, "snap": snap, "stats": stats, "maps": maps, "folded": folded, "bpftrace": bpftrace,
     "perfscript": perfscript, "summary": summary}[cmd](arg)


if __name__ == "__main__":
    main()
