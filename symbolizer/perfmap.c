// SPDX-License-Identifier: MIT
/*
 * JIT symbols from perf maps: a JIT (node --perf-basic-prof, the JVM with
 * perf-map-agent, LuaJIT, ...) writes "/tmp/perf-PID.map" with one line per
 * code blob: "START SIZE name", START and SIZE in hex. The file lives in the
 * process's mount namespace and carries its namespace PID, so it is read
 * through /proc/PID/root with the last NSpid of /proc/PID/status.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The innermost namespace's PID of @pid, or @pid itself. */
static uint32_t ns_pid(uint32_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	uint32_t result = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/status", pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (getline(&line, &cap, f) > 0) {
		char *p, *end;

		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		/* The last number is the PID in the process's own namespace. */
		for (p = line + 6;; p = end) {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			result = (uint32_t)v;
		}
		break;
	}
	free(line);
	fclose(f);
	return result;
}

struct seq_entry {
	struct perfmap_entry e;
	size_t seq;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct seq_entry *x = a, *y = b;

	if (x->e.start != y->e.start)
		return x->e.start < y->e.start ? -1 : 1;
	return x->seq > y->seq ? -1 : x->seq < y->seq;
}

int perfmap__load(uint32_t pid, struct perfmap *pm)
{
	char path[96], *line = NULL;
	struct seq_entry *tmp = NULL;
	size_t cap = 0, out;
	FILE *f = NULL;
	int err = 0;

	memset(pm, 0, sizeof(*pm));
	pm->pid = pid;
	err = ember_strpool__new(&pm->pool);
	if (err)
		goto out;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/root/tmp/perf-%" PRIu32 ".map", pid,
		 ns_pid(pid));
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		pr_debug("symbolizer: pid %" PRIu32 ": %s: %s", pid, path, strerror(-err));
		goto out;
	}
	while (getline(&line, &cap, f) > 0) {
		unsigned long long start, size;
		struct perfmap_entry *e;
		char *p = line, *end;

		start = strtoull(p, &end, 16);
		if (end == p || *end != ' ')
			continue;
		p = end;
		size = strtoull(p, &end, 16);
		if (end == p || *end != ' ' || size == 0)
			continue;
		p = end + 1;
		p[strcspn(p, "\n")] = '\0';
		err = ember_grow((void **)&pm->entries, &pm->cap, pm->nr + 1, sizeof(*pm->entries));
		if (err)
			goto out;
		e = &pm->entries[pm->nr];
		e->start = start;
		e->size = size;
		e->name = ember_strpool__intern(pm->pool, p);
		if (!e->name) {
			err = -ENOMEM;
			goto out;
		}
		pm->nr++;
	}
	/* A JIT may reuse an address range: the line read last describes the
	 * code there now. Sort by start, later lines first, and keep the first
	 * of each start. */
	tmp = calloc(pm->nr ? pm->nr : 1, sizeof(*tmp));
	if (!tmp) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < pm->nr; i++) {
		tmp[i].e = pm->entries[i];
		tmp[i].seq = i;
	}
	qsort(tmp, pm->nr, sizeof(*tmp), entry_cmp);
	out = 0;
	for (size_t i = 0; i < pm->nr; i++) {
		if (out && pm->entries[out - 1].start == tmp[i].e.start)
			continue;
		pm->entries[out++] = tmp[i].e;
	}
	pm->nr = out;
	pm->loaded = true;
out:
	free(tmp);
	free(line);
	if (f)
		fclose(f);
	if (err)
		perfmap__fini(pm);
	return err;
}

void perfmap__fini(struct perfmap *pm)
{
	free(pm->entries);
	pm->entries = NULL;
	pm->nr = pm->cap = 0;
	ember_strpool__free(pm->pool);
	pm->pool = NULL;
}

size_t perfmap__bytes(const struct perfmap *pm)
{
	return pm->cap * sizeof(*pm->entries) + (pm->pool ? ember_strpool__bytes(pm->pool) : 0);
}

const struct perfmap_entry *perfmap__find(const struct perfmap *pm, uint64_t addr)
{
	size_t lo = 0, hi = pm->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->entries[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	if (addr - pm->entries[lo - 1].start >= pm->entries[lo - 1].size)
		return NULL;
	return &pm->entries[lo - 1];
}
