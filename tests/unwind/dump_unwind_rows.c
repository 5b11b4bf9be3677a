// SPDX-License-Identifier: MIT
/*
 * Prints the unwind table ember builds for an ELF file, one row per line:
 * "PC_HEX CFA_KIND CFA_OFF RBP_KIND RBP_OFF8 RBX_KIND RBX_OFF8" (offsets in
 * 8-byte units from the CFA, decoded; for PLT and RSP_RA_REG rows RBP_OFF8 is
 * the raw byte). Used by readelf_agreement.py. With --reference, the table
 * of the libdw builder (unwind_table__build_fd_reference).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unwinder/unwinder.h"

int main(int argc, char **argv)
{
	struct ember_unwind_table *t;
	const struct ember_unwind_row *r;
	size_t i, n;
	bool reference = argc == 3 && strcmp(argv[1], "--reference") == 0;
	int fd, err;

	if (argc != 2 && !reference) {
		fprintf(stderr, "usage: dump_unwind_rows [--reference] ELF\n");
		return 2;
	}
	if (reference)
		argv++;
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	err = reference ? unwind_table__build_fd_reference(fd, &t) : unwind_table__build_fd(fd, &t);
	close(fd);
	if (err) {
		fprintf(stderr, "dump_unwind_rows: %s: error %d\n", argv[1], err);
		return 1;
	}
	r = unwind_table__rows(t);
	n = unwind_table__nr_rows(t);
	for (i = 0; i < n; i++) {
		unsigned int base = EMBER_CFA_BASE(r[i].kind);
		bool scaled = base != EMBER_CFA_RSP_RA_REG && (r[i].kind & EMBER_CFA_OFF_SCALED);
		bool regs = base == EMBER_CFA_RSP || base == EMBER_CFA_RBP || base == EMBER_CFA_RBX;

		printf("%x %u %u %u %d %u %d\n", r[i].pc, base,
		       scaled ? r[i].cfa_off * 8u : r[i].cfa_off, EMBER_ROW_RBP_KIND(r[i].kind),
		       regs ? EMBER_ROW_RBP_OFF8(r[i].kind, r[i].rbp_off8) : r[i].rbp_off8,
		       EMBER_ROW_RBX_KIND(r[i].kind),
		       regs ? EMBER_ROW_RBX_OFF8(r[i].kind, r[i].rbp_off8) : 0);
	}
	unwind_table__free(t);
	return 0;
}
