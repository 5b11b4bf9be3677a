/* SPDX-License-Identifier: MIT */
/*
 * Structs and constants shared by the BPF sampler (sampler.bpf.c) and userspace.
 * Everything here crosses the kernel boundary: fixed-width types, explicit
 * padding, no pointers. Userspace checks the sizes with _Static_assert.
 */
#ifndef EMBER_SAMPLER_ABI_H
#define EMBER_SAMPLER_ABI_H

/* Frames (return addresses) per stack; the kernel's perf_event_max_stack default. */
#define EMBER_MAX_STACK_DEPTH 127
#define EMBER_COMM_LEN	      16

/* Which processes the sampler counts. */
enum ember_filter_mode {
	EMBER_FILTER_ALL = 0,	 /* every task (idle excluded unless asked) */
	EMBER_FILTER_PIDS = 1,	 /* tgids in the target_pids map */
	EMBER_FILTER_CGROUP = 2, /* tasks in cgroup v2 id target_cgroup_id */
};

/* Why a sample's kernel or user stack is missing or partial. */
enum ember_stack_status {
	EMBER_STACK_OK = 0,
	EMBER_STACK_NONE = 1,	    /* nothing to collect: user mode (kernel), kthread (user) */
	EMBER_STACK_READ_ERROR = 2, /* the unwinder failed to read the stack */
	EMBER_STACK_MAP_FULL = 3,   /* the stacks map had no room: stack lost */
	EMBER_STACK_TRUNCATED = 4,  /* stored, but depth limit reached: outermost frames cut */
	EMBER_STACK_DISABLED = 5,   /* not collected (--user-only / --kernel-only) */
};

/* Key of the in-kernel counts map: one entry per (thread, kernel stack, user stack). */
struct ember_sample_key {
	__u32 tgid;
	__u32 tid;
	__u64 kstack;	     /* key into the stacks map; 0 when kstack_status says there is none */
	__u64 ustack;	     /* likewise for the user stack */
	__u16 kstack_status; /* enum ember_stack_status */
	__u16 ustack_status;
	__u32 pad;
	char comm[EMBER_COMM_LEN];
};

/* Value of the stacks map, keyed by a 64-bit hash of (kind, ips). */
struct ember_stack {
	__u32 nr;     /* valid entries in ips[], leaf first */
	__u32 kernel; /* 1: kernel addresses, 0: user */
	__u64 ips[EMBER_MAX_STACK_DEPTH];
};

/* Per-CPU statistics, summed by userspace; indices of the stats map. */
enum ember_stat {
	EMBER_STAT_SAMPLES = 0,	      /* samples that passed the filter */
	EMBER_STAT_LOST_COUNTS_FULL,  /* sample dropped: counts map full */
	EMBER_STAT_KSTACK_MAP_FULL,   /* kernel stack dropped: stacks map full */
	EMBER_STAT_USTACK_MAP_FULL,   /* user stack dropped: stacks map full */
	EMBER_STAT_KSTACK_READ_ERROR, /* kernel stack could not be read */
	EMBER_STAT_USTACK_READ_ERROR, /* user stack could not be read */
	EMBER_STAT_KSTACK_TRUNCATED,  /* kernel stack hit EMBER_MAX_STACK_DEPTH */
	EMBER_STAT_USTACK_TRUNCATED,  /* user stack hit EMBER_MAX_STACK_DEPTH */
	EMBER_STAT_EVENTS_LOST,	      /* process event dropped: ring buffer full */
	EMBER_STAT_TARGETS_FULL,      /* child not followed: target_pids map full */
	EMBER_STAT_GENERATION_RETRY,  /* sample raced a buffer flip and moved to the new one */
	EMBER_STAT__COUNT,
};

/* Process events sent to userspace through the events ring buffer. */
enum ember_proc_event_type {
	EMBER_PROC_NEW = 1,  /* first sample of a tgid: read its mappings now */
	EMBER_PROC_EXEC = 2, /* the tgid exec'd: its mappings changed */
	EMBER_PROC_EXIT = 3, /* the tgid exited */
};

struct ember_proc_event {
	__u32 type; /* enum ember_proc_event_type */
	__u32 tgid;
	__u64 time_ns; /* bpf_ktime_get_ns() */
	char comm[EMBER_COMM_LEN];
};

/*
 * Double buffering. The sampler writes into counts/stacks map number `active`
 * (0 or 1) and counts itself in inflight[active] while it does; userspace flips
 * `active`, waits for inflight[old] to reach 0, then drains map `old`. See
 * agg/collector.c for why no sample is lost or counted twice.
 */
struct ember_generation {
	__u32 active;
	__u32 pad;
	__s64 inflight[2];
};

#endif /* EMBER_SAMPLER_ABI_H */
