// SPDX-License-Identifier: MIT
/*
 * Perf side-band records: dummy events with mmap2 + build_id, comm + comm_exec
 * and task records, one per online CPU, each with its own mmap'ed ring buffer.
 * Records from all CPUs are merged by their timestamps (sample_id_all with
 * PERF_SAMPLE_TIME), because a process can fork on one CPU and mmap on another.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "sideband.h"
#include "support/support.h"

#define RING_PAGES    64 /* data pages per CPU: 256 KiB, room for thousands of records */
#define PROT_EXEC_BIT 4

struct ring {
	int fd;
	struct perf_event_mmap_page *meta;
	uint8_t *data;
	size_t size; /* bytes of data */
};

/* A copied record awaiting its turn in time order. */
struct pending {
	uint64_t time;
	size_t offset, len; /* into the copy buffer */
	uint32_t seq;	    /* arrival order, for a stable sort */
};

struct sideband {
	struct ring *rings;
	size_t nr_rings;
	int *fds;
	long page;
	uint64_t lost;
	uint8_t *copy; /* records copied out of the rings */
	size_t copy_len, copy_cap;
	struct pending *pending;
	size_t nr_pending, cap_pending;
};

static int open_ring(struct sideband *sb, int cpu, struct ring *r)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_SOFTWARE,
	    .size = sizeof(attr),
	    .config = PERF_COUNT_SW_DUMMY,
	    .sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME,
	    .sample_id_all = 1,
	    .mmap = 1,
	    .mmap2 = 1,
	    .build_id = 1,
	    .comm = 1,
	    .comm_exec = 1,
	    .task = 1,
	    .watermark = 0,
	    .wakeup_events = 1, /* wake the poller per record: processes may be short */
	};
	void *base;

	r->fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	r->size = (size_t)RING_PAGES * (size_t)sb->page;
	base = mmap(NULL, r->size + (size_t)sb->page, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (base == MAP_FAILED) {
		int err = -errno;

		close(r->fd);
		r->fd = -1;
		return err;
	}
	r->meta = base;
	r->data = (uint8_t *)base + sb->page;
	return 0;
}

int sideband__new(const char *online, struct sideband **out)
{
	struct sideband *sb = calloc(1, sizeof(*sb));
	long nr_cpus = sysconf(_SC_NPROCESSORS_CONF);
	int cpu, err = 0;

	if (!sb)
		return -ENOMEM;
	sb->page = sysconf(_SC_PAGESIZE);
	sb->rings = calloc((size_t)nr_cpus, sizeof(*sb->rings));
	sb->fds = calloc((size_t)nr_cpus, sizeof(*sb->fds));
	if (!sb->rings || !sb->fds) {
		err = -ENOMEM;
		goto err_out;
	}
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		struct ring *r = &sb->rings[sb->nr_rings];

		if (online && !ember_cpu_in_list(online, cpu))
			continue;
		err = open_ring(sb, cpu, r);
		if (err == -ENODEV)
			continue; /* went offline */
		if (err) {
			pr_err("perf_event_open (side-band records, cpu %d): %s", cpu,
			       strerror(-err));
			goto err_out;
		}
		sb->fds[sb->nr_rings++] = r->fd;
	}
	*out = sb;
	return 0;
err_out:
	sideband__free(sb);
	return err;
}

void sideband__free(struct sideband *sb)
{
	size_t i;

	if (!sb)
		return;
	for (i = 0; i < sb->nr_rings; i++) {
		munmap(sb->rings[i].meta, sb->rings[i].size + (size_t)sb->page);
		close(sb->rings[i].fd);
	}
	free(sb->rings);
	free(sb->fds);
	free(sb->copy);
	free(sb->pending);
	free(sb);
}

size_t sideband__fds(const struct sideband *sb, const int **fds)
{
	*fds = sb->fds;
	return sb->nr_rings;
}

uint64_t sideband__lost(const struct sideband *sb)
{
	return sb->lost;
}

/* Copies every available record of @r into sb->copy and queues it; frees the ring's room. */
static int take_ring(struct sideband *sb, struct ring *r)
{
	uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->meta->data_tail;
	int err = 0;

	while (tail < head) {
		struct perf_event_header hdr;
		size_t off = tail % r->size, first;
		struct pending *pd;
		uint8_t *dst;

		/* The header itself may straddle the end of the ring. */
		first = r->size - off < sizeof(hdr) ? r->size - off : sizeof(hdr);
		memcpy(&hdr, r->data + off, first);
		memcpy((uint8_t *)&hdr + first, r->data, sizeof(hdr) - first);
		if (hdr.size < sizeof(hdr) || hdr.size > head - tail)
			break; /* malformed: drop the rest of this batch */
		err = ember_grow((void **)&sb->copy, &sb->copy_cap, sb->copy_len + hdr.size, 1);
		if (!err)
			err = ember_grow((void **)&sb->pending, &sb->cap_pending,
					 sb->nr_pending + 1, sizeof(*sb->pending));
		if (err)
			break;
		dst = sb->copy + sb->copy_len;
		first = r->size - off < hdr.size ? r->size - off : hdr.size;
		memcpy(dst, r->data + off, first);
		memcpy(dst + first, r->data, hdr.size - first);
		pd = &sb->pending[sb->nr_pending];
		pd->offset = sb->copy_len;
		pd->len = hdr.size;
		pd->seq = (uint32_t)sb->nr_pending;
		/* sample_id_all puts {u32 pid, tid; u64 time} at the end of every record. */
		pd->time = 0;
		if (hdr.size >= sizeof(hdr) + 8)
			memcpy(&pd->time, dst + hdr.size - 8, 8);
		sb->nr_pending++;
		sb->copy_len += hdr.size;
		tail += hdr.size;
	}
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
	return err;
}

static int by_time(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Decodes one record into @e; false for records ember does not use. */
static bool decode(const uint8_t *rec, size_t len, struct sideband_event *e, uint64_t *lost)
{
	const struct perf_event_header *hdr = (const void *)rec;
	const uint8_t *body = rec + sizeof(*hdr), *end = rec + len - 16; /* minus sample_id */
	uint32_t u32[4];

	memset(e, 0, sizeof(*e));
	if (len < sizeof(*hdr) + 16)
		return false;
	switch (hdr->type) {
	case PERF_RECORD_MMAP2: {
		/* pid, tid, addr, len, pgoff, (maj min ino ino_gen | build-id), prot, flags, name */
		uint64_t u64[3];
		uint32_t prot;
		const uint8_t *id = body + 8 + 24;

		if (end - body < 8 + 24 + 24 + 8)
			return false;
		memcpy(u32, body, 8);
		memcpy(u64, body + 8, 24);
		memcpy(&prot, body + 8 + 24 + 24, 4);
		if (!(prot & PROT_EXEC_BIT))
			return false;
		e->kind = SIDEBAND_MMAP;
		e->pid = u32[0];
		e->start = u64[0];
		e->len = u64[1];
		e->pgoff = u64[2];
		if (hdr->misc & PERF_RECORD_MISC_MMAP_BUILD_ID && id[0] && id[0] <= 20) {
			e->build_id = id + 4;
			e->build_id_len = id[0];
		}
		e->path = (const char *)(body + 8 + 24 + 24 + 8);
		/* The name is NUL-padded to 8 bytes; make sure it ends inside the record. */
		return memchr(e->path, '\0', (size_t)(end - (const uint8_t *)e->path)) != NULL;
	}
	case PERF_RECORD_COMM:
		if (!(hdr->misc & PERF_RECORD_MISC_COMM_EXEC) || end - body < 9)
			return false;
		memcpy(u32, body, 8);
		if (u32[0] != u32[1])
			return false; /* a thread renaming itself is not an exec */
		e->kind = SIDEBAND_EXEC;
		e->pid = u32[0];
		e->path = (const char *)(body + 8);
		return memchr(e->path, '\0', (size_t)(end - (const uint8_t *)e->path)) != NULL;
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		if (end - body < 16)
			return false;
		memcpy(u32, body, 16); /* pid, ppid, tid, ptid */
		if (hdr->type == PERF_RECORD_FORK && u32[0] == u32[1])
			return false; /* a new thread in the same process */
		if (hdr->type == PERF_RECORD_EXIT && u32[0] != u32[2])
			return false; /* a thread, not the process */
		e->kind = hdr->type == PERF_RECORD_FORK ? SIDEBAND_FORK : SIDEBAND_EXIT;
		e->pid = u32[0];
		e->ppid = u32[1];
		return true;
	case PERF_RECORD_LOST: {
		uint64_t n;

		if (end - body < 16)
			return false;
		memcpy(&n, body + 8, 8);
		*lost += n;
		return false;
	}
	default:
		return false;
	}
}

int sideband__consume(struct sideband *sb, sideband_fn fn, void *ctx)
{
	size_t i;
	int err = 0;

	sb->copy_len = 0;
	sb->nr_pending = 0;
	for (i = 0; i < sb->nr_rings && !err; i++)
		err = take_ring(sb, &sb->rings[i]);
	if (sb->nr_pending > 1)
		qsort(sb->pending, sb->nr_pending, sizeof(*sb->pending), by_time);
	for (i = 0; i < sb->nr_pending && !err; i++) {
		struct sideband_event e;

		if (decode(sb->copy + sb->pending[i].offset, sb->pending[i].len, &e, &sb->lost)) {
			e.time_ns = sb->pending[i].time;
			err = fn(ctx, &e);
		}
	}
	return err;
}
