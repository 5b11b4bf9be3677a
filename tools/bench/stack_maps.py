#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark for issue 12 (stacks to 512 frames): kernel memory of the sampler's stack
maps at their default sizes, for `ember record` (99 Hz) and `ember agent` (19 Hz), and
what loading the sampler cost (sampler.verified_insns, sampler.load_ns). Needs root.

Map memory is the kernel's own figure (bytes_memlock of `bpftool map show`, which is
the map's memory usage as the kernel accounts it), summed over the maps whose name
starts with "stacks" and which the ember process under test holds. Each ember waits
for its readiness line before the maps are read.

  python3 tools/bench/stack_maps.py [EMBER]   (default build/ember)
"""
import json
import os
import re
import subprocess
import sys
import tempfile

EMBER = sys.argv[1] if len(sys.argv) > 1 else "build/ember"


def stack_maps(pid):
    """(name, entries, value bytes, memory bytes) of process @pid's maps named stacks*:
    map ids from its fds' fdinfo, names from bpftool."""
    ids = set()
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                m = re.search(r"^map_id:\s*(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    out = subprocess.run(["bpftool", "-j", "map", "show"], check=True, capture_output=True,
                         text=True).stdout
    return sorted((m["name"], m["max_entries"], m["bytes_value"], m["bytes_memlock"])
                  for m in json.loads(out)
                  if m["id"] in ids and m.get("name", "").startswith("stacks"))


def start(args, ready):
    """Starts ember with @args; returns (process, stderr lines so far) once @ready matched."""
    p = subprocess.Popen([EMBER] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    lines = []
    for line in p.stderr:
        lines.append(line)
        if re.search(ready, line):
            return p, lines
    sys.exit("ember %s exited before it was ready:\n%s" % (args[0], "".join(lines)))


def report(what, rows):
    total = sum(r[3] for r in rows)
    print("%s: stack maps %d bytes (%.2f MiB)" % (what, total, total / 1048576.0))
    for name, entries, value, memlock in rows:
        print("  %-10s %6d entries x %5d-byte values: %9d bytes" % (name, entries, value,
                                                                   memlock))


def main():
    with tempfile.TemporaryDirectory() as d:
        # record: default frequency and unwinding, a target that waits for the check.
        p, lines = start(["record", "-v", "-o", d + "/r.folded", "--", "sleep", "30"],
                         r"ember: ready:")
        try:
            report("record (99 Hz, default sizes)", stack_maps(p.pid))
        finally:
            p.send_signal(2)  # SIGINT: record stops and writes its counters
            rest = p.communicate()[1]
        for m in re.finditer(r"(sampler\.(verified_insns|load_ns)): (\d+)", "".join(lines) + rest):
            print("  %s: %s" % (m.group(1), m.group(3)))
        a, _ = start(["agent", "-c", "/dev/null", "-o", d + "/out", "--jitter", "no"],
                     r"agent: sampling")
        try:
            report("agent (19 Hz, default sizes)", stack_maps(a.pid))
        finally:  # also when this script's output pipe closes early
            a.terminate()
            a.communicate()


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("needs root")
    main()
