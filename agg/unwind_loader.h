/* SPDX-License-Identifier: MIT */
/*
 * Private to agg/: loads .eh_frame unwind tables into the sampler's
 * unwind_rows array and publishes, per process, which mappings have which
 * table (the unwind_procs map), and per file, under the (device, inode) the
 * kernel names it by, where its table is (the unwind_files map), so the
 * sampler unwinds a new process whose files were seen before at once.
 *
 * Tables are keyed by file identity (build-id; else device, inode, size and
 * mtime of the opened file), so every process mapping the same libc shares one
 * copy. Memory policy: the rows array has a fixed size chosen at start
 * (--unwind-rows); a table that no live process uses stays loaded until its
 * space is needed, then the least recently used such table is evicted. When a
 * table cannot fit even after evicting every unused one, its mappings are
 * walked with frame pointers and "unwind.tables.no_space" counts it.
 */
#ifndef EMBER_UNWIND_LOADER_H
#define EMBER_UNWIND_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc_tracker.h"

struct ember_probe;
struct ember_profile;
struct unwind_loader;

/*
 * @cache_dir: where built tables are kept across runs, by build-id (created if
 * missing), under @cache_bytes (0: no bound); NULL for no disk cache. The loader starts a thread of its own, which
 * builds, loads and publishes tables; unwind_loader__free stops it.
 */
int unwind_loader__new(struct ember_probe *probe, const char *cache_dir, uint64_t cache_bytes,
		       struct unwind_loader **out);
void unwind_loader__free(struct unwind_loader *l);

/*
 * Queues @tgid's executable mappings @maps (sorted by start; copied, the caller
 * keeps them) for the loader's thread, which builds or reuses their tables and
 * publishes the process to the sampler; until then its samples are walked as
 * before (counted in unwind.process_without_tables). Returns at once: 0, or
 * -ENOMEM (here or in the worker since the last call). A file that cannot be
 * opened or has no CFI is not an error (frame pointers are used). Call from one
 * thread at a time, as __forget and __add_counters.
 */
int unwind_loader__load(struct unwind_loader *l, uint32_t tgid, const struct proc_mapping *maps,
			size_t n);

/*
 * Loads the tables of the files at @paths (absolute paths) before any process
 * maps them, and waits for that up to @timeout_ms: `record -- CMD` names its
 * command's executable, interpreter and C library, so the command's first
 * samples after its exec are walked with tables. 0 when done, -ETIMEDOUT (the
 * loader goes on in the background), or -ENOMEM. A file without CFI is not an
 * error. The same thread rules as __load.
 */
int unwind_loader__preload(struct unwind_loader *l, const char *const *paths, size_t n,
			   int timeout_ms);

/* The process exited: queues its unpublication and the release of its tables. */
void unwind_loader__forget(struct unwind_loader *l, uint32_t tgid);

/* Adds "unwind.tables.*" counters accumulated since the last call. */
int unwind_loader__add_counters(struct unwind_loader *l, struct ember_profile *p);

#endif /* EMBER_UNWIND_LOADER_H */
