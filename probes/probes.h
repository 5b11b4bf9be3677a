/* SPDX-License-Identifier: MIT */
/*
 * probes: the BPF side of ember, embedded in the binary as a libbpf skeleton.
 * struct ember_probe loads the sampler with its settings, attaches the process
 * tracepoints, attaches the sampler to perf events the caller opened, and
 * exposes the maps the collector drains. Shared kernel/user structs are in
 * probes/sampler_abi.h.
 *
 * Thread-safety: none; one thread uses a probe at a time.
 */
#ifndef EMBER_PROBES_H
#define EMBER_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "probes/sampler_abi.h"

struct ember_probe;

struct ember_probe_opts {
	size_t sz; /* sizeof(struct ember_probe_opts) */
	enum ember_filter_mode filter;
	uint64_t cgroup_id;	       /* EMBER_FILTER_CGROUP: cgroup v2 inode id */
	bool follow_children;	       /* EMBER_FILTER_PIDS: add forked children */
	bool no_kernel_stacks;	       /* --user-only */
	bool no_user_stacks;	       /* --kernel-only */
	bool include_idle;	       /* count the idle task (pid 0) */
	uint32_t counts_entries;       /* per generation; 0: 65536 */
	uint32_t stacks_entries;       /* unique stacks per generation (size classes: see
					  set_stack_entries in probes.c); 0: 16384 */
	uint32_t targets_entries;      /* 0: 16384 */
	enum ember_unwind_mode unwind; /* EMBER_UNWIND_FP or EMBER_UNWIND_TABLES */
	bool no_fp_fallback;	       /* tables only: stop where a pc has no table */
	uint32_t unwind_rows;  /* unwind_rows array size (8-byte rows); 0: 4 Mi rows (32 MiB) */
	uint32_t unwind_procs; /* processes with tables at once; 0: 4096 */
	/*
	 * Off-CPU time: load the sched_switch program (attached by
	 * probe__attach_switch). Without it the program is not even verified.
	 */
	bool off_cpu;
	bool no_sampler;	       /* off-CPU only: the perf_event sampler is not loaded */
	uint64_t min_block_ns;	       /* off-CPU intervals shorter than this are not counted */
	uint32_t offcpu_threads;       /* threads tracked at once (offcpu_start map); 0: 32768 */
	const char *switch_tracepoint; /* tests: attach there instead; NULL: "sched_switch" */
	/*
	 * Off-CPU kernel stacks with the scheduler's own frames (schedule,
	 * do_nanosleep, io_schedule, mutex slow paths): walked at every switch-out
	 * instead of at the switch-in of counted intervals (where the kernel's walk of
	 * a sleeping task leaves out __sched functions).
	 */
	bool sched_frames;
};

/* What loading the sampler cost, for -v and the agent's log. */
struct ember_probe_load_info {
	uint64_t load_ns;	 /* wall time of the skeleton load (map creation + verifier) */
	uint32_t verified_insns; /* instructions the verifier processed for ember_sample */
	uint32_t switch_verified_insns; /* likewise for ember_switch (0: not loaded) */
};

/*
 * Opens and loads the sampler. @opts may be NULL. 0 or a negative errno;
 * -EOPNOTSUPP when opts.off_cpu and the kernel's BTF has no sched_switch
 * tracepoint to attach to.
 */
int probe__new(const struct ember_probe_opts *opts, struct ember_probe **out);
void probe__free(struct ember_probe *p);

/* Attaches the fork/exec/exit tracepoints. 0 or a negative errno. */
int probe__attach_tracepoints(struct ember_probe *p);

/* Attaches the sampler to perf event @perf_fd (kept until probe__free). 0 or -errno. */
int probe__attach_perf_event(struct ember_probe *p, int perf_fd);

/* Attaches the sched_switch program (opts.off_cpu). 0 or a negative errno. */
int probe__attach_switch(struct ember_probe *p);

/* Detaches it: no off-CPU interval is counted after this returns. */
void probe__detach_switch(struct ember_probe *p);

/* Detaches the sampler from every perf event (no new samples after this returns). */
void probe__detach_perf_events(struct ember_probe *p);

/* Adds @tgid to the target set (EMBER_FILTER_PIDS). 0 or a negative errno. */
int probe__add_target(struct ember_probe *p, uint32_t tgid);

/*
 * Map fds: counts of generation @gen (0 or 1); stacks of generation @gen and size
 * class @cls (enum ember_stack_class, EMBER_STACK_KEY_CLASS of a stack key; -EINVAL
 * for another value); stats; the events ring buffer.
 */
int probe__counts_fd(const struct ember_probe *p, int gen);
int probe__stacks_fd(const struct ember_probe *p, int gen, unsigned int cls);
int probe__stats_fd(const struct ember_probe *p);
int probe__events_fd(const struct ember_probe *p);
/* fd of the off-CPU threads map (tid -> struct ember_offcpu_start). */
int probe__offcpu_fd(const struct ember_probe *p);

/*
 * Entries of the unwind table array (8-byte rows); 0 without tables. Rows are
 * written with bpf system calls, not through a mapping: the array is kernel
 * memory (charged to the agent's cgroup), outside the process's RSS, where an
 * mmap would have put all of it (the kernel maps every page of an mmapable
 * array at once). Returns 0, -ERANGE past the array, or the syscall's -errno.
 */
uint32_t probe__unwind_nr_rows(const struct ember_probe *p);
int probe__write_unwind_rows(struct ember_probe *p, uint32_t first,
			     const struct ember_unwind_row *rows, uint32_t n);
/* fd of the per-process unwind map (tgid -> struct ember_unwind_proc). */
int probe__unwind_procs_fd(const struct ember_probe *p);
/* fd of the per-file unwind map (struct ember_unwind_file_key -> struct ember_unwind_file). */
int probe__unwind_files_fd(const struct ember_probe *p);

/* Fills @out with the cost of loading the sampler. */
void probe__load_info(const struct ember_probe *p, struct ember_probe_load_info *out);

/* The generation word shared with the sampler (mmap'ed .bss); valid until probe__free. */
struct ember_generation *probe__generation(struct ember_probe *p);

/* The per-CPU inflight slots (mmap'ed), *@nr of them; valid until probe__free. */
struct ember_inflight *probe__inflight(struct ember_probe *p, uint32_t *nr);

#endif /* EMBER_PROBES_H */
