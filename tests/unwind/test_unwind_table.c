// SPDX-License-Identifier: MIT
/*
 * Unit tests of the unwind table builder: rows of this very test binary are
 * sorted and cover main; lookups; the on-disk cache round-trips and rejects
 * truncated or foreign files; the cache directory stays under its bound,
 * dropping the least recently saved or loaded tables first; the first byte of
 * .init (no CFI) is a function entry, CFA = rsp + 8.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

static bool exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.unwind", dir, name);
	return access(path, F_OK) == 0;
}

/* Sets @name's access and modification times to @age_s seconds ago. */
static void age(const char *dir, const char *name, int age_s)
{
	struct timespec ts[2] = {{.tv_sec = time(NULL) - age_s}, {.tv_sec = time(NULL) - age_s}};
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.unwind", dir, name);
	ASSERT_EQ(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Sets @name's access time to now, leaving its modification time. */
static void touch_atime(const char *dir, const char *name)
{
	struct timespec ts[2] = {{.tv_nsec = UTIME_NOW}, {.tv_nsec = UTIME_OMIT}};
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.unwind", dir, name);
	ASSERT_EQ(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_disk_cache(struct ember_unwind_table *t)
{
	char dir[] = "/tmp/ember-unwind-XXXXXX", sub[256], cmd[300], first[300];
	struct unwind_disk_cache *c;
	struct ember_unwind_table *back;
	struct stat st;
	size_t file;

	ASSERT(mkdtemp(dir) != NULL);
	/* The directory is created, parents included. */
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	/* The size of one table's file, header included. */
	ASSERT_EQ(unwind_disk_cache__open(sub, 0, &c), 0);
	ASSERT_EQ(unwind_disk_cache__save(c, "aa01", t), 0);
	unwind_disk_cache__free(c);
	snprintf(first, sizeof(first), "%s/aa01.unwind", sub);
	ASSERT_EQ(stat(first, &st), 0);
	file = (size_t)st.st_size;
	/* Room for 3 tables and a half: a 4th save prunes to 3/4 of it (2 tables). */
	ASSERT_EQ(unwind_disk_cache__open(sub, file * 7 / 2, &c), 0);
	ASSERT_EQ(unwind_disk_cache__save(c, "aa02", t), 0);
	ASSERT_EQ(unwind_disk_cache__save(c, "aa03", t), 0);
	age(sub, "aa01", 300);
	age(sub, "aa02", 200);
	age(sub, "aa03", 100);
	ASSERT_EQ(unwind_disk_cache__load(c, "aa01", &back), 0);
	ASSERT_EQ(unwind_table__nr_rows(back), unwind_table__nr_rows(t));
	unwind_table__free(back);
	/* A recent access (which relatime records at a load like that one, the
	 * access time being older than the modification time; set here so that a
	 * noatime /tmp gives the same) makes aa01 the newest: aa02 and aa03 are
	 * the least recently used now. */
	touch_atime(sub, "aa01");
	ASSERT_EQ(unwind_disk_cache__save(c, "aa04", t), 0);
	ASSERT(exists(sub, "aa01"));
	ASSERT(!exists(sub, "aa02"));
	ASSERT(!exists(sub, "aa03"));
	ASSERT(exists(sub, "aa04"));
	ASSERT_EQ(unwind_disk_cache__load(c, "aa02", &back), -ENOENT);
	/* Names that are not lowercase hex never become paths. */
	ASSERT_EQ(unwind_disk_cache__save(c, "../x", t), -EINVAL);
	ASSERT_EQ(unwind_disk_cache__load(c, "AB", &back), -EINVAL);
	ASSERT_EQ(unwind_disk_cache__load(c, "", &back), -EINVAL);
	unwind_disk_cache__free(c);
	/* Over the bound already at open (a smaller bound than last time): pruned. */
	ASSERT_EQ(unwind_disk_cache__open(sub, file, &c), 0);
	ASSERT(!exists(sub, "aa04"));
	ASSERT(!exists(sub, "aa01"));
	unwind_disk_cache__free(c);
	/* A path that cannot be a directory. */
	ASSERT_EQ(unwind_disk_cache__open("/dev/null/x", 0, &c), -ENOTDIR);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ASSERT_EQ(system(cmd), 0);
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
	test_disk_cache(t);
	unwind_table__free(t);
	test_not_elf();
	return 0;
}
