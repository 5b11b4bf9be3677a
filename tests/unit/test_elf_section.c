// SPDX-License-Identifier: MIT
/*
 * Unit tests of support/'s ELF section finder on this test's own binary: a
 * section with contents, one without (SHT_NOBITS .bss, skipped only when asked),
 * and a name that is not there.
 */
#include <fcntl.h>
#include <unistd.h>

#include <gelf.h>

#include "support/support.h"
#include "test.h"

/* Zero-initialized, so the binary has a .bss even if the C runtime added none. */
static int zeroed[64];

int main(void)
{
	GElf_Shdr shdr;
	Elf_Scn *scn;
	Elf *elf;
	int fd;

	ASSERT(elf_version(EV_CURRENT) != EV_NONE);
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	ASSERT(elf);

	scn = ember_elf_find_section(elf, ".text", 0, &shdr);
	ASSERT(scn);
	ASSERT_EQ(shdr.sh_type, SHT_PROGBITS);
	ASSERT(shdr.sh_flags & SHF_EXECINSTR);
	ASSERT(ember_elf_find_section(elf, ".text", EMBER_ELF_SECTION_HAS_DATA, &shdr) == scn);

	scn = ember_elf_find_section(elf, ".bss", 0, &shdr);
	ASSERT(scn);
	ASSERT_EQ(shdr.sh_type, SHT_NOBITS);
	ASSERT(ember_elf_find_section(elf, ".bss", EMBER_ELF_SECTION_HAS_DATA, &shdr) == NULL);

	ASSERT(ember_elf_find_section(elf, ".no_such_section", 0, &shdr) == NULL);
	ASSERT(ember_elf_find_section(elf, ".tex", 0, &shdr) == NULL); /* no prefix match */

	elf_end(elf);
	close(fd);
	return zeroed[0];
}
