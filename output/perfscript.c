// SPDX-License-Identifier: MIT
/*
 * Reader for `perf script` text with call chains (perf record -g), so that
 * `perf script | ember convert - -o out.svg` works like stackcollapse-perf.pl
 * plus flamegraph.pl. A record is a header line followed by frame lines, leaf
 * first, ending at a blank line (or at the next header). perf prints the
 * header's fields as -F asks, in a fixed order:
 *
 *   COMM  [PID/]TID  [CPU]  [TIME:]  [PERIOD]  [EVENT[:MODIFIERS]:]  [...]
 *
 * (comm may hold spaces; a lone number is the thread id; tracepoints print
 * their fields after the event). Frames are "ADDR [SYMBOL[+0xOFF]] (MODULE)",
 * indented by default, not with some -F layouts.
 *
 * The text is read twice: a first pass over the headers finds the events
 * (a file of `perf record -e a -e b` holds both) and whether every record of
 * the chosen one has a period; the second reads that event's records, each
 * counting its period (as stackcollapse-perf.pl sums it) or 1.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "output/output.h"
#include "support/support.h"

/* Events seen in the first pass, in order of first appearance. */
struct ps_event {
	char *name; /* "" for records without an event field */
	size_t records, with_period;
};

struct ps_reader {
	struct ember_profile *p;
	struct ember_sample s;
	bool in_record;
	bool skip_record; /* a record of another event */
	uint32_t *locs;	  /* leaf first */
	size_t nr_locs, cap_locs;
	struct obuf comm, name;
	const char *input;
	bool strict;
	size_t nr_bad;
	const char *event; /* the event read */
	bool by_period;
	struct ps_event *events;
	size_t nr_events, cap_events;
};

/* What a header line holds beside the comm. */
struct ps_header {
	const char *comm_start, *comm_end;
	uint32_t pid, tid;
	bool has_period;
	uint64_t period;
	const char *event; /* NULL: no event field */
	size_t event_len;
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

static uint64_t parse_u64(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return UINT64_MAX;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

static uint32_t parse_u32(const char *s, size_t n)
{
	uint64_t v = parse_u64(s, n);

	return v > UINT32_MAX ? 0 : (uint32_t)v;
}

/* A pid or tid: digits, or -1 (perf's "unknown", as in ":-1  -1"). */
static bool is_id(const char *t, size_t n)
{
	return is_digits(t, n) || (n == 2 && t[0] == '-' && t[1] == '1');
}

/* An id's value; 0 for unknown. */
static uint32_t parse_id(const char *t, size_t n)
{
	return t[0] == '-' ? 0 : parse_u32(t, n);
}

/* "12345.678901:" (perf's time field). */
static bool is_time(const char *t, size_t n)
{
	const char *dot = memchr(t, '.', n);

	return n >= 3 && t[n - 1] == ':' && dot && is_digits(t, (size_t)(dot - t)) &&
	       is_digits(dot + 1, (size_t)(t + n - 1 - dot - 1));
}

/* "[001]" (perf's cpu field). */
static bool is_cpu(const char *t, size_t n)
{
	return n >= 3 && t[0] == '[' && t[n - 1] == ']' && is_digits(t + 1, n - 2);
}

/* Next whitespace-separated token of [*@p, @end); false at the end. */
static bool next_token(const char **p, const char *end, const char **tok, size_t *n)
{
	while (*p < end && isspace((unsigned char)**p))
		(*p)++;
	if (*p == end)
		return false;
	*tok = *p;
	while (*p < end && !isspace((unsigned char)**p))
		(*p)++;
	*n = (size_t)(*p - *tok);
	return true;
}

/* A "PID/TID" or "TID" token into @h; false when @tok is neither. */
static bool parse_ids(const char *tok, size_t n, struct ps_header *h)
{
	const char *slash = memchr(tok, '/', n);

	if (slash && is_id(tok, (size_t)(slash - tok)) &&
	    is_id(slash + 1, (size_t)(tok + n - slash - 1))) {
		h->pid = parse_id(tok, (size_t)(slash - tok));
		h->tid = parse_id(slash + 1, (size_t)(tok + n - slash - 1));
		return true;
	}
	if (is_id(tok, n)) {
		/* perf prints the thread id alone unless -F has pid too. */
		h->tid = parse_id(tok, n);
		return true;
	}
	return false;
}

/*
 * Parses a header line into @h. The comm ends before the first "PID/TID" or
 * number token after its first word; the optional fields follow in perf's
 * order. Without a comm (-F tid,...), the line starts with the id, right-aligned
 * ("    0 "), and then holds nothing but the optional fields, so that a frame
 * line with a decimal address is no header. 0, or 1 when the line has no pid
 * token.
 */
static int parse_header(const char *line, size_t len, struct ps_header *h)
{
	const char *p = line, *end = line + len, *tok = NULL, *first;
	size_t n = 0, first_n;
	bool more, no_comm = false;

	memset(h, 0, sizeof(*h));
	while (p < end && isspace((unsigned char)*p))
		p++;
	h->comm_start = first = p;
	while (p < end && !isspace((unsigned char)*p))
		p++;
	first_n = (size_t)(p - first);
	for (;;) {
		const char *before = p;

		if (!next_token(&p, end, &tok, &n)) {
			if (!parse_ids(first, first_n, h))
				return 1;
			no_comm = true;
			h->comm_end = first;
			p = first + first_n;
			break;
		}
		if (parse_ids(tok, n, h)) {
			h->comm_end = before;
			break;
		}
	}
	more = next_token(&p, end, &tok, &n);
	if (more && is_cpu(tok, n))
		more = next_token(&p, end, &tok, &n);
	if (more && is_time(tok, n))
		more = next_token(&p, end, &tok, &n);
	if (more && is_digits(tok, n)) {
		h->has_period = true;
		h->period = parse_u64(tok, n);
		more = next_token(&p, end, &tok, &n);
	}
	/* "cpu-clock:", "cycles:u:", "sched:sched_switch:": up to the last ':'. */
	if (more && n > 1 && tok[n - 1] == ':') {
		h->event = tok;
		h->event_len = n - 1;
	} else if (more && no_comm) {
		return 1;
	}
	return 0;
}

/* The index of event @name (@n bytes) in r->events, added when new; -1 on ENOMEM. */
static ssize_t event_index(struct ps_reader *r, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < r->nr_events; i++)
		if (strlen(r->events[i].name) == n && memcmp(r->events[i].name, name, n) == 0)
			return (ssize_t)i;
	if (ember_grow((void **)&r->events, &r->cap_events, r->nr_events + 1, sizeof(*r->events)))
		return -1;
	r->events[i] = (struct ps_event){.name = strndup(name, n)};
	if (!r->events[i].name)
		return -1;
	r->nr_events++;
	return (ssize_t)i;
}

/* One line of the text at a time: @line (without its newline), @n bytes. */
struct ps_line {
	const char *line;
	size_t n, lineno;
};

static bool next_line(const char *buf, size_t len, size_t *pos, struct ps_line *l)
{
	const char *nl;

	if (*pos >= len)
		return false;
	l->line = buf + *pos;
	nl = memchr(l->line, '\n', len - *pos);
	l->n = nl ? (size_t)(nl - l->line) : len - *pos;
	*pos += l->n + (nl ? 1 : 0);
	l->lineno++;
	if (l->n && l->line[l->n - 1] == '\r')
		l->n--;
	return true;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/*
 * Whether module @m (@n bytes) is the kernel: [kernel.kallsyms] (also with
 * perf's "_text" suffix), a vmlinux file (/lib/modules/VERSION/build/vmlinux,
 * /usr/lib/debug/boot/vmlinux-VERSION), or a module file (.ko, compressed).
 */
static bool is_kernel_module(const char *m, size_t n)
{
	const char *base = m + n;

	if (!m || !n)
		return false;
	if (memmem(m, n, "kernel.kallsyms", 15) || (n >= 7 && strncmp(m, "[kernel", 7) == 0))
		return true;
	while (base > m && base[-1] != '/')
		base--;
	if ((size_t)(m + n - base) >= 7 && strncmp(base, "vmlinux", 7) == 0)
		return true;
	return ends_with(m, n, ".ko") || ends_with(m, n, ".ko.xz") || ends_with(m, n, ".ko.zst") ||
	       ends_with(m, n, ".ko.gz");
}

/*
 * A frame line that perf printed without indentation: a hex address, a space,
 * and a "(MODULE)" at the end. A header never ends in ')' after a hex word.
 */
static bool is_unindented_frame(const char *line, size_t n)
{
	size_t i = 0;

	while (i < n && isxdigit((unsigned char)line[i]))
		i++;
	while (n && isspace((unsigned char)line[n - 1]))
		n--;
	return i > 0 && i < n && line[i] == ' ' && line[n - 1] == ')' &&
	       memchr(line + i, '(', n - i) != NULL;
}

static bool is_jit_module(const char *m, size_t n)
{
	const char *base = m + n;

	while (base > m && base[-1] != '/')
		base--;
	return (size_t)(m + n - base) > 9 && strncmp(base, "perf-", 5) == 0 &&
	       strncmp(m + n - 4, ".map", 4) == 0;
}

/* Frame: "ADDR [SYMBOL[+0xOFF]] (MODULE)". 1 when malformed. */
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
	/*
	 * The module is the last parenthesized group, with its own parentheses
	 * balanced ("(/memfd:x (deleted))"); symbols may hold " (" themselves.
	 */
	if (sym_end > sym && sym_end[-1] == ')') {
		const char *open = sym_end - 1;
		size_t depth = 0;

		for (; open > sym; open--) {
			depth += *open == ')';
			if (*open == '(' && depth && --depth == 0 &&
			    isspace((unsigned char)open[-1]))
				break;
		}
		if (open == sym && *open != '(') /* unbalanced: the last " (" */
			for (open = sym_end - 1;
			     open > sym && !(open[0] == '(' && isspace((unsigned char)open[-1]));
			     open--)
				;
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
	if (is_kernel_module(mod, mod_len) ||
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
	if (r->skip_record)
		return 0;
	r->s.nr_locations = (uint32_t)r->nr_locs;
	r->s.locations = r->locs;
	return profile__add_sample(r->p, &r->s);
}

static int begin_record(struct ps_reader *r, const struct ps_header *h)
{
	const char *ev = h->event ? h->event : "";
	size_t ev_len = h->event ? h->event_len : 0;

	memset(&r->s, 0, sizeof(r->s));
	r->in_record = true;
	r->nr_locs = 0;
	r->skip_record = strlen(r->event) != ev_len || memcmp(r->event, ev, ev_len) != 0;
	if (r->skip_record)
		return 0;
	r->comm.len = 0;
	if (obuf_append(&r->comm, h->comm_start, (size_t)(h->comm_end - h->comm_start)))
		return -ENOMEM;
	r->s.process_name = r->comm.data;
	r->s.pid = h->pid;
	r->s.tid = h->tid;
	r->s.count = r->by_period ? h->period : 1;
	return 0;
}

/* First pass: the events of the file and which records have a period. */
static int scan_events(struct ps_reader *r, const char *buf, size_t len)
{
	struct ps_line l = {0};
	bool in_record = false;
	size_t pos = 0;

	while (next_line(buf, len, &pos, &l)) {
		struct ps_header h;
		ssize_t i;

		if (l.n == 0) {
			in_record = false;
			continue;
		}
		if (l.line[0] == '#' || (in_record && isspace((unsigned char)l.line[0])) ||
		    (in_record && is_unindented_frame(l.line, l.n)) || memchr(l.line, '\0', l.n) ||
		    parse_header(l.line, l.n, &h))
			continue;
		in_record = true;
		i = event_index(r, h.event ? h.event : "", h.event ? h.event_len : 0);
		if (i < 0)
			return -ENOMEM;
		r->events[i].records++;
		r->events[i].with_period += h.has_period;
	}
	return 0;
}

/* Picks the event to read and the weight, telling the user what else is there. */
static int choose_event(struct ps_reader *r, const struct ember_read_opts *opts)
{
	const struct ps_event *e = NULL;
	enum ember_weight w = opts ? opts->weight : EMBER_WEIGHT_AUTO;
	size_t i;

	for (i = 0; i < r->nr_events && !e; i++)
		if (!opts || !opts->event || strcmp(r->events[i].name, opts->event) == 0)
			e = &r->events[i];
	if (!e && opts && opts->event) {
		pr_err("%s: no perf script records of event '%s'%s%s", r->input, opts->event,
		       r->nr_events ? "; the file has " : "",
		       r->nr_events ? r->events[0].name : "");
		return -EINVAL;
	}
	if (!e)
		return 0; /* no record at all */
	r->event = e->name;
	/* Without --event the user may not know the file holds other events: say so
	 * by default (docs/outputs.md), not only with -v. */
	for (i = 0; i < r->nr_events; i++)
		if (&r->events[i] != e)
			ember_log(opts && opts->event ? EMBER_LOG_INFO : EMBER_LOG_WARN,
				  "%s: skipped %zu records of event '%s' (--event %s reads them)",
				  r->input, r->events[i].records, r->events[i].name,
				  r->events[i].name);
	if (w == EMBER_WEIGHT_PERIOD && e->with_period < e->records) {
		pr_err("%s: --weight period: %zu of %zu records of '%s' have no period (perf "
		       "script -F ...,period prints it)",
		       r->input, e->records - e->with_period, e->records, e->name);
		return -EINVAL;
	}
	r->by_period = w == EMBER_WEIGHT_PERIOD ||
		       (w == EMBER_WEIGHT_AUTO && e->records && e->with_period == e->records);
	return 0;
}

int perfscript__read(const char *buf, size_t len, const struct ember_read_opts *opts,
		     struct ember_profile *p)
{
	struct ps_reader r = {.p = p, .input = "input", .event = ""};
	struct ps_line l = {0};
	size_t pos = 0, i;
	int err = 0;

	if (opts) {
		r.strict = opts->strict;
		if (opts->name)
			r.input = opts->name;
	}
	err = scan_events(&r, buf, len);
	if (!err)
		err = choose_event(&r, opts);
	if (!err && r.event[0])
		err = profile__set_label(p, "perf.event", r.event);
	if (!err)
		err = profile__set_label(p, "perf.weight", r.by_period ? "period" : "samples");
	while (!err && next_line(buf, len, &pos, &l)) {
		const char *line = l.line, *what;
		size_t n = l.n;
		struct ps_header h;

		if (memchr(line, '\0', n)) {
			err = 1;
			what = "NUL byte";
		} else if (n == 0 || (line[0] == '#' && !r.in_record)) {
			err = end_record(&r);
			continue;
		} else if ((r.in_record || parse_header(line, n, &h)) &&
			   (isspace((unsigned char)line[0]) ||
			    (r.in_record && is_unindented_frame(line, n)))) {
			what = "frame line outside a record";
			err = r.in_record ? (r.skip_record ? 0 : parse_frame(&r, line, n)) : 1;
			if (err > 0 && r.in_record)
				what = "frame line is not \"ADDRESS SYMBOL (MODULE)\"";
		} else {
			err = end_record(&r);
			what = "record header without a PID";
			if (!err)
				err = parse_header(line, n, &h);
			if (!err)
				err = begin_record(&r, &h);
		}
		if (err > 0) {
			r.nr_bad++;
			if (r.strict) {
				pr_err("%s:%zu: malformed perf script line: %s", r.input, l.lineno,
				       what);
				err = -EINVAL;
				break;
			}
			if (r.nr_bad <= 10)
				pr_warn("%s:%zu: malformed perf script line skipped: %s", r.input,
					l.lineno, what);
			err = 0;
		}
	}
	if (!err)
		err = end_record(&r);
	if (!err && r.nr_bad > 10)
		pr_warn("%s: %zu malformed lines skipped in all", r.input, r.nr_bad);
	for (i = 0; i < r.nr_events; i++)
		free(r.events[i].name);
	free(r.events);
	free(r.locs);
	obuf_free(&r.comm);
	obuf_free(&r.name);
	return err;
}

bool perfscript__looks_like(const char *buf, size_t len)
{
	struct ps_line l = {0}, next = {0};
	struct ps_header h;
	size_t pos = 0, i;

	/* The first line that is not one of perf's "# ..." header comments. */
	do {
		if (!next_line(buf, len, &pos, &l))
			return false;
	} while (l.n && l.line[0] == '#');
	if (!l.n || parse_header(l.line, l.n, &h))
		return false;
	/* Then a frame: "ADDR ..." indented, or "ADDR ... (MODULE)". Folded text
	 * never has an indented line; its lines end in a count, not ')'. */
	next.lineno = l.lineno;
	if (!next_line(buf, len, &pos, &next) || !next.n)
		return false;
	if (is_unindented_frame(next.line, next.n))
		return true;
	for (i = 0; i < next.n && isspace((unsigned char)next.line[i]); i++)
		;
	return i > 0 && i < next.n && isxdigit((unsigned char)next.line[i]);
}
