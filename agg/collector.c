// SPDX-License-Identifier: MIT
/*
 * The collector: one cpu-clock perf event per online CPU with the sampler
 * attached, a ring buffer of process events that keeps the process tracker
 * current, and drains of the double-buffered in-kernel maps into a profile.
 *
 * Why a drain never loses or double-counts a sample: the sampler increments
 * its CPU's inflight slot count[g] (an atomic, so a full barrier) before it
 * touches maps of generation g, then re-reads gen.active and moves to the
 * other generation if it changed. A drain stores the flipped gen.active, issues
 * a full fence, and waits for every CPU's count[old] to reach 0. By the
 * store-buffer argument, every sampler run either saw the flip (and writes the
 * new generation) or is counted in its slot when the drain reads it (and the
 * drain waits for it). After the wait nothing writes generation old, so reading
 * and deleting its entries cannot race with an increment: each sample is read
 * exactly once. Slots are per CPU (a cache line each) so sampling CPUs never
 * contend on one line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agg/agg.h"
#include "counters.h"
#include "probes/probes.h"
#include "offcpu.h"
#include "proc_tracker.h"
#include "sideband.h"
#include "unwind_loader.h"
#include "support/support.h"
#include "symbolizer/symbolizer.h"

#define KERNEL_START	   0xffff800000000000ull
#define FLIP_WAIT_LIMIT_NS 1000000000ull /* a sampler run takes microseconds */

struct ember_collector {
	struct ember_collector_opts opts;
	struct ember_probe *probe;
	struct ring_buffer *events;
	struct proc_tracker *procs;
	struct unwind_loader *unwind; /* NULL with --unwind=fp */
	struct sideband *sideband;    /* NULL when the kernel refused the side-band events */
	int epoll_fd;		      /* the events ring buffer and every side-band ring */
	uint32_t *dirty;	      /* targets whose mappings changed in this batch */
	uint32_t *targets;	      /* tgids the sampler announced, still alive */
	size_t nr_targets, cap_targets;
	struct ember_index *target_index;
	size_t nr_dirty, cap_dirty;
	uint64_t last_sideband_lost;
	uint64_t max_handling_ns; /* longest event handling of one poll since the last drain */
	bool load_reported;	  /* sampler.load_ns went into a drain */
	int *perf_fds;
	unsigned int nr_perf_fds;
	unsigned int nr_cpus_sampled; /* kept after stop, for summaries */
	int nr_possible_cpus;
	uint64_t last_stats[EMBER_STAT__COUNT];
	uint64_t window_start_real_ns, window_start_mono_ns;
	/* Reused between drains: no allocation per sample. */
	struct ember_sample_key *keys;
	__u64 *values;
	size_t cap_batch;
	__u64 *stack_keys; /* keys of a generation's stacks map, for the batch delete */
	size_t cap_stack_keys;
	uint32_t *stack_locs;
	size_t cap_stack_locs;
	struct ember_stack *stack_buf;
};

/* ---- targets: processes the sampler announced ------------------------- */

static bool target_eq(const void *ctx, uint32_t index)
{
	const struct ember_collector *c = ((const void *const *)ctx)[0];
	const uint32_t *tgid = ((const void *const *)ctx)[1];

	return c->targets[index] == *tgid;
}

static bool is_target(const struct ember_collector *c, uint32_t tgid)
{
	const void *ctx[2] = {c, &tgid};

	return ember_index__find(c->target_index, ember_hash_u64(0x7a9, tgid), target_eq, ctx) >= 0;
}

static int add_target(struct ember_collector *c, uint32_t tgid)
{
	if (is_target(c, tgid))
		return 0;
	if (ember_grow((void **)&c->targets, &c->cap_targets, c->nr_targets + 1,
		       sizeof(*c->targets)) ||
	    ember_index__insert(c->target_index, ember_hash_u64(0x7a9, tgid),
				(uint32_t)c->nr_targets))
		return -ENOMEM;
	c->targets[c->nr_targets++] = tgid;
	return 0;
}

/* Drops exited targets (rebuilding the small index): called once per drain. */
static void reap_targets(struct ember_collector *c)
{
	size_t i, kept = 0;

	for (i = 0; i < c->nr_targets; i++)
		if (proc_tracker__known(c->procs, c->targets[i]))
			c->targets[kept++] = c->targets[i];
	if (kept == c->nr_targets)
		return;
	c->nr_targets = kept;
	ember_index__clear(c->target_index);
	for (i = 0; i < kept; i++)
		ember_index__insert(c->target_index, ember_hash_u64(0x7a9, c->targets[i]),
				    (uint32_t)i); /* cannot fail: the table only shrank */
}

/*
 * A target's mappings changed: republish its unwind tables and let the
 * symbolizer open the new files while the process is alive (deleted binaries,
 * other mount namespaces, processes gone by the end of the recording).
 */
static int process_changed(struct ember_collector *c, uint32_t tgid)
{
	const struct proc_mapping *maps;
	size_t n = proc_tracker__mappings(c->procs, tgid, &maps), i;
	int err = 0;

	if (c->unwind)
		err = unwind_loader__load(c->unwind, tgid, maps, n);
	for (i = 0; !err && c->opts.preload && i < n; i++) {
		struct ember_symbolize_request req = {.pid = tgid,
						      .path = maps[i].path,
						      .build_id = maps[i].build_id,
						      .map_start = maps[i].start,
						      .map_offset = maps[i].offset};

		if (maps[i].path[0] == '/' && symbolizer__preload(c->opts.preload, &req) == -ENOMEM)
			err = -ENOMEM;
	}
	return err;
}

/* Remembers that @tgid's tables must be republished at the end of this batch. */
static int mark_dirty(struct ember_collector *c, uint32_t tgid)
{
	size_t i;

	for (i = 0; i < c->nr_dirty; i++)
		if (c->dirty[i] == tgid)
			return 0;
	if (ember_grow((void **)&c->dirty, &c->cap_dirty, c->nr_dirty + 1, sizeof(*c->dirty)))
		return -ENOMEM;
	c->dirty[c->nr_dirty++] = tgid;
	return 0;
}

static void forget(struct ember_collector *c, uint32_t tgid)
{
	size_t i;

	/*
	 * A publication still pending would be queued after the forget and put a
	 * dead process back into unwind_procs (which then fills with them: a
	 * vfork loop filled its 4096 entries in a second).
	 */
	for (i = 0; i < c->nr_dirty; i++)
		if (c->dirty[i] == tgid)
			c->dirty[i--] = c->dirty[--c->nr_dirty];
	proc_tracker__exited(c->procs, tgid);
	if (c->unwind)
		unwind_loader__forget(c->unwind, tgid);
}

/* Perf side-band records: mappings as they are created, exec, fork, exit. */
static int handle_sideband(void *ctx, const struct sideband_event *e)
{
	struct ember_collector *c = ctx;
	char hex[2 * 20 + 1];
	bool copied;
	int err = 0, i;

	switch (e->kind) {
	case SIDEBAND_MMAP:
		for (i = 0; i < e->build_id_len; i++)
			snprintf(hex + 2 * i, 3, "%02x", e->build_id[i]);
		hex[2 * e->build_id_len] = '\0';
		err = proc_tracker__add_mapping(c->procs, e->pid, e->start, e->start + e->len,
						e->pgoff, e->path, e->build_id_len ? hex : NULL);
		/*
		 * Side-band records cover every process; tables are only for those the
		 * sampler announced (targets), which are already published.
		 */
		if (!err && is_target(c, e->pid))
			err = mark_dirty(c, e->pid);
		break;
	case SIDEBAND_EXEC:
		err = proc_tracker__exec(c->procs, e->pid, e->path);
		break;
	case SIDEBAND_FORK:
		err = proc_tracker__fork(c->procs, e->pid, e->ppid, &copied);
		if (!err && !copied) /* a parent from before we started: ask /proc */
			err = proc_tracker__scan(c->procs, e->pid, NULL, false) == -ENOMEM ? -ENOMEM
											   : 0;
		/* A target's child is a target (--children, -- CMD): publish it at once. */
		if (!err && is_target(c, e->ppid))
			err = add_target(c, e->pid) ?: mark_dirty(c, e->pid);
		break;
	case SIDEBAND_EXIT:
		forget(c, e->pid);
		break;
	}
	return err;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct ember_collector *c = ctx;
	const struct ember_proc_event *e = data;
	char comm[EMBER_COMM_LEN + 1];
	int err;

	if (size < sizeof(*e))
		return 0;
	memcpy(comm, e->comm, EMBER_COMM_LEN);
	comm[EMBER_COMM_LEN] = '\0';
	if (e->type != EMBER_PROC_EXIT) {
		err = add_target(c, e->tgid);
		if (err)
			return err;
	}
	switch (e->type) {
	case EMBER_PROC_NEW:
	case EMBER_PROC_EXEC:
		/* Side-band records already describe processes started since we began. */
		if (c->sideband && proc_tracker__known(c->procs, e->tgid)) {
			err = mark_dirty(c, e->tgid);
			if (err)
				return err;
			break;
		}
		/* A process from before we started, or no side-band: read /proc. */
		__attribute__((fallthrough));
	case EMBER_PROC_RESCAN:
		err = proc_tracker__scan(c->procs, e->tgid, comm, e->type == EMBER_PROC_EXEC);
		if (err == -ENOMEM)
			return err;
		if (err) {
			pr_debug("pid %u (%s) exited before its mappings were read", e->tgid, comm);
			break;
		}
		err = mark_dirty(c, e->tgid);
		if (err)
			return err;
		break;
	case EMBER_PROC_EXIT:
		forget(c, e->tgid);
		break;
	}
	return 0;
}

/*
 * Map sizes from what one drain window can hold: at most frequency x CPUs x
 * window samples, each with one count entry and up to @per_sample stacks (kernel
 * and user). A quarter more for late drains, at least 1024, at most 65536 counts
 * or 32768 stacks (1293 bytes of values each over the size classes, see
 * probes.c): beyond that, overflow is counted as loss.
 */
static uint32_t default_entries(const struct ember_collector *c, uint32_t per_sample)
{
	uint64_t window_ms = c->opts.window_ms ? c->opts.window_ms : 5000;
	uint64_t n = (uint64_t)c->opts.frequency_hz * (uint64_t)c->nr_possible_cpus * window_ms /
		     1000 * per_sample * 5 / 4;
	uint64_t cap = per_sample == 1 ? 65536 : 32768;
	/*
	 * Off-CPU keys are (thread, stacks) pairs of every switch, not of the timer's
	 * samples: the frequency says nothing of them.
	 */
	uint64_t floor = c->opts.mode == EMBER_MODE_CPU ? 1024 : 8192 * per_sample;

	return (uint32_t)(n < floor ? floor : n > cap ? cap : n);
}

/*
 * One epoll set for the sampler's ring buffer (through libbpf's epoll fd) and the
 * side-band rings. Without side-band events (an old or locked-down kernel) the
 * collector still works from /proc, announced by the sampler.
 */
static int open_sideband(struct ember_collector *c)
{
	struct epoll_event ev = {.events = EPOLLIN};
	char online[4096];
	const int *fds;
	size_t n, i;
	int err;

	c->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epoll_fd < 0)
		return -errno;
	if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(c->events), &ev))
		return -errno;
	ember_online_cpus(online, sizeof(online));
	err = sideband__new(online, &c->sideband);
	if (err) {
		pr_warn("no perf side-band records (%s): short-lived processes may lose symbols",
			strerror(-err));
		c->sideband = NULL;
		return 0;
	}
	n = sideband__fds(c->sideband, &fds);
	for (i = 0; i < n; i++)
		if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, fds[i], &ev))
			return -errno;
	return 0;
}

int collector__new(const struct ember_collector_opts *opts, struct ember_collector **out)
{
	struct ember_probe_opts po = {.sz = sizeof(po)};
	struct ember_collector *c;
	size_t i;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->epoll_fd = -1;
	if (opts)
		memcpy(&c->opts, opts, opts->sz < sizeof(c->opts) ? opts->sz : sizeof(c->opts));
	if (!c->opts.frequency_hz)
		c->opts.frequency_hz = 99;
	c->opts.pids = NULL; /* not kept: copied into the kernel below */
	c->nr_possible_cpus = libbpf_num_possible_cpus();
	if (c->nr_possible_cpus <= 0) {
		err = c->nr_possible_cpus ? c->nr_possible_cpus : -EINVAL;
		goto err_out;
	}
	c->stack_buf = malloc(sizeof(*c->stack_buf));
	if (!c->stack_buf) {
		err = -ENOMEM;
		goto err_out;
	}
	err = proc_tracker__new(&c->procs);
	if (!err)
		err = ember_index__new(&c->target_index);
	if (err)
		goto err_out;

	po.filter = (enum ember_filter_mode)c->opts.target;
	po.cgroup_id = c->opts.cgroup_id;
	po.follow_children = c->opts.children;
	po.no_kernel_stacks = c->opts.no_kernel_stacks;
	po.no_user_stacks = c->opts.no_user_stacks;
	po.include_idle = c->opts.include_idle;
	po.counts_entries = c->opts.counts_entries ?: default_entries(c, 1);
	po.stacks_entries = c->opts.stacks_entries ?: default_entries(c, 2);
	po.unwind = c->opts.unwind == EMBER_UNWIND_FP_ONLY ? EMBER_UNWIND_FP : EMBER_UNWIND_TABLES;
	po.no_fp_fallback = c->opts.unwind == EMBER_UNWIND_DWARF;
	po.unwind_rows = c->opts.unwind_rows;
	po.off_cpu = c->opts.mode != EMBER_MODE_CPU;
	po.no_sampler = c->opts.mode == EMBER_MODE_OFF_CPU;
	po.min_block_ns = c->opts.mode == EMBER_MODE_OFF_CPU ? c->opts.min_block_ns : 0;
	po.offcpu_threads = c->opts.offcpu_threads;
	po.switch_tracepoint = c->opts.switch_tracepoint;
	po.sched_frames = c->opts.sched_frames;
	err = probe__new(&po, &c->probe);
	if (err)
		goto err_out;
	if (po.unwind == EMBER_UNWIND_TABLES) {
		err = unwind_loader__new(c->probe, c->opts.unwind_cache_dir,
					 c->opts.unwind_cache_bytes ? c->opts.unwind_cache_bytes
								    : EMBER_UNWIND_CACHE_BYTES,
					 &c->unwind);
		if (err)
			goto err_out;
	}
	err = probe__attach_tracepoints(c->probe);
	if (err)
		goto err_out;
	for (i = 0; opts && i < opts->nr_pids; i++) {
		err = collector__add_target(c, opts->pids[i]);
		if (err)
			goto err_out;
	}
	c->events = ring_buffer__new(probe__events_fd(c->probe), handle_event, c, NULL);
	if (!c->events) {
		err = -errno;
		goto err_out;
	}
	err = open_sideband(c);
	if (err)
		goto err_out;
	c->window_start_real_ns = ember_now_real_ns();
	c->window_start_mono_ns = ember_now_mono_ns();
	*out = c;
	return 0;
err_out:
	collector__free(c);
	return err;
}

void collector__free(struct ember_collector *c)
{
	if (!c)
		return;
	collector__stop(c);
	if (c->epoll_fd >= 0)
		close(c->epoll_fd);
	sideband__free(c->sideband);
	free(c->dirty);
	free(c->targets);
	ember_index__free(c->target_index);
	ring_buffer__free(c->events);
	unwind_loader__free(c->unwind);
	probe__free(c->probe);
	proc_tracker__free(c->procs);
	free(c->perf_fds);
	free(c->keys);
	free(c->values);
	free(c->stack_locs);
	free(c->stack_keys);
	free(c->stack_buf);
	free(c);
}

int collector__add_target(struct ember_collector *c, uint32_t pid)
{
	int err = probe__add_target(c->probe, pid);

	if (err)
		pr_err("cannot add pid %u to the targets: %d", pid, err);
	return err;
}

int collector__preload_files(struct ember_collector *c, const char *const *paths, size_t n,
			     int timeout_ms)
{
	return c->unwind && n ? unwind_loader__preload(c->unwind, paths, n, timeout_ms) : 0;
}

int collector__start(struct ember_collector *c)
{
	char online[4096];
	int cpu, err = 0;

	ember_online_cpus(online, sizeof(online));
	c->perf_fds = calloc((size_t)c->nr_possible_cpus, sizeof(*c->perf_fds));
	if (!c->perf_fds)
		return -ENOMEM;
	if (c->opts.mode != EMBER_MODE_CPU) {
		err = probe__attach_switch(c->probe);
		if (err)
			goto err_out;
	}
	for (cpu = 0; cpu < c->nr_possible_cpus && c->opts.mode != EMBER_MODE_OFF_CPU; cpu++) {
		struct perf_event_attr attr = {
		    .type = PERF_TYPE_SOFTWARE,
		    .size = sizeof(attr),
		    .config = PERF_COUNT_SW_CPU_CLOCK,
		    .sample_freq = c->opts.frequency_hz,
		    .freq = 1,
		};
		int fd;

		if (!ember_cpu_in_list(online, cpu))
			continue;
		fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			if (err == -ENODEV) /* went offline meanwhile */
				continue;
			pr_err("perf_event_open (cpu-clock, cpu %d, %u Hz): %s", cpu,
			       c->opts.frequency_hz, strerror(-err));
			goto err_out;
		}
		c->perf_fds[c->nr_perf_fds++] = fd;
		err = probe__attach_perf_event(c->probe, fd);
		if (err)
			goto err_out;
	}
	if (!c->nr_perf_fds && c->opts.mode != EMBER_MODE_OFF_CPU) {
		err = -ENODEV;
		goto err_out;
	}
	c->nr_cpus_sampled = c->nr_perf_fds;
	if (c->opts.mode == EMBER_MODE_OFF_CPU) /* sched_switch runs on every online CPU */
		c->nr_cpus_sampled = (unsigned int)libbpf_num_possible_cpus();
	c->window_start_real_ns = ember_now_real_ns();
	c->window_start_mono_ns = ember_now_mono_ns();
	return 0;
err_out:
	collector__stop(c);
	return err;
}

void collector__stop(struct ember_collector *c)
{
	unsigned int i;

	if (c->probe) {
		probe__detach_perf_events(c->probe);
		probe__detach_switch(c->probe);
	}
	for (i = 0; i < c->nr_perf_fds; i++)
		close(c->perf_fds[i]);
	c->nr_perf_fds = 0;
}

int collector__poll(struct ember_collector *c, int timeout_ms)
{
	struct epoll_event ev[8];
	uint64_t t0, took;
	int n, err = 0;
	size_t i;

	n = epoll_wait(c->epoll_fd, ev, 8, timeout_ms);
	if (n < 0 && errno != EINTR)
		return -errno;
	/* How long events wait behind the handling of others: the event loop's stall. */
	t0 = ember_now_mono_ns();
	/* Side-band first: mappings must be known before the sampler's events are handled. */
	if (c->sideband) {
		err = sideband__consume(c->sideband, handle_sideband, c);
		if (err)
			return err;
	}
	n = ring_buffer__consume(c->events);
	if (n < 0)
		return n;
	for (i = 0; i < c->nr_dirty && !err; i++)
		if (proc_tracker__known(c->procs, c->dirty[i]))
			err = process_changed(c, c->dirty[i]);
	c->nr_dirty = 0;
	took = ember_now_mono_ns() - t0;
	if (took > c->max_handling_ns)
		c->max_handling_ns = took;
	return err ? err : n;
}

unsigned int collector__nr_cpus(const struct ember_collector *c)
{
	return c->nr_cpus_sampled;
}

int collector__take_exited(struct ember_collector *c, uint32_t **pids, size_t *nr)
{
	return proc_tracker__take_reaped(c->procs, pids, nr);
}

/* Flips the generation and waits until no sampler run still writes the old one. */
static int flip_generation(struct ember_collector *c, int *old)
{
	struct ember_generation *g = probe__generation(c->probe);
	uint64_t deadline = ember_now_mono_ns() + FLIP_WAIT_LIMIT_NS;
	struct timespec nap = {0, 20000}; /* 20 us */
	struct ember_inflight *slots;
	uint32_t nr, cpu;

	slots = probe__inflight(c->probe, &nr);
	*old = (int)(__atomic_load_n(&g->active, __ATOMIC_RELAXED) & 1);
	__atomic_store_n(&g->active, (__u32)(*old ^ 1), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (cpu = 0; cpu < nr; cpu++) {
		while (__atomic_load_n(&slots[cpu].count[*old], __ATOMIC_ACQUIRE) != 0) {
			if (ember_now_mono_ns() > deadline) {
				pr_err("sampler still busy in the old window after 1 s; draining "
				       "anyway");
				return -ETIMEDOUT;
			}
			nanosleep(&nap, NULL);
		}
	}
	return 0;
}

static int add_stats(struct ember_collector *c, struct ember_profile *into)
{
	__u64 *percpu;
	__u32 i;
	int cpu, err = 0;

	percpu = calloc((size_t)c->nr_possible_cpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (i = 0; i < EMBER_STAT__COUNT; i++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(probe__stats_fd(c->probe), &i, percpu)) {
			err = -errno;
			break;
		}
		for (cpu = 0; cpu < c->nr_possible_cpus; cpu++)
			sum += percpu[cpu];
		if (!ember_sampler_stat_name(i))
			continue; /* unreachable: the static assert above keeps names complete */
		/* The kernel counters are cumulative; a profile carries its window's share. */
		err =
		    profile__add_counter(into, ember_sampler_stat_name(i), sum - c->last_stats[i]);
		if (err)
			break;
		c->last_stats[i] = sum;
	}
	free(percpu);
	return err;
}

/* A synthetic frame that stands where a stack (or its outer part) is missing. */
static int marker_location(struct ember_profile *p, const char *name, uint32_t *id)
{
	struct ember_frame f = {.function = name, .flags = EMBER_FRAME_MARKER};

	return profile__intern_frames_location(p, &f, 1, id);
}

static const char *status_marker(__u16 status, bool kernel)
{
	switch (status) {
	case EMBER_STACK_READ_ERROR:
		return kernel ? "[kernel stack unreadable]" : "[user stack unreadable]";
	case EMBER_STACK_MAP_FULL:
		return kernel ? "[kernel stack lost: stack map full]"
			      : "[user stack lost: stack map full]";
	case EMBER_STACK_NO_MEMORY:
		return kernel ? "[kernel stack lost: kernel out of memory]"
			      : "[user stack lost: kernel out of memory]";
	case EMBER_STACK_COLLISION:
		return kernel ? "[kernel stack lost: hash collision]"
			      : "[user stack lost: hash collision]";
	case EMBER_STACK_EXPIRED:
		return kernel ? "[kernel stack lost: expired off-CPU]"
			      : "[user stack lost: expired off-CPU]";
	/* Not losses: the process had no user stack at that moment. */
	case EMBER_STACK_EXITING:
		return "[no user stack: exiting]";
	case EMBER_STACK_IN_EXEC:
		return "[no user stack: in execve]";
	default:
		return NULL;
	}
}

/* The root-most frame of a stack whose walk did not reach the outermost frame. */
static const char *unwind_end_marker(unsigned int end)
{
	switch (end) {
	case EMBER_UNWIND_END_READ_FAULT:
		return "[truncated: stack unreadable]";
	case EMBER_UNWIND_END_UNSUPPORTED:
		return "[truncated: unsupported unwind rule]";
	case EMBER_UNWIND_END_BAD_FRAME:
		return "[truncated: bad frame]";
	case EMBER_UNWIND_END_NO_MAPPING:
		return "[truncated: unknown mapping]";
	default:
		return "[truncated]";
	}
}

static int push_loc(struct ember_collector *c, uint32_t *n, uint32_t id)
{
	int err =
	    ember_grow((void **)&c->stack_locs, &c->cap_stack_locs, *n + 1, sizeof(*c->stack_locs));

	if (err)
		return err;
	c->stack_locs[(*n)++] = id;
	return 0;
}

/* Appends the locations of stack @key (kernel or user) of generation @gen. */
static int add_stack(struct ember_collector *c, struct ember_profile *p, int gen, __u64 key,
		     __u16 status, bool kernel, uint32_t tgid, uint32_t kernel_map, uint32_t *n)
{
	const char *marker = status_marker(status, kernel);
	struct ember_stack *st = c->stack_buf;
	uint32_t i, id;
	int err;

	if (marker) {
		err = marker_location(p, marker, &id);
		return err ? err : push_loc(c, n, id);
	}
	if (!key)
		return 0;
	/* The key names its size class; a lookup into the largest struct reads any class. */
	if (bpf_map_lookup_elem(probe__stacks_fd(c->probe, gen, EMBER_STACK_KEY_CLASS(key)), &key,
				st)) {
		err = marker_location(
		    p, kernel ? "[kernel stack unreadable]" : "[user stack unreadable]", &id);
		return err ? err : push_loc(c, n, id);
	}
	for (i = 0; i < st->nr && i < EMBER_MAX_STACK_DEPTH; i++) {
		uint64_t addr = st->ips[i];
		uint32_t mapping_id = 0;

		if (kernel) {
			mapping_id = kernel_map;
		} else {
			const struct proc_mapping *pm = proc_tracker__find(c->procs, tgid, addr);

			if (pm) {
				struct ember_mapping m = {.start = pm->start,
							  .limit = pm->end,
							  .offset = pm->offset,
							  .path = pm->path,
							  .build_id = pm->build_id,
							  .pid = tgid};

				err = profile__intern_mapping(p, &m, &mapping_id);
				if (err)
					return err;
			}
		}
		/* Frames after the leaf are return addresses: symbolized at address - 1. */
		err = profile__intern_location(p, mapping_id, tgid, addr, i > 0, &id);
		if (!err)
			err = push_loc(c, n, id);
		if (err)
			return err;
	}
	if (status == EMBER_STACK_TRUNCATED || st->end != EMBER_UNWIND_END_COMPLETE) {
		err = marker_location(p, unwind_end_marker(st->end), &id);
		if (!err)
			err = push_loc(c, n, id);
	}
	return err;
}

/*
 * Deletes @nr keys of @size bytes from map @fd in one batch syscall where the
 * kernel has it (one per key otherwise). The generation is quiescent, so
 * nothing is inserted meanwhile.
 */
static int delete_keys(int fd, const void *keys, size_t nr, size_t size)
{
	__u32 count = (__u32)nr;
	size_t i;

	if (!nr)
		return 0;
	if (bpf_map_delete_batch(fd, keys, &count, NULL) == 0 && count == nr)
		return 0;
	for (i = 0; i < nr; i++) /* no batch ops (or a partial batch): one by one */
		if (bpf_map_delete_elem(fd, (const char *)keys + i * size) && errno != ENOENT)
			return -errno;
	return 0;
}

/* Reads every (key, count) of the quiescent generation's counts map into c->keys/values. */
static int read_counts(struct ember_collector *c, int counts_fd, size_t *nr)
{
	struct ember_sample_key cur, next;
	bool first = true;
	int err;

	*nr = 0;
	while (bpf_map_get_next_key(counts_fd, first ? NULL : &cur, &next) == 0) {
		size_t cap = c->cap_batch;

		err = ember_grow((void **)&c->keys, &c->cap_batch, *nr + 1, sizeof(*c->keys));
		if (err)
			return err;
		if (c->cap_batch != cap) {
			__u64 *v = realloc(c->values, c->cap_batch * sizeof(*c->values));

			if (!v)
				return -ENOMEM;
			c->values = v;
		}
		if (bpf_map_lookup_elem(counts_fd, &next, &c->values[*nr]) == 0)
			c->keys[(*nr)++] = next;
		cur = next;
		first = false;
	}
	return 0;
}

/*
 * Deletes every stack of a quiescent generation's stacks map @fd, referenced or
 * not: collects the keys, then deletes them in a batch.
 */
static int clear_stacks(struct ember_collector *c, int fd)
{
	size_t nr = 0;
	__u64 next;
	int err;

	while (bpf_map_get_next_key(fd, nr ? &c->stack_keys[nr - 1] : NULL, &next) == 0) {
		err = ember_grow((void **)&c->stack_keys, &c->cap_stack_keys, nr + 1,
				 sizeof(*c->stack_keys));
		if (err)
			return err;
		c->stack_keys[nr++] = next;
	}
	return delete_keys(fd, c->stack_keys, nr, sizeof(*c->stack_keys));
}

static int drain_generation(struct ember_collector *c, struct ember_profile *p, int gen)
{
	struct ember_mapping kmap = {.start = KERNEL_START,
				     .limit = UINT64_MAX,
				     .path = "[kernel.kallsyms]",
				     .flags = EMBER_MAPPING_KERNEL};
	int counts_fd = probe__counts_fd(c->probe, gen);
	uint32_t kernel_map = 0;
	size_t nr, i;
	int err;

	err = read_counts(c, counts_fd, &nr);
	if (err)
		return err;
	err = profile__intern_mapping(p, &kmap, &kernel_map);
	if (err)
		return err;
	for (i = 0; i < nr; i++) {
		const struct ember_sample_key *sk = &c->keys[i];
		struct ember_sample s = {0};
		char comm[EMBER_COMM_LEN + 1];
		uint32_t n = 0, kind, id;
		const char *state;

		memcpy(comm, sk->comm, EMBER_COMM_LEN);
		comm[EMBER_COMM_LEN] = '\0';
		if (sk->tgid && !proc_tracker__known(c->procs, sk->tgid))
			proc_tracker__scan(c->procs, sk->tgid, comm,
					   false); /* event lost or late */
		/* The ABI's kinds are the profile's; anything newer is time asleep. */
		kind = sk->kind <= EMBER_KIND_PREEMPTED ? sk->kind : EMBER_KIND_BLOCKED;
		state = ember_sample_kind_marker(kind);
		err = state ? marker_location(p, state, &id) : 0;
		if (!err && state) /* the leaf: the state is what a waiting stack ends in */
			err = push_loc(c, &n, id);
		if (!err)
			err = add_stack(c, p, gen, sk->kstack, sk->kstack_status, true, sk->tgid,
					kernel_map, &n);
		if (!err)
			err = add_stack(c, p, gen, sk->ustack, sk->ustack_status, false, sk->tgid,
					kernel_map, &n);
		if (err)
			return err;
		s.pid = sk->tgid;
		s.tid = sk->tid;
		s.thread_name = comm;
		s.process_name = sk->tgid ? proc_tracker__name(c->procs, sk->tgid) : NULL;
		if (!s.process_name)
			s.process_name = comm;
		if (sk->tgid && !profile__process(p, sk->tgid)) {
			struct ember_process info;

			if (proc_tracker__process(c->procs, sk->tgid, &info)) {
				err = profile__set_process(p, &info);
				if (err)
					return err;
			}
		}
		s.kind = kind;
		s.count = c->values[i]; /* samples (on-CPU) or ns (off-CPU) */
		/* Wall-clock time: a sample stands for one timer period of CPU time. */
		if (kind == EMBER_KIND_ON_CPU && c->opts.mode == EMBER_MODE_WALL)
			s.count *= 1000000000ull / c->opts.frequency_hz;
		s.nr_locations = n;
		s.locations = c->stack_locs;
		err = profile__add_sample(p, &s);
		if (err)
			return err;
	}
	err = delete_keys(counts_fd, c->keys, nr, sizeof(*c->keys));
	for (i = EMBER_STACK_CLASS_SMALL; !err && i <= EMBER_STACK_CLASS_LARGE; i++)
		err = clear_stacks(c, probe__stacks_fd(c->probe, gen, (unsigned int)i));
	return err;
}

int collector__drain(struct ember_collector *c, struct ember_profile *into)
{
	uint64_t now_real, now_mono;
	int old, err;

	/* Mappings first: a process announced a moment ago must be scanned before use. */
	err = collector__poll(c, 0);
	if (err < 0)
		return err;
	if (flip_generation(c, &old)) {
		/* Never seen: a sampler run takes microseconds. Say so in the profile. */
		err = profile__add_counter(into, "drain.flip_wait_timeouts", 1);
		if (err)
			return err;
	}
	if (c->opts.mode != EMBER_MODE_CPU) {
		/* Before the old generation's stacks are cleared: sleepers still need theirs. */
		err = offcpu_keep_sleepers(c->probe, old, c->stack_buf);
		if (err < 0)
			return err;
		err = profile__add_counter(into, "lost.stack.off_cpu_not_carried", (uint64_t)err);
		if (err)
			return err;
	}
	profile__set_value_type(into, c->opts.mode == EMBER_MODE_OFF_CPU ? EMBER_VALUE_OFF_CPU_NS
				      : c->opts.mode == EMBER_MODE_WALL	 ? EMBER_VALUE_WALL_NS
									 : EMBER_VALUE_SAMPLES);
	err = drain_generation(c, into, old);
	if (err)
		return err;
	err = add_stats(c, into);
	if (!err && !c->load_reported) {
		struct ember_probe_load_info li;

		/* Once: the first window (or a record's merged profile) carries the load cost. */
		probe__load_info(c->probe, &li);
		err = profile__add_counter(into, "sampler.load_ns", li.load_ns);
		err =
		    err ?: profile__add_counter(into, "sampler.verified_insns", li.verified_insns);
		if (!err && li.switch_verified_insns)
			err = profile__add_counter(into, "off_cpu.verified_insns",
						   li.switch_verified_insns);
		c->load_reported = true;
	}
	if (!err && c->unwind)
		err = unwind_loader__add_counters(c->unwind, into);
	if (!err) {
		/* A maximum: a profile that several drains fill keeps the largest. */
		uint64_t had = profile__counter_value(into, "collector.event_handling_max_ns");

		err = profile__add_counter(into, "collector.event_handling_max_ns",
					   c->max_handling_ns > had ? c->max_handling_ns - had : 0);
		c->max_handling_ns = 0;
	}
	if (!err && c->sideband) {
		uint64_t lost = sideband__lost(c->sideband);

		err = profile__add_counter(into, "lost.sideband_records",
					   lost - c->last_sideband_lost);
		c->last_sideband_lost = lost;
	}
	if (err)
		return err;
	now_real = ember_now_real_ns();
	now_mono = ember_now_mono_ns();
	profile__set_frequency(into, c->opts.frequency_hz);
	profile__set_time(into, c->window_start_real_ns,
			  ember_wall_span_ns(c->window_start_real_ns, now_real,
					     now_mono - c->window_start_mono_ns));
	c->window_start_real_ns = now_real;
	c->window_start_mono_ns = now_mono;
	proc_tracker__reap(c->procs);
	reap_targets(c);
	return 0;
}

/*
 * Detaching the perf events does not wait for sampler runs already underway:
 * one may still read gen.active after the first drain's flip and write the
 * other generation. The second drain flips back and waits for it, so its
 * sample (and its bump of sampler.samples) lands in this profile too. After
 * that no run is left and both generations are empty.
 */
int collector__finish(struct ember_collector *c, struct ember_profile *into)
{
	uint64_t end = ember_now_mono_ns();
	int err, n;

	collector__stop(c);
	err = collector__drain(c, into);
	if (!err)
		err = collector__drain(c, into);
	if (err || c->opts.mode == EMBER_MODE_CPU)
		return err;
	/* Threads still off the CPU: up to the end, through one more drain. */
	n = offcpu_sweep(c->probe, (int)(probe__generation(c->probe)->active & 1), end,
			 c->opts.mode == EMBER_MODE_OFF_CPU ? c->opts.min_block_ns : 0,
			 c->opts.sched_frames);
	if (n < 0)
		return n;
	err = profile__add_counter(into, "off_cpu.still_off_cpu_at_end", (uint64_t)n);
	return err ?: collector__drain(c, into);
}
