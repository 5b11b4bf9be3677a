// SPDX-License-Identifier: MIT
/*
 * Unit tests of the unwind table builder: rows of this very test binary are
 * sorted and cover main; lookups; the on-disk cache round-trips and rejects
 * truncated or foreign files; the first byte of .init (no CFI) is a function
 * entry, CFA = rsp + 8.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gelf.h>

#include "test.h"
#include "unwinder/unwinder.h"

static void test_self(const char *self, struct ember_unwind_table **out)
{
	const struct ember_unwind_row *r, *hit;
	struct ember_unwind_table *t;
	size_t i, n;
	int fd = open(self, O_RDONLY);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(unwind_table__build_fd(fd, &t), 0);
	close(fd);
	r = unwind_table__rows(t);
	n = unwind_table__nr_rows(t);
	ASSERT_GT(n, 10);
	for (i = 1; i < n; i++)
		ASSERT_LT(r[i - 1].pc, r[i].pc);
	ASSERT(unwind_table__lookup(t, 0) == NULL || r[0].pc == 0);
	hit = unwind_table__lookup(t, r[n / 2].pc + 0);
	ASSERT(hit == &r[n / 2]);
	ASSERT_GT(unwind_table__bytes(t), n * sizeof(*r) - 1);
	*out = t;
}

static void test_cache(struct ember_unwind_table *t)
{
	char dir[] = "/tmp/ember-unwind-XXXXXX", path[256], bad[256];
	struct ember_unwind_table *back;
	FILE *f;

	ASSERT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/t.unwind", dir);
	ASSERT_EQ(unwind_table__save(t, path), 0);
	ASSERT_EQ(unwind_table__load(path, &back), 0);
	ASSERT_EQ(unwind_table__nr_rows(back), unwind_table__nr_rows(t));
	ASSERT_EQ(memcmp(unwind_table__rows(back), unwind_table__rows(t),
			 unwind_table__nr_rows(t) * sizeof(struct ember_unwind_row)),
		  0);
	unwind_table__free(back);
	/* Truncated: rejected. */
	ASSERT_EQ(truncate(path, 30), 0);
	ASSERT_EQ(unwind_table__load(path, &back), -EINVAL);
	/* Not a cache file: rejected. */
	snprintf(bad, sizeof(bad), "%s/bad.unwind", dir);
	f = fopen(bad, "w");
	ASSERT(f != NULL);
	fputs("this is not an unwind table at all, not even close", f);
	fclose(f);
	ASSERT_EQ(unwind_table__load(bad, &back), -EINVAL);
	ASSERT_EQ(unwind_table__load("/nonexistent/x.unwind", &back), -ENOENT);
	unlink(path);
	unlink(bad);
	rmdir(dir);
}

/* Address of section @name of the ELF file @path, 0 when it has none. */
static uint64_t section_addr(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY);
	Elf *elf;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstr;
	uint64_t addr = 0;

	ASSERT_GE(fd, 0);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	ASSERT(elf != NULL);
	ASSERT_EQ(elf_getshdrstrndx(elf, &shstr), 0);
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && !strcmp(elf_strptr(elf, shstr, sh.sh_name), name))
			addr = sh.sh_addr;
	elf_end(elf);
	close(fd);
	return addr;
}

static void test_init_entry(const char *self, const struct ember_unwind_table *t)
{
	uint64_t init = section_addr(self, ".init");
	const struct ember_unwind_row *r;

	ASSERT_GT(init, 0);
	r = unwind_table__lookup(t, init);
	ASSERT(r != NULL);
	ASSERT_EQ(r->kind, EMBER_CFA_RSP);
	ASSERT_EQ(r->cfa_off, 8);
	r = unwind_table__lookup(t, init + 1);
	ASSERT(r != NULL);
	ASSERT_EQ(r->kind, EMBER_CFA_NONE); /* crti.o's _init has no CFI */
}

static void test_not_elf(void)
{
	struct ember_unwind_table *t;
	static const char text[] = "plain text";

	ASSERT_EQ(unwind_table__build_mem(text, sizeof(text), &t), -EINVAL);
	ASSERT_EQ(unwind_table__build_mem("", 0, &t), -EINVAL);
}

int main(int argc, char **argv)
{
	struct ember_unwind_table *t;

	(void)argc;
	test_self(argv[0], &t);
	test_init_entry(argv[0], t);
	test_cache(t);
	unwind_table__free(t);
	test_not_elf();
	return 0;
}
