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

/* Unwind tables of every loaded file, back to back; userspace writes them through mmap. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4 << 20); /* rows (32 MiB); resized by userspace */
	__uint(map_flags, BPF_F_MMAPABLE);
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

static __always_inline void announce(__u32 type, __u32 tgid)
{
	struct ember_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_inc(EMBER_STAT_EVENTS_LOST);
		return;
	}
	e->type = type;
	e->tgid = tgid;
	e->time_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
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
	bool exact_pc; /* pc is not a return address (leaf, or after a signal frame) */
	__u8 pad[3];
	__u64 stack_end; /* end of the readable stack, when a window copy found it; 0: unknown */
	/* A mapping found by file (find_file_mapping), outside the process's list. */
	struct ember_unwind_mapping fmap;
	__u32 fmap_tried;		 /* bpf_find_vma was called: once per walk */
	struct ember_unwind_mapping cur; /* a copy of mapping last_map, when it is one */
	__u32 pad2;
};

#include "sampler_files.bpf.h"

/* What the bpf_loop callback hands on to unwind_step(). */
struct unwind_loop_ctx {
	struct ember_unwind_walk walk;
	struct ember_stack *st;
	struct stack_window *win;
	struct ember_unwind_proc *proc; /* NULL: tables not published yet */
};

/*
 * Copies user stack from @addr into the window: STACK_WINDOW bytes, or fewer
 * up to the end of the stack when that is known. Returns 0, or -1 when @addr
 * cannot be read. Global, like the other slow paths: verified once.
 */
__noinline int fill_window(struct ember_unwind_walk *s, struct stack_window *win, __u64 addr)
{
	__u64 len = STACK_WINDOW, page_end;

	if (!s || !win)
		return -1;
	if (s->stack_end) {
		/* Just past the end of the stack found earlier: nothing to read. */
		if (addr + 8 > s->stack_end && addr < s->stack_end + PAGE_BYTES)
			return -1;
		if (addr < s->stack_end && s->stack_end - addr < len)
			len = s->stack_end - addr;
	}
	if (bpf_probe_read_user(win->data, len, (const void *)addr) == 0) {
		s->win_base = addr;
		s->win_len = len;
		return 0;
	}
	/*
	 * Near the top of the stack a whole window crosses the end of the mapping.
	 * A failed copy costs a page fault (~1 us here), and every frame of a
	 * shallow stack would pay one: copy up to the end of this page instead and
	 * remember that end. Into the window, not into a BPF stack slot (a helper
	 * writing a stack slot here tripped a 6.18 verifier bug: "stack slot 2,
	 * total slots 2").
	 */
	s->win_len = 0;
	page_end = (addr | (PAGE_BYTES - 1)) + 1;
	len = page_end - addr;
	if (len > STACK_WINDOW || len < 8)
		len = 8;
	if (bpf_probe_read_user(win->data, len, (const void *)addr))
		return -1;
	if (len > 8)
		s->stack_end = page_end;
	s->win_base = addr;
	s->win_len = len;
	return 0;
}

/*
 * Reads 8 bytes of the user stack at @addr. The walk climbs the stack, so one
 * STACK_WINDOW-byte copy at a time serves many frames' return addresses and
 * saved rbp: a bpf_probe_read_user costs 25-50 ns, a hit in the window a few.
 */
static __always_inline bool read_user_u64(struct ember_unwind_walk *s, struct stack_window *win,
					  __u64 addr, __u64 *out)
{
	__u64 off = addr - s->win_base;

	if (!s->win_len || addr < s->win_base || off > s->win_len - 8) {
		if (fill_window(s, win, addr))
			return false;
		off = 0;
	}
	*out = *(__u64 *)(win->data + (off & (STACK_WINDOW - 1)));
	return true;
}

/*
 * Index of the mapping of @proc containing @pc (binary search; maps are sorted
 * by start), or -1. Global: verified once, not once per state of the walk.
 */
__noinline int find_mapping_index(const struct ember_unwind_proc *proc, __u64 pc)
{
	__u32 lo = 0, count, i;
	const struct ember_unwind_mapping *m;

	if (!proc)
		return -1;
	count = proc->nr;
	if (count == 0 || count > EMBER_MAX_UNWIND_MAPPINGS)
		return -1;
	for (i = 0; i < 7; i++) { /* 2^7 > EMBER_MAX_UNWIND_MAPPINGS */
		__u32 half = count / 2, mid;

		if (count <= 1)
			break;
		mid = (lo + half) & (EMBER_MAX_UNWIND_MAPPINGS - 1);
		if (proc->maps[mid].start <= pc) {
			lo = mid;
			count -= half;
		} else {
			count = half;
		}
	}
	lo &= EMBER_MAX_UNWIND_MAPPINGS - 1;
	m = &proc->maps[lo];
	return pc >= m->start && pc < m->end ? (int)lo : -1;
}

/*
 * Index of the last row in [first, first + nr) whose pc is <= @rel, or -1. A
 * global function: the verifier checks it once, with unknown arguments, instead
 * of once per state of the walk that reaches the call.
 */
__noinline int find_row_index(__u32 first, __u32 nr, __u64 rel)
{
	__u32 lo = first, count = nr, i;
	struct ember_unwind_row *row;

	if (rel > 0xffffffffull)
		return -1;
	for (i = 0; i < 24; i++) { /* 2^24 rows per table at most */
		__u32 half = count / 2, mid;

		if (count <= 1)
			break;
		mid = lo + half;
		row = bpf_map_lookup_elem(&unwind_rows, &mid);
		if (!row)
			return -1;
		if (row->pc <= rel) {
			lo = mid;
			count -= half;
		} else {
			count = half;
		}
	}
	row = bpf_map_lookup_elem(&unwind_rows, &lo);
	return row && row->pc <= rel ? (int)lo : -1;
}

/*
 * The row of @m's table in effect at ELF address @rel, or NULL: the walk's
 * cached row when @rel is in its range, else a binary search, whose result and
 * range (up to the next row, or the end of the mapping) become the cache.
 */
static __always_inline struct ember_unwind_row *find_row(struct ember_unwind_walk *s,
							 struct ember_unwind_mapping *m, __u64 rel)
{
	struct ember_unwind_row *row, *next;
	__u32 k, last;
	int idx;

	if (s->row_hi && rel >= s->row_lo && rel < s->row_hi) {
		k = s->row_idx;
		return bpf_map_lookup_elem(&unwind_rows, &k);
	}
	idx = find_row_index(m->first_row, m->nr_rows, rel);
	if (idx < 0)
		return NULL;
	k = idx;
	row = bpf_map_lookup_elem(&unwind_rows, &k);
	if (!row)
		return NULL;
	last = m->first_row + m->nr_rows - 1;
	s->row_idx = k;
	s->row_lo = row->pc;
	s->row_hi = 0; /* the table's last row: its end is not known, do not cache */
	if (k < last) {
		k++;
		next = bpf_map_lookup_elem(&unwind_rows, &k);
		if (next && next->pc > row->pc)
			s->row_hi = next->pc;
	}
	return row;
}

#define MAX_FRAME_BYTES (64ull << 20) /* no frame spans more than 64 MiB of stack */

/* One frame-pointer step: the frame record at rbp holds the caller's rbp and return address. */
static __always_inline int fp_step(struct ember_unwind_walk *s, struct stack_window *win)
{
	__u64 ra, bp;

	if (!s->bp)
		return EMBER_UNWIND_END_COMPLETE; /* the outermost frame clears rbp */
	/*
	 * A frame record lives on the stack above the stack pointer, and not
	 * absurdly far: rbp used as a general register (code built without frame
	 * pointers) fails these before it is followed.
	 */
	if (s->bp < s->sp || s->bp - s->sp > MAX_FRAME_BYTES)
		return EMBER_UNWIND_END_BAD_FRAME;
	if (!read_user_u64(s, win, s->bp + 8, &ra) || !read_user_u64(s, win, s->bp, &bp))
		return EMBER_UNWIND_END_READ_FAULT;
	s->sp = s->bp + 16;
	s->bp = bp;
	s->pc = ra;
	s->exact_pc = false;
	return -1;
}

/* One step driven by an unwind-table row. Returns an end reason, or -1 to go on. */
static __always_inline int table_step(struct ember_unwind_walk *s, struct stack_window *win,
				      struct ember_unwind_row *row)
{
	__u32 cfa_kind = row->kind & EMBER_CFA_KIND_MASK, rbp_kind = row->kind >> 4;
	__u64 cfa, ra, bp = s->bp, off = row->cfa_off;

	switch (cfa_kind) {
	case EMBER_CFA_END:
		return EMBER_UNWIND_END_COMPLETE;
	case EMBER_CFA_RSP:
		cfa = s->sp + (row->kind & EMBER_CFA_OFF_SCALED ? off << 3 : off);
		break;
	case EMBER_CFA_RBP:
		cfa = s->bp + (row->kind & EMBER_CFA_OFF_SCALED ? off << 3 : off);
		break;
	case EMBER_CFA_PLT:
		cfa = s->sp + 8 + ((s->pc & 15) >= (__u64)row->rbp_off8 ? 8 : 0);
		break;
	case EMBER_CFA_SIGNAL: {
		/* __restore_rt: rsp points at the ucontext; gregs start at byte 40. */
		__u64 sp;

		if (!read_user_u64(s, win, s->sp + 40 + 8 * 10, &bp) ||
		    !read_user_u64(s, win, s->sp + 40 + 8 * 15, &sp) ||
		    !read_user_u64(s, win, s->sp + 40 + 8 * 16, &ra))
			return EMBER_UNWIND_END_READ_FAULT;
		s->bp = bp;
		s->sp = sp;
		s->pc = ra;
		s->exact_pc = true; /* the interrupted pc, not a return address */
		return -1;
	}
	default:
		return EMBER_UNWIND_END_UNSUPPORTED;
	}
	if (cfa <= s->sp && cfa_kind != EMBER_CFA_RBP)
		return EMBER_UNWIND_END_BAD_FRAME;
	if (!read_user_u64(s, win, cfa - 8, &ra))
		return EMBER_UNWIND_END_READ_FAULT;
	if (rbp_kind == EMBER_RBP_CFA_OFFSET) {
		if (!read_user_u64(s, win, cfa + (__s64)row->rbp_off8 * 8, &bp))
			return EMBER_UNWIND_END_READ_FAULT;
	} else if (rbp_kind != EMBER_RBP_SAME) {
		bp = 0; /* unknown: a later frame-pointer step will stop */
	}
	if (cfa <= s->sp)
		return EMBER_UNWIND_END_BAD_FRAME;
	s->sp = cfa;
	s->bp = bp;
	s->pc = ra;
	s->exact_pc = false;
	return -1;
}

#define RESCAN_INTERVAL_NS 100000000ull /* at most 10 rescans a second per process */
#define FILE_MAPPING	   -2		/* last_map: the walk's fmap */

/* Asks userspace to re-read the process's mappings (a library was loaded since). */
static __always_inline void request_rescan(struct ember_unwind_proc *proc, __u32 tgid)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - proc->rescan_ns < RESCAN_INTERVAL_NS)
		return;
	proc->rescan_ns = now;
	announce(EMBER_PROC_RESCAN, tgid);
}

/*
 * The mapping of @pc, copied into s->cur: an index into @proc's list,
 * FILE_MAPPING (found by file: no list yet, or a library mapped since it was
 * published), or -1 (s->cur unchanged).
 * Global: verified once, not once per inlined frame of unwind_step.
 */
__noinline int lookup_mapping(struct ember_unwind_walk *s, struct ember_unwind_proc *proc, __u64 pc)
{
	int idx;

	if (!s)
		return -1;
	s->row_hi = 0; /* the cached row was another mapping's */
	idx = find_mapping_index(proc, pc);
	if (idx >= 0 && proc) {
		s->cur = proc->maps[idx & (EMBER_MAX_UNWIND_MAPPINGS - 1)];
		return idx;
	}
	if (proc)
		request_rescan(proc, s->tgid);
	if (find_file_mapping(s, proc, pc))
		return -1;
	s->cur = s->fmap;
	return FILE_MAPPING;
}

/*
 * Records the current frame of the walk in @st, then steps to its caller.
 * Returns 0 to go on, 1 when the walk ended (st->end says why).
 */
static __always_inline int unwind_one(struct ember_unwind_walk *s, struct ember_stack *st,
				      struct stack_window *win, struct ember_unwind_proc *proc)
{
	struct ember_unwind_mapping *m = NULL;
	struct ember_unwind_row *row = NULL;
	__u64 lookup_pc;
	__u32 n;
	int end;

	n = st->nr;
	if (n >= EMBER_MAX_STACK_DEPTH) {
		st->end = EMBER_UNWIND_END_DEPTH;
		return 1;
	}
	if (!s->pc) {
		st->end = n ? EMBER_UNWIND_END_COMPLETE : EMBER_UNWIND_END_BAD_FRAME;
		return 1;
	}
	st->ips[n] = s->pc;
	st->nr = n + 1;
	/* A return address may be one past the call's function: look up the call itself. */
	lookup_pc = s->exact_pc ? s->pc : s->pc - 1;
	/*
	 * Callers are mostly in the same file as their callees: try the last mapping
	 * first. Its copy lives in the walk, so m has one pointer type whatever the
	 * mapping came from (the list or a file lookup): two would double the
	 * verifier's states in every inlined frame.
	 */
	if (s->last_map < 0 || lookup_pc < s->cur.start || lookup_pc >= s->cur.end)
		s->last_map = lookup_mapping(s, proc, lookup_pc);
	if (s->last_map >= 0 || s->last_map == FILE_MAPPING)
		m = &s->cur;
	if (m && m->nr_rows)
		row = find_row(s, m, lookup_pc - m->bias);
	if (row && (row->kind & EMBER_CFA_KIND_MASK) != EMBER_CFA_NONE) {
		s->table_frames++;
		end = table_step(s, win, row);
	} else if (!fp_fallback) {
		end = m ? EMBER_UNWIND_END_UNSUPPORTED : EMBER_UNWIND_END_NO_MAPPING;
	} else {
		s->fp_frames++;
		end = fp_step(s, win);
		if (end == EMBER_UNWIND_END_READ_FAULT && !m && proc)
			end = EMBER_UNWIND_END_NO_MAPPING;
	}
	if (end < 0)
		return 0;
	st->end = end;
	if (end == EMBER_UNWIND_END_UNSUPPORTED)
		stat_inc(EMBER_STAT_UNWIND_UNSUPPORTED);
	else if (end == EMBER_UNWIND_END_READ_FAULT)
		stat_inc(EMBER_STAT_UNWIND_READ_FAULT);
	else if (end == EMBER_UNWIND_END_BAD_FRAME)
		stat_inc(EMBER_STAT_UNWIND_BAD_FRAME);
	else if (end == EMBER_UNWIND_END_NO_MAPPING)
		stat_inc(EMBER_STAT_UNWIND_NO_MAPPING);
	return 1;
}

#define FRAMES_PER_STEP 4 /* frames per global call: a call per frame cost ~10 ns */

/*
 * Walks up to FRAMES_PER_STEP frames: records each in @st and steps to its
 * caller. Returns 0 to go on, 1 when the walk ended (st->end says why). A global
 * function: the verifier checks it once with unknown arguments, instead of once
 * for every state the bpf_loop callback is entered with (that alone took ~1.4 s
 * of kernel CPU at load).
 */
__noinline int unwind_step(struct ember_unwind_walk *s, struct ember_stack *st,
			   struct stack_window *win, struct ember_unwind_proc *proc)
{
	int k;

	if (!s || !st || !win)
		return 1;
	for (k = 0; k < FRAMES_PER_STEP; k++)
		if (unwind_one(s, st, win, proc))
			return 1;
	return 0;
}

/* bpf_loop callback: FRAMES_PER_STEP frames. */
static long unwind_frame(__u32 i, void *ctx)
{
	struct unwind_loop_ctx *c = ctx;

	/* The verifier wants a callback result it can see is 0 or 1. */
	return unwind_step(&c->walk, c->st, c->win, c->proc) ? 1 : 0;
}

/* The user registers a walk starts from: the pc, stack pointer and frame pointer. */
struct ember_user_regs {
	__u64 pc, sp, bp;
};

/* The registers saved when @task entered the kernel (its user state). */
static __always_inline void task_user_regs(struct task_struct *task, struct ember_user_regs *r)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	r->pc = BPF_CORE_READ(regs, ip);
	r->sp = BPF_CORE_READ(regs, sp);
	r->bp = BPF_CORE_READ(regs, bp);
}

/*
 * The replaceable user-stack step, for every program that walks the current
 * task's user stack (the perf_event sampler, the sched_switch program). With
 * unwind tables, a bpf_loop walk from @regs (the caller finds them: the
 * interrupted user registers, or bpf_task_pt_regs for a task in the kernel);
 * otherwise the kernel's frame-pointer walk from @ctx, which ignores @regs.
 */
static __always_inline __u16 collect_user_stack(void *ctx, __u32 tgid, __u32 g,
						const struct ember_user_regs *regs, __u64 *key)
{
	__u32 slot = 1;
	struct ember_stack *st = bpf_map_lookup_elem(&scratch, &slot);
	struct ember_unwind_proc *proc = NULL;
	struct unwind_loop_ctx c = {};
	__u32 zero = 0;
	long n;

	if (!st)
		return EMBER_STACK_READ_ERROR;
	st->kernel = 0;
	st->end = EMBER_UNWIND_END_COMPLETE;
	if (unwind_mode == EMBER_UNWIND_TABLES) {
		/*
		 * A process whose tables are not published yet still gets this walker,
		 * with a list built from its VMAs: tables of files seen before (libc,
		 * ld.so, the same binary started again), frame-pointer steps elsewhere.
		 * Unlike the kernel's walk it stops where the stack pointer stops
		 * increasing, instead of following garbage in rbp (code built without
		 * frame pointers) to the frame limit.
		 */
		proc = bpf_map_lookup_elem(&unwind_procs, &tgid);
		if (!proc)
			stat_inc(EMBER_STAT_UNWIND_NO_PROC);
	} else {
		n = bpf_get_stack(ctx, st->ips, sizeof(st->ips), BPF_F_USER_STACK);
		if (n <= 0)
			return EMBER_STACK_READ_ERROR;
		st->nr = n / sizeof(__u64);
		if (st->nr >= fp_user_max_frames)
			st->end = EMBER_UNWIND_END_DEPTH;
		return store_stack(st, g, key);
	}
	c.walk.pc = regs->pc;
	c.walk.sp = regs->sp;
	c.walk.bp = regs->bp;
	c.walk.last_map = -1;
	c.walk.tgid = tgid;
	c.walk.exact_pc = true;
	c.win = bpf_map_lookup_elem(&windows, &zero);
	if (!c.win)
		return EMBER_STACK_READ_ERROR;
	c.st = st;
	c.proc = proc; /* NULL: not published yet */
	st->nr = 0;
	/* + 1: the step after the last frame says why the walk ended. */
	bpf_loop((EMBER_MAX_STACK_DEPTH + 1 + FRAMES_PER_STEP - 1) / FRAMES_PER_STEP, unwind_frame,
		 &c, 0);
	/* Frame counters once per walk, not once per frame. */
	stat_add(EMBER_STAT_UNWIND_TABLE_FRAMES, c.walk.table_frames);
	stat_add(EMBER_STAT_UNWIND_FP_FRAMES, c.walk.fp_frames);
	if (!st->nr)
		return EMBER_STACK_READ_ERROR;
	return store_stack(st, g, key);
}

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
	else
		key.ustack_status = collect_user_stack(ctx, tgid, g, &uregs, &key.ustack);

	count_stack_status(&key);
	if (add_count(g, &key, 1))
		stat_inc(EMBER_STAT_LOST_COUNTS_FULL);
	leave_generation(slot, g);
	return 0;
}

/* --children: a forked child of a target becomes a target itself. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(ember_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
	__u8 yes = 1;

	if (!follow_children || filter_mode != EMBER_FILTER_PIDS || ptgid == ctgid)
		return 0;
	if (!bpf_map_lookup_elem(&target_pids, &ptgid))
		return 0;
	if (bpf_map_update_elem(&target_pids, &ctgid, &yes, BPF_ANY))
		stat_inc(EMBER_STAT_TARGETS_FULL);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ember_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

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

	/* Only when the last thread leaves: the process, not a thread, is gone. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	/* Its list may come from publish_by_file, which userspace never saw. */
	if (unwind_mode == EMBER_UNWIND_TABLES)
		bpf_map_delete_elem(&unwind_procs, &tgid);
	/* A reused PID must not inherit target status. */
	if (filter_mode == EMBER_FILTER_PIDS)
		bpf_map_delete_elem(&target_pids, &tgid);
	if (bpf_map_lookup_elem(&seen_tgids, &tgid)) {
		announce(EMBER_PROC_EXIT, tgid);
		bpf_map_delete_elem(&seen_tgids, &tgid);
	}
	return 0;
}

#include "offcpu.bpf.h"
