#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The one-pass CFI interpreter (unwinder/cfi_rows.c) and the libdw builder give the same rows.

Usage: builders_agree.py DUMP_TOOL ELF...   (label unit: no BPF needed)
DUMP_TOOL is dump_unwind_rows; its --reference table comes from libdw's
dwarf_cfi_addrframe, one address at a time.
"""
import subprocess
import sys


def rows(tool, path, *flags):
    return subprocess.run([tool] + list(flags) + [path], check=True, capture_output=True,
                          text=True).stdout.splitlines()


def main():
    tool = sys.argv[1]
    for path in sys.argv[2:]:
        fast, ref = rows(tool, path), rows(tool, path, "--reference")
        if fast != ref:
            for k, (a, b) in enumerate(zip(fast, ref)):
                if a != b:
                    sys.exit("%s: row %d differs: one pass %r, libdw %r" % (path, k, a, b))
            sys.exit("%s: %d rows in one pass, %d through libdw" % (path, len(fast), len(ref)))
        print("%s: %d rows agree" % (path, len(fast)))


if __name__ == "__main__":
    main()
