#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Unwinder behaviour no other test pinned down (found by tools/scripts/mutants.sh).

One ctest per case: `unwind_guard_tests.py CASE` (label bpf). Needs root; exits
77 without it. Environment: EMBER (the binary), EMBER_FIXTURES (the shared
fixtures), EMBER_GUARD_FIXTURES (this directory's fixtures).

  fp_fallback  --unwind=auto walks code that has no unwind table by frame
               pointer (docs/unwinding.md: "frame pointers elsewhere").
  deep_stacks  user stacks keep EMBER_MAX_STACK_DEPTH (512) frames: 105 frames
               are kept whole, 605 are cut at exactly 512 and marked.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "record"))
from record_tests import (check, counter, need_root, parse_folded,  # noqa
                          record as record_args, tmp)

GUARD_FIX = os.environ.get("EMBER_GUARD_FIXTURES", "build/tests/mutation")
MAX_DEPTH = 512  # EMBER_MAX_STACK_DEPTH in probes/sampler_abi.h


def record(cmd, unwind, hz=997):
    """Runs `ember record -- CMD`; returns ([(frames, count)], stderr)."""
    out = tmp("out.folded")
    rc, _, se = record_args(["-F", str(hz), "-v", "--unwind", unwind, "-o", out, "--"] + cmd)
    check(rc == 0, "ember exited %d for %r:\n%s" % (rc, cmd, se))
    stacks = parse_folded(out)
    os.unlink(out)
    os.rmdir(os.path.dirname(out))
    return stacks, se


def user_frames(frames):
    """Frames after the process name, kernel frames left out (root first)."""
    return [f for f in frames[1:] if not f.endswith("_[k]")]


def case_fp_fallback():
    need_root()
    fixture = os.path.join(GUARD_FIX, "split_fp_notables")
    comm = os.path.basename(fixture)[:15]

    def reach_main(unwind):
        stacks, se = record([fixture, "300"], unwind)
        # burn() does the work of a(), b() and c(): its samples must reach main.
        work = [(user_frames(f), c) for f, c in stacks if f[0] == comm and "burn" in f]
        total = sum(c for _, c in work)
        good = sum(c for u, c in work if "main" in u)
        check(total > 500, "--unwind=%s: only %d samples in burn" % (unwind, total))
        return good, total, se

    # Tables only: the fixture's own code has none, so its stacks stop in it.
    good, total, _ = reach_main("dwarf")
    check(good < 0.5 * total, "--unwind=dwarf reached main in %d of %d samples: the fixture "
          "has unwind tables, so it cannot show the fallback" % (good, total))
    # Tables where there are some (libc), frame pointers elsewhere: up to main.
    good, total, se = reach_main("auto")
    check(good >= 0.98 * total, "--unwind=auto reached main in only %d of %d samples: code "
          "without tables was not walked by frame pointer" % (good, total))
    fp = counter(se, "unwind.frames.frame_pointer")
    check(fp >= total, "only %d frame-pointer steps for %d samples" % (fp, total))
    print("fp_fallback ok: auto %d of %d samples reach main, %d fp steps" % (good, total, fp))


def deep(depth):
    """Samples of deep_fixture at recursion DEPTH: [(user frames, count)] of spin_at_depth."""
    # 200 units: about 1 s of CPU here, 900 samples at 997 Hz (work, not wall time).
    stacks, se = record([os.path.join(GUARD_FIX, "deep_fixture"), str(depth), "200"], "auto")
    spin = [(user_frames(f), c) for f, c in stacks
            if f[0] == "deep_fixture" and user_frames(f) and user_frames(f)[-1] == "spin_at_depth"]
    total = sum(c for _, c in spin)
    check(total > 300, "depth %d: only %d samples in spin_at_depth" % (depth, total))
    return spin, total, se


def case_deep_stacks():
    need_root()
    # recurse() x 101 + spin_at_depth + main + libc's start (3): 105 frames, below the limit.
    spin, total, _ = deep(100)
    whole = sum(c for u, c in spin if u.count("recurse") == 101 and "main" in u and
                not any(x.startswith("[truncated") for x in u))
    check(whole >= 0.98 * total, "depth 100: only %d of %d stacks whole (101 recurse frames "
          "up to main); e.g. %d frames: %r" % (whole, total, len(spin[0][0]), spin[0][0][:3]))
    # 605 frames: cut at exactly MAX_DEPTH, marked [truncated] at the root, counted.
    spin, total, se = deep(600)
    cut = sum(c for u, c in spin if u[0] == "[truncated]" and len(u) == MAX_DEPTH + 1)
    check(cut >= 0.98 * total, "depth 600: only %d of %d stacks cut at %d frames and marked; "
          "e.g. %d frames from %r" % (cut, total, MAX_DEPTH, len(spin[0][0]), spin[0][0][0]))
    truncated = counter(se, "truncated.user_stack")
    check(truncated >= cut, "truncated.user_stack is %d for %d cut stacks" % (truncated, cut))
    print("deep_stacks ok: 105 frames kept whole, 605 cut at %d (%d samples)" % (MAX_DEPTH, cut))


if __name__ == "__main__":
    globals()["case_" + sys.argv[1]]()
