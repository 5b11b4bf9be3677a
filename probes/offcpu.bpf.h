/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Off-CPU time, included once at the end of sampler.bpf.c: a tp_btf program on
 * sched_switch. At a target thread's switch-out it stamps the time and stores
 * its user stack (the sampler's walker, from the registers the thread entered
 * the kernel with: its memory is readable only now, from its own context) in
 * offcpu_start; at its switch-in it adds the nanoseconds in between to the
 * counts map, keyed like a CPU sample plus the state it left in (blocked or
 * preempted). The kernel stack is taken at the switch-in, from the stack the
 * thread left (bpf_get_task_stack of a task not running yet), so the kernel's
 * unwinder, two thirds of the cost of a switch-out, runs only for intervals
 * that are counted (--min-block). No ring buffer record per switch: userspace
 * drains the counts as it does samples.
 *
 * The stacks go into the generation active at the switch-out. A thread can
 * sleep across drains: the drain copies the stacks of sleeping threads into
 * the new generation before it clears the old one (agg/collector.c), a
 * switch-in between the flip and that copy copies its own (carry_stack), and
 * one that finds its stacks gone anyway counts them as expired.
 *
 * Loaded only when a profile asks for off-CPU time (autoload off otherwise):
 * its verification is a start-up cost.
 */
#ifndef EMBER_OFFCPU_BPF_H
#define EMBER_OFFCPU_BPF_H

#define TASK_RUNNING 0x0000
#define TASK_DEAD    0x0080
/* bpf_trace_run4 and this program: a switch-out's stack then starts at __schedule. */
#define SWITCH_SKIP_FRAMES 2

/* Kernel stacks at the switch-out, with the scheduler's frames (--sched-frames). */
const volatile bool sched_frames = false;

/* Intervals shorter than this are not counted (--min-block; 0 with --wall). */
const volatile __u64 min_block_ns = 1000000;

/* Threads of targets off the CPU now (ts_ns != 0), or seen before (ts_ns 0). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768); /* threads; resized by userspace */
	__type(key, __u32);	    /* tid */
	__type(value, struct ember_offcpu_start);
} offcpu_start SEC(".maps");

/*
 * The kernel stack of @task, which is off the CPU (the switch-in's next: its
 * stack is the one it left with, down to __schedule).
 */
static __always_inline __u16 collect_task_kernel_stack(struct task_struct *task, __u32 g,
						       __u64 *key)
{
	__u32 slot = 0;
	struct ember_stack *st = bpf_map_lookup_elem(&scratch, &slot);
	long n;

	if (!st)
		return EMBER_STACK_READ_ERROR;
	n = bpf_get_task_stack(task, st->ips, EMBER_MAX_KERNEL_FRAMES * sizeof(__u64), 0);
	if (n <= 0)
		return EMBER_STACK_READ_ERROR;
	st->nr = n / sizeof(__u64);
	st->kernel = 1;
	st->end = st->nr >= kernel_max_frames ? EMBER_UNWIND_END_DEPTH : EMBER_UNWIND_END_COMPLETE;
	return store_stack(st, g, key);
}

/*
 * Copies stack @key from generation @g ^ 1 into @g, where a drain flipped to @g
 * and has not copied the sleepers' stacks yet. Safe while that drain deletes
 * them: the maps are preallocated, and a deleted element is reused only by an
 * insert into the same map, which nobody makes until the next flip. Returns
 * whether the stack is in @g now.
 */
static __always_inline bool carry_stack(__u32 g, __u64 key)
{
	__u32 cls = EMBER_STACK_KEY_CLASS(key);
	void *from, *to, *v;

	if (cls == EMBER_STACK_CLASS_SMALL) {
		from = g ? (void *)&stacks_small0 : (void *)&stacks_small1;
		to = g ? (void *)&stacks_small1 : (void *)&stacks_small0;
	} else if (cls == EMBER_STACK_CLASS_MEDIUM) {
		from = g ? (void *)&stacks_medium0 : (void *)&stacks_medium1;
		to = g ? (void *)&stacks_medium1 : (void *)&stacks_medium0;
	} else {
		from = g ? (void *)&stacks_large0 : (void *)&stacks_large1;
		to = g ? (void *)&stacks_large1 : (void *)&stacks_large0;
	}
	if (bpf_map_lookup_elem(to, &key))
		return true;
	v = bpf_map_lookup_elem(from, &key);
	if (!v)
		return false;
	return bpf_map_update_elem(to, &key, v, BPF_NOEXIST) == 0 || bpf_map_lookup_elem(to, &key);
}

/* @next gets a CPU: the time since its stamped switch-out is counted. */
static __always_inline void offcpu_switch_in(struct task_struct *next, __u64 now, __u32 g)
{
	__u32 tid = next->pid;
	struct ember_sample_key key = {};
	struct ember_offcpu_start *st;
	__u64 delta;

	if (!tid)
		return;
	st = bpf_map_lookup_elem(&offcpu_start, &tid);
	if (!st || !st->ts_ns)
		return;
	delta = now - st->ts_ns;
	st->ts_ns = 0; /* in place: a delete and re-insert per switch costs twice as much */
	if (delta < min_block_ns) {
		stat_inc(EMBER_STAT_OFFCPU_SHORT);
		return;
	}
	key.tgid = next->tgid;
	key.tid = tid;
	key.kind = st->kind;
	key.ustack = st->ustack;
	key.ustack_status = st->ustack_status;
	key.kstack = st->kstack;
	key.kstack_status = st->kstack_status;
	/* The user stack's status was counted at the switch-out; with sched_frames, the kernel's. */
	if (!collect_kernel) {
		key.kstack_status = EMBER_STACK_DISABLED;
	} else if (!sched_frames) {
		key.kstack_status = collect_task_kernel_stack(next, g, &key.kstack);
		if (key.kstack_status == EMBER_STACK_READ_ERROR)
			stat_inc(EMBER_STAT_KSTACK_READ_ERROR);
		else if (key.kstack_status == EMBER_STACK_MAP_FULL)
			stat_inc(EMBER_STAT_KSTACK_MAP_FULL);
		else if (key.kstack_status == EMBER_STACK_TRUNCATED)
			stat_inc(EMBER_STAT_KSTACK_TRUNCATED);
	}
	/* The stacks were stored in another generation: unless a drain copied them, gone. */
	if (st->gen != g) {
		if (sched_frames && key.kstack && !carry_stack(g, key.kstack)) {
			key.kstack = 0;
			key.kstack_status = EMBER_STACK_EXPIRED;
			stat_inc(EMBER_STAT_OFFCPU_STACK_EXPIRED);
		}
		if (key.ustack && !carry_stack(g, key.ustack)) {
			key.ustack = 0;
			key.ustack_status = EMBER_STACK_EXPIRED;
			stat_inc(EMBER_STAT_OFFCPU_STACK_EXPIRED);
		}
	}
	bpf_probe_read_kernel(key.comm, sizeof(key.comm), next->comm);
	if (add_count(g, &key, delta)) {
		stat_inc(EMBER_STAT_OFFCPU_LOST);
		stat_add(EMBER_STAT_OFFCPU_LOST_NS, delta);
		return;
	}
	stat_inc(EMBER_STAT_OFFCPU_INTERVALS);
}

/* @prev (the current task) leaves the CPU: stamp it and store its stacks. */
static __always_inline void offcpu_switch_out(void *ctx, struct task_struct *prev, bool preempt,
					      unsigned int prev_state, __u64 now, __u32 g)
{
	struct ember_offcpu_start v = {}, *st;
	struct ember_sample_key key = {};
	struct ember_user_regs uregs = {};
	__u32 tid = prev->pid, tgid = prev->tgid;

	if (!tid)
		return;
	if (prev_state & TASK_DEAD) {
		/* Its last switch: the thread never runs again. */
		bpf_map_delete_elem(&offcpu_start, &tid);
		return;
	}
	if (!is_target(tgid))
		return;
	stat_inc(EMBER_STAT_OFFCPU_SWITCHES);
	announce_new(tgid);
	if (!collect_kernel || !sched_frames)
		key.kstack_status = EMBER_STACK_OK; /* at the switch-in, or not at all */
	else
		key.kstack_status = collect_kernel_stack(ctx, g, SWITCH_SKIP_FRAMES, &key.kstack);
	if (!collect_user) {
		key.ustack_status = EMBER_STACK_DISABLED;
	} else if (prev->flags & PF_KTHREAD) {
		key.ustack_status = EMBER_STACK_NONE;
	} else {
		task_user_regs(prev, &uregs);
		key.ustack_status = collect_user_stack(ctx, tgid, g, &uregs, &key.ustack);
	}
	count_stack_status(&key);
	/*
	 * Preempted, or switched out still runnable (sched_yield): it waits for a
	 * CPU, not for an event.
	 */
	v.kind = preempt || prev_state == TASK_RUNNING ? EMBER_KIND_PREEMPTED : EMBER_KIND_BLOCKED;
	v.kstack = key.kstack;
	v.kstack_status = key.kstack_status;
	v.ustack = key.ustack;
	v.ustack_status = key.ustack_status;
	v.gen = g;
	v.ts_ns = now;
	st = bpf_map_lookup_elem(&offcpu_start, &tid);
	if (st) {
		*st = v;
		return;
	}
	if (bpf_map_update_elem(&offcpu_start, &tid, &v, BPF_NOEXIST))
		stat_inc(EMBER_STAT_OFFCPU_THREADS_FULL);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(ember_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 cpu = bpf_get_smp_processor_id(), g;
	struct ember_inflight *slot;
	__u64 now = bpf_ktime_get_ns();

	slot = bpf_map_lookup_elem(&inflight, &cpu);
	if (!slot)
		return 0; /* cannot happen: one slot per possible CPU */
	g = enter_generation(slot);
	offcpu_switch_in(next, now, g);
	offcpu_switch_out(ctx, prev, preempt, prev_state, now, g);
	leave_generation(slot, g);
	return 0;
}

#endif /* EMBER_OFFCPU_BPF_H */
