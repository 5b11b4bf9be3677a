/* SPDX-License-Identifier: MIT */
/*
 * Private to unwinder/: the one-pass CFI interpreter behind the table builder
 * (see cfi_rows.c for why) and the translation of CFI rules into rows, which
 * table.c's libdw path shares.
 */
#ifndef EMBER_UNWINDER_CFI_ROWS_H
#define EMBER_UNWINDER_CFI_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gelf.h>
#include <linux/types.h>

#include "probes/sampler_abi.h"

/* The rules in effect at one location (opaque outside cfi_rows.c). */
struct cfi_state;

/*
 * Receives the rules that hold from ELF address @pc up to the next call's;
 * @st NULL: no CFI covers @pc. Returns 0, or an error that ends the build.
 */
typedef int (*cfi_rows_emit_fn)(void *arg, uint64_t pc, const struct cfi_state *st, bool signal);

/*
 * Runs the FDEs of .eh_frame (@data, loaded at @vaddr, ELF identification
 * @e_ident) listed by .eh_frame_hdr: @nr FDEs starting at @starts (sorted),
 * each at address @fdes[i]; an FDE starting where the next one does is
 * skipped, as table.c's libdw path does. Hands every row to @emit, in address
 * order. Returns 0, -ENOMEM, or the first error @emit returned.
 */
int cfi_rows(const unsigned char *e_ident, Elf_Data *data, uint64_t vaddr, const uint64_t *starts,
	     const uint64_t *fdes, size_t nr, cfi_rows_emit_fn emit, void *arg);

/* The row for rules @st (not NULL) of a frame, a signal frame when @signal. */
struct ember_unwind_row cfi_rows_translate(const struct cfi_state *st, bool signal);

/*
 * Fills @row's kind and offset byte from the CFA kind (enum ember_cfa_kind,
 * EMBER_CFA_OFF_SCALED included), the rbp and rbx rules (enum ember_reg_kind
 * and offsets in 8-byte units), and @ra_reg: the DWARF register holding the
 * return address, or -1 when it is at CFA-8. @row.cfa_off is already set.
 */
struct ember_unwind_row cfi_rows_pack(struct ember_unwind_row row, unsigned int cfa_kind,
				      unsigned int rbp_kind, int rbp_off8, unsigned int rbx_kind,
				      int rbx_off8, int ra_reg);

#endif /* EMBER_UNWINDER_CFI_ROWS_H */
