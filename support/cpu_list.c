// SPDX-License-Identifier: MIT
/*
 * Online CPUs: the kernel's CPU list syntax ("0-3,5\n", as in
 * /sys/devices/system/cpu/online), read and tested for membership, so a
 * per-CPU setup skips CPUs that are possible but offline.
 */
#include <stdio.h>
#include <stdlib.h>

#include "support.h"

void ember_online_cpus(char *buf, size_t size)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
}

bool ember_cpu_in_list(const char *list, int cpu)
{
	const char *p = list;

	if (!*list)
		return true;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;

		if (end == p)
			break;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		if (cpu >= a && cpu <= b)
			return true;
		p = *end == ',' ? end + 1 : end;
		if (*p == '\n')
			break;
	}
	return false;
}
