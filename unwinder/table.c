// SPDX-License-Identifier: MIT
/*
 * Unwind table builder. libdw evaluates the CFI (CIE/FDE programs, remember/
 * restore state, augmentations); this file only enumerates the FDEs through
 * .eh_frame_hdr's sorted table, walks each FDE's rows with
 * dwarf_cfi_addrframe, and translates each row's rules into the few shapes the
 * BPF walker can apply. cfi_check.c first bounds what those programs make
 * libdw allocate.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>

#include "support/support.h"
#include "unwinder/unwinder.h"
#include "unwinder/cfi_check.h"
#include "unwinder/cfi_rows.h"

#define DWARF_REG_RBX 3
#define DWARF_REG_RBP 6
#define DWARF_REG_RSP 7
#define DWARF_REG_RA  16

struct ember_unwind_table {
	struct ember_unwind_row *rows;
	size_t nr, cap;
};

void unwind_table__free(struct ember_unwind_table *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t);
}

const struct ember_unwind_row *unwind_table__rows(const struct ember_unwind_table *t)
{
	return t->rows;
}

size_t unwind_table__nr_rows(const struct ember_unwind_table *t)
{
	return t->nr;
}

size_t unwind_table__bytes(const struct ember_unwind_table *t)
{
	return sizeof(*t) + t->cap * sizeof(*t->rows);
}

const struct ember_unwind_row *unwind_table__lookup(const struct ember_unwind_table *t, uint64_t pc)
{
	size_t lo = 0, hi = t->nr;

	if (!t->nr || pc < t->rows[0].pc)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= pc)
			lo = mid;
		else
			hi = mid;
	}
	return &t->rows[lo];
}

/* Appends a row; merges it into the previous one when the rule is the same. */
static int emit(struct ember_unwind_table *t, uint64_t pc, struct ember_unwind_row row)
{
	struct ember_unwind_row *last = t->nr ? &t->rows[t->nr - 1] : NULL;

	if (pc > UINT32_MAX)
		return -E2BIG; /* the walker keys rows by 32-bit ELF addresses */
	row.pc = (uint32_t)pc;
	if (last && last->kind == row.kind && last->cfa_off == row.cfa_off &&
	    last->rbp_off8 == row.rbp_off8)
		return 0;
	if (last && last->pc == row.pc) { /* a zero-length row: the later rule wins */
		*last = row;
		return 0;
	}
	if (last && last->pc > row.pc)
		return 0; /* overlapping FDEs: keep the first, as lookups by address would */
	if (ember_grow((void **)&t->rows, &t->cap, t->nr + 1, sizeof(*t->rows)))
		return -ENOMEM;
	t->rows[t->nr++] = row;
	return 0;
}

/* ---- pointer encodings (.eh_frame_hdr) ---------------------------------- */

struct reader {
	const uint8_t *p, *end;
	uint64_t vaddr; /* address of p */
	uint64_t data_base;
};

static bool read_encoded(struct reader *r, uint8_t enc, uint64_t *out)
{
	uint64_t base = 0, v;
	size_t size;
	bool sign = false;

	if (enc == DW_EH_PE_omit)
		return false;
	switch (enc & 0x70) {
	case DW_EH_PE_absptr:
		break;
	case DW_EH_PE_pcrel:
		base = r->vaddr;
		break;
	case DW_EH_PE_datarel:
		base = r->data_base;
		break;
	default:
		return false;
	}
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
		size = 8;
		break;
	case DW_EH_PE_sdata8:
		size = 8;
		sign = true;
		break;
	case DW_EH_PE_udata4:
		size = 4;
		break;
	case DW_EH_PE_sdata4:
		size = 4;
		sign = true;
		break;
	case DW_EH_PE_udata2:
		size = 2;
		break;
	case DW_EH_PE_sdata2:
		size = 2;
		sign = true;
		break;
	default:
		return false;
	}
	if ((size_t)(r->end - r->p) < size)
		return false;
	if (size == 8) {
		memcpy(&v, r->p, 8);
	} else if (size == 4) {
		uint32_t u;

		memcpy(&u, r->p, 4);
		v = sign ? (uint64_t)(int64_t)(int32_t)u : u;
	} else {
		uint16_t u;

		memcpy(&u, r->p, 2);
		v = sign ? (uint64_t)(int64_t)(int16_t)u : u;
	}
	r->p += size;
	r->vaddr += size;
	*out = base + v;
	return true;
}

/*
 * FDE start addresses from .eh_frame_hdr's binary-search table, in address
 * order, and the FDEs' own addresses (same index) in *@fdes.
 */
static int fde_starts(Elf_Data *hdr, uint64_t hdr_vaddr, uint64_t **out, uint64_t **fdes,
		      size_t *nr)
{
	struct reader r = {hdr->d_buf, (const uint8_t *)hdr->d_buf + hdr->d_size, hdr_vaddr,
			   hdr_vaddr};
	uint8_t ptr_enc, count_enc, table_enc;
	uint64_t eh_frame, count, i, *starts, *at;

	if (hdr->d_size < 4 || r.p[0] != 1)
		return -EINVAL;
	ptr_enc = r.p[1];
	count_enc = r.p[2];
	table_enc = r.p[3];
	r.p += 4;
	r.vaddr += 4;
	if (!read_encoded(&r, ptr_enc, &eh_frame) || !read_encoded(&r, count_enc, &count))
		return -ENOENT;
	if (count == 0 || count > (uint64_t)(r.end - r.p) / 2)
		return count ? -EINVAL : -ENOENT;
	starts = malloc(count * sizeof(*starts));
	at = malloc(count * sizeof(*at));
	if (!starts || !at) {
		free(starts);
		free(at);
		return -ENOMEM;
	}
	for (i = 0; i < count; i++) {
		if (!read_encoded(&r, table_enc, &starts[i]) ||
		    !read_encoded(&r, table_enc, &at[i]) ||
		    (i && starts[i] < starts[i - 1])) { /* the table must be sorted */
			free(starts);
			free(at);
			return -EINVAL;
		}
	}
	*out = starts;
	*fdes = at;
	*nr = count;
	return 0;
}

/* ---- rule translation --------------------------------------------------- */

/* Matches "DW_OP_call_frame_cfa [+ N]" (how libdw spells offset(N)); *off = N. */
static bool cfa_plus(const Dwarf_Op *ops, size_t nops, int64_t *off)
{
	if (nops < 1 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (nops == 1) {
		*off = 0;
		return true;
	}
	if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	if (nops == 3 && (ops[1].atom == DW_OP_consts || ops[1].atom == DW_OP_constu) &&
	    ops[2].atom == DW_OP_plus) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	return false;
}

/* The standard x86-64 .plt CFA: rsp + 8 + ((rip & 15) >= N) << 3. Returns N or -1. */
static int plt_threshold(const Dwarf_Op *ops, size_t nops)
{
	if (nops != 9 || ops[0].atom != DW_OP_breg7 || ops[0].number != 8 ||
	    ops[1].atom != DW_OP_breg16 || ops[1].number != 0 || ops[2].atom != DW_OP_lit15 ||
	    ops[3].atom != DW_OP_and || ops[4].atom < DW_OP_lit0 || ops[4].atom > DW_OP_lit31 ||
	    ops[5].atom != DW_OP_ge || ops[6].atom != DW_OP_lit3 || ops[7].atom != DW_OP_shl ||
	    ops[8].atom != DW_OP_plus)
		return -1;
	return ops[4].atom - DW_OP_lit0;
}

/* The rule of a callee-saved register: enum ember_reg_kind, and *off8 for EMBER_REG_CFA_OFFSET. */
static unsigned int reg_rule(Dwarf_Frame *frame, int reg, int *off8)
{
	Dwarf_Op mem[3], *ops;
	size_t nops;
	int64_t off;

	if (dwarf_frame_register(frame, reg, mem, &ops, &nops) != 0)
		return EMBER_REG_UNKNOWN;
	/*
	 * NULL ops: same value; ops == mem: undefined (no caller value). Except
	 * for rbx: libdw's x86-64 default rules (elfutils 0.188) mark DWARF
	 * register 0 same-value where they mean rbx (3), so an rbx without a
	 * rule reads as undefined. The ABI makes it callee-saved: same value.
	 */
	if (nops == 0)
		return !ops || reg == DWARF_REG_RBX ? EMBER_REG_SAME : EMBER_REG_UNKNOWN;
	if (cfa_plus(ops, nops, &off) && off % 8 == 0 && off / 8 >= INT8_MIN &&
	    off / 8 <= INT8_MAX) {
		*off8 = (int)(off / 8);
		return EMBER_REG_CFA_OFFSET;
	}
	return EMBER_REG_UNKNOWN;
}

/* The DWARF register a "register" rule names (DW_CFA_register), or -1. */
static int register_rule(const Dwarf_Op *ops, size_t nops)
{
	if (nops != 1)
		return -1;
	if (ops[0].atom == DW_OP_regx && ops[0].number <= 16)
		return (int)ops[0].number;
	if (ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg16)
		return ops[0].atom - DW_OP_reg0;
	return -1;
}

static struct ember_unwind_row translate(Dwarf_Frame *frame, bool signal)
{
	struct ember_unwind_row row = {0};
	Dwarf_Op mem[3], *ops;
	size_t nops;
	int64_t off;
	unsigned int cfa_kind, rbp_kind, rbx_kind;
	int reg = -1, ra_reg = -1, rbp_off8 = 0, rbx_off8 = 0;

	if (signal) {
		row.kind = EMBER_CFA_SIGNAL;
		return row;
	}
	/* Return address: undefined marks the outermost frame; else at CFA-8, or in rdi. */
	if (dwarf_frame_register(frame, DWARF_REG_RA, mem, &ops, &nops) != 0) {
		row.kind = EMBER_CFA_UNSUPPORTED;
		return row;
	}
	if (nops == 0 && ops == mem) {
		row.kind = EMBER_CFA_END;
		return row;
	}
	if (!cfa_plus(ops, nops, &off) || off != -8) {
		ra_reg = register_rule(ops, nops);
		if (ra_reg != EMBER_DWARF_REG_RDI) {
			row.kind = EMBER_CFA_UNSUPPORTED;
			return row;
		}
	}
	if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops == 0) {
		row.kind = EMBER_CFA_UNSUPPORTED;
		return row;
	}
	if (nops == 1 && ops[0].atom == DW_OP_bregx) {
		reg = (int)ops[0].number;
		off = (int64_t)ops[0].number2;
	} else if (nops == 1 && ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		reg = ops[0].atom - DW_OP_breg0;
		off = (int64_t)ops[0].number;
	} else {
		int threshold = ra_reg < 0 ? plt_threshold(ops, nops) : -1;

		if (threshold < 0) {
			row.kind = EMBER_CFA_UNSUPPORTED;
			return row;
		}
		row.kind = EMBER_CFA_PLT;
		row.cfa_off = 8;
		row.rbp_off8 = (int8_t)threshold;
		return row;
	}
	if ((reg != DWARF_REG_RSP && reg != DWARF_REG_RBP && reg != DWARF_REG_RBX) || off < 0 ||
	    (off > UINT16_MAX && (off % 8 || off / 8 > UINT16_MAX))) {
		row.kind = EMBER_CFA_UNSUPPORTED;
		return row;
	}
	cfa_kind = reg == DWARF_REG_RSP	  ? EMBER_CFA_RSP
		   : reg == DWARF_REG_RBP ? EMBER_CFA_RBP
					  : EMBER_CFA_RBX;
	if (off > UINT16_MAX) { /* a frame over 64 KiB: count 8-byte units */
		cfa_kind |= EMBER_CFA_OFF_SCALED;
		off /= 8;
	}
	row.cfa_off = (uint16_t)off;
	rbp_kind = reg_rule(frame, DWARF_REG_RBP, &rbp_off8);
	rbx_kind = reg_rule(frame, DWARF_REG_RBX, &rbx_off8);
	return cfi_rows_pack(row, cfa_kind, rbp_kind, rbp_off8, rbx_kind, rbx_off8, ra_reg);
}

/* Walks the rows of the FDE starting at @start, up to @next (the next FDE's start). */
static int walk_fde(struct ember_unwind_table *t, Dwarf_CFI *cfi, uint64_t start, uint64_t next)
{
	uint64_t addr = start;
	int err = 0;

	while (addr < next) {
		Dwarf_Frame *frame = NULL;
		Dwarf_Addr fs, fe;
		bool signal = false;

		if (dwarf_cfi_addrframe(cfi, addr, &frame) != 0) {
			/* A gap between FDEs: no CFI, so the walker must not use the last rule. */
			return emit(t, addr, (struct ember_unwind_row){.kind = EMBER_CFA_NONE});
		}
		if (dwarf_frame_info(frame, &fs, &fe, &signal) < 0 || fe <= addr) {
			free(frame);
			return -EINVAL;
		}
		err = emit(t, addr, translate(frame, signal));
		free(frame);
		if (err)
			return err;
		addr = fe;
	}
	return 0;
}

/*
 * The first instruction of .init and .fini (_init, _fini: crti.o's code, which
 * has no CFI) is a function's entry: the call has just pushed the return
 * address, so CFA = rsp + 8 there whatever the code does next. A leaf sampled
 * there (the page fault of a first call) gets that one byte as a row; no
 * return address can point at it. Everything after stays without CFI.
 */
static int add_entry_row(struct ember_unwind_table *t, Elf *elf, const char *section)
{
	const struct ember_unwind_row *cover;
	struct ember_unwind_row *rows;
	GElf_Shdr shdr;
	size_t at;

	if (!ember_elf_find_section(elf, section, EMBER_ELF_SECTION_HAS_DATA, &shdr) ||
	    !shdr.sh_size || shdr.sh_addr + 1 > UINT32_MAX)
		return 0;
	cover = unwind_table__lookup(t, shdr.sh_addr);
	if (cover && (cover->kind != EMBER_CFA_NONE || cover->pc == shdr.sh_addr))
		return 0; /* CFI covers it, or a row starts there already */
	at = cover ? (size_t)(cover - t->rows) + 1 : 0;
	if (at < t->nr && t->rows[at].pc <= shdr.sh_addr + 1)
		return 0; /* the next row starts at once: no room for the entry's byte */
	if (ember_grow((void **)&t->rows, &t->cap, t->nr + 2, sizeof(*t->rows)))
		return -ENOMEM;
	rows = t->rows;
	memmove(rows + at + 2, rows + at, (t->nr - at) * sizeof(*rows));
	rows[at] = (struct ember_unwind_row){
	    .pc = (uint32_t)shdr.sh_addr, .cfa_off = 8, .kind = EMBER_CFA_RSP};
	rows[at + 1] =
	    (struct ember_unwind_row){.pc = (uint32_t)shdr.sh_addr + 1, .kind = EMBER_CFA_NONE};
	t->nr += 2;
	return 0;
}

static int emit_cfi(void *arg, uint64_t pc, const struct cfi_state *st, bool signal)
{
	return emit(arg, pc,
		    st ? cfi_rows_translate(st, signal)
		       : (struct ember_unwind_row){.kind = EMBER_CFA_NONE});
}

/* @reference: rows through libdw's per-address interface, else cfi_rows.c's one pass. */
static int build_from_elf(Elf *elf, bool reference, struct ember_unwind_table **out)
{
	struct ember_unwind_table *t = NULL;
	uint64_t *starts = NULL, *fdes = NULL;
	size_t nr = 0, i;
	Elf_Data *data;
	Dwarf_CFI *cfi = NULL;
	GElf_Shdr shdr;
	Elf_Scn *scn;
	const unsigned char *ident;
	int err;

	if (elf_kind(elf) != ELF_K_ELF)
		return -EINVAL;
	ident = (const unsigned char *)elf_getident(elf, NULL);
	if (!ident)
		return -EINVAL;
	scn = ember_elf_find_section(elf, ".eh_frame_hdr", EMBER_ELF_SECTION_HAS_DATA, &shdr);
	if (!scn)
		return -ENOENT;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf)
		return -EINVAL;
	err = fde_starts(data, shdr.sh_addr, &starts, &fdes, &nr);
	if (err)
		return err;
	scn = ember_elf_find_section(elf, ".eh_frame", EMBER_ELF_SECTION_HAS_DATA, &shdr);
	data = scn ? elf_rawdata(scn, NULL) : NULL;
	if (!data || !data->d_buf) {
		err = -ENOENT;
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		err = -ENOMEM;
		goto out;
	}
	if (!reference) {
		/* cfi_rows.c keeps a few rules and bounded state: no libdw program runs. */
		err = cfi_rows(ident, data, shdr.sh_addr, starts, fdes, nr, emit_cfi, t);
		if (err && err != -E2BIG) /* E2BIG: past 4 GiB, the walker's limit: keep the rest */
			goto out;
		err = t->nr ? 0 : -ENOENT;
		if (!err)
			err = add_entry_row(t, elf, ".init") ?: add_entry_row(t, elf, ".fini");
		goto out;
	}
	/* libdw must not run a CFI program that makes it allocate without bound. */
	err = cfi_check(ident, data, shdr.sh_addr, fdes, nr);
	if (err)
		goto out;
	cfi = dwarf_getcfi_elf(elf);
	if (!cfi) {
		err = -ENOENT;
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if (i + 1 < nr && starts[i + 1] == starts[i])
			continue;
		err = walk_fde(t, cfi, starts[i], i + 1 < nr ? starts[i + 1] : UINT64_MAX);
		if (err == -E2BIG)
			break;
		if (err)
			goto out;
	}
	/* Past the last FDE there is no CFI. */
	if (t->nr && t->rows[t->nr - 1].kind != EMBER_CFA_NONE && err != -E2BIG) {
		Dwarf_Frame *frame = NULL;
		Dwarf_Addr fs = 0, fe = 0;
		bool sig;

		if (dwarf_cfi_addrframe(cfi, starts[nr - 1], &frame) == 0 &&
		    dwarf_frame_info(frame, &fs, &fe, &sig) == 0) {
			uint64_t end = fe;

			free(frame);
			/* Walk on to the true end of the last FDE, then close it. */
			while (dwarf_cfi_addrframe(cfi, end, &frame) == 0) {
				if (dwarf_frame_info(frame, &fs, &fe, &sig) < 0 || fe <= end) {
					free(frame);
					break;
				}
				free(frame);
				end = fe;
			}
			err = emit(t, end, (struct ember_unwind_row){.kind = EMBER_CFA_NONE});
			if (err && err != -E2BIG)
				goto out;
		} else {
			free(frame);
		}
	}
	err = t->nr ? 0 : -ENOENT;
	if (!err)
		err = add_entry_row(t, elf, ".init") ?: add_entry_row(t, elf, ".fini");
out:
	if (cfi)
		dwarf_cfi_end(cfi); /* a dwarf_getcfi_elf handle is the caller's to free */
	free(starts);
	free(fdes);
	if (err) {
		unwind_table__free(t);
		return err;
	}
	*out = t;
	return 0;
}

static int build_fd(int fd, bool reference, struct ember_unwind_table **out)
{
	Elf *elf;
	int err;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -EINVAL;
	err = build_from_elf(elf, reference, out);
	elf_end(elf);
	return err;
}

int unwind_table__build_fd(int fd, struct ember_unwind_table **out)
{
	return build_fd(fd, false, out);
}

int unwind_table__build_fd_reference(int fd, struct ember_unwind_table **out)
{
	return build_fd(fd, true, out);
}

int unwind_table__build_mem(const void *buf, size_t len, struct ember_unwind_table **out)
{
	void *copy = malloc(len ? len : 1);
	Elf *elf;
	int err;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	elf_version(EV_CURRENT);
	elf = elf_memory(copy, len);
	if (!elf) {
		free(copy);
		return -EINVAL;
	}
	err = build_from_elf(elf, false, out);
	elf_end(elf);
	free(copy);
	return err;
}

/* ---- on-disk cache ------------------------------------------------------ */

#define CACHE_MAGIC   "EMBERUW"
#define CACHE_VERSION 2u /* 2: rbx-based CFAs, rbx rules, return address in rdi */

struct cache_header {
	char magic[8];	  /* "EMBERUW\0" */
	uint32_t version; /* CACHE_VERSION: bumped whenever the row encoding changes */
	uint32_t nr_rows;
};

int unwind_table__save(const struct ember_unwind_table *t, const char *path)
{
	struct cache_header h = {.version = CACHE_VERSION, .nr_rows = (uint32_t)t->nr};
	char tmp[4096];
	FILE *f;
	int err = 0;

	if (t->nr > UINT32_MAX)
		return -E2BIG;
	memcpy(h.magic, CACHE_MAGIC, sizeof(CACHE_MAGIC));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	if (fwrite(&h, sizeof(h), 1, f) != 1 ||
	    (t->nr && fwrite(t->rows, sizeof(*t->rows), t->nr, f) != t->nr))
		err = -EIO;
	if (fclose(f) && !err)
		err = -EIO;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int unwind_table__load(const char *path, struct ember_unwind_table **out)
{
	struct ember_unwind_table *t = NULL;
	struct cache_header h;
	struct stat st;
	FILE *f;
	int err = -EINVAL;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) || fread(&h, sizeof(h), 1, f) != 1 ||
	    memcmp(h.magic, CACHE_MAGIC, sizeof(CACHE_MAGIC)) || h.version != CACHE_VERSION ||
	    (uint64_t)st.st_size != sizeof(h) + (uint64_t)h.nr_rows * sizeof(*t->rows) ||
	    h.nr_rows == 0)
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->rows = malloc((size_t)h.nr_rows * sizeof(*t->rows)))) {
		err = -ENOMEM;
		goto out;
	}
	t->nr = t->cap = h.nr_rows;
	if (fread(t->rows, sizeof(*t->rows), t->nr, f) != t->nr)
		goto out;
	err = 0;
out:
	fclose(f);
	if (err) {
		unwind_table__free(t);
		return err;
	}
	*out = t;
	return 0;
}
