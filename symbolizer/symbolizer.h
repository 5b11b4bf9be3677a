/* SPDX-License-Identifier: MIT */
/*
 * symbolizer: turns code addresses into frames (function, inline chain,
 * file:line, module). Kernel addresses resolve through /proc/kallsyms (module
 * names via symbolizer__kernel_module); user addresses through the ELF file
 * behind the mapping: .symtab/.dynsym and synthesized "x@plt" stubs, and DWARF
 * (libdw) for inline chains and lines, from the file itself or a separate debug
 * file found by build-id, .gnu_debuglink, the debug_dir option or debuginfod
 * (when DEBUGINFOD_URLS is set). Files are opened through the process's view
 * (/proc/PID/root, /proc/PID/map_files for deleted ones), once per build-id or
 * inode, with at most max_open_files kept open. JIT code resolves through
 * /tmp/perf-PID.map, the vDSO through the kernel's image. Names are demangled
 * (C++, Rust legacy and v0) unless no_demangle.
 *
 * Counters (symbolizer__counter) count, per address resolved, why a frame is a
 * placeholder or lacks detail: symbolize.kernel_no_kallsyms, .kernel_no_symbol,
 * .no_mapping_file, .open_failed, .not_elf, .bad_elf, .no_segment, .no_symbol,
 * .no_debuginfo, .dwarf_error, .perfmap_missing, .perfmap_no_symbol,
 * .vdso_failed, .build_id_mismatch, .inline_truncated; and what the memory
 * budget did: symbolize.evictions (files dropped), .memo_resets (address memo
 * started over), .processes_forgotten (symbolizer__forget_process calls that
 * found state), .dwarf_over_budget (files whose DWARF alone would take over
 * half the budget: they resolve by symbols only).
 *
 * Memory: with opts.memory_budget set, the symbolizer keeps what it holds
 * (symbol tables and names, DWARF indexes, symbol and debug sections mapped or
 * decompressed, kernel symbols, perf maps, memos, per-process bindings;
 * symbolizer__bytes) within the budget by dropping whole files, least
 * recently used first, after each resolve (a file used in the last 64
 * lookups stays, so the budget is exceeded by at most what they hold, until
 * symbolizer__trim at the end of a batch); a dropped file is read again when
 * one of its addresses comes back. Per-process state goes with
 * symbolizer__forget_process.
 *
 * Thread-safety: none; one thread uses a symbolizer at a time.
 */
#ifndef EMBER_SYMBOLIZER_H
#define EMBER_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h" /* struct ember_frame, frame flags */

struct ember_symbolizer;

struct ember_symbolizer_opts {
	size_t sz;		   /* sizeof(struct ember_symbolizer_opts) */
	bool no_demangle;	   /* keep mangled names as the display name */
	bool no_kernel;		   /* do not read /proc/kallsyms */
	const char *kallsyms_path; /* default "/proc/kallsyms" (tests point elsewhere) */
	const char *debug_dir;	   /* extra debug-info root (--debug-dir): searched for
				 * .build-id/xx/rest.debug and debuglink files before
				 * /usr/lib/debug; NULL for none. Copied. */
	size_t max_open_files;	   /* ELF/DWARF files kept open at once; 0: default (64) */
	size_t memory_budget;	   /* bytes the symbolizer may hold (see above); 0: no limit.
				    * What one resolve needs is kept even past it. */
	/* More debug-info roots (repeated --debug-dir), searched in this order
	 * after debug_dir and before /usr/lib/debug, each like debug_dir; NULL
	 * (or nr_debug_dirs 0) for none. Copied. */
	const char *const *debug_dirs;
	size_t nr_debug_dirs;
};

/* @opts may be NULL for defaults. 0 or a negative errno. */
int symbolizer__new(const struct ember_symbolizer_opts *opts, struct ember_symbolizer **out);
void symbolizer__free(struct ember_symbolizer *s);

/*
 * Starts reading kernel symbols (~5 MB of /proc/kallsyms, ~0.1 s) on a thread
 * of the symbolizer's own, so the first kernel frame resolved does not wait for
 * them: `ember record` calls it before it loads the sampler. The thread touches
 * nothing else of @s; the first kernel lookup (or symbolizer__free) joins it.
 * Returns 0, or -errno when no thread could be started (symbols then load at
 * first use, as without this call).
 */
int symbolizer__preload_kernel(struct ember_symbolizer *s);

/* What to resolve. */
struct ember_symbolize_request {
	uint32_t pid;	      /* process the address was sampled in (to open its files); 0: none */
	const char *path;     /* mapped file as the process saw it; NULL for kernel */
	const char *build_id; /* lowercase hex, NULL if unknown */
	uint64_t map_start;   /* runtime start of the mapping */
	uint64_t map_offset;  /* file offset (bytes) of map_start */
	uint64_t address;     /* runtime address */
	bool is_kernel;	      /* a kernel address: resolve via kallsyms */
	bool is_return;	      /* a return address: resolve address - 1 */
};

/*
 * Writes the frames of @req into @frames (innermost inline first), at most @max,
 * and their number into *@nr. An address without a symbol yields one frame with
 * EMBER_FRAME_UNKNOWN (name "module+0xoffset" or "[unknown]") and counts why in
 * the symbolizer's counters; that is not an error. Without a memory budget,
 * strings stay valid until symbolizer__free(); with one, until the next call
 * on @s (copy them: profile__set_location_frames does). Returns 0, or -ENOMEM.
 */
int symbolizer__resolve(struct ember_symbolizer *s, const struct ember_symbolize_request *req,
			struct ember_frame *frames, uint32_t max, uint32_t *nr);

/*
 * Opens and caches the file behind @req's mapping now (only pid, path,
 * build_id and map_start are read), so it can be symbolized after the process
 * exits or the file is deleted: the collector calls this when it learns of a
 * mapping (exec, mmap). Files reachable only through /proc/PID keep their
 * descriptor (up to 512 of them). Returns 0, -ENOMEM, or the reason the file
 * cannot be opened as a negative errno (resolving later then gives
 * placeholders, as it would anyway).
 */
int symbolizer__preload(struct ember_symbolizer *s, const struct ember_symbolize_request *req);

/*
 * Drops what the symbolizer keeps for process @pid: which file each of its
 * mappings is, its perf map. Files it shared stay. Call it once the process
 * has exited and every sample of it has been resolved; a later request for
 * @pid (a reused PID) just looks its files up again. 0, or -ENOENT when
 * nothing was kept for @pid.
 */
int symbolizer__forget_process(struct ember_symbolizer *s, uint32_t pid);

/* Bytes the symbolizer holds now, as measured for opts.memory_budget. */
size_t symbolizer__bytes(const struct ember_symbolizer *s);

/*
 * Changes the memory budget (bytes; 0: no limit), e.g. on a configuration
 * reload. A smaller budget takes effect at the next resolve.
 */
void symbolizer__set_memory_budget(struct ember_symbolizer *s, size_t bytes);

/*
 * Drops least recently used files until the symbolizer is within its memory
 * budget, the files of the last lookups included: for the end of a batch
 * (profile__symbolize), when nothing is in use, so that what it keeps between
 * batches is at most the budget. No-op without a budget.
 */
void symbolizer__trim(struct ember_symbolizer *s);

/*
 * Like symbolizer__resolve() for ELF virtual address @vaddr of the file at
 * @path, as addr2line takes it (no process, no mapping, not a return address).
 */
int symbolizer__resolve_elf(struct ember_symbolizer *s, const char *path, uint64_t vaddr,
			    struct ember_frame *frames, uint32_t max, uint32_t *nr);

/*
 * The kernel module that kernel address @addr belongs to: "[ext4]" for a
 * module, "[kernel.kallsyms]" for the core kernel, or NULL when kallsyms is
 * unavailable. The string stays valid until symbolizer__free().
 */
const char *symbolizer__kernel_module(struct ember_symbolizer *s, uint64_t addr);

/* Failure counters by reason, e.g. "symbolize.no_symbol", "symbolize.open_failed". */
size_t symbolizer__nr_counters(const struct ember_symbolizer *s);
void symbolizer__counter(const struct ember_symbolizer *s, size_t i, const char **name,
			 uint64_t *value);

/*
 * Reads the GNU build-id note of the ELF file at @path into @hex (lowercase, NUL
 * terminated; @size >= 41 bytes holds a 20-byte id). 0, -ENOENT when the file has
 * none, or another negative errno.
 */
int symbolizer__read_build_id(const char *path, char *hex, size_t size);

#endif /* EMBER_SYMBOLIZER_H */
