// SPDX-License-Identifier: MIT
/*
 * Kernel symbols from /proc/kallsyms: the text symbols of the core kernel and
 * of loaded modules, sorted once by address so a lookup is a binary search.
 * kallsyms gives no sizes, so an address belongs to the nearest symbol at or
 * below it (that is also what perf and bpftrace report).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Among aliases, prefer core kernel over module symbols, then by name, so
	 * the choice does not depend on qsort's order. */
	if (!x->module != !y->module)
		return x->module ? 1 : -1;
	return strcmp(x->name, y->name);
}

static bool is_text_type(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
}

int kallsyms__load(const char *path, struct ember_strpool *pool, struct kallsyms **out)
{
	struct kallsyms *k = NULL;
	char *line = NULL;
	size_t line_cap = 0;
	bool any_nonzero = false;
	FILE *f = NULL;
	int err = 0;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k) {
		err = -ENOMEM;
		goto out;
	}
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		pr_debug("symbolizer: cannot open %s: %s", path, strerror(-err));
		goto out;
	}
	while (getline(&line, &line_cap, f) > 0) {
		char *name, *module, *end;
		uint64_t addr;
		char type;
		struct ksym *s;

		addr = strtoull(line, &end, 16);
		if (end == line || *end != ' ')
			continue;
		type = end[1];
		if (!is_text_type(type) || end[2] != ' ')
			continue;
		name = end + 3;
		name[strcspn(name, "\n")] = '\0';
		/* Module symbols carry "\t[module]" after the name. */
		module = strchr(name, '\t');
		if (module)
			*module++ = '\0';
		if (module && module[0] != '[')
			module = NULL;
		if (addr)
			any_nonzero = true;
		err = ember_grow((void **)&k->syms, &k->cap, k->nr + 1, sizeof(*k->syms));
		if (err)
			goto out;
		s = &k->syms[k->nr];
		s->addr = addr;
		s->name = ember_strpool__intern(pool, name);
		s->module = module ? ember_strpool__intern(pool, module) : NULL;
		if (!s->name || (module && !s->module)) {
			err = -ENOMEM;
			goto out;
		}
		k->nr++;
	}
	if (ferror(f)) {
		err = -EIO;
		goto out;
	}
	/* With kptr_restrict, unprivileged readers see only zero addresses. */
	if (!any_nonzero) {
		pr_debug("symbolizer: %s has no usable addresses (kptr_restrict?)", path);
		err = -EPERM;
		goto out;
	}
	qsort(k->syms, k->nr, sizeof(*k->syms), ksym_cmp);
	*out = k;
	k = NULL;
out:
	free(line);
	if (f)
		fclose(f);
	kallsyms__free(k);
	return err;
}

void kallsyms__free(struct kallsyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k);
}

const struct ksym *kallsyms__find(const struct kallsyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->nr;

	/* Find the first symbol above @addr; the one before it covers @addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* Step back to the first of equal-address aliases (the preferred one). */
	lo--;
	while (lo > 0 && k->syms[lo - 1].addr == k->syms[lo].addr)
		lo--;
	return &k->syms[lo];
}
