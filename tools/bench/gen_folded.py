#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a synthetic folded profile with N unique stacks (default 200000) to stdout.

Stacks share prefixes the way real ones do (a few roots, each frame picked
from a small set of callees of its caller), are 8 to 40 frames deep, mix in
kernel (_[k]), inline (_[i]) and JIT (_[j]) frames and C++-length names, and
have long-tailed counts. Lines are sorted, as stackcollapse-*.pl, inferno and
ember itself write folded files. Deterministic: the same N gives the same file.
"""
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
rng = random.Random(42)
names = []
for i in range(20000):
    kind = rng.random()
    base = "ns%d::Class%d<std::vector<int> >::method_%d(int, char const*)" % (
        i % 97, i % 331, i) if kind < 0.3 else "function_%05d" % i
    names.append(base)

seen = {}
while len(seen) < n:
    depth = rng.randint(8, 40)
    frames = ["app%d" % rng.randint(0, 3)]
    cur = rng.randint(0, 50)
    for d in range(depth):
        # Each caller has ~6 likely callees: shared prefixes, bushy tree.
        cur = (cur * 31 + rng.randint(0, 5) * 977 + d) % len(names)
        f = names[cur]
        r = rng.random()
        if r < 0.05:
            f += "_[i]"
        elif r < 0.07:
            f += "_[j]"
        frames.append(f)
    if rng.random() < 0.3:
        frames += ["entry_SYSCALL_64_[k]", "do_syscall_64_[k]",
                   "ksys_%s_[k]" % rng.choice(["read", "write", "poll"])]
    line = ";".join(frames)
    if line in seen:
        continue
    seen[line] = int(rng.paretovariate(1.2))
out = sys.stdout
for line in sorted(seen):
    out.write("%s %d\n" % (line, seen[line]))
