// SPDX-License-Identifier: MIT
/* libFuzzer target: the folded reader (and the writers over what it reads). */
#include "fuzz.h"
#include "support/support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ember_profile *p;

	ember_log_set_level(EMBER_LOG_QUIET); /* a reader refusing bad input is expected here */
	if (profile__new(&p))
		return 0;
	if (folded__read((const char *)data, size, NULL, p) == 0)
		fuzz_write_all(p);
	profile__free(p);
	return 0;
}
