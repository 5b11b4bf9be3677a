/* SPDX-License-Identifier: MIT */
/*
 * Private to the pprof writer: the tables of a Profile message being built
 * (pprof_tables.c), which pprof_writer.c's samples point into. One set of
 * tables per message; not thread-safe.
 */
#ifndef EMBER_OUTPUT_PPROF_TABLES_H
#define EMBER_OUTPUT_PPROF_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "output/pprof_proto.h"

struct ember_index;
struct ember_profile;
struct ember_sample;

struct pb_tables {
	const struct ember_profile *p;

	/* The message's tables; pprof ids are index + 1 (strings: the index). */
	char **strings;
	size_t nr_strings, cap_strings;
	PbFunction *functions;
	size_t nr_functions, cap_functions;
	PbMapping *mappings; /* ember's (user first), then the synthetic ones */
	size_t nr_mappings, cap_mappings;
	PbLocation *locations; /* Lines set by pb_tables_link_lines() */
	size_t nr_locations, cap_locations;

	/* The rest is pprof_tables.c's. */
	struct ember_index *string_index, *function_index;
	uint64_t kernel_mapping, jit_mapping; /* pprof ids; 0 until needed */
	uint64_t *mapping_ids;		      /* per ember mapping id: its pprof id */
	PbLine *lines; /* all Lines; locations point in after building (array moves) */
	size_t nr_lines, cap_lines;
	size_t *line_first; /* per pprof location: index into lines */
	size_t cap_line_first;
	uint64_t *single; /* per ember location id: its pprof location id; 0 none yet */
	/* Runs of name-only inline locations: key is the ember id sequence. */
	uint32_t *runs; /* concatenated sequences */
	size_t nr_runs_ids, cap_runs_ids;
	struct run {
		size_t first, n; /* in runs */
		uint64_t id;	 /* pprof location */
	} * run_list;
	size_t nr_run_list, cap_run_list;
	struct ember_index *run_index;
};

/* Empty tables for @p (which must outlive them), "" as string 0. 0 or -ENOMEM. */
int pb_tables_init(struct pb_tables *t, const struct ember_profile *p);
/* Frees what @t holds, strings included; also after a failed pb_tables_init(). */
void pb_tables_free(struct pb_tables *t);

/* Index of @s (NULL: "") in the string table, adding a copy when new; -ENOMEM. */
int64_t pb_tables_str(struct pb_tables *t, const char *s);
/* Adds every mapping of the profile; call before the first location. 0 or -ENOMEM. */
int pb_tables_add_mappings(struct pb_tables *t);
/*
 * Appends the pprof location ids of @s (leaf first) to *@ids, which holds
 * *@nr of *@cap entries and is grown; adds the Locations, Functions and
 * strings they need. 0 or -ENOMEM.
 */
int pb_tables_sample_locations(struct pb_tables *t, const struct ember_sample *s, uint64_t **ids,
			       size_t *nr, size_t *cap);
/* Points each Location at its Lines: once, after the last location. 0 or -ENOMEM. */
int pb_tables_link_lines(struct pb_tables *t);

#endif /* EMBER_OUTPUT_PPROF_TABLES_H */
