// SPDX-License-Identifier: MIT
/*
 * ELF sections by name, through libelf: the one lookup the symbolizer (symbol
 * tables, PLT, debuglink) and the unwinder (.eh_frame_hdr, .eh_frame) share.
 */
#include <string.h>

#include <gelf.h>

#include "support.h"

Elf_Scn *ember_elf_find_section(Elf *elf, const char *name, unsigned int flags, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, shdr))
			continue;
		if ((flags & EMBER_ELF_SECTION_HAS_DATA) && shdr->sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(elf, shstrndx, shdr->sh_name);
		if (n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}
