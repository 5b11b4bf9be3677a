// SPDX-License-Identifier: MIT
/*
 * pprof writer: the gzip-compressed Profile protobuf that `go tool pprof`,
 * speedscope and most continuous-profiling backends read. Messages come from
 * output/profile.proto through protobuf-c; the reader is pprof_reader.c.
 *
 * A CPU profile has two sample types, samples/count and cpu/nanoseconds (count
 * x period); an off-CPU or wall-clock profile has four, samples/count,
 * cpu/nanoseconds, off_cpu/nanoseconds and wall/nanoseconds (cpu + off_cpu),
 * the default being off_cpu or wall; pid, tid, thread and process names, what the collector knew of
 * the process (exe, cgroup, container_id) and the profile's own labels are
 * labels of each sample; collector counters are comments. The Mappings,
 * Locations, Functions and strings the samples refer to are built by
 * pprof_tables.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "output/output.h"
#include "output/pprof_proto.h"
#include "output/pprof_tables.h"

/* Process facts that become sample labels: executable, cgroup, container. */
#define FACT_LABELS 3

struct pb_writer {
	const struct ember_profile *p;
	struct pb_tables t;
	uint32_t omit, pid_str; /* enum ember_pprof_label bits (ember_pprof_opts) */
	size_t first;		/* profile index of sample 0 written */

	/* What every sample shares, in string table ids (k_: label keys). */
	uint64_t period;		     /* ns between samples; 0 when unknown */
	PbValueType types[4], *type_ptrs[4]; /* samples/count, cpu/ns [, off_cpu/ns, wall/ns] */
	size_t nr_types;
	PbValueType period_type;
	int64_t k_pid, k_tid, k_thread, k_process;
	int64_t k_facts[FACT_LABELS]; /* exe, cgroup, container_id; -1 until first used */
	int64_t *k_labels, *v_labels; /* per profile label: key and value */

	/* Samples: each array in one allocation, which the messages point into. */
	PbSample *samples;
	size_t nr_samples;
	int64_t *values;		    /* per sample: nr_types values */
	PbLabel *labels, **label_ptrs;	    /* per sample: SAMPLE_LABELS(w) */
	uint64_t *ids;			    /* all samples' location ids, leaf first */
	size_t *ids_first, nr_ids, cap_ids; /* per sample: index into ids */
	int64_t *comments; /* comment strings: non-zero counters, then the zero ones */
	size_t nr_comments;
};

/* Labels of a sample at most: pid, tid, thread and process name, facts, profile labels. */
#define SAMPLE_LABELS(w) (4 + FACT_LABELS + profile__nr_labels((w)->p))

static void writer_free(struct pb_writer *w)
{
	pb_tables_free(&w->t);
	free(w->k_labels);
	free(w->v_labels);
	free(w->samples);
	free(w->values);
	free(w->labels);
	free(w->label_ptrs);
	free(w->ids);
	free(w->ids_first);
	free(w->comments);
}

/* Sets *@id to the index of @s in the string table: 0 or -ENOMEM. */
static int intern(struct pb_writer *w, const char *s, int64_t *id)
{
	*id = pb_tables_str(&w->t, s);
	return *id < 0 ? -ENOMEM : 0;
}

/*
 * The tables, and the strings every profile has after "" (string 0): the
 * sample types, then the label keys of every sample.
 */
static int writer_init(struct pb_writer *w)
{
	PbValueType vinit = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	const struct {
		const char *s;
		int64_t *id;
	} known[] = {
	    {"samples", &w->types[0].type},
	    {"count", &w->types[0].unit},
	    {"cpu", &w->types[1].type},
	    {"nanoseconds", &w->types[1].unit},
	    {"off_cpu", &w->types[2].type},
	    {"wall", &w->types[3].type},
	    {"pid", &w->k_pid},
	    {"tid", &w->k_tid},
	    {"thread_name", &w->k_thread},
	    {"process_name", &w->k_process},
	};
	size_t i;

	if (pb_tables_init(&w->t, w->p))
		return -ENOMEM;
	w->types[0] = w->types[1] = w->types[2] = w->types[3] = vinit;
	w->nr_types = profile__value_type(w->p) == EMBER_VALUE_SAMPLES ? 2 : 4;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		/* A CPU profile's string table stays as it was without the two time types. */
		if (w->nr_types == 2 &&
		    (known[i].id == &w->types[2].type || known[i].id == &w->types[3].type))
			continue;
		if (intern(w, known[i].s, known[i].id))
			return -ENOMEM;
	}
	w->types[2].unit = w->types[3].unit = w->types[1].unit;
	/* A profile read with --sample-index keeps that one type and its unit. */
	if (profile__value_type(w->p) == EMBER_VALUE_OTHER) {
		const char *type, *unit;

		profile__sample_type(w->p, &type, &unit);
		w->nr_types = 1;
		if (intern(w, type, &w->types[0].type) || intern(w, unit, &w->types[0].unit))
			return -ENOMEM;
	}
	for (i = 0; i < 4; i++)
		w->type_ptrs[i] = &w->types[i];
	w->period_type = w->types[w->nr_types == 1 ? 0 : 1];
	w->period = w->nr_types == 1 ? 0 : profile__period_ns(w->p);
	/* Interned on first use: a profile without process facts has no such strings. */
	for (i = 0; i < FACT_LABELS; i++)
		w->k_facts[i] = -1;
	return 0;
}

/* The profile's labels go onto every sample: their strings are interned once, here. */
static int intern_labels(struct pb_writer *w)
{
	size_t nr = profile__nr_labels(w->p), i;
	int err = 0;

	w->k_labels = calloc(nr + 1, sizeof(*w->k_labels));
	w->v_labels = calloc(nr + 1, sizeof(*w->v_labels));
	if (!w->k_labels || !w->v_labels)
		return -ENOMEM;
	for (i = 0; i < nr && !err; i++) {
		const char *key, *value;

		profile__label(w->p, i, &key, &value);
		err = intern(w, key, &w->k_labels[i]);
		if (!err)
			err = intern(w, value, &w->v_labels[i]);
	}
	return err;
}

/* Sets @lab to key @key with the string @value. */
static int str_label(struct pb_writer *w, PbLabel *lab, int64_t key, const char *value)
{
	lab->key = key;
	return intern(w, value, &lab->str);
}

/* Sets @lab to key @key with the number @v, or its decimal string when @as_string. */
static int id_label(struct pb_writer *w, PbLabel *lab, int64_t key, uint32_t v, bool as_string)
{
	char text[16];

	lab->key = key;
	if (!as_string) {
		lab->num = v;
		return 0;
	}
	snprintf(text, sizeof(text), "%u", v);
	return intern(w, text, &lab->str);
}

/* Appends at @lab[*@n] what the collector knew of process @pid: executable, cgroup, container. */
static int process_labels(struct pb_writer *w, uint32_t pid, PbLabel *lab, size_t *n)
{
	static const char *const keys[FACT_LABELS] = {"exe", "cgroup", "container_id"};
	const struct ember_process *pr = profile__process(w->p, pid);
	const char *vals[FACT_LABELS] = {pr ? pr->exe : NULL, pr ? pr->cgroup : NULL,
					 pr ? pr->container_id : NULL};
	size_t k;
	int err;

	static const uint32_t bits[FACT_LABELS] = {EMBER_PPROF_LABEL_EXE, EMBER_PPROF_LABEL_CGROUP,
						   EMBER_PPROF_LABEL_CONTAINER_ID};
	for (k = 0; k < FACT_LABELS; k++) {
		if (!vals[k] || (w->omit & bits[k]))
			continue;
		if (w->k_facts[k] < 0) {
			err = intern(w, keys[k], &w->k_facts[k]);
			if (err)
				return err;
		}
		err = str_label(w, &lab[(*n)++], w->k_facts[k], vals[k]);
		if (err)
			return err;
	}
	return 0;
}

/* Fills @lab (room for SAMPLE_LABELS(w), initialized) with the labels of @s; *@n: how many. */
static int sample_labels(struct pb_writer *w, const struct ember_sample *s, PbLabel *lab, size_t *n)
{
	size_t k, i = 0;
	int err = 0;

	if (s->pid && !(w->omit & EMBER_PPROF_LABEL_PID))
		err = id_label(w, &lab[i++], w->k_pid, s->pid, w->pid_str & EMBER_PPROF_LABEL_PID);
	if (!err && s->tid && !(w->omit & EMBER_PPROF_LABEL_TID))
		err = id_label(w, &lab[i++], w->k_tid, s->tid, w->pid_str & EMBER_PPROF_LABEL_TID);
	if (!err && s->thread_name && !(w->omit & EMBER_PPROF_LABEL_THREAD_NAME))
		err = str_label(w, &lab[i++], w->k_thread, s->thread_name);
	if (!err && s->process_name && !(w->omit & EMBER_PPROF_LABEL_PROCESS_NAME))
		err = str_label(w, &lab[i++], w->k_process, s->process_name);
	if (!err && s->pid)
		err = process_labels(w, s->pid, lab, &i);
	for (k = 0; !err && k < profile__nr_labels(w->p); k++) {
		lab[i].key = w->k_labels[k];
		lab[i++].str = w->v_labels[k];
	}
	*n = i;
	return err;
}

/* Sample @i of the profile: its locations, values (samples, cpu ns) and labels. */
static int write_sample(struct pb_writer *w, size_t i)
{
	PbSample init = PERFTOOLS__PROFILES__SAMPLE__INIT;
	PbLabel linit = PERFTOOLS__PROFILES__LABEL__INIT;
	size_t per_sample = SAMPLE_LABELS(w), k;
	PbLabel *lab = &w->labels[i * per_sample];
	PbLabel **lp = &w->label_ptrs[i * per_sample];
	PbSample *ps = &w->samples[i];
	struct ember_sample s;
	int err;

	profile__sample(w->p, w->first + i, &s);
	w->ids_first[i] = w->nr_ids;
	err = pb_tables_sample_locations(&w->t, &s, &w->ids, &w->nr_ids, &w->cap_ids);
	if (err)
		return err;
	*ps = init;
	ps->n_location_id = w->nr_ids - w->ids_first[i];
	ps->n_value = w->nr_types;
	ps->value = &w->values[w->nr_types * i];
	/* Counts past INT64_MAX cannot be represented; no real profile gets there. */
	if (w->nr_types == 1) {
		ps->value[0] = (int64_t)s.count;
	} else if (w->nr_types == 2) {
		ps->value[0] = (int64_t)s.count;
		ps->value[1] = (int64_t)(s.count * w->period);
	} else if (s.kind == EMBER_SAMPLE_ON_CPU) {
		/* Time profiles count ns: an on-CPU sample is one period of them. */
		ps->value[0] = w->period ? (int64_t)(s.count / w->period) : 0;
		ps->value[1] = ps->value[3] = (int64_t)s.count;
	} else {
		ps->value[2] = ps->value[3] = (int64_t)s.count;
	}
	for (k = 0; k < per_sample; k++) {
		lab[k] = linit;
		lp[k] = &lab[k];
	}
	ps->label = lp;
	return sample_labels(w, &s, lab, &ps->n_label);
}

/* Every sample, each array in one allocation that the messages point into. */
static int write_samples(struct pb_writer *w)
{
	size_t nr = w->nr_samples, per_sample = SAMPLE_LABELS(w), i;
	int err = 0;

	w->samples = calloc(nr + 1, sizeof(*w->samples));
	w->values = calloc(w->nr_types * nr + 1, sizeof(*w->values));
	w->labels = calloc(nr * per_sample + 1, sizeof(*w->labels));
	w->label_ptrs = calloc(nr * per_sample + 1, sizeof(*w->label_ptrs));
	w->ids_first = calloc(nr + 1, sizeof(*w->ids_first));
	if (!w->samples || !w->values || !w->labels || !w->label_ptrs || !w->ids_first)
		return -ENOMEM;
	for (i = 0; i < nr && !err; i++)
		err = write_sample(w, i);
	/* ids moved as it grew: point into it now that it is final. */
	for (i = 0; i < nr && !err; i++)
		w->samples[i].location_id = w->ids ? &w->ids[w->ids_first[i]] : NULL;
	return err;
}

/*
 * Collector counters become comments, which the reader parses: one
 * COUNTER_PREFIX "NAME=VALUE" per non-zero counter (pprof prints every comment
 * above its tables, so only what a reader should see), and one
 * COUNTERS_ZERO_PREFIX "NAME,NAME,..." listing the zero ones, so the full set
 * reads back.
 */
static int write_comments(struct pb_writer *w)
{
	size_t nr = profile__nr_counters(w->p), i;
	struct obuf zero = {0};
	int err = 0;

	w->nr_comments = 0;
	w->comments = calloc(nr + 1, sizeof(*w->comments));
	if (!w->comments)
		return -ENOMEM;
	for (i = 0; i < nr && !err; i++) {
		const char *name;
		uint64_t value;
		char *text;

		profile__counter(w->p, i, &name, &value);
		if (!value) {
			err = obuf_puts(&zero, zero.len ? "," : COUNTERS_ZERO_PREFIX);
			if (!err)
				err = obuf_puts(&zero, name);
			continue;
		}
		if (asprintf(&text, COUNTER_PREFIX "%s=%" PRIu64, name, value) < 0) {
			err = -ENOMEM;
			break;
		}
		err = intern(w, text, &w->comments[w->nr_comments++]);
		free(text);
	}
	if (!err && zero.len)
		err = intern(w, zero.data, &w->comments[w->nr_comments++]);
	obuf_free(&zero);
	return err;
}

/*
 * Sets *@out to a new array of pointers to the @n elements of @size bytes at
 * @elems: a repeated message field, as protobuf-c holds one.
 */
static int point_at(void ***out, void *elems, size_t n, size_t size)
{
	void **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	size_t k;

	if (!ptrs)
		return -ENOMEM;
	for (k = 0; k < n; k++)
		ptrs[k] = (char *)elems + k * size;
	*out = ptrs;
	return 0;
}

/*
 * Points @prof at the finished tables. The pointer arrays it gets (sample,
 * mapping, location, function) are the caller's to free, also on error.
 */
static int fill_profile(struct pb_writer *w, PbProfile *prof)
{
	struct pb_tables *t = &w->t;
	void **ptrs[4] = {NULL, NULL, NULL, NULL};
	int err;

	err = pb_tables_link_lines(t);
	if (!err)
		err = point_at(&ptrs[0], w->samples, w->nr_samples, sizeof(*w->samples));
	if (!err)
		err = point_at(&ptrs[1], t->mappings, t->nr_mappings, sizeof(*t->mappings));
	if (!err)
		err = point_at(&ptrs[2], t->locations, t->nr_locations, sizeof(*t->locations));
	if (!err)
		err = point_at(&ptrs[3], t->functions, t->nr_functions, sizeof(*t->functions));
	prof->sample = (PbSample **)ptrs[0];
	prof->mapping = (PbMapping **)ptrs[1];
	prof->location = (PbLocation **)ptrs[2];
	prof->function = (PbFunction **)ptrs[3];
	if (err)
		return err;
	prof->n_sample_type = w->nr_types;
	prof->sample_type = w->type_ptrs;
	prof->n_sample = w->nr_samples;
	prof->n_mapping = t->nr_mappings;
	prof->n_location = t->nr_locations;
	prof->n_function = t->nr_functions;
	prof->n_string_table = t->nr_strings;
	prof->string_table = t->strings;
	prof->time_nanos = (int64_t)profile__start_ns(w->p);
	prof->duration_nanos = (int64_t)profile__duration_ns(w->p);
	prof->period_type = &w->period_type;
	prof->period = (int64_t)w->period;
	prof->n_comment = w->nr_comments;
	prof->comment = w->comments;
	/*
	 * A CPU profile counts samples: pprof (and ember reading it back) would
	 * otherwise default to the last type, cpu time, which is 0 without a period.
	 */
	if (w->nr_types <= 2)
		prof->default_sample_type = w->types[0].type;
	if (w->nr_types == 4)
		prof->default_sample_type = profile__value_type(w->p) == EMBER_VALUE_WALL_NS
						? w->types[3].type
						: w->types[2].type;
	return 0;
}

/* Serializes @prof into a new buffer *@out (the caller frees it) of *@out_len bytes. */
static int pack(const PbProfile *prof, uint8_t **out, size_t *out_len)
{
	size_t len = protobuf_c_message_get_packed_size(&prof->base);
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(&prof->base, buf);
	*out = buf;
	*out_len = len;
	return 0;
}

int pprof__encode_opts(const struct ember_profile *p, const struct ember_pprof_opts *opts,
		       uint8_t **out, size_t *out_len)
{
	struct pb_writer w = {.p = p};
	PbProfile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	size_t total = profile__nr_samples(p);
	int err;

	w.nr_samples = total;
	if (opts && opts->sz >= sizeof(*opts)) {
		w.omit = opts->omit_labels;
		w.pid_str = opts->pid_as_string;
		if (opts->first_sample > total ||
		    (opts->nr_samples && opts->nr_samples > total - opts->first_sample))
			return -EINVAL;
		w.first = opts->first_sample;
		w.nr_samples = opts->nr_samples ? opts->nr_samples : total - opts->first_sample;
	}
	/* The steps run in this order because it is the order of the string table. */
	err = writer_init(&w);
	if (!err)
		err = pb_tables_add_mappings(&w.t);
	if (!err)
		err = intern_labels(&w);
	if (!err)
		err = write_samples(&w);
	if (!err)
		err = write_comments(&w);
	if (!err)
		err = fill_profile(&w, &prof);
	if (!err)
		err = pack(&prof, out, out_len);
	free(prof.sample);
	free(prof.mapping);
	free(prof.location);
	free(prof.function);
	writer_free(&w);
	return err;
}

int pprof__encode(const struct ember_profile *p, uint8_t **out, size_t *out_len)
{
	return pprof__encode_opts(p, NULL, out, out_len);
}

int pprof__write(const struct ember_profile *p, FILE *out)
{
	uint8_t *buf = NULL;
	size_t len;
	int err = pprof__encode(p, &buf, &len);

	if (!err)
		err = compress__write(EMBER_COMPRESSION_GZIP, buf, len, out);
	if (!err && fflush(out))
		err = -EIO;
	free(buf);
	return err;
}
