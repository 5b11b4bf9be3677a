/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Private to probes/, included once by sampler.bpf.c: the user-stack walker.
 * From the user registers a program finds (the interrupted ones of a sample,
 * or the ones saved at kernel entry, bpf_task_pt_regs), each frame is stepped
 * with the .eh_frame row of its pc (table_step: CFA from rsp, rbp or rbx, the
 * caller's rbp and rbx restored from the CFA) where the process's list or the
 * file lookup (sampler_files.bpf.h) has a table, with frame pointers
 * elsewhere (fp_step), in a bpf_loop of unwind_step calls over a copied window
 * of the stack. The slow paths are global functions, verified once. Without
 * tables (--unwind fp) the kernel's frame-pointer walk does it all.
 */
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

#define REG_BX 1
#define REG_DI 2

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
	s->regs_known = 0; /* code without CFI may have saved and reused rbx */
	return -1;
}

/*
 * One step driven by an unwind-table row. Returns an end reason, or -1 to go on.
 * rbx is followed like rbp (restored where the callee's CFI saved it) so that
 * a caller whose CFA is rbx-based can be unwound; where it is not known, such
 * a frame ends the walk as unsupported.
 */
static __always_inline int table_step(struct ember_unwind_walk *s, struct stack_window *win,
				      struct ember_unwind_row *row)
{
	__u32 kind = row->kind, cfa_kind = EMBER_CFA_BASE(kind);
	__u32 rbp_kind = EMBER_ROW_RBP_KIND(kind), rbx_kind = EMBER_ROW_RBX_KIND(kind);
	__u64 cfa, ra, bp = s->bp, bx = s->bx, off = row->cfa_off;

	if (kind & EMBER_CFA_OFF_SCALED && cfa_kind != EMBER_CFA_RSP_RA_REG)
		off <<= 3;
	switch (cfa_kind) {
	case EMBER_CFA_END:
		return EMBER_UNWIND_END_COMPLETE;
	case EMBER_CFA_RSP:
		cfa = s->sp + off;
		break;
	case EMBER_CFA_RBP:
		cfa = s->bp + off;
		break;
	case EMBER_CFA_RBX:
		if (!(s->regs_known & REG_BX))
			return EMBER_UNWIND_END_UNSUPPORTED;
		cfa = s->bx + off;
		break;
	case EMBER_CFA_RSP_RA_REG:
		/* The return address register is only known where the registers are exact. */
		if (!s->exact_pc || !(s->regs_known & REG_DI) ||
		    row->rbp_off8 != EMBER_DWARF_REG_RDI)
			return EMBER_UNWIND_END_UNSUPPORTED;
		cfa = s->sp + off;
		if (cfa < s->sp)
			return EMBER_UNWIND_END_BAD_FRAME;
		/* rbp and rbx unchanged; the caller's stack pointer is the CFA. */
		s->sp = cfa;
		s->pc = s->di;
		s->exact_pc = false;
		s->regs_known &= REG_BX;
		return -1;
	case EMBER_CFA_PLT:
		cfa = s->sp + 8 + ((s->pc & 15) >= (__u64)row->rbp_off8 ? 8 : 0);
		break;
	case EMBER_CFA_SIGNAL: {
		/* __restore_rt: rsp points at the ucontext; gregs start at byte 40. */
		__u64 sp, di;

		if (!read_user_u64(s, win, s->sp + 40 + 8 * 10, &bp) ||
		    !read_user_u64(s, win, s->sp + 40 + 8 * 11, &bx) ||
		    !read_user_u64(s, win, s->sp + 40 + 8 * 8, &di) ||
		    !read_user_u64(s, win, s->sp + 40 + 8 * 15, &sp) ||
		    !read_user_u64(s, win, s->sp + 40 + 8 * 16, &ra))
			return EMBER_UNWIND_END_READ_FAULT;
		s->bp = bp;
		s->bx = bx;
		s->di = di;
		s->regs_known = REG_BX | REG_DI;
		s->sp = sp;
		s->pc = ra;
		s->exact_pc = true; /* the interrupted pc, not a return address */
		return -1;
	}
	default:
		return EMBER_UNWIND_END_UNSUPPORTED;
	}
	if (cfa <= s->sp && cfa_kind == EMBER_CFA_RSP)
		return EMBER_UNWIND_END_BAD_FRAME;
	if (!read_user_u64(s, win, cfa - 8, &ra))
		return EMBER_UNWIND_END_READ_FAULT;
	if (rbp_kind == EMBER_REG_CFA_OFFSET) {
		if (!read_user_u64(s, win, cfa + EMBER_ROW_RBP_OFF8(kind, row->rbp_off8) * 8, &bp))
			return EMBER_UNWIND_END_READ_FAULT;
	} else if (rbp_kind != EMBER_REG_SAME) {
		bp = 0; /* unknown: a later frame-pointer step will stop */
	}
	if (rbx_kind == EMBER_REG_CFA_OFFSET) {
		if (!read_user_u64(s, win, cfa + EMBER_ROW_RBX_OFF8(kind, row->rbp_off8) * 8, &bx))
			return EMBER_UNWIND_END_READ_FAULT;
		s->regs_known |= REG_BX;
	} else if (rbx_kind != EMBER_REG_SAME) {
		s->regs_known &= ~REG_BX;
	}
	if (cfa <= s->sp)
		return EMBER_UNWIND_END_BAD_FRAME;
	s->sp = cfa;
	s->bp = bp;
	s->bx = bx;
	s->pc = ra;
	s->exact_pc = false;
	s->regs_known &= REG_BX; /* rdi is caller-saved: unknown above the leaf */
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
		struct ember_unwind_mapping *m = &proc->maps[idx & (EMBER_MAX_UNWIND_MAPPINGS - 1)];

		/*
		 * A file whose table was not loaded when the list was made (at exec, a
		 * binary seen for the first time): its table may be by file now. Found
		 * there, it goes into the list in place, for the later samples too.
		 */
		if (!m->nr_rows && m->first_row != NO_FILE && !find_file_mapping(s, NULL, pc) &&
		    s->fmap.start == m->start) {
			m->bias = s->fmap.bias;
			m->first_row = s->fmap.first_row;
			m->nr_rows = s->fmap.nr_rows;
		}
		s->cur = *m;
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

/*
 * The user registers a walk starts from: the pc, stack pointer and frame
 * pointer, and rbx and rdi for the rules based on them (an rbx-based CFA, a
 * return address in rdi).
 */
struct ember_user_regs {
	__u64 pc, sp, bp, bx, di;
};

/* The registers saved when @task entered the kernel (its user state). */
static __always_inline void task_user_regs(struct task_struct *task, struct ember_user_regs *r)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	r->pc = BPF_CORE_READ(regs, ip);
	r->sp = BPF_CORE_READ(regs, sp);
	r->bp = BPF_CORE_READ(regs, bp);
	r->bx = BPF_CORE_READ(regs, bx);
	r->di = BPF_CORE_READ(regs, di);
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
	c.walk.bx = regs->bx;
	c.walk.di = regs->di;
	c.walk.regs_known = REG_BX | REG_DI;
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
