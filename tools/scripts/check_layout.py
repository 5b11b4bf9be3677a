#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the layout rules of docs/architecture.md over the source tree: the
include directions, and that no library source file grows past MAX_LINES.

Every `#include "..."` in a module's .c/.h file must name a header of the same
module, or the public header of a module it may depend on. The build enforces
most of this already (each library sees only its own folder and those of the
libraries it links: ember_include_root in CMakeLists.txt); this check adds what
a link cannot say: that no module includes another module's private header, and
that the link graph itself keeps to the design. Tests may include private
headers of the module they test and are not checked here.

A library file over MAX_LINES lines is reported too (style.md: a file does
one thing and stays readable; tools/ and BPF programs are not libraries but are
held to the same limit, tests are not).

Usage: check_layout.py [SOURCE_ROOT]. Prints one line per violation and exits
1 when there is any, 0 otherwise.
"""
import os
import re
import sys

# module -> (its public headers, the modules it may include)
MODULES = {
    "support": (["support/support.h"], []),
    "profile": (["profile/profile.h"], ["support"]),
    "probes": (["probes/probes.h", "probes/sampler_abi.h"], ["support"]),
    "unwinder": (["unwinder/unwinder.h"], ["support", "probes"]),
    "symbolizer": (["symbolizer/symbolizer.h"], ["support", "profile"]),
    "agg": (["agg/agg.h"], ["support", "profile", "probes", "unwinder", "symbolizer"]),
    "output": (["output/output.h"], ["support", "profile"]),
    "history": (["history/history.h"], ["support", "profile", "output"]),
}
# tools/ holds the programs: they may include every library's public header.
PROGRAMS = "tools"
# Narrower than a module: the unwinder knows the sampler's row format, nothing else.
ONLY = {("unwinder", "probes"): ["probes/sampler_abi.h"]}
MAX_LINES = 1000
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(rel):
    top = rel.split("/", 1)[0]
    if top in MODULES or top == PROGRAMS:
        return top
    return None


def resolve(root, src_rel, name):
    """The include's path relative to the source root, as the compiler finds it:
    next to the including file first, then from a module's folder."""
    here = os.path.normpath(os.path.join(os.path.dirname(src_rel), name))
    if os.path.exists(os.path.join(root, here)):
        return here
    return os.path.normpath(name)


def check_file(root, rel, problems):
    mod = module_of(rel)
    with open(os.path.join(root, rel), errors="replace") as f:
        text = f.read()
    lines = text.count("\n")
    if lines > MAX_LINES:
        problems.append("%s: %d lines, more than %d: split it by what it does" %
                        (rel, lines, MAX_LINES))
    for m in INCLUDE.finditer(text):
        name = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        target = resolve(root, rel, name)
        tmod = module_of(target)
        if tmod is None or not os.path.exists(os.path.join(root, target)):
            # A generated header (skeleton, vmlinux.h, protobuf-c) of this module,
            # or a test helper: not a module edge.
            continue
        where = "%s:%d: #include \"%s\"" % (rel, line, name)
        if tmod == mod:
            continue
        if tmod == PROGRAMS:
            problems.append("%s: a library includes the programs' header %s" % (where, target))
            continue
        if mod != PROGRAMS and tmod not in MODULES[mod][1]:
            problems.append("%s: %s may not depend on %s (allowed: %s)" %
                            (where, mod, tmod, ", ".join(MODULES[mod][1]) or "nothing"))
            continue
        allowed = ONLY.get((mod, tmod), MODULES[tmod][0])
        if target not in allowed:
            problems.append("%s: %s is private to %s (public: %s)" %
                            (where, target, tmod, ", ".join(allowed)))


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    problems, files = [], 0
    for top in list(MODULES) + [PROGRAMS]:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    rel = os.path.relpath(os.path.join(dirpath, n), root)
                    check_file(root, rel, problems)
                    files += 1
    for p in problems:
        print(p)
    if not files:
        print("check_layout: no source files under %s" % root)
        return 1
    print("check_layout: %d files, %d violations" % (files, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
