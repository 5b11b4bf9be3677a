// SPDX-License-Identifier: MIT
/* SVG flamegraph writer (in progress). */
#include <errno.h>
#include "output/output.h"

int svg__write(const struct ember_profile *p, const struct ember_svg_opts *opts, FILE *out)
{
	(void)p, (void)opts, (void)out;
	return -ENOSYS;
}
