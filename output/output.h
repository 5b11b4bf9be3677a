/* SPDX-License-Identifier: MIT */
/*
 * output: writers and readers of profile files. Every writer takes a
 * struct ember_profile (profile/) and a FILE (or a path); every reader builds a
 * profile from bytes in memory (or a path).
 *
 * Formats: folded stacks (read and write), pprof protobuf (gzip; read and
 * write), an interactive SVG flamegraph and its differential variant,
 * speedscope JSON (write), `perf script` text (read), and a top-N text report.
 * Paths ending in ".zst" are zstd-compressed on write; readers accept gzip and
 * zstd input transparently, whatever the name.
 *
 * Errors: functions return 0 or a negative errno: -EINVAL for malformed input,
 * -ENOMEM, -EIO for a failed write, -ENOENT/-EACCES etc. from open().
 * Thread-safety: writers only read the profile; callers serialize access.
 */
#ifndef EMBER_OUTPUT_H
#define EMBER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "profile/profile.h"

enum ember_format {
	EMBER_FORMAT_AUTO = 0,	 /* from the path's extension (and, on read, the content) */
	EMBER_FORMAT_FOLDED,	 /* ".folded", ".txt", ".collapsed" */
	EMBER_FORMAT_PPROF,	 /* ".pb.gz", ".pprof", ".pb" */
	EMBER_FORMAT_SVG,	 /* ".svg" */
	EMBER_FORMAT_SPEEDSCOPE, /* ".json" (read and write) */
	EMBER_FORMAT_PERFSCRIPT, /* `perf script` text (read only) */
};

/* Name of @f ("folded", "pprof", ...). Static string. */
const char *output__format_name(enum ember_format f);
/* Parses "folded", "pprof", "svg", "speedscope", "perf-script"; EMBER_FORMAT_AUTO if unknown. */
enum ember_format output__format_from_name(const char *name);
/*
 * Format implied by @path's extension, ignoring a trailing ".zst" / ".gz" that
 * is not part of ".pb.gz"; EMBER_FORMAT_AUTO when unknown. *@zstd (may be NULL)
 * is set when the path ends in ".zst".
 */
enum ember_format output__format_from_path(const char *path, bool *zstd);

/* ---- folded ------------------------------------------------------------ */

struct ember_folded_opts {
	size_t sz;	 /* sizeof(struct ember_folded_opts) */
	bool per_pid;	 /* root frame "name-PID" instead of "name" */
	bool per_thread; /* also a "thread-TID" frame under the process root */
	bool lines;	 /* append ":file:line" to frames that have one */
};

/*
 * Writes one line per unique stack: frames root first, ';'-separated, a space,
 * and the count. The root is the process name (when the sample has one); kernel
 * frames carry "_[k]", inline frames "_[i]", JIT frames "_[j]". Lines are sorted
 * so equal profiles give equal files. @opts may be NULL. 0 or a negative errno
 * (-EIO when writing fails).
 */
int folded__write(const struct ember_profile *p, const struct ember_folded_opts *opts, FILE *out);

/* How a perf script record counts (ember_read_opts.weight). */
enum ember_weight {
	EMBER_WEIGHT_AUTO = 0, /* period when every record has one, else samples */
	EMBER_WEIGHT_SAMPLES,  /* one per record */
	EMBER_WEIGHT_PERIOD,   /* the record's period (events, or ns of cpu-clock) */
};

struct ember_read_opts {
	size_t sz;		  /* sizeof(struct ember_read_opts) */
	bool strict;		  /* a malformed line or record fails the read (-EINVAL) */
	const char *name;	  /* input name for messages ("-" for stdin); NULL: "input" */
	enum ember_format format; /* EMBER_FORMAT_AUTO: guess from path and content */
	const char *event;	  /* perf script: the event to read; NULL: the first one */
	enum ember_weight weight; /* perf script: what a record counts */
	/*
	 * pprof: the sample type to read, by name ("inuse_space") or 0-based
	 * index ("1"), as `go tool pprof -sample_index`; NULL: the profile's
	 * default_sample_type, else its last type (pprof's choice).
	 */
	const char *sample_index;
	/* folded: input without any valid line reads as an empty profile (warnings only) */
	bool lenient;
};

/*
 * Parses folded text (@len bytes at @buf, need not be NUL-terminated) into @p.
 * Each frame becomes a name-only location of one frame (suffixes "_[k]",
 * "_[i]", "_[j]" become flags); samples have no pid and no process name.
 * Malformed lines are logged with their line number and skipped, or fail with
 * -EINVAL when @opts->strict. Input with lines but not one valid line (another
 * format) fails with -EINVAL and one message naming the first bad line, unless
 * @opts->lenient. Lines starting with '#' are malformed. @opts may be NULL.
 */
int folded__read(const char *buf, size_t len, const struct ember_read_opts *opts,
		 struct ember_profile *p);

/* ---- pprof ------------------------------------------------------------- */

/*
 * Writes @p as a gzip-compressed pprof Profile message (sample types
 * samples/count and cpu/nanoseconds). Kernel frames without a mapping get a
 * synthetic "[kernel.kallsyms]" mapping, JIT ones a "[jit]" mapping; chains of
 * name-only inline frames become one Location with several Lines.
 */
int pprof__write(const struct ember_profile *p, FILE *out);
/* Same, uncompressed protobuf bytes in a malloc'd buffer the caller frees. */
int pprof__encode(const struct ember_profile *p, uint8_t **out, size_t *out_len);

/* Per-sample labels of a pprof sample, as bits of ember_pprof_opts masks. */
enum ember_pprof_label {
	EMBER_PPROF_LABEL_PID = 1u << 0,
	EMBER_PPROF_LABEL_TID = 1u << 1,
	EMBER_PPROF_LABEL_THREAD_NAME = 1u << 2,
	EMBER_PPROF_LABEL_PROCESS_NAME = 1u << 3,
	EMBER_PPROF_LABEL_EXE = 1u << 4,
	EMBER_PPROF_LABEL_CGROUP = 1u << 5,
	EMBER_PPROF_LABEL_CONTAINER_ID = 1u << 6,
};

/*
 * Options of pprof__encode_opts (libbpf style: set .sz = sizeof; NULL or zeroed
 * fields mean the pprof__encode defaults). For push targets such as Pyroscope,
 * where every string sample label becomes a series label.
 */
struct ember_pprof_opts {
	size_t sz;
	uint32_t omit_labels;	/* enum ember_pprof_label bits left out of every sample */
	uint32_t pid_as_string; /* EMBER_PPROF_LABEL_PID / _TID bits written as string labels */
	size_t first_sample;	/* 0-based index of the first sample written */
	size_t nr_samples;	/* samples written from there; 0: to the end */
};

/*
 * pprof__encode of samples [first_sample, first_sample + nr_samples) only, with
 * the labels @opts chooses; Locations and Functions are those these samples use,
 * Mappings all of @p's. -EINVAL when the range is outside the profile.
 */
int pprof__encode_opts(const struct ember_profile *p, const struct ember_pprof_opts *opts,
		       uint8_t **out, size_t *out_len);

/*
 * Parses an uncompressed pprof Profile (@len bytes at @buf) into @p. Sample
 * counts are the values of one sample type, as pprof picks it: the one named
 * by @opts->sample_index, else default_sample_type, else the last one (but a
 * CPU profile ember wrote before it set default_sample_type, marked by its
 * string table or "ember." comments, reads its samples/count); never
 * divided by the period. samples/count, off_cpu/nanoseconds and
 * wall/nanoseconds are ember's value types, any other pair becomes
 * EMBER_VALUE_OTHER with that type and unit (profile__sample_type). Locations
 * without lines show their mapping's file name ("[libc.so.6]"). -EINVAL for
 * corrupt or inconsistent input or an unknown sample index (logged with
 * @opts->name). @opts may be NULL.
 */
int pprof__read(const uint8_t *buf, size_t len, const struct ember_read_opts *opts,
		struct ember_profile *p);

/* ---- perf script ------------------------------------------------------- */

/*
 * Parses `perf script` text with call chains into @p, whatever header fields
 * perf printed: "COMM [PID/]TID [CPU] [TIME:] [PERIOD] [EVENT:]" (a lone
 * number is the thread id, as perf prints it by default), frame lines
 * "ADDR [SYMBOL[+0xOFF]] (MODULE)", indented or not. Only the records of one
 * event are read (@opts->event, else the first one; the others are named in
 * a message); each counts its period when every such record has one, else 1
 * (@opts->weight; stackcollapse-perf.pl counts the period too). Root "comm";
 * kernel frames flagged from their module ([kernel.kallsyms], a vmlinux path,
 * a kernel module) or address, JIT frames from perf-PID.map modules.
 * -EINVAL for an unknown @opts->event, or --weight period with records
 * without one.
 */
int perfscript__read(const char *buf, size_t len, const struct ember_read_opts *opts,
		     struct ember_profile *p);

/* ---- SVG flamegraph ---------------------------------------------------- */

struct ember_svg_opts {
	size_t sz;	       /* sizeof(struct ember_svg_opts) */
	const char *title;     /* NULL: "Flame Graph" ("Icicle Graph" inverted) */
	const char *subtitle;  /* NULL: none */
	uint32_t width;	       /* image width in px; 0: 1200 */
	double minwidth;       /* px; narrower frames merged; <= 0: 0.1 (tiny: all) */
	const char *colors;    /* palette for user frames: ember (default: reds), hot, mem, io,
				 * red, green, blue, aqua, yellow, purple, orange */
	bool hash;	       /* colour by a hash of the name (stable across graphs) */
	bool reverse;	       /* leaf frames at the root (stacks reversed) */
	bool inverted;	       /* icicle: root at the top */
	const char *countname; /* unit in tooltips; NULL: "samples" */
	uint32_t frame_height; /* px; 0: 16 */
	uint32_t font_size;    /* px; 0: 12 */
	/* folded-style root frames */
	bool per_pid, per_thread;
};

/* Writes a self-contained interactive SVG flamegraph of @p. @opts may be NULL. */
int svg__write(const struct ember_profile *p, const struct ember_svg_opts *opts, FILE *out);

/* ---- differential ------------------------------------------------------ */

struct ember_diff_opts {
	size_t sz;	   /* sizeof(struct ember_diff_opts) */
	bool no_normalize; /* compare raw counts instead of fractions of each total */
	bool negate;	   /* widths from BEFORE; colours say what AFTER lost */
};

/*
 * Differential flamegraph: widths from @after (from @before with negate), red
 * where a frame's share grew, blue where it shrank. @svg and @diff may be NULL.
 */
int diff__write_svg(const struct ember_profile *before, const struct ember_profile *after,
		    const struct ember_diff_opts *diff, const struct ember_svg_opts *svg,
		    FILE *out);
/*
 * "stack countA countB" lines (sorted) over the union of both profiles' stacks.
 * Unless no_normalize, countA is scaled to @after's total (rounded).
 */
int diff__write_folded(const struct ember_profile *before, const struct ember_profile *after,
		       const struct ember_diff_opts *diff, FILE *out);

/* ---- speedscope -------------------------------------------------------- */

/*
 * Writes speedscope's file format: one "sampled" profile, weights in the
 * profile's unit (speedscope's "bytes" and "nanoseconds", else "none").
 */
int speedscope__write(const struct ember_profile *p, FILE *out);

/*
 * Reads speedscope's file format: "sampled" profiles (weights as counts) and
 * "evented" ones (time between events); weights in a time unit become
 * nanoseconds. With several profiles, each one's name is its stacks' root.
 * Frame kind suffixes ("_[k]", ...) become flags, as in folded.
 */
int speedscope__read(const char *buf, size_t len, const struct ember_read_opts *opts,
		     struct ember_profile *p);

/* ---- report ------------------------------------------------------------ */

enum ember_report_sort {
	EMBER_REPORT_SORT_FLAT = 0,
	EMBER_REPORT_SORT_CUM,
};

struct ember_report_opts {
	size_t sz; /* sizeof(struct ember_report_opts) */
	enum ember_report_sort sort;
	uint32_t top;	   /* rows; 0: 20 */
	const char *focus; /* POSIX extended regex; only stacks with a matching frame */
};

/*
 * Top-N table of functions like `pprof -top`: flat (leaf) and cumulative
 * samples with percentages of the total. -EINVAL for a bad focus regex.
 */
int report__write(const struct ember_profile *p, const struct ember_report_opts *opts, FILE *out);

/* ---- compression ------------------------------------------------------- */

enum ember_compression {
	EMBER_COMPRESSION_NONE = 0,
	EMBER_COMPRESSION_GZIP,
	EMBER_COMPRESSION_ZSTD,
};

/* Compression of @len bytes at @buf, from its magic number. */
enum ember_compression compress__detect(const void *buf, size_t len);

/*
 * Decompresses gzip or zstd data into a malloc'd buffer (*@out, *@out_len; one
 * extra NUL byte after the data). Output over @max_len bytes fails with
 * -EFBIG (decompression bombs); 0 means 4 GiB. -EINVAL for corrupt data.
 */
int compress__decode(const void *buf, size_t len, size_t max_len, void **out, size_t *out_len);

/* Compresses @len bytes at @buf with @c (not NONE) and writes them to @out. */
int compress__write(enum ember_compression c, const void *buf, size_t len, FILE *out);

/* ---- by path ----------------------------------------------------------- */

struct ember_output_opts {
	size_t sz;				/* sizeof(struct ember_output_opts) */
	enum ember_format format;		/* EMBER_FORMAT_AUTO: from the path */
	const struct ember_folded_opts *folded; /* may be NULL */
	const struct ember_svg_opts *svg;	/* may be NULL */
	int compression; /* -1: none; 0: from the path; else ember_compression */
	/*
	 * Non-NULL: write the differential of @diff_before and @p (AFTER), as
	 * diff__write_svg (format SVG) or diff__write_folded (format FOLDED).
	 */
	const struct ember_profile *diff_before;
	const struct ember_diff_opts *diff; /* may be NULL */
};

/*
 * Writes @p to @path ("-" is stdout; its format defaults to folded), in the
 * format chosen by @opts->format or the extension: ".folded"/".txt" folded,
 * ".pb.gz"/".pprof" pprof, ".svg", ".json" speedscope; a trailing ".zst"
 * compresses any of them with zstd. Unknown extensions: -EINVAL (also any
 * format but SVG and folded with @opts->diff_before). The file is written to
 * a temporary name and renamed, so a failure leaves no partial file.
 */
int output__write_path(const struct ember_profile *p, const char *path,
		       const struct ember_output_opts *opts);

/*
 * Reads @path ("-" is stdin) into a new profile (*@out, freed with
 * profile__free). Compression is detected from the content; the format from
 * @opts->format, the content (pprof is binary, perf script has a header
 * line with pid and timestamp) and the extension. @opts may be NULL.
 */
int output__read_path(const char *path, const struct ember_read_opts *opts,
		      struct ember_profile **out);

/* Same, from @len bytes in memory (compressed or not). */
int output__read_buffer(const void *buf, size_t len, const struct ember_read_opts *opts,
			struct ember_profile **out);

#endif /* EMBER_OUTPUT_H */
