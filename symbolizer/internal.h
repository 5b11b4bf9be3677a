/* SPDX-License-Identifier: MIT */
/*
 * Private interfaces between the symbolizer's files: kernel symbols (kallsyms.c),
 * ELF files and their symbol tables (elf_file.c), DWARF line and inline lookups
 * (dwarf.c), separate debug-info discovery (debuginfo.c), demangling
 * (demangle.c), JIT perf maps (perfmap.c) and the file cache (cache.c). Only
 * symbolizer.c implements the public header; nothing outside symbolizer/
 * includes this file.
 */
#ifndef EMBER_SYMBOLIZER_INTERNAL_H
#define EMBER_SYMBOLIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "support/support.h"
#include "symbolizer/symbolizer.h"

/* ---- counters ---------------------------------------------------------- */

/* Why an address came out as an [unknown]-style frame (or lost detail). */
enum sym_reason {
	SYM_R_KERNEL_NO_KALLSYMS, /* kallsyms unreadable or addresses hidden */
	SYM_R_KERNEL_NO_SYMBOL,	  /* kernel address below the first symbol */
	SYM_R_NO_PATH,		  /* user address without a mapped file */
	SYM_R_OPEN_FAILED,	  /* file could not be opened (any path tried) */
	SYM_R_NOT_ELF,		  /* file is not an ELF object */
	SYM_R_BAD_ELF,		  /* ELF headers unreadable or truncated */
	SYM_R_NO_SEGMENT,	  /* file offset outside every PT_LOAD */
	SYM_R_NO_SYMBOL,	  /* no symbol covers the address */
	SYM_R_NO_DEBUGINFO,	  /* resolved by symbol only: no DWARF found */
	SYM_R_DWARF_ERROR,	  /* DWARF present but no line or function at the address */
	SYM_R_PERFMAP_MISSING,	  /* JIT mapping without a readable perf map */
	SYM_R_PERFMAP_NO_SYMBOL,  /* perf map has no entry for the address */
	SYM_R_VDSO_FAILED,	  /* vDSO image not readable */
	SYM_R_BUILD_ID_MISMATCH,  /* opened file's build-id differs from the sampled one */
	SYM_R_TRUNCATED,	  /* more inline frames than the caller's array holds */
	SYM_R__NR,
};

extern const char *const sym_reason_names[SYM_R__NR];

/* ---- kallsyms.c -------------------------------------------------------- */

#define KSYM_NO_MODULE UINT32_MAX

struct ksym {
	uint64_t addr;
	uint32_t name;	 /* offset in kallsyms.names */
	uint32_t module; /* offset of "[ext4]" in kallsyms.names; KSYM_NO_MODULE: core kernel */
};

struct kallsyms {
	struct ksym *syms; /* sorted by addr */
	size_t nr, cap;
	char *names; /* NUL-terminated names, back to back */
	size_t names_len, names_cap;
};

/*
 * Loads text symbols from @path (a /proc/kallsyms-format file). Touches nothing
 * but the new table, so it may run on another thread. 0 or -errno.
 */
int kallsyms__load(const char *path, struct kallsyms **out);
void kallsyms__free(struct kallsyms *k);
/* Symbol with the largest address <= @addr, or NULL. */
const struct ksym *kallsyms__find(const struct kallsyms *k, uint64_t addr);
/* Name of @s, and its module ("[ext4]") or NULL for the core kernel; valid while @k lives. */
const char *kallsyms__name(const struct kallsyms *k, const struct ksym *s);
const char *kallsyms__module(const struct kallsyms *k, const struct ksym *s);

/* ---- elf_file.c -------------------------------------------------------- */

struct elf_seg {
	uint64_t vaddr, memsz;	 /* virtual address range (bytes) */
	uint64_t offset, filesz; /* file range (bytes) */
};

struct elf_sym {
	uint64_t addr, size; /* ELF virtual address and size (bytes; 0: unknown) */
	const char *name;    /* interned raw (mangled) name */
	const char *display; /* interned demangled name; NULL until first use */
	uint8_t rank;	     /* tie-break between aliases: higher wins */
};

struct elf_symtab {
	struct elf_sym *syms; /* sorted by addr */
	size_t nr, cap;
};

/* Reads the GNU build-id note of @elf as lowercase hex into @hex. 0, -ENOENT. */
int elf__build_id(Elf *elf, char *hex, size_t size);

/*
 * Bytes of the sections of @elf whose names start with @prefix (or are one of
 * the symbol sections when @prefix is NULL: .symtab, .strtab, .dynsym,
 * .dynstr), uncompressed size for compressed ones: what reading them maps or
 * decompresses, for the memory budget.
 */
size_t elf__section_bytes(Elf *elf, const char *prefix);

/* Executable-relevant facts of an ELF image. */
struct elf_info {
	uint16_t type;	      /* ET_EXEC, ET_DYN, ... */
	struct elf_seg *segs; /* PT_LOAD segments */
	size_t nr_segs;
	bool has_symtab;     /* a .symtab with entries (not stripped) */
	bool has_debug_info; /* a .debug_info section with contents */
	char build_id[41];   /* "" when absent */
	char *debuglink;     /* .gnu_debuglink file name (malloc'd), or NULL */
	uint32_t debuglink_crc;
};

/* Fills @info from @elf. 0, -EINVAL (not ELF), -EIO (malformed) or -ENOMEM. */
int elf_info__read(Elf *elf, struct elf_info *info);
void elf_info__fini(struct elf_info *info);

/* Translates file offset @off to an ELF virtual address. 0 or -ENOENT. */
int elf_info__offset_to_vaddr(const struct elf_info *info, uint64_t off, uint64_t *vaddr);

/*
 * Appends the function symbols of @elf (.symtab and .dynsym) and synthesized
 * PLT entries ("puts@plt") to @tab, then sorts it. Names are interned in @pool.
 */
int elf_symtab__add(struct elf_symtab *tab, Elf *elf, struct ember_strpool *pool);
void elf_symtab__sort(struct elf_symtab *tab);
void elf_symtab__fini(struct elf_symtab *tab);
/* The symbol covering @vaddr, or NULL. */
struct elf_sym *elf_symtab__find(const struct elf_symtab *tab, uint64_t vaddr);

/*
 * The sized symbol that ends at most @max_gap bytes before @vaddr, with no
 * symbol between and no 16-byte boundary between (where the next code would be
 * aligned): for the alignment padding after a function, which the line
 * table gives to that function (as binutils addr2line and perf, which end a
 * symbol at the next one, do). NULL otherwise. Only meaningful where every
 * function has a symbol (a full .symtab) or DWARF's line table places @vaddr
 * in a sequence: a stripped file's gaps may be whole functions without one.
 */
struct elf_sym *elf_symtab__find_padding(const struct elf_symtab *tab, uint64_t vaddr,
					 uint64_t max_gap);

/* ---- demangle.c -------------------------------------------------------- */

/*
 * Demangles C++ (Itanium) and Rust (legacy and v0) names. Returns a malloc'd
 * string the caller frees, or NULL when @name is not a mangled name.
 */
char *sym_demangle(const char *name);

/* ---- debuginfo.c ------------------------------------------------------- */

struct debuginfo_opts {
	char **debug_dirs; /* extra roots, searched in order before /usr/lib/debug */
	size_t nr_debug_dirs;
	bool use_debuginfod; /* DEBUGINFOD_URLS set and libdebuginfod usable */
};

/*
 * Finds and opens the separate debug file of an ELF file at @path (as opened,
 * e.g. through /proc/PID/root) with build-id @build_id (hex, may be ""), and
 * .gnu_debuglink @link/@crc (may be NULL). Returns an fd the caller owns and
 * stores its path in *@found (malloc'd), or a negative errno (-ENOENT: none).
 */
int debuginfo__find(const struct debuginfo_opts *opts, const char *path, const char *build_id,
		    const char *link, uint32_t crc, char **found);

/*
 * The executable or library with build-id @build_id (hex), for a mapping whose
 * file is not on this host (a profile symbolized elsewhere than where it was
 * sampled): ROOT/.build-id/xx/rest for ROOT in the debug roots and
 * /usr/lib/debug, else from debuginfod. Its path (malloc'd) goes to *@found;
 * the caller checks its build-id. 0, -ENOENT when none has it, or debuginfod's
 * negative errno.
 */
int debuginfo__find_executable(const struct debuginfo_opts *opts, const char *build_id,
			       char **found);

/* ---- dwarf.c ----------------------------------------------------------- */

/* One frame as DWARF tells it; strings are libdw's, valid while the Dwfl lives. */
struct dw_frame {
	const char *name; /* linkage name when present, else DW_AT_name */
	const char *file; /* absolute when the CU says so (comp_dir joined) */
	uint32_t line;
	uint32_t decl_line; /* the function's first line, for pprof Function.start_line; 0 */
	bool is_inline;
};

struct dw_file;

/*
 * Sets up DWARF access for the ELF file open at @fd (dup'd, not consumed) named
 * @path. Debug info comes from the file itself or from debuginfo__find().
 * Returns 0 or a negative errno (-ENOENT: no DWARF anywhere).
 */
int dw_file__open(int fd, const char *path, const struct elf_info *info,
		  const struct debuginfo_opts *opts, struct dw_file **out);
void dw_file__free(struct dw_file *dw);

/*
 * Bytes @dw holds: its CU indexes and names, the line tables of the CUs it
 * indexed (an estimate per row), and the .debug_* sections libdw maps or
 * decompresses (counted whole: an upper bound of what is touched). libdw's
 * own CU and abbreviation structures are not visible and not counted.
 */
size_t dw_file__bytes(const struct dw_file *dw);

/* Elf of the separate debug file (for its .symtab), or NULL. */
Elf *dw_file__debug_elf(struct dw_file *dw);

/*
 * Frames at ELF virtual address @vaddr, innermost first, at most @max; the
 * number found goes in *@nr (0: no DWARF function covers @vaddr, but the
 * innermost line may still be in frames[0] with name NULL, when *@has_line).
 */
int dw_file__lookup(struct dw_file *dw, uint64_t vaddr, struct dw_frame *frames, uint32_t max,
		    uint32_t *nr, bool *has_line);

/* ---- dwarf_index.c ---------------------------------------------------- */

/* A function scope of a CU: a subprogram or an inlined subroutine with code. */
struct dw_scope {
	Dwarf_Off die;	       /* its DIE, for names and call sites */
	int32_t parent;	       /* enclosing function scope, -1 for none */
	bool is_inline;	       /* DW_TAG_inlined_subroutine */
	bool resolved;	       /* name and call site below are filled in */
	uint32_t call_line;    /* DW_AT_call_line of an inline; 0 if none */
	const char *name;      /* linkage name or DW_AT_name (libdw's string) */
	const char *call_file; /* DW_AT_call_file, joined to comp_dir; NULL if none */
	uint32_t decl_line;    /* DW_AT_decl_line of the function (via abstract origin); 0 */
};

struct dw_cu_index;

/* Walks the DIE tree under @cudie once and indexes its function scopes. */
int dw_cu_index__build(Dwarf_Die *cudie, struct dw_cu_index **out);
void dw_cu_index__free(struct dw_cu_index *ix);
/* Innermost scope containing DWARF address @pc, or -1. */
int32_t dw_cu_index__find(const struct dw_cu_index *ix, uint64_t pc);
struct dw_scope *dw_cu_index__scope(struct dw_cu_index *ix, int32_t i);
size_t dw_cu_index__bytes(const struct dw_cu_index *ix);

/* ---- perfmap.c --------------------------------------------------------- */

struct perfmap_entry {
	uint64_t start, size; /* runtime addresses (bytes) */
	const char *name;     /* interned */
};

struct perfmap {
	uint32_t pid;
	struct ember_strpool *pool;    /* the map's names; owned, freed by perfmap__fini */
	struct perfmap_entry *entries; /* sorted by start */
	size_t nr, cap;
	bool loaded; /* false: no map file could be read */
};

/*
 * Reads /tmp/perf-NSPID.map of @pid through /proc/PID/root into @out, names
 * in a pool of its own (so forgetting the process frees them). 0 or -errno.
 */
int perfmap__load(uint32_t pid, struct perfmap *out);
/* Bytes @pm holds (entries and names). */
size_t perfmap__bytes(const struct perfmap *pm);
void perfmap__fini(struct perfmap *pm);
const struct perfmap_entry *perfmap__find(const struct perfmap *pm, uint64_t addr);

/* ---- cache.c ----------------------------------------------------------- */

/*
 * One ELF file, opened once however many processes map it. The open
 * descriptor, the Elf handle and DWARF state are released when the file falls
 * out of the open set (least recently used first) and reopened on demand. Under
 * a memory budget the least recently used files are also dropped whole: symbol
 * table and names go, the slot stays (path, identity, segments) and is
 * reloaded when an address of the file is asked for again; @gen changes, so
 * answers memoized before are not used.
 */
struct sym_file {
	char *path;	    /* path it was opened through (malloc'd) */
	const char *module; /* interned basename of the mapped path, for placeholders */
	dev_t dev;
	ino_t ino;
	int fd;		   /* -1 while evicted */
	Elf *elf;	   /* NULL while evicted */
	void *image;	   /* in-memory image (vDSO), owned; NULL for files */
	size_t image_size; /* bytes */
	struct elf_info info;
	struct elf_symtab syms;
	struct ember_strpool *pool; /* names of this file's frames; NULL while dropped */
	size_t elf_bytes;	    /* symbol sections mapped through @elf (bytes) */
	size_t bytes;		    /* held, as last accounted (bytes) */
	uint32_t gen;		    /* bumped when dropped */
	bool dropped;		    /* tables released; reloaded on demand */
	int reload_err;		    /* why reloading failed (not tried again); 0 */
	struct dw_file *dw;	    /* NULL: not tried yet, or none (see dw_state) */
	int dw_state;		    /* 0 untried, 1 open, -errno failed */
	bool debug_syms;	    /* the debug file's .symtab was merged into syms */
	bool parked;		    /* fd kept, Elf and DWARF freed (not reopenable by path) */
	uint64_t last_use;	    /* cache clock at the last lookup */
	uint32_t id;		    /* index in the cache, stable */
};

struct sym_cache;

struct sym_cache_opts {
	size_t max_open; /* files kept open (fd + Elf + DWARF) */
	struct debuginfo_opts debuginfo;
	struct ember_strpool *pool; /* interns names; owned by the caller */
};

int sym_cache__new(const struct sym_cache_opts *opts, struct sym_cache **out);
void sym_cache__free(struct sym_cache *c);

/*
 * The file behind (@pid, @path) with build-id @build_id (may be NULL), opened
 * through /proc/@pid/root, /proc/@pid/map_files (for the mapping at
 * @map_start) or @path itself. Returns 0 and the file in *@out, -ENOMEM, or
 * another negative errno with the failure reason in *@reason (remembered, so a
 * bad file is tried once).
 */
int sym_cache__get(struct sym_cache *c, uint32_t pid, const char *path, const char *build_id,
		   uint64_t map_start, struct sym_file **out, enum sym_reason *reason);

/* The vDSO image of this kernel, as one shared file. */
int sym_cache__get_vdso(struct sym_cache *c, struct sym_file **out, enum sym_reason *reason);

/*
 * Makes sure @f has its Elf handle and DWARF state (reopening an evicted file).
 * Returns the DWARF handle or NULL when the file has none.
 */
struct dw_file *sym_cache__dwarf(struct sym_cache *c, struct sym_file *f);

/*
 * Bytes held: every file's tables, names, mapped symbol sections and DWARF
 * state, plus the bindings of every process. Kept current by
 * sym_cache__account().
 */
size_t sym_cache__bytes(const struct sym_cache *c);

/* Re-measures @f after a lookup grew it (DWARF indexes, names). */
void sym_cache__account(struct sym_cache *c, struct sym_file *f);

/*
 * Drops least recently used files (never @keep, nor one used in the last
 * @recent lookups) until the cache's bytes plus @extra (what the rest of the
 * symbolizer holds) are at most @budget, or nothing else is left to drop.
 * Returns the number dropped.
 */
size_t sym_cache__trim(struct sym_cache *c, size_t budget, size_t extra,
		       const struct sym_file *keep, uint64_t recent);

/* Forgets every binding of @pid. Returns how many went. */
size_t sym_cache__forget_pid(struct sym_cache *c, uint32_t pid);

/* Files dropped so far. */
uint64_t sym_cache__evictions(const struct sym_cache *c);

/*
 * Files whose DWARF state would exceed @bytes (0: no limit) keep their symbols
 * only; sym_cache__dwarf_refused() counts them.
 */
void sym_cache__set_dwarf_limit(struct sym_cache *c, size_t bytes);
uint64_t sym_cache__dwarf_refused(const struct sym_cache *c);

#endif /* EMBER_SYMBOLIZER_INTERNAL_H */
