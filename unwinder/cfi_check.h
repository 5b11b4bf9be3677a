/* SPDX-License-Identifier: MIT */
/*
 * Private to unwinder/: bounds on the CFI programs libdw is about to run (see
 * cfi_check.c for why).
 */
#ifndef EMBER_UNWINDER_CFI_CHECK_H
#define EMBER_UNWINDER_CFI_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <gelf.h>

/* Highest DWARF register number a rule may name (x86-64 uses 0..130). */
#define CFI_MAX_REG 255
/* Deepest DW_CFA_remember_state nesting (compilers emit 1 or 2). */
#define CFI_MAX_DEPTH 32

/*
 * Checks every CIE and FDE program libdw can run for this .eh_frame (@data,
 * loaded at @vaddr, of an ELF file with identification @e_ident): the entries
 * chained from offset 0 and the FDEs at the @nr addresses in @fde_vaddrs (the
 * .eh_frame_hdr table), each with its CIE. Returns 0 when each names
 * registers up to CFI_MAX_REG and nests remember_state up to CFI_MAX_DEPTH,
 * -EINVAL otherwise (or when a program cannot be decoded as far as libdw
 * would read it).
 */
int cfi_check(const unsigned char *e_ident, Elf_Data *data, uint64_t vaddr,
	      const uint64_t *fde_vaddrs, size_t nr);

#endif /* EMBER_UNWINDER_CFI_CHECK_H */
