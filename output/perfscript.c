// SPDX-License-Identifier: MIT
/*
 * Reader for `perf script` text with call chains (perf record -g), so that
 * `perf script | ember convert - -o out.svg` works like stackcollapse-perf.pl
 * plus flamegraph.pl. A record is a header line ("comm pid[/tid] [cpu] ts:
 * period event:") followed by indented frame lines ("addr symbol+0xoff
 * (module)"), leaf first, ending at a blank line. Every record counts one
 * sample, as stackcollapse-perf.pl counts them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "output/output.h"
#include "support/support.h"

struct ps_reader {
	struct ember_profile *p;
	struct ember_sample s;
	bool in_record;
	uint32_t *locs; /* leaf first */
	size_t nr_locs, cap_locs;
	struct obuf comm, name;
	const char *input;
	bool strict;
	size_t nr_bad;
};

static bool is_digits(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static uint32_t parse_u32(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n && v <= UINT32_MAX; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v > UINT32_MAX ? 0 : (uint32_t)v;
}

/* Header: the comm (may hold spaces) ends before the first "PID" or "PID/TID" token. */
static int parse_header(struct ps_reader *r, const char *line, size_t len)
{
	const char *p = line, *end = line + len, *comm_end = NULL;

	memset(&r->s, 0, sizeof(r->s));
	while (p < end && !isspace((unsigned char)*p))
		p++;
	while (p < end) {
		const char *tok, *slash;
		size_t n;

		comm_end = p;
		while (p < end && isspace((unsigned char)*p))
			p++;
		tok = p;
		while (p < end && !isspace((unsigned char)*p))
			p++;
		n = (size_t)(p - tok);
		slash = memchr(tok, '/', n);
		if (slash && is_digits(tok, (size_t)(slash - tok)) &&
		    is_digits(slash + 1, (size_t)(tok + n - slash - 1))) {
			r->s.pid = parse_u32(tok, (size_t)(slash - tok));
			r->s.tid = parse_u32(slash + 1, (size_t)(tok + n - slash - 1));
			break;
		}
		if (is_digits(tok, n)) {
			r->s.pid = parse_u32(tok, n);
			r->s.tid = r->s.pid;
			break;
		}
		comm_end = NULL;
	}
	if (!comm_end)
		return 1;
	r->comm.len = 0;
	if (obuf_append(&r->comm, line, (size_t)(comm_end - line)))
		return -ENOMEM;
	r->s.process_name = r->comm.data;
	r->s.count = 1;
	r->nr_locs = 0;
	r->in_record = true;
	return 0;
}

static bool is_jit_module(const char *m, size_t n)
{
	const char *base = m + n;

	while (base > m && base[-1] != '/')
		base--;
	return (size_t)(m + n - base) > 9 && strncmp(base, "perf-", 5) == 0 &&
	       strncmp(m + n - 4, ".map", 4) == 0;
}

/* Frame: "ADDR SYMBOL[+0xOFF] (MODULE)". 1 when malformed. */
static int parse_frame(struct ps_reader *r, const char *line, size_t len)
{
	const char *p = line, *end = line + len, *addr, *sym, *sym_end, *mod = NULL, *plus;
	struct ember_frame f = {0};
	unsigned long long address;
	size_t mod_len = 0;
	uint32_t id;
	int err;

	while (p < end && isspace((unsigned char)*p))
		p++;
	addr = p;
	while (p < end && isxdigit((unsigned char)*p))
		p++;
	if (p == addr || (p < end && !isspace((unsigned char)*p)))
		return 1;
	address = strtoull(addr, NULL, 16);
	while (p < end && isspace((unsigned char)*p))
		p++;
	sym = p;
	sym_end = end;
	while (sym_end > sym && isspace((unsigned char)sym_end[-1]))
		sym_end--;
	/* The module is the last parenthesized group; symbols may hold " (" themselves. */
	if (sym_end > sym && sym_end[-1] == ')') {
		const char *open = sym_end - 1;

		while (open > sym && !(open[0] == '(' && isspace((unsigned char)open[-1])))
			open--;
		if (open > sym || *open == '(') {
			mod = open + 1;
			mod_len = (size_t)(sym_end - 1 - mod);
			sym_end = open;
			while (sym_end > sym && isspace((unsigned char)sym_end[-1]))
				sym_end--;
		}
	}
	/* "func+0x1d": the offset is not part of the name. */
	plus = NULL;
	for (p = sym; p + 3 <= sym_end; p++)
		if (p[0] == '+' && p[1] == '0' && p[2] == 'x')
			plus = p;
	if (plus) {
		for (p = plus + 3; p < sym_end && isxdigit((unsigned char)*p); p++)
			;
		if (p == sym_end)
			sym_end = plus;
	}
	r->name.len = 0;
	if (sym_end == sym || (sym_end - sym == 9 && strncmp(sym, "[unknown]", 9) == 0)) {
		/* Like stackcollapse-perf.pl: name an unknown symbol after its module. */
		const char *base = mod ? mod + mod_len : NULL;

		while (base && base > mod && base[-1] != '/')
			base--;
		if (mod && mod_len && strncmp(mod, "unknown", 7) != 0 &&
		    strncmp(mod, "[unknown]", 9) != 0)
			err = obuf_printf(&r->name, "[%.*s]", (int)(mod + mod_len - base), base);
		else
			err = obuf_puts(&r->name, "[unknown]");
		f.flags |= EMBER_FRAME_UNKNOWN;
	} else {
		err = obuf_append(&r->name, sym, (size_t)(sym_end - sym));
	}
	if (err)
		return err;
	if ((mod && mod_len >= 7 &&
	     (memmem(mod, mod_len, "kernel.kallsyms", 15) || strncmp(mod, "[kernel", 7) == 0)) ||
	    (address >= 0xffff800000000000ull && (!mod || !memchr(mod, '/', mod_len))))
		f.flags |= EMBER_FRAME_KERNEL;
	else if (mod && is_jit_module(mod, mod_len))
		f.flags |= EMBER_FRAME_JIT;
	f.function = r->name.data;
	err = profile__intern_frames_location(r->p, &f, 1, &id);
	if (!err)
		err = ember_grow((void **)&r->locs, &r->cap_locs, r->nr_locs + 1, sizeof(*r->locs));
	if (err)
		return err;
	r->locs[r->nr_locs++] = id;
	return 0;
}

static int end_record(struct ps_reader *r)
{
	if (!r->in_record)
		return 0;
	r->in_record = false;
	r->s.nr_locations = (uint32_t)r->nr_locs;
	r->s.locations = r->locs;
	return profile__add_sample(r->p, &r->s);
}

int perfscript__read(const char *buf, size_t len, const struct ember_read_opts *opts,
		     struct ember_profile *p)
{
	struct ps_reader r = {.p = p, .input = "input"};
	size_t pos = 0, lineno = 0;
	int err = 0;

	if (opts) {
		r.strict = opts->strict;
		if (opts->name)
			r.input = opts->name;
	}
	while (pos < len && err >= 0) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		const char *what;

		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n && line[n - 1] == '\r')
			n--;
		if (memchr(line, '\0', n)) {
			err = 1;
			what = "NUL byte";
		} else if (n == 0 || (line[0] == '#' && !r.in_record)) {
			err = end_record(&r);
			continue;
		} else if (isspace((unsigned char)line[0])) {
			what = "frame line outside a record";
			err = r.in_record ? parse_frame(&r, line, n) : 1;
			if (err > 0 && r.in_record)
				what = "frame line is not \"ADDRESS SYMBOL (MODULE)\"";
		} else {
			err = end_record(&r);
			what = "record header without a PID";
			if (!err)
				err = parse_header(&r, line, n);
		}
		if (err > 0) {
			r.nr_bad++;
			if (r.strict) {
				pr_err("%s:%zu: malformed perf script line: %s", r.input, lineno,
				       what);
				err = -EINVAL;
				break;
			}
			if (r.nr_bad <= 10)
				pr_warn("%s:%zu: malformed perf script line skipped: %s", r.input,
					lineno, what);
			err = 0;
		}
	}
	if (!err)
		err = end_record(&r);
	if (!err && r.nr_bad > 10)
		pr_warn("%s: %zu malformed lines skipped in all", r.input, r.nr_bad);
	free(r.locs);
	obuf_free(&r.comm);
	obuf_free(&r.name);
	return err;
}
