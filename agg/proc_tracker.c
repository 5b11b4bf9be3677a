// SPDX-License-Identifier: MIT
/*
 * Process tracker: per-tgid name and executable mappings from /proc. Strings
 * (paths, build-ids, names) are interned in one pool so a thousand processes
 * mapping libc cost one copy of its path. Build-ids are read once per file,
 * cached by (device, inode).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ctype.h>
#include <unistd.h>

#include "agg/agg.h"
#include "proc_tracker.h"
#include "support/support.h"
#include "symbolizer/symbolizer.h"

struct proc_entry {
	uint32_t tgid;
	bool exited;
	uint64_t exit_seq; /* reap sequence number when the exit was seen */
	bool live;	   /* false: slot free (reaped) */
	const char *name;
	const char *exe, *cgroup, *container_id;
	struct proc_mapping *maps; /* newest scan first, each scan sorted by start */
	size_t nr_maps, cap_maps;
	size_t nr_latest; /* mappings of the newest scan (at the front) */
};

struct build_id_entry {
	const char *file_key; /* "dev:inode:path", interned */
	const char *build_id; /* NULL: none */
};

struct proc_tracker {
	struct ember_strpool *pool;
	struct proc_entry *procs;
	size_t nr_procs, cap_procs;
	struct ember_index *by_tgid;
	struct build_id_entry *build_ids;
	size_t nr_build_ids, cap_build_ids;
	struct ember_index *by_file;
	uint64_t reap_seq; /* number of reaps so far */
	/* PIDs reaped since proc_tracker__take_reaped() last took them */
	bool keep_reaped;
	uint32_t *reaped;
	size_t nr_reaped, cap_reaped;
	int reaped_err; /* -ENOMEM: a PID could not be kept */
};

struct tgid_lookup {
	const struct proc_tracker *t;
	uint32_t tgid;
};

static bool tgid_eq(const void *ctx, uint32_t index)
{
	const struct tgid_lookup *l = ctx;

	return l->t->procs[index].live && l->t->procs[index].tgid == l->tgid;
}

static bool file_eq(const void *ctx, uint32_t index)
{
	const struct proc_tracker *t = ((const void *const *)ctx)[0];
	const char *key = ((const void *const *)ctx)[1];

	return t->build_ids[index].file_key == key;
}

int proc_tracker__new(struct proc_tracker **out)
{
	struct proc_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	if (ember_strpool__new(&t->pool) || ember_index__new(&t->by_tgid) ||
	    ember_index__new(&t->by_file)) {
		proc_tracker__free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void proc_tracker__free(struct proc_tracker *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nr_procs; i++)
		free(t->procs[i].maps);
	free(t->procs);
	free(t->reaped);
	free(t->build_ids);
	ember_index__free(t->by_tgid);
	ember_index__free(t->by_file);
	ember_strpool__free(t->pool);
	free(t);
}

static struct proc_entry *find_entry(const struct proc_tracker *t, uint32_t tgid)
{
	struct tgid_lookup l = {t, tgid};
	int64_t i = ember_index__find(t->by_tgid, ember_hash_u64(0, tgid), tgid_eq, &l);

	return i >= 0 ? &t->procs[i] : NULL;
}

static int get_entry(struct proc_tracker *t, uint32_t tgid, struct proc_entry **out)
{
	struct proc_entry *e = find_entry(t, tgid);
	int err;

	if (e) {
		*out = e;
		return 0;
	}
	err = ember_grow((void **)&t->procs, &t->cap_procs, t->nr_procs + 1, sizeof(*t->procs));
	if (!err)
		err =
		    ember_index__insert(t->by_tgid, ember_hash_u64(0, tgid), (uint32_t)t->nr_procs);
	if (err)
		return err;
	e = &t->procs[t->nr_procs++];
	memset(e, 0, sizeof(*e));
	e->tgid = tgid;
	e->live = true;
	*out = e;
	return 0;
}

/* Build-id of the file behind a mapping, read through /proc/PID/root so files of other
 * mount namespaces and deleted files (via map_files) resolve. Cached per (dev, inode). */
static const char *mapping_build_id(struct proc_tracker *t, uint32_t tgid, const char *dev,
				    uint64_t inode, uint64_t start, uint64_t end, const char *path)
{
	const void *ctx[2];
	char hex[128], file[4096];
	const char *key, *bid = NULL;
	int64_t found;
	uint64_t h;

	key = ember_strpool__internf(t->pool, "%s:%" PRIu64 ":%s", dev, inode, path);
	if (!key)
		return NULL;
	ctx[0] = t;
	ctx[1] = key;
	h = ember_hash_u64(0xb1d, (uintptr_t)key);
	found = ember_index__find(t->by_file, h, file_eq, ctx);
	if (found >= 0)
		return t->build_ids[found].build_id;
	/* map_files opens the exact mapped file even when deleted or in another namespace. */
	snprintf(file, sizeof(file), "/proc/%u/map_files/%" PRIx64 "-%" PRIx64, tgid, start, end);
	if (symbolizer__read_build_id(file, hex, sizeof(hex)) == 0) {
		bid = ember_strpool__intern(t->pool, hex);
	} else {
		snprintf(file, sizeof(file), "/proc/%u/root%s", tgid, path);
		if (symbolizer__read_build_id(file, hex, sizeof(hex)) == 0)
			bid = ember_strpool__intern(t->pool, hex);
	}
	if (ember_grow((void **)&t->build_ids, &t->cap_build_ids, t->nr_build_ids + 1,
		       sizeof(*t->build_ids)) ||
	    ember_index__insert(t->by_file, h, (uint32_t)t->nr_build_ids))
		return bid;
	t->build_ids[t->nr_build_ids].file_key = key;
	t->build_ids[t->nr_build_ids].build_id = bid;
	t->nr_build_ids++;
	return bid;
}

static int read_comm(uint32_t tgid, char *buf, size_t size)
{
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

bool proc_tracker__parse_container_id(const char *cgroup, char *id, size_t size)
{
	const char *p, *best = NULL;
	size_t run = 0;

	if (size < 65)
		return false;
	for (p = cgroup; *p; p++) {
		run = isxdigit((unsigned char)*p) ? run + 1 : 0;
		/* exactly 64: a longer hex run is not a container id */
		if (run == 64 && !isxdigit((unsigned char)p[1]))
			best = p - 63;
	}
	if (!best)
		return false;
	memcpy(id, best, 64);
	id[64] = '\0';
	return true;
}

/* Executable path and cgroup v2 path: labels that outlive the process. */
static void read_identity(struct proc_tracker *t, struct proc_entry *e)
{
	char path[64], buf[4096], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/exe", e->tgid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		e->exe = ember_strpool__intern(t->pool, buf);
	}
	snprintf(path, sizeof(path), "/proc/%u/cgroup", e->tgid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		char id[65];

		if (strncmp(line, "0::", 3) != 0)
			continue; /* cgroup v1 hierarchies: the unified one is "0::" */
		line[strcspn(line, "\n")] = '\0';
		e->cgroup = ember_strpool__intern(t->pool, line + 3);
		if (proc_tracker__parse_container_id(line + 3, id, sizeof(id)))
			e->container_id = ember_strpool__intern(t->pool, id);
		break;
	}
	free(line);
	fclose(f);
}

bool proc_tracker__process(const struct proc_tracker *t, uint32_t tgid, struct ember_process *out)
{
	const struct proc_entry *e = find_entry(t, tgid);

	if (!e)
		return false;
	out->pid = tgid;
	out->name = e->name;
	out->exe = e->exe;
	out->cgroup = e->cgroup;
	out->container_id = e->container_id;
	return true;
}

static int compare_maps(const void *a, const void *b)
{
	const struct proc_mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int proc_tracker__scan(struct proc_tracker *t, uint32_t tgid, const char *comm, bool exec)
{
	struct proc_mapping *fresh = NULL;
	size_t nr_fresh = 0, cap_fresh = 0;
	struct ember_proc_maps *maps = NULL;
	struct ember_proc_map pm;
	struct proc_entry *e;
	char name[64];
	int err;

	err = get_entry(t, tgid, &e);
	if (err)
		return err;
	e->exited = false; /* a reused PID is a live process again */
	if (read_comm(tgid, name, sizeof(name)) == 0)
		e->name = ember_strpool__intern(t->pool, name);
	else if (!e->name && comm)
		e->name = ember_strpool__intern(t->pool, comm);
	read_identity(t, e);
	if (ember_proc_maps__open(tgid, &maps)) {
		err = -ESRCH;
		goto out;
	}
	while (ember_proc_maps__next(maps, &pm) == 0) {
		const char *file = pm.path;
		struct proc_mapping *m;

		if (!strchr(pm.perms, 'x'))
			continue;
		if (!*file)
			file = "//anon";
		err = ember_grow((void **)&fresh, &cap_fresh, nr_fresh + 1, sizeof(*fresh));
		if (err)
			goto out;
		m = &fresh[nr_fresh++];
		m->start = pm.start;
		m->end = pm.end;
		m->offset = pm.offset;
		m->path = ember_strpool__intern(t->pool, file);
		m->build_id = NULL;
		if (pm.inode && file[0] == '/')
			m->build_id =
			    mapping_build_id(t, tgid, pm.dev, pm.inode, pm.start, pm.end, file);
		if (!m->path) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (nr_fresh) /* fresh is NULL when the process had no mapping left to read */
		qsort(fresh, nr_fresh, sizeof(*fresh), compare_maps);
	/*
	 * Newest scan first: after an exec the new image must win address lookups,
	 * while samples from before it still find the old one. Without an exec the
	 * address space only grew or shrank (dlopen, munmap): replace the newest scan,
	 * so repeated scans of a long-lived process do not pile up.
	 */
	if (!exec && e->nr_latest) {
		memmove(e->maps, e->maps + e->nr_latest,
			(e->nr_maps - e->nr_latest) * sizeof(*e->maps));
		e->nr_maps -= e->nr_latest;
	}
	err = ember_grow((void **)&e->maps, &e->cap_maps, e->nr_maps + nr_fresh, sizeof(*e->maps));
	if (err)
		goto out;
	if (e->nr_maps)
		memmove(e->maps + nr_fresh, e->maps, e->nr_maps * sizeof(*e->maps));
	if (nr_fresh)
		memcpy(e->maps, fresh, nr_fresh * sizeof(*fresh));
	e->nr_maps += nr_fresh;
	e->nr_latest = nr_fresh;
	err = 0;
out:
	ember_proc_maps__free(maps);
	free(fresh);
	return err;
}

void proc_tracker__exited(struct proc_tracker *t, uint32_t tgid)
{
	struct proc_entry *e = find_entry(t, tgid);

	if (e) {
		e->exited = true;
		e->exit_seq = t->reap_seq;
	}
}

void proc_tracker__reap(struct proc_tracker *t)
{
	size_t i, kept = 0;

	/*
	 * Samples taken just before an exit can sit in the generation drained one
	 * window after the exit event was handled, so keep exited processes for one
	 * more reap than the one that follows their exit.
	 */
	t->reap_seq++;
	for (i = 0; i < t->nr_procs; i++) {
		if (t->procs[i].exited && t->procs[i].exit_seq + 1 < t->reap_seq) {
			free(t->procs[i].maps);
			if (t->keep_reaped) {
				if (ember_grow((void **)&t->reaped, &t->cap_reaped,
					       t->nr_reaped + 1, sizeof(*t->reaped)))
					t->reaped_err = -ENOMEM;
				else
					t->reaped[t->nr_reaped++] = t->procs[i].tgid;
			}
			continue;
		}
		t->procs[kept++] = t->procs[i];
	}
	if (kept == t->nr_procs)
		return;
	t->nr_procs = kept;
	ember_index__clear(t->by_tgid);
	for (i = 0; i < kept; i++)
		if (ember_index__insert(t->by_tgid, ember_hash_u64(0, t->procs[i].tgid),
					(uint32_t)i))
			break; /* cannot fail: the table only shrank */
}

int proc_tracker__take_reaped(struct proc_tracker *t, uint32_t **pids, size_t *nr)
{
	int err = t->reaped_err;

	t->keep_reaped = true;
	*pids = t->reaped;
	*nr = t->nr_reaped;
	t->reaped = NULL;
	t->nr_reaped = t->cap_reaped = 0;
	t->reaped_err = 0;
	return err;
}

bool proc_tracker__known(const struct proc_tracker *t, uint32_t tgid)
{
	return find_entry(t, tgid) != NULL;
}

const char *proc_tracker__name(const struct proc_tracker *t, uint32_t tgid)
{
	const struct proc_entry *e = find_entry(t, tgid);

	return e ? e->name : NULL;
}

const struct proc_mapping *proc_tracker__find(const struct proc_tracker *t, uint32_t tgid,
					      uint64_t addr)
{
	const struct proc_entry *e = find_entry(t, tgid);
	size_t i;

	if (!e)
		return NULL;
	/* Linear: a process has tens of executable mappings, newest scan first. */
	for (i = 0; i < e->nr_maps; i++)
		if (addr >= e->maps[i].start && addr < e->maps[i].end)
			return &e->maps[i];
	return NULL;
}

size_t proc_tracker__mappings(const struct proc_tracker *t, uint32_t tgid,
			      const struct proc_mapping **maps)
{
	const struct proc_entry *e = find_entry(t, tgid);

	*maps = e ? e->maps : NULL;
	return e ? e->nr_latest : 0;
}

/* Build-id of @path when the side-band record had none (cached by path). */
static const char *path_build_id(struct proc_tracker *t, uint32_t tgid, uint64_t start,
				 uint64_t end, const char *path)
{
	if (path[0] != '/')
		return NULL;
	return mapping_build_id(t, tgid, "path", 0, start, end, path);
}

int proc_tracker__add_mapping(struct proc_tracker *t, uint32_t tgid, uint64_t start, uint64_t end,
			      uint64_t offset, const char *path, const char *build_id)
{
	struct proc_mapping m = {.start = start, .end = end, .offset = offset};
	struct proc_entry *e;
	size_t i, kept = 0, pos;
	int err;

	err = get_entry(t, tgid, &e);
	if (err)
		return err;
	e->exited = false;
	m.path = ember_strpool__intern(t->pool, *path ? path : "//anon");
	if (!m.path)
		return -ENOMEM;
	m.build_id = build_id ? ember_strpool__intern(t->pool, build_id)
			      : path_build_id(t, tgid, start, end, m.path);
	/* Drop newest-scan mappings the new one overlaps (the kernel replaced them). */
	for (i = 0; i < e->nr_latest; i++) {
		if (e->maps[i].start < end && start < e->maps[i].end)
			continue;
		e->maps[kept++] = e->maps[i];
	}
	if (kept != e->nr_latest) {
		memmove(e->maps + kept, e->maps + e->nr_latest,
			(e->nr_maps - e->nr_latest) * sizeof(*e->maps));
		e->nr_maps -= e->nr_latest - kept;
		e->nr_latest = kept;
	}
	err = ember_grow((void **)&e->maps, &e->cap_maps, e->nr_maps + 1, sizeof(*e->maps));
	if (err)
		return err;
	for (pos = 0; pos < e->nr_latest && e->maps[pos].start < start; pos++)
		;
	memmove(e->maps + pos + 1, e->maps + pos, (e->nr_maps - pos) * sizeof(*e->maps));
	e->maps[pos] = m;
	e->nr_maps++;
	e->nr_latest++;
	return 0;
}

int proc_tracker__exec(struct proc_tracker *t, uint32_t tgid, const char *comm)
{
	struct proc_entry *e;
	int err = get_entry(t, tgid, &e);

	if (err)
		return err;
	e->exited = false;
	e->nr_latest = 0; /* the old image's mappings stay, behind the new ones */
	if (comm && *comm)
		e->name = ember_strpool__intern(t->pool, comm);
	e->exe = NULL;
	read_identity(t, e); /* exe and cgroup, while the process is surely alive */
	return 0;
}

int proc_tracker__fork(struct proc_tracker *t, uint32_t child, uint32_t parent, bool *copied)
{
	struct proc_entry *p = find_entry(t, parent), *c;
	size_t p_index;
	int err;

	*copied = false;
	if (!p || !p->nr_latest)
		return 0;
	p_index = (size_t)(p - t->procs);
	err = get_entry(t, child, &c); /* may move t->procs */
	if (err)
		return err;
	p = &t->procs[p_index];
	c->exited = false;
	err = ember_grow((void **)&c->maps, &c->cap_maps, p->nr_latest, sizeof(*c->maps));
	if (err)
		return err;
	memcpy(c->maps, p->maps, p->nr_latest * sizeof(*c->maps));
	c->nr_maps = c->nr_latest = p->nr_latest;
	c->name = p->name;
	c->exe = p->exe;
	c->cgroup = p->cgroup;
	c->container_id = p->container_id;
	*copied = true;
	return 0;
}
