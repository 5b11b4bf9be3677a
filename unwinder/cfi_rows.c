// SPDX-License-Identifier: MIT
/*
 * The table builder's fast path: runs each FDE's CFI program once, from its
 * first instruction to its last, and hands every row to the table as it goes.
 * libdw's dwarf_cfi_addrframe() answers one address at a time: it finds the
 * FDE again and re-runs its program from the start up to that address, so a
 * table built through it costs O(rows^2 / FDEs) program steps plus a search
 * and a malloc per row (cc1, 480k rows: ~0.5 s, most of it there). Here only
 * the rules the walker can use are kept (CFA, rbp, rbx, the return address);
 * the rules of other registers are decoded and dropped. The translation into
 * rows is the one table.c applies to libdw's answers, and the unit test
 * unwind_builders_agree checks both give the same rows on real files.
 *
 * Entries are located with libdw's dwarf_next_cfi() (CIE and FDE headers only).
 * One known difference from the libdw path: an FDE whose program advances past
 * its own end gets its last row cut at the end here (no CFI from there, as the
 * FDE says), where dwarf_cfi_addrframe's row runs on to the advanced location.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "unwinder/cfi_check.h"
#include "unwinder/cfi_rows.h"
#include "unwinder/eh_pointer.h"

#define REG_RBX 3
#define REG_RDI 5
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA	16

enum rule_kind {
	RULE_UNSPEC = 0, /* no rule yet: the ABI's default */
	RULE_SAME,
	RULE_UNDEF,
	RULE_OFFSET,   /* saved at CFA + v */
	RULE_REGISTER, /* in register v */
	RULE_OTHER,    /* val_offset, expression, val_expression: not for the walker */
};

struct rule {
	uint8_t kind;
	int64_t v;
};

struct cfa_rule {
	bool expr;    /* DW_CFA_def_cfa_expression */
	uint64_t reg; /* register rule: CFA = reg + off */
	int64_t off;
	const uint8_t *ep; /* expression bytes */
	uint64_t elen;
};

struct cfi_state {
	struct cfa_rule cfa;
	struct rule rbp, rbx, ra;
};

struct cie {
	Dwarf_Off off;
	uint64_t code_align;
	int64_t data_align;
	uint8_t fde_encoding;
	bool sized, signal;
	struct cfi_state init; /* after the initial instructions */
	bool ok;
};

struct ctx {
	const unsigned char *e_ident;
	Elf_Data *data;
	const uint8_t *buf, *end;
	uint64_t vaddr; /* of .eh_frame */
	struct cie cie; /* the last CIE read: FDEs share few */
	struct cfi_state stack[CFI_MAX_DEPTH];
};

static uint64_t uleb(const uint8_t **p, const uint8_t *end, bool *bad)
{
	uint64_t v = 0;
	unsigned int shift = 0;

	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
		shift += 7;
	}
	*bad = true;
	return 0;
}

static int64_t sleb(const uint8_t **p, const uint8_t *end, bool *bad)
{
	uint64_t v = 0;
	unsigned int shift = 0;

	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~0ull << shift;
			return (int64_t)v;
		}
	}
	*bad = true;
	return 0;
}

/* A pointer in encoding @enc at *@p (pcrel from its own address); false when not understood. */
static bool read_ptr(const struct ctx *c, uint8_t enc, const uint8_t **p, const uint8_t *end,
		     uint64_t *out)
{
	uint64_t v = 0, base = 0;
	size_t size;
	bool sign = false;

	switch (enc & 0x70) {
	case DW_EH_PE_absptr:
		break;
	case DW_EH_PE_pcrel:
		base = c->vaddr + (uint64_t)(*p - c->buf);
		break;
	default:
		return false;
	}
	size = eh_pointer_size(enc, c->e_ident[EI_CLASS] == ELFCLASS32 ? 4 : 8);
	if (!size)
		return false; /* LEB128 pointers: no compiler emits them in .eh_frame */
	sign = (enc & 0x08) != 0;
	if ((size_t)(end - *p) < size)
		return false;
	memcpy(&v, *p, size); /* little endian: x86-64 */
	if (sign && size < 8 && (v >> (8 * size - 1)) & 1)
		v |= ~0ull << (8 * size);
	*p += size;
	*out = base + v;
	return true;
}

/* Factored offsets wrap instead of overflowing (a crafted file): the rows then say unsupported. */
static int64_t mul(uint64_t v, int64_t factor)
{
	return (int64_t)(v * (uint64_t)factor);
}

static struct rule *rule_of(struct cfi_state *s, uint64_t reg)
{
	switch (reg) {
	case REG_RBP:
		return &s->rbp;
	case REG_RBX:
		return &s->rbx;
	case REG_RA:
		return &s->ra;
	default:
		return NULL; /* a register the walker does not restore */
	}
}

static void set_rule(struct cfi_state *s, uint64_t reg, uint8_t kind, int64_t v)
{
	struct rule *r = rule_of(s, reg);

	if (r) {
		r->kind = kind;
		r->v = v;
	}
}

/*
 * Runs @p..@end on @s. With @emit, rows go to it at every advance of the
 * location *@loc (up to @limit, where it stops); without, it is a CIE's
 * initial program. Returns 0, 1 when @limit was reached, -EINVAL for a program
 * it cannot follow (the caller ends the FDE there), or emit's error.
 */
static int run(struct ctx *c, const struct cie *cie, struct cfi_state *s, const uint8_t *p,
	       const uint8_t *end, uint64_t *loc, uint64_t limit, cfi_rows_emit_fn emit, void *arg)
{
	unsigned int depth = 0;
	bool bad = false;
	uint64_t reg, len, delta;
	int err;

	while (p < end) {
		uint8_t op = *p++;

		delta = 0;
		if ((op & 0xc0) == DW_CFA_advance_loc) {
			delta = (uint64_t)(op & 0x3f) * cie->code_align;
		} else if ((op & 0xc0) == DW_CFA_offset) {
			set_rule(s, op & 0x3f, RULE_OFFSET,
				 mul(uleb(&p, end, &bad), cie->data_align));
		} else if ((op & 0xc0) == DW_CFA_restore) {
			struct rule *r = rule_of(s, op & 0x3f);

			if (r)
				*r = *rule_of((struct cfi_state *)&cie->init, op & 0x3f);
		} else {
			switch (op) {
			case DW_CFA_nop:
				break;
			case DW_CFA_set_loc: {
				uint64_t to;

				if (!emit || !read_ptr(c, cie->fde_encoding, &p, end, &to) ||
				    to < *loc)
					return -EINVAL;
				delta = to - *loc;
				break;
			}
			case DW_CFA_advance_loc1:
			case DW_CFA_advance_loc2:
			case DW_CFA_advance_loc4:
				len = op == DW_CFA_advance_loc1	  ? 1
				      : op == DW_CFA_advance_loc2 ? 2
								  : 4;
				if ((uint64_t)(end - p) < len)
					return -EINVAL;
				memcpy(&delta, p, len);
				p += len;
				delta *= cie->code_align;
				break;
			case DW_CFA_offset_extended:
				reg = uleb(&p, end, &bad);
				set_rule(s, reg, RULE_OFFSET,
					 mul(uleb(&p, end, &bad), cie->data_align));
				break;
			case DW_CFA_offset_extended_sf:
				reg = uleb(&p, end, &bad);
				set_rule(s, reg, RULE_OFFSET,
					 mul((uint64_t)sleb(&p, end, &bad), cie->data_align));
				break;
			case DW_CFA_GNU_negative_offset_extended:
				reg = uleb(&p, end, &bad);
				set_rule(s, reg, RULE_OFFSET,
					 (int64_t)(0 - (uint64_t)mul(uleb(&p, end, &bad),
								     cie->data_align)));
				break;
			case DW_CFA_restore_extended: {
				struct rule *r;

				reg = uleb(&p, end, &bad);
				r = rule_of(s, reg);
				if (r)
					*r = *rule_of((struct cfi_state *)&cie->init, reg);
				break;
			}
			case DW_CFA_undefined:
				set_rule(s, uleb(&p, end, &bad), RULE_UNDEF, 0);
				break;
			case DW_CFA_same_value:
				set_rule(s, uleb(&p, end, &bad), RULE_SAME, 0);
				break;
			case DW_CFA_register:
				reg = uleb(&p, end, &bad);
				set_rule(s, reg, RULE_REGISTER, (int64_t)uleb(&p, end, &bad));
				break;
			case DW_CFA_val_offset:
			case DW_CFA_val_offset_sf:
				reg = uleb(&p, end, &bad);
				if (op == DW_CFA_val_offset)
					uleb(&p, end, &bad);
				else
					sleb(&p, end, &bad);
				set_rule(s, reg, RULE_OTHER, 0);
				break;
			case DW_CFA_expression:
			case DW_CFA_val_expression:
				reg = uleb(&p, end, &bad);
				len = uleb(&p, end, &bad);
				if (bad || len > (uint64_t)(end - p))
					return -EINVAL;
				p += len;
				set_rule(s, reg, RULE_OTHER, 0);
				break;
			case DW_CFA_remember_state:
				if (depth >= CFI_MAX_DEPTH)
					return -EINVAL;
				c->stack[depth++] = *s;
				break;
			case DW_CFA_restore_state:
				if (!depth)
					return -EINVAL;
				*s = c->stack[--depth];
				break;
			case DW_CFA_def_cfa:
				s->cfa.reg = uleb(&p, end, &bad);
				s->cfa.off = (int64_t)uleb(&p, end, &bad);
				s->cfa.expr = false;
				break;
			case DW_CFA_def_cfa_sf:
				s->cfa.reg = uleb(&p, end, &bad);
				s->cfa.off = mul((uint64_t)sleb(&p, end, &bad), cie->data_align);
				s->cfa.expr = false;
				break;
			case DW_CFA_def_cfa_register:
				if (s->cfa.expr)
					return -EINVAL; /* libdw: invalid CFI */
				s->cfa.reg = uleb(&p, end, &bad);
				break;
			case DW_CFA_def_cfa_offset:
				if (s->cfa.expr)
					return -EINVAL;
				s->cfa.off = (int64_t)uleb(&p, end, &bad);
				break;
			case DW_CFA_def_cfa_offset_sf:
				if (s->cfa.expr)
					return -EINVAL;
				s->cfa.off = mul((uint64_t)sleb(&p, end, &bad), cie->data_align);
				break;
			case DW_CFA_def_cfa_expression:
				len = uleb(&p, end, &bad);
				if (bad || len > (uint64_t)(end - p))
					return -EINVAL;
				s->cfa.expr = true;
				s->cfa.ep = p;
				s->cfa.elen = len;
				p += len;
				break;
			case DW_CFA_GNU_args_size:
				uleb(&p, end, &bad);
				break;
			default:
				return -EINVAL; /* libdw stops at an opcode it does not know */
			}
		}
		if (bad)
			return -EINVAL;
		if (delta && emit) {
			/* The rules so far hold from *loc up to the new location. */
			err = emit(arg, *loc, s, cie->signal);
			if (err)
				return err;
			if (delta >= limit - *loc) {
				*loc = limit;
				return 1;
			}
			*loc += delta;
		}
	}
	return 0;
}

/* The CIE at @off, parsed and its initial program run; c->cie.ok false when unusable. */
static void read_cie(struct ctx *c, Dwarf_Off off)
{
	struct cie *ci = &c->cie;
	Dwarf_CFI_Entry e;
	Dwarf_Off next;
	const uint8_t *d, *dend;
	const char *ap;
	uint64_t dummy;
	uint64_t loc = 0;

	memset(ci, 0, sizeof(*ci));
	ci->off = off;
	if (dwarf_next_cfi(c->e_ident, c->data, true, off, &next, &e) != 0 || !dwarf_cfi_cie_p(&e))
		return;
	ap = e.cie.augmentation;
	if (*ap && *ap != 'z')
		return; /* as cfi_check: augmentation data it cannot size */
	ci->code_align = e.cie.code_alignment_factor;
	ci->data_align = e.cie.data_alignment_factor;
	ci->fde_encoding = DW_EH_PE_absptr;
	d = e.cie.augmentation_data;
	dend = d ? d + e.cie.augmentation_data_size : NULL;
	for (; *ap; ap++) {
		switch (*ap) {
		case 'z':
			ci->sized = true;
			break;
		case 'R':
			if (!d || d >= dend)
				return;
			ci->fde_encoding = *d++;
			break;
		case 'L':
			if (!d || d >= dend)
				return;
			d++;
			break;
		case 'P':
			if (!d || d >= dend)
				return;
			if (*d == DW_EH_PE_omit) {
				d++;
				break;
			}
			d++;
			if (!read_ptr(c, d[-1] & 0x7f, &d, dend, &dummy))
				return;
			break;
		case 'S':
			ci->signal = true;
			break;
		default: /* sized by 'z': skipped */
			break;
		}
	}
	if (run(c, ci, &ci->init, e.cie.initial_instructions, e.cie.initial_instructions_end, &loc,
		0, NULL, NULL) < 0)
		return;
	ci->ok = true;
}

int cfi_rows(const unsigned char *e_ident, Elf_Data *data, uint64_t vaddr, const uint64_t *starts,
	     const uint64_t *fdes, size_t nr, cfi_rows_emit_fn emit, void *arg)
{
	struct ctx *c = calloc(1, sizeof(*c));
	Dwarf_CFI_Entry e;
	Dwarf_Off after;
	size_t i;
	int err = 0;

	if (!c)
		return -ENOMEM;
	c->e_ident = e_ident;
	c->data = data;
	c->buf = data->d_buf;
	c->end = c->buf + data->d_size;
	c->vaddr = vaddr;
	c->cie.off = (Dwarf_Off)-1;
	for (i = 0; i < nr && !err; i++) {
		uint64_t next = i + 1 < nr ? starts[i + 1] : UINT64_MAX, limit = next,
			 loc = starts[i];
		uint64_t range, fde_end;
		const uint8_t *p;
		struct cfi_state s;
		int ret;

		if (i + 1 < nr && starts[i + 1] == starts[i])
			continue;
		if (fdes[i] < vaddr || fdes[i] - vaddr >= data->d_size ||
		    dwarf_next_cfi(e_ident, data, true, fdes[i] - vaddr, &after, &e) != 0 ||
		    dwarf_cfi_cie_p(&e)) {
			err = emit(arg, loc, NULL, false);
			continue;
		}
		if (e.fde.CIE_pointer != c->cie.off)
			read_cie(c, e.fde.CIE_pointer);
		p = e.fde.start;
		if (!c->cie.ok || !read_ptr(c, c->cie.fde_encoding, &p, e.fde.end, &range) ||
		    !read_ptr(c, c->cie.fde_encoding & 0x0f, &p, e.fde.end, &range)) {
			err = emit(arg, loc, NULL, false);
			continue;
		}
		if (c->cie.sized) {
			bool bad = false;
			uint64_t len = uleb(&p, e.fde.end, &bad);

			if (bad || len > (uint64_t)(e.fde.end - p)) {
				err = emit(arg, loc, NULL, false);
				continue;
			}
			p += len;
		}
		fde_end = range < UINT64_MAX - loc ? loc + range : UINT64_MAX;
		if (fde_end < limit)
			limit = fde_end;
		if (limit <= loc) {
			err = emit(arg, loc, NULL, false); /* an empty FDE covers nothing */
			continue;
		}
		s = c->cie.init;
		ret = run(c, &c->cie, &s, p, e.fde.end, &loc, limit, emit, arg);
		if (ret == 0)
			ret = emit(arg, loc, &s, c->cie.signal); /* the last row, to the end */
		else if (ret == -EINVAL)
			ret = emit(arg, loc, NULL, false); /* libdw finds no frame from here on */
		if (ret < 0) {
			err = ret;
			break;
		}
		/* Past the FDE and before the next one there is no CFI. */
		if (fde_end < next)
			err = emit(arg, fde_end, NULL, false);
	}
	free(c);
	return err;
}

/* ---- translation: the rows table.c makes of libdw's answers ------------- */

/* The standard x86-64 .plt CFA expression, as bytes; its threshold N, or -1. */
static int plt_bytes(const uint8_t *p, uint64_t n)
{
	static const uint8_t pre[] = {DW_OP_breg7, 8, DW_OP_breg16, 0, DW_OP_lit15, DW_OP_and};
	static const uint8_t post[] = {DW_OP_ge, DW_OP_lit3, DW_OP_shl, DW_OP_plus};

	if (n != sizeof(pre) + 1 + sizeof(post) || memcmp(p, pre, sizeof(pre)) ||
	    p[sizeof(pre)] < DW_OP_lit0 || p[sizeof(pre)] > DW_OP_lit31 ||
	    memcmp(p + sizeof(pre) + 1, post, sizeof(post)))
		return -1;
	return p[sizeof(pre)] - DW_OP_lit0;
}

static unsigned int reg_kind(const struct rule *r, bool rbx, int *off8)
{
	switch (r->kind) {
	case RULE_UNSPEC:
	case RULE_SAME:
		return EMBER_REG_SAME;
	case RULE_UNDEF:
		/* libdw reads rbx without a rule as undefined: see table.c's reg_rule() */
		return rbx ? EMBER_REG_SAME : EMBER_REG_UNKNOWN;
	case RULE_OFFSET:
		if (r->v % 8 == 0 && r->v / 8 >= INT8_MIN && r->v / 8 <= INT8_MAX) {
			*off8 = (int)(r->v / 8);
			return EMBER_REG_CFA_OFFSET;
		}
		return EMBER_REG_UNKNOWN;
	default:
		return EMBER_REG_UNKNOWN;
	}
}

struct ember_unwind_row cfi_rows_translate(const struct cfi_state *st, bool signal)
{
	const struct cfi_state *s = st;
	struct ember_unwind_row row = {0};
	unsigned int cfa_kind, rbp_kind, rbx_kind;
	int ra_reg = -1, rbp_off8 = 0, rbx_off8 = 0, threshold;
	int64_t off;

	if (signal) {
		row.kind = EMBER_CFA_SIGNAL;
		return row;
	}
	if (s->ra.kind == RULE_UNDEF || s->ra.kind == RULE_UNSPEC) {
		/* Unspecified reads as undefined in libdw too (no default rule on x86-64). */
		row.kind = EMBER_CFA_END;
		return row;
	}
	if (s->ra.kind == RULE_REGISTER && s->ra.v == REG_RDI) {
		ra_reg = REG_RDI;
	} else if (s->ra.kind != RULE_OFFSET || s->ra.v != -8) {
		row.kind = EMBER_CFA_UNSUPPORTED;
		return row;
	}
	if (s->cfa.expr) {
		threshold = ra_reg < 0 ? plt_bytes(s->cfa.ep, s->cfa.elen) : -1;
		if (threshold < 0) {
			row.kind = EMBER_CFA_UNSUPPORTED;
			return row;
		}
		row.kind = EMBER_CFA_PLT;
		row.cfa_off = 8;
		row.rbp_off8 = (int8_t)threshold;
		return row;
	}
	off = s->cfa.off;
	if ((s->cfa.reg != REG_RSP && s->cfa.reg != REG_RBP && s->cfa.reg != REG_RBX) || off < 0 ||
	    (off > UINT16_MAX && (off % 8 || off / 8 > UINT16_MAX))) {
		row.kind = EMBER_CFA_UNSUPPORTED;
		return row;
	}
	cfa_kind = s->cfa.reg == REG_RSP   ? EMBER_CFA_RSP
		   : s->cfa.reg == REG_RBP ? EMBER_CFA_RBP
					   : EMBER_CFA_RBX;
	if (off > UINT16_MAX) {
		cfa_kind |= EMBER_CFA_OFF_SCALED;
		off /= 8;
	}
	row.cfa_off = (uint16_t)off;
	rbp_kind = reg_kind(&s->rbp, false, &rbp_off8);
	rbx_kind = reg_kind(&s->rbx, true, &rbx_off8);
	return cfi_rows_pack(row, cfa_kind, rbp_kind, rbp_off8, rbx_kind, rbx_off8, ra_reg);
}

struct ember_unwind_row cfi_rows_pack(struct ember_unwind_row row, unsigned int cfa_kind,
				      unsigned int rbp_kind, int rbp_off8, unsigned int rbx_kind,
				      int rbx_off8, int ra_reg)
{
	if (ra_reg >= 0) {
		/* The walker reads the return address register of an exact frame only. */
		if (cfa_kind != EMBER_CFA_RSP || rbp_kind != EMBER_REG_SAME ||
		    rbx_kind != EMBER_REG_SAME) {
			row.kind = EMBER_CFA_UNSUPPORTED;
			row.cfa_off = 0;
			return row;
		}
		row.kind = EMBER_CFA_RSP_RA_REG;
		row.rbp_off8 = (int8_t)ra_reg;
		return row;
	}
	if (rbp_kind == EMBER_REG_CFA_OFFSET && rbx_kind == EMBER_REG_CFA_OFFSET) {
		/* One byte for two offsets: nibbles, CFA-8 .. CFA-128 (see sampler_abi.h). */
		if (rbp_off8 <= -1 && rbp_off8 >= -16 && rbx_off8 <= -1 && rbx_off8 >= -16)
			row.rbp_off8 = (int8_t)(uint8_t)((-1 - rbp_off8) | (-1 - rbx_off8) << 4);
		else
			rbx_kind = EMBER_REG_UNKNOWN; /* rbp matters more: every fp walk uses it */
	}
	if (rbp_kind == EMBER_REG_CFA_OFFSET && rbx_kind != EMBER_REG_CFA_OFFSET)
		row.rbp_off8 = (int8_t)rbp_off8;
	else if (rbx_kind == EMBER_REG_CFA_OFFSET && rbp_kind != EMBER_REG_CFA_OFFSET)
		row.rbp_off8 = (int8_t)rbx_off8;
	row.kind = (uint8_t)(cfa_kind | rbp_kind << 4 | rbx_kind << 6);
	return row;
}
