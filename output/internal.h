/* SPDX-License-Identifier: MIT */
/*
 * Private helpers shared by the output/ writers and readers: a growable byte
 * buffer, the root-first frame walk every stack-shaped format uses, and escaping
 * of names for XML and JSON (which both need valid UTF-8).
 */
#ifndef EMBER_OUTPUT_INTERNAL_H
#define EMBER_OUTPUT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "profile/profile.h"
#include "output/output.h"

struct ember_index;

/* Growable bytes; always NUL-terminated once anything was appended. */
struct obuf {
	char *data;
	size_t len, cap;
};

int obuf_append(struct obuf *b, const void *s, size_t n);
int obuf_puts(struct obuf *b, const char *s);
int obuf_printf(struct obuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void obuf_free(struct obuf *b);

/* Frame kinds that change a frame's folded name, as a mask of EMBER_FRAME_*. */
#define FRAME_KIND_MASK (EMBER_FRAME_KERNEL | EMBER_FRAME_INLINE | EMBER_FRAME_JIT)

/* One frame of a stack in folded order. */
struct stack_frame {
	const char *name; /* valid until the next walk (roots) or while the profile lives */
	uint32_t flags;	  /* EMBER_FRAME_* of the frame; 0 for process/thread roots */
	const struct ember_frame *frame; /* the profile's frame; NULL for roots, "[unknown]" */
};

struct stack_walker {
	bool per_pid, per_thread; /* set by the caller */
	struct stack_frame *frames;
	size_t nr, cap;
	struct obuf roots; /* backing store of root names and "[libc.so.6]"-style frame names */
};

/*
 * Fills @w->frames with the frames of @s, root first: process name (with
 * "-PID" under per_pid), thread ("name-TID" under per_thread), then locations
 * outermost first with each inline chain outermost first. A location without
 * frames is its mapping's base name in brackets ("[libc.so.6]", as pprof
 * shows it) or "[unknown]" without a mapping; a sample without any frame is
 * one "[unknown]".
 */
int stack_walk(struct stack_walker *w, const struct ember_profile *p, const struct ember_sample *s);
void stack_walker_free(struct stack_walker *w);

/* Suffix for a frame's kind in folded text ("_[k]", "_[i]", "_[j]") or "". */
const char *frame_suffix(uint32_t flags);

/* Appends @s with XML special characters escaped and invalid UTF-8 replaced. */
int obuf_xml(struct obuf *b, const char *s);
/* Appends @s as the inside of a JSON string (escaped, invalid UTF-8 replaced). */
int obuf_json(struct obuf *b, const char *s);
/* True when @s is valid UTF-8 (no overlong forms, no surrogates). */
bool utf8_valid(const char *s);
/* Appends @s with every byte of an invalid UTF-8 sequence replaced by U+FFFD. */
int obuf_utf8(struct obuf *b, const char *s);

/* Writes all of @b to @out: 0 or -EIO. */
int obuf_write(const struct obuf *b, FILE *out);

/* ---- folded lines (folded.c) ---- */

/*
 * Strips a kind suffix ("_[k]", "_[i]", "_[j]") from @name (length *@len,
 * updated) and returns its EMBER_FRAME_* flag, or 0. A bare suffix is a name.
 */
uint32_t folded_strip_suffix(const char *name, size_t *len);

/* Appends the folded text of the walked frames (no count) to @b. */
int folded_append_stack(struct obuf *b, const struct stack_frame *frames, size_t nr, bool lines);

/* Unique folded lines with two counters each (one per input of a diff). */
struct folded_set {
	struct obuf text; /* all lines, NUL-separated */
	struct folded_line {
		size_t offset; /* into text */
		uint64_t count[2];
	} * lines;
	size_t nr, cap;
	struct ember_index *index;
};

int folded_set_init(struct folded_set *set);
void folded_set_free(struct folded_set *set);
/* Adds @count to counter @which (0 or 1) of line @line (NUL-terminated). */
int folded_set_add(struct folded_set *set, const char *line, size_t len, int which, uint64_t count);
/* Adds every sample of @p to counter @which. */
int folded_set_add_profile(struct folded_set *set, const struct ember_profile *p,
			   const struct ember_folded_opts *o, int which);
/* Sorts lines by text (byte order). */
void folded_set_sort(struct folded_set *set);

/* ---- flame stacks (flame.c) ---- */

/*
 * Every stack of one or two profiles as root-first frame lists, sorted by
 * frame names (strcmp, then kind) and with equal stacks merged. In that order
 * a flamegraph's frames fall out of one pass that keeps only the current path
 * open, as flamegraph.pl does: no call tree is built, so memory stays
 * proportional to the input, not to the number of tree nodes.
 */
struct flame_frame {
	const char *name; /* the profile's string, or the pool's for roots and diffs */
	uint32_t flags;	  /* EMBER_FRAME_* kind bits */
};

struct flame_stacks {
	struct flame_frame *frames; /* all stacks' frames, concatenated */
	size_t nr_frames, cap_frames;
	struct flame_stack {
		size_t first;	   /* into frames */
		uint32_t depth;	   /* frames */
		uint64_t count[2]; /* samples per input */
	} * stacks;
	size_t nr, cap;
	uint64_t total[2];
	uint32_t max_depth; /* frames of the deepest stack */
	struct ember_strpool *pool;
	struct stack_walker walker;
	bool reverse;	 /* leaf frames at the root */
	bool intern_all; /* names from several profiles: use the pool's copies */
};

/*
 * @intern_all: set when more than one profile is added (their string pools
 * differ); with one profile only root names are copied.
 */
int flame_stacks_init(struct flame_stacks *fs, bool reverse, bool per_pid, bool per_thread,
		      bool intern_all);
void flame_stacks_free(struct flame_stacks *fs);
/* Adds every sample of @p to counter @which (0 or 1). */
int flame_stacks_add_profile(struct flame_stacks *fs, const struct ember_profile *p, int which);
/* Sorts and merges equal stacks; call once, after the last add. */
int flame_stacks_finish(struct flame_stacks *fs);

/* One frame of the graph, produced by flame_stacks_walk() when it closes. */
struct flame_node {
	const char *name; /* "all" for the root */
	uint32_t flags;
	uint32_t depth;	   /* root 0 */
	uint64_t start[2]; /* samples left of the frame, per counter */
	uint64_t total[2]; /* samples in the frame, per counter */
};

/*
 * Calls @fn for every frame of the graph, children before their parent and
 * siblings in name order (the root "all" last). Stops at and returns the first
 * non-zero value @fn returns.
 */
int flame_stacks_walk(const struct flame_stacks *fs, int (*fn)(const struct flame_node *, void *),
		      void *ctx);

/* ---- SVG rendering (svg.c), shared with the differential graph ---- */

struct svg_diff {
	uint64_t totals[2]; /* samples of BEFORE (0) and AFTER (1) */
	bool normalize;	    /* compare shares of each total */
	int width_from;	    /* counter that sets widths (1 normally, 0 with --negate) */
};

/* Renders @fs (finished) with @o; @diff non-NULL colours by change between counters. */
int svg_render(const struct flame_stacks *fs, const struct ember_svg_opts *o,
	       const struct svg_diff *diff, FILE *out);
/* Fills @o with @in (may be NULL) and the defaults. */
void svg_opts_defaults(struct ember_svg_opts *o, const struct ember_svg_opts *in);

/*
 * Whether @buf starts like `perf script` text: after perf's "#" comments, a
 * record header (comm and a pid or tid, whatever other fields) and a frame.
 */
bool perfscript__looks_like(const char *buf, size_t len);

#endif /* EMBER_OUTPUT_INTERNAL_H */
