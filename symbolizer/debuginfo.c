// SPDX-License-Identifier: MIT
/*
 * Separate debug-info discovery, in the order gdb and elfutils use:
 *   1. by build-id: ROOT/.build-id/xx/rest.debug, for ROOT in the --debug-dir
 *      options (in their order) and /usr/lib/debug;
 *   2. by .gnu_debuglink: next to the binary, in its .debug/ directory, and
 *      under ROOT/<binary's directory>/ (checked by CRC32 when the binary has
 *      no build-id to compare);
 *   3. debuginfod (elfutils' libdebuginfod) by build-id, when DEBUGINFOD_URLS
 *      is set.
 * For mappings whose file is not on this host (debuginfo__find_executable), the
 * binary itself may be ROOT/.build-id/xx/rest (the build-id tree's other
 * half, often a symlink) or come from debuginfod.
 * libdwfl validates what we return against the binary's build-id.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/debuginfod.h>
#include <zlib.h>

#include "internal.h"

#define SYSTEM_DEBUG_ROOT "/usr/lib/debug"

static int open_regular(const char *path, const struct stat *self)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (self && st.st_dev == self->st_dev && st.st_ino == self->st_ino)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

static int by_build_id(const char *root, const char *build_id, char **found)
{
	char path[PATH_MAX];
	int fd;

	if (!root || strlen(build_id) < 4)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", root, build_id, build_id + 2);
	fd = open_regular(path, NULL);
	if (fd >= 0) {
		*found = strdup(path);
		if (!*found) {
			close(fd);
			return -ENOMEM;
		}
	}
	return fd;
}

/* CRC32 (zlib's polynomial, as .gnu_debuglink uses) of the file at @fd. */
static int file_crc(int fd, uint32_t *crc)
{
	unsigned char buf[64 * 1024];
	uLong c = crc32(0, NULL, 0);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		c = crc32(c, buf, (uInt)n);
		off += n;
	}
	if (n < 0)
		return -errno;
	*crc = (uint32_t)c;
	return 0;
}

static int try_link(const char *path, const struct stat *self, bool check_crc, uint32_t crc,
		    char **found)
{
	uint32_t have = 0;
	int fd;

	fd = open_regular(path, self);
	if (fd < 0)
		return fd;
	if (check_crc && (file_crc(fd, &have) != 0 || have != crc)) {
		pr_debug("symbolizer: %s: debuglink CRC mismatch", path);
		close(fd);
		return -ENOENT;
	}
	*found = strdup(path);
	if (!*found) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

static int by_debuglink(const struct debuginfo_opts *opts, const char *path, const char *link,
			bool check_crc, uint32_t crc, char **found)
{
	char dir[PATH_MAX], cand[PATH_MAX * 2 + 32];
	const char *host_dir;
	struct stat self, *selfp = NULL;
	char *slash;
	int fd;

	if (strchr(link, '/'))
		return -ENOENT; /* a debuglink is a file name, never a path */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		*slash = '\0';
	if (stat(path, &self) == 0)
		selfp = &self;

	snprintf(cand, sizeof(cand), "%s/%s", dir, link);
	fd = try_link(cand, selfp, check_crc, crc, found);
	if (fd >= 0 || fd == -ENOMEM)
		return fd;
	snprintf(cand, sizeof(cand), "%s/.debug/%s", dir, link);
	fd = try_link(cand, selfp, check_crc, crc, found);
	if (fd >= 0 || fd == -ENOMEM)
		return fd;

	/* Under a debug root the binary's directory is the host view of it:
	 * drop a "/proc/PID/root" prefix the cache may have opened it through. */
	host_dir = dir;
	if (strncmp(dir, "/proc/", 6) == 0) {
		const char *r = strstr(dir + 6, "/root/");

		if (r)
			host_dir = r + 5;
	}
	for (size_t i = 0; i <= opts->nr_debug_dirs; i++) {
		const char *root =
		    i < opts->nr_debug_dirs ? opts->debug_dirs[i] : SYSTEM_DEBUG_ROOT;

		snprintf(cand, sizeof(cand), "%s%s/%s", root, host_dir, link);
		fd = try_link(cand, selfp, check_crc, crc, found);
		if (fd >= 0 || fd == -ENOMEM)
			return fd;
	}
	/* A --debug-dir may also be a flat directory of debug files. */
	for (size_t i = 0; i < opts->nr_debug_dirs; i++) {
		snprintf(cand, sizeof(cand), "%s/%s", opts->debug_dirs[i], link);
		fd = try_link(cand, selfp, check_crc, crc, found);
		if (fd >= 0 || fd == -ENOMEM)
			return fd;
	}
	return -ENOENT;
}

static int by_debuginfod(const char *build_id, char **found)
{
	debuginfod_client *client;
	char *path = NULL;
	int fd;

	client = debuginfod_begin();
	if (!client)
		return -ENOMEM;
	/* Length 0: the id is given as a hex string. */
	fd = debuginfod_find_debuginfo(client, (const unsigned char *)build_id, 0, &path);
	debuginfod_end(client);
	if (fd < 0) {
		pr_debug("symbolizer: debuginfod: build-id %s: %s", build_id, strerror(-fd));
		free(path);
		return fd;
	}
	*found = path;
	return fd;
}

int debuginfo__find(const struct debuginfo_opts *opts, const char *path, const char *build_id,
		    const char *link, uint32_t crc, char **found)
{
	int fd = -ENOENT;

	*found = NULL;
	if (build_id && build_id[0]) {
		for (size_t i = 0; i < opts->nr_debug_dirs && fd < 0 && fd != -ENOMEM; i++)
			fd = by_build_id(opts->debug_dirs[i], build_id, found);
		if (fd < 0 && fd != -ENOMEM)
			fd = by_build_id(SYSTEM_DEBUG_ROOT, build_id, found);
	}
	if (fd < 0 && fd != -ENOMEM && link && link[0])
		fd = by_debuglink(opts, path, link, !(build_id && build_id[0]), crc, found);
	if (fd < 0 && fd != -ENOMEM && opts->use_debuginfod && build_id && build_id[0])
		fd = by_debuginfod(build_id, found);
	if (fd >= 0)
		pr_debug("symbolizer: %s: debug info from %s", path, *found);
	return fd;
}

int debuginfo__find_executable(const struct debuginfo_opts *opts, const char *build_id,
			       char **found)
{
	debuginfod_client *client;
	char *path = NULL;
	int fd;

	*found = NULL;
	if (!build_id || strlen(build_id) < 4)
		return -ENOENT;
	/* ROOT/.build-id/xx/rest (no .debug): the binary itself, by the same convention. */
	for (size_t i = 0; i <= opts->nr_debug_dirs; i++) {
		const char *root =
		    i < opts->nr_debug_dirs ? opts->debug_dirs[i] : SYSTEM_DEBUG_ROOT;
		char cand[PATH_MAX];

		snprintf(cand, sizeof(cand), "%s/.build-id/%.2s/%s", root, build_id, build_id + 2);
		fd = open_regular(cand, NULL);
		if (fd >= 0) {
			close(fd);
			*found = strdup(cand);
			return *found ? 0 : -ENOMEM;
		}
	}
	if (!opts->use_debuginfod)
		return -ENOENT;
	client = debuginfod_begin();
	if (!client)
		return -ENOMEM;
	fd = debuginfod_find_executable(client, (const unsigned char *)build_id, 0, &path);
	debuginfod_end(client);
	if (fd < 0) {
		pr_debug("symbolizer: debuginfod: executable %s: %s", build_id, strerror(-fd));
		free(path);
		return fd;
	}
	close(fd); /* opened again by path, like every other candidate */
	*found = path;
	return 0;
}
