// SPDX-License-Identifier: MIT
/*
 * The history of an agent's windows: listing (directories and lone files),
 * metadata by decode or index, selection by start time and label values, and
 * the merge of the selection into one profile.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"
#include "output/output.h"

#define NS_PER_S   1000000000ull
#define WIN_PREFIX "ember-"

struct where {
	char *key;
	char *value; /* equality when !is_regex */
	bool is_regex;
	regex_t re; /* anchored: the whole value */
};

struct history_query {
	uint64_t from_ns, to_ns;
	struct where *where;
	size_t nr_where, cap_where;
	char *group_by;
	bool strict;
};

int history__new(struct history **out)
{
	struct history *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	if (ember_strpool__new(&h->pool) || ember_index__new(&h->files)) {
		ember_strpool__free(h->pool);
		free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void history__free(struct history *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->nr_entries; i++)
		free(h->entries[i].labels);
	for (i = 0; i < h->nr_dirs; i++)
		free(h->dirs[i].path);
	free(h->entries);
	free(h->dirs);
	ember_strpool__free(h->pool);
	ember_index__free(h->files);
	free(h);
}

size_t history__nr_windows(const struct history *h)
{
	return h->nr_entries;
}

const struct history_window *history__window(const struct history *h, size_t i)
{
	return i < h->nr_entries ? &h->entries[i].w : NULL;
}

static bool is_window_name(const char *n)
{
	size_t len = strlen(n);

	if (strncmp(n, WIN_PREFIX, strlen(WIN_PREFIX)) != 0 || strstr(n, ".tmp."))
		return false;
	return (len > 6 && strcmp(n + len - 6, ".pb.gz") == 0) ||
	       (len > 11 && strcmp(n + len - 11, ".folded.zst") == 0);
}

/* The start second of "ember-YYYYmmddTHHMMSSZ-..." (store.c's names), in ns. */
static bool name_stamp(const char *n, uint64_t *ns)
{
	struct tm tm = {0};
	const char *end;
	time_t t;

	if (strncmp(n, WIN_PREFIX, strlen(WIN_PREFIX)) != 0)
		return false;
	end = strptime(n + strlen(WIN_PREFIX), "%Y%m%dT%H%M%SZ", &tm);
	if (!end || *end != '-')
		return false;
	t = timegm(&tm);
	if (t < 0)
		return false;
	*ns = (uint64_t)t * NS_PER_S;
	return true;
}

struct file_key {
	const struct history *h;
	dev_t dev;
	ino_t ino;
};

static bool same_file(const void *ctx, uint32_t i)
{
	const struct file_key *k = ctx;

	return k->h->entries[i].dev == k->dev && k->h->entries[i].ino == k->ino;
}

static int add_entry(struct history *h, const char *path, const char *name, int dir,
		     const struct stat *st)
{
	struct file_key key = {h, st->st_dev, st->st_ino};
	uint64_t hash = ember_hash_u64(ember_hash_u64(0, st->st_dev), st->st_ino);
	struct history_entry *e;
	int64_t dup;

	/* The same window twice (DIR and DIR/FILE, or a path given twice) counts once. */
	dup = ember_index__find(h->files, hash, same_file, &key);
	if (dup >= 0) {
		pr_debug("%s: already added as %s", path, h->entries[dup].w.path);
		return 0;
	}
	if (h->nr_entries >= UINT32_MAX)
		return -ENOMEM;
	if (ember_grow((void **)&h->entries, &h->cap_entries, h->nr_entries + 1,
		       sizeof(*h->entries)))
		return -ENOMEM;
	e = &h->entries[h->nr_entries];
	memset(e, 0, sizeof(*e));
	e->dir = dir;
	e->w.path = ember_strpool__intern(h->pool, path);
	e->name = name ? ember_strpool__intern(h->pool, name) : NULL;
	if (!e->w.path || (name && !e->name))
		return -ENOMEM;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->w.size = (uint64_t)st->st_size;
	e->w.mtime_ns = (int64_t)st->st_mtim.tv_sec * (int64_t)NS_PER_S + st->st_mtim.tv_nsec;
	e->has_stamp = name_stamp(name ? name : "", &e->name_start_ns);
	if (ember_index__insert(h->files, hash, (uint32_t)h->nr_entries))
		return -ENOMEM;
	h->nr_entries++;
	return 0;
}

static int add_dir(struct history *h, const char *path, const struct stat *dst)
{
	struct history_dir *d;
	struct dirent *de;
	char *full = NULL;
	int err = 0;
	size_t i;
	DIR *dp;

	for (i = 0; i < h->nr_dirs; i++)
		if (h->dirs[i].dev == dst->st_dev && h->dirs[i].ino == dst->st_ino) {
			pr_debug("%s: already added as %s", path, h->dirs[i].path);
			return 0;
		}

	if (ember_grow((void **)&h->dirs, &h->cap_dirs, h->nr_dirs + 1, sizeof(*h->dirs)))
		return -ENOMEM;
	dp = opendir(path);
	if (!dp) {
		err = -errno;
		pr_err("cannot open directory %s: %s", path, strerror(-err));
		return err;
	}
	d = &h->dirs[h->nr_dirs];
	d->path = strdup(path);
	d->dirty = false;
	d->dev = dst->st_dev;
	d->ino = dst->st_ino;
	if (!d->path) {
		closedir(dp);
		return -ENOMEM;
	}
	h->nr_dirs++;
	while ((de = readdir(dp))) {
		struct stat st;

		if (!is_window_name(de->d_name))
			continue;
		free(full);
		if (asprintf(&full, "%s/%s", path, de->d_name) < 0) {
			full = NULL;
			err = -ENOMEM;
			break;
		}
		/* Retention may remove a window while we list: skip what is gone. */
		if (stat(full, &st) || !S_ISREG(st.st_mode))
			continue;
		err = add_entry(h, full, de->d_name, (int)h->nr_dirs - 1, &st);
		if (err)
			break;
	}
	free(full);
	closedir(dp);
	if (!err)
		history_index__load(h, h->nr_dirs - 1);
	return err;
}

int history__add_path(struct history *h, const char *path)
{
	struct stat st;
	int err;

	if (stat(path, &st)) {
		err = -errno;
		pr_err("%s: %s", path, strerror(-err));
		return err;
	}
	if (S_ISDIR(st.st_mode))
		return add_dir(h, path, &st);
	return add_entry(h, path, NULL, -1, &st);
}

/* ---- queries ------------------------------------------------------------ */

int history_query__new(struct history_query **out)
{
	struct history_query *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->to_ns = HISTORY_TIME_MAX;
	*out = q;
	return 0;
}

void history_query__free(struct history_query *q)
{
	size_t i;

	if (!q)
		return;
	for (i = 0; i < q->nr_where; i++) {
		if (q->where[i].is_regex)
			regfree(&q->where[i].re);
		free(q->where[i].key);
		free(q->where[i].value);
	}
	free(q->where);
	free(q->group_by);
	free(q);
}

void history_query__set_range(struct history_query *q, uint64_t from_ns, uint64_t to_ns)
{
	q->from_ns = from_ns;
	q->to_ns = to_ns;
}

void history_query__set_strict(struct history_query *q, bool strict)
{
	q->strict = strict;
}

int history_query__set_group_by(struct history_query *q, const char *key)
{
	char *k;

	if (!*key)
		return -EINVAL;
	k = strdup(key);
	if (!k)
		return -ENOMEM;
	free(q->group_by);
	q->group_by = k;
	return 0;
}

int history_query__add_where(struct history_query *q, const char *expr, char *why, size_t why_size)
{
	const char *eq = strchr(expr, '=');
	struct where *w;
	char *anchored = NULL;
	int rc;

	if (!eq || eq == expr) {
		snprintf(why, why_size, "expected KEY=VALUE or KEY=~REGEX");
		return -EINVAL;
	}
	if (ember_grow((void **)&q->where, &q->cap_where, q->nr_where + 1, sizeof(*q->where)))
		return -ENOMEM;
	w = &q->where[q->nr_where];
	memset(w, 0, sizeof(*w));
	w->is_regex = eq[1] == '~';
	w->key = strndup(expr, (size_t)(eq - expr));
	w->value = strdup(eq + 1 + w->is_regex);
	if (!w->key || !w->value)
		goto nomem;
	if (w->is_regex) {
		/* The whole value must match, not a part of it. */
		if (asprintf(&anchored, "^(%s)$", w->value) < 0)
			goto nomem;
		rc = regcomp(&w->re, anchored, REG_EXTENDED | REG_NOSUB);
		free(anchored);
		if (rc) {
			char msg[128];

			regerror(rc, &w->re, msg, sizeof(msg));
			snprintf(why, why_size, "bad regex: %s", msg);
			free(w->key);
			free(w->value);
			return -EINVAL;
		}
	}
	q->nr_where++;
	return 0;
nomem:
	free(w->key);
	free(w->value);
	return -ENOMEM;
}

static bool where_matches(const struct where *w, const char *value)
{
	if (!value)
		return false;
	if (w->is_regex)
		return regexec(&w->re, value, 0, NULL, 0) == 0;
	return strcmp(w->value, value) == 0;
}

/*
 * The value of label @key of sample @s of @p: a sample label, a fact of its
 * process, or a profile label. NULL when it has none. Numbers go to @num.
 */
static const char *sample_label(const struct ember_profile *p, const struct ember_sample *s,
				const char *key, char *num, size_t num_size)
{
	const struct ember_process *pr;
	const char *k, *v;
	size_t i;

	if (strcmp(key, "pid") == 0 || strcmp(key, "tid") == 0) {
		uint32_t id = key[0] == 'p' ? s->pid : s->tid;

		if (!id)
			return NULL;
		snprintf(num, num_size, "%u", id);
		return num;
	}
	if (strcmp(key, "process_name") == 0)
		return s->process_name;
	if (strcmp(key, "thread_name") == 0)
		return s->thread_name;
	if (strcmp(key, "exe") == 0 || strcmp(key, "cgroup") == 0 ||
	    strcmp(key, "container_id") == 0) {
		pr = s->pid ? profile__process(p, s->pid) : NULL;
		if (!pr)
			return NULL;
		return key[0] == 'e'			? pr->exe
		       : key[0] == 'c' && key[1] == 'g' ? pr->cgroup
							: pr->container_id;
	}
	for (i = 0; i < profile__nr_labels(p); i++) {
		profile__label(p, i, &k, &v);
		if (strcmp(k, key) == 0)
			return v;
	}
	return NULL;
}

static const char *const sample_keys[] = {"pid", "tid",	   "process_name", "thread_name",
					  "exe", "cgroup", "container_id"};

static int cmp_label(const void *a, const void *b)
{
	const struct history_label *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->value, y->value);
}

void history_entry__sort_labels(struct history_entry *e)
{
	size_t i, n = 0;

	if (!e->nr_labels)
		return;
	qsort(e->labels, e->nr_labels, sizeof(*e->labels), cmp_label);
	for (i = 1; i < e->nr_labels; i++)
		if (cmp_label(&e->labels[n], &e->labels[i]) != 0)
			e->labels[++n] = e->labels[i];
	e->nr_labels = n + 1;
}

static int push_label(struct history *h, struct history_entry *e, size_t *cap, const char *key,
		      const char *value)
{
	if (!value)
		return 0;
	if (ember_grow((void **)&e->labels, cap, e->nr_labels + 1, sizeof(*e->labels)))
		return -ENOMEM;
	e->labels[e->nr_labels].key = ember_strpool__intern(h->pool, key);
	e->labels[e->nr_labels].value = ember_strpool__intern(h->pool, value);
	if (!e->labels[e->nr_labels].key || !e->labels[e->nr_labels].value)
		return -ENOMEM;
	e->nr_labels++;
	return 0;
}

/*
 * Set of (key, value) pairs already pushed for one window: values are the
 * profile's interned string pointers or the pid/tid numbers, so a busy
 * window's thousands of (sample, key) pairs cost one probe each and only
 * distinct values are copied into the history's pool.
 */
struct seen {
	uint64_t *slots; /* (hash | 1), 0 for empty; capacity a power of two */
	uint64_t *keys;	 /* key index << 56 ^ value, beside the hash */
	size_t cap;
};

/* True when (@k, @v) was not in @st (and is now). */
static bool seen_add(struct seen *st, uint32_t k, uint64_t v)
{
	uint64_t h = ember_hash_u64(k, v) | 1, id = (uint64_t)k << 56 ^ v;
	size_t i = (size_t)h & (st->cap - 1);

	while (st->slots[i]) {
		if (st->slots[i] == h && st->keys[i] == id)
			return false;
		i = (i + 1) & (st->cap - 1);
	}
	st->slots[i] = h;
	st->keys[i] = id;
	return true;
}

/* Fills @e's metadata and label values from its decoded profile @p. */
static int describe(struct history *h, struct history_entry *e, const struct ember_profile *p)
{
	const size_t nr_keys = sizeof(sample_keys) / sizeof(sample_keys[0]);
	size_t cap = 0, i, k, need = profile__nr_samples(p) * nr_keys * 2 + 16;
	struct seen st = {0};
	const char *key, *value;
	char num[16];
	int err = 0;

	free(e->labels);
	e->labels = NULL;
	e->nr_labels = 0;
	for (st.cap = 16; st.cap < need; st.cap *= 2)
		;
	st.slots = calloc(st.cap, sizeof(*st.slots));
	st.keys = calloc(st.cap, sizeof(*st.keys));
	if (!st.slots || !st.keys) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < profile__nr_samples(p) && !err; i++) {
		struct ember_sample s;

		profile__sample(p, i, &s);
		for (k = 0; k < nr_keys && !err; k++) {
			const char *v = sample_label(p, &s, sample_keys[k], num, sizeof(num));
			uint64_t id = k < 2 ? (k ? s.tid : s.pid) : (uint64_t)(uintptr_t)v;

			if (v && seen_add(&st, (uint32_t)k, id))
				err = push_label(h, e, &cap, sample_keys[k], v);
		}
	}
	for (i = 0; i < profile__nr_labels(p) && !err; i++) {
		profile__label(p, i, &key, &value);
		err = push_label(h, e, &cap, key, value);
	}
	if (err)
		goto out;
	history_entry__sort_labels(e);
	/* Keep what is used: a long history holds thousands of these arrays. */
	if (e->nr_labels && e->nr_labels < cap) {
		struct history_label *l = realloc(e->labels, e->nr_labels * sizeof(*l));

		if (l)
			e->labels = l;
	}
	e->w.known = true;
	e->w.error = NULL;
	e->w.start_ns = profile__start_ns(p);
	/* Folded windows carry no time: their file name does, to the second. */
	if (!e->w.start_ns && e->has_stamp)
		e->w.start_ns = e->name_start_ns;
	e->w.duration_ns = profile__duration_ns(p);
	e->w.frequency_hz = profile__frequency(p);
	e->w.value_type = profile__value_type(p);
	e->w.sample_type = e->w.sample_unit = NULL;
	if (e->w.value_type == EMBER_VALUE_OTHER) {
		profile__sample_type(p, &key, &value);
		e->w.sample_type = ember_strpool__intern(h->pool, key);
		e->w.sample_unit = ember_strpool__intern(h->pool, value);
		if (!e->w.sample_type || !e->w.sample_unit) {
			err = -ENOMEM;
			goto out;
		}
	}
	e->w.total = profile__total(p);
	if (e->dir >= 0)
		h->dirs[e->dir].dirty = true;
out:
	free(st.slots);
	free(st.keys);
	return err;
}

/* Could a window starting at @e's time be in [from, to)? (Unknown windows: maybe.) */
static bool maybe_in_range(const struct history_entry *e, const struct history_query *q)
{
	uint64_t s;

	if (e->w.known)
		return e->w.start_ns >= q->from_ns && e->w.start_ns < q->to_ns;
	if (!e->has_stamp)
		return true;
	s = e->name_start_ns; /* the start lies in [s, s + 1 s) */
	return s + NS_PER_S > q->from_ns && s < q->to_ns;
}

/* Can some sample of @e satisfy every condition? From its label values alone. */
static bool labels_can_match(const struct history_entry *e, const struct history_query *q)
{
	size_t i, j;

	for (i = 0; i < q->nr_where; i++) {
		const struct where *w = &q->where[i];
		bool any = false;

		for (j = 0; j < e->nr_labels && !any; j++)
			any = strcmp(e->labels[j].key, w->key) == 0 &&
			      where_matches(w, e->labels[j].value);
		if (!any)
			return false;
	}
	return true;
}

struct merge_ctx {
	const struct history_query *q;
	char num[16], gnum[16];
	char *root; /* "KEY=VALUE" of the group-by label; malloc'd, reused */
	size_t root_cap;
	bool nomem; /* a sample was dropped for want of memory: the merge fails */
};

static bool keep_sample(const struct ember_profile *src, struct ember_sample *s, const char **roots,
			uint32_t *nr_roots, void *arg)
{
	struct merge_ctx *c = arg;
	const struct history_query *q = c->q;
	const char *v;
	size_t i, need;

	for (i = 0; i < q->nr_where; i++)
		if (!where_matches(&q->where[i],
				   sample_label(src, s, q->where[i].key, c->num, sizeof(c->num))))
			return false;
	if (!q->group_by)
		return true;
	v = sample_label(src, s, q->group_by, c->gnum, sizeof(c->gnum));
	if (!v)
		v = "?";
	need = strlen(q->group_by) + strlen(v) + 2;
	if (ember_grow((void **)&c->root, &c->root_cap, need, 1)) {
		c->nomem = true;
		return false;
	}
	snprintf(c->root, c->root_cap, "%s=%s", q->group_by, v);
	roots[(*nr_roots)++] = c->root;
	/* The process stays visible as the frame under the group (folded puts it above). */
	if (s->process_name && strcmp(q->group_by, "process_name") != 0)
		roots[(*nr_roots)++] = s->process_name;
	s->process_name = NULL;
	return true;
}

/* What @w counts, as pprof names a sample type: "samples/count", "cpu/nanoseconds". */
static const char *kind_name(const struct history_window *w, char *buf, size_t size)
{
	if (w->value_type == EMBER_VALUE_OTHER && w->sample_type && w->sample_unit)
		snprintf(buf, size, "%s/%s", w->sample_type, w->sample_unit);
	else
		snprintf(buf, size, "%s/%s", ember_value_type_name(w->value_type),
			 w->value_type == EMBER_VALUE_SAMPLES ? "count" : "nanoseconds");
	return buf;
}

static bool same_kind(const struct history_window *a, const struct history_window *b)
{
	if (a->value_type != b->value_type)
		return false;
	/* Two other types (inuse_space/bytes, cpu/nanoseconds) add up only if equal. */
	return a->value_type != EMBER_VALUE_OTHER ||
	       (a->sample_type && b->sample_type && strcmp(a->sample_type, b->sample_type) == 0 &&
		a->sample_unit && b->sample_unit && strcmp(a->sample_unit, b->sample_unit) == 0);
}

/* Windows @a (the first merged) and @b must add up; logs why not. 0 or -EINVAL. */
static int compatible(const struct history_window *a, const struct history_window *b)
{
	char ka[128], kb[128];

	if (!same_kind(a, b)) {
		pr_err("windows of different kinds: %s counts %s, %s counts %s; select one "
		       "kind with --from/--to or separate directories",
		       a->path, kind_name(a, ka, sizeof(ka)), b->path,
		       kind_name(b, kb, sizeof(kb)));
		return -EINVAL;
	}
	/* Counts of samples weigh 1e9 / frequency ns each: different weights do not add up. */
	if (a->value_type == EMBER_VALUE_SAMPLES && a->frequency_hz && b->frequency_hz &&
	    a->frequency_hz != b->frequency_hz) {
		pr_err("windows sampled at different frequencies: %s at %u Hz, %s at %u Hz; "
		       "their sample counts do not add up (select one with --from/--to)",
		       a->path, a->frequency_hz, b->path, b->frequency_hz);
		return -EINVAL;
	}
	return 0;
}

static int cmp_start(const void *a, const void *b, void *arg)
{
	const struct history_entry *e = ((struct history *)arg)->entries;
	const struct history_entry *x = &e[*(const size_t *)a], *y = &e[*(const size_t *)b];
	uint64_t sx = x->w.known ? x->w.start_ns : x->name_start_ns;
	uint64_t sy = y->w.known ? y->w.start_ns : y->name_start_ns;

	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(x->w.path, y->w.path);
}

int history__query(struct history *h, const struct history_query *q, struct ember_profile **out,
		   struct history_stats *stats)
{
	struct merge_ctx ctx = {.q = q};
	struct ember_merge_opts mo = {.sz = sizeof(mo), .sample = keep_sample, .ctx = &ctx};
	const struct history_window *first = NULL;
	struct history_stats st = {0};
	struct ember_profile *res = NULL, *p = NULL;
	struct history_prefetch *pf = NULL;
	uint64_t start = 0, duration = 0;
	size_t *order = NULL, i, nr_paths = 0, next_path = 0;
	const char **paths = NULL;
	int err;

	*out = NULL;
	err = profile__new(&res);
	if (err)
		goto out;
	order = calloc(h->nr_entries + 1, sizeof(*order));
	if (!order) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < h->nr_entries; i++)
		order[i] = i;
	qsort_r(order, h->nr_entries, sizeof(*order), cmp_start, h);
	st.nr_windows = h->nr_entries;
	/* The windows to decode, in merge order: unknown ones that may be in range, and
	 * known ones in range whose labels can match. */
	paths = calloc(h->nr_entries + 1, sizeof(*paths));
	if (!paths) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < h->nr_entries; i++) {
		const struct history_entry *e = &h->entries[order[i]];

		if (maybe_in_range(e, q) && (!e->w.known || labels_can_match(e, q)))
			paths[nr_paths++] = e->w.path;
	}
	err = history_prefetch__start(paths, nr_paths, &pf);
	if (err)
		goto out;
	for (i = 0; i < h->nr_entries; i++) {
		struct history_entry *e = &h->entries[order[i]];
		uint64_t s;

		profile__free(p);
		p = NULL;
		if (next_path < nr_paths && paths[next_path] == e->w.path) {
			err = history_prefetch__take(pf, next_path++, &p);
			if (err == -ENOMEM)
				goto out;
			if (err) {
				e->w.error = ember_strpool__intern(h->pool, strerror(-err));
				st.nr_corrupt++;
				pr_err("%s: corrupt or unreadable window (%s)%s", e->w.path,
				       e->w.error, q->strict ? "" : "; skipped");
				if (q->strict) {
					err = -EIO;
					goto out;
				}
				goto span;
			}
			st.nr_decoded++;
			if (!e->w.known) {
				err = describe(h, e, p);
				if (err)
					goto out;
			}
		} else if (!e->w.known) {
			goto span; /* its file name says it is out of range */
		}
		if (!maybe_in_range(e, q))
			goto span;
		st.nr_in_range++;
		if (!labels_can_match(e, q)) {
			st.nr_pruned++;
			goto span;
		}
		if (first) {
			err = compatible(first, &e->w);
			if (err)
				goto out;
		}
		if (!p) {
			/* In range with labels that can match: it was on the decode list. */
			err = -EIO;
			goto out;
		}
		err = profile__merge_opts(res, p, &mo);
		if (!err && ctx.nomem)
			err = -ENOMEM;
		if (err)
			goto out;
		if (!first) {
			first = &e->w;
			start = e->w.start_ns;
			profile__set_frequency(res, e->w.frequency_hz);
		}
		if (e->w.start_ns < start)
			start = e->w.start_ns;
		duration += e->w.duration_ns;
		st.nr_merged++;
span:
		s = e->w.known ? e->w.start_ns : e->has_stamp ? e->name_start_ns : 0;
		if (s && (!st.first_ns || s < st.first_ns))
			st.first_ns = s;
		if (s > st.last_ns)
			st.last_ns = s;
	}
	profile__set_time(res, start, duration);
	for (i = 0; i < h->nr_dirs; i++) {
		if (!h->dirs[i].dirty)
			continue;
		if (history_index__save(h, i) == 0) {
			h->dirs[i].dirty = false;
			st.index_saved = true;
		}
	}
	if (!st.nr_in_range || (q->nr_where && !profile__nr_samples(res))) {
		err = -ENODATA;
		goto out;
	}
	*out = res;
	res = NULL;
	err = 0;
out:
	/* Stops the decode thread before anything it reads goes away. */
	history_prefetch__free(pf);
	free(paths);
	if (stats)
		*stats = st;
	profile__free(p);
	profile__free(res);
	free(order);
	free(ctx.root);
	return err;
}
