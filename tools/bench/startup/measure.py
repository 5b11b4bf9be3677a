#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Start-up of a profiler, measured from outside: see ../startup.sh.

For each configuration, RUNS times in turn (A B C ... A B C ...):
  attached  seconds from exec to the moment the profiler says it samples:
              ember     its "ember: ready: ..." stderr line (printed after every perf event
                        is attached)
              bpftrace  its first sample: the program of its 10 ms profile below at 999 Hz,
                        which also prints "first" and exits on its first tick after
                        attaching (+ <= 1 ms), so it compiles and loads the same maps
                        and stack collection as a real profile
              perf      started with events disabled (-D -1 --control), told to enable
                        them at once; the "ack" comes back once they are on
  written   wall seconds of a whole 10 ms system-wide profile, exec to exit, profile on disk
Prints one CSV row per run, then a table of medians and min..max, and ratios against
bpftrace (median of per-round ratios).
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

EMBER = os.environ["EMBER"]
RUNS = int(os.environ.get("RUNS", "7"))
CONFIGS = os.environ.get("CONFIGS", "ember-auto ember-fp bpftrace perf").split()
tmp = tempfile.mkdtemp(prefix="ember-startup-")
BT_FIRST = 'profile:hz:999 { @[kstack, ustack] = count(); printf("first\\n"); exit(); }'
BT_10MS = 'profile:hz:99 { @[kstack, ustack] = count(); } interval:ms:10 { exit(); }'


def wait_line(stream, prefix, t0, proc):
    for line in stream:
        if line.startswith(prefix):
            return time.monotonic() - t0
    raise SystemExit("startup: %r never printed %r (exit %s)" % (proc.args, prefix, proc.poll()))


def attached(cfg):
    if cfg.startswith("ember"):
        unwind = cfg.split("-")[1]
        t0 = time.monotonic()
        p = subprocess.Popen([EMBER, "record", "-a", "--unwind", unwind, "-o",
                              tmp + "/a.folded"], stderr=subprocess.PIPE, text=True)
        dt = wait_line(p.stderr, "ember: ready:", t0, p)
        p.send_signal(2)
        p.communicate()
        return dt
    if cfg == "bpftrace":
        t0 = time.monotonic()
        p = subprocess.Popen(["bpftrace", "-e", BT_FIRST], stdout=subprocess.PIPE, text=True)
        dt = wait_line(p.stdout, "first", t0, p)
        p.communicate()
        return dt
    if cfg == "perf":
        ctl, ack = tmp + "/ctl", tmp + "/ack"
        for f in (ctl, ack):
            if os.path.exists(f):
                os.unlink(f)
            os.mkfifo(f)
        t0 = time.monotonic()
        p = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "99", "--no-buildid", "-D",
                              "-1", "--control", "fifo:%s,%s" % (ctl, ack), "-o",
                              tmp + "/a.data"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        with open(ctl, "w") as c, open(ack) as a:
            c.write("enable\n")
            c.flush()
            a.readline()
            dt = time.monotonic() - t0
        p.send_signal(2)
        p.wait()
        return dt
    raise SystemExit("startup: unknown configuration " + cfg)


def written(cfg):
    if cfg.startswith("ember"):
        cmd = [EMBER, "record", "-a", "-d", "0.01", "--unwind", cfg.split("-")[1], "-o",
               tmp + "/w.folded"]
    elif cfg == "bpftrace":
        cmd = ["bpftrace", "-o", tmp + "/w.bt", "-e", BT_10MS]
    else:
        cmd = ["perf", "record", "-a", "-g", "-F", "99", "--no-buildid", "-o", tmp + "/w.data",
               "--", "sleep", "0.01"]
    t0 = time.monotonic()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    dt = time.monotonic() - t0
    if rc != 0:
        raise SystemExit("startup: %s exited %d" % (" ".join(cmd), rc))
    return dt


def main():
    data = {c: {"attached": [], "written": []} for c in CONFIGS}
    print("run,config,attached_s,written_s")
    for r in range(RUNS):
        for c in CONFIGS:
            a, w = attached(c), written(c)
            data[c]["attached"].append(a)
            data[c]["written"].append(w)
            print("%d,%s,%.4f,%.4f" % (r, c, a, w), flush=True)
    print()
    print("%-11s %-26s %-26s" % ("config", "attached s: median (min..max)",
                                  "written s: median (min..max)"))
    for c in CONFIGS:
        row = ["%.3f (%.3f..%.3f)" % (statistics.median(v), min(v), max(v))
               for v in (data[c]["attached"], data[c]["written"])]
        print("%-11s %-30s %-30s" % (c, row[0], row[1]))
    if "bpftrace" in CONFIGS:
        print()
        print("ratios to bpftrace (median of per-round ratios):")
        for c in CONFIGS:
            if c == "bpftrace":
                continue
            ra = [x / y for x, y in zip(data[c]["attached"], data["bpftrace"]["attached"])]
            rw = [x / y for x, y in zip(data[c]["written"], data["bpftrace"]["written"])]
            print("  %-11s attached %.2fx (%.2f..%.2f)   written %.2fx (%.2f..%.2f)" %
                  (c, statistics.median(ra), min(ra), max(ra), statistics.median(rw), min(rw),
                   max(rw)))


if __name__ == "__main__":
    main()
