// SPDX-License-Identifier: MIT
/* speedscope JSON writer (in progress). */
#include <errno.h>
#include "output/output.h"

int speedscope__write(const struct ember_profile *p, FILE *out)
{
	(void)p, (void)out;
	return -ENOSYS;
}
