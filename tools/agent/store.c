// SPDX-License-Identifier: MIT
/*
 * The agent's output directory: one file per window, named after the window's
 * start (UTC) so that name order is time order, written through a temporary
 * file and rename so readers never see a partial
 * profile; and retention, which removes the oldest windows until the directory
 * is under its byte budget and nothing is older than the age limit.
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

#include "agent.h"
#include "profile/profile.h"
#include "output/output.h"
#include "support/support.h"

#define PREFIX "ember-"

struct agent_store {
	char *dir;
	int dir_fd;
	uint64_t seq; /* windows written by this run */
};

struct window_file {
	char *name;
	uint64_t bytes;
	time_t mtime;
};

static int make_dirs(const char *dir)
{
	char *copy = strdup(dir), *p;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0750) && errno != EEXIST) {
			err = -errno;
			goto out;
		}
		*p = '/';
	}
	if (mkdir(copy, 0750) && errno != EEXIST)
		err = -errno;
out:
	free(copy);
	return err;
}

int agent_store__new(const char *dir, struct agent_store **out)
{
	struct agent_store *s = calloc(1, sizeof(*s));
	char probe[64];
	int err, fd;

	if (!s)
		return -ENOMEM;
	s->dir_fd = -1;
	s->dir = strdup(dir);
	if (!s->dir) {
		err = -ENOMEM;
		goto fail;
	}
	err = make_dirs(dir);
	if (err) {
		fprintf(stderr, "ember: cannot create output directory %s: %s\n", dir,
			strerror(-err));
		goto fail;
	}
	s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		err = -errno;
		fprintf(stderr, "ember: cannot open output directory %s: %s\n", dir,
			strerror(-err));
		goto fail;
	}
	/* Root passes access(W_OK) on a read-only mount; only creating a file proves it. */
	snprintf(probe, sizeof(probe), ".ember-probe.%d", (int)getpid());
	fd = openat(s->dir_fd, probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "ember: output directory %s is not writable: %s\n", dir,
			strerror(-err));
		goto fail;
	}
	close(fd);
	unlinkat(s->dir_fd, probe, 0);
	*out = s;
	return 0;
fail:
	agent_store__free(s);
	return err;
}

void agent_store__free(struct agent_store *s)
{
	if (!s)
		return;
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->dir);
	free(s);
}

/* Encodes @p in @format into a malloc'd buffer: the size must be known before retention. */
static int encode(const struct ember_profile *p, enum agent_format format, char **out, size_t *len)
{
	char *raw = NULL;
	size_t raw_len = 0;
	FILE *f;
	int err;

	*out = NULL;
	*len = 0;
	if (format == AGENT_FORMAT_PPROF) {
		f = open_memstream(out, len);
		if (!f)
			return -ENOMEM;
		err = pprof__write(p, f);
		if (fclose(f) && !err)
			err = -ENOMEM;
		return err;
	}
	f = open_memstream(&raw, &raw_len);
	if (!f)
		return -ENOMEM;
	err = folded__write(p, NULL, f);
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (!err) {
		f = open_memstream(out, len);
		if (!f) {
			err = -ENOMEM;
		} else {
			err = compress__write(EMBER_COMPRESSION_ZSTD, raw, raw_len, f);
			if (fclose(f) && !err)
				err = -ENOMEM;
		}
	}
	free(raw);
	return err;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int agent_store__write(struct agent_store *s, const struct ember_profile *p,
		       enum agent_format format, uint64_t max_bytes, double max_age_s,
		       uint64_t *bytes_kept, char *path_out, size_t path_size)
{
	time_t start = (time_t)(profile__start_ns(p) / 1000000000ull);
	char stamp[32], name[96], tmp[128], *buf = NULL;
	uint64_t need;
	size_t len = 0;
	struct tm tm;
	int err, fd = -1;

	gmtime_r(&start, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	s->seq++;
	snprintf(name, sizeof(name), PREFIX "%s-%06llu.%s", stamp, (unsigned long long)s->seq,
		 format == AGENT_FORMAT_PPROF ? "pb.gz" : "folded.zst");
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", name, (int)getpid());
	err = encode(p, format, &buf, &len);
	if (err) {
		pr_err("cannot encode window %s: %s", name, strerror(-err));
		goto out;
	}
	/* Disk usage of the new file, in whole 4 KiB blocks. */
	need = ((uint64_t)len + 4095) & ~4095ull;
	if (max_bytes && need > max_bytes) {
		err = -EFBIG;
		pr_err("window %s (%zu bytes) is larger than retention-bytes (%llu); not written",
		       name, len, (unsigned long long)max_bytes);
		goto out;
	}
	/* Make room first, so the directory never holds more than the budget. */
	err = agent_store__retain(s, max_bytes ? max_bytes - need : 0, max_age_s, bytes_kept);
	if (err < 0)
		goto out;
	fd = openat(s->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	err = write_all(fd, buf, len);
	if (!err && close(fd))
		err = -errno;
	fd = -1;
	if (!err && renameat(s->dir_fd, tmp, s->dir_fd, name))
		err = -errno;
	if (err)
		goto fail;
	if (bytes_kept)
		*bytes_kept += need;
	if (path_out)
		snprintf(path_out, path_size, "%s/%s", s->dir, name);
	err = 0;
	goto out;
fail:
	pr_err("cannot write window %s/%s: %s", s->dir, name, strerror(-err));
	if (fd >= 0)
		close(fd);
	unlinkat(s->dir_fd, tmp, 0);
out:
	free(buf);
	return err;
}

static bool is_window_name(const char *n)
{
	size_t len = strlen(n);

	if (strncmp(n, PREFIX, strlen(PREFIX)) != 0 || strstr(n, ".tmp."))
		return false;
	return (len > 6 && strcmp(n + len - 6, ".pb.gz") == 0) ||
	       (len > 11 && strcmp(n + len - 11, ".folded.zst") == 0);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct window_file *)a)->name, ((const struct window_file *)b)->name);
}

int agent_store__retain(struct agent_store *s, uint64_t max_bytes, double max_age_s,
			uint64_t *bytes_kept)
{
	struct window_file *files = NULL;
	size_t nr = 0, cap = 0, i;
	uint64_t total = 0;
	time_t now = time(NULL);
	struct dirent *de;
	int removed = 0, err = 0, fd;
	DIR *d;

	fd = dup(s->dir_fd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		struct stat st;

		if (strncmp(de->d_name, PREFIX, strlen(PREFIX)) != 0)
			continue;
		if (fstatat(s->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;
		if (strstr(de->d_name, ".tmp.")) {
			/* Left by a write that was killed; this thread writes nothing now. */
			if (unlinkat(s->dir_fd, de->d_name, 0) == 0)
				removed++;
			continue;
		}
		if (!is_window_name(de->d_name))
			continue;
		if (ember_grow((void **)&files, &cap, nr + 1, sizeof(*files))) {
			err = -ENOMEM;
			goto out;
		}
		files[nr].name = strdup(de->d_name);
		if (!files[nr].name) {
			err = -ENOMEM;
			goto out;
		}
		/* Budget what the files occupy on disk, rounded to blocks, not just their length. */
		files[nr].bytes = (uint64_t)st.st_blocks * 512 > (uint64_t)st.st_size
				      ? (uint64_t)st.st_blocks * 512
				      : (uint64_t)st.st_size;
		files[nr].mtime = st.st_mtime;
		total += files[nr].bytes;
		nr++;
	}
	if (nr > 1) /* files is NULL in an empty directory */
		qsort(files, nr, sizeof(*files), cmp_name);
	for (i = 0; i < nr; i++) {
		bool too_old = max_age_s > 0 && difftime(now, files[i].mtime) > max_age_s;
		bool too_big = max_bytes && total > max_bytes;

		if (!too_old && !too_big)
			break;
		if (unlinkat(s->dir_fd, files[i].name, 0) && errno != ENOENT) {
			pr_warn("retention: cannot remove %s/%s: %s", s->dir, files[i].name,
				strerror(errno));
			continue;
		}
		pr_debug("retention: removed %s/%s (%s)", s->dir, files[i].name,
			 too_big ? "over the byte budget" : "too old");
		total -= files[i].bytes;
		removed++;
	}
	if (bytes_kept)
		*bytes_kept = total;
out:
	for (i = 0; i < nr; i++)
		free(files[i].name);
	free(files);
	closedir(d);
	return err ? err : removed;
}
