/* SPDX-License-Identifier: MIT */
/*
 * agg: the aggregation side of ember, on top of the profile model (profile/).
 *
 *  - profile__symbolize: the join of a collected profile with the symbolizer.
 *  - The counter taxonomy (agg/counters.c): which of a profile's named counters
 *    are lost samples, lost stacks or lost events, and the symbolizer's counters.
 *  - The collector (struct ember_collector): opens one perf event per online CPU,
 *    attaches the probes/ sampler, tracks processes and their mappings, and drains
 *    the in-kernel counts into a profile, at the end or every window.
 *
 * Thread-safety: none; one thread uses a collector at a time.
 */
#ifndef EMBER_AGG_H
#define EMBER_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"

struct ember_symbolizer;

/* ======================================================================== */
/* Joining a profile with the symbolizer                                    */
/* ======================================================================== */

/*
 * Symbolizes every location that has a mapping and no frames yet through @sym.
 * Failures become "[unknown]" or "module+0xoffset" frames and are counted in
 * counters "symbolize.*"; only -ENOMEM fails the call.
 */
int profile__symbolize(struct ember_profile *p, struct ember_symbolizer *sym);

/* ======================================================================== */
/* Collector                                                                */
/* ======================================================================== */

enum ember_target {
	EMBER_TARGET_ALL = 0,	 /* every process (-a) */
	EMBER_TARGET_PIDS = 1,	 /* the given processes (-p, -- CMD) */
	EMBER_TARGET_CGROUP = 2, /* processes in a cgroup v2 (--cgroup) */
};

/* Bounds of ember_collector_opts.unwind_rows that the commands accept (rows). */
#define EMBER_UNWIND_ROWS_MIN 1024u
#define EMBER_UNWIND_ROWS_MAX (1u << 26)

/*
 * The unwind table disk cache record and the agent share by default, and its
 * default bound (bytes): the tables of a few hundred binaries (libc's is
 * 0.2 MB, that of cc1, a 33 MB compiler, 3.8 MB), while a host that builds new
 * binaries all day cannot fill its disk with them.
 */
#define EMBER_UNWIND_CACHE_DIR	 "/var/cache/ember/unwind"
#define EMBER_UNWIND_CACHE_BYTES (256ull << 20)

/* How user stacks are walked (--unwind). */
enum ember_unwind {
	EMBER_UNWIND_AUTO =
	    0, /* .eh_frame tables where a mapping has them, frame pointers elsewhere */
	EMBER_UNWIND_FP_ONLY = 1, /* frame pointers only */
	EMBER_UNWIND_DWARF = 2,	  /* tables only: a frame without a table ends the stack */
};

/* What the collector measures (--off-cpu, --wall, agent mode). */
enum ember_mode {
	EMBER_MODE_CPU = 0,	/* on-CPU samples of the cpu-clock event */
	EMBER_MODE_OFF_CPU = 1, /* ns off the CPU, from sched_switch; no CPU sampling */
	EMBER_MODE_WALL = 2,	/* both, in ns: each on-CPU sample weighs 1e9 / frequency */
};

/* Default of ember_collector_opts.min_block_ns for the commands (offcputime's -m): 1 ms. */
#define EMBER_MIN_BLOCK_DEFAULT_NS 1000000ull

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
	uint32_t unwind_rows; /* unwind table rows (8 bytes each) in the kernel; 0: 4 Mi; else
			       * EMBER_UNWIND_ROWS_MIN..EMBER_UNWIND_ROWS_MAX */
	const char *unwind_cache_dir; /* built tables kept here by build-id; NULL: none */
	uint64_t unwind_cache_bytes;  /* bound of that directory; 0: EMBER_UNWIND_CACHE_BYTES */
	enum ember_mode mode;
	/*
	 * EMBER_MODE_OFF_CPU: off-CPU intervals shorter than this (ns) are not
	 * counted (counter off_cpu.below_min_block); 0 counts every one.
	 * EMBER_MODE_WALL ignores it: every interval counts, or a thread's time would
	 * not add up to its wall-clock time.
	 */
	uint64_t min_block_ns;
	uint32_t offcpu_threads;       /* threads off the CPU tracked at once; 0: 32768 */
	const char *switch_tracepoint; /* tests only: another tracepoint name; NULL: sched_switch */
	bool sched_frames; /* off-CPU kernel stacks keep schedule() & co (probes.h); ~3x the cost */
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
 * CAP_BPF/CAP_PERFMON, -ENOENT without kernel BTF, -EOPNOTSUPP when an off-CPU
 * mode needs the sched_switch tracepoint and the kernel's BTF has none, or
 * another negative errno.
 */
int collector__new(const struct ember_collector_opts *opts, struct ember_collector **out);

/* Stops sampling (if started) and frees everything. Accepts NULL. */
void collector__free(struct ember_collector *c);

/* Makes @pid a target (EMBER_TARGET_PIDS), e.g. a child about to exec. 0 or -errno. */
int collector__add_target(struct ember_collector *c, uint32_t pid);

/*
 * Loads the unwind tables of files a target is about to map (a command's
 * executable and libraries, before it is released to exec them), waiting up to
 * @timeout_ms; 0 at once with --unwind=fp. 0, -ETIMEDOUT or -ENOMEM.
 */
int collector__preload_files(struct ember_collector *c, const char *const *paths, size_t n,
			     int timeout_ms);

/*
 * Opens one cpu-clock perf event per online CPU and attaches the sampler
 * (not in EMBER_MODE_OFF_CPU), and attaches the sched_switch program (in the
 * off-CPU modes). Offline CPUs are skipped. 0, or a negative errno when no CPU
 * could be used.
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

/*
 * The processes the collector has forgotten since the last call: exited, and
 * every sample of theirs drained (into the last drain or an earlier one), so
 * their state elsewhere (symbolizer__forget_process) can go once those drains
 * are symbolized. PIDs are kept from the first call on: call it once after
 * collector__new, then after every drain. Moves them into *@pids (malloc'd,
 * the caller frees it; NULL when none) and their number into *@nr. 0, or
 * -ENOMEM when some could not be kept (those are not reported).
 */
int collector__take_exited(struct ember_collector *c, uint32_t **pids, size_t *nr);

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
 * @since remembers the new values. Plus symbolize.bytes_held, what the
 * symbolizer holds now (bytes; a level, not a count). 0 or -ENOMEM.
 */
int ember_add_symbolizer_counters(struct ember_profile *p, const struct ember_symbolizer *sym,
				  struct ember_symbolizer_baseline *since);

#endif /* EMBER_AGG_H */
