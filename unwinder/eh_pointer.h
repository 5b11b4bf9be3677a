/* SPDX-License-Identifier: MIT */
/*
 * Private to unwinder/: the size of a pointer in .eh_frame's DW_EH_PE
 * encodings, which the table builder (cfi_rows.c) reads and the CFI checker
 * (cfi_check.c) steps over.
 */
#ifndef EMBER_UNWINDER_EH_POINTER_H
#define EMBER_UNWINDER_EH_POINTER_H

#include <dwarf.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Bytes of a fixed-size pointer of encoding @enc (its format, the low four
 * bits; @addr_size for DW_EH_PE_absptr); 0 for the LEB128 formats, whose size
 * is in the data, and for unknown ones.
 */
static inline size_t eh_pointer_size(uint8_t enc, size_t addr_size)
{
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
		return addr_size;
	case DW_EH_PE_udata2:
	case DW_EH_PE_sdata2:
		return 2;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		return 4;
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		return 8;
	default:
		return 0;
	}
}

#endif /* EMBER_UNWINDER_EH_POINTER_H */
