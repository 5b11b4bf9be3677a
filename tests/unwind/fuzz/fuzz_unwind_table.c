// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the unwind table builder on arbitrary bytes taken as an ELF
 * file. It must never crash, and any table it returns must be usable by the
 * BPF walker: rows strictly increasing by pc, kinds in range.
 */
#include <stdint.h>
#include <stdlib.h>

#include "unwinder/unwinder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ember_unwind_table *t = NULL;
	const struct ember_unwind_row *r;
	size_t i, n;

	if (unwind_table__build_mem(data, size, &t))
		return 0;
	r = unwind_table__rows(t);
	n = unwind_table__nr_rows(t);
	for (i = 0; i < n; i++) {
		unsigned int cfa = r[i].kind & EMBER_CFA_KIND_MASK;

		if (cfa == 8 ||
		    (cfa > EMBER_CFA_RBX && cfa != EMBER_CFA_RSP_RA_REG &&
		     cfa != (EMBER_CFA_RSP | EMBER_CFA_OFF_SCALED) &&
		     cfa != (EMBER_CFA_RBP | EMBER_CFA_OFF_SCALED) &&
		     cfa != (EMBER_CFA_RBX | EMBER_CFA_OFF_SCALED)) ||
		    EMBER_ROW_RBP_KIND(r[i].kind) > EMBER_REG_UNKNOWN ||
		    EMBER_ROW_RBX_KIND(r[i].kind) > EMBER_REG_UNKNOWN)
			abort();
		if (i && r[i].pc <= r[i - 1].pc)
			abort();
		if (unwind_table__lookup(t, r[i].pc) != &r[i])
			abort();
	}
	unwind_table__free(t);
	return 0;
}
