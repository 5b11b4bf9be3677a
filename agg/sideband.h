/* SPDX-License-Identifier: MIT */
/*
 * Private to agg/: perf side-band records. One dummy software event per online
 * CPU reports, for every process, each executable mmap (with the file's
 * build-id when the kernel has it), each exec (comm with the exec flag), fork
 * and exit, into per-CPU ring buffers. They tell the process tracker about a
 * process's mappings as they are created, so a process that lives a few
 * milliseconds is still symbolized and unwound: nothing has to be read from
 * /proc before it exits.
 */
#ifndef EMBER_SIDEBAND_H
#define EMBER_SIDEBAND_H

#include <stddef.h>
#include <stdint.h>

enum sideband_kind {
	SIDEBAND_MMAP = 1, /* an executable mapping appeared */
	SIDEBAND_EXEC = 2, /* the process exec'd: mappings before this are the old image's */
	SIDEBAND_FORK = 3, /* a new process (not a thread): it starts with its parent's mappings */
	SIDEBAND_EXIT = 4, /* the process (its last thread) exited */
};

struct sideband_event {
	enum sideband_kind kind;
	uint32_t pid, ppid;
	uint64_t time_ns;	 /* perf clock */
	uint64_t start, len;	 /* SIDEBAND_MMAP: runtime range, bytes */
	uint64_t pgoff;		 /* SIDEBAND_MMAP: file offset, bytes */
	const char *path;	 /* SIDEBAND_MMAP: file name; SIDEBAND_EXEC: new comm */
	const uint8_t *build_id; /* SIDEBAND_MMAP: NULL when the record has none */
	uint8_t build_id_len;
};

struct sideband;

/* Opens the side-band events on every online CPU (@online: "0-3,5" list). 0 or -errno. */
int sideband__new(const char *online, struct sideband **out);
void sideband__free(struct sideband *sb);

/* The fds to poll for readability, one per CPU. */
size_t sideband__fds(const struct sideband *sb, const int **fds);

typedef int (*sideband_fn)(void *ctx, const struct sideband_event *e);

/*
 * Reads every record available on every CPU, in time order across CPUs, and
 * calls @fn for each; stops at the first non-zero return and returns it. Event
 * pointers are valid during the call only.
 */
int sideband__consume(struct sideband *sb, sideband_fn fn, void *ctx);

/* Records the kernel dropped because a ring buffer was full (cumulative). */
uint64_t sideband__lost(const struct sideband *sb);

#endif /* EMBER_SIDEBAND_H */
