// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ember's sampler: runs on every cpu-clock perf event, decides in the kernel
 * whether the current task is a target, collects its kernel and user stacks
 * and counts the (thread, kernel stack, user stack) triple in a hash map.
 *
 * Stacks are stored in a hash map keyed by a 64-bit hash of their addresses,
 * not in a BPF_MAP_TYPE_STACK_TRACE: a stack-trace map drops (or with
 * BPF_F_REUSE_STACKID overwrites) a stack whenever two stacks share one of its
 * buckets, which is where bcc's profile loses 10-28% of samples. A hash map
 * only fails when it is full, and that is counted. The stack storage (size
 * classes, hash, compare, store) is in stacks.bpf.h.
 *
 * The user-stack step is collect_user_stack(): the kernel's frame-pointer walk
 * (bpf_get_stack), or a bpf_loop walk driven by .eh_frame tables.
 *
 * Verifier cost is a start-up cost (every `ember record`, every agent start and
 * SIGHUP), so every loop lives in a global function (hash_stack, same_small /
 * same_medium / same_large, store_in_class, find_mapping_index, find_row_index,
 * unwind_step): the verifier checks a
 * global function once, with unknown arguments, where an inlined loop is
 * checked again for every state that reaches it. Global functions take
 * scalars and pointers to structs of scalars only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "sampler_abi.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define PF_KTHREAD 0x00200000

/* Settings, fixed between open and load. */
const volatile __u32 filter_mode = EMBER_FILTER_ALL;
const volatile __u64 target_cgroup_id = 0;
const volatile bool follow_children = false;
const volatile bool collect_kernel = true;
const volatile bool collect_user = true;
const volatile bool include_idle = false;
const volatile __u32 unwind_mode = EMBER_UNWIND_FP;
const volatile bool fp_fallback = true; /* --unwind=dwarf turns it off */
/*
 * Frames bpf_get_stack returns at most: min(slots, perf_event_max_stack sysctl).
 * A stack that long may have been cut, so it is marked truncated.
 */
const volatile __u32 kernel_max_frames = EMBER_MAX_KERNEL_FRAMES - 1;
const volatile __u32 fp_user_max_frames = EMBER_MAX_KERNEL_FRAMES - 1;

/* Shared with userspace through the mmap'ed .bss. */
struct ember_generation gen = {};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* one per possible CPU; resized by userspace */
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct ember_inflight);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* resized by userspace */
	__type(key, struct ember_sample_key);
	__type(value, __u64);
} counts0 SEC(".maps"), counts1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* resized by userspace */
	__type(key, __u32);	    /* tgid */
	__type(value, __u8);	    /* 1 */
} target_pids SEC(".maps");

/* tgids already announced to userspace; LRU so a long run never fills it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, __u8);
} seen_tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024); /* bytes */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EMBER_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Unwind tables of every loaded file, back to back; userspace writes them in batches. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4 << 20); /* rows (32 MiB); resized by userspace */
	__type(key, __u32);
	__type(value, struct ember_unwind_row);
} unwind_rows SEC(".maps");

/* Per process: its executable mappings and where their tables are. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* processes; resized by userspace */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32); /* tgid */
	__type(value, struct ember_unwind_proc);
} unwind_procs SEC(".maps");

/* Scratch space for one kernel and one user stack per CPU (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct ember_stack);
} scratch SEC(".maps");

/*
 * Threads inside execve() past its point of no return (sched_prepare_exec),
 * with the mm they had then: once current->mm differs, the old image is gone
 * while the registers saved at the syscall are still the old image's, so a
 * walk would read the new image's memory with them. Cleared at
 * sched_process_exec; LRU, so a thread killed in between leaves no trace.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* tid */
	__type(value, __u64); /* the old mm's address */
} exec_old_mm SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1; /* per-CPU slot, and perf_event programs do not nest on a CPU */
}

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v;

	if (!n)
		return;
	v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += n;
}

static __always_inline bool is_target(__u32 tgid)
{
	if (filter_mode == EMBER_FILTER_PIDS)
		return bpf_map_lookup_elem(&target_pids, &tgid) != NULL;
	if (filter_mode == EMBER_FILTER_CGROUP)
		return bpf_get_current_cgroup_id() == target_cgroup_id;
	return true;
}

/* Returns false when the event was lost (ring buffer full). */
static __always_inline bool announce(__u32 type, __u32 tgid)
{
	struct ember_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_inc(EMBER_STAT_EVENTS_LOST);
		return false;
	}
	e->type = type;
	e->tgid = tgid;
	e->time_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return true;
}

/* The first sample (or switch) of @tgid tells userspace to read its mappings. */
static __always_inline void announce_new(__u32 tgid)
{
	__u8 yes = 1;

	/* Lookup first: an update of an LRU hash costs ~0.4 us even when the key exists. */
	if (tgid && !bpf_map_lookup_elem(&seen_tgids, &tgid) &&
	    bpf_map_update_elem(&seen_tgids, &tgid, &yes, BPF_NOEXIST) == 0)
		announce(EMBER_PROC_NEW, tgid);
}

#include "stacks.bpf.h"

/*
 * The current task's kernel stack. @skip: innermost frames to leave out (the
 * BPF trampoline frames of a tracepoint program), at most 255.
 */
static __always_inline __u16 collect_kernel_stack(void *ctx, __u32 g, __u64 skip, __u64 *key)
{
	__u32 slot = 0;
	struct ember_stack *st = bpf_map_lookup_elem(&scratch, &slot);
	long n;

	if (!st)
		return EMBER_STACK_READ_ERROR;
	n = bpf_get_stack(ctx, st->ips, EMBER_MAX_KERNEL_FRAMES * sizeof(__u64),
			  skip & BPF_F_SKIP_FIELD_MASK);
	if (n <= 0)
		return EMBER_STACK_READ_ERROR;
	st->nr = n / sizeof(__u64);
	st->kernel = 1;
	/* As many frames as the kernel returns at most: there may have been more. */
	st->end = st->nr >= kernel_max_frames ? EMBER_UNWIND_END_DEPTH : EMBER_UNWIND_END_COMPLETE;
	return store_stack(st, g, key);
}

#define STACK_WINDOW 2048 /* bytes of user stack copied at a time; a power of two */
#define PAGE_BYTES   4096 /* x86-64 base page */

struct stack_window {
	__u8 data[STACK_WINDOW + 8]; /* + 8: an 8-byte load at any masked offset stays inside */
};

/* One window per CPU: perf_event programs do not nest on a CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_window);
} windows SEC(".maps");

/*
 * The registers and stack-window state of one walk: scalars only, so the
 * global step function below can take it by pointer (the verifier would lose
 * the type of a pointer stored in memory a global function receives).
 */
struct ember_unwind_walk {
	__u64 pc, sp, bp;
	__u64 bx; /* rbx, valid when regs_known has REG_BX: for rbx-based CFAs */
	__u64 di; /* rdi, valid when regs_known has REG_DI: exact frames only (vfork) */
	__u64 win_base, win_len; /* user address of win->data, bytes valid (0: empty) */
	__s32 last_map; /* the previous frame's mapping, in cur: index, FILE_MAPPING, or -1: none */
	__u32 tgid;
	__u32 table_frames, fp_frames; /* steps of each kind, added to the stats at the end */
	/*
	 * The row of the previous table step and the ELF addresses it covers,
	 * [row_lo, row_hi) in mapping last_map (row_hi 0: none): recursion returns
	 * into the same call site frame after frame, and a hit skips the search.
	 */
	__u32 row_idx, row_lo, row_hi;
	bool exact_pc;	 /* pc is not a return address (leaf, or after a signal frame) */
	__u8 regs_known; /* REG_BX | REG_DI: which of bx, di hold this frame's value */
	__u8 pad[2];
	__u64 stack_end; /* end of the readable stack, when a window copy found it; 0: unknown */
	/* A mapping found by file (find_file_mapping), outside the process's list. */
	struct ember_unwind_mapping fmap;
	__u32 fmap_tried;		 /* bpf_find_vma was called: once per walk */
	struct ember_unwind_mapping cur; /* a copy of mapping last_map, when it is one */
	__u32 pad2;
};

#include "sampler_files.bpf.h"

#include "user_stack.bpf.h"

/*
 * Enters generation `gen.active`, counted in this CPU's inflight slot. The
 * atomic add is a full barrier, so either userspace's flip is visible to the
 * re-read below, or userspace sees our inflight count and waits for us (the
 * classic store-buffer handshake, per CPU slot).
 */
static __always_inline __u32 enter_generation(struct ember_inflight *slot)
{
	__u32 g = gen.active & 1;

	__sync_fetch_and_add(&slot->count[g], 1);
	if ((gen.active & 1) != g) {
		__sync_fetch_and_add(&slot->count[g], -1);
		g ^= 1;
		__sync_fetch_and_add(&slot->count[g], 1);
		stat_inc(EMBER_STAT_GENERATION_RETRY);
	}
	return g;
}

static __always_inline void leave_generation(struct ember_inflight *slot, __u32 g)
{
	__sync_fetch_and_add(&slot->count[g & 1], -1);
}

/* Counts a lost or cut stack of @key in the stats, by reason. */
static __always_inline void count_stack_status(const struct ember_sample_key *key)
{
	if (key->kstack_status == EMBER_STACK_READ_ERROR)
		stat_inc(EMBER_STAT_KSTACK_READ_ERROR);
	else if (key->kstack_status == EMBER_STACK_MAP_FULL)
		stat_inc(EMBER_STAT_KSTACK_MAP_FULL);
	else if (key->kstack_status == EMBER_STACK_TRUNCATED)
		stat_inc(EMBER_STAT_KSTACK_TRUNCATED);
	if (key->ustack_status == EMBER_STACK_READ_ERROR)
		stat_inc(EMBER_STAT_USTACK_READ_ERROR);
	else if (key->ustack_status == EMBER_STACK_MAP_FULL)
		stat_inc(EMBER_STAT_USTACK_MAP_FULL);
	else if (key->ustack_status == EMBER_STACK_TRUNCATED)
		stat_inc(EMBER_STAT_USTACK_TRUNCATED);
}

/*
 * Adds @value (samples, or off-CPU ns) to @key's count in generation @g's
 * counts map. 0, or -1 when the map is full (the caller counts the loss in its
 * own unit).
 */
static __always_inline int add_count(__u32 g, const struct ember_sample_key *key, __u64 value)
{
	__u64 *count;
	long err;

	count = g ? bpf_map_lookup_elem(&counts1, key) : bpf_map_lookup_elem(&counts0, key);
	if (count) {
		__sync_fetch_and_add(count, value);
		return 0;
	}
	err = g ? bpf_map_update_elem(&counts1, key, &value, BPF_NOEXIST)
		: bpf_map_update_elem(&counts0, key, &value, BPF_NOEXIST);
	if (err == -17 /* EEXIST: another CPU inserted it first */) {
		count = g ? bpf_map_lookup_elem(&counts1, key) : bpf_map_lookup_elem(&counts0, key);
		if (count) {
			__sync_fetch_and_add(count, value);
			return 0;
		}
	}
	return err ? -1 : 0;
}

SEC("perf_event")
int ember_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct ember_sample_key key = {};
	struct ember_user_regs uregs = {};
	struct task_struct *task;
	bool in_kernel;
	struct ember_inflight *slot;
	__u64 mm, *old_mm;
	__u32 cpu = bpf_get_smp_processor_id(), g;

	if (tid == 0 && !include_idle)
		return 0;
	if (!is_target(tgid))
		return 0;
	stat_inc(EMBER_STAT_SAMPLES);
	announce_new(tgid);

	key.tgid = tgid;
	key.tid = tid;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	task = bpf_get_current_task_btf();
	/* CPL in the interrupted CS: 0 means the sample hit kernel code. */
	in_kernel = (*(volatile __u64 *)&ctx->regs.cs & 3) == 0; /* ctx loads must be 8 bytes */
	if (in_kernel) {
		task_user_regs(task, &uregs);
	} else {
		/* The sample interrupted user code: its registers are the context's, no reads. */
		uregs.pc = *(volatile __u64 *)&ctx->regs.ip;
		uregs.sp = *(volatile __u64 *)&ctx->regs.sp;
		uregs.bp = *(volatile __u64 *)&ctx->regs.bp;
		uregs.bx = *(volatile __u64 *)&ctx->regs.bx;
		uregs.di = *(volatile __u64 *)&ctx->regs.di;
	}

	slot = bpf_map_lookup_elem(&inflight, &cpu);
	if (!slot)
		return 0; /* cannot happen: one slot per possible CPU */
	g = enter_generation(slot);
	if (!collect_kernel)
		key.kstack_status = EMBER_STACK_DISABLED;
	else if (!in_kernel)
		key.kstack_status = EMBER_STACK_NONE;
	else
		key.kstack_status = collect_kernel_stack(ctx, g, 0, &key.kstack);

	if (!collect_user)
		key.ustack_status = EMBER_STACK_DISABLED;
	else if (BPF_CORE_READ(task, flags) & PF_KTHREAD || tgid == 0)
		key.ustack_status = EMBER_STACK_NONE;
	else if (!(mm = (__u64)BPF_CORE_READ(task, mm)))
		key.ustack_status = EMBER_STACK_EXITING; /* exit_mm() released the user memory */
	else if (in_kernel && (old_mm = bpf_map_lookup_elem(&exec_old_mm, &tid)) && *old_mm != mm)
		key.ustack_status = EMBER_STACK_IN_EXEC;
	else
		key.ustack_status = collect_user_stack(ctx, tgid, g, &uregs, &key.ustack);
	if (key.ustack_status == EMBER_STACK_EXITING)
		stat_inc(EMBER_STAT_USTACK_EXITING);
	else if (key.ustack_status == EMBER_STACK_IN_EXEC)
		stat_inc(EMBER_STAT_USTACK_IN_EXEC);

	count_stack_status(&key);
	if (add_count(g, &key, 1))
		stat_inc(EMBER_STAT_LOST_COUNTS_FULL);
	leave_generation(slot, g);
	return 0;
}

/*
 * --children: a forked child of a target becomes a target itself. With
 * tables, a new process also starts with a copy of its parent's list: its
 * address space is a copy of the parent's (or, after vfork, the parent's
 * own) until it execs or maps something, and userspace publishes it only
 * later. Without it, a vfork child that execs a moment later is walked with
 * one file lookup per sample.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(ember_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
	struct ember_unwind_proc *proc;
	__u8 yes = 1;

	if (ptgid == ctgid)
		return 0; /* a thread */
	if (follow_children && filter_mode == EMBER_FILTER_PIDS &&
	    bpf_map_lookup_elem(&target_pids, &ptgid) &&
	    bpf_map_update_elem(&target_pids, &ctgid, &yes, BPF_ANY))
		stat_inc(EMBER_STAT_TARGETS_FULL);
	if (unwind_mode != EMBER_UNWIND_TABLES || !is_target(ctgid))
		return 0;
	proc = bpf_map_lookup_elem(&unwind_procs, &ptgid);
	if (proc)
		bpf_map_update_elem(&unwind_procs, &ctgid, proc, BPF_NOEXIST);
	return 0;
}

/* execve() past its point of no return: see exec_old_mm. */
SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(ember_prepare_exec, struct task_struct *task, struct linux_binprm *bprm)
{
	__u64 id = bpf_get_current_pid_tgid(), mm;
	__u32 tid = (__u32)id;

	if (!is_target(id >> 32))
		return 0;
	mm = (__u64)BPF_CORE_READ(task, mm);
	bpf_map_update_elem(&exec_old_mm, &tid, &mm, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ember_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id, old_tid = old_pid;

	/* The new image runs from here: its registers and memory agree again. */
	bpf_map_delete_elem(&exec_old_mm, &tid);
	if (old_tid != tid)
		bpf_map_delete_elem(&exec_old_mm, &old_tid); /* a thread exec'd (de_thread) */

	/*
	 * Processes we have announced must have their mappings read again. With
	 * unwind tables every target is announced at exec, so its tables are loaded
	 * before its first sample rather than after it (short-lived processes).
	 */
	if (bpf_map_lookup_elem(&seen_tgids, &tgid) ||
	    (unwind_mode == EMBER_UNWIND_TABLES && is_target(tgid)))
		announce(EMBER_PROC_EXEC, tgid);
	if (unwind_mode == EMBER_UNWIND_TABLES && is_target(tgid))
		publish_by_file(tgid);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ember_exit, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	bool told = false;

	/* Only when the last thread leaves: the process, not a thread, is gone. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	/* A reused PID must not inherit target status. */
	if (filter_mode == EMBER_FILTER_PIDS)
		bpf_map_delete_elem(&target_pids, &tgid);
	if (bpf_map_lookup_elem(&seen_tgids, &tgid)) {
		told = announce(EMBER_PROC_EXIT, tgid);
		bpf_map_delete_elem(&seen_tgids, &tgid);
	}
	/*
	 * Its list may come from publish_by_file or a fork, which userspace never
	 * saw. Since 6.16 this tracepoint comes before exit_mm(), so the process
	 * still runs (and is sampled) with its memory for a while: when userspace
	 * hears of the exit, its forget removes the list then; else it goes now.
	 */
	if (unwind_mode == EMBER_UNWIND_TABLES && !told)
		bpf_map_delete_elem(&unwind_procs, &tgid);
	return 0;
}

#include "offcpu.bpf.h"
