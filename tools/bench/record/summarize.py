#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Summarizes the runs.csv of tools/bench/record_overhead.sh into a Markdown table.

Slowdown is computed per round (time under the profiler / baseline time of the same round), so
slow drift of the machine cancels out; the table gives the median and the min..max over rounds.
Wall time is the headline; the workload's own CPU time (user + system, from rusage) is the
cross-check that survives other load on the machine: this kernel has no IRQ_TIME_ACCOUNTING, so
the sampling interrupt and the BPF program are charged to the task they interrupt, while time spent
waiting for a CPU held by someone else is not.
ns/sample is the profiler's BPF program run_time_ns / run_cnt over the workload only.

Usage: summarize.py RUNS_CSV FREQ_HZ WORKERS
"""
import csv
import statistics
import sys
from collections import defaultdict


def med_range(values, fmt):
    if not values:
        return "-"
    return (f"{fmt.format(statistics.median(values))} "
            f"[{fmt.format(min(values))}..{fmt.format(max(values))}]")


def main():
    path, freq, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rows = list(csv.DictReader(open(path)))
    by_cfg = defaultdict(list)
    order = []
    for r in rows:
        if r["config"] not in by_cfg:
            order.append(r["config"])
        by_cfg[r["config"]].append(r)
    base = {r["round"]: int(r["wall_ns"]) for r in by_cfg.get("none", [])}

    base_cpu = {r["round"]: int(r["workload_cpu_ns"]) for r in by_cfg.get("none", [])}

    print("| profiler | runs | wall s (median) | wall-time slowdown: median [min..max] "
          "| workload CPU-time slowdown: median [min..max] | BPF ns/sample: median [min..max] "
          "| samples/s per CPU | profiler CPU ms | others' CPU ms (max) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for cfg in order:
        rs = by_cfg[cfg]
        walls = [int(r["wall_ns"]) / 1e9 for r in rs]
        slow = [(int(r["wall_ns"]) / base[r["round"]] - 1) * 100 for r in rs if r["round"] in base]
        cslow = [(int(r["workload_cpu_ns"]) / base_cpu[r["round"]] - 1) * 100
                 for r in rs if r["round"] in base_cpu]
        per_sample = [int(r["prog_run_ns"]) / int(r["prog_run_cnt"])
                      for r in rs if int(r["prog_run_cnt"]) > 0]
        rate = [int(r["prog_run_cnt"]) / (int(r["wall_ns"]) / 1e9) / workers
                for r in rs if int(r["prog_run_cnt"]) > 0]
        pcpu = [int(r["profiler_cpu_ns"]) / 1e6 for r in rs]
        other = [int(r["other_cpu_ns"]) / 1e6 for r in rs]
        noisy = sum(r.get("noisy") == "1" for r in rs)
        cells = [
            f"{cfg} ({rs[0]['prog_name']})" if rs[0]["prog_name"] != "-" else cfg,
            str(len(rs)) + (f" ({noisy} noisy)" if noisy else ""),
            f"{statistics.median(walls):.3f}",
            med_range(slow, "{:+.2f}%"),
            med_range(cslow, "{:+.2f}%"),
            med_range(per_sample, "{:.0f}"),
            f"{statistics.median(rate):.0f}" if rate else "-",
            f"{statistics.median(pcpu):.0f}" if cfg != "none" else "-",
            f"{max(other):.0f}",
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    print(f"Sampling at {freq} Hz; {workers} workload processes; 'others' CPU' is busy CPU time of "
          "the whole machine during the workload minus the workload's and the profiler's own "
          "(interference from anything else running; /proc/stat tick resolution).")


if __name__ == "__main__":
    main()
