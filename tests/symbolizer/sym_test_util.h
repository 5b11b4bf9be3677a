/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the symbolizer tests: fixture paths, ELF symbol and segment
 * lookups done independently of the symbolizer (plain libelf), and a request
 * builder that places a file at a chosen load base the way the kernel maps it.
 */
#ifndef EMBER_SYM_TEST_UTIL_H
#define EMBER_SYM_TEST_UTIL_H

#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

#include "symbolizer/symbolizer.h"
#include "test.h"

/* Seconds on the monotonic clock, for the tests' deadlines. */
static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A missing tool: a skip, but a failure under CI=true, which installs it. */
static inline void missing_tool(const char *what)
{
	const char *ci = getenv("CI");

	if (ci && strcmp(ci, "true") == 0)
		TEST_FAIL("%s not installed (tools/scripts/install-deps.sh installs it)", what);
	SKIP("%s not installed", what);
}

/* Path of fixture @name in EMBER_FIXTURES (skips the test when unset or missing). */
static inline void fixture_path(const char *name, char *buf, size_t size)
{
	const char *dir = getenv("EMBER_FIXTURES");

	if (!dir)
		SKIP("EMBER_FIXTURES not set");
	snprintf(buf, size, "%s/%s", dir, name);
	if (access(buf, R_OK) != 0)
		SKIP("fixture %s not built", buf);
}

/* @path opened for reading with libelf; the caller ends @elf and closes *@fd. */
static inline Elf *elf_open_path(const char *path, int *fd)
{
	Elf *elf;

	elf_version(EV_CURRENT);
	*fd = open(path, O_RDONLY);
	ASSERT(*fd >= 0);
	elf = elf_begin(*fd, ELF_C_READ, NULL);
	ASSERT(elf != NULL);
	return elf;
}

/* Value of the symbol @name in @path's .symtab or .dynsym; 0 when absent. */
static inline uint64_t elf_symbol_value(const char *path, const char *name)
{
	uint64_t value = 0;
	Elf_Scn *scn = NULL;
	int fd;
	Elf *elf = elf_open_path(path, &fd);

	while (!value && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) ||
		    (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(data, (int)i, &sym))
				break;
			n = elf_strptr(elf, shdr.sh_link, sym.st_name);
			if (n && strcmp(n, name) == 0 && sym.st_value) {
				value = sym.st_value;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return value;
}

/*
 * Fills @req as if @path were mapped with load bias @bias (0 for ET_EXEC): the
 * executable PT_LOAD holding @vaddr mapped at a page-aligned start and offset.
 */
static inline void request_for(const char *path, uint64_t bias, uint64_t vaddr,
			       struct ember_symbolize_request *req)
{
	bool found = false;
	size_t phnum;
	int fd;
	Elf *elf = elf_open_path(path, &fd);

	memset(req, 0, sizeof(*req));
	ASSERT_EQ(elf_getphdrnum(elf, &phnum), 0);
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		ASSERT(gelf_getphdr(elf, (int)i, &ph) != NULL);
		if (ph.p_type != PT_LOAD || vaddr < ph.p_vaddr || vaddr >= ph.p_vaddr + ph.p_filesz)
			continue;
		req->map_start = bias + (ph.p_vaddr & ~(uint64_t)0xfff);
		req->map_offset = ph.p_offset & ~(uint64_t)0xfff;
		found = true;
		break;
	}
	ASSERT(found);
	elf_end(elf);
	close(fd);
	req->path = path;
	req->address = bias + vaddr;
}

/* Header of section @name of @path: false (and *@out zeroed) when it has none. */
static inline bool elf_section_header(const char *path, const char *name, GElf_Shdr *out)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool found = false;
	int fd;
	Elf *elf = elf_open_path(path, &fd);

	memset(out, 0, sizeof(*out));
	ASSERT(elf_getshdrstrndx(elf, &shstrndx) == 0);
	while (!found && (scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, out))
			continue;
		n = elf_strptr(elf, shstrndx, out->sh_name);
		found = n && strcmp(n, name) == 0;
	}
	if (!found)
		memset(out, 0, sizeof(*out));
	elf_end(elf);
	close(fd);
	return found;
}

/* Start and size (bytes) of @path's .text section. */
static inline void text_range(const char *path, uint64_t *start, uint64_t *size)
{
	GElf_Shdr sh;

	ASSERT(elf_section_header(path, ".text", &sh));
	*start = sh.sh_addr;
	*size = sh.sh_size;
	ASSERT_NE(*size, 0);
}

/*
 * Whether two frame lists say the same (function, file, line, flags);
 * placeholders are equal to placeholders, whatever module they name.
 */
static inline bool frames_equal(const struct ember_frame *a, uint32_t na,
				const struct ember_frame *b, uint32_t nb)
{
	if (na != nb)
		return false;
	for (uint32_t i = 0; i < na; i++) {
		/* Placeholders name the module, which differs between the copies. */
		if ((a[i].flags & EMBER_FRAME_UNKNOWN) && (b[i].flags & EMBER_FRAME_UNKNOWN))
			continue;
		if (strcmp(a[i].function, b[i].function) != 0 || a[i].flags != b[i].flags ||
		    a[i].line != b[i].line || !a[i].file != !b[i].file ||
		    (a[i].file && strcmp(a[i].file, b[i].file) != 0))
			return false;
	}
	return true;
}

/* Offset of symbol @name in this process's vDSO image (read by hand), or 0. */
static inline uint64_t vdso_symbol(const char *name)
{
	const Elf64_Ehdr *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Shdr *sh;

	if (!eh)
		return 0;
	sh = (const void *)((const char *)eh + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym = (const void *)((const char *)eh + sh[i].sh_offset);
		const char *str = (const char *)eh + sh[sh[i].sh_link].sh_offset;

		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		for (size_t j = 0; j < sh[i].sh_size / sizeof(*sym); j++)
			if (strcmp(str + sym[j].st_name, name) == 0)
				return sym[j].st_value;
	}
	return 0;
}

/* Value of counter @name of @s. */
static inline uint64_t sym_counter(const struct ember_symbolizer *s, const char *name)
{
	for (size_t i = 0; i < symbolizer__nr_counters(s); i++) {
		const char *n;
		uint64_t v;

		symbolizer__counter(s, i, &n, &v);
		if (strcmp(n, name) == 0)
			return v;
	}
	TEST_FAIL("no counter %s", name);
}

/* One case of a test program, run as `PROGRAM NAME`. */
struct sym_case {
	const char *name;
	void (*fn)(void);
};

/* Runs the case argv[1] names, or every case without one. Returns main's status. */
static inline int run_sym_cases(const struct sym_case *cases, size_t nr, int argc, char **argv)
{
	bool ran = false;

	for (size_t i = 0; i < nr; i++) {
		if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		cases[i].fn();
		ran = true;
	}
	if (!ran)
		TEST_FAIL("unknown case %s", argv[1]);
	return 0;
}

#endif /* EMBER_SYM_TEST_UTIL_H */
