// SPDX-License-Identifier: MIT
/*
 * ELF facts the symbolizer needs, read through libelf: the PT_LOAD segments that
 * turn a file offset into a virtual address, the GNU build-id note, the
 * .gnu_debuglink, and a sorted table of function symbols from .symtab and
 * .dynsym plus synthesized "name@plt" entries for PLT stubs (the linker emits no
 * symbols for those, yet calls through them show up in every profile).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- sections and notes ------------------------------------------------- */

static bool symbol_section(const char *name)
{
	return strcmp(name, ".symtab") == 0 || strcmp(name, ".strtab") == 0 ||
	       strcmp(name, ".dynsym") == 0 || strcmp(name, ".dynstr") == 0;
}

size_t elf__section_bytes(Elf *elf, const char *prefix)
{
	size_t shstrndx, bytes = 0;
	Elf_Scn *scn = NULL;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr shdr;
		const char *name;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!name ||
		    (prefix ? strncmp(name, prefix, strlen(prefix)) != 0 : !symbol_section(name)))
			continue;
		if (shdr.sh_flags & SHF_COMPRESSED) {
			GElf_Chdr chdr;

			/* libelf decompresses into memory of its own. */
			if (gelf_getchdr(scn, &chdr))
				shdr.sh_size = chdr.ch_size;
		}
		bytes += shdr.sh_size;
	}
	return bytes;
}

static int note_build_id(Elf_Data *data, char *hex, size_t size)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nhdr;

	while ((next = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) > 0) {
		const unsigned char *desc = (const unsigned char *)data->d_buf + desc_off;
		const char *nname = (const char *)data->d_buf + name_off;

		off = next;
		if (nhdr.n_type != NT_GNU_BUILD_ID || nhdr.n_namesz != 4 ||
		    memcmp(nname, "GNU", 4) != 0 || nhdr.n_descsz == 0)
			continue;
		if (size < nhdr.n_descsz * 2 + 1)
			return -ENOSPC;
		for (size_t i = 0; i < nhdr.n_descsz; i++)
			snprintf(hex + 2 * i, 3, "%02x", desc[i]);
		return 0;
	}
	return -ENOENT;
}

int elf__build_id(Elf *elf, char *hex, size_t size)
{
	Elf_Scn *scn = NULL;
	size_t phnum;
	int err;

	/* Sections first: stripped-section images (some vDSOs, core-like files)
	 * still have PT_NOTE, which the second loop covers. */
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			continue;
		err = note_build_id(data, hex, size);
		if (err != -ENOENT)
			return err;
	}
	if (elf_getphdrnum(elf, &phnum) != 0)
		return -ENOENT;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr phdr;
		Elf_Data *data;

		if (!gelf_getphdr(elf, (int)i, &phdr) || phdr.p_type != PT_NOTE)
			continue;
		data = elf_getdata_rawchunk(elf, (int64_t)phdr.p_offset, phdr.p_filesz, ELF_T_NHDR);
		if (!data || !data->d_buf)
			continue;
		err = note_build_id(data, hex, size);
		if (err != -ENOENT)
			return err;
	}
	return -ENOENT;
}

static int read_debuglink(Elf *elf, struct elf_info *info)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = ember_elf_find_section(elf, ".gnu_debuglink", 0, &shdr);
	Elf_Data *data;
	size_t len, crc_off;

	if (!scn || shdr.sh_type == SHT_NOBITS)
		return 0;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || data->d_size < 5)
		return 0;
	len = strnlen(data->d_buf, data->d_size);
	/* The CRC follows the name, aligned to 4 bytes. */
	crc_off = (len + 4) & ~(size_t)3;
	if (len == 0 || crc_off + 4 > data->d_size)
		return 0;
	info->debuglink = strndup(data->d_buf, len);
	if (!info->debuglink)
		return -ENOMEM;
	memcpy(&info->debuglink_crc, (const char *)data->d_buf + crc_off, 4);
	return 0;
}

int elf_info__read(Elf *elf, struct elf_info *info)
{
	GElf_Ehdr ehdr;
	GElf_Shdr shdr;
	Elf_Scn *scn;
	size_t phnum, cap = 0, fsize = 0;
	int err = 0;

	memset(info, 0, sizeof(*info));
	if (elf_kind(elf) != ELF_K_ELF) {
		err = -EINVAL;
		goto out;
	}
	if (!gelf_getehdr(elf, &ehdr) || elf_getphdrnum(elf, &phnum) != 0) {
		err = -EIO;
		goto out;
	}
	info->type = ehdr.e_type;
	/* libelf tolerates header tables that run past the end of a truncated
	 * file (it reports them empty); such a file is damaged, say so. */
	if (elf_rawfile(elf, &fsize) &&
	    (ehdr.e_phoff + (uint64_t)ehdr.e_phnum * ehdr.e_phentsize > fsize ||
	     ehdr.e_shoff + (uint64_t)ehdr.e_shnum * ehdr.e_shentsize > fsize)) {
		err = -EIO;
		goto out;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(elf, (int)i, &phdr)) {
			err = -EIO;
			goto out;
		}
		if (phdr.p_type != PT_LOAD)
			continue;
		err =
		    ember_grow((void **)&info->segs, &cap, info->nr_segs + 1, sizeof(*info->segs));
		if (err)
			goto out;
		info->segs[info->nr_segs++] = (struct elf_seg){
		    .vaddr = phdr.p_vaddr,
		    .memsz = phdr.p_memsz,
		    .offset = phdr.p_offset,
		    .filesz = phdr.p_filesz,
		};
	}
	scn = ember_elf_find_section(elf, ".symtab", 0, &shdr);
	info->has_symtab = scn && shdr.sh_type == SHT_SYMTAB && shdr.sh_size > shdr.sh_entsize;
	scn = ember_elf_find_section(elf, ".debug_info", 0, &shdr);
	info->has_debug_info = scn && shdr.sh_type != SHT_NOBITS && shdr.sh_size > 0;
	if (elf__build_id(elf, info->build_id, sizeof(info->build_id)) != 0)
		info->build_id[0] = '\0';
	err = read_debuglink(elf, info);
out:
	if (err)
		elf_info__fini(info);
	return err;
}

void elf_info__fini(struct elf_info *info)
{
	free(info->segs);
	free(info->debuglink);
	info->segs = NULL;
	info->debuglink = NULL;
	info->nr_segs = 0;
}

int elf_info__offset_to_vaddr(const struct elf_info *info, uint64_t off, uint64_t *vaddr)
{
	/* Text sits in the file-backed part of a segment, so only [offset,
	 * offset + filesz) counts. */
	for (size_t i = 0; i < info->nr_segs; i++) {
		const struct elf_seg *s = &info->segs[i];

		if (off >= s->offset && off - s->offset < s->filesz) {
			*vaddr = off - s->offset + s->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- symbols ------------------------------------------------------------ */

static int add_sym(struct elf_symtab *tab, struct ember_strpool *pool, uint64_t addr, uint64_t size,
		   const char *name, uint8_t rank)
{
	struct elf_sym *s;
	int err;

	err = ember_grow((void **)&tab->syms, &tab->cap, tab->nr + 1, sizeof(*tab->syms));
	if (err)
		return err;
	s = &tab->syms[tab->nr];
	s->name = ember_strpool__intern(pool, name);
	if (!s->name)
		return -ENOMEM;
	s->addr = addr;
	s->size = size;
	s->display = NULL;
	s->rank = rank;
	tab->nr++;
	return 0;
}

static uint8_t sym_rank(const GElf_Sym *sym)
{
	uint8_t rank = 0;

	/* Sized symbols beat unsized aliases; global beats weak beats local. */
	if (sym->st_size)
		rank |= 8;
	switch (GELF_ST_BIND(sym->st_info)) {
	case STB_GLOBAL:
		rank |= 3;
		break;
	case STB_WEAK:
		rank |= 2;
		break;
	default:
		rank |= 1;
	}
	return rank;
}

static int add_symbol_section(struct elf_symtab *tab, Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr,
			      struct ember_strpool *pool)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n;

	if (!data || shdr->sh_entsize == 0)
		return 0;
	n = shdr->sh_size / shdr->sh_entsize;
	for (size_t i = 1; i < n; i++) {
		const char *name;
		GElf_Sym sym;
		int type, err;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    sym.st_value == 0)
			continue;
		name = elf_strptr(elf, shdr->sh_link, sym.st_name);
		if (!name || !name[0])
			continue;
		err = add_sym(tab, pool, sym.st_value, sym.st_size, name, sym_rank(&sym));
		if (err)
			return err;
	}
	return 0;
}

struct got_slot {
	uint64_t addr;	  /* GOT entry address */
	const char *name; /* symbol (libelf's string) */
};

static int got_cmp(const void *a, const void *b)
{
	const struct got_slot *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Collects GOT slots named by JUMP_SLOT / GLOB_DAT relocations of @rela. */
static int add_got_slots(Elf *elf, Elf_Scn *rela, struct got_slot **slots, size_t *nr, size_t *cap)
{
	GElf_Shdr shdr, sym_shdr;
	Elf_Data *data, *sym_data;
	Elf_Scn *dynsym;

	if (!rela || !gelf_getshdr(rela, &shdr) || shdr.sh_type != SHT_RELA || !shdr.sh_entsize)
		return 0;
	dynsym = elf_getscn(elf, shdr.sh_link);
	if (!dynsym || !gelf_getshdr(dynsym, &sym_shdr))
		return 0;
	data = elf_getdata(rela, NULL);
	sym_data = elf_getdata(dynsym, NULL);
	if (!data || !sym_data)
		return 0;
	for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; i++) {
		const char *name;
		GElf_Rela r;
		GElf_Sym sym;
		int err;

		if (!gelf_getrela(data, (int)i, &r))
			break;
		if (GELF_R_SYM(r.r_info) == 0 ||
		    !gelf_getsym(sym_data, (int)GELF_R_SYM(r.r_info), &sym))
			continue;
		name = elf_strptr(elf, sym_shdr.sh_link, sym.st_name);
		if (!name || !name[0])
			continue;
		err = ember_grow((void **)slots, cap, *nr + 1, sizeof(**slots));
		if (err)
			return err;
		(*slots)[(*nr)++] = (struct got_slot){r.r_offset, name};
	}
	return 0;
}

/*
 * x86-64 stubs end in (or start with) an indirect jump through the GOT,
 * "ff 25 disp32" (after endbr64 / bnd prefixes): the slot it reads names the
 * stub. Decoding the jump covers .plt, .plt.sec (IBT) and .plt.got alike.
 */
static int add_plt_x86(struct elf_symtab *tab, Elf *elf, const struct got_slot *slots, size_t nr,
		       struct ember_strpool *pool)
{
	static const char *const names[] = {".plt", ".plt.sec", ".plt.got"};
	char name[512];

	for (size_t k = 0; k < 3; k++) {
		GElf_Shdr shdr;
		Elf_Scn *scn = ember_elf_find_section(elf, names[k], 0, &shdr);
		const unsigned char *code;
		Elf_Data *data;
		uint64_t ent;

		if (!scn || shdr.sh_type != SHT_PROGBITS)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf || data->d_size < shdr.sh_size)
			continue;
		code = data->d_buf;
		ent = shdr.sh_entsize >= 8 && shdr.sh_entsize <= 32 ? shdr.sh_entsize : 16;
		for (uint64_t off = 0; off + ent <= shdr.sh_size; off += ent) {
			for (uint64_t p = 0; p + 6 <= ent; p++) {
				const struct got_slot *hit;
				struct got_slot key;
				int32_t disp;
				int err;

				if (code[off + p] != 0xff || code[off + p + 1] != 0x25)
					continue;
				memcpy(&disp, code + off + p + 2, 4);
				key.addr = shdr.sh_addr + off + p + 6 + (int64_t)disp;
				hit = bsearch(&key, slots, nr, sizeof(*slots), got_cmp);
				if (!hit)
					break;
				snprintf(name, sizeof(name), "%s@plt", hit->name);
				err = add_sym(tab, pool, shdr.sh_addr + off, ent, name, 8);
				if (err)
					return err;
				break;
			}
		}
	}
	return 0;
}

/*
 * Other machines: .rela.plt order is the order of the stubs in .plt after the
 * reserved header (32 bytes on aarch64, 16 elsewhere).
 */
static int add_plt_ordered(struct elf_symtab *tab, Elf *elf, uint16_t machine,
			   const struct got_slot *slots, size_t nr, struct ember_strpool *pool)
{
	uint64_t base, entsize = 16;
	GElf_Shdr shdr;
	char name[512];
	Elf_Scn *plt = ember_elf_find_section(elf, ".plt", 0, &shdr);

	if (!plt || shdr.sh_type != SHT_PROGBITS)
		return 0;
	base = shdr.sh_addr + (machine == EM_AARCH64 ? 32 : 16);
	for (size_t i = 0; i < nr; i++) {
		uint64_t addr = base + i * entsize;
		int err;

		if (addr + entsize > shdr.sh_addr + shdr.sh_size)
			break;
		snprintf(name, sizeof(name), "%s@plt", slots[i].name);
		err = add_sym(tab, pool, addr, entsize, name, 8);
		if (err)
			return err;
	}
	return 0;
}

/* Names PLT stubs "sym@plt": the linker emits no symbols for them. */
static int add_plt(struct elf_symtab *tab, Elf *elf, struct ember_strpool *pool)
{
	struct got_slot *slots = NULL;
	size_t nr = 0, cap = 0;
	GElf_Shdr shdr;
	GElf_Ehdr ehdr;
	int err = 0;

	if (!gelf_getehdr(elf, &ehdr))
		return 0;
	err = add_got_slots(elf, ember_elf_find_section(elf, ".rela.plt", 0, &shdr), &slots, &nr,
			    &cap);
	if (err)
		goto out;
	if (ehdr.e_machine != EM_X86_64) {
		err = add_plt_ordered(tab, elf, ehdr.e_machine, slots, nr, pool);
		goto out;
	}
	err = add_got_slots(elf, ember_elf_find_section(elf, ".rela.dyn", 0, &shdr), &slots, &nr,
			    &cap);
	if (err || nr == 0)
		goto out;
	qsort(slots, nr, sizeof(*slots), got_cmp);
	err = add_plt_x86(tab, elf, slots, nr, pool);
out:
	free(slots);
	return err;
}

int elf_symtab__add(struct elf_symtab *tab, Elf *elf, struct ember_strpool *pool)
{
	Elf_Scn *scn = NULL;
	int err;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		if (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM)
			continue;
		err = add_symbol_section(tab, elf, scn, &shdr, pool);
		if (err)
			return err;
	}
	return add_plt(tab, elf, pool);
}

static int sym_cmp(const void *a, const void *b)
{
	const struct elf_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	/* Names are interned: equal names are equal pointers. */
	return strcmp(x->name, y->name);
}

void elf_symtab__sort(struct elf_symtab *tab)
{
	size_t out = 0;

	if (tab->nr == 0)
		return;
	qsort(tab->syms, tab->nr, sizeof(*tab->syms), sym_cmp);
	/* .symtab repeats every .dynsym entry: drop exact duplicates. */
	for (size_t i = 0; i < tab->nr; i++) {
		if (out && tab->syms[out - 1].addr == tab->syms[i].addr &&
		    tab->syms[out - 1].name == tab->syms[i].name)
			continue;
		tab->syms[out++] = tab->syms[i];
	}
	tab->nr = out;
}

void elf_symtab__fini(struct elf_symtab *tab)
{
	free(tab->syms);
	memset(tab, 0, sizeof(*tab));
}

struct elf_sym *elf_symtab__find_padding(const struct elf_symtab *tab, uint64_t vaddr,
					 uint64_t max_gap)
{
	size_t lo = 0, hi = tab->nr;
	struct elf_sym *s;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tab->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* The nearest symbol at or below @vaddr; of equal-address aliases, the first. */
	s = &tab->syms[lo - 1];
	while (s > tab->syms && s[-1].addr == s->addr)
		s--;
	if (s->size == 0 || vaddr - s->addr < s->size || vaddr - (s->addr + s->size) >= max_gap)
		return NULL;
	/* Padding ends at the next 16-byte boundary, where code is aligned: past
	 * it lies whatever comes next, with or without a symbol (ld.so's _start). */
	if (vaddr >= ((s->addr + s->size + 15) & ~(uint64_t)15))
		return NULL;
	return s;
}

struct elf_sym *elf_symtab__find(const struct elf_symtab *tab, uint64_t vaddr)
{
	size_t lo = 0, hi = tab->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tab->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Walk back over smaller symbols that end before @vaddr: a sized symbol
	 * may enclose a later unsized or nested one. A few steps suffice. */
	for (size_t i = lo, steps = 0; i > 0 && steps < 8; i--, steps++) {
		struct elf_sym *s = &tab->syms[i - 1];
		size_t first = i - 1;

		while (first > 0 && tab->syms[first - 1].addr == s->addr)
			first--;
		s = &tab->syms[first];
		if (s->size == 0 || vaddr - s->addr < s->size) {
			/* An unsized symbol only counts when it is the nearest one. */
			if (s->size == 0 && i != lo)
				return NULL;
			return s;
		}
		i = first + 1;
	}
	return NULL;
}
