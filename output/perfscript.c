// SPDX-License-Identifier: MIT
/* perf script reader (in progress). */
#include <errno.h>
#include "output/output.h"

int perfscript__read(const char *buf, size_t len, const struct ember_read_opts *opts,
		     struct ember_profile *p)
{
	(void)buf, (void)len, (void)opts, (void)p;
	return -ENOSYS;
}
