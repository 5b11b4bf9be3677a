/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Private to probes/, included once by sampler.bpf.c: unwind tables found by
 * file, so that a process gets table unwinding before userspace has published
 * its own list (a compiler started a moment ago, the same binary started
 * again). Userspace (agg/unwind_loader.c) puts every loaded table in
 * unwind_files under the (device, inode) of its file.
 *
 * Two ways in, because the VMA iterator takes the mmap lock until it is
 * destroyed, which the kernel refuses with interrupts off (-EBUSY in the
 * perf_event program here), while bpf_find_vma works there once per sample
 * (its unlock is queued as per-CPU irq_work, busy until the interrupt ends):
 *  - at exec (tp_btf, interrupts on): publish_by_file() builds the new image's
 *    list (the binary, ld.so, the vDSO) from its VMAs into unwind_procs;
 *  - when ld.so has mapped a program's libraries (a uprobe on its
 *    _dl_debug_state(), which it calls for debuggers before relocating them,
 *    and around every dlopen): the list again, libraries included;
 *  - in a walk: find_file_mapping() looks up the file of the first pc outside
 *    every known mapping (a library mapped since, before userspace republished
 *    the list). One a sample: a walk through two new libraries (as: libbfd,
 *    then libc) would otherwise end at the second.
 */

#define VM_EXEC	   0x4ull
#define NO_FILE	   0xffffffffu /* ember_unwind_mapping.first_row of a mapping without a file */
#define PAGE_SHIFT 12

/* Per file: where its table is. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* files */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ember_unwind_file_key);
	__type(value, struct ember_unwind_file);
} unwind_files SEC(".maps");

/* Per CPU: the list publish_by_file() builds before it goes into unwind_procs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ember_unwind_proc);
} unwind_file_procs SEC(".maps");

extern int bpf_iter_task_vma_new(struct bpf_iter_task_vma *it, struct task_struct *task,
				 __u64 addr) __ksym;
extern struct vm_area_struct *bpf_iter_task_vma_next(struct bpf_iter_task_vma *it) __ksym;
extern void bpf_iter_task_vma_destroy(struct bpf_iter_task_vma *it) __ksym;

/*
 * Sets @m's table and load bias from unwind_files for a mapping of the file
 * (@dev, @ino) at file offset @off. Returns 0, or -1 when the file has no table.
 */
static __always_inline int file_table(struct ember_unwind_mapping *m, __u64 dev, __u64 ino,
				      __u64 off)
{
	struct ember_unwind_file_key key = {.dev = dev, .ino = ino};
	struct ember_unwind_file *file = bpf_map_lookup_elem(&unwind_files, &key);
	__u32 i;

	if (!file)
		return -1;
	for (i = 0; i < EMBER_MAX_FILE_SEGMENTS; i++) {
		struct ember_unwind_segment *sg = &file->segs[i];

		if (i >= file->nr_segs)
			break;
		if (off < sg->offset || off >= sg->offset + sg->filesz)
			continue;
		m->bias = m->start - (off - sg->offset + sg->vaddr);
		m->first_row = file->first_row;
		m->nr_rows = file->nr_rows;
		return 0;
	}
	return -1;
}

/*
 * Fills @proc with the current process's executable mappings, each with the
 * table of its file when unwind_files has one. One pass in address order, so
 * the list comes out sorted. Returns the number of mappings. Global: verified
 * once.
 */
__noinline int fill_file_proc(struct ember_unwind_proc *proc)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct ember_unwind_mapping *m;
	struct bpf_iter_task_vma it;
	struct vm_area_struct *vma;
	__u32 n;

	if (!proc)
		return 0;
	/*
	 * The count lives in map memory, not in a register: the verifier then sees
	 * the same state at the top of every iteration and checks the body once,
	 * where a counter in a register makes every iteration a new state.
	 */
	proc->nr = 0;
	bpf_iter_task_vma_new(&it, task, 0);
	while ((vma = bpf_iter_task_vma_next(&it))) {
		if (!(vma->vm_flags & VM_EXEC))
			continue;
		n = proc->nr;
		if (n >= EMBER_MAX_UNWIND_MAPPINGS)
			break;
		m = &proc->maps[n & (EMBER_MAX_UNWIND_MAPPINGS - 1)];
		m->start = vma->vm_start;
		m->end = vma->vm_end;
		m->bias = 0;
		m->first_row = NO_FILE;
		m->nr_rows = 0; /* anonymous code (JIT), the vDSO: frame-pointer steps */
		proc->nr = n + 1;
		if (vma->vm_file)
			m->first_row = 0; /* no table yet: the walk may find one by file later */
		if (vma->vm_file)
			file_table(m, BPF_CORE_READ(vma, vm_file, f_inode, i_sb, s_dev),
				   BPF_CORE_READ(vma, vm_file, f_inode, i_ino),
				   vma->vm_pgoff << PAGE_SHIFT);
	}
	bpf_iter_task_vma_destroy(&it);
	proc->rescan_ns = 0;
	return proc->nr;
}

/*
 * At exec: @tgid's new image gets a list at once, replacing its old image's;
 * userspace's publication, which follows the exec event, replaces it in turn.
 */
static __always_inline void publish_by_file(__u32 tgid)
{
	__u32 zero = 0;
	struct ember_unwind_proc *proc = bpf_map_lookup_elem(&unwind_file_procs, &zero);

	if (proc && fill_file_proc(proc))
		bpf_map_update_elem(&unwind_procs, &tgid, proc, BPF_ANY);
}

struct vma_file {
	__u64 start, end, pgoff, dev, ino;
	bool found;
};

static long vma_file_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_file *f = data;

	if (!(vma->vm_flags & VM_EXEC) || !vma->vm_file)
		return 0;
	f->start = vma->vm_start;
	f->end = vma->vm_end;
	f->pgoff = vma->vm_pgoff;
	f->dev = BPF_CORE_READ(vma, vm_file, f_inode, i_sb, s_dev);
	f->ino = BPF_CORE_READ(vma, vm_file, f_inode, i_ino);
	f->found = true;
	return 0;
}

/*
 * Adds @m to @proc's list, kept sorted by start: the process's later samples
 * find it there, and their own lookup can go to another file. Userspace's
 * publication replaces the whole entry, this one included. Global: verified
 * once, not inside the callers' loops. Two threads of one
 * process adding at once can leave the list unsorted until then: lookups in it
 * then fail and those frames take frame-pointer steps.
 */
__noinline int add_mapping(struct ember_unwind_proc *proc, const struct ember_unwind_mapping *m)
{
	__u32 n, i, k;

	if (!proc || !m)
		return 0;
	n = proc->nr;
	if (n >= EMBER_MAX_UNWIND_MAPPINGS)
		return 0;
	for (i = 0; i < EMBER_MAX_UNWIND_MAPPINGS; i++) {
		k = (n - i) & (EMBER_MAX_UNWIND_MAPPINGS - 1); /* from the end down */
		if (i >= n ||
		    proc->maps[(k - 1) & (EMBER_MAX_UNWIND_MAPPINGS - 1)].start < m->start)
			break;
		proc->maps[k] = proc->maps[(k - 1) & (EMBER_MAX_UNWIND_MAPPINGS - 1)];
	}
	proc->maps[(n - i) & (EMBER_MAX_UNWIND_MAPPINGS - 1)] = *m;
	proc->nr = n + 1;
	return 0;
}

__noinline int find_mapping_index(const struct ember_unwind_proc *proc,
				  __u64 pc); /* sampler.bpf.c */

/* @m (with a table) into @proc: added when missing, its table set when the entry has none. */
__noinline int merge_mapping(struct ember_unwind_proc *proc, const struct ember_unwind_mapping *m)
{
	struct ember_unwind_mapping *old;
	int idx;

	if (!proc || !m)
		return 0;
	idx = find_mapping_index(proc, m->start);
	if (idx < 0)
		return add_mapping(proc, m);
	old = &proc->maps[idx & (EMBER_MAX_UNWIND_MAPPINGS - 1)];
	if (!old->nr_rows && old->start == m->start && old->end == m->end)
		*old = *m;
	return 0;
}

/*
 * ld.so's _dl_debug_state(): the link map changed (libraries mapped at start,
 * dlopen, dlclose). Task context with interrupts on, so the VMA iterator works.
 * A process without a list gets one by file, as at exec. A process with one
 * (userspace's publication may have come first) only gains tables: mappings
 * it lacks, and tables for mappings it has without one. A list by file built
 * before a table was loaded must not replace a publication that has it,
 * since nothing would replace the list again until the process maps something.
 */

SEC("uprobe")
int ember_ldso_state(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, zero = 0, i;
	struct ember_unwind_proc *fresh, *proc;

	if (unwind_mode != EMBER_UNWIND_TABLES || !is_target(tgid))
		return 0;
	proc = bpf_map_lookup_elem(&unwind_procs, &tgid);
	if (!proc) {
		publish_by_file(tgid);
		return 0;
	}
	fresh = bpf_map_lookup_elem(&unwind_file_procs, &zero);
	if (!fresh || !fill_file_proc(fresh))
		return 0;
	for (i = 0; i < EMBER_MAX_UNWIND_MAPPINGS; i++) {
		struct ember_unwind_mapping *m = &fresh->maps[i];

		if (i >= fresh->nr)
			break;
		if (m->nr_rows)
			merge_mapping(proc, m);
	}
	return 0;
}

/*
 * The walk's file mapping (s->fmap) for @pc: the one found earlier in this walk
 * when @pc is in it, else, once per walk, the file of @pc's VMA and its table,
 * which also goes into @proc's list when there is one. Returns 0 when s->fmap
 * covers @pc with a table, else -1. Global: verified once.
 */
__noinline int find_file_mapping(struct ember_unwind_walk *s, struct ember_unwind_proc *proc,
				 __u64 pc)
{
	struct vma_file f = {};

	if (!s)
		return -1;
	if (s->fmap.nr_rows && pc >= s->fmap.start && pc < s->fmap.end)
		return 0;
	if (s->fmap_tried)
		return -1;
	s->fmap_tried = 1;
	if (bpf_find_vma(bpf_get_current_task_btf(), pc, vma_file_cb, &f, 0) || !f.found)
		return -1;
	s->fmap.start = f.start;
	s->fmap.end = f.end;
	if (file_table(&s->fmap, f.dev, f.ino, f.pgoff << PAGE_SHIFT)) {
		s->fmap.nr_rows = 0;
		return -1;
	}
	if (proc)
		add_mapping(proc, &s->fmap);
	return 0;
}
