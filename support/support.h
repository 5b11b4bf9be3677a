/* SPDX-License-Identifier: MIT */
/*
 * support: the small pieces every ember module shares. Logging to stderr with a
 * verbosity level (log.c), geometric array growth with overflow checks and an
 * index hash table that maps a 64-bit hash to caller-owned records (memory.c), a
 * string pool that interns names so profiles store each function or path once
 * (strpool.c), the online-CPU list (cpu_list.c), clocks (clock.c), a
 * /proc/PID/maps reader (proc_maps.c) and ELF sections by name (elf_section.c,
 * through libelf).
 *
 * Thread-safety: none of these objects lock; use one per thread or lock outside.
 */
#ifndef EMBER_SUPPORT_H
#define EMBER_SUPPORT_H

#include <elf.h> /* Elf64_Shdr, which libelf's GElf_Shdr is */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- logging ----------------------------------------------------------- */

enum ember_log_level {
	EMBER_LOG_QUIET =
	    -1, /* nothing, not even errors: fuzz targets, where bad input is the point */
	EMBER_LOG_ERROR = 0,
	EMBER_LOG_WARN = 1,
	EMBER_LOG_INFO = 2,
	EMBER_LOG_DEBUG = 3,
};

/* Messages above @level are discarded. Default: EMBER_LOG_WARN. */
void ember_log_set_level(enum ember_log_level level);
enum ember_log_level ember_log_get_level(void);

/* Writes "ember: <message>\n" to stderr when @level is enabled. */
void ember_log(enum ember_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define pr_err(...)   ember_log(EMBER_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  ember_log(EMBER_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  ember_log(EMBER_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) ember_log(EMBER_LOG_DEBUG, __VA_ARGS__)

/* ---- memory ------------------------------------------------------------ */

/*
 * Makes room for at least @need elements of @elem_size bytes in *@array, whose
 * capacity (in elements) is *@cap. Grows geometrically (x2, at least 16), so n
 * appends cost O(n). Returns 0 or -ENOMEM (on overflow too); on failure *@array
 * and *@cap are unchanged.
 */
int ember_grow(void **array, size_t *cap, size_t need, size_t elem_size);

/* 64-bit hash of @len bytes at @data, mixed with @seed. Not cryptographic. */
uint64_t ember_hash_bytes(const void *data, size_t len, uint64_t seed);

/* Mixes one 64-bit value into @h. */
uint64_t ember_hash_u64(uint64_t h, uint64_t v);

/* ---- index hash table -------------------------------------------------- */

/*
 * Open-addressing table from a 64-bit hash to a uint32_t index of a record the
 * caller stores elsewhere (usually in a growable array). The caller decides
 * equality, so the table never copies keys: lookups walk the probe sequence of
 * @hash and ask @eq(ctx, index) for each candidate.
 */
struct ember_index;

typedef bool (*ember_index_eq_fn)(const void *ctx, uint32_t index);

int ember_index__new(struct ember_index **out);
void ember_index__free(struct ember_index *idx);

/* Returns the stored index equal per @eq, or -1 when none is. */
int64_t ember_index__find(const struct ember_index *idx, uint64_t hash, ember_index_eq_fn eq,
			  const void *ctx);

/* Adds @index under @hash (the caller checked it is absent). 0 or -ENOMEM. */
int ember_index__insert(struct ember_index *idx, uint64_t hash, uint32_t index);

/* Number of entries. */
size_t ember_index__size(const struct ember_index *idx);

/* Drops every entry, keeping the allocation for reuse. */
void ember_index__clear(struct ember_index *idx);

/* ---- string pool ------------------------------------------------------- */

/*
 * Interns strings: equal strings come back as the same pointer, valid until
 * ember_strpool__free(). Memory is allocated in large blocks, so interning costs
 * no allocation per string once a block has room.
 */
struct ember_strpool;

int ember_strpool__new(struct ember_strpool **out);
void ember_strpool__free(struct ember_strpool *pool);

/*
 * Returns the pool's copy of @len bytes at @s (NUL-terminated in the pool), or
 * NULL on allocation failure.
 */
const char *ember_strpool__intern_len(struct ember_strpool *pool, const char *s, size_t len);
const char *ember_strpool__intern(struct ember_strpool *pool, const char *s);

/* Interns a printf-formatted string; NULL on failure. */
const char *ember_strpool__internf(struct ember_strpool *pool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Bytes allocated by the pool (blocks plus table), for memory accounting. */
size_t ember_strpool__bytes(const struct ember_strpool *pool);

/* ---- CPUs -------------------------------------------------------------- */

/*
 * Reads /sys/devices/system/cpu/online ("0-3,5\n") into @buf; empty when it
 * cannot be read (then every possible CPU counts as online).
 */
void ember_online_cpus(char *buf, size_t size);

/* Whether @cpu is in the kernel CPU list @list ("0-3,5"); an empty list holds every CPU. */
bool ember_cpu_in_list(const char *list, int cpu);

/* ---- time -------------------------------------------------------------- */

/* CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds. */
uint64_t ember_now_mono_ns(void);
uint64_t ember_now_real_ns(void);

/*
 * Length of a profile that began at @start_real and ended at @end_real on the
 * wall clock (CLOCK_REALTIME, ns), @mono_ns on the monotonic clock. A profile
 * says when it ran on the wall clock, the axis of logs, of other tools and of a
 * query over windows, and two windows that follow each other must meet on it:
 * so the wall-clock length, also when the clock was stepped in between (NTP, a
 * VM's sync with its host: steps of 5 ms and more seen on these machines). The
 * monotonic length when the clock went back past @start_real.
 */
uint64_t ember_wall_span_ns(uint64_t start_real, uint64_t end_real, uint64_t mono_ns);

/* ---- /proc/PID/maps --------------------------------------------------- */

/* One mapping, one line of /proc/PID/maps. */
struct ember_proc_map {
	uint64_t start, end; /* virtual addresses, [start, end) */
	uint64_t offset;     /* file offset mapped at start, bytes */
	uint64_t inode;	     /* 0 for anonymous and pseudo mappings ([vdso], [heap]) */
	char perms[5];	     /* "r-xp": read, write, execute, then p(rivate) or s(hared) */
	char dev[16];	     /* device as the kernel prints it, "major:minor" in hex ("fd:01") */
	/*
	 * The rest of the line without its newline, verbatim: "" for an anonymous
	 * mapping, pseudo-paths as "[vdso]", spaces inside the path kept, and the
	 * kernel's " (deleted)" suffix kept for a file unlinked since it was mapped.
	 * Points into the line parsed (see below).
	 */
	const char *path;
};

/*
 * Parses one /proc/PID/maps line (NUL-terminated, newline optional) into *@m,
 * ending @line at its newline; m->path points into @line. Returns 0, or -EINVAL
 * when the line is not in the kernel's format (*@m is then unspecified).
 */
int ember_proc_maps_parse_line(char *line, struct ember_proc_map *m);

/*
 * Reads the mappings of a process in file order (ascending addresses), skipping
 * lines ember_proc_maps_parse_line() rejects. Lines of any length are read whole.
 */
struct ember_proc_maps;

/* Opens /proc/@pid/maps. 0, or the negative errno of fopen (-ENOENT: no such process), -ENOMEM. */
int ember_proc_maps__open(uint32_t pid, struct ember_proc_maps **out);

/* Opens a file in the same format at @path (a saved copy, a test's input). As __open. */
int ember_proc_maps__open_path(const char *path, struct ember_proc_maps **out);

/*
 * Fills *@m with the next mapping. m->path stays valid until the next call or
 * ember_proc_maps__free(). Returns 0, -ENOENT after the last line, or the negative
 * errno of a failed read.
 */
int ember_proc_maps__next(struct ember_proc_maps *maps, struct ember_proc_map *m);

/* Closes the file and frees the line buffer; accepts NULL. */
void ember_proc_maps__free(struct ember_proc_maps *maps);

/*
 * Finds the mapping of @pid that contains @addr and copies it to *@m. Its path is
 * copied to @path (@path_size bytes with the NUL; a longer one is cut short) and
 * m->path set to @path, which may be NULL when the path is not wanted. Returns 0,
 * -ENOENT when no mapping contains @addr, or an error of ember_proc_maps__open().
 */
int ember_proc_maps_find(uint32_t pid, uint64_t addr, struct ember_proc_map *m, char *path,
			 size_t path_size);

/* ---- ELF sections ------------------------------------------------------ */

/*
 * libelf's Elf and Elf_Scn by their struct tags (libelf.h typedefs them), so this
 * header does not bring libelf.h to every module; callers pass Elf * and GElf_Shdr *.
 */
struct Elf;
struct Elf_Scn;

enum ember_elf_section_flags {
	/*
	 * Skip sections whose contents are not in the file (SHT_NOBITS), as libdw's
	 * dwarf_getcfi_elf() does: a separate debug file keeps such headers for the
	 * sections it stripped.
	 */
	EMBER_ELF_SECTION_HAS_DATA = 1u << 0,
};

/*
 * Returns the first section of @elf named @name that @flags (enum
 * ember_elf_section_flags) allow, with its header copied to *@shdr; NULL when
 * there is none or the section names cannot be read (*@shdr is then unspecified).
 * The section belongs to @elf and is valid until elf_end(@elf).
 */
struct Elf_Scn *ember_elf_find_section(struct Elf *elf, const char *name, unsigned int flags,
				       Elf64_Shdr *shdr);

#endif /* EMBER_SUPPORT_H */
