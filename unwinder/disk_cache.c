// SPDX-License-Identifier: MIT
/*
 * The on-disk cache of unwind tables: one file per build-id in a directory,
 * kept under a byte bound. record and the agent share it, so a table built once
 * on a host is loaded (a read of its rows) rather than parsed from .eh_frame
 * again by the next recording, the agent's next start or its next sampler.
 *
 * The bound matters for the agent: it runs for months on hosts that may build
 * and run new binaries all day, each with a build-id of its own. Files are
 * dropped least recently used first: by access time, which a load refreshes
 * (under relatime, the default, once a day: precise enough for a cache that
 * turns over in days, and free, where touching the file at each load cost a
 * system call per table), or by modification time on a noatime mount.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support/support.h"
#include "unwinder.h"

#define SUFFIX ".unwind"
/* Longest build-id accepted as a file name, in hex digits (SHA-1 is 40). */
#define MAX_BUILD_ID_HEX 128
/* A temporary file this old was left by a writer that died (seconds). */
#define STALE_TMP_S 3600

struct unwind_disk_cache {
	char *dir;
	uint64_t max_bytes;	    /* 0: no bound */
	uint64_t saved_since_prune; /* bytes written since the last prune */
};

struct cache_file {
	char *name;
	uint64_t bytes;
	struct timespec used; /* last access (or modification, if later) */
};

/* mkdir -p; 0 when @dir exists as a directory afterwards. */
static int mkdir_p(const char *dir)
{
	size_t i, n = strlen(dir);
	char *path;
	int err = 0;

	if (n == 0)
		return -EINVAL;
	path = strdup(dir);
	if (!path)
		return -ENOMEM;
	for (i = 1; i <= n && !err; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			err = -errno;
		path[i] = dir[i];
	}
	free(path);
	return err;
}

static bool is_hex(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_BUILD_ID_HEX)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* DIR/BUILD_ID.unwind in a new string; NULL for a build-id that is not hex. */
static char *file_path(const struct unwind_disk_cache *c, const char *build_id)
{
	char *path;

	if (!is_hex(build_id))
		return NULL;
	if (asprintf(&path, "%s/%s" SUFFIX, c->dir, build_id) < 0)
		return NULL;
	return path;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_time(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	if (a.tv_nsec != b.tv_nsec)
		return a.tv_nsec < b.tv_nsec ? -1 : 1;
	return 0;
}

static struct timespec newer(struct timespec a, struct timespec b)
{
	return cmp_time(a, b) >= 0 ? a : b;
}

static int cmp_oldest_first(const void *a, const void *b)
{
	const struct cache_file *x = a, *y = b;
	int c = cmp_time(x->used, y->used);

	return c ? c : strcmp(x->name, y->name);
}

int unwind_disk_cache__prune(struct unwind_disk_cache *c)
{
	struct cache_file *files = NULL;
	size_t nr = 0, cap = 0, i;
	uint64_t total = 0;
	struct dirent *de;
	int dfd, err = 0;
	DIR *d;

	c->saved_since_prune = 0;
	if (!c->max_bytes)
		return 0;
	d = opendir(c->dir);
	if (!d)
		return -errno;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		bool tmp = strstr(de->d_name, SUFFIX ".tmp.") != NULL;
		struct stat st;

		if ((!tmp && !ends_with(de->d_name, SUFFIX)) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (tmp) {
			if (time(NULL) - st.st_mtime > STALE_TMP_S)
				unlinkat(dfd, de->d_name, 0);
			continue;
		}
		err = ember_grow((void **)&files, &cap, nr + 1, sizeof(*files));
		if (!err && !(files[nr].name = strdup(de->d_name)))
			err = -ENOMEM;
		if (err)
			goto out;
		files[nr].bytes = (uint64_t)st.st_size;
		files[nr].used = newer(st.st_atim, st.st_mtim);
		total += files[nr].bytes;
		nr++;
	}
	if (total <= c->max_bytes)
		goto out;
	/* Down to 3/4 of the bound, so that the next prune is some saves away. */
	qsort(files, nr, sizeof(*files), cmp_oldest_first);
	for (i = 0; i < nr && total > c->max_bytes / 4 * 3; i++) {
		if (unlinkat(dfd, files[i].name, 0) == 0 || errno == ENOENT)
			total -= files[i].bytes;
	}
out:
	for (i = 0; i < nr; i++)
		free(files[i].name);
	free(files);
	closedir(d);
	return err;
}

int unwind_disk_cache__open(const char *dir, uint64_t max_bytes, struct unwind_disk_cache **out)
{
	struct unwind_disk_cache *c;
	int err;

	err = mkdir_p(dir);
	if (err)
		return err;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->dir = strdup(dir))) {
		free(c);
		return -ENOMEM;
	}
	c->max_bytes = max_bytes;
	err = unwind_disk_cache__prune(c);
	if (err == -ENOMEM) {
		unwind_disk_cache__free(c);
		return err;
	}
	*out = c;
	return 0;
}

void unwind_disk_cache__free(struct unwind_disk_cache *c)
{
	if (!c)
		return;
	free(c->dir);
	free(c);
}

int unwind_disk_cache__load(struct unwind_disk_cache *c, const char *build_id,
			    struct ember_unwind_table **out)
{
	char *path = file_path(c, build_id);
	int err;

	if (!path)
		return is_hex(build_id) ? -ENOMEM : -EINVAL;
	err = unwind_table__load(path, out);
	free(path);
	return err;
}

int unwind_disk_cache__save(struct unwind_disk_cache *c, const char *build_id,
			    const struct ember_unwind_table *t)
{
	char *path = file_path(c, build_id);
	int err;

	if (!path)
		return is_hex(build_id) ? -ENOMEM : -EINVAL;
	err = unwind_table__save(t, path);
	free(path);
	if (err)
		return err;
	c->saved_since_prune += unwind_table__nr_rows(t) * sizeof(struct ember_unwind_row);
	/* A directory scan per 1/16 of the bound written, not one per save. */
	if (c->max_bytes && c->saved_since_prune > c->max_bytes / 16)
		return unwind_disk_cache__prune(c);
	return 0;
}
