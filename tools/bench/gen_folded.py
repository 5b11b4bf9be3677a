#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a synthetic folded profile with N unique stacks to stdout.

usage: gen_folded.py [N=200000] [program|uniform]

"program" (the default) models a program's call graph: 20000 functions, each
with a fixed list of 1 to 8 callees that it calls with Zipf-skewed
frequencies, so stacks share long prefixes as real ones do; whether a function
is inlined (_[i]) or JIT code (_[j]) is a property of the function, a third of
the names are C++-length, and about a third of the stacks end in a system call
(kernel frames _[k]). "uniform" picks every callee uniformly at random: stacks
diverge after a few frames, the worst case for a flamegraph (about 23 distinct
call paths per stack). Depths 8 to 40 frames; counts long-tailed. Lines are
sorted, as stackcollapse-*.pl, inferno and ember write folded files.
Deterministic: the same arguments give the same file.
"""
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
shape = sys.argv[2] if len(sys.argv) > 2 else "program"
rng = random.Random(42)
NFUNC = 20000

names = []
for i in range(NFUNC):
    if rng.random() < 0.3:
        name = "ns%d::Class%d<std::vector<int> >::method_%d(int, char const*)" % (
            i % 97, i % 331, i)
    else:
        name = "function_%05d" % i
    r = rng.random()
    if r < 0.05:
        name += "_[i]"
    elif r < 0.07:
        name += "_[j]"
    names.append(name)
callees = [[rng.randrange(NFUNC) for _ in range(rng.randint(1, 8))] for _ in range(NFUNC)]
weights = [1.0 / (k + 1) ** 2.5 for k in range(8)]

seen = {}
while len(seen) < n:
    depth = rng.randint(8, 40)
    frames = ["app%d" % rng.randint(0, 3)]
    cur = rng.randint(0, 50)
    for d in range(depth):
        if shape == "uniform":
            cur = (cur * 31 + rng.randint(0, 5) * 977 + d) % NFUNC
        else:
            options = callees[cur]
            cur = rng.choices(options, weights[:len(options)])[0]
        frames.append(names[cur])
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
