// SPDX-License-Identifier: MIT
/*
 * Demangling through libiberty's cplus_demangle (Debian libiberty-dev), the
 * demangler binutils uses: C++ Itanium names ("_Z..."), and Rust names in both
 * the legacy scheme ("_ZN...17h<hash>E") and v0 ("_R..."). The result matches
 * addr2line -C and c++filt, and function parameters are kept as they do.
 */
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

#include "internal.h"

char *sym_demangle(const char *name)
{
	/* Both schemes start with "_Z" or "_R" (possibly after one more '_' on
	 * targets that prefix symbols); anything else is a plain C name, and
	 * skipping it here avoids the demangler's allocation. */
	if (name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}
