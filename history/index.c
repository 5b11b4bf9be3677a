// SPDX-License-Identifier: MIT
/*
 * The index of a window directory, DIR/.ember-index: each window's metadata
 * and label values, so that a query over a long history decodes only the
 * windows it needs. A text file (docs/history.md):
 *
 *   ember-index 1
 *   w NAME SIZE MTIME_NS START_NS DURATION_NS FREQUENCY_HZ VALUE_TYPE TOTAL
 *   l KEY VALUE                     (the label values of the window above)
 *   end NR_WINDOWS
 *
 * fields separated by one tab, with '\\', tab and newline escaped as "\\\\",
 * "\\t" and "\\n". A record whose size or mtime no longer match its file is
 * stale and dropped; an index that does not parse is ignored as a whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define INDEX_MAGIC	 "ember-index 1"
#define INDEX_MAX_BYTES	 (1ull << 30) /* larger is not an index ember wrote */
#define INDEX_MAX_FIELDS 10

struct record {
	char *name;
	uint64_t size, start_ns, duration_ns, total;
	int64_t mtime_ns;
	uint32_t frequency_hz;
	enum ember_value_type value_type;
	size_t first_label, nr_labels; /* in the label array of the parse */
};

struct parse {
	struct record *recs;
	size_t nr_recs, cap_recs;
	char **labels; /* key, value pairs */
	size_t nr_labels, cap_labels;
};

/* Unescapes @s in place; false on a bad escape. */
static bool unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s != '\\') {
			*w++ = *s;
			continue;
		}
		s++;
		if (*s == '\\')
			*w++ = '\\';
		else if (*s == 't')
			*w++ = '\t';
		else if (*s == 'n')
			*w++ = '\n';
		else
			return false;
	}
	*w = '\0';
	return true;
}

/* Splits @line at tabs into @f (at most INDEX_MAX_FIELDS); returns the count. */
static size_t split(char *line, char **f)
{
	size_t n = 0;

	for (;;) {
		char *tab = strchr(line, '\t');

		if (n == INDEX_MAX_FIELDS)
			return n + 1;
		f[n++] = line;
		if (!tab)
			return n;
		*tab = '\0';
		line = tab + 1;
	}
}

static bool number(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end;
}

static int parse_line(struct parse *ps, char *line)
{
	char *f[INDEX_MAX_FIELDS + 1];
	size_t n = split(line, f), i;
	uint64_t v[7];
	struct record *r;

	if (n == 3 && strcmp(f[0], "l") == 0) {
		if (!ps->nr_recs || !unescape(f[1]) || !unescape(f[2]) || !*f[1])
			return -EINVAL;
		if (ember_grow((void **)&ps->labels, &ps->cap_labels, ps->nr_labels + 2,
			       sizeof(*ps->labels)))
			return -ENOMEM;
		ps->labels[ps->nr_labels++] = f[1];
		ps->labels[ps->nr_labels++] = f[2];
		ps->recs[ps->nr_recs - 1].nr_labels++;
		return 0;
	}
	if (n != 9 || strcmp(f[0], "w") != 0 || !unescape(f[1]) || !*f[1])
		return -EINVAL;
	for (i = 0; i < 7; i++)
		if (!number(f[i + 2], &v[i]))
			return -EINVAL;
	if (v[1] > INT64_MAX || v[4] > UINT32_MAX || v[5] > EMBER_VALUE_WALL_NS)
		return -EINVAL;
	if (ember_grow((void **)&ps->recs, &ps->cap_recs, ps->nr_recs + 1, sizeof(*ps->recs)))
		return -ENOMEM;
	r = &ps->recs[ps->nr_recs++];
	*r = (struct record){
	    .name = f[1],
	    .size = v[0],
	    .mtime_ns = (int64_t)v[1],
	    .start_ns = v[2],
	    .duration_ns = v[3],
	    .frequency_hz = (uint32_t)v[4],
	    .value_type = (enum ember_value_type)v[5],
	    .total = v[6],
	    .first_label = ps->nr_labels / 2,
	};
	return 0;
}

/* Parses the whole index in @buf (NUL-terminated, modified). 0, -EINVAL, -ENOMEM. */
static int parse_index(struct parse *ps, char *buf, size_t *bad_line)
{
	char *line = buf, *nl;
	uint64_t count;
	size_t lineno = 1;
	int err;

	nl = strchr(line, '\n');
	if (!nl || (size_t)(nl - line) != strlen(INDEX_MAGIC) ||
	    strncmp(line, INDEX_MAGIC, strlen(INDEX_MAGIC)) != 0)
		goto bad;
	for (line = nl + 1; *line; line = nl + 1) {
		lineno++;
		nl = strchr(line, '\n');
		if (!nl)
			goto bad; /* truncated */
		*nl = '\0';
		if (strncmp(line, "end\t", 4) == 0) {
			if (!number(line + 4, &count) || count != ps->nr_recs || nl[1])
				goto bad;
			return 0;
		}
		err = parse_line(ps, line);
		if (err == -ENOMEM)
			return err;
		if (err)
			goto bad;
	}
bad:
	*bad_line = lineno;
	return -EINVAL;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;
	int err = 0;

	*out = NULL;
	if (!f)
		return -errno;
	for (;;) {
		if (ember_grow((void **)&buf, &cap, n + 65536 + 1, 1)) {
			err = -ENOMEM;
			break;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				err = -EIO;
			break;
		}
		if (n > INDEX_MAX_BYTES) {
			err = -EFBIG;
			break;
		}
	}
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int cmp_entry_name(const void *a, const void *b, void *h)
{
	const struct history_entry *e = ((struct history *)h)->entries;

	return strcmp(e[*(const size_t *)a].name, e[*(const size_t *)b].name);
}

/* Copies record @r's metadata and labels into entry @e; 0 or -ENOMEM. */
static int apply(struct history *h, const struct parse *ps, const struct record *r,
		 struct history_entry *e)
{
	size_t i;

	e->labels = calloc(r->nr_labels ? r->nr_labels : 1, sizeof(*e->labels));
	if (!e->labels)
		return -ENOMEM;
	for (i = 0; i < r->nr_labels; i++) {
		e->labels[i].key =
		    ember_strpool__intern(h->pool, ps->labels[2 * (r->first_label + i)]);
		e->labels[i].value =
		    ember_strpool__intern(h->pool, ps->labels[2 * (r->first_label + i) + 1]);
		if (!e->labels[i].key || !e->labels[i].value)
			return -ENOMEM;
	}
	e->nr_labels = r->nr_labels;
	e->w.known = true;
	e->w.start_ns = r->start_ns;
	e->w.duration_ns = r->duration_ns;
	e->w.frequency_hz = r->frequency_hz;
	e->w.value_type = r->value_type;
	e->w.total = r->total;
	history_entry__sort_labels(e);
	return 0;
}

void history_index__load(struct history *h, size_t dir)
{
	struct history_dir *d = &h->dirs[dir];
	struct parse ps = {0};
	size_t *order = NULL, nr = 0, i, len, bad_line = 0;
	char *path = NULL, *buf = NULL;
	int err;

	d->dirty = true; /* unless the index on disk is found to be exact */
	if (asprintf(&path, "%s/%s", d->path, HISTORY_INDEX_NAME) < 0) {
		path = NULL;
		goto out;
	}
	err = read_file(path, &buf, &len);
	if (err) {
		if (err != -ENOENT)
			pr_warn("cannot read index %s: %s; rebuilding it", path, strerror(-err));
		goto out;
	}
	err = parse_index(&ps, buf, &bad_line);
	if (err) {
		if (err == -EINVAL)
			pr_warn("index %s is corrupt (line %zu); ignoring it and rebuilding", path,
				bad_line);
		goto out;
	}
	order = calloc(h->nr_entries + 1, sizeof(*order));
	if (!order)
		goto out;
	for (i = 0; i < h->nr_entries; i++)
		if (h->entries[i].dir == (int)dir)
			order[nr++] = i;
	qsort_r(order, nr, sizeof(*order), cmp_entry_name, h);
	d->dirty = false;
	for (i = 0; i < ps.nr_recs; i++) {
		const struct record *r = &ps.recs[i];
		struct history_entry *e;
		size_t lo = 0, hi = nr;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = strcmp(h->entries[order[mid]].name, r->name);

			if (c == 0) {
				lo = mid;
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo >= nr || strcmp(h->entries[order[lo]].name, r->name) != 0) {
			d->dirty = true; /* the file is gone */
			continue;
		}
		e = &h->entries[order[lo]];
		if (e->w.known || e->w.size != r->size || e->w.mtime_ns != r->mtime_ns) {
			d->dirty = true; /* stale: decoded again when the query needs it */
			continue;
		}
		if (apply(h, &ps, r, e)) {
			d->dirty = true;
			break;
		}
	}
	for (i = 0; i < nr; i++)
		if (!h->entries[order[i]].w.known)
			d->dirty = true; /* a window the index lacks */
out:
	free(order);
	free(ps.recs);
	free(ps.labels);
	free(buf);
	free(path);
}

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

int history_index__save(struct history *h, size_t dir)
{
	const struct history_dir *d = &h->dirs[dir];
	char *path = NULL, *tmp = NULL;
	size_t i, j, count = 0;
	FILE *f = NULL;
	int err = 0;

	if (asprintf(&path, "%s/%s", d->path, HISTORY_INDEX_NAME) < 0 ||
	    asprintf(&tmp, "%s/%s.tmp.%d", d->path, HISTORY_INDEX_NAME, (int)getpid()) < 0) {
		err = -ENOMEM;
		goto out;
	}
	/* A query killed while saving left this name behind: it is ours (same pid) to reuse. */
	unlink(tmp);
	f = fopen(tmp, "wxe");
	if (!f) {
		err = -errno;
		goto out;
	}
	fputs(INDEX_MAGIC "\n", f);
	for (i = 0; i < h->nr_entries; i++) {
		const struct history_entry *e = &h->entries[i];

		if (e->dir != (int)dir || !e->w.known || e->w.error)
			continue;
		fputs("w\t", f);
		put_escaped(f, e->name);
		fprintf(f,
			"\t%" PRIu64 "\t%" PRId64 "\t%" PRIu64 "\t%" PRIu64 "\t%u\t%d\t%" PRIu64
			"\n",
			e->w.size, e->w.mtime_ns, e->w.start_ns, e->w.duration_ns,
			e->w.frequency_hz, (int)e->w.value_type, e->w.total);
		for (j = 0; j < e->nr_labels; j++) {
			fputs("l\t", f);
			put_escaped(f, e->labels[j].key);
			fputc('\t', f);
			put_escaped(f, e->labels[j].value);
			fputc('\n', f);
		}
		count++;
	}
	fprintf(f, "end\t%zu\n", count);
	if (fflush(f) || ferror(f))
		err = -errno ? -errno : -EIO;
	if (fclose(f) && !err)
		err = -errno;
	f = NULL;
	if (!err && rename(tmp, path))
		err = -errno;
out:
	if (err) {
		pr_debug("index of %s not saved: %s", d->path, strerror(-err));
		if (tmp)
			unlink(tmp);
	}
	free(path);
	free(tmp);
	return err;
}
