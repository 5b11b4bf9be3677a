/* SPDX-License-Identifier: MIT */
/*
 * history/ private: the window list shared by history.c (listing, selection,
 * merge) and index.c (the DIR/.ember-index cache).
 */
#ifndef EMBER_HISTORY_INTERNAL_H
#define EMBER_HISTORY_INTERNAL_H

#include <sys/types.h>

#include "history.h"
#include "support/support.h"

/* One label value present in a window: strings interned in the history's pool. */
struct history_label {
	const char *key;
	const char *value;
};

struct history_entry {
	struct history_window w;
	const char *name; /* file name inside its directory (pool); NULL for a lone file */
	int dir;	  /* index in history.dirs; -1 for a lone file */
	bool has_stamp;	  /* name_start_ns is the time stamp of the file name */
	uint64_t name_start_ns;
	struct history_label *labels; /* the label values present, sorted; malloc'd */
	size_t nr_labels;
	dev_t dev; /* identity of the file, so one given twice is merged once */
	ino_t ino;
};

struct history_dir {
	char *path;
	dev_t dev;
	ino_t ino;
	bool dirty; /* the index on disk differs from what is known now */
};

struct history {
	struct ember_strpool *pool;
	struct ember_index *files; /* entries by (dev, ino) */
	struct history_entry *entries;
	size_t nr_entries, cap_entries;
	struct history_dir *dirs;
	size_t nr_dirs, cap_dirs;
};

/*
 * Reads DIR/.ember-index of directory @dir and fills the metadata of the
 * entries of that directory whose name, size and mtime match a record; marks
 * the directory dirty when a record is stale or names a file that is gone. A
 * missing index is no error; a corrupt one is ignored as a whole (logged).
 */
void history_index__load(struct history *h, size_t dir);

/*
 * Writes the index of directory @dir (its known, non-corrupt entries) through
 * a temporary file and rename. Returns 0 or a negative errno (read-only
 * directory: -EROFS, -EACCES), logged at debug level only.
 */
int history_index__save(struct history *h, size_t dir);

/* Reads window @path (any format output/ reads, strict) into a new profile. */
int history_decode(const char *path, struct ember_profile **p);

/*
 * Decode-ahead (prefetch.c): a thread decodes @paths (@nr of them; the strings
 * must outlive it) in order, at most a few ahead of history_prefetch__take,
 * which returns path @i's decode result (a negative errno) and profile
 * (owned by the caller). Indexes must be taken in increasing order.
 * Without a thread (pthread_create failed) take() decodes inline.
 */
struct history_prefetch;
int history_prefetch__start(const char **paths, size_t nr, struct history_prefetch **out);
int history_prefetch__take(struct history_prefetch *pf, size_t i, struct ember_profile **p);
void history_prefetch__free(struct history_prefetch *pf);

/* Sorts @e's labels and drops duplicates. */
void history_entry__sort_labels(struct history_entry *e);

#endif /* EMBER_HISTORY_INTERNAL_H */
