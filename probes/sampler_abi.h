/* SPDX-License-Identifier: MIT */
/*
 * Structs and constants shared by the BPF sampler (sampler.bpf.c) and userspace.
 * Everything here crosses the kernel boundary: fixed-width types, explicit
 * padding, no pointers. Userspace checks the sizes with _Static_assert.
 */
#ifndef EMBER_SAMPLER_ABI_H
#define EMBER_SAMPLER_ABI_H

/*
 * Frames (return addresses) per stack. User stacks walked by ember's own
 * unwinder (the table walk) keep up to 512 frames; kernel stacks have 128
 * slots. Both kernel-side walks (bpf_get_stack: kernel stacks, and user stacks
 * with --unwind=fp) stop at the perf_event_max_stack sysctl (127 by default),
 * so on a default kernel they keep 127 frames plus the truncation mark.
 */
#define EMBER_MAX_USER_FRAMES	512
#define EMBER_MAX_KERNEL_FRAMES 128
#define EMBER_MAX_STACK_DEPTH	EMBER_MAX_USER_FRAMES /* slots of struct ember_stack */
#define EMBER_COMM_LEN		16

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
	EMBER_STACK_MAP_FULL = 3,   /* no stacks map of a class that fits had room: lost */
	EMBER_STACK_TRUNCATED = 4,  /* stored, but depth limit reached: outermost frames cut */
	EMBER_STACK_DISABLED = 5,   /* not collected (--user-only / --kernel-only) */
	EMBER_STACK_NO_MEMORY = 6,  /* the kernel could not allocate a stacks map entry: lost */
	EMBER_STACK_COLLISION = 7,  /* two 64-bit hash collisions in a row: lost, not merged */
	/*
	 * No user stack exists (user): the process is exiting and exit_mm() has
	 * released its memory, or it is inside execve() past the point where its
	 * old image was replaced (old registers, new memory) and before the new
	 * image starts. The kernel stack is the whole stack.
	 */
	EMBER_STACK_EXITING = 8,
	EMBER_STACK_IN_EXEC = 9,
	EMBER_STACK_EXPIRED = 10, /* off-CPU: stored at switch-out, gone with its generation */
};

/*
 * What a count of the counts map measures (struct ember_sample_key.kind). The
 * sampler counts on-CPU samples; the sched_switch program counts nanoseconds
 * off the CPU, by the state the thread left the CPU in.
 */
enum ember_sample_kind_abi {
	EMBER_KIND_ON_CPU = 0,	  /* value: samples */
	EMBER_KIND_BLOCKED = 1,	  /* value: ns; the thread slept (a lock, I/O, a timer, ...) */
	EMBER_KIND_PREEMPTED = 2, /* value: ns; the thread was runnable, waiting for a CPU */
};

/* Key of the in-kernel counts map: one entry per (thread, kernel stack, user stack). */
struct ember_sample_key {
	__u32 tgid;
	__u32 tid;
	__u64 kstack;	     /* key into the stacks map; 0 when kstack_status says there is none */
	__u64 ustack;	     /* likewise for the user stack */
	__u16 kstack_status; /* enum ember_stack_status */
	__u16 ustack_status;
	__u32 kind; /* enum ember_sample_kind_abi */
	char comm[EMBER_COMM_LEN];
};

/*
 * A thread that left the CPU (offcpu_start map, keyed by tid): when, its user
 * stack at the switch-out, and why. Its kernel stack is taken at the switch-in,
 * from the stack it left, only for intervals that are counted; with
 * sched_frames at the switch-out (kstack). ts_ns 0: the thread is on a CPU.
 */
struct ember_offcpu_start {
	__u64 ts_ns; /* bpf_ktime_get_ns() at the switch-out */
	__u64 kstack, ustack;
	__u16 kstack_status, ustack_status;
	__u16 kind; /* EMBER_KIND_BLOCKED or EMBER_KIND_PREEMPTED */
	__u16 gen;  /* generation whose stacks maps got the stacks */
};

/* Why a table-driven user-stack walk ended (struct ember_stack.end). */
enum ember_unwind_end {
	EMBER_UNWIND_END_COMPLETE = 0, /* outermost frame reached, or a frame-pointer walk ended */
	EMBER_UNWIND_END_DEPTH = 1,    /* the frame limit reached: outer frames cut */
	EMBER_UNWIND_END_READ_FAULT = 2,  /* stack memory not readable */
	EMBER_UNWIND_END_UNSUPPORTED = 3, /* CFI rule the unwinder cannot apply */
	EMBER_UNWIND_END_BAD_FRAME = 4,	  /* pc 0 mid-walk, or stack pointer not increasing */
	EMBER_UNWIND_END_NO_MAPPING = 5,  /* pc in no known mapping and no frame pointer */
};

/*
 * Stacks are stored by size class, one stacks map per class and generation, so
 * that the many short stacks do not each take a 512-frame (4 KiB) value: a stack
 * goes into the smallest class that holds it, or into a larger one when that
 * class's map is full. The class is in the low 2 bits of the stacks map key
 * (struct ember_sample_key.kstack / .ustack), so a key is never 0.
 */
enum ember_stack_class {
	EMBER_STACK_CLASS_SMALL = 1,  /* up to EMBER_STACK_SMALL_FRAMES frames */
	EMBER_STACK_CLASS_MEDIUM = 2, /* up to EMBER_STACK_MEDIUM_FRAMES */
	EMBER_STACK_CLASS_LARGE = 3,  /* up to EMBER_MAX_STACK_DEPTH */
};
#define EMBER_STACK_SMALL_FRAMES   32
#define EMBER_STACK_MEDIUM_FRAMES  128
#define EMBER_STACK_KEY_CLASS(key) ((unsigned int)((key)&3))

/*
 * Values of the stacks maps, keyed by a 64-bit hash of (kind, end, ips) whose
 * low 2 bits are replaced by the class. The three share their layout up to
 * the length of ips[]: a map of a smaller class copies a prefix of the
 * largest struct, and a lookup into the largest struct reads any class.
 */
struct ember_stack_small {
	__u32 nr;     /* valid entries in ips[], leaf first */
	__u16 kernel; /* 1: kernel addresses, 0: user */
	__u16 end;    /* enum ember_unwind_end */
	__u64 ips[EMBER_STACK_SMALL_FRAMES];
};

struct ember_stack_medium {
	__u32 nr;
	__u16 kernel;
	__u16 end;
	__u64 ips[EMBER_STACK_MEDIUM_FRAMES];
};

struct ember_stack {
	__u32 nr;
	__u16 kernel;
	__u16 end;
	__u64 ips[EMBER_MAX_STACK_DEPTH];
};

/* Per-CPU statistics, summed by userspace; indices of the stats map. */
enum ember_stat {
	EMBER_STAT_SAMPLES = 0,		 /* samples that passed the filter */
	EMBER_STAT_LOST_COUNTS_FULL,	 /* sample dropped: counts map full */
	EMBER_STAT_KSTACK_MAP_FULL,	 /* kernel stack dropped: stacks map full */
	EMBER_STAT_USTACK_MAP_FULL,	 /* user stack dropped: stacks map full */
	EMBER_STAT_KSTACK_READ_ERROR,	 /* kernel stack could not be read */
	EMBER_STAT_USTACK_READ_ERROR,	 /* user stack could not be read */
	EMBER_STAT_KSTACK_TRUNCATED,	 /* kernel stack hit its frame limit */
	EMBER_STAT_USTACK_TRUNCATED,	 /* user stack hit its frame limit */
	EMBER_STAT_EVENTS_LOST,		 /* process event dropped: ring buffer full */
	EMBER_STAT_TARGETS_FULL,	 /* child not followed: target_pids map full */
	EMBER_STAT_GENERATION_RETRY,	 /* sample raced a buffer flip and moved to the new one */
	EMBER_STAT_UNWIND_NO_PROC,	 /* table unwinding: process not loaded yet, fp used */
	EMBER_STAT_UNWIND_FP_FRAMES,	 /* frames walked by frame pointer (no table for the pc) */
	EMBER_STAT_UNWIND_TABLE_FRAMES,	 /* frames walked from .eh_frame tables */
	EMBER_STAT_UNWIND_UNSUPPORTED,	 /* stack ended at a CFI rule the unwinder cannot apply */
	EMBER_STAT_UNWIND_READ_FAULT,	 /* stack ended: user memory not readable (paged out) */
	EMBER_STAT_UNWIND_BAD_FRAME,	 /* stack ended: pc 0 or stack pointer not increasing */
	EMBER_STAT_UNWIND_NO_MAPPING,	 /* stack ended: pc outside every known mapping */
	EMBER_STAT_STACK_HASH_COLLISION, /* two stacks with one 64-bit hash: second hash used */
	EMBER_STAT_STACK_NO_MEMORY,	 /* a stack lost: no kernel memory for a map entry */
	EMBER_STAT_STACK_COLLISION_LOST, /* a stack lost: it collided under both hashes */
	EMBER_STAT_USTACK_EXITING,	 /* no user stack: the process's memory is released */
	EMBER_STAT_USTACK_IN_EXEC,	 /* no user stack: between two images in execve() */
	EMBER_STAT_OFFCPU_SWITCHES,	 /* switch-outs of targets stamped (off-CPU) */
	EMBER_STAT_OFFCPU_INTERVALS,	 /* off-CPU intervals counted */
	EMBER_STAT_OFFCPU_SHORT,	 /* intervals under --min-block: not counted, not lost */
	EMBER_STAT_OFFCPU_THREADS_FULL,	 /* switch-out not stamped: offcpu_start map full */
	EMBER_STAT_OFFCPU_LOST,		 /* interval dropped: counts map full */
	EMBER_STAT_OFFCPU_LOST_NS,	 /* ns of those intervals */
	EMBER_STAT_OFFCPU_STACK_EXPIRED, /* a stack of an interval gone with its generation */
	EMBER_STAT__COUNT,
};

/* ---- table-driven user stack unwinding (.eh_frame) ---------------------- */

/* User-stack unwinding strategy (rodata unwind_mode). */
enum ember_unwind_mode {
	EMBER_UNWIND_FP = 0,	 /* frame pointers only, by the kernel (bpf_get_stack) */
	EMBER_UNWIND_TABLES = 1, /* .eh_frame tables where loaded, frame pointers elsewhere */
};

/*
 * How to find the Canonical Frame Address of a frame: the low 4 bits of
 * row.kind. For the register-based kinds (RSP, RBP, RBX) bit 3
 * (EMBER_CFA_OFF_SCALED) says cfa_off counts 8-byte units, for frames larger
 * than 64 KiB; EMBER_CFA_BASE() strips it.
 */
#define EMBER_CFA_KIND_MASK  15
#define EMBER_CFA_OFF_SCALED 8
enum ember_cfa_kind {
	EMBER_CFA_NONE = 0,	   /* no CFI covers this pc: take a frame-pointer step */
	EMBER_CFA_RSP = 1,	   /* CFA = rsp + cfa_off */
	EMBER_CFA_RBP = 2,	   /* CFA = rbp + cfa_off */
	EMBER_CFA_PLT = 3,	   /* PLT stub: CFA = rsp + 8 + ((rip & 15) >= rbp_off8 ? 8 : 0) */
	EMBER_CFA_SIGNAL = 4,	   /* signal trampoline: registers from the ucontext at rsp */
	EMBER_CFA_END = 5,	   /* outermost frame (return address undefined): stop */
	EMBER_CFA_UNSUPPORTED = 6, /* a rule the BPF unwinder cannot evaluate */
	EMBER_CFA_RBX = 7,	   /* CFA = rbx + cfa_off (ld.so's _dl_runtime_resolve) */
	/*
	 * CFA = rsp + cfa_off, and the return address is in the register whose
	 * DWARF number is rbp_off8, not on the stack (__libc_vfork: rdi). Only a
	 * frame whose registers are exact (the leaf, or a signal frame's) can use
	 * it; rbp and rbx are unchanged.
	 */
	EMBER_CFA_RSP_RA_REG = 11,
};
#define EMBER_CFA_BASE(kind) \
	(((kind)&EMBER_CFA_KIND_MASK) == EMBER_CFA_RSP_RA_REG ? EMBER_CFA_RSP_RA_REG : (kind)&7)
#define EMBER_DWARF_REG_RDI 5 /* the only return-address register the walker reads */

/*
 * Where the caller's rbp (bits 4-5 of row.kind) and rbx (bits 6-7) are. rbx
 * is tracked so that a caller whose CFA is rbx-based (EMBER_CFA_RBX) can be
 * unwound. Their offsets share the row's one byte, rbp_off8:
 *  - only one of the two at CFA + 8k: rbp_off8 = k (-128..127);
 *  - both: rbp_off8 packs two nibbles, rbp at CFA - 8 * (1 + low nibble), rbx
 *    at CFA - 8 * (1 + high nibble) (CFA-8 .. CFA-128: every push-based
 *    prologue). Where the pair does not fit, rbx is EMBER_REG_UNKNOWN.
 */
enum ember_reg_kind {
	EMBER_REG_SAME = 0,	  /* unchanged */
	EMBER_REG_CFA_OFFSET = 1, /* saved at CFA + offset (see above) */
	EMBER_REG_UNKNOWN = 2,	  /* anything else: unknown in the caller */
};
#define EMBER_ROW_RBP_KIND(kind) (((kind) >> 4) & 3)
#define EMBER_ROW_RBX_KIND(kind) (((kind) >> 6) & 3)
#define EMBER_ROW_PACKED(kind)                               \
	(EMBER_ROW_RBP_KIND(kind) == EMBER_REG_CFA_OFFSET && \
	 EMBER_ROW_RBX_KIND(kind) == EMBER_REG_CFA_OFFSET)
/* Offsets in 8-byte units from the CFA of the saved rbp and rbx (valid for CFA_OFFSET). */
#define EMBER_ROW_RBP_OFF8(kind, off8) \
	(EMBER_ROW_PACKED(kind) ? -1 - (int)((__u8)(off8)&15) : (int)(off8))
#define EMBER_ROW_RBX_OFF8(kind, off8) \
	(EMBER_ROW_PACKED(kind) ? -1 - (int)((__u8)(off8) >> 4) : (int)(off8))

/* One row of an unwind table: the rule from pc up to the next row's pc. 8 bytes. */
struct ember_unwind_row {
	__u32 pc;      /* ELF virtual address (link-time), first address of the row */
	__u16 cfa_off; /* bytes added to rsp/rbp/rbx */
	__u8 kind;     /* enum ember_cfa_kind | rbp kind << 4 | rbx kind << 6 */
	__s8 rbp_off8; /* saved rbp/rbx offsets (above); PLT: the rip & 15 threshold;
			* RSP_RA_REG: the DWARF register holding the return address */
};

/* Executable mappings with unwind tables, per process. */
#define EMBER_MAX_UNWIND_MAPPINGS 64

struct ember_unwind_mapping {
	__u64 start;	 /* runtime address, inclusive */
	__u64 end;	 /* runtime address, exclusive */
	__u64 bias;	 /* runtime address - ELF virtual address */
	__u32 first_row; /* index into the unwind_rows array */
	__u32 nr_rows;	 /* 0: no table, frame-pointer steps */
};

struct ember_unwind_proc {
	__u32 nr; /* mappings in use, sorted by start */
	__u32 pad;
	__u64 rescan_ns; /* last EMBER_PROC_RESCAN request (bpf_ktime_get_ns), rate limit */
	struct ember_unwind_mapping maps[EMBER_MAX_UNWIND_MAPPINGS];
};

/*
 * Tables by file, for processes not published yet (unwind_files map): the
 * sampler names the file behind an executable mapping as the kernel does,
 * (super block s_dev, inode number), and finds its table without waiting for
 * the process's own list. s_dev is the kernel's encoding: major << 20 | minor.
 */
struct ember_unwind_file_key {
	__u64 dev;
	__u64 ino;
};

#define EMBER_MAX_FILE_SEGMENTS 4

/* An executable PT_LOAD segment: file offset, link-time address, bytes in the file. */
struct ember_unwind_segment {
	__u64 offset, vaddr, filesz;
};

struct ember_unwind_file {
	__u32 first_row, nr_rows; /* the table in unwind_rows */
	__u32 nr_segs;		  /* executable segments, for the load bias of a mapping */
	__u32 pad;
	struct ember_unwind_segment segs[EMBER_MAX_FILE_SEGMENTS];
};

/* Process events sent to userspace through the events ring buffer. */
enum ember_proc_event_type {
	EMBER_PROC_NEW = 1,    /* first sample of a tgid: read its mappings now */
	EMBER_PROC_EXEC = 2,   /* the tgid exec'd: its mappings changed */
	EMBER_PROC_EXIT = 3,   /* the tgid exited */
	EMBER_PROC_RESCAN = 4, /* a pc outside every known mapping: mappings changed (dlopen) */
};

struct ember_proc_event {
	__u32 type; /* enum ember_proc_event_type */
	__u32 tgid;
	__u64 time_ns; /* bpf_ktime_get_ns() */
	char comm[EMBER_COMM_LEN];
};

/*
 * Double buffering. The sampler writes into counts/stacks map number `active`
 * (0 or 1) and counts itself in its CPU's inflight slot for that generation
 * while it does; userspace flips `active`, waits for every CPU's inflight[old]
 * to reach 0, then drains map `old`. See agg/collector.c for why no sample is
 * lost or counted twice.
 */
struct ember_generation {
	__u32 active;
	__u32 pad;
};

/*
 * One per possible CPU in the mmap'ed `inflight` array, a cache line each: the
 * sampler's atomic adds stay on its own CPU's line instead of one line shared
 * by every CPU on every sample.
 */
struct ember_inflight {
	__s64 count[2]; /* sampler runs inside generation 0 / 1 on this CPU */
	__u64 pad[6];
};

#endif /* EMBER_SAMPLER_ABI_H */
