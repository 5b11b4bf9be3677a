// SPDX-License-Identifier: MIT
/*
 * Unit tests of the unwind table builder: rows of this very test binary are
 * sorted and cover main; lookups; the on-disk cache round-trips and rejects
 * truncated or foreign files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

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
	test_cache(t);
	unwind_table__free(t);
	test_not_elf();
	return 0;
}
