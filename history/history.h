/* SPDX-License-Identifier: MIT */
/*
 * history: the agent's windows as one queryable history. An agent output
 * directory holds one profile file per window (ember-STAMP-SEQ.pb.gz or
 * .folded.zst, tools/agent/store.c); this module lists them with their metadata
 * (start, duration, sampling frequency, value type, total, the label values
 * present), selects them by time range and labels, and merges the selection
 * into one profile. `ember query`, `report`, `convert` and `diff` use it, and
 * so will `ember serve`.
 *
 * Metadata is cached in an index file beside the windows (DIR/.ember-index,
 * format in docs/history.md), refreshed for windows that are new or whose size
 * or mtime changed, and written atomically (temporary file + rename) after a
 * query; a directory that cannot be written is queried without saving it. A
 * query decodes only windows whose start can lie in the range (from the index,
 * else from the time stamp in the file name) and whose label values can match.
 *
 * Errors: 0 or a negative errno. Messages go to stderr through support/'s log
 * ("ember: ..."); nothing is printed to stdout.
 * Thread-safety: none; one thread uses a history at a time.
 */
#ifndef EMBER_HISTORY_H
#define EMBER_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"

#define HISTORY_INDEX_NAME ".ember-index"
#define HISTORY_TIME_MAX   UINT64_MAX /* an open end of a range */

/*
 * Parses a time: RFC 3339 ("2026-12-01T14:00:00Z", "2026-12-01T14:00:00.250+01:00",
 * 'T' or ' ' between date and time), "now", or a time relative to now: '-',
 * a decimal number and a unit s, m, h or d ("-30s", "-10m", "-1.5h", "-2d").
 * @now_ns is the current CLOCK_REALTIME in ns. Writes ns since the epoch to
 * *@out_ns. Returns 0, or -EINVAL with the expected form in @why.
 */
int history_parse_time(const char *s, uint64_t now_ns, uint64_t *out_ns, char *why,
		       size_t why_size);

/* Formats @ns since the epoch as RFC 3339 UTC with milliseconds into @buf; returns @buf. */
const char *history_format_time(uint64_t ns, char *buf, size_t size);

/* What the history knows of one window (metadata from the index or a decode). */
struct history_window {
	const char *path;     /* as opened: "DIR/NAME" or the file given */
	uint64_t size;	      /* bytes */
	int64_t mtime_ns;     /* st_mtim */
	bool known;	      /* the fields below are set (decoded now or indexed) */
	const char *error;    /* non-NULL: the file is corrupt; why (then nothing below) */
	uint64_t start_ns;    /* CLOCK_REALTIME ns */
	uint64_t duration_ns; /* 0 when unknown (folded windows) */
	uint32_t frequency_hz;
	enum ember_value_type value_type;
	/*
	 * With EMBER_VALUE_OTHER: the pprof sample type and unit of the counts
	 * ("cpu", "nanoseconds"; the history's strings), else NULL.
	 */
	const char *sample_type, *sample_unit;
	uint64_t total; /* sum of sample counts */
};

/* A set of windows: directories and files. */
struct history;

int history__new(struct history **out);
void history__free(struct history *h);

/*
 * Adds @path: a directory (its window files; its index is read) or one profile
 * file (any format output/ reads; always decoded, never indexed). -ENOENT etc.
 * from stat/opendir (logged with the path).
 */
int history__add_path(struct history *h, const char *path);

/* Number of windows added; window @i (0-based), valid until @h changes. */
size_t history__nr_windows(const struct history *h);
const struct history_window *history__window(const struct history *h, size_t i);

/* What to select and how to merge it. */
struct history_query;

int history_query__new(struct history_query **out);
void history_query__free(struct history_query *q);

/* Windows whose start lies in [@from_ns, @to_ns); default everything. */
void history_query__set_range(struct history_query *q, uint64_t from_ns, uint64_t to_ns);

/*
 * Adds a condition "KEY=VALUE" (the label equals VALUE) or "KEY=~REGEX" (a
 * POSIX extended regex matches the whole label value). KEY is a sample label
 * (pid, tid, process_name, thread_name, exe, cgroup, container_id) or a
 * profile label of the window (host, kernel_release, config labels). All
 * conditions must hold for a sample; a label the sample lacks never matches.
 * Returns 0 or -EINVAL (WHY in @why).
 */
int history_query__add_where(struct history_query *q, const char *expr, char *why, size_t why_size);

/*
 * Makes "KEY=VALUE" of label @key the root frame of each sample ("pid=1234";
 * "KEY=?" when the sample lacks it); the process name becomes the frame under
 * it. Returns 0, -EINVAL for an empty key, or -ENOMEM.
 */
int history_query__set_group_by(struct history_query *q, const char *key);

/* A corrupt window makes the query fail (-EIO) instead of being skipped. */
void history_query__set_strict(struct history_query *q, bool strict);

/* What a query saw, for messages. */
struct history_stats {
	size_t nr_windows;  /* windows held */
	size_t nr_in_range; /* whose start lies in the range */
	size_t nr_pruned;   /* in range, left out by their label values (not decoded) */
	size_t nr_merged;   /* decoded and merged */
	size_t nr_decoded;  /* decoded (index refresh included) */
	size_t nr_corrupt;  /* skipped: unreadable or corrupt */
	uint64_t first_ns;  /* earliest window start held; 0 when none is known */
	uint64_t last_ns;   /* latest window start held */
	bool index_saved;   /* an index file was (re)written */
};

/*
 * Merges the windows @q selects into a new profile (*@out, profile__free):
 * the samples that satisfy every condition, with mappings, locations,
 * processes, counters and labels; the start of the earliest window and the sum
 * of their durations. Corrupt windows are logged (path, reason) and skipped,
 * counted in @stats (may be NULL).
 *
 * Returns 0; -ENODATA when no window is in the range or no sample matches
 * (*@out NULL); -EINVAL when the windows selected mix value types (CPU samples
 * with off-CPU or wall ns) or, for CPU sample counts, sampling frequencies
 * (ns values of different frequencies add up, counts do not); -EIO for a
 * corrupt window when strict; -ENOMEM. Each refusal is logged with the two
 * windows that differ.
 */
int history__query(struct history *h, const struct history_query *q, struct ember_profile **out,
		   struct history_stats *stats);

#endif /* EMBER_HISTORY_H */
