// SPDX-License-Identifier: MIT
/*
 * Kernel symbols from /proc/kallsyms: the text symbols of the core kernel and
 * of loaded modules, sorted once by address so a lookup is a binary search.
 * kallsyms gives no sizes, so an address belongs to the nearest symbol at or
 * below it (that is also what perf and bpftrace report).
 *
 * Loading is a start-up cost of every `ember record` (the file is ~5 MB and
 * ~150k text symbols here), so names are copied into one buffer of the table's
 * own instead of being interned one by one, the file is read in large chunks,
 * and the sort is skipped when the kernel already listed them in order (the
 * core kernel does; modules follow). The table touches no shared state, so it
 * can be built on a thread of its own (see symbolizer__preload_kernel).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define READ_CHUNK (256u << 10) /* bytes per read(): procfs hands out 1 KiB by default */

static int ksym_cmp(const void *a, const void *b, void *arg)
{
	const struct ksym *x = a, *y = b;
	const char *names = arg;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Among aliases, prefer core kernel over module symbols, then by name, so
	 * the choice does not depend on the sort's order. */
	if ((x->module == KSYM_NO_MODULE) != (y->module == KSYM_NO_MODULE))
		return x->module == KSYM_NO_MODULE ? -1 : 1;
	return strcmp(names + x->name, names + y->name);
}

static bool is_text_type(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
}

/* Appends @len bytes of @s and a NUL to the name buffer; *@off gets their offset. */
static int add_name(struct kallsyms *k, const char *s, size_t len, uint32_t *off)
{
	int err;

	if (k->names_len + len + 1 > UINT32_MAX)
		return -E2BIG;
	err = ember_grow((void **)&k->names, &k->names_cap, k->names_len + len + 1, 1);
	if (err)
		return err;
	memcpy(k->names + k->names_len, s, len);
	k->names[k->names_len + len] = '\0';
	*off = (uint32_t)k->names_len;
	k->names_len += len + 1;
	return 0;
}

#define PFX_LEN 6 /* strlen("__pfx_") */

/* Whether the symbol just added is "__pfx_" followed by @name. */
static bool prefixed_by_previous(const struct kallsyms *k, const char *name)
{
	const char *prev = k->names + k->syms[k->nr - 1].name;

	return strncmp(prev, "__pfx_", PFX_LEN) == 0 && strcmp(prev + PFX_LEN, name) == 0;
}

/* Parses one line ("ffffffff81000000 T _stext\t[mod]"), adding it if it is text. */
static int parse_line(struct kallsyms *k, char *line, bool *any_nonzero)
{
	char *name, *module, *end;
	uint64_t addr;
	struct ksym *s;
	char type;
	int err;

	addr = strtoull(line, &end, 16);
	if (end == line || *end != ' ')
		return 0;
	type = end[1];
	if (!is_text_type(type) || end[2] != ' ')
		return 0;
	name = end + 3;
	/* Module symbols carry "\t[module]" after the name. */
	module = strchr(name, '\t');
	if (module)
		*module++ = '\0';
	if (module && module[0] != '[')
		module = NULL;
	if (addr)
		*any_nonzero = true;
	err = ember_grow((void **)&k->syms, &k->cap, k->nr + 1, sizeof(*k->syms));
	if (err)
		return err;
	s = &k->syms[k->nr];
	s->addr = addr;
	s->module = KSYM_NO_MODULE;
	if (k->nr && prefixed_by_previous(k, name))
		/* "__pfx_NAME" (the padding before NAME, about half the symbols of a
		 * 6.x kernel) was just stored: NAME is its tail. */
		s->name = k->syms[k->nr - 1].name + PFX_LEN;
	else
		err = add_name(k, name, strlen(name), &s->name);
	if (!err && module) {
		/* Modules repeat on every line of theirs: share the previous copy. */
		if (k->nr && k->syms[k->nr - 1].module != KSYM_NO_MODULE &&
		    strcmp(k->names + k->syms[k->nr - 1].module, module) == 0)
			s->module = k->syms[k->nr - 1].module;
		else
			err = add_name(k, module, strlen(module), &s->module);
	}
	if (err)
		return err;
	k->nr++;
	return 0;
}

/*
 * Gives back what the arrays grew beyond their final size (up to half of them,
 * about 2 MB here: the table is kept for the symbolizer's lifetime).
 */
static void shrink_to_fit(struct kallsyms *k)
{
	void *p;

	if (k->nr && (p = realloc(k->syms, k->nr * sizeof(*k->syms)))) {
		k->syms = p;
		k->cap = k->nr;
	}
	if (k->names_len && (p = realloc(k->names, k->names_len))) {
		k->names = p;
		k->names_cap = k->names_len;
	}
}

int kallsyms__load(const char *path, struct kallsyms **out)
{
	struct kallsyms *k = NULL;
	char *buf = NULL;
	size_t have = 0, i;
	bool any_nonzero = false, sorted = true;
	FILE *f = NULL;
	int err = 0;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	buf = malloc(READ_CHUNK + 1);
	if (!k || !buf) {
		err = -ENOMEM;
		goto out;
	}
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		pr_debug("symbolizer: cannot open %s: %s", path, strerror(-err));
		goto out;
	}
	for (;;) {
		size_t n = fread(buf + have, 1, READ_CHUNK - have, f), start = 0;
		char *nl;

		have += n;
		buf[have] = '\0';
		while ((nl = memchr(buf + start, '\n', have - start))) {
			*nl = '\0';
			err = parse_line(k, buf + start, &any_nonzero);
			if (err)
				goto out;
			start = (size_t)(nl - buf) + 1;
		}
		if (n == 0) { /* end of file (or error): a last line without a newline */
			if (start < have)
				err = parse_line(k, buf + start, &any_nonzero);
			if (err)
				goto out;
			break;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == READ_CHUNK) { /* a 256 KiB line: not kallsyms */
			err = -EINVAL;
			goto out;
		}
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
	for (i = 1; i < k->nr && sorted; i++)
		sorted = ksym_cmp(&k->syms[i - 1], &k->syms[i], k->names) < 0;
	if (!sorted)
		qsort_r(k->syms, k->nr, sizeof(*k->syms), ksym_cmp, k->names);
	shrink_to_fit(k);
	*out = k;
	k = NULL;
out:
	free(buf);
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
	free(k->names);
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

const char *kallsyms__name(const struct kallsyms *k, const struct ksym *s)
{
	return k->names + s->name;
}

const char *kallsyms__module(const struct kallsyms *k, const struct ksym *s)
{
	return s->module == KSYM_NO_MODULE ? NULL : k->names + s->module;
}
