#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""ember symbolize --elf against binutils addr2line and llvm-symbolizer on random
addresses in the .text of large real libraries built on the machine with -g (every
pyenv libpython, and ember itself), not only the project's fixtures.

Checked for every address: where either tool names a function, ember names one too
(no module+0x placeholder), and its innermost function is what one of them says (of
equal-address aliases, such as NAME and NAME.localalias, the tools pick differently:
addr2line the local alias, llvm-symbolizer and ember the global name). Alignment
padding after a function is that function's (the line table says so, and both
tools agree).

Usage: sym_real_libraries.py [ADDRESSES_PER_LIBRARY]  (EMBER: the ember binary)
"""
import glob
import os
import random
import re
import subprocess
import sys

EMBER = os.environ.get("EMBER", "build/ember")
PER_LIBRARY = int(sys.argv[1]) if len(sys.argv) > 1 else 3000


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def libraries():
    """Large -g libraries of this machine: pyenv's libpython builds, and ember."""
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    libs = sorted(glob.glob(os.path.join(root or "/nonexistent", "versions/*/lib/libpython*.so.1.0")))
    libs.append(os.path.realpath(EMBER))
    return [l for l in libs if has_debug_info(l)]


def has_debug_info(path):
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True).stdout
    return " .debug_info " in out and " .symtab " in out


def text_range(path):
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        parts = line.replace("[ ", "[").split()
        if ".text" in parts:
            i = parts.index(".text")
            return int(parts[i + 2], 16), int(parts[i + 4], 16)
    fail("%s: no .text" % path)


def first_names(lines, per_address):
    """Innermost function of each address from tool output: @per_address yields the
    lines of one address at a time."""
    return [re.sub(r" inlined (at|in) .*", "", block[0]) if block else "??"
            for block in per_address(lines)]


def ember_blocks(lines):
    block = None
    for l in lines:
        if re.match(r"^0x[0-9a-f]+$", l):
            if block is not None:
                yield block
            block = []
        elif block is not None:
            block.append(l)
    if block is not None:
        yield block


def addr2line_blocks(lines):
    for i in range(0, len(lines), 2):
        yield [lines[i]]


def llvm_blocks(lines):
    block = []
    for l in lines:
        if l == "":
            yield block
            block = []
        else:
            block.append(l)
    if block:
        yield block


def run(cmd, addrs):
    r = subprocess.run(cmd, input="".join("0x%x\n" % a for a in addrs), capture_output=True,
                       text=True, timeout=600)
    if r.returncode != 0:
        fail("%s exited %d: %s" % (cmd[0], r.returncode, r.stderr[-500:]))
    return r.stdout.splitlines()


def alias_of(name):
    """NAME.localalias is GCC's local alias of NAME, at the same address: the same
    function (addr2line names the alias, llvm-symbolizer and ember NAME)."""
    return name[:-len(".localalias")] if name.endswith(".localalias") else name


def is_placeholder(name):
    return name == "??" or name == "[unknown]" or re.search(r"\+0x[0-9a-f]+$", name)


def check_library(path, rnd):
    start, size = text_range(path)
    addrs = [rnd.randrange(start, start + size) for _ in range(PER_LIBRARY)]
    ember = first_names(run([EMBER, "symbolize", "-a", "--elf", path], addrs), ember_blocks)
    a2l = first_names(run(["addr2line", "-f", "-e", path], addrs), addr2line_blocks)
    llvm = first_names(run(["llvm-symbolizer", "--obj=" + path], addrs), llvm_blocks)
    if not (len(ember) == len(a2l) == len(llvm) == len(addrs)):
        fail("%s: %d addresses, answers: ember %d, addr2line %d, llvm-symbolizer %d" %
             (path, len(addrs), len(ember), len(a2l), len(llvm)))
    placeholders, differ = [], []
    for a, e, b, l in zip(addrs, ember, a2l, llvm):
        if is_placeholder(e) and not (is_placeholder(b) and is_placeholder(l)):
            placeholders.append((hex(a), e, b, l))
        elif not (is_placeholder(b) and is_placeholder(l)) and e not in (
                alias_of(b), alias_of(l)):
            differ.append((hex(a), e, b, l))
    print("%s: %d addresses; placeholders where a tool names a function: %d; innermost "
          "function other than both tools': %d" % (path, len(addrs), len(placeholders),
                                                   len(differ)))
    return placeholders, differ


def main():
    for tool in ("addr2line", "llvm-symbolizer", "readelf"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            fail(tool + " missing (tools/scripts/install-deps.sh installs it)")
    libs = libraries()
    if not any("libpython" in l for l in libs):
        fail("no pyenv libpython with debug info found (pyenv root: %r)" % libs)
    rnd = random.Random(1215)
    bad = []
    for path in libs:
        placeholders, differ = check_library(path, rnd)
        bad += [(path,) + x for x in placeholders + differ]
    for b in bad[:20]:
        print("  %s %s: ember %r, addr2line %r, llvm-symbolizer %r" % b, file=sys.stderr)
    if bad:
        fail("%d addresses where ember disagrees" % len(bad))
    print("real libraries ok")


if __name__ == "__main__":
    main()
