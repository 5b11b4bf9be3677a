/* SPDX-License-Identifier: MIT */
/*
 * profile: the profile model every other module speaks.
 *
 * A profile (struct ember_profile) holds unique stacks with counts, where a stack
 * is a list of locations (a raw address in a mapping), each location later
 * symbolized into frames (an inline chain); plus mappings (path, build-id, file
 * offset), processes, profile-wide labels and named counters (losses, unwind
 * failures). Profiles come from the collector (agg/, addresses and mappings, no
 * frames until symbolized) or from readers (output/: folded, pprof, with frames
 * and often no addresses). Every writer in output/ reads this model and nothing
 * else; the symbolizer uses its frame type only.
 *
 * This module depends on support/ alone.
 *
 * Thread-safety: none; one thread uses a profile at a time.
 */
#ifndef EMBER_PROFILE_H
#define EMBER_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/*
 * What a profile's sample counts measure (profile__value_type). A CPU profile
 * counts samples (each worth the period, 1e9 / frequency ns, of CPU time); an
 * off-CPU profile counts nanoseconds a thread spent off the CPU; a wall-clock
 * profile counts nanoseconds of both, on-CPU samples at the period each, so a
 * thread's counts add up to its wall-clock time.
 */
enum ember_value_type {
	EMBER_VALUE_SAMPLES = 0,    /* samples/count (and cpu/nanoseconds = count x period) */
	EMBER_VALUE_OFF_CPU_NS = 1, /* off_cpu/nanoseconds */
	EMBER_VALUE_WALL_NS = 2,    /* wall/nanoseconds: cpu ns + off-CPU ns */
	/*
	 * Any other pprof sample type (inuse_space/bytes, cpu/nanoseconds,
	 * contentions/count, ...): the (type, unit) pair of
	 * profile__set_sample_type names it.
	 */
	EMBER_VALUE_OTHER = 3,
};

/* What one sample stands for (struct ember_sample.kind). */
enum ember_sample_kind {
	EMBER_SAMPLE_ON_CPU = 0,	    /* running on a CPU */
	EMBER_SAMPLE_OFF_CPU_BLOCKED = 1,   /* off the CPU, asleep: a lock, I/O, a timer */
	EMBER_SAMPLE_OFF_CPU_PREEMPTED = 2, /* off the CPU, runnable: waiting for a CPU */
};

/* The marker frame at the leaf of an off-CPU stack of kind @kind; NULL for on-CPU. */
const char *ember_sample_kind_marker(uint32_t kind);

/* One aggregated stack as a writer sees it. */
struct ember_sample {
	uint32_t pid;		  /* 0 when unknown (e.g. read from folded) */
	uint32_t tid;		  /* 0 when unknown */
	const char *process_name; /* root frame in folded; NULL for none */
	const char *thread_name;  /* comm of the thread; NULL for none */
	uint64_t count; /* in the profile's unit: samples, ns, bytes (profile__sample_type) */
	uint32_t nr_locations;
	const uint32_t *locations; /* location ids (1-based), leaf first */
	uint32_t kind;		   /* enum ember_sample_kind; 0 (on-CPU) unless set */
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
/* The unit of sample counts; EMBER_VALUE_SAMPLES for a new profile. */
void profile__set_value_type(struct ember_profile *p, enum ember_value_type type);
enum ember_value_type profile__value_type(const struct ember_profile *p);
/* The pprof sample type name of a value type: "samples", "off_cpu" or "wall". */
const char *ember_value_type_name(enum ember_value_type type);
/*
 * Makes the counts values of sample type @type in @unit (pprof's strings, e.g.
 * "inuse_space" and "bytes"; copied) and the value type EMBER_VALUE_OTHER.
 * 0, -EINVAL (empty strings) or -ENOMEM.
 */
int profile__set_sample_type(struct ember_profile *p, const char *type, const char *unit);
/*
 * The sample type and unit of the counts, for every value type: "samples" and
 * "count", "off_cpu" or "wall" and "nanoseconds", or the pair set above.
 * Strings valid while @p lives.
 */
void profile__sample_type(const struct ember_profile *p, const char **type, const char **unit);

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
 * ORs @flags (enum ember_mapping_flags, the has_* ones) into mapping @id, e.g. once
 * a symbolizer resolved one of its locations to functions or lines. 0 or -EINVAL.
 */
int profile__add_mapping_flags(struct ember_profile *p, uint32_t id, uint32_t flags);

/*
 * ORs into mapping @id the has_* flags @frames show (functions, file names,
 * lines, inlines; unknown and marker frames show none), once a symbolizer gave
 * one of its locations these frames: pprof's has_functions, has_filenames,
 * has_line_numbers and has_inline_frames then say what the profile carries.
 * 0 or -EINVAL.
 */
int profile__add_mapping_flags_of(struct ember_profile *p, uint32_t id,
				  const struct ember_frame *frames, uint32_t n);

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

/*
 * Adds every sample, location, mapping, process and counter of @src to @dst.
 * -EINVAL when their value types (or sample types and units) differ and @dst
 * has samples (a count of samples and one of ns do not add up); an empty @dst
 * takes @src's type.
 */
int profile__merge(struct ember_profile *dst, const struct ember_profile *src);

#define EMBER_MERGE_MAX_ROOTS 4 /* extra root frames a merge callback may add */

/*
 * Options of profile__merge_opts (libbpf style: .sz = sizeof; NULL: every sample
 * as it is). @sample is called with each sample of @src (names, counts, pid of
 * @src's; locations are @src's ids and must not change) and returns false to
 * leave it out. It may change the sample's names, pid, tid and count, and put
 * up to EMBER_MERGE_MAX_ROOTS names of extra frames above the sample's
 * outermost one in @roots (outermost first; *@nr_roots of them, 0 on entry).
 * The names are copied into @dst; they need to stay valid until the callback
 * is called again.
 */
struct ember_merge_opts {
	size_t sz;
	bool (*sample)(const struct ember_profile *src, struct ember_sample *s, const char **roots,
		       uint32_t *nr_roots, void *ctx);
	void *ctx;
};

/*
 * profile__merge of the samples @opts keeps (and every mapping, location,
 * process, counter and label of @src). Same errors.
 */
int profile__merge_opts(struct ember_profile *dst, const struct ember_profile *src,
			const struct ember_merge_opts *opts);

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

#endif /* EMBER_PROFILE_H */
