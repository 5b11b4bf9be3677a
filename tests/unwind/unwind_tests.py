#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Table-driven user-stack unwinding (.eh_frame in BPF): real-BPF tests (label bpf).

One ctest per case: `unwind_tests.py CASE`. Needs root; exits 77 without it.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "record"))
from record_tests import (EMBER, FIX, check, check_accounting, counter, need_root,  # noqa
                          parse_folded, record, tmp)

START = ("__libc_start_call_main", "__libc_start_main", "_start")


def user_frames(frames):
    return [f for f in frames[1:] if not f.endswith("_[k]")]


def profile(cmd, hz=997, unwind="auto", extra=()):
    out = tmp("unwind.folded")
    rc, so, se = record(["-F", str(hz), "-v", "--unwind", unwind, "-o", out] + list(extra) +
                        ["--"] + cmd)
    check(rc == 0, "ember exited %d for %r:\n%s" % (rc, cmd, se))
    check_accounting(se)
    return parse_folded(out), se


def reach_fraction(stacks, comm, marks):
    mine = [(user_frames(f), c) for f, c in stacks if f[0] == comm]
    mine = [(u, c) for u, c in mine if u]
    total = sum(c for _, c in mine)
    good = sum(c for u, c in mine if any(m in u for m in marks))
    return good, total


def split_case(fixture, units):
    need_root()
    stacks, se = profile([FIX + "/" + fixture, str(units)])
    good, total = reach_fraction(stacks, fixture[:15], ("main",))
    check(total > 1000, "only %d samples" % total)
    check(good >= 0.98 * total, "%s: only %d of %d samples reach main" % (fixture, good, total))
    parts = {"a": 0, "b": 0, "c": 0}
    for f, c in stacks:
        for name in parts:
            if name in f:
                parts[name] += c
    work = sum(parts.values())
    for name, want in (("a", 60), ("b", 30), ("c", 10)):
        got = 100.0 * parts[name] / max(work, 1)
        check(abs(got - want) <= 3, "%s: %s has %.1f%%, want %d +- 3 (%r)" %
              (fixture, name, got, want, parts))
    # The same binary with frame pointers only: the walk cannot get past the leaf.
    fp_stacks, _ = profile([FIX + "/" + fixture, str(units // 3)], unwind="fp")
    fp_good, fp_total = reach_fraction(fp_stacks, fixture[:15], ("main",))
    check(fp_total > 0, "no samples with --unwind=fp")
    check(fp_good < 0.5 * fp_total,
          "--unwind=fp reached main in %d of %d samples: the fixture does not show "
          "the truncation" % (fp_good, fp_total))
    print("%s ok: tables %.1f%% reach main (split %r); fp %.1f%%" %
          (fixture, 100.0 * good / total, parts, 100.0 * fp_good / fp_total))


def case_split_nofp_gcc():
    split_case("split_nofp_gcc", 600)


def case_split_nofp_clang():
    # clang's loop runs about 8 times faster than gcc's: more units for the same time.
    split_case("split_nofp_clang", 5000)


def make_input(size_mb):
    """Real, moderately compressible data: the machine's own programs and libraries."""
    path = tmp("input.bin")
    want = size_mb << 20
    with open(path, "wb") as out:
        while want > 0:
            for d in ("/usr/bin", "/usr/lib/x86_64-linux-gnu"):
                for name in sorted(os.listdir(d)):
                    p = os.path.join(d, name)
                    if want <= 0 or not os.path.isfile(p) or os.path.islink(p):
                        continue
                    with open(p, "rb") as f:
                        data = f.read(want)
                    out.write(data)
                    want -= len(data)
    return path


def debian_case(cmd, comm, what, share=0.95):
    need_root()
    stacks, se = profile(cmd)
    good, total = reach_fraction(stacks, comm, START)
    check(total > 200, "%s: only %d samples" % (what, total))
    check(good >= share * total, "%s: only %d of %d samples reach main/_start (want %.0f%%)" %
          (what, good, total, 100 * share))
    print("%s ok: %.1f%% of %d samples reach main" % (what, 100.0 * good / total, total))
    return good, total


def case_debian_xz():
    debian_case(["sh", "-c", "xz -6 -T1 -c %s > /dev/null" % make_input(3)], "xz", "xz")


def case_debian_gzip():
    debian_case(["sh", "-c", "gzip -6 -c %s > /dev/null" % make_input(40)], "gzip", "gzip")


def case_debian_sha256sum():
    debian_case(["sha256sum", make_input(300)], "sha256sum", "sha256sum")


def case_debian_python3():
    # Debian's own interpreter by path: "python3" on PATH may be a pyenv shim, a bash
    # script whose start-up (bash, pyenv, then the interpreter, each new to the
    # unwinder) was what this case measured then, under the comm python3.
    # record loads the tables of the interpreter, ld.so and libc before it releases the
    # command, so even its start-up (import machinery, ~40 ms of ~750) is walked with
    # them: 99.7% of ~750 samples here, about 2 misses. 98% leaves 15; without the
    # preload ~25 start-up samples (3.3%) miss.
    debian_case(["/usr/bin/python3", "-c", "sum(i * i % 7 for i in range(12000000))"], "python3",
                "python3", share=0.98)


def case_qsort_callback():
    """A frame-pointer program, called back from libc's qsort: both sides unwind."""
    need_root()
    stacks, se = profile([FIX + "/qsort_cb", "80"])
    cb = [(user_frames(f), c) for f, c in stacks if "compare_slow" in f]
    total = sum(c for _, c in cb)
    check(total > 100, "only %d samples in the comparator" % total)
    good = 0
    for u, c in cb:
        if "sort_many" in u and "main" in u and u.index("sort_many") < u.index("compare_slow"):
            good += c
    check(good >= 0.95 * total, "only %d of %d comparator samples cross libc up to "
          "sort_many and main" % (good, total))
    check(any(re.match(r"(qsort|msort|__qsort)", x) for u, _ in cb for x in u),
          "libc's qsort frames missing between sort_many and compare_slow")
    print("qsort callback ok: %d of %d" % (good, total))


def case_threads():
    """pthread stacks end at the thread start routine, not truncated."""
    need_root()
    stacks, se = profile([FIX + "/threads", "2"])
    work = [(user_frames(f), c) for f, c in stacks if "thread_work" in f]
    total = sum(c for _, c in work)
    check(total > 500, "only %d thread samples" % total)
    ended = sum(c for u, c in work if u and re.match(r"(__)?clone3?$", u[0]) and
                "start_thread" in u and not any(x.startswith("[truncated") for x in u))
    check(ended >= 0.98 * total, "only %d of %d thread stacks end at clone3/start_thread" %
          (ended, total))
    print("threads ok: %d of %d" % (ended, total))


def case_deep_recursion():
    """Issue 12, acceptance 3: a 300-deep recursion without frame pointers, recorded with
    the default unwinding: >= 95% of its samples carry all 300 recursion frames and main."""
    need_root()
    out = tmp("deep.folded")
    # 299: recurse() x 300, then spin_at_depth; 200 units, about 1 s of CPU (work, not time).
    rc, _, se = record(["-F", "997", "-v", "-o", out, "--", FIX + "/deep_nofp", "299", "200"])
    check(rc == 0, "ember exited %d:\n%s" % (rc, se))
    check_accounting(se)
    mine = [(user_frames(f), c) for f, c in parse_folded(out) if f[0] == "deep_nofp"]
    total = sum(c for _, c in mine)
    check(total > 300, "only %d samples of deep_nofp" % total)
    whole = sum(c for u, c in mine if u.count("recurse") == 300 and "main" in u and
                not any(x.startswith("[truncated") for x in u))
    check(whole >= 0.95 * total, "only %d of %d samples carry 300 recurse frames and main; "
          "e.g. %d frames from %r" % (whole, total, len(mine[0][0]), mine[0][0][:2]))
    print("deep recursion ok: %d of %d samples (%.1f%%) carry all 300 frames and main" %
          (whole, total, 100.0 * whole / total))


def whole(u):
    """A stack that reaches main and carries no truncation marker."""
    return "main" in u and not any(x.startswith("[truncated") for x in u)


def case_lazy_binding():
    """ld.so's lazy-binding trampoline: after `push rbx; mov rbx, rsp` its CFA is rbx-based.
    Samples in it (leaf: registers exact) and in _dl_fixup below it (rbx restored from the
    callees' saves) both get past it to main."""
    need_root()
    # LD_BIND_NOT: the GOT is never patched, so every call resolves again.
    stacks, se = profile(["env", "LD_BIND_NOT=1", FIX + "/lazy_bind", "40"])
    mine = [(user_frames(f), c) for f, c in stacks if f[0] == "lazy_bind"]
    tramp = [(u, c) for u, c in mine if any(x.startswith("_dl_runtime_resolve") for x in u)]
    total = sum(c for _, c in tramp)
    check(total > 500, "only %d samples in _dl_runtime_resolve" % total)
    good = sum(c for u, c in tramp if whole(u) and "resolve_often" in u)
    check(good >= 0.95 * total, "only %d of %d samples through _dl_runtime_resolve reach "
          "main" % (good, total))
    # Below the trampoline: its rbx comes from where _dl_fixup and its callees saved it.
    below = [(u, c) for u, c in tramp if "_dl_fixup" in u]
    btotal = sum(c for _, c in below)
    bgood = sum(c for u, c in below if whole(u))
    check(btotal > 50, "only %d samples below _dl_runtime_resolve" % btotal)
    check(bgood >= 0.95 * btotal, "only %d of %d samples in _dl_fixup and below reach main" %
          (bgood, btotal))
    samples = counter(se, "sampler.samples")
    check(counter(se, "unwind.stopped.unsupported_rule") <= 0.01 * samples,
          "unsupported rules stopped %d of %d walks" %
          (counter(se, "unwind.stopped.unsupported_rule"), samples))
    print("lazy binding ok: %d of %d trampoline samples reach main (%d of %d below it)" %
          (good, total, bgood, btotal))


def case_vfork():
    """__libc_vfork keeps its return address in rdi around the syscall: a parent sampled in
    the vfork syscall (the leaf's registers are exact) is unwound through rdi to main."""
    need_root()
    # 20 s of vforks, however fast the machine: a fixed count (40,000 children, 4 s when
    # idle) took over 120 s with a busy loop on each CPU, and 4 s then gave only 64
    # samples of parents in the syscall, 10 s 96: the parent is in the syscall only
    # while the child runs, and a busy loop on each CPU halves both.
    stacks, se = profile([FIX + "/vfork_loop", "20"])
    mine = [(f, user_frames(f), c) for f, c in stacks if f[0] == "vfork_loop"]
    parent = [(u, c) for f, u, c in mine if "__do_sys_vfork_[k]" in f and u and
              u[-1] == "__libc_vfork"]
    total = sum(c for _, c in parent)
    check(total > 100, "only %d samples of parents in vfork" % total)
    good = sum(c for u, c in parent if whole(u) and u[-2:] == ["spawn_one", "__libc_vfork"])
    check(good >= 0.95 * total, "only %d of %d samples in vfork reach main" % (good, total))
    # Children start with a copy of their parent's list: their walks use tables too.
    child = [(u, c) for f, u, c in mine if "__do_sys_vfork_[k]" not in f and
             ("__libc_vfork" in u or "__GI__exit" in u or "_exit" in u)]
    ctotal = sum(c for _, c in child)
    cgood = sum(c for u, c in child if whole(u))
    # Statistical and loose: a child's last samples come after sched_process_exit took its
    # list (ember's own exit program runs before exit_mm in 6.16+).
    check(ctotal > 50, "only %d samples of vfork children" % ctotal)
    check(cgood >= 0.85 * ctotal, "only %d of %d samples of vfork children reach main" %
          (cgood, ctotal))
    print("vfork ok: %d of %d parent samples reach main; children %d of %d" %
          (good, total, cgood, ctotal))


def case_exec():
    """Samples inside execve: before the old image is replaced its stack is walked; after,
    the registers saved at the syscall are the old image's and the memory the new one's,
    so the sample has no user stack and says so, instead of a walk of garbage."""
    need_root()
    stacks, se = profile(["sh", "-c", "i=0; while [ $i -lt 1500 ]; do /bin/true; "
                          "i=$((i+1)); done"])
    inexec = [(f, user_frames(f), c) for f, c in stacks if "load_elf_binary_[k]" in f]
    total = sum(c for _, _, c in inexec)
    check(total > 30, "only %d samples in load_elf_binary" % total)
    marked = sum(c for _, u, c in inexec if u[:1] == ["[no user stack: in execve]"])
    garbage = sum(c for _, u, c in inexec if any(x.startswith("[truncated") for x in u))
    check(marked > 0, "no sample marked [no user stack: in execve]")
    check(garbage <= 0.05 * total, "%d of %d samples in load_elf_binary end truncated" %
          (garbage, total))
    check(counter(se, "sampler.no_user_stack.in_execve") >= marked,
          "sampler.no_user_stack.in_execve does not count the marked samples")
    print("exec ok: %d samples in load_elf_binary, %d without a user stack, %d truncated" %
          (total, marked, garbage))


if __name__ == "__main__":
    globals()["case_" + sys.argv[1]]()
