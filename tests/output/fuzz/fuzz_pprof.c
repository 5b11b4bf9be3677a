// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the pprof reader behind path dispatch (gzip/zstd
 * detection included), and the writers over what it reads.
 */
#include "fuzz.h"
#include "support/support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ember_read_opts o = {.sz = sizeof(o), .format = EMBER_FORMAT_PPROF};
	struct ember_profile *p = NULL;

	ember_log_set_level(EMBER_LOG_QUIET); /* a reader refusing bad input is expected here */
	if (output__read_buffer(data, size, &o, &p) == 0)
		fuzz_write_all(p);
	profile__free(p);
	return 0;
}
