/* SPDX-License-Identifier: MIT */
/*
 * agg: the aggregation side of ember.
 *
 *  - The profile model (struct ember_profile): unique stacks with counts, where a
 *    stack is a list of locations (a raw address in a mapping), each location
 *    later symbolized into frames (an inline chain). Profiles also come from
 *    readers (folded, pprof) with frames but no addresses. Every writer in
 *    output/ reads this model and nothing else.
 *  - The collector (struct ember_collector): opens one perf event per online CPU,
 *    attaches the probes/ sampler, tracks processes and their mappings, and drains
 *    the in-kernel counts into a profile, at the end or every window.
 *
 * Thread-safety: none; one thread uses a profile or a collector at a time.
 */
#ifndef EMBER_AGG_H
#define EMBER_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ember_symbolizer;

/* ======================================================================== */
/* Profile model                                                            */
/* ======================================================================== */

enum ember_frame_flags {
	EMBER_FRAME_KERNEL = 1u << 0,  /* kernel code: "_[k]" in folded */
	EMBER_FRAME_INLINE = 1u << 1,  /* inlined into the next outer frame: "_[i]" */
	EMBER_FRAME_JIT = 1u << 2,     /* JIT code (perf map): "_[j]" */
	EMBER_FRAME_UNKNOWN = 1u << 3, /* no symbol found; name is a placeholder */
	EMBER_FRAME_MARKER = 1u << 4,  /* synthetic, e.g. "[truncated]" */
};

/* One function frame. Strings are owned by the profile that holds the frame. */
struct ember_frame {
	const char *function;	 /* display name (demangled); never NULL */
	const char *system_name; /* symbol as in the binary (mangled); NULL if unknown */
	const char *file;	 /* source file; NULL if unknown */
	uint32_t line;		 /* source line; 0 if unknown */
	uint32_t flags;		 /* enum ember_frame_flags */
	uint32_t start_line;	 /* first line of the function (pprof Function.start_line); 0 */
};

enum ember_mapping_flags {
	EMBER_MAPPING_KERNEL = 1u << 0,
	EMBER_MAPPING_HAS_FUNCTIONS = 1u << 1,
	EMBER_MAPPING_HAS_FILENAMES = 1u << 2,
	EMBER_MAPPING_HAS_LINES = 1u << 3,
	EMBER_MAPPING_HAS_INLINES = 1u << 4,
};

/* An executable mapping as seen in a process (or the kernel image). */
struct ember_mapping {
	uint64_t start;	      /* runtime virtual address, inclusive */
	uint64_t limit;	      /* runtime virtual address, exclusive */
	uint64_t offset;      /* file offset (bytes) mapped at start */
	const char *path;     /* e.g. "/usr/lib/x86_64-linux-gnu/libc.so.6", "[vdso]" */
	const char *build_id; /* lowercase hex; NULL if unknown */
	uint32_t flags;	      /* enum ember_mapping_flags */
	uint32_t pid;	      /* process that maps it (to open its files); 0 for none */
};

/* A code address and what it symbolizes to. */
struct ember_location {
	uint64_t address;    /* runtime address as sampled; 0 for name-only locations */
	uint32_t mapping_id; /* 1-based id of its mapping; 0 for none */
	uint32_t is_return;  /* 1: a caller frame, symbolized at address - 1 */
	uint32_t nr_frames;  /* 0 until symbolized */
	const struct ember_frame *frames; /* innermost (inlined) first */
};

/* One aggregated stack as a writer sees it. */
struct ember_sample {
	uint32_t pid;		  /* 0 when unknown (e.g. read from folded) */
	uint32_t tid;		  /* 0 when unknown */
	const char *process_name; /* root frame in folded; NULL for none */
	const char *thread_name;  /* comm of the thread; NULL for none */
	uint64_t count;		  /* samples */
	uint32_t nr_locations;
	const uint32_t *locations; /* location ids (1-based), leaf first */
};

struct ember_profile;

int profile__new(struct ember_profile **out);
void profile__free(struct ember_profile *p);

/* Metadata. Times in ns; frequency in Hz (0 when unknown). */
void profile__set_time(struct ember_profile *p, uint64_t start_realtime_ns, uint64_t duration_ns);
void profile__set_frequency(struct ember_profile *p, uint32_t hz);
uint64_t profile__start_ns(const struct ember_profile *p);
uint64_t profile__duration_ns(const struct ember_profile *p);
uint32_t profile__frequency(const struct ember_profile *p);
/* Sampling period in ns: 1e9 / frequency, or 0 when the frequency is unknown. */
uint64_t profile__period_ns(const struct ember_profile *p);

/*
 * Named counters (losses, unwind failures, ...): "lost.counts_map_full" etc.
 * Adding to an existing name accumulates. 0 or -ENOMEM.
 */
int profile__add_counter(struct ember_profile *p, const char *name, uint64_t value);
size_t profile__nr_counters(const struct ember_profile *p);
/* Counter @i (0-based, in order of first addition); name valid while @p lives. */
void profile__counter(const struct ember_profile *p, size_t i, const char **name, uint64_t *value);
/* Value of counter @name, 0 when absent. */
uint64_t profile__counter_value(const struct ember_profile *p, const char *name);

/* Profile-wide string labels (--label key=value). Keys are unique; a later set replaces. */
int profile__set_label(struct ember_profile *p, const char *key, const char *value);
size_t profile__nr_labels(const struct ember_profile *p);
void profile__label(const struct ember_profile *p, size_t i, const char **key, const char **value);

/* Interns @s in the profile's string pool; NULL on -ENOMEM. */
const char *profile__intern(struct ember_profile *p, const char *s);

/*
 * Returns the id (1-based) of the mapping equal to @m (range, offset, path,
 * build-id, pid, kernel flag), adding it when new; the has_* flags of @m are
 * OR-ed into an existing one. Strings are copied. 0 or -ENOMEM.
 */
int profile__intern_mapping(struct ember_profile *p, const struct ember_mapping *m, uint32_t *id);

/*
 * Returns the id of the location (@mapping_id, @address, @is_return), adding it
 * when new. Addresses outside any known mapping use @mapping_id 0 and are kept
 * apart per @pid. 0 or -ENOMEM.
 */
int profile__intern_location(struct ember_profile *p, uint32_t mapping_id, uint32_t pid,
			     uint64_t address, bool is_return, uint32_t *id);

/*
 * Returns the id of a name-only location whose frames equal @frames (innermost
 * first), adding it when new; strings are copied. Used by readers. 0 or -ENOMEM.
 */
int profile__intern_frames_location(struct ember_profile *p, const struct ember_frame *frames,
				    uint32_t nr_frames, uint32_t *id);

/* Attaches frames to location @id (copied), replacing any it had. 0, -EINVAL, -ENOMEM. */
int profile__set_location_frames(struct ember_profile *p, uint32_t id,
				 const struct ember_frame *frames, uint32_t nr_frames);

/*
 * Adds @s->count to the stack equal to @s (pid, tid, names, locations), creating
 * it when new. Strings and the location array are copied. 0, -EINVAL or -ENOMEM.
 */
int profile__add_sample(struct ember_profile *p, const struct ember_sample *s);

/* What a profile knows about a process, for labels (pid, executable, container). */
struct ember_process {
	uint32_t pid;
	const char *name;	  /* main thread's comm; NULL if unknown */
	const char *exe;	  /* executable path (/proc/PID/exe); NULL if unknown */
	const char *cgroup;	  /* cgroup v2 path ("/system.slice/x.service"); NULL if unknown */
	const char *container_id; /* docker/containerd/cri-o id (hex); NULL if none */
};

/* Records (or replaces) what is known of process @info->pid; strings are copied. */
int profile__set_process(struct ember_profile *p, const struct ember_process *info);

/* The process record of @pid, NULL when none; valid until @p changes. */
const struct ember_process *profile__process(const struct ember_profile *p, uint32_t pid);

/* Adds every sample, location, mapping, process and counter of @src to @dst. */
int profile__merge(struct ember_profile *dst, const struct ember_profile *src);

/*
 * Symbolizes every location that has a mapping and no frames yet through @sym.
 * Failures become "[unknown]" or "module+0xoffset" frames and are counted in
 * counters "symbolize.*"; only -ENOMEM fails the call.
 */
int profile__symbolize(struct ember_profile *p, struct ember_symbolizer *sym);

/* Read access for writers. Ids are 1-based and dense: 1..nr. */
size_t profile__nr_samples(const struct ember_profile *p);
/* Sample @i (0-based, in insertion order); pointers valid until @p changes. */
void profile__sample(const struct ember_profile *p, size_t i, struct ember_sample *out);
size_t profile__nr_locations(const struct ember_profile *p);
const struct ember_location *profile__location(const struct ember_profile *p, uint32_t id);
size_t profile__nr_mappings(const struct ember_profile *p);
const struct ember_mapping *profile__mapping(const struct ember_profile *p, uint32_t id);
/* Sum of all sample counts. */
uint64_t profile__total(const struct ember_profile *p);

/* ======================================================================== */
/* Collector                                                                */
/* ======================================================================== */

enum ember_target {
	EMBER_TARGET_ALL = 0,	 /* every process (-a) */
	EMBER_TARGET_PIDS = 1,	 /* the given processes (-p, -- CMD) */
	EMBER_TARGET_CGROUP = 2, /* processes in a cgroup v2 (--cgroup) */
};

/* How user stacks are walked (--unwind). */
enum ember_unwind {
	EMBER_UNWIND_AUTO =
	    0, /* .eh_frame tables where a mapping has them, frame pointers elsewhere */
	EMBER_UNWIND_FP_ONLY = 1, /* frame pointers only */
	EMBER_UNWIND_DWARF = 2,	  /* tables only: a frame without a table ends the stack */
};

struct ember_collector_opts {
	size_t sz;	       /* sizeof(struct ember_collector_opts) */
	uint32_t frequency_hz; /* samples per second per CPU; 0: 99 */
	enum ember_target target;
	const uint32_t *pids; /* EMBER_TARGET_PIDS: initial targets */
	size_t nr_pids;
	bool children;		 /* EMBER_TARGET_PIDS: follow forked children */
	uint64_t cgroup_id;	 /* EMBER_TARGET_CGROUP */
	bool no_kernel_stacks;	 /* --user-only */
	bool no_user_stacks;	 /* --kernel-only */
	bool include_idle;	 /* count the idle task */
	uint32_t counts_entries; /* in-kernel counts map size per window; 0: from window_ms */
	uint32_t stacks_entries; /* in-kernel stacks map size per window; 0: from window_ms */
	uint32_t window_ms;	 /* longest time between drains; sizes the maps; 0: 5000 */
	enum ember_unwind unwind;
	uint32_t unwind_rows;	      /* unwind table rows (8 bytes each) in the kernel; 0: 4 Mi */
	const char *unwind_cache_dir; /* built tables kept here by build-id; NULL: none */
	/*
	 * Optional: the symbolizer that will resolve the profile. The collector lets
	 * it open each target's files while the process is alive (not owned).
	 */
	struct ember_symbolizer *preload;
};

struct ember_collector;

/*
 * Loads the sampler and attaches its tracepoints; sampling starts with
 * collector__start(). @opts may be NULL. Returns 0, -EPERM/-EACCES without
 * CAP_BPF/CAP_PERFMON, -ENOENT without kernel BTF, or another negative errno.
 */
int collector__new(const struct ember_collector_opts *opts, struct ember_collector **out);

/* Stops sampling (if started) and frees everything. Accepts NULL. */
void collector__free(struct ember_collector *c);

/* Makes @pid a target (EMBER_TARGET_PIDS), e.g. a child about to exec. 0 or -errno. */
int collector__add_target(struct ember_collector *c, uint32_t pid);

/*
 * Opens one cpu-clock perf event per online CPU and attaches the sampler.
 * Offline CPUs are skipped. 0, or a negative errno when no CPU could be used.
 */
int collector__start(struct ember_collector *c);

/* Detaches the sampler from all perf events; samples already taken stay drainable. */
void collector__stop(struct ember_collector *c);

/*
 * Handles pending process events (new, exec, exit) so mappings are read while the
 * process is alive. Waits at most @timeout_ms for one to arrive (0: do not wait).
 * Call it often (the CLI does every 100 ms). Returns the number handled or -errno.
 */
int collector__poll(struct ember_collector *c, int timeout_ms);

/*
 * Moves everything sampled since the last drain into @into: stacks resolved to
 * locations and mappings (unsymbolized), per-window counters ("lost.*",
 * "truncated.*", "sampler.samples"), time span and frequency. Safe to call while
 * sampling runs: every sample lands in exactly one drain. 0 or a negative errno.
 */
int collector__drain(struct ember_collector *c, struct ember_profile *into);

/*
 * Ends a recording: stops sampling (if still running) and drains everything
 * the sampler took into @into, so that every sample lands in exactly one
 * profile (the earlier drains' or @into). Call it once, as the last drain; the
 * collector is not started again. 0 or a negative errno.
 */
int collector__finish(struct ember_collector *c, struct ember_profile *into);

/* Number of CPUs sampled. */
unsigned int collector__nr_cpus(const struct ember_collector *c);

/* ---- counters of a collected profile (agg/counters.c) ------------------ */

/*
 * What a counter means, by its name. Lost samples were taken (counted in
 * "sampler.samples") but are not in the profile, so over a whole recording
 * sampler.samples == profile__total() + ember_lost_samples(). A lost stack
 * leaves its sample in the profile under a marker frame. Lost events are not
 * samples (process events, side-band records, children not followed) and are
 * never added to lost samples.
 */
enum ember_counter_kind {
	EMBER_COUNTER_OTHER = 0,    /* not a loss: sampler.*, truncated.*, unwind.*, ... */
	EMBER_COUNTER_LOST_SAMPLES, /* lost.counts_map_full */
	EMBER_COUNTER_LOST_STACKS,  /* lost.kernel_stack.*, lost.user_stack.*, lost.stack.* */
	EMBER_COUNTER_LOST_EVENTS,  /* any other lost.*: lost.process_events, ... */
};

enum ember_counter_kind ember_counter_kind(const char *name);

/* Sum of @p's counters of kind EMBER_COUNTER_LOST_SAMPLES (samples). */
uint64_t ember_lost_samples(const struct ember_profile *p);

/*
 * The symbolizer's counters as last added to a profile, so that consecutive
 * windows symbolized by one symbolizer each carry only their own share. Holds
 * the symbolizer's name strings: reset it when the symbolizer is replaced.
 */
struct ember_symbolizer_baseline;

int symbolizer_baseline__new(struct ember_symbolizer_baseline **out);
void symbolizer_baseline__free(struct ember_symbolizer_baseline *b);
/* A new symbolizer counts from 0. */
void symbolizer_baseline__reset(struct ember_symbolizer_baseline *b);

/*
 * Adds @sym's counters ("symbolize.*") to @p. With @since NULL, their values as
 * they are (one symbolizer per profile); otherwise what each grew by since the
 * previous call with @since (counters that did not grow are left out), and
 * @since remembers the new values. 0 or -ENOMEM.
 */
int ember_add_symbolizer_counters(struct ember_profile *p, const struct ember_symbolizer *sym,
				  struct ember_symbolizer_baseline *since);

#endif /* EMBER_AGG_H */
