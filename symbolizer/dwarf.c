// SPDX-License-Identifier: MIT
/*
 * DWARF lookups through libdwfl/libdw: for an ELF virtual address, the inline
 * chain (innermost first) with each function's name, the leaf's own file:line
 * from the line table, and for every outer frame the call site of the frame it
 * inlined (DW_AT_call_file / DW_AT_call_line). libdwfl finds the CU by address
 * even when .debug_aranges is missing (clang omits it) and reads DWARF 4 and 5,
 * split into a separate debug file or not; the separate file is located by
 * debuginfo.c through the find_debuginfo callback.
 *
 * The rules follow eu-addr2line -i -f, so ember's answers can be checked
 * against it: function names prefer the linkage name, relative file names are
 * joined to the CU's DW_AT_comp_dir.
 */
#include <dwarf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <elfutils/libdw.h>

#include "internal.h"

/*
 * Memory libdw (Dwarf_Line, about 40 bytes) and libdwfl (its own line
 * record) hold per line-table row, rounded up (bytes): for the budget.
 */
#define LINE_ROW_BYTES 64

/* One PC range of a CU, for find_cu(). */
struct cu_range {
	uint64_t lo, hi;
	Dwarf_Off cu; /* offset of the CU DIE */
};

/* A CU whose function scopes are indexed (dwarf_index.c). */
struct dw_cu {
	Dwarf_Off offset; /* of the CU DIE */
	struct dw_cu_index *ix;
	Dwarf_Files *files; /* for DW_AT_call_file; NULL if unreadable */
	const char *comp_dir;
};

struct dw_file {
	Dwfl *dwfl;
	Dwfl_Module *mod;
	char *path;			   /* for messages and debuglink lookups */
	const struct elf_info *info;	   /* owned by the cache's file */
	const struct debuginfo_opts *opts; /* owned by the cache */
	Elf *debug_elf;			   /* separate debug file, or NULL */
	Dwarf *dwarf;			   /* owned by @dwfl */
	struct dw_cu *cus;		   /* indexed CUs */
	size_t nr_cus, cap_cus;
	struct ember_index *cu_index; /* CU DIE offset -> cus[] */
	struct cu_range *cu_ranges;   /* own CU address map, see find_cu() */
	size_t nr_cu_ranges, cap_cu_ranges;
	int cu_ranges_state; /* 0 unbuilt, 1 built, -errno failed */
	char *joined;	     /* scratch: comp_dir + "/" + name */
	size_t joined_cap;
	struct ember_strpool *names; /* joined paths, stable while @dw lives */
	size_t index_bytes;	     /* of every CU index built (bytes) */
	size_t section_bytes;	     /* .debug_* sections of the file DWARF came from */
};

static int find_debuginfo_cb(Dwfl_Module *mod, void **userdata, const char *modname,
			     Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			     GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	struct dw_file *dw = *userdata;
	const char *link;
	int fd;

	(void)mod;
	(void)modname;
	(void)base;
	(void)file_name;
	if (!dw)
		return -1;
	link = debuglink_file ? debuglink_file : dw->info->debuglink;
	fd = debuginfo__find(dw->opts, dw->path, dw->info->build_id, link,
			     debuglink_file ? debuglink_crc : dw->info->debuglink_crc,
			     debuginfo_file_name);
	return fd >= 0 ? fd : -1;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo_cb,
    .section_address = dwfl_offline_section_address,
};

int dw_file__open(int fd, const char *path, const struct elf_info *info,
		  const struct debuginfo_opts *opts, struct dw_file **out)
{
	struct dw_file *dw = NULL;
	Dwarf_Addr bias;
	Dwarf *dwarf;
	void **ud;
	int dfd = -1, err;

	*out = NULL;
	dw = calloc(1, sizeof(*dw));
	if (!dw) {
		err = -ENOMEM;
		goto out;
	}
	dw->info = info;
	dw->opts = opts;
	dw->path = strdup(path);
	if (!dw->path) {
		err = -ENOMEM;
		goto out;
	}
	err = ember_strpool__new(&dw->names);
	if (err)
		goto out;
	dw->dwfl = dwfl_begin(&callbacks);
	if (!dw->dwfl) {
		err = -ENOMEM;
		goto out;
	}
	/* libdwfl consumes the descriptor; the cache keeps its own. */
	dfd = dup(fd);
	if (dfd < 0) {
		err = -errno;
		goto out;
	}
	/* Base 0 relative to p_vaddr: module addresses are the file's own
	 * virtual addresses (bias 0), for PIE, ET_EXEC and prelinked libraries. */
	dw->mod = dwfl_report_elf(dw->dwfl, path, path, dfd, 0, true);
	if (!dw->mod) {
		pr_debug("symbolizer: %s: dwfl_report_elf: %s", path, dwfl_errmsg(-1));
		close(dfd);
		err = -EIO;
		goto out;
	}
	dwfl_report_end(dw->dwfl, NULL, NULL);
	if (dwfl_module_info(dw->mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL))
		*ud = dw;
	dwarf = dwfl_module_getdwarf(dw->mod, &bias);
	if (!dwarf) {
		pr_debug("symbolizer: %s (build-id %s): no DWARF: %s", path,
			 info->build_id[0] ? info->build_id : "none", dwfl_errmsg(-1));
		err = -ENOENT;
		goto out;
	}
	{
		Dwarf_Addr ebias;
		Elf *main_elf = dwfl_module_getelf(dw->mod, &ebias);
		Elf *delf = dwarf_getelf(dwarf);

		dw->debug_elf = delf != main_elf ? delf : NULL;
	}
	dw->dwarf = dwarf;
	dw->section_bytes = elf__section_bytes(dwarf_getelf(dwarf), ".debug_");
	err = ember_index__new(&dw->cu_index);
	if (err)
		goto out;
	*out = dw;
	dw = NULL;
out:
	dw_file__free(dw);
	return err;
}

void dw_file__free(struct dw_file *dw)
{
	if (!dw)
		return;
	for (size_t i = 0; i < dw->nr_cus; i++)
		dw_cu_index__free(dw->cus[i].ix);
	free(dw->cus);
	free(dw->cu_ranges);
	ember_index__free(dw->cu_index);
	if (dw->dwfl)
		dwfl_end(dw->dwfl);
	ember_strpool__free(dw->names);
	free(dw->joined);
	free(dw->path);
	free(dw);
}

size_t dw_file__bytes(const struct dw_file *dw)
{
	return sizeof(*dw) + dw->cap_cus * sizeof(*dw->cus) +
	       dw->cap_cu_ranges * sizeof(*dw->cu_ranges) + dw->index_bytes + dw->joined_cap +
	       ember_strpool__bytes(dw->names) + dw->section_bytes;
}

Elf *dw_file__debug_elf(struct dw_file *dw)
{
	return dw->debug_elf;
}

/* eu-addr2line's choice of name: the linkage name when there is one. */
static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr)
				    ?: dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	if (!name)
		name = dwarf_diename(die);
	return name ? name : "??";
}

/* @name as a path, joined to @comp_dir when relative; NULL on -ENOMEM. */
static const char *full_path(struct dw_file *dw, const char *name, const char *comp_dir)
{
	size_t a, b;

	if (name[0] == '/' || !comp_dir || !comp_dir[0])
		return name;
	a = strlen(comp_dir);
	b = strlen(name);
	if (ember_grow((void **)&dw->joined, &dw->joined_cap, a + b + 2, 1))
		return NULL;
	memcpy(dw->joined, comp_dir, a);
	dw->joined[a] = '/';
	memcpy(dw->joined + a + 1, name, b + 1);
	return ember_strpool__intern(dw->names, dw->joined);
}

static const char *cu_comp_dir(Dwarf_Die *cu)
{
	Dwarf_Attribute attr;

	return dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr));
}

struct cu_key {
	const struct dw_file *dw;
	Dwarf_Off offset;
};

static bool cu_eq(const void *ctx, uint32_t index)
{
	const struct cu_key *k = ctx;

	return k->dw->cus[index].offset == k->offset;
}

/* The index of @cudie's CU, built on first use; NULL on failure. */
static struct dw_cu *get_cu(struct dw_file *dw, Dwarf_Die *cudie)
{
	struct cu_key key = {dw, dwarf_dieoffset(cudie)};
	uint64_t h = ember_hash_u64(0xc0, key.offset);
	struct dw_cu *cu;
	int64_t idx;

	idx = ember_index__find(dw->cu_index, h, cu_eq, &key);
	if (idx >= 0)
		return &dw->cus[idx];
	if (ember_grow((void **)&dw->cus, &dw->cap_cus, dw->nr_cus + 1, sizeof(*dw->cus)))
		return NULL;
	cu = &dw->cus[dw->nr_cus];
	memset(cu, 0, sizeof(*cu));
	cu->offset = key.offset;
	if (dw_cu_index__build(cudie, &cu->ix))
		return NULL;
	if (dwarf_getsrcfiles(cudie, &cu->files, NULL) != 0)
		cu->files = NULL;
	{
		Dwarf_Lines *lines;
		size_t nr_lines;

		/* libdw and libdwfl keep the CU's line table as long as @dw lives
		 * (lookups read it anyway): count it, per row. */
		if (dwarf_getsrclines(cudie, &lines, &nr_lines) == 0)
			dw->index_bytes += nr_lines * LINE_ROW_BYTES;
	}
	cu->comp_dir = cu_comp_dir(cudie);
	if (ember_index__insert(dw->cu_index, h, (uint32_t)dw->nr_cus)) {
		dw_cu_index__free(cu->ix);
		return NULL;
	}
	dw->index_bytes += dw_cu_index__bytes(cu->ix);
	dw->nr_cus++;
	return cu;
}

/* Fills in the name and call site of @sc from its DIE, once. */
static void resolve_scope(struct dw_file *dw, struct dw_cu *cu, struct dw_scope *sc)
{
	Dwarf_Attribute attr;
	Dwarf_Word val;
	Dwarf_Die die;

	if (sc->resolved)
		return;
	sc->resolved = true;
	if (!dwarf_offdie(dw->dwarf, sc->die, &die)) {
		sc->name = "??";
		return;
	}
	sc->name = die_name(&die);
	{
		int decl = 0;

		/* Follows DW_AT_abstract_origin / DW_AT_specification to the declaration. */
		if (dwarf_decl_line(&die, &decl) == 0 && decl > 0)
			sc->decl_line = (uint32_t)decl;
	}
	if (!sc->is_inline)
		return;
	if (cu->files && dwarf_formudata(dwarf_attr(&die, DW_AT_call_file, &attr), &val) == 0) {
		const char *f = dwarf_filesrc(cu->files, val, NULL, NULL);

		sc->call_file = f ? full_path(dw, f, cu->comp_dir) : NULL;
	}
	if (dwarf_formudata(dwarf_attr(&die, DW_AT_call_line, &attr), &val) == 0)
		sc->call_line = (uint32_t)val;
}

static int cu_range_cmp(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int build_cu_ranges(struct dw_file *dw)
{
	Dwarf_CU *unit = NULL;
	Dwarf_Die cudie;
	uint8_t type;

	while (dwarf_get_units(dw->dwarf, unit, &unit, NULL, &type, &cudie, NULL) == 0) {
		Dwarf_Addr base, start, end;
		ptrdiff_t off = 0;

		if (type != DW_UT_compile && type != DW_UT_partial && type != DW_UT_skeleton)
			continue;
		while ((off = dwarf_ranges(&cudie, off, &base, &start, &end)) > 0) {
			if (end <= start)
				continue;
			if (ember_grow((void **)&dw->cu_ranges, &dw->cap_cu_ranges,
				       dw->nr_cu_ranges + 1, sizeof(*dw->cu_ranges)))
				return -ENOMEM;
			dw->cu_ranges[dw->nr_cu_ranges++] =
			    (struct cu_range){start, end, dwarf_dieoffset(&cudie)};
		}
	}
	if (dw->nr_cu_ranges)
		qsort(dw->cu_ranges, dw->nr_cu_ranges, sizeof(*dw->cu_ranges), cu_range_cmp);
	return 0;
}

/*
 * The CU covering @vaddr from the CUs' own ranges. libdw trusts .debug_aranges
 * whenever the section exists, and a binary mixing objects that have it (gcc,
 * libiberty.a) with objects that do not (clang) then hides the latter's CUs.
 */
static Dwarf_Die *find_cu(struct dw_file *dw, uint64_t vaddr, Dwarf_Die *mem)
{
	size_t lo = 0, hi;

	if (dw->cu_ranges_state == 0)
		dw->cu_ranges_state = build_cu_ranges(dw) ? -ENOMEM : 1;
	if (dw->cu_ranges_state < 0)
		return NULL;
	hi = dw->nr_cu_ranges;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dw->cu_ranges[mid].lo <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ranges of different CUs do not nest: look back a few for a cover. */
	for (size_t i = lo, k = 0; i > 0 && k < 4; i--, k++) {
		const struct cu_range *r = &dw->cu_ranges[i - 1];

		if (vaddr < r->hi)
			return dwarf_offdie(dw->dwarf, r->cu, mem);
	}
	return NULL;
}

int dw_file__lookup(struct dw_file *dw, uint64_t vaddr, struct dw_frame *frames, uint32_t max,
		    uint32_t *nr, bool *has_line)
{
	Dwarf_Addr bias = 0, a = vaddr;
	struct dw_scope *sc;
	Dwarf_Die *cudie, cu_mem;
	struct dw_cu *cu;
	Dwfl_Line *line;
	const char *src;
	int lineno = 0, col = 0, err = 0;
	uint32_t n = 0;
	int32_t i;

	*nr = 0;
	*has_line = false;
	if (max == 0)
		return 0;
	memset(&frames[0], 0, sizeof(frames[0]));

	line = dwfl_module_getsrc(dw->mod, vaddr);
	if (line && (src = dwfl_lineinfo(line, &a, &lineno, &col, NULL, NULL))) {
		Dwarf_Die *lcu = dwfl_linecu(line);

		frames[0].file = full_path(dw, src, lcu ? cu_comp_dir(lcu) : NULL);
		frames[0].line = lineno > 0 ? (uint32_t)lineno : 0;
		*has_line = frames[0].file != NULL;
	}

	cudie = dwfl_module_addrdie(dw->mod, vaddr, &bias);
	if (!cudie) {
		cudie = find_cu(dw, vaddr, &cu_mem);
		bias = 0;
		if (!cudie)
			goto out;
		if (!*has_line) {
			Dwarf_Line *l = dwarf_getsrc_die(cudie, vaddr);

			src = l ? dwarf_linesrc(l, NULL, NULL) : NULL;
			if (src && dwarf_lineno(l, &lineno) == 0) {
				frames[0].file = full_path(dw, src, cu_comp_dir(cudie));
				frames[0].line = lineno > 0 ? (uint32_t)lineno : 0;
				*has_line = frames[0].file != NULL;
			}
		}
	}
	cu = get_cu(dw, cudie);
	if (!cu) {
		err = -ENOMEM;
		goto out;
	}
	/* Innermost first; each inline's call site is its caller's line. */
	for (i = dw_cu_index__find(cu->ix, vaddr - bias); i >= 0 && n < max; i = sc->parent) {
		sc = dw_cu_index__scope(cu->ix, i);
		if (!sc)
			break;
		resolve_scope(dw, cu, sc);
		/* frames[n] already holds its file:line (line table or call site). */
		frames[n].name = sc->name;
		frames[n].decl_line = sc->decl_line;
		frames[n].is_inline = sc->is_inline;
		n++;
		if (!sc->is_inline)
			break;
		if (n < max) {
			memset(&frames[n], 0, sizeof(frames[n]));
			frames[n].file = sc->call_file;
			frames[n].line = sc->call_line;
		}
	}
	/* An inline chain cut by @max ends with an inline frame: callers lost. */
	if (n == max && frames[n - 1].is_inline)
		err = -E2BIG;
out:
	*nr = n;
	return err;
}
