#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Cost of `ember agent` with its default settings on a loaded host (issue 12,
acceptance 5); run through tools/bench/agent_overhead.sh.

For each frequency: the load is one `xz -6` per CPU, process churn (20 new
processes a second, each burning 30 ms of CPU: tests/agent's churn_burn) and a
Python loop (Debian's /usr/bin/python3). The agent starts with a config file
that sets only the frequency, so everything else is the default. Measured:

- first window: the agent's CPU (user + sys of all its threads from
  /proc/PID/stat, which includes the verifier's work in its bpf() calls, plus
  the run time of its BPF programs) from its exec until its first window file
  exists;
- steady state: the same CPU figure from the first window file to the end, as a
  share of one core, and the RSS (VmRSS, sampled every 2 s) over that span:
  median, last, peak;
- a SIGHUP that changes the frequency (HZ -> 2 x HZ + 1): user + sys from the
  signal to the reload's log line plus one second, plus the new BPF programs' run
  time over that span.

- the kernel memory of the agent's BPF maps (the memlock of each map fd in
  /proc/PID/fdinfo), which RSS does not hold: the unwind rows array (8 MiB by
  default) is written with bpf system calls, not mapped.

The unwind table disk cache is a directory of the benchmark's own, empty at the
first frequency's start (cold, as on a new host) and kept for the next ones
(warm, as after a restart). BPF run time needs kernel.bpf_stats_enabled (set for
the run, restored after); the agent's programs are found through its
/proc/PID/fdinfo. Needs root.
"""
import glob
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / TCK


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))


def bpf_map_mb(pid):
    """Kernel memory (MiB) of the BPF maps whose fds @pid holds."""
    total = 0
    for fd in glob.glob("/proc/%d/fdinfo/*" % pid):
        try:
            with open(fd) as f:
                info = f.read()
        except OSError:
            continue
        if re.search(r"^map_id:", info, re.M):
            m = re.search(r"^memlock:\s+(\d+)", info, re.M)
            total += int(m.group(1)) if m else 0
    return total / 1048576


def bpf_s(pid):
    ids = set()
    for fd in glob.glob("/proc/%d/fdinfo/*" % pid):
        try:
            with open(fd) as f:
                m = re.search(r"^prog_id:\s+(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    if not ids:
        return 0.0
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    progs = json.loads(out.stdout or "[]")
    return sum(p.get("run_time_ns", 0) for p in progs if p["id"] in ids) / 1e9


def total_cpu(pid):
    return cpu_s(pid) + bpf_s(pid)


def start_load(churn_burn):
    procs = []
    for _ in range(os.cpu_count()):
        procs.append(subprocess.Popen("exec xz -T1 -6 -c </dev/urandom >/dev/null", shell=True))
    procs.append(subprocess.Popen(
        ["/usr/bin/python3", "-c",
         "def work(n):\n return sum(i * i for i in range(n))\nwhile True:\n work(10000)"]))
    # 20 processes a second, each 30 ms of CPU time.
    procs.append(subprocess.Popen(
        ["sh", "-c", "while :; do for i in $(seq 20); do %s 30 & sleep 0.05; done; wait; done"
         % churn_burn]))
    return procs


def stop_load(procs):
    for p in procs:
        p.kill()
    # The churn loop's children outlive the loop by at most 30 ms of CPU each.
    subprocess.run(["pkill", "-x", "churn_burn"], check=False)
    for p in procs:
        p.wait()


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    sys.exit("agent_overhead: no %s within %d s" % (what, timeout))


def run(ember, hz, duration, extra, logdir, cache):
    work = tempfile.mkdtemp(prefix="ember-agent-bench-")
    conf = os.path.join(work, "agent.conf")
    with open(conf, "w") as f:
        f.write("frequency = %d\n" % hz)
    out = os.path.join(work, "out")
    log_path = os.path.join(logdir, "ember-agent-bench-%d.log" % hz)
    log = open(log_path, "w")
    warm = bool(glob.glob(os.path.join(cache, "*.unwind")))
    agent = subprocess.Popen([ember, "agent", "-c", conf, "-o", out, "--unwind-cache", cache] +
                             extra, stderr=log)
    t0 = time.time()
    files = lambda: sorted(glob.glob(os.path.join(out, "ember-*")))
    wait_for(lambda: files() or agent.poll() is not None, 120, "first window")
    if agent.poll() is not None:
        sys.exit("agent_overhead: the agent exited %d (log: %s)" % (agent.returncode, log_path))
    first_cpu = total_cpu(agent.pid)
    t1 = time.time()
    c1 = first_cpu
    rss = []
    end = t1 + duration
    while time.time() < end:
        rss.append(rss_kb(agent.pid))
        time.sleep(2)
    t2 = time.time()
    c2 = total_cpu(agent.pid)
    rss.append(rss_kb(agent.pid))
    maps_mb = bpf_map_mb(agent.pid)
    # A SIGHUP that changes the frequency.
    with open(conf, "w") as f:
        f.write("frequency = %d\n" % (2 * hz + 1))
    log.flush()
    # The reload replaces the BPF programs, and the old ones' run time goes with them:
    # user + sys across the reload, plus the new programs' run time since their load
    # (the old programs' last moments, well under a millisecond, are not counted).
    h0 = cpu_s(agent.pid)
    agent.send_signal(signal.SIGHUP)
    wait_for(lambda: re.search(r"reload: configuration of .* applied", open(log_path).read()),
             60, "reload line")
    time.sleep(1)
    h1 = cpu_s(agent.pid) + bpf_s(agent.pid)
    agent.send_signal(signal.SIGTERM)
    agent.wait(timeout=120)
    log.close()
    windows = len(files())
    steady = t2 - t1
    return {
        "hz": hz, "first_window_wall_s": t1 - t0, "first_window_cpu_s": first_cpu,
        "steady_s": steady, "steady_cpu_s": c2 - c1, "steady_pct": 100 * (c2 - c1) / steady,
        "rss_median_mb": statistics.median(rss) / 1024, "rss_last_mb": rss[-1] / 1024,
        "rss_peak_mb": max(rss) / 1024, "sighup_cpu_s": h1 - h0, "windows": windows,
        "maps_mb": maps_mb, "cache": "warm" if warm else "cold",
        "log": log_path,
    }


def main():
    ember, churn_burn, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
    freqs = [int(x) for x in sys.argv[4:]] or [19, 99]
    extra = os.environ.get("AGENT_ARGS", "").split()
    logdir = os.environ.get("LOGDIR", "/tmp")
    if os.geteuid() != 0:
        print("agent_overhead: needs root", file=sys.stderr)
        return 77
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        old_stats = f.read().strip()
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    load = start_load(churn_burn)
    results = []
    cache = tempfile.mkdtemp(prefix="ember-agent-bench-cache-")
    try:
        time.sleep(2)  # the load running before the agent starts, as on a host
        for hz in freqs:
            results.append(run(ember, hz, duration, extra, logdir, cache))
    finally:
        stop_load(load)
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old_stats)
    print("| Hz | table cache | first window: wall / CPU | steady: s / CPU / % of one core | "
          "RSS median / last / peak | BPF maps (kernel) | SIGHUP (2F+1 Hz): CPU | windows |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print("| %d | %s | %.1f s / %.3f s | %.0f s / %.3f s / %.3f%% | %.1f / %.1f / %.1f MB | "
              "%.1f MB | %.3f s | %d |" % (
                  r["hz"], r["cache"], r["first_window_wall_s"], r["first_window_cpu_s"],
                  r["steady_s"], r["steady_cpu_s"], r["steady_pct"], r["rss_median_mb"],
                  r["rss_last_mb"], r["rss_peak_mb"], r["maps_mb"], r["sighup_cpu_s"],
                  r["windows"]))
    print("logs: " + ", ".join(r["log"] for r in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
