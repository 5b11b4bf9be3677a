// SPDX-License-Identifier: MIT
/*
 * Top-N text report, like `pprof -top`: per function, flat samples (where it
 * was the leaf) and cumulative samples (stacks it appears in, counted once per
 * stack even under recursion), with percentages of the whole profile.
 */
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "output/internal.h"
#include "output/output.h"
#include "support/support.h"

/* A unit values are shown in: its name and its size in units of the family's base. */
struct scale {
	const char *name;
	double factor;
};

static const struct scale bytes_scale[] = {{"B", 1},
					   {"kB", 1024.0},
					   {"MB", 1024.0 * 1024},
					   {"GB", 1024.0 * 1024 * 1024},
					   {"TB", 1024.0 * 1024 * 1024 * 1024},
					   {"PB", 1024.0 * 1024 * 1024 * 1024 * 1024}};
static const struct scale time_scale[] = {
    {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"hrs", 3600e9}};

/*
 * The family of @unit (bytes or time, as pprof's measurement package knows
 * them; NULL for counts and others) and the size of one @unit in the family's
 * base unit (bytes, ns) in *@from.
 */
static const struct scale *unit_family(const char *unit, size_t *n, double *from)
{
	static const struct {
		const char *alias;
		double from;
	} times[] = {{"nanoseconds", 1}, {"nanosecond", 1},
		     {"ns", 1},		 {"microseconds", 1e3},
		     {"us", 1e3},	 {"milliseconds", 1e6},
		     {"ms", 1e6},	 {"seconds", 1e9},
		     {"second", 1e9},	 {"s", 1e9}};
	size_t i;

	*from = 1;
	if (strcasecmp(unit, "bytes") == 0 || strcasecmp(unit, "byte") == 0 ||
	    strcasecmp(unit, "b") == 0) {
		*n = sizeof(bytes_scale) / sizeof(bytes_scale[0]);
		return bytes_scale;
	}
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		if (strcasecmp(unit, times[i].alias) == 0) {
			*from = times[i].from;
			*n = sizeof(time_scale) / sizeof(time_scale[0]);
			return time_scale;
		}
	*n = 0;
	return NULL;
}

/* The largest unit of @fam in which @v (base units) is at least 1; else the default. */
static const struct scale *pick_scale(const struct scale *fam, size_t n, double v)
{
	const struct scale *best = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (v / fam[i].factor >= 1.0)
			best = &fam[i];
	/* pprof's defaults: bytes, seconds. */
	return best ? best : fam == bytes_scale ? &fam[0] : &fam[3];
}

/*
 * How a table of values from @min (smallest non-zero row) to @max (the total)
 * is labelled, as pprof's report picks one unit for all rows: the unit of the
 * smallest, or of 100 times it when that is 100 times below the total and in
 * a smaller unit. NULL for units pprof does not scale.
 */
static const struct scale *table_scale(const char *unit, uint64_t min, uint64_t max)
{
	const struct scale *fam, *lo, *hi;
	double from;
	size_t n;

	fam = unit_family(unit, &n, &from);
	if (!fam)
		return NULL;
	if (!min)
		min = max;
	lo = pick_scale(fam, n, (double)min * from);
	hi = pick_scale(fam, n, (double)max * from);
	if (lo != hi && (double)min * 100 < (double)max)
		lo = pick_scale(fam, n, (double)min * 100 * from);
	return lo;
}

/*
 * @v in @unit as `go tool pprof` labels it: in unit @sc (from table_scale)
 * with two decimals and ".00" dropped ("1.68MB", "500ms"), "0" for zero;
 * counts as plain numbers; other units appended to the number.
 */
static void value_label(char *buf, size_t size, uint64_t v, const char *unit,
			const struct scale *sc)
{
	const char *name = NULL;
	double d = (double)v, from;
	size_t n, len;

	if (sc && unit_family(unit, &n, &from)) {
		d = d * from / sc->factor;
		name = sc->name;
	} else if (strcmp(unit, "count") && strcmp(unit, "sample") && strcmp(unit, "unit")) {
		name = unit;
	}
	snprintf(buf, size, "%.2f", d);
	len = strlen(buf);
	if (len > 3 && strcmp(buf + len - 3, ".00") == 0)
		buf[len - 3] = '\0';
	if (strcmp(buf, "0") == 0)
		return;
	len = strlen(buf);
	if (name)
		snprintf(buf + len, size - len, "%s", name);
}

struct row {
	const char *name; /* interned display name, with its kind suffix */
	uint64_t flat, cum;
	size_t last_sample; /* sample index + 1 that last added to cum */
};

struct report {
	struct row *rows;
	size_t nr, cap;
	struct ember_index *index;
	struct ember_strpool *pool;
	struct obuf name;
};

static bool row_eq(const void *ctx, uint32_t index)
{
	const struct report *r = ctx;

	return strcmp(r->rows[index].name, r->name.data) == 0;
}

/* Row of the function named in r->name, added when new. */
static int row_of(struct report *r, struct row **out)
{
	uint64_t h = ember_hash_bytes(r->name.data, r->name.len, 0x7e);
	int64_t found = ember_index__find(r->index, h, row_eq, r);
	const char *name;

	if (found >= 0) {
		*out = &r->rows[found];
		return 0;
	}
	name = ember_strpool__intern(r->pool, r->name.data);
	if (!name || ember_grow((void **)&r->rows, &r->cap, r->nr + 1, sizeof(*r->rows)) ||
	    ember_index__insert(r->index, h, (uint32_t)r->nr))
		return -ENOMEM;
	r->rows[r->nr] = (struct row){.name = name};
	*out = &r->rows[r->nr++];
	return 0;
}

static int by_flat(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->flat != y->flat)
		return x->flat < y->flat ? 1 : -1;
	if (x->cum != y->cum)
		return x->cum < y->cum ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int by_cum(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->cum != y->cum)
		return x->cum < y->cum ? 1 : -1;
	if (x->flat != y->flat)
		return x->flat < y->flat ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* True when a frame of the walked stack matches @re (names without suffix). */
static bool focused(const struct stack_walker *w, const regex_t *re)
{
	size_t k;

	for (k = 0; k < w->nr; k++)
		if (regexec(re, w->frames[k].name, 0, NULL, 0) == 0)
			return true;
	return false;
}

/*
 * The table of a profile of any other sample type (bytes, time, ...): values
 * labelled in their unit as pprof labels them, the type named in the header.
 */
static int write_other(const struct ember_profile *p, const struct report *r,
		       const struct ember_report_opts *o, uint64_t shown, bool have_re, FILE *out)
{
	uint64_t total = profile__total(p), min = 0;
	const struct scale *sc;
	const char *type, *unit;
	char a[48], b[48];
	double sum = 0;
	size_t i;

	profile__sample_type(p, &type, &unit);
	for (i = 0; i < r->nr; i++) {
		uint64_t v = r->rows[i].flat ? r->rows[i].flat : r->rows[i].cum;

		if (v && (!min || v < min))
			min = v;
	}
	sc = table_scale(unit, min, total);
	value_label(a, sizeof(a), total, unit, sc);
	if (have_re) {
		value_label(b, sizeof(b), shown, unit, sc);
		fprintf(out, "Focus: %s, %s of %s %s (%.2f%%)\n", o->focus, b, a, type,
			total ? 100.0 * (double)shown / (double)total : 0.0);
	}
	fprintf(out, "Total: %s %s (%s); showing top %zu of %zu functions, sorted by %s\n", a, type,
		unit, r->nr < o->top ? r->nr : (size_t)o->top, r->nr,
		o->sort == EMBER_REPORT_SORT_CUM ? "cum" : "flat");
	fprintf(out, "%12s %7s %7s %12s %7s  %s\n", "flat", "flat%", "sum%", "cum", "cum%",
		"function");
	for (i = 0; i < r->nr && i < o->top; i++) {
		double fp = total ? 100.0 * (double)r->rows[i].flat / (double)total : 0;

		sum += fp;
		value_label(a, sizeof(a), r->rows[i].flat, unit, sc);
		value_label(b, sizeof(b), r->rows[i].cum, unit, sc);
		fprintf(out, "%12s %6.2f%% %6.2f%% %12s %6.2f%%  %s\n", a, fp, sum, b,
			total ? 100.0 * (double)r->rows[i].cum / (double)total : 0.0,
			r->rows[i].name);
	}
	return fflush(out) || ferror(out) ? -EIO : 0;
}

int report__write(const struct ember_profile *p, const struct ember_report_opts *opts, FILE *out)
{
	struct ember_report_opts o = {0};
	struct stack_walker w = {0};
	struct report r = {0};
	regex_t re;
	bool have_re = false;
	uint64_t total = profile__total(p), shown = 0;
	enum ember_value_type type = profile__value_type(p);
	const char *unit = type == EMBER_VALUE_SAMPLES ? "samples" : "ns";
	double sum = 0;
	size_t i, k, n = profile__nr_samples(p);
	int err;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!o.top)
		o.top = 20;
	if (o.focus) {
		if (regcomp(&re, o.focus, REG_EXTENDED | REG_NOSUB))
			return -EINVAL;
		have_re = true;
	}
	err = ember_index__new(&r.index);
	if (!err)
		err = ember_strpool__new(&r.pool);
	for (i = 0; i < n && !err; i++) {
		struct ember_sample s;
		bool leaf = true;

		profile__sample(p, i, &s);
		err = stack_walk(&w, p, &s);
		if (err)
			break;
		if (have_re && !focused(&w, &re))
			continue;
		shown += s.count;
		/* Leaf last in the walk: walk backwards so the first row met is the leaf. */
		for (k = w.nr; k-- > 0 && !err;) {
			const struct stack_frame *f = &w.frames[k];
			struct row *row;

			/* Process and thread roots are not functions. */
			if (!f->frame && !(f->flags & EMBER_FRAME_UNKNOWN))
				continue;
			r.name.len = 0;
			err = obuf_puts(&r.name, f->name);
			if (!err)
				err = obuf_puts(&r.name, frame_suffix(f->flags));
			if (!err)
				err = row_of(&r, &row);
			if (err)
				break;
			if (leaf)
				row->flat += s.count;
			leaf = false;
			if (row->last_sample != i + 1) {
				row->cum += s.count;
				row->last_sample = i + 1;
			}
		}
	}
	if (err)
		goto out;
	if (r.nr)
		qsort(r.rows, r.nr, sizeof(*r.rows),
		      o.sort == EMBER_REPORT_SORT_CUM ? by_cum : by_flat);
	if (type == EMBER_VALUE_OTHER) {
		err = write_other(p, &r, &o, shown, have_re, out);
		goto out;
	}
	if (have_re)
		fprintf(out, "Focus: %s, %llu of %llu %s (%.2f%%)\n", o.focus,
			(unsigned long long)shown, (unsigned long long)total, unit,
			total ? 100.0 * (double)shown / (double)total : 0.0);
	fprintf(out, "Total: %llu %s; showing top %zu of %zu functions, sorted by %s\n",
		(unsigned long long)total, unit, r.nr < o.top ? r.nr : (size_t)o.top, r.nr,
		o.sort == EMBER_REPORT_SORT_CUM ? "cum" : "flat");
	if (type != EMBER_VALUE_SAMPLES)
		fprintf(out, "(%s time: %.3f s)\n",
			type == EMBER_VALUE_WALL_NS ? "wall-clock" : "off-CPU",
			(double)total / 1e9);
	fprintf(out, "%12s %7s %7s %12s %7s  %s\n", "flat", "flat%", "sum%", "cum", "cum%",
		"function");
	for (i = 0; i < r.nr && i < o.top; i++) {
		double fp = total ? 100.0 * (double)r.rows[i].flat / (double)total : 0;

		sum += fp;
		fprintf(
		    out, "%12llu %6.2f%% %6.2f%% %12llu %6.2f%%  %s\n",
		    (unsigned long long)r.rows[i].flat, fp, sum, (unsigned long long)r.rows[i].cum,
		    total ? 100.0 * (double)r.rows[i].cum / (double)total : 0.0, r.rows[i].name);
	}
	err = fflush(out) || ferror(out) ? -EIO : 0;
out:
	if (have_re)
		regfree(&re);
	stack_walker_free(&w);
	ember_index__free(r.index);
	ember_strpool__free(r.pool);
	obuf_free(&r.name);
	free(r.rows);
	return err;
}
