// SPDX-License-Identifier: MIT
/*
 * Unwind table loading: a cache of per-file tables placed in the sampler's
 * rows array (written with batched bpf system calls) by a first-fit allocator
 * with LRU eviction of unused tables, and the per-process mapping lists the BPF
 * walker searches.
 *
 * Building a table takes milliseconds (libc ~11 ms, a compiler's cc1 far more),
 * so it happens on the loader's own thread: the collector's event thread only
 * copies a process's mappings into a queue, and its process events never wait
 * for a table. The worker owns everything below the queue (tables, row
 * allocator, processes, the BPF maps' contents); the queue and the counters are
 * all the two threads share.
 *
 * What the sampler may see: rows are written into free space of the rows array
 * before any published range covers them, and a table's rows are only reused
 * once no published process refers to them (refs == 0), so a published range
 * always holds the rows it was published with.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <bpf/bpf.h>
#include <gelf.h>

#include "agg/agg.h"
#include "probes/probes.h"
#include "support/support.h"
#include "symbolizer/symbolizer.h"
#include "unwind_loader.h"
#include "unwinder/unwinder.h"

#define MAX_SEGMENTS	16
#define MAX_TABLE_FILES 4 /* files (device, inode) one table is published under */

struct segment {
	uint64_t offset, vaddr, filesz; /* PT_LOAD: file offset, link-time address, bytes */
	bool exec;
};

struct table_entry {
	const char *key; /* interned file identity */
	uint32_t first_row, nr_rows;
	bool loaded;	   /* rows are in the BPF array */
	bool no_table;	   /* built and failed: do not try again */
	uint32_t refs;	   /* processes using it */
	uint64_t last_use; /* loader clock */
	struct segment segs[MAX_SEGMENTS];
	size_t nr_segs;
	/* In unwind_files while loaded; several when copies of a file share a build-id. */
	struct ember_unwind_file_key files[MAX_TABLE_FILES];
	size_t nr_files;
};

struct row_range {
	uint32_t first, nr;
};

struct proc_tables {
	uint32_t tgid;
	uint32_t *entries; /* table_entry indices this process holds a reference on */
	size_t nr, cap;
};

/*
 * A queued request: publish @maps as @tgid's mappings, forget @tgid, or (with
 * @preload_seq) load the tables of the files @maps name for no process yet.
 */
struct job {
	uint32_t tgid;
	bool forget;
	size_t nr;
	struct proc_mapping *maps; /* one block: the mappings, then their strings; NULL if none */
	uint64_t preload_seq;	   /* 0, or this preload's number (unwind_loader__preload) */
};

struct unwind_loader {
	struct ember_probe *probe;
	/* Shared with the event thread, under @lock. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t preloaded;	    /* signalled when a preload job is done */
	uint64_t preload_seq, preload_done; /* last preload queued, last one done */
	pthread_t thread;
	bool thread_started, stop;
	struct job *jobs; /* FIFO: [head, nr_jobs) pending */
	size_t head, nr_jobs, cap_jobs;
	int worker_err; /* -ENOMEM seen by the worker, reported by the next request */
	/* The worker's own. */
	uint32_t nr_rows;
	struct ember_strpool *pool;
	struct table_entry *tables;
	size_t nr_tables, cap_tables;
	struct ember_index *by_key;
	struct row_range *free_list; /* sorted by first, coalesced */
	size_t nr_free, cap_free;
	struct proc_tables *procs;
	size_t nr_procs, cap_procs;
	uint64_t clock;
	struct ember_unwind_proc *scratch;
	struct unwind_disk_cache *disk; /* NULL: no disk cache; the worker's */
	/* Counters since the last unwind_loader__add_counters: written by the worker. */
	_Atomic uint64_t built, build_failed, no_space, evicted, build_ns, rows_written, from_disk,
	    write_failed;
};

static void *worker_main(void *arg);

static bool key_eq(const void *ctx, uint32_t index)
{
	const struct unwind_loader *l = ((const void *const *)ctx)[0];

	return l->tables[index].key == ((const void *const *)ctx)[1];
}

int unwind_loader__new(struct ember_probe *probe, const char *cache_dir, uint64_t cache_bytes,
		       struct unwind_loader **out)
{
	struct unwind_loader *l = calloc(1, sizeof(*l));
	pthread_condattr_t mono;
	sigset_t all, old;
	int err;

	if (!l)
		return -ENOMEM;
	l->probe = probe;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	/* A preload's timeout on the monotonic clock: the wall clock may step meanwhile. */
	pthread_condattr_init(&mono);
	pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
	pthread_cond_init(&l->preloaded, &mono);
	pthread_condattr_destroy(&mono);
	if (cache_dir) {
		/* Best effort: without a writable directory the cache is just off. */
		err = unwind_disk_cache__open(cache_dir, cache_bytes, &l->disk);
		if (err)
			pr_debug("no unwind table cache in %s: %s", cache_dir, strerror(-err));
	}
	l->nr_rows = probe__unwind_nr_rows(probe);
	l->scratch = calloc(1, sizeof(*l->scratch));
	if (!l->nr_rows || !l->scratch || ember_strpool__new(&l->pool) ||
	    ember_index__new(&l->by_key) ||
	    ember_grow((void **)&l->free_list, &l->cap_free, 1, sizeof(*l->free_list))) {
		unwind_loader__free(l);
		return -ENOMEM;
	}
	l->free_list[0] = (struct row_range){0, l->nr_rows};
	l->nr_free = 1;
	/* Signals stay with the threads that wait for them (the agent's main thread). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&l->thread, NULL, worker_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		unwind_loader__free(l);
		return err;
	}
	l->thread_started = true;
	*out = l;
	return 0;
}

/* Tells the worker to exit instead of taking the next job (queued jobs are dropped). */
static void stop_worker(struct unwind_loader *l)
{
	pthread_mutex_lock(&l->lock);
	l->stop |= true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
}

void unwind_loader__free(struct unwind_loader *l)
{
	size_t i;

	if (!l)
		return;
	if (l->thread_started) {
		stop_worker(l);
		pthread_join(l->thread, NULL);
	}
	for (i = l->head; i < l->nr_jobs; i++)
		free(l->jobs[i].maps);
	free(l->jobs);
	pthread_cond_destroy(&l->wake);
	pthread_cond_destroy(&l->preloaded);
	pthread_mutex_destroy(&l->lock);
	for (i = 0; i < l->nr_procs; i++)
		free(l->procs[i].entries);
	free(l->procs);
	free(l->tables);
	free(l->free_list);
	free(l->scratch);
	unwind_disk_cache__free(l->disk);
	ember_index__free(l->by_key);
	ember_strpool__free(l->pool);
	free(l);
}

/* ---- row allocator ----------------------------------------------------- */

static bool alloc_rows(struct unwind_loader *l, uint32_t n, uint32_t *first)
{
	size_t i;

	for (i = 0; i < l->nr_free; i++) {
		if (l->free_list[i].nr < n)
			continue;
		*first = l->free_list[i].first;
		l->free_list[i].first += n;
		l->free_list[i].nr -= n;
		if (!l->free_list[i].nr) {
			memmove(&l->free_list[i], &l->free_list[i + 1],
				(l->nr_free - i - 1) * sizeof(*l->free_list));
			l->nr_free--;
		}
		return true;
	}
	return false;
}

static int free_rows(struct unwind_loader *l, uint32_t first, uint32_t n)
{
	size_t i = 0;

	while (i < l->nr_free && l->free_list[i].first < first)
		i++;
	if (ember_grow((void **)&l->free_list, &l->cap_free, l->nr_free + 1, sizeof(*l->free_list)))
		return -ENOMEM;
	memmove(&l->free_list[i + 1], &l->free_list[i], (l->nr_free - i) * sizeof(*l->free_list));
	l->free_list[i] = (struct row_range){first, n};
	l->nr_free++;
	/* Coalesce with the next, then the previous neighbour. */
	if (i + 1 < l->nr_free && first + n == l->free_list[i + 1].first) {
		l->free_list[i].nr += l->free_list[i + 1].nr;
		memmove(&l->free_list[i + 1], &l->free_list[i + 2],
			(l->nr_free - i - 2) * sizeof(*l->free_list));
		l->nr_free--;
	}
	if (i > 0 && l->free_list[i - 1].first + l->free_list[i - 1].nr == first) {
		l->free_list[i - 1].nr += l->free_list[i].nr;
		memmove(&l->free_list[i], &l->free_list[i + 1],
			(l->nr_free - i - 1) * sizeof(*l->free_list));
		l->nr_free--;
	}
	return 0;
}

/* Evicts the least recently used table nobody holds. False when there is none. */
static bool evict_one(struct unwind_loader *l)
{
	struct table_entry *victim = NULL;
	size_t i;

	for (i = 0; i < l->nr_tables; i++) {
		struct table_entry *t = &l->tables[i];

		if (t->loaded && !t->refs && (!victim || t->last_use < victim->last_use))
			victim = t;
	}
	if (!victim)
		return false;
	/* Out of unwind_files first: no new walk may find the rows about to be reused. */
	for (i = 0; i < victim->nr_files; i++)
		bpf_map_delete_elem(probe__unwind_files_fd(l->probe), &victim->files[i]);
	if (free_rows(l, victim->first_row, victim->nr_rows))
		return false;
	victim->loaded = false;
	l->evicted++;
	return true;
}

/* ---- building ---------------------------------------------------------- */

static int open_mapped_file(uint32_t tgid, const struct proc_mapping *m)
{
	char path[4200];
	int fd;

	/* map_files opens the exact file mapped, even deleted or in another mount namespace. */
	snprintf(path, sizeof(path), "/proc/%u/map_files/%" PRIx64 "-%" PRIx64, tgid, m->start,
		 m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	snprintf(path, sizeof(path), "/proc/%u/root%s", tgid, m->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	return open(m->path, O_RDONLY | O_CLOEXEC);
}

static void read_segments(int fd, struct table_entry *t)
{
	GElf_Phdr phdr;
	size_t n, i;
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return;
	if (elf_getphdrnum(elf, &n) == 0) {
		for (i = 0; i < n && t->nr_segs < MAX_SEGMENTS; i++) {
			if (!gelf_getphdr(elf, (int)i, &phdr) || phdr.p_type != PT_LOAD)
				continue;
			t->segs[t->nr_segs++] = (struct segment){
			    phdr.p_offset, phdr.p_vaddr, phdr.p_filesz, phdr.p_flags & PF_X};
		}
	}
	elf_end(elf);
}

/* Places @table's rows in the BPF array, evicting unused tables for room. */
static void place(struct unwind_loader *l, struct table_entry *t,
		  const struct ember_unwind_table *table)
{
	uint32_t n = (uint32_t)unwind_table__nr_rows(table), first;

	if (n > l->nr_rows) {
		l->no_space++;
		return;
	}
	while (!alloc_rows(l, n, &first)) {
		if (!evict_one(l)) {
			l->no_space++;
			return;
		}
	}
	if (probe__write_unwind_rows(l->probe, first, unwind_table__rows(table), n)) {
		free_rows(l, first, n);
		l->write_failed++;
		return;
	}
	t->first_row = first;
	t->nr_rows = n;
	t->loaded = true;
	l->rows_written += n;
}

/* Publishes loaded table @t in unwind_files under file @key. */
static void publish_file(struct unwind_loader *l, const struct table_entry *t,
			 const struct ember_unwind_file_key *key)
{
	struct ember_unwind_file f = {.first_row = t->first_row, .nr_rows = t->nr_rows};
	size_t i;

	for (i = 0; i < t->nr_segs && f.nr_segs < EMBER_MAX_FILE_SEGMENTS; i++)
		if (t->segs[i].exec)
			f.segs[f.nr_segs++] = (struct ember_unwind_segment){
			    t->segs[i].offset, t->segs[i].vaddr, t->segs[i].filesz};
	/* A full map is not an error: that file's new processes wait for their own list. */
	if (bpf_map_update_elem(probe__unwind_files_fd(l->probe), key, &f, BPF_ANY))
		pr_debug("cannot publish the unwind table of file %llu:%llu: %s",
			 (unsigned long long)key->dev, (unsigned long long)key->ino,
			 strerror(errno));
}

/*
 * Makes loaded table @t findable by file (the sampler's unwind_files): under
 * the (device, inode) of @m's file, taken from @fd when open (else the file is
 * opened again), the first time @t is seen; after a reload (eviction) under the
 * keys it had.
 */
static void note_file(struct unwind_loader *l, struct table_entry *t, uint32_t tgid,
		      const struct proc_mapping *m, int fd, bool reloaded)
{
	struct ember_unwind_file_key key;
	struct stat st;
	size_t i;
	int own = -1;

	if (reloaded)
		for (i = 0; i < t->nr_files; i++)
			publish_file(l, t, &t->files[i]);
	if (t->nr_files)
		return; /* one stat per table, not one per mapping of every process */
	if (fd < 0)
		fd = own = open_mapped_file(tgid, m);
	if (fd < 0 || fstat(fd, &st)) {
		if (own >= 0)
			close(own);
		return;
	}
	if (own >= 0)
		close(own);
	/* The kernel's dev_t (s_dev) is major << 20 | minor; stat's is glibc's encoding. */
	key.dev = ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev);
	key.ino = st.st_ino;
	t->files[t->nr_files++] = key;
	publish_file(l, t, &key);
}

/* The table entry for mapping @m of @tgid, built and loaded on first use; NULL if none. */
static struct table_entry *get_table(struct unwind_loader *l, uint32_t tgid,
				     const struct proc_mapping *m, int *err)
{
	struct ember_unwind_table *table = NULL;
	bool save = false; /* built here, to be written to the disk cache */
	const void *ctx[2];
	struct table_entry *t;
	const char *key;
	struct stat st;
	uint64_t h, t0;
	int64_t found;
	int fd = -1;

	*err = 0;
	if (m->path[0] != '/')
		return NULL; /* [vdso], //anon: no file to read CFI from */
	if (m->build_id) {
		key = ember_strpool__internf(l->pool, "b:%s", m->build_id);
	} else {
		fd = open_mapped_file(tgid, m);
		if (fd < 0 || fstat(fd, &st)) {
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		key = ember_strpool__internf(l->pool, "f:%lu:%lu:%lld:%lld",
					     (unsigned long)st.st_dev, (unsigned long)st.st_ino,
					     (long long)st.st_size, (long long)st.st_mtime);
	}
	if (!key) {
		*err = -ENOMEM;
		goto fail;
	}
	ctx[0] = l;
	ctx[1] = key;
	h = ember_hash_u64(0x7ab1e, (uintptr_t)key);
	found = ember_index__find(l->by_key, h, key_eq, ctx);
	if (found >= 0) {
		t = &l->tables[found];
		if (t->loaded || t->no_table) {
			if (t->loaded)
				note_file(l, t, tgid, m, fd, false);
			if (fd >= 0)
				close(fd);
			return t->no_table ? NULL : t;
		}
	} else {
		if (ember_grow((void **)&l->tables, &l->cap_tables, l->nr_tables + 1,
			       sizeof(*l->tables)) ||
		    ember_index__insert(l->by_key, h, (uint32_t)l->nr_tables)) {
			*err = -ENOMEM;
			goto fail;
		}
		t = &l->tables[l->nr_tables++];
		memset(t, 0, sizeof(*t));
		t->key = key;
	}
	if (fd < 0)
		fd = open_mapped_file(tgid, m);
	if (fd < 0) {
		l->build_failed++;
		return NULL; /* maybe another process can open it later: not marked no_table */
	}
	t0 = ember_now_mono_ns();
	if (!t->nr_segs)
		read_segments(fd, t);
	if (l->disk && m->build_id) {
		if (unwind_disk_cache__load(l->disk, m->build_id, &table) == 0)
			l->from_disk++;
		else
			save = true;
	}
	if (!table)
		*err = unwind_table__build_fd(fd, &table);
	l->build_ns += ember_now_mono_ns() - t0;
	pr_debug("unwind table for %s (%s, pid %u): %s, %zu rows", m->path, key, tgid,
		 *err ? strerror(-*err) : "built", table ? unwind_table__nr_rows(table) : 0);
	if (*err == -ENOMEM)
		goto fail;
	*err = 0;
	if (!table || !t->nr_segs) {
		t->no_table = true;
		l->build_failed++;
		unwind_table__free(table);
		goto fail;
	}
	l->built++;
	place(l, t, table);
	/* After the rows are in the kernel: the sampler has them while the disk write runs. */
	if (save && t->loaded)
		note_file(l, t, tgid, m, fd, true);
	if (save && unwind_disk_cache__save(l->disk, m->build_id, table))
		pr_debug("cannot save the unwind table of %s", m->path);
	unwind_table__free(table);
	if (t->loaded && !save)
		note_file(l, t, tgid, m, fd, true);
	close(fd);
	return t->loaded ? t : NULL;
fail:
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* runtime address - link-time address for mapping @m of the file behind @t. */
static bool mapping_bias(const struct table_entry *t, const struct proc_mapping *m, uint64_t *bias)
{
	size_t i;

	for (i = 0; i < t->nr_segs; i++) {
		const struct segment *s = &t->segs[i];

		if (m->offset >= s->offset && m->offset < s->offset + s->filesz) {
			*bias = m->start - (m->offset - s->offset + s->vaddr);
			return true;
		}
	}
	return false;
}

/* ---- processes --------------------------------------------------------- */

static struct proc_tables *find_proc(struct unwind_loader *l, uint32_t tgid)
{
	size_t i;

	/* Linear: tens to a few thousand live processes, touched on exec/exit only. */
	for (i = 0; i < l->nr_procs; i++)
		if (l->procs[i].tgid == tgid)
			return &l->procs[i];
	return NULL;
}

static void release(struct unwind_loader *l, struct proc_tables *p)
{
	size_t i;

	for (i = 0; i < p->nr; i++)
		if (l->tables[p->entries[i]].refs)
			l->tables[p->entries[i]].refs--;
	p->nr = 0;
}

/* Builds or reuses the tables of @maps and publishes @tgid. The worker's. */
static int publish(struct unwind_loader *l, uint32_t tgid, const struct proc_mapping *maps,
		   size_t n)
{
	struct ember_unwind_proc *up = l->scratch;
	struct proc_tables *pt = find_proc(l, tgid);
	size_t i;
	int err = 0;

	if (!pt) {
		if (ember_grow((void **)&l->procs, &l->cap_procs, l->nr_procs + 1,
			       sizeof(*l->procs)))
			return -ENOMEM;
		pt = &l->procs[l->nr_procs++];
		memset(pt, 0, sizeof(*pt));
		pt->tgid = tgid;
	}
	/* Take the new references before dropping the old: shared tables stay put. */
	memset(up, 0, sizeof(*up));
	{
		uint32_t *old = pt->entries;
		size_t old_nr = pt->nr;

		pt->entries = NULL;
		pt->nr = 0;
		pt->cap = 0;
		for (i = 0; i < n && up->nr < EMBER_MAX_UNWIND_MAPPINGS; i++) {
			struct ember_unwind_mapping *um = &up->maps[up->nr];
			struct table_entry *t = get_table(l, tgid, &maps[i], &err);
			uint64_t bias;

			if (err)
				break;
			um->start = maps[i].start;
			um->end = maps[i].end;
			if (t && mapping_bias(t, &maps[i], &bias)) {
				um->bias = bias;
				um->first_row = t->first_row;
				um->nr_rows = t->nr_rows;
				t->refs++;
				t->last_use = ++l->clock;
				if (ember_grow((void **)&pt->entries, &pt->cap, pt->nr + 1,
					       sizeof(*pt->entries))) {
					t->refs--;
					err = -ENOMEM;
					break;
				}
				pt->entries[pt->nr++] = (uint32_t)(t - l->tables);
			}
			up->nr++;
		}
		for (i = 0; i < old_nr; i++)
			if (l->tables[old[i]].refs)
				l->tables[old[i]].refs--;
		free(old);
	}
	if (err)
		return err;
	if (bpf_map_update_elem(probe__unwind_procs_fd(l->probe), &tgid, up, BPF_ANY)) {
		err = -errno;
		pr_debug("cannot publish unwind tables of pid %u: %d", tgid, err);
		release(l, pt);
		return err == -ENOMEM ? err : 0; /* a full map: this process uses frame pointers */
	}
	return 0;
}

static void unpublish(struct unwind_loader *l, uint32_t tgid)
{
	struct proc_tables *pt = find_proc(l, tgid);

	bpf_map_delete_elem(probe__unwind_procs_fd(l->probe), &tgid);
	if (!pt)
		return;
	release(l, pt);
	free(pt->entries);
	*pt = l->procs[--l->nr_procs];
}

int unwind_loader__add_counters(struct unwind_loader *l, struct ember_profile *p)
{
	struct {
		const char *name;
		_Atomic uint64_t *v;
	} c[] = {
	    {"unwind.tables.built", &l->built},
	    {"unwind.tables.from_disk_cache", &l->from_disk},
	    {"unwind.tables.no_cfi_or_unreadable", &l->build_failed},
	    {"unwind.tables.no_space", &l->no_space},
	    {"unwind.tables.evicted", &l->evicted},
	    {"unwind.tables.build_ns", &l->build_ns},
	    {"unwind.tables.rows_written", &l->rows_written},
	    {"unwind.tables.write_failed", &l->write_failed},
	};
	size_t i;
	int err;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		err = profile__add_counter(p, c[i].name, atomic_exchange(c[i].v, 0));
		if (err)
			return err;
	}
	return 0;
}

/* ---- the queue and its worker ------------------------------------------ */

/*
 * Loads the tables of the files @maps name (paths; no process maps them yet):
 * placed in the kernel and findable by file, so the exec-time list of a process
 * that maps one has its table from the first sample. Not held by any process:
 * evicted first when space runs short.
 */
static int preload(struct unwind_loader *l, const struct proc_mapping *maps, size_t n)
{
	struct table_entry *t;
	size_t i;
	int err = 0;

	for (i = 0; i < n && !err; i++) {
		t = get_table(l, 0, &maps[i], &err);
		if (t)
			t->last_use = ++l->clock;
	}
	return err;
}

static void *worker_main(void *arg)
{
	struct unwind_loader *l = arg;
	struct job job;
	int err = 0;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (!l->stop && l->head == l->nr_jobs)
			pthread_cond_wait(&l->wake, &l->lock);
		if (l->stop)
			break;
		job = l->jobs[l->head++];
		if (l->head == l->nr_jobs)
			l->head = l->nr_jobs = 0;
		pthread_mutex_unlock(&l->lock);
		if (job.forget)
			unpublish(l, job.tgid);
		else if (job.preload_seq)
			err = preload(l, job.maps, job.nr);
		else
			err = publish(l, job.tgid, job.maps, job.nr);
		free(job.maps);
		pthread_mutex_lock(&l->lock);
		if (job.preload_seq) {
			l->preload_done = job.preload_seq;
			pthread_cond_broadcast(&l->preloaded);
		}
		if (err && !l->worker_err)
			l->worker_err = err;
		err = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* One block holding copies of @maps and their strings; NULL when out of memory. */
static struct proc_mapping *copy_mappings(const struct proc_mapping *maps, size_t n)
{
	size_t bytes = n * sizeof(*maps), i, len;
	struct proc_mapping *copy;
	char *str;

	for (i = 0; i < n; i++)
		bytes += strlen(maps[i].path) + 1 +
			 (maps[i].build_id ? strlen(maps[i].build_id) + 1 : 0);
	copy = malloc(bytes ? bytes : 1);
	if (!copy)
		return NULL;
	str = (char *)(copy + n);
	for (i = 0; i < n; i++) {
		copy[i] = maps[i];
		len = strlen(maps[i].path) + 1;
		copy[i].path = memcpy(str, maps[i].path, len);
		str += len;
		if (maps[i].build_id) {
			len = strlen(maps[i].build_id) + 1;
			copy[i].build_id = memcpy(str, maps[i].build_id, len);
			str += len;
		}
	}
	return copy;
}

/*
 * Queues a request for @tgid (takes @maps). A pending request for @tgid that
 * has not started is replaced: only the newest state of a process matters, and
 * a forget overtakes a publication nobody will see.
 */
static int enqueue(struct unwind_loader *l, uint32_t tgid, bool forget, struct proc_mapping *maps,
		   size_t n, uint64_t *preload_seq)
{
	size_t i;
	int err;

	pthread_mutex_lock(&l->lock);
	err = l->worker_err;
	l->worker_err = 0;
	for (i = l->nr_jobs; i > l->head && !preload_seq; i--) {
		struct job *j = &l->jobs[i - 1];

		if (j->tgid != tgid || j->preload_seq)
			continue;
		if (j->forget)
			break; /* a publication after a forget: the pid was reused */
		free(j->maps);
		*j = (struct job){tgid, forget, n, maps, 0};
		goto out;
	}
	if (l->head && l->nr_jobs == l->cap_jobs) {
		memmove(l->jobs, l->jobs + l->head, (l->nr_jobs - l->head) * sizeof(*l->jobs));
		l->nr_jobs -= l->head;
		l->head = 0;
	}
	if (ember_grow((void **)&l->jobs, &l->cap_jobs, l->nr_jobs + 1, sizeof(*l->jobs))) {
		free(maps);
		err = -ENOMEM;
		goto out;
	}
	l->jobs[l->nr_jobs] = (struct job){tgid, forget, n, maps, 0};
	if (preload_seq)
		*preload_seq = l->jobs[l->nr_jobs].preload_seq = ++l->preload_seq;
	l->nr_jobs++;
	pthread_cond_signal(&l->wake);
out:
	pthread_mutex_unlock(&l->lock);
	return err;
}

int unwind_loader__load(struct unwind_loader *l, uint32_t tgid, const struct proc_mapping *maps,
			size_t n)
{
	struct proc_mapping *copy = copy_mappings(maps, n);

	if (!copy)
		return -ENOMEM;
	return enqueue(l, tgid, false, copy, n, NULL);
}

int unwind_loader__preload(struct unwind_loader *l, const char *const *paths, size_t n,
			   int timeout_ms)
{
	struct proc_mapping *maps = calloc(n ? n : 1, sizeof(*maps)), *copy;
	char(*ids)[128] = calloc(n ? n : 1, sizeof(*ids));
	struct timespec deadline;
	uint64_t seq = 0;
	size_t i;
	int err = maps && ids ? 0 : -ENOMEM;

	/* By build-id, as a process's mapping would name it: one table, the disk cache. */
	for (i = 0; i < n && !err; i++) {
		maps[i].path = paths[i];
		if (symbolizer__read_build_id(paths[i], ids[i], sizeof(ids[i])) == 0)
			maps[i].build_id = ids[i];
	}
	copy = err ? NULL : copy_mappings(maps, n);
	free(maps);
	free(ids);
	if (!copy)
		return -ENOMEM;
	err = enqueue(l, 0, false, copy, n, &seq);
	if (err)
		return err;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&l->lock);
	while (!err && l->preload_done < seq && !l->stop)
		err = -pthread_cond_timedwait(&l->preloaded, &l->lock, &deadline);
	pthread_mutex_unlock(&l->lock);
	return err;
}

void unwind_loader__forget(struct unwind_loader *l, uint32_t tgid)
{
	/* Out of memory: the entry stays until the pid is published again or ember exits. */
	if (enqueue(l, tgid, true, NULL, 0, NULL) == -ENOMEM)
		pr_debug("cannot queue the unpublication of pid %u", tgid);
}
