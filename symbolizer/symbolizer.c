// SPDX-License-Identifier: MIT
/*
 * The symbolizer's public face: dispatches a request to kallsyms (kernel), the
 * vDSO, a JIT perf map or an ELF file from the cache, turns the runtime address
 * into the file's virtual address, and builds frames from DWARF (inline chain,
 * lines) or, without DWARF, from the symbol table. Every name handed out is
 * interned in the symbolizer's pool, so frames stay valid after the file they
 * came from is closed. Answers are memoized per (file, address): a profile asks
 * for the same hot addresses over and over.
 *
 * Under a memory budget (opts.memory_budget) every resolve ends by measuring
 * what the symbolizer holds and, when that is over the budget, dropping the
 * least recently used files whole (cache.c), never the one just used. A
 * file's names live in a pool of its own, so dropping it frees them; memo
 * entries carry the file's generation and are not used once it changed.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_KALLSYMS "/proc/kallsyms"
#define DEFAULT_MAX_OPEN 64
/* Memoized addresses before the memo is dropped and rebuilt (entries). */
#define ADDR_MEMO_LIMIT (1u << 20)
/*
 * Bytes after a function's end that are its alignment padding: compilers align
 * functions to 16 bytes (-O2) or up to 64 (-O3 / -falign-functions=64).
 */
#define FUNCTION_PADDING_MAX 64

/* Lookups during which a file used is never dropped for the budget. */
#define RECENT_LOOKUPS 64
/* A file's DWARF may take at most 1/DWARF_SHARE of the memory budget. */
#define DWARF_SHARE 2
/* Deepest inline chain taken from DWARF (frames). */
#define MAX_INLINE 64

const char *const sym_reason_names[SYM_R__NR] = {
    [SYM_R_KERNEL_NO_KALLSYMS] = "symbolize.kernel_no_kallsyms",
    [SYM_R_KERNEL_NO_SYMBOL] = "symbolize.kernel_no_symbol",
    [SYM_R_NO_PATH] = "symbolize.no_mapping_file",
    [SYM_R_OPEN_FAILED] = "symbolize.open_failed",
    [SYM_R_NOT_ELF] = "symbolize.not_elf",
    [SYM_R_BAD_ELF] = "symbolize.bad_elf",
    [SYM_R_NO_SEGMENT] = "symbolize.no_segment",
    [SYM_R_NO_SYMBOL] = "symbolize.no_symbol",
    [SYM_R_NO_DEBUGINFO] = "symbolize.no_debuginfo",
    [SYM_R_DWARF_ERROR] = "symbolize.dwarf_error",
    [SYM_R_PERFMAP_MISSING] = "symbolize.perfmap_missing",
    [SYM_R_PERFMAP_NO_SYMBOL] = "symbolize.perfmap_no_symbol",
    [SYM_R_VDSO_FAILED] = "symbolize.vdso_failed",
    [SYM_R_BUILD_ID_MISMATCH] = "symbolize.build_id_mismatch",
    [SYM_R_TRUNCATED] = "symbolize.inline_truncated",
};

struct demangled {
	const char *raw;     /* interned */
	const char *display; /* interned */
};

struct addr_memo {
	uint32_t file;
	uint32_t gen; /* of the file when memoized */
	uint32_t nr;  /* frames */
	uint64_t vaddr;
	size_t first; /* index in memo_frames */
};

struct ember_symbolizer {
	bool no_demangle;
	bool no_kernel;
	char *kallsyms_path;
	char **debug_dirs; /* opts.debug_dir, then opts.debug_dirs; owned */
	size_t nr_debug_dirs;
	struct ember_strpool *pool;
	struct kallsyms *ksyms;
	int ksyms_state; /* 0 untried, 1 loaded, -errno */
	/* symbolizer__preload_kernel(): a thread builds the table into ksyms_preloaded. */
	pthread_t ksyms_thread;
	bool ksyms_thread_running;
	struct kallsyms *ksyms_preloaded;
	int ksyms_preload_err;
	struct sym_cache *cache;
	uint64_t counters[SYM_R__NR];
	size_t budget;		 /* bytes; 0: unlimited */
	size_t ksyms_bytes;	 /* of @ksyms, once loaded */
	uint64_t evictions_seen; /* sym_cache__evictions() when the demangle memo was valid */
	uint64_t memo_resets;	 /* memo dropped for the budget */
	uint64_t forgotten;	 /* processes forgotten */

	struct perfmap *perfmaps;
	size_t nr_perfmaps, cap_perfmaps;

	struct ember_index *demangle_index;
	struct demangled *demangled;
	size_t nr_demangled, cap_demangled;

	struct ember_index *memo_index;
	struct addr_memo *memo;
	size_t nr_memo, cap_memo;
	struct ember_frame *memo_frames;
	size_t nr_memo_frames, cap_memo_frames;
};

/* Reads field @f of a caller's options struct only when its @sz covers it. */
#define OPT(o, f, def)                                                                         \
	((o) && (o)->sz >= offsetof(struct ember_symbolizer_opts, f) + sizeof((o)->f) ? (o)->f \
										      : (def))

int symbolizer__new(const struct ember_symbolizer_opts *opts, struct ember_symbolizer **out)
{
	struct sym_cache_opts copts = {0};
	struct ember_symbolizer *s;
	const char *const *dirs;
	const char *kpath, *ddir, *urls;
	size_t nr_dirs;
	int err;

	*out = NULL;
	if (opts && opts->sz < offsetof(struct ember_symbolizer_opts, kallsyms_path))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->no_demangle = OPT(opts, no_demangle, false);
	s->no_kernel = OPT(opts, no_kernel, false);
	kpath = OPT(opts, kallsyms_path, NULL);
	ddir = OPT(opts, debug_dir, NULL);
	dirs = OPT(opts, debug_dirs, NULL);
	nr_dirs = dirs ? OPT(opts, nr_debug_dirs, 0) : 0;
	s->kallsyms_path = strdup(kpath ? kpath : DEFAULT_KALLSYMS);
	s->debug_dirs = calloc(nr_dirs + 1, sizeof(*s->debug_dirs));
	if (!s->kallsyms_path || !s->debug_dirs) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i <= nr_dirs; i++) {
		const char *d = i == 0 ? ddir : dirs[i - 1];

		if (!d)
			continue;
		s->debug_dirs[s->nr_debug_dirs] = strdup(d);
		if (!s->debug_dirs[s->nr_debug_dirs]) {
			err = -ENOMEM;
			goto out;
		}
		s->nr_debug_dirs++;
	}
	err = ember_strpool__new(&s->pool);
	if (!err)
		err = ember_index__new(&s->demangle_index);
	if (!err)
		err = ember_index__new(&s->memo_index);
	if (err)
		goto out;
	s->budget = OPT(opts, memory_budget, 0);
	copts.max_open = OPT(opts, max_open_files, 0);
	if (!copts.max_open)
		copts.max_open = DEFAULT_MAX_OPEN;
	copts.pool = s->pool;
	copts.debuginfo.debug_dirs = s->debug_dirs;
	copts.debuginfo.nr_debug_dirs = s->nr_debug_dirs;
	urls = getenv("DEBUGINFOD_URLS");
	copts.debuginfo.use_debuginfod = urls && urls[0];
	err = sym_cache__new(&copts, &s->cache);
	if (err)
		goto out;
	symbolizer__set_memory_budget(s, s->budget);
	elf_version(EV_CURRENT);
	*out = s;
	s = NULL;
out:
	symbolizer__free(s);
	return err;
}

void symbolizer__free(struct ember_symbolizer *s)
{
	if (!s)
		return;
	if (s->ksyms_thread_running)
		pthread_join(s->ksyms_thread, NULL);
	kallsyms__free(s->ksyms_preloaded);
	sym_cache__free(s->cache);
	kallsyms__free(s->ksyms);
	for (size_t i = 0; i < s->nr_perfmaps; i++)
		perfmap__fini(&s->perfmaps[i]);
	free(s->perfmaps);
	ember_index__free(s->demangle_index);
	free(s->demangled);
	ember_index__free(s->memo_index);
	free(s->memo);
	free(s->memo_frames);
	ember_strpool__free(s->pool);
	free(s->kallsyms_path);
	for (size_t i = 0; i < s->nr_debug_dirs; i++)
		free(s->debug_dirs[i]);
	free(s->debug_dirs);
	free(s);
}

/* Counters after the failure reasons: what the memory budget did. */
enum {
	SYM_C_EVICTIONS = SYM_R__NR,
	SYM_C_MEMO_RESETS,
	SYM_C_FORGOTTEN,
	SYM_C_DWARF_REFUSED,
	SYM_C__NR
};

size_t symbolizer__nr_counters(const struct ember_symbolizer *s)
{
	(void)s;
	return SYM_C__NR;
}

void symbolizer__counter(const struct ember_symbolizer *s, size_t i, const char **name,
			 uint64_t *value)
{
	*name = NULL;
	*value = 0;
	if (i < SYM_R__NR) {
		*name = sym_reason_names[i];
		*value = s->counters[i];
	} else if (i == SYM_C_EVICTIONS) {
		*name = "symbolize.evictions";
		*value = sym_cache__evictions(s->cache);
	} else if (i == SYM_C_MEMO_RESETS) {
		*name = "symbolize.memo_resets";
		*value = s->memo_resets;
	} else if (i == SYM_C_FORGOTTEN) {
		*name = "symbolize.processes_forgotten";
		*value = s->forgotten;
	} else if (i == SYM_C_DWARF_REFUSED) {
		*name = "symbolize.dwarf_over_budget";
		*value = sym_cache__dwarf_refused(s->cache);
	}
}

int symbolizer__read_build_id(const char *path, char *hex, size_t size)
{
	Elf *elf = NULL;
	int fd, err;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -EINVAL;
		goto out;
	}
	err = elf__build_id(elf, hex, size);
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

/* ---- frames ------------------------------------------------------------- */

struct demangle_key {
	const struct ember_symbolizer *s;
	const char *raw;
};

static bool demangle_eq(const void *ctx, uint32_t index)
{
	const struct demangle_key *k = ctx;

	return k->s->demangled[index].raw == k->raw;
}

/*
 * Demangled form of @raw (interned in @pool), interned in @pool; @raw itself
 * for plain names. The answer is memoized by @raw's pointer (interned names
 * are unique pointers), so each name is demangled once; the memo is dropped
 * whenever a file (and so a pool) is, since a pointer may then come back.
 */
static const char *display_name(struct ember_symbolizer *s, struct ember_strpool *pool,
				const char *raw)
{
	struct demangle_key key = {s, raw};
	uint64_t h = ember_hash_u64(0xd3, (uint64_t)(uintptr_t)raw);
	const char *display = raw;
	char *dm;
	int64_t idx;

	if (s->no_demangle || raw[0] != '_')
		return raw;
	if (s->evictions_seen != sym_cache__evictions(s->cache)) {
		ember_index__clear(s->demangle_index);
		s->nr_demangled = 0;
		s->evictions_seen = sym_cache__evictions(s->cache);
	}
	idx = ember_index__find(s->demangle_index, h, demangle_eq, &key);
	if (idx >= 0)
		return s->demangled[idx].display;
	dm = sym_demangle(raw);
	if (dm) {
		display = ember_strpool__intern(pool, dm);
		free(dm);
		if (!display)
			return NULL;
	}
	if (ember_grow((void **)&s->demangled, &s->cap_demangled, s->nr_demangled + 1,
		       sizeof(*s->demangled)) ||
	    ember_index__insert(s->demangle_index, h, (uint32_t)s->nr_demangled))
		return display; /* not memoized; still a right answer */
	s->demangled[s->nr_demangled++] = (struct demangled){raw, display};
	return display;
}

static int push_frame(struct ember_frame *frames, uint32_t max, uint32_t *nr,
		      const struct ember_frame *f)
{
	if (*nr >= max)
		return -E2BIG;
	frames[(*nr)++] = *f;
	return 0;
}

/* The placeholder frame for an address nothing resolves, counted by @why. */
static int unknown_frame_in(struct ember_symbolizer *s, struct ember_strpool *pool,
			    const char *module, uint64_t offset, uint32_t flags,
			    enum sym_reason why, struct ember_frame *frames, uint32_t max,
			    uint32_t *nr)
{
	struct ember_frame f = {.flags = flags | EMBER_FRAME_UNKNOWN};

	s->counters[why]++;
	if (module)
		f.function = ember_strpool__internf(pool, "%s+0x%" PRIx64, module, offset);
	else
		f.function = ember_strpool__intern(s->pool, "[unknown]");
	if (!f.function)
		return -ENOMEM;
	*nr = 0;
	if (max)
		push_frame(frames, max, nr, &f);
	return 0;
}

/* An unknown frame named in the symbolizer's own pool (no file to hold it). */
static int unknown_frame(struct ember_symbolizer *s, const char *module, uint64_t offset,
			 uint32_t flags, enum sym_reason why, struct ember_frame *frames,
			 uint32_t max, uint32_t *nr)
{
	return unknown_frame_in(s, s->pool, module, offset, flags, why, frames, max, nr);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* ---- kernel ------------------------------------------------------------- */

static void *preload_kallsyms(void *arg)
{
	struct ember_symbolizer *s = arg;

	s->ksyms_preload_err = kallsyms__load(s->kallsyms_path, &s->ksyms_preloaded);
	return NULL;
}

int symbolizer__preload_kernel(struct ember_symbolizer *s)
{
	int err;

	if (s->no_kernel || s->ksyms_state || s->ksyms_thread_running)
		return 0;
	err = pthread_create(&s->ksyms_thread, NULL, preload_kallsyms, s);
	if (err) {
		pr_debug("symbolizer: no thread to preload kernel symbols: %s", strerror(err));
		return -err;
	}
	s->ksyms_thread_running = true;
	return 0;
}

static int load_kallsyms(struct ember_symbolizer *s)
{
	int err;

	if (s->ksyms_state)
		return 0;
	if (s->ksyms_thread_running) {
		pthread_join(s->ksyms_thread, NULL);
		s->ksyms_thread_running = false;
		err = s->ksyms_preload_err;
		s->ksyms = s->ksyms_preloaded;
		s->ksyms_preloaded = NULL;
	} else {
		err = kallsyms__load(s->kallsyms_path, &s->ksyms);
	}
	if (err == -ENOMEM)
		return err;
	s->ksyms_state = err ? err : 1;
	if (s->ksyms)
		s->ksyms_bytes = sizeof(*s->ksyms) + s->ksyms->cap * sizeof(*s->ksyms->syms) +
				 s->ksyms->names_cap;
	if (err)
		pr_warn("symbolizer: kernel symbols unavailable from %s: %s", s->kallsyms_path,
			strerror(-err));
	return 0;
}

static int resolve_kernel(struct ember_symbolizer *s, const struct ember_symbolize_request *req,
			  struct ember_frame *frames, uint32_t max, uint32_t *nr)
{
	uint64_t addr = req->is_return ? req->address - 1 : req->address;
	const struct ksym *k;
	const char *name;
	int err;

	if (s->no_kernel)
		return unknown_frame(s, NULL, 0, EMBER_FRAME_KERNEL, SYM_R_KERNEL_NO_KALLSYMS,
				     frames, max, nr);
	err = load_kallsyms(s);
	if (err)
		return err;
	if (s->ksyms_state < 0)
		return unknown_frame(s, NULL, 0, EMBER_FRAME_KERNEL, SYM_R_KERNEL_NO_KALLSYMS,
				     frames, max, nr);
	k = kallsyms__find(s->ksyms, addr);
	if (!k)
		return unknown_frame(s, NULL, 0, EMBER_FRAME_KERNEL, SYM_R_KERNEL_NO_SYMBOL, frames,
				     max, nr);
	name = ember_strpool__intern(s->pool, kallsyms__name(s->ksyms, k));
	if (!name)
		return -ENOMEM;
	*nr = 0;
	if (max)
		push_frame(frames, max, nr,
			   &(struct ember_frame){
			       .function = name, .system_name = name, .flags = EMBER_FRAME_KERNEL});
	return 0;
}

const char *symbolizer__kernel_module(struct ember_symbolizer *s, uint64_t addr)
{
	const struct ksym *k;

	if (s->no_kernel || load_kallsyms(s) || s->ksyms_state < 0)
		return NULL;
	k = kallsyms__find(s->ksyms, addr);
	if (!k)
		return NULL;
	return ember_strpool__intern(s->pool, kallsyms__module(s->ksyms, k) ?: "[kernel.kallsyms]");
}

/* ---- memo --------------------------------------------------------------- */

struct memo_key {
	const struct ember_symbolizer *s;
	uint32_t file, gen;
	uint64_t vaddr;
};

static bool memo_eq(const void *ctx, uint32_t index)
{
	const struct memo_key *k = ctx;
	const struct addr_memo *m = &k->s->memo[index];

	return m->file == k->file && m->gen == k->gen && m->vaddr == k->vaddr;
}

static uint64_t memo_hash(uint32_t file, uint64_t vaddr)
{
	return ember_hash_u64(ember_hash_u64(0x3e3, file), vaddr);
}

static const struct addr_memo *memo_find(const struct ember_symbolizer *s, const struct sym_file *f,
					 uint64_t vaddr)
{
	struct memo_key key = {s, f->id, f->gen, vaddr};
	int64_t idx = ember_index__find(s->memo_index, memo_hash(f->id, vaddr), memo_eq, &key);

	return idx >= 0 ? &s->memo[idx] : NULL;
}

static void memo_reset(struct ember_symbolizer *s)
{
	ember_index__clear(s->memo_index);
	s->nr_memo = 0;
	s->nr_memo_frames = 0;
}

static size_t memo_bytes(const struct ember_symbolizer *s)
{
	return s->cap_memo * sizeof(*s->memo) + s->cap_memo_frames * sizeof(*s->memo_frames) +
	       ember_index__size(s->memo_index) * 2 * sizeof(uint64_t);
}

/* Remembers @nr frames for (@f, @vaddr); failing to is not an error. */
static void memo_add(struct ember_symbolizer *s, const struct sym_file *f, uint64_t vaddr,
		     const struct ember_frame *frames, uint32_t nr)
{
	/* Bounded memory: start over rather than track recency. A memo that
	 * would take more than a quarter of the budget starts over too. */
	if (s->nr_memo >= ADDR_MEMO_LIMIT || (s->budget && memo_bytes(s) > s->budget / 4)) {
		if (s->budget && s->nr_memo) {
			free(s->memo);
			free(s->memo_frames);
			s->memo = NULL;
			s->memo_frames = NULL;
			s->cap_memo = s->cap_memo_frames = 0;
			s->memo_resets++;
		}
		memo_reset(s);
	}
	if (ember_grow((void **)&s->memo, &s->cap_memo, s->nr_memo + 1, sizeof(*s->memo)) ||
	    ember_grow((void **)&s->memo_frames, &s->cap_memo_frames, s->nr_memo_frames + nr,
		       sizeof(*s->memo_frames)))
		return;
	if (ember_index__insert(s->memo_index, memo_hash(f->id, vaddr), (uint32_t)s->nr_memo))
		return;
	memcpy(&s->memo_frames[s->nr_memo_frames], frames, nr * sizeof(*frames));
	s->memo[s->nr_memo++] = (struct addr_memo){
	    .file = f->id,
	    .gen = f->gen,
	    .nr = nr,
	    .vaddr = vaddr,
	    .first = s->nr_memo_frames,
	};
	s->nr_memo_frames += nr;
}

/* ---- budget ------------------------------------------------------------ */

/* Bytes held outside the file cache: names, kernel symbols, perf maps, memos. */
static size_t other_bytes(const struct ember_symbolizer *s)
{
	size_t bytes = sizeof(*s) + ember_strpool__bytes(s->pool) + s->ksyms_bytes + memo_bytes(s) +
		       s->cap_demangled * sizeof(*s->demangled) +
		       s->cap_perfmaps * sizeof(*s->perfmaps);

	for (size_t i = 0; i < s->nr_perfmaps; i++)
		bytes += perfmap__bytes(&s->perfmaps[i]);
	return bytes;
}

/*
 * Drops least recently used files past the budget, never @keep (in use) nor a
 * file of the last RECENT_LOOKUPS lookups: two files that together exceed the
 * budget would otherwise be dropped and read again in turn for every address.
 */
static void stay_in_budget(struct ember_symbolizer *s, const struct sym_file *keep)
{
	if (s->budget)
		sym_cache__trim(s->cache, s->budget, other_bytes(s), keep, RECENT_LOOKUPS);
}

void symbolizer__trim(struct ember_symbolizer *s)
{
	if (s->budget)
		sym_cache__trim(s->cache, s->budget, other_bytes(s), NULL, 0);
}

/* ---- user space --------------------------------------------------------- */

/* Frames of ELF virtual address @vaddr in @f; @offset names placeholders. */
static int resolve_vaddr(struct ember_symbolizer *s, struct sym_file *f, uint64_t vaddr,
			 uint64_t offset, struct ember_frame *frames, uint32_t max, uint32_t *nr)
{
	struct dw_frame dwf[MAX_INLINE];
	const struct addr_memo *m;
	struct dw_file *dw;
	struct elf_sym *sym;
	uint32_t n = 0, total = 0;
	bool has_line = false;
	int err;

	*nr = 0;
	m = memo_find(s, f, vaddr);
	if (m) {
		uint32_t k = m->nr < max ? m->nr : max;

		memcpy(frames, &s->memo_frames[m->first], k * sizeof(*frames));
		*nr = k;
		return 0;
	}

	dw = sym_cache__dwarf(s->cache, f);
	if (dw) {
		err = dw_file__lookup(dw, vaddr, dwf, MAX_INLINE, &n, &has_line);
		if (err == -E2BIG)
			s->counters[SYM_R_TRUNCATED]++;
		/* DWARF that covers nothing here: damaged, or code without
		 * debug info linked in (crt files). */
		if (n == 0 && !has_line)
			s->counters[SYM_R_DWARF_ERROR]++;
	} else {
		s->counters[SYM_R_NO_DEBUGINFO]++;
	}
	/* Looked up after DWARF: opening it may merge the debug file's .symtab. */
	sym = elf_symtab__find(&f->syms, vaddr);
	/* Alignment padding after a function is that function's, as binutils
	 * addr2line and perf say: where every function has a symbol (a full
	 * .symtab) or the line table puts the address in a sequence. */
	if (!sym && n == 0 && (has_line || f->info.has_symtab || f->debug_syms))
		sym = elf_symtab__find_padding(&f->syms, vaddr, FUNCTION_PADDING_MAX);

	if (n > 0) {
		/* Keep the outermost (real) function when @max cuts the chain. */
		for (uint32_t i = 0; i < n && total < max; i++) {
			struct ember_frame fr = {0};
			uint32_t from = (total == max - 1 && i < n - 1) ? n - 1 : i;

			if (from != i) {
				s->counters[SYM_R_TRUNCATED]++;
				i = n - 1;
			}
			fr.system_name = ember_strpool__intern(f->pool, dwf[from].name);
			fr.file =
			    dwf[from].file ? ember_strpool__intern(f->pool, dwf[from].file) : NULL;
			if (!fr.system_name || (dwf[from].file && !fr.file))
				return -ENOMEM;
			fr.function = display_name(s, f->pool, fr.system_name);
			if (!fr.function)
				return -ENOMEM;
			fr.line = dwf[from].line;
			fr.start_line = dwf[from].decl_line;
			fr.flags = dwf[from].is_inline ? EMBER_FRAME_INLINE : 0;
			frames[total++] = fr;
		}
	} else if (sym) {
		struct ember_frame fr = {.system_name = sym->name};

		if (!sym->display) {
			sym->display = display_name(s, f->pool, sym->name);
			if (!sym->display)
				return -ENOMEM;
		}
		fr.function = sym->display;
		if (has_line) {
			fr.file = ember_strpool__intern(f->pool, dwf[0].file);
			if (!fr.file)
				return -ENOMEM;
			fr.line = dwf[0].line;
		}
		if (max)
			frames[total++] = fr;
	} else {
		err = unknown_frame_in(s, f->pool, f->module, offset, 0, SYM_R_NO_SYMBOL, frames,
				       max, nr);
		/* Padding between functions still has a line-table row. */
		if (!err && *nr && has_line) {
			frames[0].file = ember_strpool__intern(f->pool, dwf[0].file);
			frames[0].line = dwf[0].line;
			if (!frames[0].file)
				return -ENOMEM;
		}
		return err;
	}
	*nr = total;
	memo_add(s, f, vaddr, frames, total);
	/* DWARF indexes and names grew with this lookup. */
	sym_cache__account(s->cache, f);
	return 0;
}

static struct perfmap *find_perfmap(struct ember_symbolizer *s, uint32_t pid, int *err)
{
	struct perfmap *pm;
	int rc;

	*err = 0;
	for (size_t i = 0; i < s->nr_perfmaps; i++)
		if (s->perfmaps[i].pid == pid)
			return &s->perfmaps[i];
	*err = ember_grow((void **)&s->perfmaps, &s->cap_perfmaps, s->nr_perfmaps + 1,
			  sizeof(*s->perfmaps));
	if (*err)
		return NULL;
	pm = &s->perfmaps[s->nr_perfmaps++];
	/* A missing map is remembered as an empty, unloaded one. */
	rc = perfmap__load(pid, pm);
	if (rc == -ENOMEM) {
		s->nr_perfmaps--;
		*err = rc;
		return NULL;
	}
	pm->pid = pid;
	return pm;
}

static int resolve_jit(struct ember_symbolizer *s, const struct ember_symbolize_request *req,
		       uint64_t addr, const char *module, struct ember_frame *frames, uint32_t max,
		       uint32_t *nr)
{
	const struct perfmap_entry *e;
	struct perfmap *pm;
	int err;

	pm = find_perfmap(s, req->pid, &err);
	if (err)
		return err;
	if (!pm->loaded)
		return unknown_frame(s, module, addr, 0, SYM_R_PERFMAP_MISSING, frames, max, nr);
	e = perfmap__find(pm, addr);
	if (!e)
		return unknown_frame(s, module, addr, 0, SYM_R_PERFMAP_NO_SYMBOL, frames, max, nr);
	*nr = 0;
	if (max)
		push_frame(frames, max, nr,
			   &(struct ember_frame){.function = e->name,
						 .system_name = e->name,
						 .flags = EMBER_FRAME_JIT});
	return 0;
}

/* Anonymous executable memory, where JITs put code. */
static bool is_anonymous(const char *path)
{
	return !path || !path[0] || strcmp(path, "//anon") == 0 || strncmp(path, "[anon", 5) == 0 ||
	       strncmp(path, "/memfd:", 7) == 0 || strncmp(path, "/tmp/perf-", 10) == 0;
}

static int resolve_user(struct ember_symbolizer *s, const struct ember_symbolize_request *req,
			struct ember_frame *frames, uint32_t max, uint32_t *nr)
{
	uint64_t addr = req->is_return ? req->address - 1 : req->address;
	uint64_t offset = addr - req->map_start + req->map_offset;
	enum sym_reason why = SYM_R_OPEN_FAILED;
	const char *module;
	struct sym_file *f = NULL;
	uint64_t vaddr;
	int err;

	if (is_anonymous(req->path)) {
		if (req->pid)
			return resolve_jit(s, req, addr,
					   req->path && req->path[0] ? req->path : NULL, frames,
					   max, nr);
		return unknown_frame(s, NULL, 0, 0, SYM_R_NO_PATH, frames, max, nr);
	}
	module = base_name(req->path);
	if (strcmp(req->path, "[vdso]") == 0)
		err = sym_cache__get_vdso(s->cache, &f, &why);
	else if (req->path[0] != '/')
		return unknown_frame(s, req->path, offset, 0, SYM_R_NO_PATH, frames, max, nr);
	else
		err = sym_cache__get(s->cache, req->pid, req->path, req->build_id, req->map_start,
				     &f, &why);
	if (err == -ENOMEM)
		return err;
	if (err) {
		/* Module names for placeholders come from the interned pool. */
		module = ember_strpool__intern(s->pool, module);
		if (!module)
			return -ENOMEM;
		return unknown_frame(s, module, offset, 0, why, frames, max, nr);
	}
	if (elf_info__offset_to_vaddr(&f->info, offset, &vaddr) != 0)
		err = unknown_frame_in(s, f->pool, f->module, offset, 0, SYM_R_NO_SEGMENT, frames,
				       max, nr);
	else
		err = resolve_vaddr(s, f, vaddr, offset, frames, max, nr);
	if (!err)
		stay_in_budget(s, f);
	return err;
}

int symbolizer__resolve(struct ember_symbolizer *s, const struct ember_symbolize_request *req,
			struct ember_frame *frames, uint32_t max, uint32_t *nr)
{
	*nr = 0;
	if (req->is_kernel)
		return resolve_kernel(s, req, frames, max, nr);
	return resolve_user(s, req, frames, max, nr);
}

int symbolizer__forget_process(struct ember_symbolizer *s, uint32_t pid)
{
	bool known = sym_cache__forget_pid(s->cache, pid) > 0;

	for (size_t i = 0; i < s->nr_perfmaps; i++) {
		if (s->perfmaps[i].pid != pid)
			continue;
		perfmap__fini(&s->perfmaps[i]);
		s->perfmaps[i] = s->perfmaps[--s->nr_perfmaps];
		known = true;
		break;
	}
	if (!known)
		return -ENOENT;
	s->forgotten++;
	return 0;
}

void symbolizer__set_memory_budget(struct ember_symbolizer *s, size_t bytes)
{
	s->budget = bytes;
	sym_cache__set_dwarf_limit(s->cache, bytes / DWARF_SHARE);
}

size_t symbolizer__bytes(const struct ember_symbolizer *s)
{
	return sym_cache__bytes(s->cache) + other_bytes(s);
}

int symbolizer__preload(struct ember_symbolizer *s, const struct ember_symbolize_request *req)
{
	enum sym_reason why = SYM_R_OPEN_FAILED;
	struct sym_file *f = NULL;

	int err;

	if (req->is_kernel || is_anonymous(req->path) || req->path[0] != '/')
		return 0;
	err =
	    sym_cache__get(s->cache, req->pid, req->path, req->build_id, req->map_start, &f, &why);
	if (!err)
		stay_in_budget(s, f);
	return err;
}

int symbolizer__resolve_elf(struct ember_symbolizer *s, const char *path, uint64_t vaddr,
			    struct ember_frame *frames, uint32_t max, uint32_t *nr)
{
	enum sym_reason why = SYM_R_OPEN_FAILED;
	struct sym_file *f = NULL;
	const char *module;
	uint64_t offset = vaddr;
	int err;

	*nr = 0;
	err = sym_cache__get(s->cache, 0, path, NULL, 0, &f, &why);
	if (err == -ENOMEM)
		return err;
	if (err) {
		module = ember_strpool__intern(s->pool, base_name(path));
		if (!module)
			return -ENOMEM;
		return unknown_frame(s, module, vaddr, 0, why, frames, max, nr);
	}
	/* Placeholders name the file offset, like every other unknown frame. */
	for (size_t i = 0; i < f->info.nr_segs; i++) {
		const struct elf_seg *seg = &f->info.segs[i];

		if (vaddr >= seg->vaddr && vaddr - seg->vaddr < seg->filesz) {
			offset = vaddr - seg->vaddr + seg->offset;
			break;
		}
	}
	err = resolve_vaddr(s, f, vaddr, offset, frames, max, nr);
	if (!err)
		stay_in_budget(s, f);
	return err;
}
