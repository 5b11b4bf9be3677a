#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fractions of a folded profile's samples, for the unwinding benchmarks.

Usage: folded_fractions.py FILE.folded [COMM...]

Counts the samples whose first frame (the process name) is one of COMM (all
samples when none is given) and prints how many of them are symbolized (leaf
not "[...]" or "module+0x..."), truncated (a "[truncated...]" marker) and
reaching a root: not truncated, and the outermost user frame is a start
routine (_start, ld.so's entry, clone/clone3, start_thread; or the caller of
__libc_start_main, which only _start calls: the _start of a stripped binary,
named BINARY+0x...) or the stack holds
main or __libc_start_call_main, or the sample had no user stack at all (a
"[no user stack: ...]" marker: the process was between two images in
execve, or exiting with its memory released; its stack really ends there).
"""
import sys

ROOTS = ("_start", "clone", "clone3", "__clone", "start_thread", "__libc_start_call_main")
LIBC_START = ("__libc_start_main_impl", "__libc_start_main")
NO_USER_STACK = "[no user stack: "  # ember's marker: the sample had no user stack
LD_SO_ENTRY = "ld-linux-x86-64.so.2+0x1ab7"  # Debian 12's ld.so: entry 0x1ab70 (stripped)


def classify(frames):
    """(symbolized, truncated, root) of one sample's frames (process name first)."""
    user = [f for f in frames[1:] if not f.endswith("_[k]")]
    leaf = frames[-1]
    symbolized = not (leaf.startswith("[") or "+0x" in leaf)
    truncated = any(f.startswith("[truncated") for f in frames)
    outer = user[0] if user else ""
    start_caller = len(user) > 1 and user[1] in LIBC_START
    root = not truncated and (outer in ROOTS or outer.startswith(LD_SO_ENTRY) or start_caller or
                              outer.startswith(NO_USER_STACK) or
                              "main" in user or "__libc_start_call_main" in user)
    return symbolized, truncated, root


def main():
    path, comms = sys.argv[1], set(sys.argv[2:])
    total = sym = trunc = root = 0
    for line in open(path):
        if not line.strip() or line.startswith("#"):
            continue
        stack, _, count = line.rstrip("\n").rpartition(" ")
        frames = stack.split(";")
        if comms and frames[0] not in comms:
            continue
        n = int(count)
        s, t, r = classify(frames)
        total += n
        sym += n * s
        trunc += n * t
        root += n * r
    what = ",".join(sorted(comms)) or "all"
    if not total:
        print("%s: no samples" % what)
        return
    print("%s samples %d: symbolized %.2f%%, truncated %.2f%%, reach a root %.2f%%" %
          (what, total, 100.0 * sym / total, 100.0 * trunc / total, 100.0 * root / total))


if __name__ == "__main__":
    main()
