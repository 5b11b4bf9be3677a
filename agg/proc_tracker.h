/* SPDX-License-Identifier: MIT */
/*
 * Private to agg/: the process and mapping tracker. Remembers, per tgid, the
 * process name and its executable mappings, read from /proc when the sampler
 * first sees the process (or after it exec'd), so stacks can be resolved after
 * the process has exited. Exited processes are forgotten once a drain has used
 * them (proc_tracker__reap).
 */
#ifndef EMBER_PROC_TRACKER_H
#define EMBER_PROC_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proc_tracker;

struct proc_mapping {
	uint64_t start, end;  /* runtime addresses, end exclusive */
	uint64_t offset;      /* file offset of start, bytes */
	const char *path;     /* interned; "[vdso]", "//anon" for anonymous code */
	const char *build_id; /* interned lowercase hex, NULL if none */
};

int proc_tracker__new(struct proc_tracker **out);
void proc_tracker__free(struct proc_tracker *t);

/*
 * (Re)reads /proc/@tgid/maps and comm. With @exec the new mappings take
 * precedence and the old ones stay for samples taken before the exec; without,
 * they replace the newest scan. @comm is the fallback name when /proc is gone.
 * Returns 0, -ESRCH when the process is gone (it is remembered by name only),
 * or -ENOMEM.
 */
int proc_tracker__scan(struct proc_tracker *t, uint32_t tgid, const char *comm, bool exec);

/* The newest scan's mappings of @tgid, sorted by start: sets *@maps, returns how many. */
size_t proc_tracker__mappings(const struct proc_tracker *t, uint32_t tgid,
			      const struct proc_mapping **maps);

/*
 * Event-driven updates (perf side-band records), for processes that may be gone
 * before /proc can be read:
 *  - add_mapping: an executable mapping of @tgid ([@start, @end), file offset
 *    @offset); it replaces whatever the newest scan had in that range. @build_id
 *    (lowercase hex) may be NULL: it is then read from the file when possible.
 *  - exec: @tgid exec'd; later mappings form a new scan (older samples keep the
 *    old image); @comm becomes its name.
 *  - fork: @child starts with @parent's newest mappings and name; false when
 *    the parent is unknown (then scan the child).
 * Return 0 or -ENOMEM.
 */
int proc_tracker__add_mapping(struct proc_tracker *t, uint32_t tgid, uint64_t start, uint64_t end,
			      uint64_t offset, const char *path, const char *build_id);
int proc_tracker__exec(struct proc_tracker *t, uint32_t tgid, const char *comm);
int proc_tracker__fork(struct proc_tracker *t, uint32_t child, uint32_t parent, bool *copied);

/* Marks @tgid as exited: reaped at the next proc_tracker__reap(). */
void proc_tracker__exited(struct proc_tracker *t, uint32_t tgid);

/* Forgets processes marked exited. */
void proc_tracker__reap(struct proc_tracker *t);

/*
 * From the first call on, proc_tracker__reap() keeps the PIDs it forgets;
 * each call moves those kept since the last one into *@pids (malloc'd, the
 * caller frees it; NULL when none) and their number into *@nr. 0 or -ENOMEM
 * (when a PID could not be kept: it is then not reported).
 */
int proc_tracker__take_reaped(struct proc_tracker *t, uint32_t **pids, size_t *nr);

/* Whether @tgid is known (scanned, even if it was gone by then). */
bool proc_tracker__known(const struct proc_tracker *t, uint32_t tgid);

/* The process name of @tgid, NULL when unknown. Valid until proc_tracker__free. */
const char *proc_tracker__name(const struct proc_tracker *t, uint32_t tgid);

/*
 * Fills @out (pid, name, exe, cgroup, container_id; strings valid until
 * proc_tracker__free) for @tgid. Returns false when the process is unknown.
 */
struct ember_process;
bool proc_tracker__process(const struct proc_tracker *t, uint32_t tgid, struct ember_process *out);

/*
 * The container id in cgroup path @cgroup (docker-ID.scope, /docker/ID,
 * cri-containerd-ID.scope, crio-ID.scope, kubepods .../ID): the last run of 64
 * hex digits, copied into @id (>= 65 bytes). Returns false when there is none.
 */
bool proc_tracker__parse_container_id(const char *cgroup, char *id, size_t size);

/* The mapping of @tgid containing @addr, NULL when none. Valid until the next scan/reap. */
const struct proc_mapping *proc_tracker__find(const struct proc_tracker *t, uint32_t tgid,
					      uint64_t addr);

#endif /* EMBER_PROC_TRACKER_H */
