#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tests of `ember agent` (issue 6). Each case is one ctest: `agent_tests.py CASE`.

Cases labelled bpf run the real sampler and need root (CAP_BPF, CAP_PERFMON);
without it they exit 77 (skipped), which .ci/run turns into a failure when
CI=true. The unit cases (bad_config, help) run anywhere. Environment: EMBER
(the binary), EMBER_FIXTURES (record fixtures), EMBER_CHURN_BURN (the churn
fixture). Window files are read with a small pprof decoder below, so the
tests depend on nothing but Python; the push test also checks every body with
`go tool pprof -raw` (Debian golang-go).

Every bpf case checks the accounting of its run (check_accounting: the samples in
the windows plus the sample-loss counters equal the kernel's sampler.samples), and
counts of a fixture against F x its CPU time within a tolerance derived from the
sampling statistics (sample_tolerance). Nothing waits a fixed time for the agent:
the cases wait for its readiness line, a log line, a window or spool file, or an
amount of CPU time of the fixture, with generous limits that fail when exceeded.
Ports are the kernel's choice (port 0, `--metrics-port auto`).
"""
import atexit
import glob
import gzip
import http.server
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyroscope_rules import PyroscopeReceiver  # noqa: E402

EMBER = os.environ.get("EMBER", "build/ember")
FIX = os.environ.get("EMBER_FIXTURES", "build/tests/fixtures")
CHURN_BURN = os.environ.get("EMBER_CHURN_BURN", "build/tests/agent/churn_burn")
CLK_TCK = os.sysconf("SC_CLK_TCK")


_tmpdirs, _failed = [], []


def _cleanup():
    # Kept after a failure, for a look at the windows, spool and logs.
    for d in _tmpdirs:
        if _failed:
            print("kept " + d, file=sys.stderr)
        else:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def fail(msg):
    _failed.append(msg)
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def need_root():
    if os.geteuid() != 0:
        print("SKIP: needs root for BPF", file=sys.stderr)
        sys.exit(77)


def tmpdir():
    d = tempfile.mkdtemp(prefix="ember-agent-test-")
    _tmpdirs.append(d)
    return d


# ---- pprof decoding ------------------------------------------------------------


def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _fields(b):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("bad wire type %d" % wt)
        yield f, wt, v


def _ints(wt, v):
    if wt == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = _varint(v, i)
        out.append(x)
    return out


class Profile:
    """The parts of a pprof Profile the tests look at."""

    def __init__(self, data):
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        strings, raw_samples, types = [], [], []
        self.mappings, self.locations, self.functions = {}, {}, {}
        self.time_ns = self.duration_ns = self.period = 0
        comment_ids = []
        for f, wt, v in _fields(data):
            if f == 1:
                t = dict((k, x) for k, _, x in _fields(v))
                types.append(t.get(1, 0))
            elif f == 2:
                raw_samples.append(v)
            elif f == 3:
                m = {1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0}
                m.update((k, x) for k, _, x in _fields(v))
                self.mappings[m[1]] = m
            elif f == 4:
                loc = {"id": 0, "mapping": 0, "address": 0, "lines": []}
                for k, w, x in _fields(v):
                    if k == 1:
                        loc["id"] = x
                    elif k == 2:
                        loc["mapping"] = x
                    elif k == 3:
                        loc["address"] = x
                    elif k == 4:
                        line = dict((a, y) for a, _, y in _fields(x))
                        loc["lines"].append(line.get(1, 0))
                self.locations[loc["id"]] = loc
            elif f == 5:
                fn = dict((k, x) for k, _, x in _fields(v))
                self.functions[fn.get(1, 0)] = fn.get(2, 0)
            elif f == 6:
                strings.append(v.decode("utf-8", "replace"))
            elif f == 9:
                self.time_ns = v
            elif f == 10:
                self.duration_ns = v
            elif f == 12:
                self.period = v
            elif f == 13:
                comment_ids.extend(_ints(wt, v))
        self.strings = strings
        self.comments = [strings[i] for i in comment_ids]
        for m in self.mappings.values():
            m["path"] = strings[m[5]]
            m["build_id"] = strings[m[6]]
            m["offset"] = m[4]
        self.functions = dict((k, strings[v]) for k, v in self.functions.items())
        vi = [strings[t] for t in types].index("samples")
        self.samples = []
        for raw in raw_samples:
            s = {"locs": [], "count": 0, "labels": {}}
            values = []
            for k, w, x in _fields(raw):
                if k == 1:
                    s["locs"].extend(_ints(w, x))
                elif k == 2:
                    values.extend(_ints(w, x))
                elif k == 3:
                    lab = dict((a, y) for a, _, y in _fields(x))
                    key = strings[lab.get(1, 0)]
                    s["labels"][key] = strings[lab[2]] if lab.get(2) else lab.get(3, 0)
            s["count"] = values[vi]
            self.samples.append(s)

    def total(self, pred=lambda s: True):
        return sum(s["count"] for s in self.samples if pred(s))

    def user_functions(self, s):
        """Function names of the sample's user frames, leaf first (inline chains
        expanded, kernel locations left out)."""
        out = []
        for loc_id in s["locs"]:
            loc = self.locations[loc_id]
            m = self.mappings.get(loc["mapping"])
            if m and m["path"] == "[kernel.kallsyms]":
                continue
            out.extend(self.functions.get(f, "") for f in loc["lines"])
        return out

    def reaches_root(self, s):
        """Whether the sample's user stack is whole: not truncated, and it holds main or
        glibc's start routine, or its outermost frame is where a thread starts (clone,
        clone3, start_thread, under any of glibc's aliases) or an ELF entry point: _start,
        or, in a stripped file such as Debian's ld.so, an address within 64 bytes of the
        file's e_entry (ld.so runs first in every dynamically linked process). A sample
        marked "[no user stack: exiting]" or "[no user stack: in execve]" is whole too: the
        process had no user stack then (its memory released, or its old image gone inside
        execve), and its kernel stack is all there was."""
        fns = self.user_functions(s)
        if fns and len(fns) == 1 and fns[0].startswith("[no user stack: "):
            return True
        if not fns or any(f.startswith("[truncated") for f in fns):
            return False
        if "main" in fns or "__libc_start_call_main" in fns:
            return True
        outer = fns[-1].lstrip("_")
        outer = outer[3:].lstrip("_") if outer.startswith("GI_") else outer
        if outer in ("start", "clone", "clone3", "start_thread"):
            return True
        m = re.fullmatch(r"(.+)\+0x([0-9a-f]+)", fns[-1])
        if not m:
            return False
        loc = self.locations[s["locs"][-1]]
        mapping = self.mappings.get(loc["mapping"])
        entry = elf_entry(mapping["path"]) if mapping else None
        return entry is not None and 0 <= int(m.group(2), 16) - entry < 64

    def leaf_function(self, s):
        """Innermost function name of the sample's leaf location, None without one."""
        if not s["locs"]:
            return None
        lines = self.locations[s["locs"][0]]["lines"]
        return self.functions.get(lines[0]) if lines else None


def elf_entry(path):
    """e_entry of the 64-bit ELF file @path, None when it is not one or unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError:
        return None
    if head[:5] != b"\x7fELF\x02":
        return None
    return int.from_bytes(head[24:32], "little")


def read_profile(path):
    with open(path, "rb") as f:
        return Profile(f.read())


def window_files(d):
    return sorted(glob.glob(os.path.join(d, "ember-*.pb.gz")))


def window_seq(path):
    return int(re.search(r"-(\d+)\.pb\.gz$", path).group(1))


def counters(p):
    """The window's counters, from its "ember.counter NAME=VALUE" comments (the
    non-zero ones) and its "ember.counters.zero NAME,NAME,..." comment (the zero ones)."""
    out = {}
    for c in p.comments:
        if c.startswith("ember.counter "):
            k, v = c[len("ember.counter "):].rsplit("=", 1)
            out[k] = int(v)
        elif c.startswith("ember.counters.zero "):
            for k in c[len("ember.counters.zero "):].split(","):
                if k:
                    out[k] = 0
    return out


# Counters of samples the sampler counted but no window holds. The other "lost.*" counters
# name a part of a sample that was lost (a kernel or user stack: the sample is still in the
# window, under a marker frame) or something that is not a sample (process events,
# side-band records, children not followed): adding them would count samples twice.
SAMPLE_LOSSES = ("lost.counts_map_full",)


def check_accounting(ag, files=None):
    """Every sample the kernel counted is in a window or in a loss counter, exactly.

    sampler.samples is the kernel's count of samples of a window's drains. A drain reads
    it just after flipping the sampler's buffers, so a sample taken between the flip and
    that read is counted in one window and held by the next: only the sum over all windows
    of a run is exact, and a run's last window (SIGTERM, --duration) ends after the sampler
    stopped. @files are the window files of one run of @ag (after it exited); without them
    the counters come from the agent's -v log lines. Each window logged must be there.
    """
    logged = ag.windows_logged()
    seqs = sorted(logged)
    check(seqs and seqs == list(range(1, len(seqs) + 1)),
          "windows logged: %s\n%s" % (seqs, ag.log()))
    m = re.search(r"stopped by signal \d+ after (\d+) windows", ag.log())
    check(not m or int(m.group(1)) == len(seqs),
          "%s windows logged, %s finished" % (len(seqs), m and m.group(1)))
    held = lost = seen = 0
    if files is not None:
        by_seq = dict((window_seq(f), f) for f in files)
        check(sorted(by_seq) == seqs, "window files %s for windows %s" % (sorted(by_seq), seqs))
        for seq in seqs:
            p = read_profile(by_seq[seq])
            c = counters(p)
            check("sampler.samples" in c, "%s has no sampler.samples counter: %r" %
                  (by_seq[seq], p.comments))
            check(p.total() == logged[seq][0], "window %d: %d samples in the file, %d logged" %
                  (seq, p.total(), logged[seq][0]))
            held += p.total()
            lost += sum(c.get(k, 0) for k in SAMPLE_LOSSES)
            seen += c["sampler.samples"]
    else:
        for seq in seqs:
            c = dict((k, int(v)) for k, v in re.findall(
                r"window %d:   ([\w.]+): (\d+)$" % seq, ag.log(), re.M))
            check("sampler.samples" in c, "window %d: no counters logged (-v)" % seq)
            held += logged[seq][0]
            lost += sum(c.get(k, 0) for k in SAMPLE_LOSSES)
            seen += c["sampler.samples"]
    print("accounting: %d windows hold %d samples, %d lost, the sampler counted %d" %
          (len(seqs), held, lost, seen))
    check(held + lost == seen, "the sampler counted %d samples; the %d windows hold %d and "
          "count %d lost (%+d)" % (seen, len(seqs), held, lost, held + lost - seen))


def is_unknown(name):
    return name is None or name.startswith("[unknown") or "+0x" in name


# ---- running the agent -----------------------------------------------------------


class Agent:
    """`ember agent` in the background; stderr collected line by line."""

    def __init__(self, args):
        if "-c" not in args:
            args = ["-c", "/dev/null"] + args  # never the host's /etc/ember/agent.conf
        self.lines = []
        self.started = threading.Event()
        self.proc = subprocess.Popen([EMBER, "agent"] + args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if "agent: sampling" in line:
                self.started.set()

    def log(self):
        return "".join(self.lines)

    def wait_started(self, timeout=60):
        """Waits for the agent's readiness line, logged once every perf event is attached."""
        if not self.started.wait(timeout):
            self.proc.kill()
            fail("agent did not start:\n" + self.log())
        self.started_at = time.time()

    def wait_log(self, pattern, count=1, timeout=60):
        """Waits until @pattern (a regex) matched @count lines of stderr; returns the
        last match. Fails after @timeout s or when the agent exits first."""
        def found():
            m = [x for x in (re.search(pattern, l) for l in list(self.lines)) if x]
            return m[count - 1] if len(m) >= count else None
        return wait_for(found, timeout, "log line /%s/ (x%d)" % (pattern, count), self)

    def windows_logged(self):
        """{seq: (samples, drain ms)} of the windows whose summary line was logged."""
        out = {}
        for m in re.finditer(r"window (\d+): [\d.]+ s at \d+ Hz: (\d+) samples.*"
                             r"drain ([\d.]+) ms", self.log()):
            out[int(m.group(1))] = (int(m.group(2)), float(m.group(3)))
        return out

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("agent did not exit %d s after SIGTERM:\n%s" % (timeout, self.log()))
        self.reader.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def steal_seconds():
    """CPU time the hypervisor gave to others while this VM's CPUs had work, summed over
    all CPUs (s): /proc/stat's steal column, in USER_HZ ticks.

    The scheduler's CPU time leaves it out (CONFIG_PARAVIRT_TIME_ACCOUNTING), but the
    cpu-clock timer runs on wall time and samples whoever is current when it fires, also
    after a stolen stretch: a task's expected samples are F x (its CPU time + the time
    stolen while it was current), which no counter gives per task. The steal of every CPU
    over the same span bounds that second term from above.
    """
    with open("/proc/stat") as f:
        return int(f.readline().split()[8]) / CLK_TCK


def schedstat(pid):
    """(CPU seconds, timeslices) of task @pid, None once it is gone.

    /proc/PID/schedstat: the scheduler's sum_exec_runtime (ns-precise, unlike the 10 ms
    ticks of /proc/PID/stat's utime+stime) and the number of times the task was switched
    in (its run intervals). The fixtures are single-threaded, so the task is the process.
    """
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            v = f.read().split()
        return int(v[0]) / 1e9, int(v[2])
    except (OSError, IndexError, ValueError):
        return None


class CpuTrace:
    """Polls a single-threaded process's schedstat every 20 ms so its CPU time can be
    read at any wall time, with a bound on the error of reading it between two polls."""

    def __init__(self, pid):
        self.pid, self.points, self.gone = pid, [(time.time(), 0.0, 0)], None
        self.steals = [(time.time(), steal_seconds())]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            v = schedstat(self.pid)
            t = time.time()
            if v is None:
                self.gone = t
                break
            self.points.append((t, v[0], v[1]))
            self.steals.append((t, steal_seconds()))
            time.sleep(0.02)

    def at(self, t):
        """(CPU seconds at wall time @t, bound on its error in s, timeslices by then).

        Between two polls t0 < t1 the CPU time c(t) rises with a slope between 0 and 1
        (one thread), so linear interpolation is off by at most (t1 - t0) / 4. After the
        last poll of a process that has exited by @gone, c lies between the last value
        and that plus the time until @gone: the midpoint, off by at most half of it. The
        timeslice count is the one of the later poll: never an under-count.
        """
        pts = self.points
        if t <= pts[0][0]:
            return pts[0][1], 0.0, pts[0][2]
        for (t0, c0, _), (t1, c1, n1) in zip(pts, pts[1:]):
            if t0 <= t <= t1:
                c = c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c1
                return c, (t1 - t0) / 4, n1
        t0, c0, n0 = pts[-1]
        if self.gone is None:
            fail("CPU time of %d asked for %.3f s after its last poll" % (self.pid, t - t0))
        half = (min(t, self.gone) - t0) / 2
        return c0 + half, half, n0

    def span(self, t0, t1):
        """CPU seconds used in [t0, t1], the bound on that figure's error (s), and an
        upper bound on the run intervals that overlap [t0, t1]."""
        c0, e0, _ = self.at(t0)
        c1, e1, n1 = self.at(t1)
        n0 = max([n for (t, _, n) in self.points if t <= t0] or [0])
        return c1 - c0, e0 + e1, n1 - n0 + 1

    def steal(self, t0, t1):
        """Steal of all CPUs (s) between the last poll at or before @t0 and the first
        at or after @t1 (the last one if none is): never less than the steal in [t0, t1]
        while the trace ran."""
        before = [v for t, v in self.steals if t <= t0] or [self.steals[0][1]]
        after = [v for t, v in self.steals if t >= t1] or [steal_seconds()]
        return after[0] - before[-1]

    def wait_cpu(self, since_t, seconds, ag, timeout=120):
        """Waits until the process has used @seconds of CPU since wall time @since_t
        (counted from the first poll after it, so never less)."""
        first = wait_for(lambda: next((c for t, c, _ in self.points if t >= since_t), None),
                         timeout, "a poll of process %d" % self.pid, ag)
        wait_for(lambda: self.points[-1][1] - first >= seconds, timeout,
                 "%.1f s of CPU time of process %d" % (seconds, self.pid), ag)


# A count is checked to SIGMAS standard deviations of its sampling noise: a false failure
# in about 1 of 15000 checks (normal tails), while a loss of 10% of the samples lands far
# outside for every count used here (each case says by how much).
SIGMAS = 4
# Per window edge, scheduling delays that nothing measures: the agent taking a window's
# timestamp and then, a moment later, flipping the sampler's buffers or stopping it, and
# a reload's gap between stopping the old sampler and starting the new one (each well
# under 1 ms on an idle machine; a preempted agent waits for one scheduler slice).
EDGE_SLACK_S = 0.020


def sample_tolerance(expected, intervals, hz, edge_s):
    """Largest credible |count - expected| for the cpu-clock samples of one thread.

    The cpu-clock event fires every 1/F s on each CPU, on a time grid that does not know
    the scheduler; a sample goes to whoever runs at that instant. A run interval of length
    L therefore holds floor(L F) or ceil(L F) samples, ceil with probability frac(L F), so
    its mean is exactly L F (expected = F x the CPU time, which comes from schedstat and
    not from wall time, so load does not matter) and its variance frac (1 - frac) is at
    most 1/4 and at most L F. With the interval phases independent (F is coprime to the
    250 Hz scheduler tick, so the sampling grid sweeps every phase of the tick within a
    second), the variance of a sum over N intervals is at most min(N / 4, expected) (the
    second term is the Poisson-like case of intervals much shorter than 1/F). On top: F x
    @edge_s for the measured uncertainty of the CPU time at the window edges plus their
    slack, and 1 for rounding.
    """
    var = min(intervals / 4.0, expected)
    return SIGMAS * var ** 0.5 + hz * edge_s + 1


def check_count(what, n, hz, busy, intervals, edge_s, steal_s):
    """Checks @n samples against F x @busy CPU seconds, within sample_tolerance(); above
    it, also F x @steal_s, the steal over the same span (steal_seconds()): stolen time
    of a task is sampled but not in its CPU time. A loss still shows as too few."""
    expected = hz * busy
    tol = sample_tolerance(expected, intervals, hz, edge_s)
    high = expected + hz * steal_s + tol
    print("%s: %d samples, expected %.1f +- %.1f (%.2f of it; %.2f s busy in <= %d run "
          "intervals, %.3f s at the edges, up to %.3f s stolen)" %
          (what, n, expected, tol, (n - expected) / tol, busy, intervals, edge_s, steal_s))
    check(expected - tol <= n <= high,
          "%s: %d samples, expected %.1f - %.1f + %.1f (%d Hz x %.3f s, %.3f s stolen)" %
          (what, n, expected, tol, high - expected, hz, busy, steal_s))


def wait_for(cond, timeout, what, ag=None, step=0.02):
    """Polls @cond until it returns something true and returns that; fails (never skips)
    after @timeout seconds, or as soon as the agent @ag has exited."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if ag is not None and ag.proc.poll() is not None:
            fail("agent exited (%d) while waiting for %s:\n%s" %
                 (ag.proc.returncode, what, ag.log()))
        if time.time() > deadline:
            fail("no %s within %d s%s" % (what, timeout, "\n" + ag.log() if ag else ""))
        time.sleep(step)


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^%s:\s+(\d+) kB" % field, f.read(), re.M)
    return int(m.group(1))


def child_pid(parent, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (parent, parent)) as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.01)
    fail("process %d started no child" % parent)


# ---- cases -----------------------------------------------------------------------


def mid_drain_interval(ag):
    """Waits for the middle of one of the agent's drain intervals. With windows of 10 s
    or more the agent drains every 5 s (MAX_DRAIN_S) from the start of the first window;
    a stop or reload sent 2-4 s after such a drain leaves 2-4 s of samples that only the
    stop's or the reload's own drains can bring into the window, so a fault that skips
    them loses far more than the tolerance. (Each drain is up to a poll period late: the
    phase drifts by well under 1 s over the few drains of a case.)"""
    wait_for(lambda: 2.0 <= (time.time() - ag.started_at) % 5.0 <= 4.0, 10,
             "the middle of a drain interval", ag, step=0.01)


def process_identity(pid):
    """(exe, cgroup, container_id) as the agent promises them (agg/proc_tracker.c): the
    /proc/PID/exe link, the cgroup v2 path (the "0::" line of /proc/PID/cgroup), and the
    last run of exactly 64 hex digits in that path (docker, containerd, cri-o), None when
    there is none: then the window carries no container_id label."""
    exe = os.readlink("/proc/%d/exe" % pid)
    with open("/proc/%d/cgroup" % pid) as f:
        cgroup = next((l.rstrip("\n")[3:] for l in f if l.startswith("0::")), None)
    ids = re.findall(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])", cgroup or "")
    return exe, cgroup, ids[-1] if ids else None


def case_windows():
    """Acceptance 1: 35 s of a busy fixture under 10 s windows, against `ember record`."""
    need_root()
    d = tmpdir()
    hz = 199
    ag = Agent(["-o", d + "/out", "--window", "10s", "--jitter", "no", "-F", str(hz), "-l",
                "service=windows_test"])
    try:
        ag.wait_started()
        # Windows end 10, 20, 30 and 40 s after the agent started: a fixture that starts
        # now and runs 35 s spans exactly 4 of them (the 4th is cut by SIGTERM).
        rec = subprocess.Popen([EMBER, "record", "-F", str(hz), "-o", d + "/rec.folded", "--",
                                FIX + "/spin_target", "35"], stderr=subprocess.PIPE, text=True)
        pid = child_pid(rec.pid)
        trace = CpuTrace(pid)
        # record's child runs ember until it execs the fixture.
        wait_for(lambda: os.readlink("/proc/%d/exe" % pid).endswith("/spin_target"), 30,
                 "exec of spin_target")
        identity = process_identity(pid)
        _, rec_err = rec.communicate(timeout=120)
        ag.signal(signal.SIGTERM)
        check(rec.returncode == 0, "ember record failed:\n" + rec_err)
        trace.thread.join(5)
        rc = ag.stop()
    finally:
        ag.kill()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    check(trace.gone is not None, "the fixture's CPU trace did not end")
    files = window_files(d + "/out")
    check_accounting(ag, files)
    profiles = [read_profile(f) for f in files]
    seqs = [window_seq(f) for f in files]
    mine = [(q, p) for q, p in zip(seqs, profiles)
            if p.total(lambda s: s["labels"].get("pid") == pid)]
    check(len(mine) == 4, "fixture samples are in %d windows, expected 4 (files: %s)\n%s" %
          (len(mine), files, ag.log()))
    logged = ag.windows_logged()
    total = 0
    for i, (seq, p) in enumerate(mine):
        n = p.total(lambda s: s["labels"].get("pid") == pid)
        start = p.time_ns / 1e9
        end = start + p.duration_ns / 1e9
        busy, err, intervals = trace.span(start, end)
        # Each edge of the window: the CPU-time error (err, both edges) and the slack, and
        # at a cut the drain that follows the cut's timestamp: its samples before the flip
        # belong to the window that ends there. Windows log the time of their drains (ms).
        drains = (logged[seq][1] + logged.get(seq - 1, (0, 0))[1]) / 1e3
        # With a whole CPU about 1990 samples per full window in at most a few thousand
        # run intervals: a tolerance of 3-5%, half a 10% loss. On a busy machine the
        # fixture gets less CPU and this check is coarser (the window cut short by a
        # 35 s fixture too): loss is caught by the total below and the accounting.
        check_count("window %d" % (i + 1), n, hz, busy, intervals,
                    err + 2 * EDGE_SLACK_S + drains, trace.steal(start, end))
        total += n
    # The fixture's whole life is inside the agent's run: no window edge counts here, only
    # the CPU time after its last poll (err) and the fixture's run intervals.
    busy, err, intervals = trace.span(0, time.time())
    stolen = trace.steal(0, time.time())
    # About 7000 samples at 1 CPU: the tolerance is 1-5%, a 10% loss is caught.
    check_count("all windows", total, hz, busy, intervals, err, stolen)
    # The same process in a single recording: record's own sampler, the same statistics.
    with open(d + "/rec.folded") as f:
        recorded = sum(int(l.rsplit(" ", 1)[1]) for l in f if l.startswith("spin_target;"))
    check_count("ember record", recorded, hz, busy, intervals, err, stolen)
    # Labels and loss counters travel in every window.
    for p in profiles:
        s = p.samples[0]["labels"]
        check(s.get("host") == socket.gethostname(), "host label %r" % s.get("host"))
        check(s.get("kernel_release") == os.uname().release, "kernel_release %r" % s)
        check(s.get("service") == "windows_test", "static label missing: %r" % s)
        check(any(k.startswith("lost.") for k in counters(p)),
              "no loss counters in the window's comments: %r" % p.comments)
    fixture = [s for s in mine[1][1].samples if s["labels"].get("pid") == pid]
    check(fixture[0]["labels"].get("process_name") == "spin_target", "process_name label")
    check(any(m["build_id"] for m in mine[1][1].mappings.values()
              if m["path"].endswith("spin_target")), "no build-id on the fixture's mapping")
    # exe, cgroup and container_id on every sample of the fixture, in every window.
    exe, cgroup, container = identity
    check(cgroup is not None, "no cgroup v2 line in /proc/%d/cgroup" % pid)
    print("fixture identity: exe %s, cgroup %s, container_id %s" % identity)
    for i, (_, p) in enumerate(mine):
        for s in p.samples:
            lab = s["labels"]
            if lab.get("pid") != pid:
                continue
            check(lab.get("exe") == exe, "window %d: exe label %r, expected %r" %
                  (i + 1, lab.get("exe"), exe))
            check(lab.get("cgroup") == cgroup, "window %d: cgroup label %r, expected %r" %
                  (i + 1, lab.get("cgroup"), cgroup))
            check(lab.get("container_id") == container,
                  "window %d: container_id label %r, expected %r (from cgroup %r)" %
                  (i + 1, lab.get("container_id"), container, cgroup))
    check(re.search(r"window 1: [\d.]+ s at 199 Hz: \d+ samples", ag.log()),
          "no per-window self-metrics line:\n" + ag.log())
    print("windows ok")


def case_churn():
    """Acceptance 2: 2 minutes of 20 new processes/s burning 30 ms each."""
    need_root()
    d = tmpdir()
    # The symbolizer forgets each exited process once its window is written and keeps
    # the rest within its budget (--symbolizer-memory), never restarting. Memory must be
    # bounded: the peak of minute 2 within 10% of the peak of minute 1. The agent sees the
    # whole host, so new programs elsewhere (a build beside the test) grow its symbolizer
    # up to the budget: 10M, under what this host's kernel symbols, libc, ld.so and
    # libpython take (about 10 MB), keeps it at the budget from the first window on, and
    # the comparison then sees what grows outside it. Unwinding: the default, tables.
    ag = Agent(["-o", d + "/out", "--window", "10s", "--jitter", "no", "-F", "99",
                "--symbolizer-memory", "10M"])
    # Spawned and reaped here (not through subprocess, which may reap them itself): wait4
    # returns each one's CPU time, exact to the microsecond (utime + stime add up to the
    # scheduler's runtime), and its context switches, which bound its run intervals.
    # RSS and anonymous RSS (kB) read every 0.5 s in the second half of each minute.
    pending, pids, rss = [], set(), {1: ([], []), 2: ([], [])}
    cpu = intervals = 0

    def reap(block):
        nonlocal cpu, intervals
        for pid in list(pending):
            got, status, ru = os.wait4(pid, 0 if block else os.WNOHANG)
            if got:
                check(os.waitstatus_to_exitcode(status) == 0, "churn_burn %d failed" % pid)
                cpu += ru.ru_utime + ru.ru_stime
                intervals += ru.ru_nvcsw + ru.ru_nivcsw + 1
                pending.remove(pid)

    try:
        ag.wait_started()
        steal0 = steal_seconds()
        t0 = time.time()
        n = 0
        next_poll = 0
        while True:
            now = time.time() - t0
            if now >= 120:
                break
            if n < now * 20:
                pid = os.posix_spawn(CHURN_BURN, [CHURN_BURN, "30"], os.environ)
                pending.append(pid)
                pids.add(pid)
                n += 1
            reap(False)
            if now >= next_poll:
                next_poll = now + 0.5
                minute = 1 if now < 60 else 2
                if now >= 60 * minute - 30:  # the second half of each minute
                    rss[minute][0].append(rss_kb(ag.proc.pid))
                    rss[minute][1].append(rss_kb(ag.proc.pid, "RssAnon"))
            time.sleep(0.005)
        reap(True)
        stolen = steal_seconds() - steal0
        rc = ag.stop()
    finally:
        ag.kill()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    files = window_files(d + "/out")
    check_accounting(ag, files)
    total = good = named = rooted = 0
    for f in files:
        p = read_profile(f)
        for s in p.samples:
            # By pid: a process's samples before its exec carry the spawner's name, and its
            # CPU time counts them. (pid_max is 32768 here: 2400 pids are not reused by
            # another process within the 2 minutes unless the host forks ~15 times as fast.)
            if s["labels"].get("pid") not in pids:
                continue  # another churn_burn on the host is not this test's
            total += s["count"]
            if s["labels"].get("process_name") != "churn_burn":
                continue
            named += s["count"]
            if not is_unknown(p.leaf_function(s)):
                good += s["count"]
            if p.reaches_root(s):
                rooted += s["count"]
    resets = ag.log().count("symbolizer caches dropped")
    held = [float(x) for x in re.findall(r"; symbolizer ([\d.]+) MB;", ag.log())]
    # The memory after each minute: the median of its second half. Single reads peak by
    # a file's worth above it while a window reads back a file the budget dropped (the
    # budget is soft by the files of the last lookups); growth shows in the level.
    level = dict((m, [int(statistics.median(v)) for v in rss[m]]) for m in (1, 2))
    print("%d processes; %d samples (%d named churn_burn), %d symbolized, %d reach a root; "
          "RSS / anonymous kB after minute 1 %s, minute 2 %s (peaks %s, %s); "
          "%d symbolizer resets; symbolizer MB by window %s" %
          (n, total, named, good, rooted, level[1], level[2],
           [max(v) for v in rss[1]], [max(v) for v in rss[2]], resets, held))
    # Every process lived and died inside the agent's run: no window edge, no CPU-time
    # error. About 2400 x 31 ms x 99 Hz = 7400 samples: 4 sqrt(7400) = 344 (4.6%) even
    # when a busy machine switches every process out dozens of times, 2.5% with a few
    # run intervals per process; a 10% loss is caught either way.
    check_count("churn processes", total, 99, cpu, intervals, 0, stolen)
    # Issue 12, acceptance 2: >= 99% symbolized, >= 98% reach a root (of ~7,000 samples,
    # one binomial standard deviation is ~0.12 points at 99%).
    check(good >= 0.99 * named, "only %d of %d churn samples symbolized" % (good, named))
    check(rooted >= 0.98 * named, "only %d of %d churn samples reach a root" % (rooted, named))
    # Issue 12, acceptance 2: memory is bounded without restarting the symbolizer.
    check(resets == 0, "the symbolizer was restarted %d times:\n%s" % (resets, ag.log()))
    # Each window ends within the budget (10 MiB; the log rounds MiB to 0.1).
    check(held and max(held) <= 10.05, "the symbolizer held %s MiB after its windows, "
          "over its 10M budget" % held)
    check(level[2][0] <= 1.10 * level[1][0],
          "agent RSS %d kB after minute 2, %d kB after minute 1 (> 10%% growth)" %
          (level[2][0], level[1][0]))
    check(level[2][1] <= 1.10 * level[1][1],
          "agent anonymous RSS %d kB after minute 2, %d kB after minute 1 (> 10%% growth)" %
          (level[2][1], level[1][1]))
    print("churn ok")


def case_defaults_nofp():
    """Issue 12, acceptance 1: with default settings (19 Hz, unwind auto) the window
    samples of code without frame pointers reach main or libc's start: the fixture built
    with -fomit-frame-pointer and Debian's xz, both started after the agent."""
    need_root()
    d = tmpdir()
    # Defaults but for shorter windows without jitter, so the test takes 25 s, not minutes.
    ag = Agent(["-o", d + "/out", "--window", "5s", "--jitter", "no"])
    text = d + "/text"
    rnd = random.Random(1)
    words = ["".join(rnd.choice("abcdefghij") for _ in range(rnd.randint(2, 9)))
             for _ in range(5000)]
    with open(text, "w") as f:
        f.write(" ".join(rnd.choice(words) for _ in range(2000000)))
    procs = []
    try:
        ag.wait_started()
        # Each about 20 s (the fixture's 4500 units, xz restarted until then, so its start-up
        # is sampled too): up to 380 samples each at 19 Hz.
        procs.append(subprocess.Popen(
            ["sh", "-c", "end=$(($(date +%%s) + 20)); while [ $(date +%%s) -lt $end ]; do "
             "xz -6 -T1 -c %s >/dev/null; done" % text]))
        procs.append(subprocess.Popen([FIX + "/split_nofp_gcc", "4500"],
                                      stdout=subprocess.DEVNULL))
        for p in procs:
            check(p.wait(timeout=180) == 0, "workload failed")
        rc = ag.stop()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        ag.kill()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    files = window_files(d + "/out")
    check_accounting(ag, files)
    for name in ("xz", "split_nofp_gcc"):
        total = rooted = 0
        for f in files:
            p = read_profile(f)
            for smp in p.samples:
                if smp["labels"].get("process_name") != name:
                    continue
                total += smp["count"]
                rooted += smp["count"] if p.reaches_root(smp) else 0
        print("%s: %d of %d window samples reach a root" % (name, rooted, total))
        # 98% of ~380 samples: one binomial standard deviation is 0.7 points.
        check(total >= 100, "%s: only %d samples" % (name, total))
        check(rooted >= 0.98 * total, "%s: %d of %d samples reach main or libc's start" %
              (name, rooted, total))
    print("defaults_nofp ok")


def case_unwind_cache():
    """The agent keeps built unwind tables on disk (unwind-cache): a second start loads
    them instead of parsing .eh_frame again, and stacks walked with them are whole."""
    need_root()
    d = tmpdir()
    cache = d + "/cache"
    runs = []
    for run in (1, 2):
        out = "%s/out%d" % (d, run)
        ag = Agent(["-o", out, "--window", "2s", "--jitter", "no", "-F", "99",
                    "--unwind-cache", cache])
        try:
            ag.wait_started()
            # About 4 s of CPU (the fixture's 900 units): ~400 samples at 99 Hz. Long
            # enough that the loader thread's start-up on a loaded host (a table is
            # published some 100 ms after exec at a load average of 16) is not
            # what the fraction measures.
            fx = subprocess.run([FIX + "/split_nofp_gcc", "900"], stdout=subprocess.DEVNULL,
                                timeout=120)
            check(fx.returncode == 0, "fixture failed")
            rc = ag.stop()
        finally:
            ag.kill()
        check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
        files = window_files(out)
        check_accounting(ag, files)
        total = {}
        rooted = good = 0
        ids = set()
        for f in files:
            p = read_profile(f)
            for k, v in counters(p).items():
                total[k] = total.get(k, 0) + v
            for smp in p.samples:
                if smp["labels"].get("process_name") != "split_nofp_gcc":
                    continue
                good += smp["count"]
                rooted += smp["count"] if p.reaches_root(smp) else 0
            ids |= set(m["build_id"] for m in p.mappings.values()
                       if m["build_id"] and m["path"].endswith("/split_nofp_gcc"))
        built = total.get("unwind.tables.built", 0)
        disk = total.get("unwind.tables.from_disk_cache", 0)
        cached = set(f[:-len(".unwind")] for f in os.listdir(cache) if f.endswith(".unwind"))
        print("run %d: %d tables placed, %d of them from the disk cache; %d files cached; "
              "fixture: %d of %d samples reach a root" % (run, built, disk, len(cached),
                                                          rooted, good))
        check(len(ids) == 1, "fixture build-ids in the windows: %r" % ids)
        check(ids <= cached, "the fixture's table %s is not in the cache %s" % (ids, cached))
        # ~400 samples: at 98%, one binomial standard deviation is 0.7 points.
        check(good >= 200 and rooted >= 0.95 * good,
              "run %d: %d of %d fixture samples reach a root" % (run, rooted, good))
        runs.append((built, disk, total.get("unwind.tables.evicted", 0) +
                     total.get("unwind.tables.no_space", 0)))
    (built1, disk1, dropped1), (built2, disk2, _) = runs
    # A fresh directory holds only what this run saved: a table comes back from it only
    # after the run built and saved it, then dropped it from the kernel (evicted when no
    # process mapped it any more, or not placed for want of space). On a host that starts
    # the same programs again and again (a build beside the test) that happens in run 1.
    check(disk1 <= dropped1, "a fresh cache directory gave %d tables, %d were dropped before" %
          (disk1, dropped1))
    # The host's processes and the fixture are the same in both runs: every table with a
    # build-id that run 1 built, run 2 reads (the fixture, libc and ld.so at least); what
    # it still builds are files without a build-id and programs new since run 1.
    check(disk2 >= 3, "run 2 read only %d tables from the disk cache" % disk2)
    check(built2 - disk2 < built1, "run 2 built %d tables from .eh_frame, run 1 placed %d" %
          (built2 - disk2, built1))
    print("unwind_cache ok")


def refusing_port():
    """(socket, port): a port on 127.0.0.1 chosen by the kernel where connections are
    refused, held by a bound socket that does not listen (so nobody else takes it while a
    test needs it down). SO_REUSEPORT lets a Receiver listen on the same port meanwhile."""
    sk = socket.socket()
    sk.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sk.bind(("127.0.0.1", 0))
    return sk, sk.getsockname()[1]


class Receiver:
    """A Pyroscope-style /ingest endpoint on 127.0.0.1 that records every request. On
    port 0 (the default) the kernel picks the port; another port is one that
    refusing_port() holds."""

    def __init__(self, port=0, status=200, requests=None):
        self.requests, self.status = [] if requests is None else requests, status
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                url = urllib.parse.urlparse(self.path)
                outer.requests.append({"path": url.path,
                                       "query": dict(urllib.parse.parse_qsl(url.query)),
                                       "auth": self.headers.get("Authorization"),
                                       "body": body})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.HTTPServer):
            allow_reuse_port = True

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def check_body_with_go(body, d, i):
    path = os.path.join(d, "body-%d.pb.gz" % i)
    with open(path, "wb") as f:
        f.write(body)
    env = dict(os.environ, HOME=d, GOCACHE=d + "/gocache", GOFLAGS="")
    p = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True,
                       env=env, timeout=60)
    check(p.returncode == 0 and "Samples:" in p.stdout,
          "go tool pprof -raw rejects body %d: %s" % (i, p.stderr))


def case_push():
    """Acceptance 3: receiver down 60 s mid-run; every window arrives once, in order."""
    need_root()
    if subprocess.run(["go", "version"], capture_output=True).returncode != 0:
        fail("go is not installed (Debian golang-go)")
    d = tmpdir()
    with open(d + "/token", "w") as f:
        f.write("s3cret-token\n")
    os.chmod(d + "/token", 0o600)
    rcv = Receiver()
    port = rcv.port
    ag = Agent(["-o", d + "/out", "--window", "2s", "--jitter", "no", "--push",
                "http://127.0.0.1:%d" % port, "--push-token-file", d + "/token",
                "--push-backoff-min", "500ms", "--push-backoff-max", "2s", "--push-app",
                "pushtest", "-l", "service=push_test"])
    holder = None
    try:
        ag.wait_started()
        wait_for(lambda: len(rcv.requests) >= 4, 40, "4 windows pushed", ag)
        # The outage: the port stays held (refused, not taken by another process).
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", port))
        rcv.close()
        down_at = len(rcv.requests)
        ag.wait_log(r"retrying", timeout=30)
        time.sleep(60)  # the length of the outage, not a wait for readiness
        rcv2 = Receiver(port, requests=rcv.requests)
        holder.close()
        wait_for(lambda: len(rcv2.requests) >= len(window_files(d + "/out")) and
                 not glob.glob(d + "/out/spool/0*"), 60, "the spool emptied after the outage",
                 ag)
        rc = ag.stop()
        rcv2.close()
    finally:
        ag.kill()
        if holder:
            holder.close()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    reqs = rcv.requests
    files = window_files(d + "/out")
    starts = [read_profile(f).time_ns for f in files]
    froms = [Profile(r["body"]).time_ns for r in reqs]
    print("%d windows written, %d pushed (%d before the outage)" %
          (len(files), len(reqs), down_at))
    check(froms == starts, "pushed windows %s differ from the windows written %s" %
          (froms, starts))
    check(len(files) >= 25, "only %d windows in 80 s" % len(files))
    check(not glob.glob(d + "/out/spool/0*"), "windows left in the spool")
    for i, r in enumerate(reqs):
        q = r["query"]
        check(r["path"] == "/ingest", "path %r" % r["path"])
        check(r["auth"] == "Bearer s3cret-token", "Authorization header %r" % r["auth"])
        check(q.get("format") == "pprof" and q.get("sampleRate") == "19", "query %r" % q)
        # Pyroscope files everything before '{' as service_name: no ".cpu" suffix.
        check(q["name"].startswith("pushtest{host=") and "service=push_test" in q["name"],
              "name %r" % q["name"])
        check(int(q["until"]) > int(q["from"]), "until <= from: %r" % q)
        check(int(q["from"]) == froms[i] // 10**9, "from %s is not the window's start" % q)
        check_body_with_go(r["body"], d, i)
    check_accounting(ag, files)
    print("push ok")


def case_push_reject():
    """A 4xx answer drops the window instead of retrying it forever; basic auth."""
    need_root()
    d = tmpdir()
    with open(d + "/creds", "w") as f:
        f.write("agent:pa55word\n")
    os.chmod(d + "/creds", 0o600)
    rcv = Receiver(status=400)
    ag = Agent(["-o", d + "/out", "--window", "1s", "--jitter", "no", "--push",
                "http://127.0.0.1:%d/ingest" % rcv.port, "--push-backoff-min", "100ms",
                "--push-basic-auth-file", d + "/creds"])
    try:
        ag.wait_started()
        ag.wait_log(r"rejected window", count=3, timeout=60)
        rc = ag.stop()
    finally:
        ag.kill()
        rcv.close()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    files = window_files(d + "/out")
    check_accounting(ag, files)
    check(len(rcv.requests) == len(files),
          "%d requests for %d windows: 4xx answers were retried" %
          (len(rcv.requests), len(files)))
    check("rejected window" in ag.log() and "HTTP 400" in ag.log(), "no rejection logged")
    check(all(r["auth"] == "Basic YWdlbnQ6cGE1NXdvcmQ=" for r in rcv.requests),
          "basic credentials not sent: %r" % [r["auth"] for r in rcv.requests][:3])
    check(not glob.glob(d + "/out/spool/0*"), "rejected windows left in the spool")
    print("push_reject ok")


def case_push_restart():
    """Windows spooled while the server is down survive an agent restart, in order."""
    need_root()
    d = tmpdir()
    down, port = refusing_port()
    args = ["-o", d + "/out", "--window", "1s", "--jitter", "no", "--push-backoff-min",
            "200ms", "--push-backoff-max", "500ms", "--push"]
    ag = Agent(args + ["http://127.0.0.1:%d" % port])  # refused: nothing listens
    try:
        ag.wait_started()
        wait_for(lambda: len(glob.glob(d + "/out/spool/0*")) >= 3, 60, "3 spooled windows", ag)
        rc = ag.stop()
    finally:
        ag.kill()
        down.close()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    spooled = sorted(glob.glob(d + "/out/spool/0*"))
    check(len(spooled) >= 3, "only %d windows spooled while the server was down" % len(spooled))
    first_files = window_files(d + "/out")
    check_accounting(ag, first_files)
    first = [read_profile(f).time_ns for f in first_files]
    # The spool does not depend on the URL: the second run pushes to a new server.
    rcv = Receiver()
    ag = Agent(args + ["http://127.0.0.1:%d" % rcv.port])
    try:
        ag.wait_started()
        wait_for(lambda: len(rcv.requests) >= len(first) + 2, 60,
                 "the spooled windows and 2 new ones pushed", ag)
        rc = ag.stop()
    finally:
        ag.kill()
        rcv.close()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    check_accounting(ag, sorted(set(window_files(d + "/out")) - set(first_files)))
    # Windows are told apart by their start in ns (two can start in the same second).
    froms = [Profile(r["body"]).time_ns for r in rcv.requests]
    check(froms[:len(first)] == first,
          "the first run's windows %s did not arrive first, in order: %s" % (first, froms))
    check(froms == sorted(froms) and len(set(froms)) == len(froms),
          "windows out of order or repeated: %s" % froms)
    check("left in" in ag.log(), "no message about the spooled windows:\n" + ag.log())
    print("push_restart ok: %d windows from the first run, %d in all" % (len(first), len(froms)))


def case_spool_bound():
    """The spool stays within spool-bytes while the server is down; drops are counted."""
    need_root()
    d = tmpdir()
    down, port = refusing_port()
    spin = subprocess.Popen([FIX + "/spin_target", "30"])
    ag = Agent(["-o", d + "/out", "--window", "1s", "--jitter", "no", "-F", "199", "--push",
                "http://127.0.0.1:%d" % port, "--spool-bytes", "4K",
                "--push-backoff-max", "1s"])
    peak = 0

    def spool_size():
        nonlocal peak
        size = 0
        for f in glob.glob(d + "/out/spool/0*"):
            try:
                size += os.path.getsize(f)
            except FileNotFoundError:
                pass
        peak = max(peak, size)
        return size

    def dropped_and_3_more():
        spool_size()  # watched every 10 ms meanwhile
        drops = re.findall(r"window (\d+): push: .*dropped [1-9]", ag.log())
        return drops and max(ag.windows_logged()) >= int(drops[0]) + 3

    try:
        ag.wait_started()
        wait_for(dropped_and_3_more, 60, "a dropped window and 3 windows after it", ag,
                 step=0.01)
        rc = ag.stop()
    finally:
        ag.kill()
        spin.kill()
        spin.wait()
        down.close()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    check_accounting(ag, window_files(d + "/out"))
    biggest = max(os.path.getsize(f) for f in window_files(d + "/out"))
    # Bounded after each enqueue; one window may be in flight beyond the bound.
    # 4 KiB (the smallest bound): on a quiet machine a window of one spinning process is
    # only 2-3 kB, so a larger bound may not fill within the test.
    check(peak <= 4 * 1024 + biggest, "spool reached %d bytes with a 4 KiB bound" % peak)
    check("dropped window" in ag.log(), "no spool drop logged:\n" + ag.log())
    m = re.findall(r"push: sent \d+, rejected \d+, dropped (\d+)", ag.log())
    check(m and int(m[-1]) > 0, "drops not counted in the self-metrics")
    print("spool_bound ok: peak %d bytes" % peak)


# ---- push against Pyroscope's ingest rules (issue 16) ----------------------------


PUSH_LINE = (r"window (\d+): push: sent (\d+), rejected (\d+), dropped (\d+), expired (\d+), "
             r"oversize (\d+), rate-limit drops (\d+), split (\d+); failed attempts (\d+) "
             r"\(auth (\d+), 422 (\d+), 429 (\d+)\)")
PUSH_FIELDS = ("window", "sent", "rejected", "dropped", "expired", "oversize", "rl_drops",
               "split", "failures", "auth", "u422", "r429")


def push_counters(ag):
    """The push counters of the last window's push log line, as a dict."""
    m = re.findall(PUSH_LINE, ag.log())
    check(m, "no push log line:\n" + ag.log())
    return dict(zip(PUSH_FIELDS, (int(x) for x in m[-1])))


def wait_push(ag, what, timeout=60, **want):
    """Waits for a push log line whose counters include @want (exact values)."""
    def ok():
        for m in re.findall(PUSH_LINE, ag.log()):
            c = dict(zip(PUSH_FIELDS, (int(x) for x in m)))
            if all(c[k] == v for k, v in want.items()):
                return c
        return None
    return wait_for(ok, timeout, what, ag)


def window_starts(d):
    return [read_profile(f).time_ns for f in window_files(d)]


def scrape_metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode()


def metric(text, name):
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    check(m, "%s missing from the metrics:\n%s" % (name, text))
    return int(m.group(1))


SERIES_BASE = {"__name__", "__delta__", "service_name", "pyroscope_spy", "host",
               "kernel_release"}


def case_push_pyroscope():
    """Acceptance 5: a Pyroscope server files every window once, in order, under the
    configured service name, tenant and labels; without the tenant it answers 401, which
    is backed off (counted), never dropped."""
    need_root()
    d = tmpdir()
    rcv = PyroscopeReceiver(Profile, multi_tenant=True)
    app = "shop/checkout-api.v2"
    ag = Agent(["-o", d + "/out", "--window", "1s", "--jitter", "no", "--push",
                "http://127.0.0.1:%d" % rcv.port, "--push-app", app, "--push-tenant", "team-a",
                "-l", "env=test", "--push-backoff-min", "100ms"])
    busy = None
    try:
        ag.wait_started()
        # Something to sample on an idle host: the series come from its samples.
        busy = subprocess.Popen([CHURN_BURN, "60000"])
        wait_for(lambda: len(rcv.filed) >= 4, 60, "4 windows filed", ag)
        rc = ag.stop()
    finally:
        if busy:
            busy.kill()
            busy.wait()
        ag.kill()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    check_accounting(ag, window_files(d + "/out"))
    starts = window_starts(d + "/out")
    filed = [r["profile"].time_ns for r in rcv.filed]
    check(not rcv.refused, "the server refused %r" % [(r["status"], r["reason"])
                                                      for r in rcv.refused])
    check(filed == starts, "windows filed %s, written %s" % (filed, starts))
    host = socket.gethostname()
    names = set()
    for r in rcv.filed:
        check(r["tenant"] == "team-a", "X-Scope-OrgID %r" % r["tenant"])
        check(r["service_name"] == app, "filed under service_name %r" % r["service_name"])
        check(r["name_labels"] == {"host": host, "env": "test"},
              "name labels %r" % r["name_labels"])
        for s in r["profile"].samples:
            for k in ("thread_name", "pid", "tid"):
                check(k not in s["labels"], "pushed sample has a %s label: %r" %
                      (k, s["labels"]))
        for series in r["series"]:
            n = set(k for k, _ in series)
            check(SERIES_BASE | {"env"} <= n <= SERIES_BASE | {"env", "process_name"},
                  "series label names %s" % sorted(n))
            names |= n
    check("process_name" in names, "no series by process_name")
    print("push_pyroscope: %d windows filed under %s for team-a" % (len(filed), app))

    # The same server without the tenant header: 401, backed off and counted, kept.
    ag = Agent(["-o", d + "/out2", "--window", "1s", "--jitter", "no", "--push",
                "http://127.0.0.1:%d" % rcv.port, "--push-backoff-min", "100ms",
                "--push-backoff-max", "200ms"])
    before = len(rcv.filed)
    try:
        ag.wait_started()
        ag.wait_log(r"refused the credentials \(HTTP 401\)", count=3, timeout=60)
        ag.wait_log(PUSH_LINE, count=2, timeout=60)
        rc = ag.stop()
    finally:
        ag.kill()
        rcv.close()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    c = push_counters(ag)
    check(len(rcv.filed) == before, "filed without a tenant")
    check(c["auth"] >= 1 and c["auth"] == c["failures"] and c["rejected"] == 0 and
          c["sent"] == 0, "401s counted as %r" % c)
    check(glob.glob(d + "/out2/spool/0*"), "windows refused with 401 left the spool")
    print("push_pyroscope ok")


def case_push_answers():
    """422 retried a bounded number of times, 401/403 backed off (the credential file read
    again), 429 capped per window: each class counted (log line and metrics), the other
    windows filed once, in order."""
    need_root()
    d = tmpdir()
    token = d + "/token"
    with open(token, "w") as f:
        f.write("old-token\n")
    os.chmod(token, 0o600)
    seen, per = [], {}  # window starts in order of first request; requests per window

    def plan(rcv, req):
        t = Profile(req["body"]).time_ns
        if t not in per:
            seen.append(t)
            per[t] = 0
        per[t] += 1
        i, n = seen.index(t), per[t]
        if i == 1 and n <= 2:
            return 422  # a backend failure that passes
        if i == 2 and req["auth"] != "Bearer new-token":
            # A credential being rotated: the server takes only the new one, which is
            # in the file from the first 401 on; the agent reads it again after a 401.
            with open(token + ".tmp", "w") as f:
                f.write("new-token\n")
            os.chmod(token + ".tmp", 0o600)
            os.rename(token + ".tmp", token)
            return 401
        if i == 3 and n <= 1:
            return 403
        if i == 4:
            return 429  # over the burst, forever
        if i == 5:
            return 422  # a body the server never takes
        return None

    rcv = PyroscopeReceiver(Profile, plan=plan)
    ag = Agent(["-o", d + "/out", "--window", "1s", "--jitter", "no", "--push",
                "http://127.0.0.1:%d" % rcv.port, "--push-backoff-min", "100ms",
                "--push-backoff-max", "300ms", "--push-rate-limit-max", "1s",
                "--push-token-file", token, "--metrics-port", "auto"])
    try:
        port = int(ag.wait_log(r"agent: metrics on http://127\.0\.0\.1:(\d+)/metrics").group(1))
        ag.wait_started()
        wait_for(lambda: len(seen) >= 8 and per[seen[7]] >= 1 and
                 any(r["profile"].time_ns == seen[7] for r in rcv.filed), 90,
                 "window 8 filed", ag)
        c = wait_push(ag, "a push line with every answer counted", rejected=1, rl_drops=1,
                      auth=2, u422=6, dropped=0, expired=0, oversize=0)
        text = wait_for(lambda: (lambda t: t if re.search(
            r'^ember_agent_push_windows_total\{outcome="rate_limited"\} 1$', t, re.M)
            else None)(scrape_metrics(port)), 30, "the drops in the metrics", ag, step=0.2)
        rc = ag.stop()
    finally:
        ag.kill()
        rcv.close()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    starts = window_starts(d + "/out")
    check(seen == starts[:len(seen)], "requests for windows %s, written %s" % (seen, starts))
    filed = [r["profile"].time_ns for r in rcv.filed]
    want = [t for i, t in enumerate(seen) if i not in (4, 5)]
    check(filed == want, "filed %s, expected every window but the 5th and 6th, in order: %s" %
          (filed, want))
    got = [per[t] for t in seen[:6]]
    check(got[:4] == [1, 3, 2, 2] and got[5] == 4,
          "requests per window %s; expected 1, 3 (422 x2), 2 (401, then the new token), "
          "2 (403), ..., 4 (422 x4, then dropped)" % got)
    check("changed; the next attempt sends the new token" in ag.log(),
          "the rotated token was not read again")
    check(all(r["auth"] == "Bearer new-token" for r in rcv.filed[2:]) and
          rcv.filed[0]["auth"] == "Bearer old-token",
          "old token sent after the rotation")
    r429 = [r["at"] for r in rcv.requests if Profile(r["body"]).time_ns == seen[4]]
    check(c["r429"] == len(r429) and r429[-1] - r429[0] >= 1.0 - 0.05,
          "429: %d attempts counted, %d sent over %.2f s (push-rate-limit-max 1s)" %
          (c["r429"], len(r429), r429[-1] - r429[0]))
    check(re.search(r"answered 429 to window \d+ for \d+ s \(push-rate-limit-max\); dropped",
                    ag.log()), "no 429 drop logged")
    check(re.search(r"rejected window \d+ with HTTP 422 .*not retried again", ag.log()),
          "no 422 drop logged")
    for name, v in (('ember_agent_push_windows_total{outcome="rejected"}', 1),
                    ('ember_agent_push_failed_attempts_total{reason="auth"}', 2),
                    ('ember_agent_push_failed_attempts_total{reason="unprocessable"}', 6)):
        check(metric(text, name) == v, "%s = %d, expected %d" % (name, metric(text, name), v))
    check_accounting(ag, window_files(d + "/out"))
    print("push_answers ok: %s" % c)


def case_push_expired():
    """Windows older than push-max-age when the server is back are dropped unsent and
    counted; the others are filed once, in order; the server refuses none."""
    need_root()
    d = tmpdir()
    down, port = refusing_port()
    ag = Agent(["-o", d + "/out", "--window", "1s", "--jitter", "no", "--push",
                "http://127.0.0.1:%d" % port, "--push-max-age", "3s", "--push-backoff-min",
                "100ms", "--push-backoff-max", "300ms"])
    rcv = None
    try:
        ag.wait_started()
        # Down until 2 windows expired in the spool (they expire while it is down too) and
        # 2 younger ones wait there.
        ag.wait_log(r"longer ago than push-max-age", count=2, timeout=60)
        wait_for(lambda: len(glob.glob(d + "/out/spool/0*")) >= 2, 60, "2 spooled windows", ag)
        rcv = PyroscopeReceiver(Profile, port=port, reject_older_than=4)
        down.close()
        wait_for(lambda: len(rcv.filed) >= 3 and not glob.glob(d + "/out/spool/0*"), 60,
                 "the spool sent after the outage", ag)
        rc = ag.stop()
    finally:
        ag.kill()
        down.close()
        if rcv:
            rcv.close()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    check(not rcv.refused, "the server refused %r" % [(r["status"], r["reason"])
                                                      for r in rcv.refused])
    starts = window_starts(d + "/out")
    filed = [r["profile"].time_ns for r in rcv.filed]
    expired = len(re.findall(r"longer ago than push-max-age", ag.log()))
    check(filed == sorted(set(filed)) and set(filed) <= set(starts),
          "filed %s of %s: repeated, out of order or unknown" % (filed, starts))
    check(expired >= 2 and expired + len(filed) == len(starts),
          "%d windows written, %d filed, %d expired" % (len(starts), len(filed), expired))
    check(filed == starts[expired:], "the expired windows are not the oldest: %s of %s" %
          (filed, starts))
    c = push_counters(ag)
    check(c["expired"] == expired and c["rejected"] == 0, "counters %r" % c)
    check_accounting(ag, window_files(d + "/out"))
    print("push_expired ok: %d expired, %d filed" % (expired, len(filed)))


def case_push_limits():
    """Windows over the server's sample limit are split (every sample filed once);
    windows that cannot fit push-max-bytes are refused before sending; chosen sample
    labels (here pid) are sent as strings."""
    need_root()
    d = tmpdir()
    spin = subprocess.Popen([FIX + "/spin_target", "60"])
    rcv = PyroscopeReceiver(Profile, max_samples=8, max_bytes=256 << 10)
    ag = Agent(["-o", d + "/out", "--window", "1s", "--jitter", "no", "-F", "199", "--push",
                "http://127.0.0.1:%d" % rcv.port, "--push-max-samples", "8",
                "--push-max-bytes", "256K", "--push-sample-labels", "process_name,pid"])
    try:
        ag.wait_started()
        ag.wait_log(r"sent as \d+ requests", count=2, timeout=60)
        rc = ag.stop()
    finally:
        ag.kill()
        rcv.close()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    check(not rcv.refused, "the server refused %r" % [(r["status"], r["reason"])
                                                      for r in rcv.refused[:3]])
    files = window_files(d + "/out")
    check_accounting(ag, files)
    by_start = {}
    order = []
    for r in rcv.filed:
        p = r["profile"]
        check(len(p.samples) <= 8, "a request of %d samples" % len(p.samples))
        if p.time_ns not in by_start:
            order.append(p.time_ns)
        by_start.setdefault(p.time_ns, []).append(p)
        for s in p.samples:
            check(isinstance(s["labels"].get("pid"), str) and "tid" not in s["labels"],
                  "pid not a string label, or tid sent: %r" % s["labels"])
    profiles = [read_profile(f) for f in files]
    check(order == [p.time_ns for p in profiles], "windows filed out of order or missing")
    split = 0
    for p in profiles:
        parts = by_start[p.time_ns]
        split += len(parts) > 1
        check(sum(x.total() for x in parts) == p.total() and
              sum(len(x.samples) for x in parts) == len(p.samples),
              "window %d: %d samples in %d requests, %d in the file" %
              (p.time_ns, sum(x.total() for x in parts), len(parts), p.total()))
    check(split >= 2 and push_counters(ag)["split"] >= 2, "%d windows split" % split)
    print("push_limits: %d windows, %d split" % (len(profiles), split))

    # A window that cannot be split under push-max-bytes is refused, never sent.
    rcv = PyroscopeReceiver(Profile)
    ag = Agent(["-o", d + "/out2", "--window", "1s", "--jitter", "no", "--push",
                "http://127.0.0.1:%d" % rcv.port, "--push-max-bytes", "1K"])
    try:
        ag.wait_started()
        ag.wait_log(r"refused before sending", count=3, timeout=60)
        ag.wait_log(PUSH_LINE, count=3, timeout=60)
        rc = ag.stop()
    finally:
        ag.kill()
        spin.kill()
        spin.wait()
        rcv.close()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    check(not rcv.requests, "%d requests over push-max-bytes sent" % len(rcv.requests))
    n = len(window_files(d + "/out2"))
    refused = len(re.findall(r"refused before sending", ag.log()))
    check(refused == n, "%d windows, %d refused" % (n, refused))
    check(push_counters(ag)["oversize"] >= 3, "oversize not counted: %r" % push_counters(ag))
    print("push_limits ok")


def case_sigterm():
    """Acceptance 4a: SIGTERM mid-window writes the partial window and exits 0."""
    need_root()
    d = tmpdir()
    hz = 997
    spin = subprocess.Popen([FIX + "/spin_target", "60"])
    trace = CpuTrace(spin.pid)
    ag = Agent(["-o", d + "/out", "--window", "60s", "--jitter", "no", "-F", str(hz)])
    try:
        ag.wait_started()
        # 4 s of the fixture's CPU time (not wall time: a busy machine only takes longer).
        trace.wait_cpu(ag.started_at, 4.0, ag)
        mid_drain_interval(ag)
        t = time.time()
        rc = ag.stop()
        took = time.time() - t
    finally:
        ag.kill()
        spin.kill()
        spin.wait()
        trace.thread.join(5)
    check(rc == 0, "agent exited %d after SIGTERM:\n%s" % (rc, ag.log()))
    files = window_files(d + "/out")
    check(len(files) == 1, "expected the partial window, got %s" % files)
    check_accounting(ag, files)
    p = read_profile(files[0])
    start, end = p.time_ns / 1e9, (p.time_ns + p.duration_ns) / 1e9
    # The window runs from before the readiness line to between SIGTERM and the exit.
    check(start <= ag.started_at and t <= end <= t + took,
          "partial window %.3f..%.3f s, ready at %.3f, SIGTERM at %.3f, exit at %.3f" %
          (start, end, ag.started_at, t, t + took))
    n = p.total(lambda s: s["labels"].get("pid") == spin.pid)
    busy, err, intervals = trace.span(start, end)
    # Its edges: the start is taken just after the sampler started, the end just before
    # it stops (the slack). 4000-6000 samples: at most 4 sqrt(4000) = 253 (6%) from the
    # sampling, 40 from the edges: a 10% loss (400) is caught.
    check_count("partial window", n, hz, busy, intervals, err + 2 * EDGE_SLACK_S,
                trace.steal(start, end))
    print("exit took %.1f s" % took)
    check("stopped by signal 15" in ag.log(), "no stop message:\n" + ag.log())
    print("sigterm ok")


def step_wall_clock(seconds):
    """Moves CLOCK_REALTIME by @seconds at once, as NTP or a VM's sync with its host does."""
    time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME) + seconds)


def case_clock_step():
    """A window's edges are wall-clock times, the axis of logs, of other tools and of the
    windows before and after it, also when the clock is stepped while it runs: CI machines
    step it (5 ms and more seen here; once 34 ms and once seconds within one window)."""
    need_root()
    d = tmpdir()
    step = 3.0
    hz = 997
    spin = subprocess.Popen([FIX + "/spin_target", "30"])
    trace = CpuTrace(spin.pid)
    ag = Agent(["-o", d + "/out", "--window", "60s", "--jitter", "no", "-F", str(hz)])
    stepped = 0.0
    try:
        ag.wait_started()
        # About 1 s of the fixture's CPU time on each side of the step.
        trace.wait_cpu(ag.started_at, 1.0, ag)
        step_wall_clock(step)
        stepped = step
        trace.wait_cpu(time.time(), 1.0, ag)
        t = time.time()
        rc = ag.stop()
        took = time.time() - t
    finally:
        if stepped:
            step_wall_clock(-stepped)
        ag.kill()
        spin.kill()
        spin.wait()
        trace.thread.join(5)
    check(rc == 0, "agent exited %d after SIGTERM:\n%s" % (rc, ag.log()))
    files = window_files(d + "/out")
    check(len(files) == 1, "expected one window, got %s" % files)
    check_accounting(ag, files)
    p = read_profile(files[0])
    start, end = p.time_ns / 1e9, (p.time_ns + p.duration_ns) / 1e9
    # Started before the step (readiness came before it), ended after it: the window
    # spans the step. A length taken on the monotonic clock would end about 3 s early.
    check(start <= ag.started_at and t <= end <= t + took,
          "window %.3f..%.3f s, ready at %.3f, clock stepped %+.0f s, SIGTERM at %.3f, "
          "exit at %.3f" % (start, end, ag.started_at, step, t, t + took))
    check(p.duration_ns >= step * 1e9, "window of %.3f s across a %.0f s step" %
          (p.duration_ns / 1e9, step))
    # The fixture's polls are on the same stepped clock: the samples in the window are
    # the ones of its CPU time between the edges (about 2000: 4 sqrt(2000) is 9%).
    n = p.total(lambda s: s["labels"].get("pid") == spin.pid)
    busy, err, intervals = trace.span(start, end)
    check_count("window across the step", n, hz, busy, intervals, err + 2 * EDGE_SLACK_S,
                trace.steal(start, end))
    print("clock_step ok")


def case_sighup():
    """Acceptance 4b: SIGHUP changes the frequency without losing the current window."""
    need_root()
    d = tmpdir()
    conf = d + "/agent.conf"
    with open(conf, "w") as f:
        f.write("# test config\nfrequency = 499\nlabel.phase = one\n")
    spin = subprocess.Popen([FIX + "/spin_target", "120"])
    trace = CpuTrace(spin.pid)
    ag = Agent(["-c", conf, "-o", d + "/out", "--window", "60s", "--jitter", "no"])
    try:
        ag.wait_started()
        # Each phase runs for a given CPU time of the fixture: 5 s at 499 Hz and 4 s at
        # 997 Hz, about 2500 and 4000 samples.
        trace.wait_cpu(ag.started_at, 5.0, ag)
        mid_drain_interval(ag)
        with open(conf, "w") as f:
            f.write("frequency = 997\nlabel.phase = two\n")
        ag.signal(signal.SIGHUP)
        ag.wait_log(r"reload: configuration of .* applied", timeout=60)
        check(re.search(r"reload: sampling at 997 Hz \(was 499 Hz\)", ag.log()),
              "no frequency change logged:\n" + ag.log())
        trace.wait_cpu(time.time(), 4.0, ag)
        with open(conf, "w") as f:
            f.write("\nfrequency = fast\n")
        ag.signal(signal.SIGHUP)
        ag.wait_log(r"reload failed; keeping the running configuration", timeout=60)
        check(ag.proc.poll() is None, "a bad config on SIGHUP stopped the agent")
        # A label Pyroscope would drop or take as the service name (issue 16): refused too.
        with open(conf, "w") as f:
            f.write("frequency = 997\nlabel.__name__ = other\n")
        ag.signal(signal.SIGHUP)
        ag.wait_log(r"reload failed; keeping the running configuration", count=2, timeout=60)
        check(ag.proc.poll() is None, "a bad config on SIGHUP stopped the agent")
        rc = ag.stop()
    finally:
        ag.kill()
        spin.kill()
        spin.wait()
        trace.thread.join(5)
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    check(re.search(r"agent.conf:2: invalid value for key 'frequency': 'fast'", ag.log()),
          "bad reload not reported with key and line:\n" + ag.log())
    check(re.search(r"agent.conf:2: invalid value for key 'label\.__name__': 'other'",
                    ag.log()), "bad label reload not reported with key and line:\n" + ag.log())
    files = window_files(d + "/out")
    check(len(files) == 2, "expected 2 windows (before and after SIGHUP), got %s" % files)
    check_accounting(ag, files)
    for f, hz, phase in zip(files, (499, 997), ("one", "two")):
        p = read_profile(f)
        check(p.period == 10**9 // hz, "%s: period %d, expected %d Hz" % (f, p.period, hz))
        check(p.samples[0]["labels"].get("phase") == phase, "%s: label phase" % f)
        start = p.time_ns / 1e9
        end = start + p.duration_ns / 1e9
        busy, err, intervals = trace.span(start, end)
        n = p.total(lambda s: s["labels"].get("pid") == spin.pid)
        # The cut between the windows is taken just before the old sampler stops; the
        # slack covers that and the gap until the new one runs (nothing samples then).
        # About 2500 and 4000 samples: 4 sqrt(E) is 8% and 6%, a 10% loss is caught.
        check_count("%d Hz window" % hz, n, hz, busy, intervals, err + 2 * EDGE_SLACK_S,
                    trace.steal(start, end))
    print("sighup ok")


def dir_bytes(d):
    total = 0
    for n in os.listdir(d):
        try:
            st = os.stat(os.path.join(d, n))
        except FileNotFoundError:
            continue
        total += max(st.st_blocks * 512, st.st_size)
    return total


def case_retention():
    """Acceptance 4c: with a 1 MB cap the directory stays under 1 MB; age limit too."""
    need_root()
    d = tmpdir()
    out = d + "/out"
    os.mkdir(out)
    # Windows of an earlier run: an old small one (age limit) and three of 340 kB, leaving
    # about 12 kB (counted in 4 KiB blocks) below the 1 MiB cap: a few small windows of a
    # quiet machine must already make room.
    old = out + "/ember-20200101T000000Z-000001.pb.gz"
    with open(old, "wb") as f:
        f.write(os.urandom(1000))
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    fakes = []
    for i in range(3):
        fakes.append(out + "/ember-20200101T00000%dZ-00000%d.pb.gz" % (i + 1, i + 2))
        with open(fakes[-1], "wb") as f:
            f.write(os.urandom(340000))
    # -v: every counter of every window in the log, for the accounting (files go).
    ag = Agent(["-o", out, "--window", "1s", "--jitter", "no", "-F", "499", "-v",
                "--retention-bytes", "1M", "--retention-age", "1d"])
    peak = 0
    spin = subprocess.Popen([FIX + "/spin_target", "60"])

    def ten_windows():
        nonlocal peak
        peak = max(peak, dir_bytes(out))  # watched every 10 ms meanwhile
        return len(ag.windows_logged()) >= 10

    try:
        ag.wait_started()
        wait_for(ten_windows, 60, "10 windows written", ag, step=0.01)
        rc = ag.stop()
    finally:
        ag.kill()
        spin.kill()
        spin.wait()
    peak = max(peak, dir_bytes(out))
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    check_accounting(ag)
    check(peak <= 1 << 20, "directory reached %d bytes with a 1 MiB cap" % peak)
    check(not os.path.exists(old), "a window older than retention-age was kept")
    check(not os.path.exists(fakes[0]), "oldest window not removed at the byte cap")
    kept = [os.path.exists(f) for f in fakes]
    check(kept == sorted(kept), "not removed oldest first: %r" % kept)
    mine = [f for f in window_files(out) if "2020" not in f]
    check(len(mine) >= 5, "only %d of the agent's windows kept" % len(mine))
    print("retention ok: peak %d bytes, %d windows kept" % (peak, len(window_files(out))))


def case_metrics():
    """Self-metrics: Prometheus text on 127.0.0.1 and a log line per window."""
    need_root()
    d = tmpdir()
    ag = Agent(["-o", d + "/out", "--window", "1s", "--jitter", "no", "--metrics-port", "auto"])
    try:
        port = int(ag.wait_log(r"agent: metrics on http://127\.0\.0\.1:(\d+)/metrics").group(1))
        ag.wait_started()

        def scrape():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
                text = r.read().decode()
            return text if "ember_agent_windows_total" in text else None

        text = wait_for(scrape, 60, "windows in the metrics", ag, step=0.2)
        ag.wait_log(r"window 2:", timeout=60)
        rc = ag.stop()
    finally:
        ag.kill()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    files = window_files(d + "/out")
    check_accounting(ag, files)
    m = re.search(r"^ember_agent_windows_total (\d+)$", text, re.M)
    check(m and int(m.group(1)) >= 1, "no windows counter:\n" + text)
    for name in ("ember_agent_samples_total", "ember_agent_resident_bytes",
                 'ember_agent_lost_samples_total{reason="counts_map_full"}',
                 'ember_agent_step_seconds_total{step="symbolize"}'):
        check(name in text, "%s missing:\n%s" % (name, text))
    # The totals are those of the first windows_total windows, exactly.
    first = [read_profile(f) for f in files if window_seq(f) <= int(m.group(1))]
    got = dict((k, int(v)) for k, v in re.findall(
        r'^(ember_agent_samples_total|ember_agent_lost_samples_total\{reason="counts_map_full"\})'
        r' (\d+)$', text, re.M))
    want = {"ember_agent_samples_total": sum(p.total() for p in first),
            'ember_agent_lost_samples_total{reason="counts_map_full"}':
            sum(counters(p).get("lost.counts_map_full", 0) for p in first)}
    check(got == want, "metrics %r, the first %s windows hold %r" % (got, m.group(1), want))
    check(re.search(r"window 2: .* samples.*lost \d+ .*drain [\d.]+ ms, symbolize [\d.]+ ms"
                    r".*rss [\d.]+ MB", ag.log()), "no self-metrics log line:\n" + ag.log())
    print("metrics ok")


def case_symbolize_none():
    """--symbolize=none ships addresses with build-ids and file offsets."""
    need_root()
    d = tmpdir()
    spin = subprocess.Popen([FIX + "/spin_target", "30"])
    ag = Agent(["-o", d + "/out", "--window", "2s", "--jitter", "no", "-F", "99",
                "--symbolize", "none", "-d", "2.5"])
    try:
        ag.wait_started()
        rc = ag.proc.wait(30)  # --duration ends it like SIGTERM
    finally:
        ag.kill()
        spin.kill()
        spin.wait()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    check_accounting(ag, window_files(d + "/out"))
    p = read_profile(window_files(d + "/out")[0])
    mine = [s for s in p.samples if s["labels"].get("pid") == spin.pid]
    check(mine, "no samples of the fixture")
    # Only synthetic markers ("[truncated]") may carry names without symbolization.
    check(all(n.startswith("[") for n in p.functions.values()),
          "functions present with --symbolize=none: %r" % list(p.functions.values())[:5])
    locs = [p.locations[l] for s in mine for l in s["locs"]]
    exe = [l for l in locs if l["mapping"] and
           p.mappings[l["mapping"]]["path"].endswith("/spin_target")]
    check(exe, "no fixture locations in the fixture's executable mapping")
    for l in exe:
        m = p.mappings[l["mapping"]]
        check(m["build_id"] and m["offset"] > 0, "fixture mapping without build-id: %r" % m)
        check(l["address"] and not l["lines"], "fixture location is not a raw address")
    print("symbolize_none ok")


def run_agent(args, timeout=30):
    p = subprocess.run([EMBER, "agent"] + args, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def case_bad_config():
    """Acceptance 5: bad config and flags name the key and line; bad output dir fails."""
    d = tmpdir()
    conf = d + "/agent.conf"
    cases = [
        ("# comment\nfrequency = 49\nfrequncy = 99\n", r"agent\.conf:3: unknown key 'frequncy'"),
        ("window = 10s\nwindow = 0s\n", r"agent\.conf:2: invalid value for key 'window': '0s'"),
        ("frequency = 99999\n", r"agent\.conf:1: invalid value for key 'frequency': '99999' "
                                r"\(expected 1\.\.20000\)"),
        ("\n\nretention-bytes = lots\n", r"agent\.conf:3: invalid value for key "
                                         r"'retention-bytes'"),
        ("symbolize = remote\n", r"agent\.conf:1: invalid value for key 'symbolize'"),
        ("label.bad-name = x\n", r"agent\.conf:1: invalid value for key 'label\.bad-name'"),
        ("output-dir /tmp\n", r"agent\.conf:1: expected 'key = value'"),
        ("push = ftp://x\n", r"agent\.conf:1: invalid value for key 'push'"),
        ("metrics-port = 70000\n", r"agent\.conf:1: invalid value for key 'metrics-port': "
                                   r"'70000' \(expected 0\.\.65535 or auto\)"),
        # What a Pyroscope server would refuse or misfile (issue 16).
        ("push-app = shop:api\n", r"agent\.conf:1: invalid value for key 'push-app': "
                                  r"'shop:api' \(expected letters, digits and _ \. / -"),
        ("\npush-app = \"my app\"\n", r"agent\.conf:2: invalid value for key 'push-app'"),
        ("label.__name__ = x\n", r"agent\.conf:1: invalid value for key 'label\.__name__': "
                                 r"'x' \(label names starting with '__' are reserved\)"),
        ("push-max-age = -5m\n", r"agent\.conf:1: invalid value for key 'push-max-age': "
                                 r"'-5m'"),
        ("push-max-age = soon\n", r"agent\.conf:1: invalid value for key 'push-max-age'"),
        ("push-tenant = a|b\n", r"agent\.conf:1: invalid value for key 'push-tenant'"),
        ("push-sample-labels = thread\n", r"agent\.conf:1: invalid value for key "
                                          r"'push-sample-labels'"),
        ("push-max-bytes = 8M\n", r"agent\.conf:1: invalid value for key 'push-max-bytes'"),
        ("push = http://x\nlabel.service_name = a\n", r"label\.service_name cannot be set "
                                                      r"with push"),
    ]
    for text, pattern in cases:
        with open(conf, "w") as f:
            f.write(text)
        rc, _, err = run_agent(["-c", conf, "-o", d + "/out"])
        check(rc == 2, "config %r: exit %d, expected 2:\n%s" % (text, rc, err))
        check(re.search(pattern, err), "config %r: message %r lacks /%s/" % (text, err, pattern))
    for args, pattern in [(["-F", "0"], r"invalid value for --frequency: '0'"),
                          (["--window", "soon"], r"invalid value for --window: 'soon'"),
                          (["--label", "novalue"], r"invalid value for --label"),
                          (["--bogus"], r"unknown option '--bogus'"),
                          (["-c", d + "/missing.conf"], r"config file .*missing\.conf does "
                                                        r"not exist"),
                          (["--push-token-file", "/x"], r"push credentials are set but push")]:
        rc, _, err = run_agent(args + ["-o", d + "/out"])
        check(rc == 2, "%s: exit %d, expected 2:\n%s" % (args, rc, err))
        check(re.search(pattern, err), "%s: message %r lacks /%s/" % (args, err, pattern))
    # Unwritable output directories fail at start, before any sampling.
    with open(d + "/file", "w") as f:
        f.write("x")
    bad = [d + "/file/sub", "/proc/ember-agent-test"]
    if os.geteuid() != 0:
        os.mkdir(d + "/ro", 0o500)
        bad.append(d + "/ro")
    for out in bad:
        rc, _, err = run_agent(["-o", out, "-c", "/dev/null"])
        check(rc == 6, "output dir %s: exit %d, expected 6:\n%s" % (out, rc, err))
        check(re.search(r"output directory %s" % re.escape(out), err),
              "output dir %s: unclear message %r" % (out, err))
    with open(conf, "w") as f:
        f.write("frequency = 49\nwindow = 30s\nlabel.service = web\nretention-bytes = 1G\n"
                "push = https://pyroscope.example:4040\npush-token-file = /etc/ember/token\n"
                "metrics-port = auto\n")
    rc, out, err = run_agent(["-c", conf, "--check-config"])
    check(rc == 0 and "configuration is valid" in out, "valid config rejected: %s" % err)
    print("bad_config ok")


def case_help():
    """`ember help agent` and the man page come from the option table."""
    p = subprocess.run([EMBER, "help", "agent"], capture_output=True, text=True)
    check(p.returncode == 0, "ember help agent exited %d" % p.returncode)
    for flag in ("--window", "--push", "--retention-bytes", "--symbolize", "--metrics-port",
                 "--output-dir", "--config", "--push-tenant", "--push-max-age",
                 "--push-rate-limit-max", "--push-max-bytes", "--push-max-samples",
                 "--push-sample-labels"):
        check(flag in p.stdout, "%s missing from help" % flag)
    p = subprocess.run([EMBER, "man"], capture_output=True, text=True)
    check(p.returncode == 0 and '.SH "EMBER agent"' in p.stdout and
          "retention\\-bytes" in p.stdout and "push\\-max\\-age" in p.stdout,
          "agent section missing from the man page")
    print("help ok")


# ---- central symbolization (issue 16) ---------------------------------------------

STRIPPED = "sym_split/sym_c_gcc_dwarf5.stripped"  # its debug file: sym_split/debugroot


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    check(m, "%s has no build-id" % path)
    return m.group(1)


def debug_tree(d, binary):
    """D/root: a build-id tree with @binary's debug file; D/empty: an empty root."""
    bid = build_id(binary)
    os.makedirs(d + "/empty")
    os.makedirs("%s/root/.build-id/%s" % (d, bid[:2]))
    shutil.copy("%s/sym_split/debugroot/.build-id/%s/%s.debug" % (FIX, bid[:2], bid[2:]),
                "%s/root/.build-id/%s/%s.debug" % (d, bid[:2], bid[2:]))
    return d + "/empty", d + "/root"


def empty_config(d):
    """An empty config file of our own (-c), so no host file and nothing else is read."""
    path = d + "/agent.conf"
    open(path, "w").close()
    return path


def fixture_stacks(ember_args, pid, env=None, command="convert"):
    """{stack: count} of process @pid in `ember COMMAND ARGS --per-pid -o -`."""
    p = subprocess.run([EMBER, command] + ember_args + ["--per-pid", "-o", "-"],
                       capture_output=True, text=True, env=env, timeout=120)
    check(p.returncode == 0, "ember %s %s: exit %d\n%s" % (command, ember_args, p.returncode,
                                                           p.stderr))
    out = {}
    for line in p.stdout.splitlines():
        stack, count = line.rsplit(" ", 1)
        root, _, rest = stack.partition(";")
        if root.endswith("-%d" % pid):
            out[rest] = out.get(rest, 0) + int(count)
    return out, p.stderr


def names(stacks):
    """{frame name: samples with it} of folded @stacks."""
    out = {}
    for stack, c in stacks.items():
        for f in set(stack.split(";")):
            out[f] = out.get(f, 0) + c
    return out


def free_port():
    """A TCP port free right now on the dual-stack wildcard debuginfod listens on."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
        return s.getsockname()[1]


class Debuginfod:
    """elfutils' debuginfod serving directory @serve on loopback, until stop()."""

    def __init__(self, d, serve, bid):
        self.proc = None
        log = d + "/debuginfod.log"
        for _ in range(10):
            self.port = free_port()
            with open(log, "w") as f:
                self.proc = subprocess.Popen(
                    ["debuginfod", "-F", "-p", str(self.port), "-d", d + "/db.sqlite", "-t",
                     "1", serve], stdout=f, stderr=subprocess.STDOUT)
            listening = lambda: ("port=%d" % self.port in open(log).read() or
                                 self.proc.poll() is not None)
            wait_for(listening, 30, "debuginfod to listen on port %d" % self.port)
            if self.proc.poll() is None:
                break
        check(self.proc.poll() is None, "debuginfod could not listen:\n" + open(log).read())
        self.env = dict(os.environ, DEBUGINFOD_URLS="http://127.0.0.1:%d" % self.port,
                        DEBUGINFOD_CACHE_PATH=d + "/cache", DEBUGINFOD_TIMEOUT="5")
        # It scans its directory in the background; the client caches misses, so
        # each probe starts from an empty cache.
        def served():
            shutil.rmtree(d + "/cache", ignore_errors=True)
            return subprocess.run(["debuginfod-find", "debuginfo", bid], env=self.env,
                                  capture_output=True).returncode == 0
        wait_for(served, 60, "debuginfod to serve build-id " + bid, step=0.2)
        shutil.rmtree(d + "/cache", ignore_errors=True)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def case_debug_dir_central():
    """Windows of an agent with symbolize = none, symbolized by `ember convert --symbolize`
    (from --debug-dir roots, from a real debuginfod server, from the binary itself),
    name a stripped fixture's functions as an agent symbolizing locally does."""
    need_root()
    for tool in ("debuginfod", "debuginfod-find", "readelf"):
        if not shutil.which(tool):
            print("SKIP: %s missing (Debian package debuginfod, binutils)" % tool)
            sys.exit(77)
    d = tmpdir()
    orig = FIX + "/sym_c_gcc_dwarf5"
    # The fixture runs from a path of ours, so that its file can be swapped later.
    os.makedirs(d + "/bin")
    fx = d + "/bin/dd_fixture"
    shutil.copy(FIX + "/" + STRIPPED, fx)
    empty, root = debug_tree(d, fx)
    conf = empty_config(d)
    target = subprocess.Popen([fx, "--ms", "60000"], stdout=subprocess.DEVNULL)
    common = ["-c", conf, "--window", "3s", "--jitter", "no", "-F", "99", "-d", "3.5"]
    none = Agent(common + ["-o", d + "/none", "--symbolize", "none"])
    local = Agent(common + ["-o", d + "/local", "--debug-dir", empty, "--debug-dir", root])
    try:
        none.wait_started()
        local.wait_started()
        rc_none, rc_local = none.proc.wait(60), local.proc.wait(60)
    finally:
        none.kill()
        local.kill()
        target.kill()
        target.wait()
    check(rc_none == 0 and rc_local == 0, "agents exited %d, %d:\n%s\n%s" %
          (rc_none, rc_local, none.log(), local.log()))
    win = window_files(d + "/none")[0]
    raw, _ = fixture_stacks([win], target.pid)
    check(raw, "no samples of the fixture in %s" % win)
    check("main" not in names(raw), "symbolize = none window has names: %r" % list(raw)[:3])

    # The same window, symbolized four ways, must come out the same.
    by_dirs, err = fixture_stacks([win, "--symbolize", "--debug-dir", empty, "--debug-dir",
                                   root], target.pid)
    check(re.search(r"symbolized \d+ of \d+ locations", err), "no summary: " + err)
    serve = d + "/serve"
    os.makedirs(serve)
    shutil.copy(orig, serve + "/")
    server = Debuginfod(d, serve, build_id(orig))
    try:
        by_server, _ = fixture_stacks([win, "--symbolize"], target.pid, env=server.env)
        os.unlink(fx)  # not on this host: the binary comes from debuginfod too
        shutil.rmtree(d + "/cache", ignore_errors=True)
        by_server_exe, _ = fixture_stacks([win, "--symbolize"], target.pid, env=server.env)
    finally:
        server.stop()
    shutil.copy(orig, fx)  # the unstripped build: what the fixture's own host would read
    by_file, _ = fixture_stacks([win, "--symbolize"], target.pid)
    # `ember query` symbolizes what it merged: the window alone, then the whole history
    # (all the windows, each converted on its own, summed).
    by_query, _ = fixture_stacks([win, "--symbolize", "--debug-dir", root], target.pid,
                                 command="query")
    history, want = fixture_stacks([d + "/none", "--symbolize", "--debug-dir", root],
                                   target.pid, command="query")[0], {}
    for f in window_files(d + "/none"):
        for stack, c in fixture_stacks([f, "--symbolize", "--debug-dir", root],
                                       target.pid)[0].items():
            want[stack] = want.get(stack, 0) + c
    check(history == want, "query of the history differs from its windows:\n%r\n%r" %
          (want, history))
    for what, got in (("debuginfod", by_server), ("debuginfod executable", by_server_exe),
                      ("the unstripped binary", by_file), ("ember query", by_query)):
        check(got == by_dirs, "--debug-dir and %s differ:\n%r\n%r" % (what, by_dirs, got))
    central = names(by_dirs)
    for fn in ("main", "work_c"):
        check(fn in central, "%s not named centrally: %r" % (fn, sorted(central)))
    check(not any(n.startswith("dd_fixture+0x") for n in central),
          "placeholders of the fixture left: %r" % sorted(central))

    # The locally symbolizing agent sampled the same process at the same time: the
    # fixture's functions with 15+ samples in one are in the other (a function with
    # 15 expected samples is missing by chance with probability 3e-7).
    here = {}
    for f in window_files(d + "/local"):
        for stack, c in fixture_stacks([f], target.pid)[0].items():
            here[stack] = here.get(stack, 0) + c
    local_names = names(here)
    own = set(functions_of(orig))
    for a, b, what in ((central, local_names, "central"), (local_names, central, "local")):
        for fn, c in a.items():
            base = fn[:-4] if fn.endswith("_[i]") else fn
            if base in own and c >= 15:
                check(fn in b, "%s has %s (%d samples), the other run not: %r / %r" %
                      (what, fn, c, sorted(central), sorted(local_names)))
    print("debug_dir_central ok: %s" % sorted(n for n in central if n.split("_[")[0] in own))


def functions_of(path):
    """Names of the functions nm lists in @path's .text (t/T)."""
    out = subprocess.run(["nm", path], capture_output=True, text=True).stdout
    return [f[2] for f in (l.split() for l in out.splitlines()) if len(f) == 3 and
            f[1] in "tT"]


def case_debug_dir_sighup():
    """A reload that adds a debug-dir key names a stripped fixture from the next window on."""
    need_root()
    d = tmpdir()
    fx = FIX + "/" + STRIPPED
    empty, root = debug_tree(d, fx)
    conf = empty_config(d)
    target = subprocess.Popen([fx, "--ms", "60000"], stdout=subprocess.DEVNULL)
    ag = Agent(["-c", conf, "-o", d + "/out", "--window", "2s", "--jitter", "no", "-F", "99"])
    try:
        ag.wait_started()
        ag.wait_log(r"window 1: ")
        with open(conf, "w") as f:
            f.write("# two roots, searched in order\ndebug-dir = %s\ndebug-dir = %s\n" %
                    (empty, root))
        ag.signal(signal.SIGHUP)
        ag.wait_log(r"reload: configuration of .* applied")
        after = len(window_files(d + "/out"))
        # The window in progress at the reload closes with the new roots already.
        ag.wait_log(r"window %d: " % (after + 2))
        # A bad root on reload keeps the running configuration.
        with open(conf, "w") as f:
            f.write("debug-dir = %s/missing\n" % d)
        ag.signal(signal.SIGHUP)
        ag.wait_log(r"reload failed; keeping the running configuration")
        ag.wait_log(r"window %d: " % (after + 4))
        rc = ag.stop()
    finally:
        ag.kill()
        target.kill()
        target.wait()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    files = window_files(d + "/out")
    first = names(fixture_stacks([files[0]], target.pid)[0])
    check(first, "no fixture samples in window 1")
    check("main" not in first and "work_c" not in first,
          "window 1 named the stripped fixture without debug-dir: %r" % sorted(first))
    for f in files[after + 1:after + 4]:
        later = names(fixture_stacks([f], target.pid)[0])
        check("main" in later and "work_c" in later,
              "%s (after the reload) lacks main/work_c: %r" % (f, sorted(later)))
    print("debug_dir_sighup ok")


def rfc3339_ns(ns):
    """@ns since the epoch as RFC 3339 UTC with nanoseconds (for --from/--to)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + \
        ".%09dZ" % (ns % 10**9)


def query(args):
    """Runs `ember query ARGS`; returns stdout (bytes), after checking it exited 0."""
    p = subprocess.run([EMBER, "query"] + args, capture_output=True)
    check(p.returncode == 0, "ember query %s exited %d:\n%s" %
          (args, p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout


def folded_totals(text):
    """{root frame: count} of folded text."""
    out = {}
    for line in text.decode().splitlines():
        stack, n = line.rsplit(" ", 1)
        root = stack.split(";", 1)[0]
        out[root] = out.get(root, 0) + int(n)
    return out


def case_query():
    """ember query over a real agent run: totals, --where, --from/--to, --group-by."""
    need_root()
    d = tmpdir()
    out = d + "/out"
    ag = Agent(["-o", out, "--window", "2s", "--jitter", "no", "-F", "99"])
    try:
        ag.wait_started()
        # Two busy processes of different names over about five windows.
        spin = subprocess.Popen([FIX + "/spin_target", "9"])
        thr = subprocess.Popen([FIX + "/threads", "9"])
        spin.wait(60)
        thr.wait(60)
        ag.wait_log(r"window \d+: ", count=len(ag.windows_logged()) + 1, timeout=30)
        rc = ag.stop()
    finally:
        ag.kill()
    check(rc == 0, "agent exited %d:\n%s" % (rc, ag.log()))
    files = window_files(out)
    profiles = [read_profile(f) for f in files]
    check(len(files) >= 4, "only %d windows: %s" % (len(files), files))
    spin_pid = spin.pid
    is_spin = lambda s: s["labels"].get("process_name") == "spin_target"
    check(sum(p.total(is_spin) for p in profiles) > 0, "no spin_target samples in the windows")

    # All windows: the total is the sum of the windows' totals.
    merged = Profile(query([out, "-o", "-", "-f", "pprof"]))
    want = sum(p.total() for p in profiles)
    check(merged.total() == want, "query total %d, windows sum to %d" % (merged.total(), want))
    check(merged.time_ns == min(p.time_ns for p in profiles), "merged start %d" % merged.time_ns)
    check(merged.duration_ns == sum(p.duration_ns for p in profiles),
          "merged duration %d, windows sum to %d" %
          (merged.duration_ns, sum(p.duration_ns for p in profiles)))
    check(any(m["build_id"] for m in merged.mappings.values()
              if m["path"].endswith("spin_target")), "no build-id on spin_target's mapping")

    # --where process_name=spin_target: its samples, all of them, nothing else.
    only = Profile(query([out, "--where", "process_name=spin_target", "-o", "-",
                          "-f", "pprof"]))
    want = sum(p.total(is_spin) for p in profiles)
    check(only.total() == want, "--where total %d, spin_target has %d" % (only.total(), want))
    check(all(is_spin(s) for s in only.samples), "--where kept other processes' samples")
    # (Other spin_target processes of the machine may be in the windows too.)
    mine = lambda s: s["labels"].get("pid") == spin_pid
    check(only.total(mine) == sum(p.total(mine) for p in profiles) > 0,
          "--where lost samples of our spin_target (pid %d)" % spin_pid)

    # --from/--to from the windows' own starts: exactly windows 1 and 2 (0-based).
    starts = [p.time_ns for p in profiles]
    check(starts == sorted(starts), "window names not in start order: %s" % starts)
    sel = Profile(query([out, "--from", rfc3339_ns(starts[1]), "--to", rfc3339_ns(starts[3]),
                         "-o", "-", "-f", "pprof"]))
    want = profiles[1].total() + profiles[2].total()
    check(sel.total() == want, "range total %d, windows 1-2 hold %d" % (sel.total(), want))
    check(sel.time_ns == starts[1], "range start %d, want %d" % (sel.time_ns, starts[1]))
    # One ns later the first window is out.
    sel = Profile(query([out, "--from", rfc3339_ns(starts[1] + 1), "--to", rfc3339_ns(starts[3]),
                         "-o", "-", "-f", "pprof"]))
    check(sel.total() == profiles[2].total(), "range +1 ns total %d, window 2 holds %d" %
          (sel.total(), profiles[2].total()))

    # --group-by pid: one root per pid, each with that pid's samples.
    roots = folded_totals(query([out, "--group-by", "pid", "-o", "-"]))
    by_pid = {}
    for p in profiles:
        for s in p.samples:
            key = "pid=%s" % s["labels"].get("pid", "?")
            by_pid[key] = by_pid.get(key, 0) + s["count"]
    check(roots == by_pid, "--group-by pid roots differ: %d roots vs %d pids; spin %r vs %r" %
          (len(roots), len(by_pid), roots.get("pid=%d" % spin_pid),
           by_pid.get("pid=%d" % spin_pid)))
    check(roots.get("pid=%d" % spin_pid, 0) > 0, "no root for spin_target's pid")
    print("query ok")


if __name__ == "__main__":
    globals()["case_" + sys.argv[1]]()
