// SPDX-License-Identifier: MIT
/*
 * Bounds on the CFI programs libdw interprets for the table builder. libdw
 * grows a row's register array up to the highest register number any rule
 * names (16 bytes a register, up to 2 GiB) and copies the array for every
 * DW_CFA_remember_state, so a few crafted bytes of .eh_frame make one
 * dwarf_cfi_addrframe() call allocate gigabytes (found by fuzz_unwind_table).
 * Before libdw runs, every CIE and FDE it can reach is decoded here the way
 * libdw's cie.c, fde.c and cfi.c read them, and the file is refused when a
 * program goes past CFI_MAX_REG or CFI_MAX_DEPTH. Where libdw stops reading
 * (a bad encoding, an unknown opcode) this check stops too; where it cannot
 * tell how far libdw would read, it refuses the file.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <stdbool.h>

#include "unwinder/cfi_check.h"
#include "unwinder/eh_pointer.h"

struct cfi_ctx {
	const unsigned char *e_ident;
	Elf_Data *data; /* .eh_frame */
	const uint8_t *buf, *end;
};

/* What libdw's intern_new_cie() keeps of a CIE for reading its FDEs. */
struct cie_info {
	uint8_t fde_encoding;
	bool sized; /* 'z': an FDE's augmentation data has a ULEB128 length */
};

static size_t addr_size(const struct cfi_ctx *c)
{
	return c->e_ident[EI_CLASS] == ELFCLASS32 ? 4 : 8;
}

/*
 * A LEB128 number as libdw's get_uleb128() reads it: at most 10 bytes and not
 * past @end; UINT64_MAX when unterminated. Also skips an SLEB128.
 */
static uint64_t leb(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < 10 && *p < end; i++) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			return v;
	}
	return UINT64_MAX;
}

/*
 * Steps over a pointer in encoding @enc as libdw's read_encoded_value() does:
 * 1 when it did, 0 when libdw fails there (stops reading), -EINVAL for an
 * aligned encoding (its padding depends on libdw internals; nobody emits it).
 */
static int skip_encoded(const struct cfi_ctx *c, uint8_t enc, const uint8_t **p)
{
	size_t size;

	switch (enc & 0x70) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_pcrel:
	case DW_EH_PE_textrel:
	case DW_EH_PE_datarel:
	case DW_EH_PE_funcrel:
		break;
	case DW_EH_PE_aligned:
		return -EINVAL;
	default:
		return 0;
	}
	if ((enc & 0x0f) == DW_EH_PE_uleb128 || (enc & 0x0f) == DW_EH_PE_sleb128) {
		leb(p, c->end);
		return 1;
	}
	size = eh_pointer_size(enc, addr_size(c));
	if (!size)
		return 0;
	if ((size_t)(c->end - *p) < size)
		return 0;
	*p += size;
	return 1;
}

/*
 * One CIE's initial instructions or one FDE's instructions, read as libdw's
 * execute_cfi() reads them (to the end: a lookup may stop earlier). 0 when
 * within bounds, -EINVAL when not.
 */
static int check_program(const struct cfi_ctx *c, const struct cie_info *cie, const uint8_t *p,
			 const uint8_t *end)
{
	unsigned int depth = 0;
	uint64_t len;
	int ret;

	while (p < end) {
		uint8_t op = *p++;

		if (op >= DW_CFA_advance_loc) {
			/* advance_loc, offset (register in the opcode, < 64, then a ULEB), restore */
			if ((op & 0xc0) == DW_CFA_offset)
				leb(&p, end);
			continue;
		}
		switch (op) {
		case DW_CFA_nop:
		case DW_CFA_GNU_window_save: /* registers 8..31 */
			continue;
		case DW_CFA_advance_loc1:
		case DW_CFA_advance_loc2:
		case DW_CFA_advance_loc4:
		case DW_CFA_MIPS_advance_loc8:
			len = op == DW_CFA_advance_loc1	  ? 1
			      : op == DW_CFA_advance_loc2 ? 2
			      : op == DW_CFA_advance_loc4 ? 4
							  : 8;
			if ((uint64_t)(end - p) < len)
				return 0;
			p += len;
			continue;
		case DW_CFA_set_loc:
			ret = skip_encoded(c, cie->fde_encoding, &p);
			if (ret <= 0)
				return ret;
			continue;
		case DW_CFA_def_cfa:
		case DW_CFA_def_cfa_sf:
			leb(&p, end);
			if (p >= end)
				return 0;
			leb(&p, end);
			continue;
		case DW_CFA_def_cfa_register:
		case DW_CFA_def_cfa_offset:
		case DW_CFA_def_cfa_offset_sf:
		case DW_CFA_GNU_args_size:
			leb(&p, end);
			continue;
		case DW_CFA_def_cfa_expression:
			len = leb(&p, end);
			if (len > (uint64_t)(end - p))
				return 0;
			p += len;
			continue;
		case DW_CFA_undefined:
		case DW_CFA_same_value:
		case DW_CFA_restore_extended:
			if (leb(&p, end) > CFI_MAX_REG)
				return -EINVAL;
			continue;
		case DW_CFA_offset_extended:
		case DW_CFA_offset_extended_sf:
		case DW_CFA_GNU_negative_offset_extended:
		case DW_CFA_val_offset:
		case DW_CFA_val_offset_sf:
		case DW_CFA_register:
			if (leb(&p, end) > CFI_MAX_REG)
				return -EINVAL;
			if (p >= end)
				return 0;
			leb(&p, end);
			continue;
		case DW_CFA_expression:
		case DW_CFA_val_expression:
			if (leb(&p, end) > CFI_MAX_REG)
				return -EINVAL;
			if (p >= end)
				return 0;
			len = leb(&p, end);
			if (len > (uint64_t)(end - p))
				return 0;
			p += len;
			continue;
		case DW_CFA_remember_state:
			if (++depth > CFI_MAX_DEPTH)
				return -EINVAL;
			continue;
		case DW_CFA_restore_state:
			if (!depth)
				return 0; /* libdw: invalid CFI, stops */
			depth--;
			continue;
		default:
			return 0; /* libdw: invalid CFI, stops */
		}
	}
	return 0;
}

/*
 * The CIE at @off, as libdw's __libdw_find_cie() and intern_new_cie() read it,
 * and its initial instructions checked. 1 with *ci filled, 0 when libdw would
 * not use it, -EINVAL when out of bounds or not understood.
 */
static int check_cie(const struct cfi_ctx *c, Dwarf_Off off, struct cie_info *ci)
{
	Dwarf_CFI_Entry e;
	Dwarf_Off next;
	const uint8_t *d;
	const char *ap;
	size_t size;
	int err;

	if (dwarf_next_cfi(c->e_ident, c->data, true, off, &next, &e) != 0 || !dwarf_cfi_cie_p(&e))
		return 0;
	ci->fde_encoding = DW_EH_PE_absptr;
	ci->sized = false;
	ap = e.cie.augmentation;
	/*
	 * Without 'z', libdw would take augmentation data it half understands
	 * for instructions; compilers emit "" or "z" followed by P, L, R, S.
	 */
	if (*ap && *ap != 'z')
		return -EINVAL;
	d = e.cie.augmentation_data;
	for (; *ap; ap++) {
		switch (*ap) {
		case 'z':
			ci->sized = true;
			continue;
		case 'L':
		case 'R':
			if (d >= c->end)
				return -EINVAL;
			if (*ap == 'R')
				ci->fde_encoding = *d;
			d++;
			continue;
		case 'P':
			/* Sized as libdw's encoded_value_size() does (LEB128: its own way). */
			if (d >= c->end || (*d & 0x07) == DW_EH_PE_uleb128)
				return -EINVAL;
			size = (*d & 0x07) == DW_EH_PE_absptr	? addr_size(c)
			       : (*d & 0x07) == DW_EH_PE_udata2 ? 2
			       : (*d & 0x07) == DW_EH_PE_udata4 ? 4
			       : (*d & 0x07) == DW_EH_PE_udata8 ? 8
								: 0;
			if (*d == DW_EH_PE_omit)
				size = 0;
			d++;
			if (size > (size_t)(c->end - d))
				return -EINVAL;
			d += size;
			continue;
		default: /* ignored under 'z' (S, B, G ...), as libdw does */
			continue;
		}
	}
	if ((ci->fde_encoding & 0x0f) == DW_EH_PE_absptr)
		ci->fde_encoding |= addr_size(c) == 4 ? DW_EH_PE_udata4 : DW_EH_PE_udata8;
	err = check_program(c, ci, e.cie.initial_instructions, e.cie.initial_instructions_end);
	return err ? err : 1;
}

/*
 * An FDE and its CIE, as libdw's __libdw_fde_by_offset() and
 * intern_fde() read them. *@last_cie and *@ci: the CIE checked last (FDEs share
 * few), not checked again.
 */
static int check_fde(const struct cfi_ctx *c, const Dwarf_FDE *fde, Dwarf_Off *last_cie,
		     struct cie_info *ci)
{
	const uint8_t *p = fde->start;
	int ret;

	if (fde->CIE_pointer != *last_cie) {
		struct cie_info fresh;

		ret = check_cie(c, fde->CIE_pointer, &fresh);
		if (ret <= 0)
			return ret;
		*ci = fresh;
		*last_cie = fde->CIE_pointer;
	}
	ret = skip_encoded(c, ci->fde_encoding, &p);
	if (ret > 0)
		ret = skip_encoded(c, ci->fde_encoding & 0x0f, &p);
	if (ret <= 0)
		return ret;
	if (ci->sized) {
		uint64_t len;

		if (p >= fde->end)
			return 0;
		len = leb(&p, fde->end);
		if (len > (uint64_t)(fde->end - p))
			return 0;
		p += len;
	}
	return check_program(c, ci, p, fde->end);
}

int cfi_check(const unsigned char *e_ident, Elf_Data *data, uint64_t vaddr,
	      const uint64_t *fde_vaddrs, size_t nr)
{
	struct cfi_ctx c = {e_ident, data, data->d_buf,
			    (const uint8_t *)data->d_buf + data->d_size};
	Dwarf_Off off = 0, next, last_cie = (Dwarf_Off)-1;
	struct cie_info ci, scratch;
	Dwarf_CFI_Entry e;
	size_t i;
	int ret;

	/* Without a usable .eh_frame_hdr table, libdw reads the entries in order. */
	for (;;) {
		next = off;
		ret = dwarf_next_cfi(e_ident, data, true, off, &next, &e);
		if (ret > 0 || (ret < 0 && next == off))
			break;
		if (ret == 0) {
			ret = dwarf_cfi_cie_p(&e) ? check_cie(&c, off, &scratch)
						  : check_fde(&c, &e.fde, &last_cie, &ci);
			if (ret < 0)
				return ret;
		}
		off = next;
	}
	/*
	 * With one, it reads the FDE at each entry's address. libdw does not
	 * range-check those offsets (one before .eh_frame wraps to a wild read).
	 */
	for (i = 0; i < nr; i++) {
		if (fde_vaddrs[i] < vaddr || fde_vaddrs[i] - vaddr >= data->d_size)
			return -EINVAL;
		if (i && fde_vaddrs[i] == fde_vaddrs[i - 1])
			continue;
		off = fde_vaddrs[i] - vaddr;
		if (dwarf_next_cfi(e_ident, data, true, off, &next, &e) != 0 || dwarf_cfi_cie_p(&e))
			continue;
		ret = check_fde(&c, &e.fde, &last_cie, &ci);
		if (ret < 0)
			return ret;
	}
	return 0;
}
