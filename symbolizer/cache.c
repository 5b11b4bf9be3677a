// SPDX-License-Identifier: MIT
/*
 * The file cache: every ELF file a profile touches is opened once, found again
 * by build-id (when known) or by device and inode, whichever process maps it and
 * under whatever path. A binding table remembers, per (pid, path, build-id) as
 * the sampler reported it, which file that was, or why it could not be opened,
 * so the hot path never touches /proc twice for the same mapping.
 *
 * Memory stays bounded two ways: at most max_open files keep their descriptor,
 * Elf handle and DWARF state; the least recently used is closed when another
 * opens, keeping only its segment list and symbol table. And every file's
 * bytes are accounted (sym_cache__account), so that the symbolizer can drop
 * whole files, least recently used first, to stay within a memory budget
 * (sym_cache__trim); a dropped file is reloaded when asked for again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Descriptors kept for files that cannot be reopened (see file_park). */
#define MAX_PARKED 512

struct binding {
	uint32_t pid;
	char *path;		/* as reported (malloc'd) */
	char *build_id;		/* as reported, or NULL (malloc'd) */
	int32_t file;		/* index in files[], or -1 */
	enum sym_reason reason; /* when file < 0 */
	int err;		/* when file < 0 */
};

struct sym_cache {
	struct sym_cache_opts opts;
	struct sym_file **files;
	size_t nr_files, cap_files;
	struct ember_index *by_build_id; /* -> files[] */
	struct ember_index *by_inode;	 /* -> files[] */
	struct binding *bindings;
	size_t nr_bindings, cap_bindings;
	struct ember_index *by_binding; /* -> bindings[] */
	size_t nr_open;			/* files with descriptor, Elf and DWARF */
	size_t nr_parked;		/* files holding only their descriptor */
	uint64_t clock;
	int32_t vdso;		/* index in files[], -1 untried, -2 failed */
	size_t file_bytes;	/* sum of every file's @bytes */
	size_t binding_bytes;	/* bindings' paths and build-ids (bytes) */
	uint64_t evictions;	/* files dropped */
	size_t dwarf_limit;	/* largest DWARF state kept for one file (bytes); 0: any */
	uint64_t dwarf_refused; /* files whose DWARF was over dwarf_limit */
};

/* ---- keys --------------------------------------------------------------- */

struct binding_key {
	const struct sym_cache *c;
	uint32_t pid;
	const char *path;
	const char *build_id;
};

static uint64_t binding_hash(uint32_t pid, const char *path, const char *build_id)
{
	uint64_t h = ember_hash_bytes(path, strlen(path), pid);

	if (build_id)
		h = ember_hash_u64(h, ember_hash_bytes(build_id, strlen(build_id), 1));
	return h;
}

static bool binding_eq(const void *ctx, uint32_t index)
{
	const struct binding_key *k = ctx;
	const struct binding *b = &k->c->bindings[index];

	if (b->pid != k->pid || strcmp(b->path, k->path) != 0)
		return false;
	if (!b->build_id || !k->build_id)
		return !b->build_id && !k->build_id;
	return strcmp(b->build_id, k->build_id) == 0;
}

struct build_id_key {
	const struct sym_cache *c;
	const char *build_id;
};

static bool build_id_eq(const void *ctx, uint32_t index)
{
	const struct build_id_key *k = ctx;

	return strcmp(k->c->files[index]->info.build_id, k->build_id) == 0;
}

struct inode_key {
	const struct sym_cache *c;
	dev_t dev;
	ino_t ino;
};

static bool inode_eq(const void *ctx, uint32_t index)
{
	const struct inode_key *k = ctx;
	const struct sym_file *f = k->c->files[index];

	return f->dev == k->dev && f->ino == k->ino;
}

static uint64_t inode_hash(dev_t dev, ino_t ino)
{
	return ember_hash_u64(ember_hash_u64(0x1ee7, (uint64_t)dev), (uint64_t)ino);
}

static int32_t find_by_build_id(const struct sym_cache *c, const char *build_id)
{
	struct build_id_key k = {c, build_id};

	return (int32_t)ember_index__find(
	    c->by_build_id, ember_hash_bytes(build_id, strlen(build_id), 2), build_id_eq, &k);
}

static int32_t find_by_inode(const struct sym_cache *c, dev_t dev, ino_t ino)
{
	struct inode_key k = {c, dev, ino};

	return (int32_t)ember_index__find(c->by_inode, inode_hash(dev, ino), inode_eq, &k);
}

/* ---- accounting --------------------------------------------------------- */

/* What @f holds now: tables, names, the symbol sections mapped, DWARF. */
static size_t file_bytes(const struct sym_file *f)
{
	size_t bytes = sizeof(*f) + strlen(f->path) + 1 + f->info.nr_segs * sizeof(*f->info.segs) +
		       f->image_size;

	if (f->info.debuglink)
		bytes += strlen(f->info.debuglink) + 1;
	if (f->dropped)
		return bytes;
	bytes += f->syms.cap * sizeof(*f->syms.syms);
	if (f->pool)
		bytes += ember_strpool__bytes(f->pool);
	if (f->elf && !f->image)
		bytes += f->elf_bytes;
	if (f->dw)
		bytes += dw_file__bytes(f->dw);
	return bytes;
}

void sym_cache__account(struct sym_cache *c, struct sym_file *f)
{
	c->file_bytes -= f->bytes;
	f->bytes = file_bytes(f);
	c->file_bytes += f->bytes;
}

static size_t binding_size(const struct binding *b)
{
	return strlen(b->path) + 1 + (b->build_id ? strlen(b->build_id) + 1 : 0);
}

/* ---- life cycle --------------------------------------------------------- */

int sym_cache__new(const struct sym_cache_opts *opts, struct sym_cache **out)
{
	struct sym_cache *c;
	int err;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	if (c->opts.max_open == 0)
		c->opts.max_open = 1;
	c->vdso = -1;
	err = ember_index__new(&c->by_build_id);
	if (!err)
		err = ember_index__new(&c->by_inode);
	if (!err)
		err = ember_index__new(&c->by_binding);
	if (err)
		goto out;
	*out = c;
	c = NULL;
out:
	sym_cache__free(c);
	return err;
}

static void file_close(struct sym_cache *c, struct sym_file *f)
{
	dw_file__free(f->dw);
	f->dw = NULL;
	if (f->dw_state == 1)
		f->dw_state = 0; /* reopened on demand */
	if (f->elf) {
		elf_end(f->elf);
		f->elf = NULL;
	}
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
		if (f->parked)
			c->nr_parked--;
		else
			c->nr_open--;
		f->parked = false;
	}
	sym_cache__account(c, f);
}

/*
 * A file opened through /proc/PID/root or /proc/PID/map_files cannot be opened
 * again once the process exits: when it leaves the open set it keeps its
 * descriptor (parked, Elf and DWARF freed), up to MAX_PARKED files.
 */
static bool reopenable(const struct sym_file *f)
{
	return strncmp(f->path, "/proc/", 6) != 0;
}

static void file_park(struct sym_cache *c, struct sym_file *f)
{
	dw_file__free(f->dw);
	f->dw = NULL;
	if (f->dw_state == 1)
		f->dw_state = 0;
	if (f->elf) {
		elf_end(f->elf);
		f->elf = NULL;
	}
	f->parked = true;
	c->nr_open--;
	c->nr_parked++;
	sym_cache__account(c, f);
}

static void file_free(struct sym_cache *c, struct sym_file *f)
{
	if (!f)
		return;
	file_close(c, f);
	elf_info__fini(&f->info);
	elf_symtab__fini(&f->syms);
	ember_strpool__free(f->pool);
	free(f->image);
	free(f->path);
	free(f);
}

void sym_cache__free(struct sym_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nr_files; i++)
		file_free(c, c->files[i]);
	for (size_t i = 0; i < c->nr_bindings; i++) {
		free(c->bindings[i].path);
		free(c->bindings[i].build_id);
	}
	free(c->files);
	free(c->bindings);
	ember_index__free(c->by_build_id);
	ember_index__free(c->by_inode);
	ember_index__free(c->by_binding);
	free(c);
}

/* Closes least recently used files until fewer than max_open stay open. */
static void evict(struct sym_cache *c, const struct sym_file *keep)
{
	while (c->nr_open >= c->opts.max_open) {
		struct sym_file *lru = NULL;

		for (size_t i = 0; i < c->nr_files; i++) {
			struct sym_file *f = c->files[i];

			if (f->fd < 0 || f->parked || f == keep)
				continue;
			if (!lru || f->last_use < lru->last_use)
				lru = f;
		}
		if (!lru)
			return;
		pr_debug("symbolizer: closing %s (cache holds %zu open files)", lru->path,
			 c->opts.max_open);
		if (!reopenable(lru) && c->nr_parked < MAX_PARKED)
			file_park(c, lru);
		else
			file_close(c, lru);
	}
}

/* ---- dropping and reloading --------------------------------------------- */

/*
 * Releases all of @f but its identity: descriptor and mapping (a file reached
 * only through /proc/PID keeps its descriptor, parked, so it can be reloaded),
 * DWARF, symbol table and names.
 */
static void file_drop(struct sym_cache *c, struct sym_file *f)
{
	pr_debug("symbolizer: dropping %s (%zu bytes)", f->path, f->bytes);
	if (f->fd >= 0 && !f->parked) {
		if (!reopenable(f) && c->nr_parked < MAX_PARKED)
			file_park(c, f);
		else
			file_close(c, f);
	}
	elf_symtab__fini(&f->syms);
	ember_strpool__free(f->pool);
	f->pool = NULL;
	f->debug_syms = false;
	f->dropped = true;
	f->gen++;
	c->evictions++;
	sym_cache__account(c, f);
}

/*
 * Reads dropped @f's symbol table again: from @fd (consumed) when it is >= 0,
 * else from the descriptor @f kept, else from its path (the same inode only).
 * 0 or a negative errno; a file that cannot be read again stays dropped.
 */
static int file_reload(struct sym_cache *c, struct sym_file *f, int fd)
{
	Elf *elf = NULL;
	int err;

	if (f->reload_err) {
		err = f->reload_err;
		goto out;
	}
	if (f->fd < 0 && fd < 0) {
		struct stat st;

		fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0 || st.st_dev != f->dev || st.st_ino != f->ino) {
			err = -ENOENT;
			f->reload_err = err;
			goto out;
		}
	}
	evict(c, f);
	if (f->parked) {
		f->parked = false;
		c->nr_parked--;
		c->nr_open++;
	} else if (f->fd < 0) {
		f->fd = fd;
		fd = -1;
		c->nr_open++;
	}
	elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		err = -EIO;
		goto out;
	}
	err = ember_strpool__new(&f->pool);
	if (!err)
		err = elf_symtab__add(&f->syms, elf, f->pool);
	if (err) {
		elf_symtab__fini(&f->syms);
		ember_strpool__free(f->pool);
		f->pool = NULL;
		goto out;
	}
	elf_symtab__sort(&f->syms);
	f->elf = elf;
	elf = NULL;
	f->dropped = false;
	sym_cache__account(c, f);
out:
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	return err;
}

size_t sym_cache__trim(struct sym_cache *c, size_t budget, size_t extra,
		       const struct sym_file *keep, uint64_t recent)
{
	size_t dropped = 0;

	while (sym_cache__bytes(c) + extra > budget) {
		struct sym_file *lru = NULL;

		for (size_t i = 0; i < c->nr_files; i++) {
			struct sym_file *f = c->files[i];

			/* The vDSO is one small image every process shares; the
			 * files of the last @recent lookups are the caller's to keep. */
			if (f == keep || f->dropped || f->image || c->clock - f->last_use < recent)
				continue;
			if (!lru || f->last_use < lru->last_use)
				lru = f;
		}
		if (!lru)
			break;
		file_drop(c, lru);
		dropped++;
	}
	return dropped;
}

uint64_t sym_cache__evictions(const struct sym_cache *c)
{
	return c->evictions;
}

void sym_cache__set_dwarf_limit(struct sym_cache *c, size_t bytes)
{
	c->dwarf_limit = bytes;
}

uint64_t sym_cache__dwarf_refused(const struct sym_cache *c)
{
	return c->dwarf_refused;
}

size_t sym_cache__forget_pid(struct sym_cache *c, uint32_t pid)
{
	size_t kept = 0, gone;

	for (size_t i = 0; i < c->nr_bindings; i++) {
		struct binding *b = &c->bindings[i];

		if (b->pid != pid) {
			c->bindings[kept++] = *b;
			continue;
		}
		c->binding_bytes -= binding_size(b);
		free(b->path);
		free(b->build_id);
	}
	gone = c->nr_bindings - kept;
	if (!gone)
		return 0;
	c->nr_bindings = kept;
	/* Indexes moved: rebuild. A binding that fails to go back in is only
	 * looked up afresh, and bound again, next time. */
	ember_index__clear(c->by_binding);
	for (size_t i = 0; i < kept; i++) {
		const struct binding *b = &c->bindings[i];

		if (ember_index__insert(c->by_binding, binding_hash(b->pid, b->path, b->build_id),
					(uint32_t)i))
			break;
	}
	return gone;
}

/* ---- opening ------------------------------------------------------------ */

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Turns an open ELF image into a cached file. Consumes @fd and @elf. */
static int add_file(struct sym_cache *c, const char *path, const char *module, int fd, Elf *elf,
		    const struct stat *st, struct sym_file **out, enum sym_reason *reason)
{
	struct sym_file *f = NULL;
	int err;

	f = calloc(1, sizeof(*f));
	if (!f) {
		err = -ENOMEM;
		goto out;
	}
	f->fd = -1;
	f->path = strdup(path);
	f->module = ember_strpool__intern(c->opts.pool, base_name(module));
	if (!f->path || !f->module) {
		err = -ENOMEM;
		goto out;
	}
	err = elf_info__read(elf, &f->info);
	if (err) {
		*reason = err == -EINVAL ? SYM_R_NOT_ELF : SYM_R_BAD_ELF;
		goto out;
	}
	err = ember_strpool__new(&f->pool);
	if (!err)
		err = elf_symtab__add(&f->syms, elf, f->pool);
	if (err)
		goto out;
	f->elf_bytes = elf__section_bytes(elf, NULL);
	elf_symtab__sort(&f->syms);
	err = ember_grow((void **)&c->files, &c->cap_files, c->nr_files + 1, sizeof(*c->files));
	if (err)
		goto out;
	f->id = (uint32_t)c->nr_files;
	if (st) {
		f->dev = st->st_dev;
		f->ino = st->st_ino;
	}
	f->fd = fd;
	f->elf = elf;
	fd = -1;
	elf = NULL;
	if (f->fd >= 0)
		c->nr_open++;
	f->last_use = ++c->clock;
	c->files[c->nr_files++] = f;
	sym_cache__account(c, f);
	*out = f;
	f = NULL;
	/* From here the file belongs to the cache; a failed insert only loses
	 * sharing, but still reports -ENOMEM. */
	if (st)
		err = ember_index__insert(c->by_inode, inode_hash((*out)->dev, (*out)->ino),
					  (*out)->id);
	if (!err && (*out)->info.build_id[0])
		err = ember_index__insert(
		    c->by_build_id,
		    ember_hash_bytes((*out)->info.build_id, strlen((*out)->info.build_id), 2),
		    (*out)->id);
out:
	if (f) {
		free(f->path);
		elf_info__fini(&f->info);
		elf_symtab__fini(&f->syms);
		ember_strpool__free(f->pool);
		free(f);
	}
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * Fills @buf with the /proc/PID/map_files entry of the mapping that starts at
 * @map_start, found in /proc/PID/maps. 0 or -ENOENT.
 */
static int map_files_path(uint32_t pid, uint64_t map_start, char *buf, size_t size)
{
	struct ember_proc_map m;
	int err;

	err = ember_proc_maps_find(pid, map_start, &m, NULL, 0);
	if (err)
		return err;
	if (m.start != map_start)
		return -ENOENT;
	snprintf(buf, size, "/proc/%" PRIu32 "/map_files/%" PRIx64 "-%" PRIx64, pid, m.start,
		 m.end);
	return 0;
}

/*
 * Tries one candidate path. Returns 0 with *@out set, a negative errno with
 * *@reason, or 1 when the file opened but is not the one sampled (build-id).
 */
static int try_open(struct sym_cache *c, const char *cand, const char *module, const char *build_id,
		    struct sym_file **out, enum sym_reason *reason)
{
	struct stat st;
	int32_t idx;
	Elf *elf;
	int fd, err;

	fd = open(cand, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		*reason = SYM_R_OPEN_FAILED;
		return err;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		*reason = SYM_R_OPEN_FAILED;
		close(fd);
		return err;
	}
	idx = find_by_inode(c, st.st_dev, st.st_ino);
	if (idx >= 0) {
		struct sym_file *f = c->files[idx];

		if (build_id && f->info.build_id[0] && strcmp(build_id, f->info.build_id) != 0) {
			close(fd);
			*reason = SYM_R_BUILD_ID_MISMATCH;
			return 1;
		}
		if (f->dropped) {
			/* The same file, reachable again through this path. */
			f->reload_err = 0;
			err = file_reload(c, f, fd);
			if (err) {
				*reason = SYM_R_BAD_ELF;
				return err;
			}
		} else {
			close(fd);
		}
		*out = f;
		return 0;
	}
	evict(c, NULL);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		*reason = SYM_R_BAD_ELF;
		close(fd);
		return -EIO;
	}
	err = add_file(c, cand, module, fd, elf, &st, out, reason);
	if (err)
		return err;
	if (build_id && (*out)->info.build_id[0] && strcmp(build_id, (*out)->info.build_id) != 0) {
		/* Kept in the cache (it is a real file), but not for this mapping. */
		*reason = SYM_R_BUILD_ID_MISMATCH;
		return 1;
	}
	return 0;
}

static int new_binding(struct sym_cache *c, uint32_t pid, const char *path, const char *build_id,
		       int32_t file, enum sym_reason reason, int ferr)
{
	struct binding *b;
	int err;

	err = ember_grow((void **)&c->bindings, &c->cap_bindings, c->nr_bindings + 1,
			 sizeof(*c->bindings));
	if (err)
		return err;
	b = &c->bindings[c->nr_bindings];
	memset(b, 0, sizeof(*b));
	b->pid = pid;
	b->path = strdup(path);
	b->build_id = build_id ? strdup(build_id) : NULL;
	if (!b->path || (build_id && !b->build_id)) {
		free(b->path);
		free(b->build_id);
		return -ENOMEM;
	}
	b->file = file;
	b->reason = reason;
	b->err = ferr;
	err = ember_index__insert(c->by_binding, binding_hash(pid, path, build_id),
				  (uint32_t)c->nr_bindings);
	if (err) {
		free(b->path);
		free(b->build_id);
		return err;
	}
	c->binding_bytes += binding_size(b);
	c->nr_bindings++;
	return 0;
}

int sym_cache__get(struct sym_cache *c, uint32_t pid, const char *path, const char *build_id,
		   uint64_t map_start, struct sym_file **out, enum sym_reason *reason)
{
	struct binding_key key = {c, pid, path, build_id};
	char clean[PATH_MAX], cand[PATH_MAX + 64];
	enum sym_reason why = SYM_R_OPEN_FAILED;
	struct sym_file *f = NULL;
	bool deleted = false;
	int64_t idx;
	size_t len;
	int err = -ENOENT, rc;

	*out = NULL;
	if (build_id && !build_id[0])
		build_id = key.build_id = NULL;
	idx = ember_index__find(c->by_binding, binding_hash(pid, path, build_id), binding_eq, &key);
	if (idx >= 0) {
		const struct binding *b = &c->bindings[idx];

		if (b->file < 0) {
			*reason = b->reason;
			return b->err;
		}
		f = c->files[b->file];
		if (f->dropped) {
			err = file_reload(c, f, -1);
			if (err == -ENOMEM)
				return err;
			if (err) {
				*reason = SYM_R_OPEN_FAILED;
				return err;
			}
		}
		f->last_use = ++c->clock;
		*out = f;
		return 0;
	}

	/* Another process already mapped this very build: share it. */
	if (build_id) {
		int32_t fi = find_by_build_id(c, build_id);

		if (fi >= 0) {
			f = c->files[fi];
			err = f->dropped ? file_reload(c, f, -1) : 0;
			if (err == -ENOMEM)
				goto out;
			if (!err)
				goto bind;
			/* Gone from where it was first seen: try this process's view. */
			f = NULL;
			err = -ENOENT;
		}
	}

	len = strlen(path);
	if (len >= sizeof(clean)) {
		err = -ENAMETOOLONG;
		goto bind;
	}
	memcpy(clean, path, len + 1);
	if (len > 10 && strcmp(clean + len - 10, " (deleted)") == 0) {
		clean[len - 10] = '\0';
		deleted = true;
	}

	/* The process's own view first: another mount namespace, then the
	 * mapping itself (deleted or replaced files), then the host path. */
	for (int step = 0; step < 3; step++) {
		switch (step) {
		case 0:
			if (!pid || deleted)
				continue;
			snprintf(cand, sizeof(cand), "/proc/%" PRIu32 "/root%s", pid, clean);
			break;
		case 1:
			if (!pid || !map_start ||
			    map_files_path(pid, map_start, cand, sizeof(cand)) != 0)
				continue;
			break;
		default:
			snprintf(cand, sizeof(cand), "%s", clean);
			break;
		}
		rc = try_open(c, cand, clean, build_id, &f, &why);
		if (rc == 0) {
			err = 0;
			break;
		}
		f = NULL;
		if (rc == -ENOMEM) {
			err = rc;
			goto out;
		}
		err = rc < 0 ? rc : -ESTALE;
		pr_debug("symbolizer: pid %" PRIu32 ": %s: %s", pid, cand,
			 rc < 0 ? strerror(-rc) : "build-id differs");
	}
	/* Not here (a profile from another host): a build-id tree or debuginfod may have it. */
	if (!f && build_id) {
		char *fetched = NULL;

		rc = debuginfo__find_executable(&c->opts.debuginfo, build_id, &fetched);
		if (rc == 0) {
			rc = try_open(c, fetched, clean, build_id, &f, &why);
			if (rc == 0)
				err = 0;
			else
				f = NULL;
		}
		free(fetched);
		if (rc == -ENOMEM) {
			err = rc;
			goto out;
		}
	}
bind:
	rc = new_binding(c, pid, path, build_id, f ? (int32_t)f->id : -1, why, err);
	if (rc) {
		err = rc;
		goto out;
	}
	if (f) {
		f->last_use = ++c->clock;
		*out = f;
	}
out:
	if (err)
		*reason = why;
	return err;
}

/* ---- vDSO --------------------------------------------------------------- */

/*
 * The vDSO is the same image in every process of this kernel's native ABI, so
 * the copy mapped into ember itself serves them all, even processes that have
 * exited. Its size is not recorded anywhere: the image ends with its section
 * headers, or with the last segment.
 */
static size_t vdso_size(const void *base)
{
	const Elf64_Ehdr *eh = base;
	size_t size = 0;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return 0;
	size = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	for (size_t i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph =
		    (const void *)((const char *)base + eh->e_phoff + i * eh->e_phentsize);

		if (ph->p_offset + ph->p_filesz > size)
			size = ph->p_offset + ph->p_filesz;
	}
	/* A vDSO is a few pages; anything larger means we misread it. */
	return size <= (1u << 20) ? size : 0;
}

int sym_cache__get_vdso(struct sym_cache *c, struct sym_file **out, enum sym_reason *reason)
{
	const void *base = (const void *)getauxval(AT_SYSINFO_EHDR);
	void *image = NULL;
	size_t size;
	Elf *elf;
	int err;

	*out = NULL;
	if (c->vdso >= 0) {
		*out = c->files[c->vdso];
		return 0;
	}
	*reason = SYM_R_VDSO_FAILED;
	if (c->vdso == -2)
		return -ENOENT;
	c->vdso = -2;
	size = base ? vdso_size(base) : 0;
	if (!size)
		return -ENOENT;
	image = malloc(size);
	if (!image)
		return -ENOMEM;
	memcpy(image, base, size);
	elf = elf_memory(image, size);
	if (!elf) {
		free(image);
		return -EIO;
	}
	err = add_file(c, "[vdso]", "[vdso]", -1, elf, NULL, out, reason);
	if (err) {
		free(image);
		return err;
	}
	(*out)->image = image;
	(*out)->image_size = size;
	c->vdso = (int32_t)(*out)->id;
	return 0;
}

/* ---- DWARF -------------------------------------------------------------- */

struct dw_file *sym_cache__dwarf(struct sym_cache *c, struct sym_file *f)
{
	int err;

	f->last_use = ++c->clock;
	if (f->dw_state < 0)
		return NULL;
	if (f->dw)
		return f->dw;
	if (f->image)
		return NULL; /* the vDSO has no DWARF in memory */
	if (f->parked) {
		evict(c, f);
		f->parked = false;
		c->nr_parked--;
		c->nr_open++;
	}
	if (f->fd < 0) {
		struct stat st;
		int fd;

		evict(c, f);
		fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0 || st.st_dev != f->dev || st.st_ino != f->ino) {
			pr_debug("symbolizer: cannot reopen %s", f->path);
			if (fd >= 0)
				close(fd);
			f->dw_state = -ENOENT;
			return NULL;
		}
		f->fd = fd;
		c->nr_open++;
	}
	err = dw_file__open(f->fd, f->path, &f->info, &c->opts.debuginfo, &f->dw);
	if (err) {
		f->dw_state = err;
		return NULL;
	}
	/* A stripped file's full symbol table lives in its debug file. */
	if (!f->info.has_symtab && !f->debug_syms) {
		Elf *debug = dw_file__debug_elf(f->dw);

		f->debug_syms = true;
		if (debug && elf_symtab__add(&f->syms, debug, f->pool) == 0)
			elf_symtab__sort(&f->syms);
	}
	/*
	 * DWARF that would take a large part of the budget (libdw decompresses
	 * every .debug_* section: libc6-dbg's libc is 11 MB) would be dropped and
	 * read again over and over: such a file keeps its symbols only.
	 */
	if (c->dwarf_limit && dw_file__bytes(f->dw) > c->dwarf_limit) {
		pr_debug("symbolizer: %s: DWARF needs %zu bytes, over %zu: symbols only", f->path,
			 dw_file__bytes(f->dw), c->dwarf_limit);
		dw_file__free(f->dw);
		f->dw = NULL;
		f->dw_state = -EFBIG;
		c->dwarf_refused++;
		sym_cache__account(c, f);
		return NULL;
	}
	f->dw_state = 1;
	sym_cache__account(c, f);
	return f->dw;
}

size_t sym_cache__bytes(const struct sym_cache *c)
{
	return sizeof(*c) + c->cap_files * sizeof(*c->files) +
	       c->cap_bindings * sizeof(*c->bindings) + c->file_bytes + c->binding_bytes;
}
