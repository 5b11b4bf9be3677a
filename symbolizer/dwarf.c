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

struct dw_file {
	Dwfl *dwfl;
	Dwfl_Module *mod;
	char *path;			   /* for messages and debuglink lookups */
	const struct elf_info *info;	   /* owned by the cache's file */
	const struct debuginfo_opts *opts; /* owned by the cache */
	Elf *debug_elf;			   /* separate debug file, or NULL */
	char *joined;			   /* scratch: comp_dir + "/" + name */
	size_t joined_cap;
	struct ember_strpool *names; /* joined paths, stable while @dw lives */
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
	if (dw->dwfl)
		dwfl_end(dw->dwfl);
	ember_strpool__free(dw->names);
	free(dw->joined);
	free(dw->path);
	free(dw);
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

static bool is_function(int tag)
{
	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

int dw_file__lookup(struct dw_file *dw, uint64_t vaddr, struct dw_frame *frames, uint32_t max,
		    uint32_t *nr, bool *has_line)
{
	Dwarf_Die *scopes = NULL, *chain = NULL, *cudie, cu;
	Dwarf_Files *files = NULL;
	const char *src, *comp_dir;
	Dwarf_Addr bias = 0, a = vaddr;
	Dwfl_Line *line;
	int nscopes, nchain, lineno = 0, col = 0, err = 0;
	uint32_t n = 0;

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
	if (!cudie)
		goto out;
	nscopes = dwarf_getscopes(cudie, vaddr - bias, &scopes);
	if (nscopes <= 0)
		goto out;
	/* dwarf_getscopes stops at the innermost inline's abstract origin; the
	 * concrete chain of callers comes from the scopes of that DIE. */
	nchain = dwarf_getscopes_die(&scopes[0], &chain);
	if (nchain <= 0)
		goto out;
	if (!dwarf_diecu(&chain[0], &cu, NULL, NULL))
		goto out;
	comp_dir = cu_comp_dir(&cu);
	if (dwarf_getsrcfiles(cudie, &files, NULL) != 0)
		files = NULL;

	for (int i = 0; i < nchain && n < max; i++) {
		int tag = dwarf_tag(&chain[i]);

		if (!is_function(tag))
			continue;
		/* frames[n] was cleared and given its call site by the previous,
		 * inlined, frame (or is frames[0], holding the line table's answer). */
		frames[n].name = die_name(&chain[i]);
		n++;
		if (tag != DW_TAG_inlined_subroutine)
			break;
		frames[n - 1].is_inline = true;
		/* The caller's line is this inline's call site. */
		if (n < max) {
			Dwarf_Attribute attr;
			Dwarf_Word val;

			memset(&frames[n], 0, sizeof(frames[n]));
			if (files && dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_file, &attr),
						     &val) == 0) {
				const char *f = dwarf_filesrc(files, val, NULL, NULL);

				frames[n].file = f ? full_path(dw, f, comp_dir) : NULL;
			}
			if (dwarf_formudata(dwarf_attr(&chain[i], DW_AT_call_line, &attr), &val) ==
			    0)
				frames[n].line = (uint32_t)val;
		}
	}
	/* An inline chain cut by @max ends with an inline frame: callers lost. */
	if (n == max && n > 0 && frames[n - 1].is_inline)
		err = -E2BIG;
out:
	free(scopes);
	free(chain);
	*nr = n;
	return err;
}
