/* SPDX-License-Identifier: MIT */
/*
 * unwinder: compact unwind tables for the BPF user-stack walker, built from
 * the call frame information (.eh_frame, else .debug_frame) of an ELF file.
 *
 * A table is a sorted array of struct ember_unwind_row (probes/sampler_abi.h):
 * per pc range, how to find the CFA (rsp+off, rbp+off, a PLT stub, a signal
 * frame, or the outermost frame) and where the caller's rbp was saved; the
 * return address is always at CFA-8 on x86-64 (rows whose CFI says otherwise
 * are marked unsupported). Ranges without CFI get EMBER_CFA_NONE rows, so the
 * walker takes a frame-pointer step there instead of misusing a neighbour's rule.
 *
 * Tables are built once per file identity and shared by every process that
 * maps the file; agg/'s unwind loader keeps that cache and its memory bound.
 *
 * Thread-safety: none.
 */
#ifndef EMBER_UNWINDER_H
#define EMBER_UNWINDER_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "probes/sampler_abi.h"

struct ember_unwind_table;

/*
 * Builds the table of the ELF file open at @fd (not closed; read from offset 0).
 * Returns 0, -ENOENT when the file has no usable CFI, -EINVAL for a file that is
 * not ELF or is malformed, or -ENOMEM.
 */
int unwind_table__build_fd(int fd, struct ember_unwind_table **out);

/*
 * The same table, built through libdw's per-address interface
 * (dwarf_cfi_addrframe for every row: about ten times slower). A reference
 * for the tests, which check both builders agree.
 */
int unwind_table__build_fd_reference(int fd, struct ember_unwind_table **out);

/* Same as unwind_table__build_fd, from @len bytes at @buf (copied as needed; @buf may be freed after). */
int unwind_table__build_mem(const void *buf, size_t len, struct ember_unwind_table **out);

void unwind_table__free(struct ember_unwind_table *t);

/* Rows sorted by pc; valid until unwind_table__free. */
const struct ember_unwind_row *unwind_table__rows(const struct ember_unwind_table *t);
size_t unwind_table__nr_rows(const struct ember_unwind_table *t);

/* The row covering ELF address @pc, NULL when @pc is below the first row. */
const struct ember_unwind_row *unwind_table__lookup(const struct ember_unwind_table *t,
						    uint64_t pc);

/*
 * On-disk cache: saves @t to @path atomically (temporary file + rename), and
 * loads a saved table. The file is a small header (magic, format version, row
 * count) and the rows; a file with another version or a wrong size is
 * rejected with -EINVAL, a missing one with -ENOENT.
 */
int unwind_table__save(const struct ember_unwind_table *t, const char *path);
int unwind_table__load(const char *path, struct ember_unwind_table **out);

/*
 * A directory of saved tables, one per build-id (DIR/BUILD_ID.unwind), kept
 * under @max_bytes (0: no bound) by dropping the files least recently saved or
 * loaded (access time, which relatime updates once a day; modification time
 * where it is later): at open, and after every 1/16 of the bound saved. open creates @dir
 * (mkdir -p) and returns -errno when it cannot. load and save return what
 * unwind_table__load / __save do, or -EINVAL for a build-id that is not
 * lowercase hex. Thread-safety: none; one cache per thread.
 */
struct unwind_disk_cache;

int unwind_disk_cache__open(const char *dir, uint64_t max_bytes, struct unwind_disk_cache **out);
void unwind_disk_cache__free(struct unwind_disk_cache *c);
int unwind_disk_cache__load(struct unwind_disk_cache *c, const char *build_id,
			    struct ember_unwind_table **out);
int unwind_disk_cache__save(struct unwind_disk_cache *c, const char *build_id,
			    const struct ember_unwind_table *t);
/* Removes the oldest files until the directory is within 3/4 of the bound. */
int unwind_disk_cache__prune(struct unwind_disk_cache *c);

/* Heap bytes held by the table. */
size_t unwind_table__bytes(const struct ember_unwind_table *t);

#endif /* EMBER_UNWINDER_H */
