// SPDX-License-Identifier: MIT
/*
 * Unit tests of support/'s /proc/PID/maps reader: the line parser on the kernel's
 * shapes (file, anonymous, pseudo-path, spaces, deleted) and on garbage, the
 * iterator on a file with a line longer than any fixed buffer, and lookups in
 * this process's own maps.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "support/support.h"
#include "test.h"

/* Parses a copy of @text (the parser ends the line at its newline). */
static int parse(const char *text, struct ember_proc_map *m, char *buf, size_t size)
{
	snprintf(buf, size, "%s", text);
	return ember_proc_maps_parse_line(buf, m);
}

static void test_parse_shapes(void)
{
	struct ember_proc_map m;
	char buf[512];

	ASSERT_EQ(parse("55d0c0a00000-55d0c0a21000 r-xp 00002000 fd:01 1835041                    "
			"/usr/bin/cat\n",
			&m, buf, sizeof(buf)),
		  0);
	ASSERT_EQ(m.start, 0x55d0c0a00000);
	ASSERT_EQ(m.end, 0x55d0c0a21000);
	ASSERT_EQ(m.offset, 0x2000);
	ASSERT_EQ(m.inode, 1835041);
	ASSERT_STR_EQ(m.perms, "r-xp");
	ASSERT_STR_EQ(m.dev, "fd:01");
	ASSERT_STR_EQ(m.path, "/usr/bin/cat");

	/* Anonymous: no padding, no path. */
	ASSERT_EQ(parse("7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n", &m, buf, sizeof(buf)),
		  0);
	ASSERT_EQ(m.inode, 0);
	ASSERT_STR_EQ(m.path, "");
	/* Anonymous with trailing padding, and without a newline at all. */
	ASSERT_EQ(
	    parse("7f0000000000-7f0000001000 rw-p 00000000 00:00 0   \n", &m, buf, sizeof(buf)), 0);
	ASSERT_STR_EQ(m.path, "");
	ASSERT_EQ(parse("7f0000000000-7f0000001000 rw-p 00000000 00:00 0", &m, buf, sizeof(buf)),
		  0);
	ASSERT_STR_EQ(m.path, "");

	ASSERT_EQ(parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  "
			"[vsyscall]\n",
			&m, buf, sizeof(buf)),
		  0);
	ASSERT_EQ(m.start, 0xffffffffff600000);
	ASSERT_STR_EQ(m.path, "[vsyscall]");
	ASSERT_EQ(
	    parse("7ffd1a5f3000-7ffd1a5f5000 r-xp 00000000 00:00 0 [vdso]\n", &m, buf, sizeof(buf)),
	    0);
	ASSERT_STR_EQ(m.path, "[vdso]");

	/* Spaces inside the path, and the kernel's suffix for an unlinked file, kept verbatim. */
	ASSERT_EQ(
	    parse("00400000-00401000 r-xp 00000000 08:02 42   /tmp/a dir/my prog  (deleted)\n", &m,
		  buf, sizeof(buf)),
	    0);
	ASSERT_STR_EQ(m.path, "/tmp/a dir/my prog  (deleted)");
	ASSERT_STR_EQ(m.dev, "08:02");
	ASSERT_EQ(parse("7f1c00000000-7f1c00001000 r-xs 00000000 00:01 1025 /memfd:jit (deleted)\n",
			&m, buf, sizeof(buf)),
		  0);
	ASSERT_STR_EQ(m.perms, "r-xs");
	ASSERT_STR_EQ(m.path, "/memfd:jit (deleted)");
	/* Devices with major numbers above 0xff print wider. */
	ASSERT_EQ(parse("00400000-00401000 r--p 00000000 103:02 7 /x\n", &m, buf, sizeof(buf)), 0);
	ASSERT_STR_EQ(m.dev, "103:02");
}

static void test_parse_garbage(void)
{
	static const char *const bad[] = {
	    "",
	    "\n",
	    "garbage\n",
	    "00400000 r-xp 00000000 08:02 42 /x\n",		   /* no end */
	    "00400000- r-xp 00000000 08:02 42 /x\n",		   /* empty end */
	    "00400000-00401000\n",				   /* fields missing */
	    "00400000-00401000 r-xp 00000000 08:02\n",		   /* no inode */
	    "00400000-00401000 r-x 00000000 08:02 42 /x\n",	   /* short perms */
	    "00400000-00401000 r-xpp 00000000 08:02 42 /x\n",	   /* long perms */
	    "00400000-00401000 r-xp zz 08:02 42 /x\n",		   /* offset not hex */
	    "00400000-00401000 r-xp 00000000 0802 42 /x\n",	   /* device without ':' */
	    "00400000-00401000 r-xp 00000000 08:02 4x2 /x\n",	   /* inode runs into text */
	    "00400000-00401000 r-xp 00000000 08:02 -1 /x\n",	   /* negative inode */
	    "00400000-00401000r-xp 00000000 08:02 42 /x\n",	   /* no space */
	    "10000000000000000-1 r-xp 00000000 08:02 42 /x\n",	   /* start over 64 bits */
	    "0-1 r-xp 0 08:02 99999999999999999999 /x\n",	   /* inode over 64 bits */
	    "0-1 r-xp 0 1111111111111111:1111111111111111 1 /x\n", /* device over 15 characters */
	};
	struct ember_proc_map m;
	char buf[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &m, buf, sizeof(buf)) != -EINVAL)
			TEST_FAIL("accepted garbage line %zu: \"%s\"", i, bad[i]);
	}
	/* The largest values still fit. */
	ASSERT_EQ(parse("ffffffffffffffff-ffffffffffffffff r-xp ffffffffffffffff 0:0 "
			"18446744073709551615 /x\n",
			&m, buf, sizeof(buf)),
		  0);
	ASSERT_EQ(m.end, UINT64_MAX);
	ASSERT_EQ(m.inode == UINT64_MAX, 1);
}

/* A file of maps lines: good ones, garbage between them, one path of 100,000 bytes. */
static void test_iterator(void)
{
	char tmpl[] = "/tmp/ember-test-maps-XXXXXX";
	size_t long_len = 100000; /* bytes: far past PATH_MAX and any fixed line buffer */
	char *long_path = malloc(long_len + 1);
	struct ember_proc_maps *maps;
	struct ember_proc_map m;
	FILE *f;
	int fd;

	ASSERT(long_path);
	long_path[0] = '/';
	memset(long_path + 1, 'p', long_len - 1);
	long_path[long_len] = '\0';
	fd = mkstemp(tmpl);
	ASSERT_GE(fd, 0);
	f = fdopen(fd, "w");
	ASSERT(f);
	fprintf(f, "00400000-00401000 r-xp 00000000 08:02 42 /bin/first\n");
	fprintf(f, "this is not a mapping\n\n");
	fprintf(f, "00500000-00501000 r-xp 00001000 08:02 43 %s\n", long_path);
	fprintf(f, "00600000-00601000 rw-p 00000000 00:00 0\n");
	fprintf(f, "0060"); /* a cut-off last line */
	fclose(f);

	ASSERT_EQ(ember_proc_maps__open_path(tmpl, &maps), 0);
	ASSERT_EQ(ember_proc_maps__next(maps, &m), 0);
	ASSERT_STR_EQ(m.path, "/bin/first");
	ASSERT_EQ(ember_proc_maps__next(maps, &m), 0);
	ASSERT_EQ(m.start, 0x500000);
	ASSERT_EQ(m.offset, 0x1000);
	ASSERT_EQ(strlen(m.path), long_len);
	ASSERT(strcmp(m.path, long_path) == 0);
	ASSERT_EQ(ember_proc_maps__next(maps, &m), 0);
	ASSERT_EQ(m.start, 0x600000);
	ASSERT_STR_EQ(m.path, "");
	ASSERT_EQ(ember_proc_maps__next(maps, &m), -ENOENT);
	ASSERT_EQ(ember_proc_maps__next(maps, &m), -ENOENT);
	ember_proc_maps__free(maps);
	ember_proc_maps__free(NULL);
	unlink(tmpl);
	free(long_path);
	ASSERT_EQ(ember_proc_maps__open_path(tmpl, &maps), -ENOENT);
}

/* This process's own maps: its code is in an executable mapping of its own binary. */
static void test_self(void)
{
	uint64_t addr = (uint64_t)(uintptr_t)&test_self;
	char exe[4096], path[4096], small[8];
	struct ember_proc_maps *maps;
	struct ember_proc_map m;
	bool seen = false;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_GT(n, 0);
	exe[n] = '\0';
	ASSERT_EQ(ember_proc_maps_find((uint32_t)getpid(), addr, &m, path, sizeof(path)), 0);
	ASSERT(m.start <= addr && addr < m.end);
	ASSERT(m.path == path);
	ASSERT_STR_EQ(path, exe);
	ASSERT(strchr(m.perms, 'x'));
	ASSERT_GT(m.inode, 0);
	/* A short buffer gets the start of the path; none at all, none. */
	ASSERT_EQ(ember_proc_maps_find((uint32_t)getpid(), addr, &m, small, sizeof(small)), 0);
	ASSERT_EQ(strncmp(small, exe, sizeof(small) - 1), 0);
	ASSERT_EQ(strlen(small), sizeof(small) - 1);
	ASSERT_EQ(ember_proc_maps_find((uint32_t)getpid(), addr, &m, NULL, 0), 0);
	ASSERT(m.path == NULL);
	ASSERT_EQ(ember_proc_maps_find((uint32_t)getpid(), 0, &m, path, sizeof(path)), -ENOENT);

	ASSERT_EQ(ember_proc_maps__open((uint32_t)getpid(), &maps), 0);
	while (ember_proc_maps__next(maps, &m) == 0)
		seen |= strcmp(m.path, "[stack]") == 0;
	ember_proc_maps__free(maps);
	ASSERT(seen);
	/* PID 0 has no /proc entry. */
	ASSERT_EQ(ember_proc_maps__open(0, &maps), -ENOENT);
}

int main(void)
{
	test_parse_shapes();
	test_parse_garbage();
	test_iterator();
	test_self();
	return 0;
}
