// SPDX-License-Identifier: MIT
/*
 * Settings of `ember agent`: defaults, the config file (/etc/ember/agent.conf)
 * and the flags. A config key is the long name of the flag that sets the same
 * thing, and both go through agent_config__set(), so they cannot disagree.
 * Values are checked here (numbers, durations and label keys with the grammars
 * every command uses, tools/cli_values.c); messages say what was expected, and
 * the callers add where the value came from (file and line, or the flag).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "agg/agg.h" /* EMBER_UNWIND_ROWS_MIN/MAX, EMBER_UNWIND_CACHE_DIR */
#include "cli.h"
#include "output/output.h" /* enum ember_pprof_label: push-sample-labels */
#include "support/support.h"

#define MAX_LINE 4096 /* bytes per config line; longer lines are an error */
/*
 * The symbolizer's memory budget (bytes) unless configured: room for the
 * kernel's symbols (about 6 MB), the symbol tables of a busy host's binaries
 * and a few DWARF files, within the agent's 30 MB RSS target.
 */
#define SYMBOLIZER_MEMORY_DEFAULT (16ull << 20)
/*
 * Pyroscope's defaults, which a push has to stay within (its validation and
 * limits): 1 h reject-older-than, a 2 MiB ingestion burst (a larger request is
 * answered 429 however long it waits), 4 MiB uncompressed profile size,
 * 16,000 samples per profile, 30 label names per series, 2048-byte label values.
 */
#define PUSH_MAX_AGE_DEFAULT_S	 (50 * 60.0)
#define PUSH_MAX_BYTES_DEFAULT	 (2ull << 20)
#define PUSH_MAX_BYTES_LIMIT	 (4ull << 20)
#define PUSH_MAX_SAMPLES_DEFAULT 16000
#define PUSH_MAX_LABEL_NAMES	 30
#define PUSH_MAX_LABEL_VALUE	 2048
/* Label names the server adds to every series it files: __name__, __delta__,
 * service_name, pyroscope_spy; host and kernel_release are on every window. */
#define PUSH_SERVER_LABEL_NAMES 4
#define PUSH_WINDOW_LABEL_NAMES 2
#define PUSH_TENANT_MAX		150 /* bytes, the server's tenant id limit */

int agent_config__init(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->frequency_hz = 19;
	cfg->window_s = 10;
	cfg->jitter = true;
	cfg->format = AGENT_FORMAT_PPROF;
	cfg->retention_bytes = 256ull << 20;
	cfg->retention_age_s = 7 * 86400.0;
	cfg->symbolize = AGENT_SYMBOLIZE_LOCAL;
	/*
	 * .eh_frame tables where a binary has them ("auto"): Debian's binaries have no
	 * frame pointers.
	 */
	cfg->unwind = 0;
	cfg->spool_bytes = 64ull << 20;
	cfg->symbolizer_memory = SYMBOLIZER_MEMORY_DEFAULT;
	/*
	 * 1 Mi rows (8 MiB of kernel memory, charged to the agent's cgroup): three
	 * times what every table of this 2-vCPU host took (~330k rows for 43 files); past
	 * it the least recently used tables are evicted (unwind.tables.evicted). record
	 * keeps 4 Mi for one-off profiles of anything.
	 */
	cfg->unwind_rows = 1u << 20;
	cfg->push_timeout_s = 30;
	cfg->push_backoff_min_s = 1;
	cfg->push_backoff_max_s = 300;
	cfg->push_max_age_s = PUSH_MAX_AGE_DEFAULT_S;
	cfg->push_rl_max_s = 300;
	cfg->push_max_bytes = PUSH_MAX_BYTES_DEFAULT;
	cfg->push_max_samples = PUSH_MAX_SAMPLES_DEFAULT;
	/* Not thread_name: one series per thread name multiplies a tenant's series. */
	cfg->push_labels = EMBER_PPROF_LABEL_PROCESS_NAME;
	cfg->output_dir = strdup("/var/lib/ember/profiles");
	cfg->push_app = strdup("ember");
	/* Tables built once on this host load at the next start or SIGHUP. */
	cfg->unwind_cache = strdup(EMBER_UNWIND_CACHE_DIR);
	return cfg->output_dir && cfg->push_app && cfg->unwind_cache ? 0 : -ENOMEM;
}

void agent_config__release(struct agent_config *cfg)
{
	size_t i;

	free(cfg->output_dir);
	free(cfg->push_url);
	free(cfg->push_app);
	free(cfg->push_token_file);
	free(cfg->push_basic_auth_file);
	free(cfg->push_ca_file);
	free(cfg->push_tenant);
	free(cfg->spool_dir);
	free(cfg->unwind_cache);
	free(cfg->debug_dirs);
	for (i = 0; i < cfg->nr_labels; i++) {
		free(cfg->labels[i].key);
		free(cfg->labels[i].value);
	}
	free(cfg->labels);
	memset(cfg, 0, sizeof(*cfg));
}

/*
 * debug-dir: appends a root (a directory; '\n' ends each in cfg->debug_dirs, so
 * a name may not hold one), so every line or flag adds one, in order.
 */
static int add_debug_dir(struct agent_config *cfg, const char *dir, char *why, size_t n)
{
	size_t have = cfg->debug_dirs ? strlen(cfg->debug_dirs) : 0, len = strlen(dir);
	struct stat st;
	char *grown;

	if (!len || strchr(dir, '\n')) {
		snprintf(why, n, "expected a directory");
		return -EINVAL;
	}
	if (stat(dir, &st) != 0) {
		snprintf(why, n, "%s", strerror(errno));
		return -EINVAL;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, n, "not a directory");
		return -EINVAL;
	}
	grown = realloc(cfg->debug_dirs, have + len + 2);
	if (!grown)
		return -ENOMEM;
	memcpy(grown + have, dir, len);
	grown[have + len] = '\n';
	grown[have + len + 1] = '\0';
	cfg->debug_dirs = grown;
	return 0;
}

/* "1048576", "512K", "1M", "2G" (powers of 1024; optional "B"/"iB") -> bytes. */
static int parse_size(const char *s, uint64_t *out, char *why, size_t n)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno)
		goto bad;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10, end++;
		break;
	case 'M':
		shift = 20, end++;
		break;
	case 'G':
		shift = 30, end++;
		break;
	case 'T':
		shift = 40, end++;
		break;
	}
	if (shift && *end == 'i')
		end++;
	if (*end == 'B')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		goto bad;
	*out = (uint64_t)v << shift;
	return 0;
bad:
	snprintf(why, n, "expected a size in bytes: 1048576, 512K, 1M, 2G (0: no limit)");
	return -EINVAL;
}

static int parse_bool(const char *s, bool *out, char *why, size_t n)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0")) {
		*out = false;
		return 0;
	}
	snprintf(why, n, "expected yes or no");
	return -EINVAL;
}

static int set_string(char **dst, const char *value, bool allow_empty, char *why, size_t n)
{
	char *copy;

	if (!*value && !allow_empty) {
		snprintf(why, n, "expected a non-empty value");
		return -EINVAL;
	}
	copy = *value ? strdup(value) : NULL;
	if (*value && !copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* Well-formed UTF-8 (what Pyroscope requires of a label value). */
static bool utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		int more = *u < 0x80		 ? 0
			   : (*u & 0xe0) == 0xc0 ? 1
			   : (*u & 0xf0) == 0xe0 ? 2
			   : (*u & 0xf8) == 0xf0 ? 3
						 : -1;

		if (more < 0 || (more == 1 && *u < 0xc2))
			return false;
		for (u++; more > 0; more--, u++)
			if ((*u & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* Pyroscope's service names: letters, digits and _ . / - (anything else is answered 400). */
static int check_push_app(const char *value, char *why, size_t n)
{
	const char *c;

	for (c = value; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_./-", *c))
			break;
	if (*value && !*c)
		return 0;
	snprintf(why, n,
		 "expected letters, digits and _ . / - (what Pyroscope accepts in a "
		 "service name)");
	return -EINVAL;
}

/* A tenant id as Pyroscope (dskit) takes it: 1..150 of [A-Za-z0-9!-_.*'()], not "." or "..". */
static int check_tenant(const char *value, char *why, size_t n)
{
	size_t len = strlen(value);
	const char *c;

	for (c = value; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("!-_.*'()", *c))
			break;
	if (len && len <= PUSH_TENANT_MAX && !*c && strcmp(value, ".") && strcmp(value, ".."))
		return 0;
	snprintf(why, n, "expected 1 to %d letters, digits and ! - _ . * ' ( )", PUSH_TENANT_MAX);
	return -EINVAL;
}

/* "process_name,thread_name,pid" -> enum ember_pprof_label bits; "none" for no labels. */
static int parse_sample_labels(const char *value, uint32_t *out, char *why, size_t n)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} names[] = {
	    {"pid", EMBER_PPROF_LABEL_PID},
	    {"tid", EMBER_PPROF_LABEL_TID},
	    {"thread_name", EMBER_PPROF_LABEL_THREAD_NAME},
	    {"process_name", EMBER_PPROF_LABEL_PROCESS_NAME},
	    {"exe", EMBER_PPROF_LABEL_EXE},
	    {"cgroup", EMBER_PPROF_LABEL_CGROUP},
	    {"container_id", EMBER_PPROF_LABEL_CONTAINER_ID},
	};
	uint32_t bits = 0;
	const char *p = value;

	if (strcmp(value, "none") == 0) {
		*out = 0;
		return 0;
	}
	while (*p) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len && strncmp(p, names[i].name, len) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			goto bad;
		bits |= names[i].bit;
		p += len;
		if (*p == ',' && *++p == '\0')
			goto bad;
	}
	if (!bits)
		goto bad;
	*out = bits;
	return 0;
bad:
	snprintf(why, n,
		 "expected none or a comma-separated list of pid, tid, thread_name, "
		 "process_name, exe, cgroup, container_id");
	return -EINVAL;
}

/* Number of bits set in @v. */
static unsigned int nr_bits(uint32_t v)
{
	unsigned int k = 0;

	for (; v; v &= v - 1)
		k++;
	return k;
}

static int set_label(struct agent_config *cfg, const char *key, const char *value, char *why,
		     size_t n)
{
	struct agent_label *l = NULL;
	char *v;
	size_t i;

	/* Keys are checked as the --label flags of every command check them. */
	if (cli_check_label_key(key, why, n))
		return -EINVAL;
	/* Pyroscope drops labels named __*, and __name__ would replace the service name. */
	if (strncmp(key, "__", 2) == 0) {
		snprintf(why, n, "label names starting with '__' are reserved");
		return -EINVAL;
	}
	if (strpbrk(value, ",{}=\"\n")) {
		snprintf(why, n, "label values may not contain , { } = \" or newlines");
		return -EINVAL;
	}
	if (strlen(value) > PUSH_MAX_LABEL_VALUE || !utf8_valid(value)) {
		snprintf(why, n, "label values are UTF-8, at most %d bytes", PUSH_MAX_LABEL_VALUE);
		return -EINVAL;
	}
	for (i = 0; i < cfg->nr_labels; i++)
		if (strcmp(cfg->labels[i].key, key) == 0)
			l = &cfg->labels[i];
	v = strdup(value);
	if (!v)
		return -ENOMEM;
	if (l) {
		free(l->value);
		l->value = v;
		return 0;
	}
	if (ember_grow((void **)&cfg->labels, &cfg->cap_labels, cfg->nr_labels + 1,
		       sizeof(*cfg->labels))) {
		free(v);
		return -ENOMEM;
	}
	l = &cfg->labels[cfg->nr_labels];
	l->key = strdup(key);
	if (!l->key) {
		free(v);
		return -ENOMEM;
	}
	l->value = v;
	cfg->nr_labels++;
	return 0;
}

int agent_config__set(struct agent_config *cfg, const char *key, const char *value, char *why,
		      size_t n)
{
	uint64_t v;
	int err;

	why[0] = '\0';
	if (strncmp(key, "label.", 6) == 0)
		return set_label(cfg, key + 6, value, why, n);
	if (strcmp(key, "frequency") == 0) {
		err = cli_parse_uint(value, 1, 20000, &v, why, n);
		if (!err)
			cfg->frequency_hz = (uint32_t)v;
		return err;
	}
	if (strcmp(key, "window") == 0) {
		err = cli_parse_duration(value, 0, &cfg->window_s, why, n);
		if (!err && cfg->window_s < 1) {
			snprintf(why, n, "expected at least 1s");
			err = -EINVAL;
		}
		return err;
	}
	if (strcmp(key, "jitter") == 0)
		return parse_bool(value, &cfg->jitter, why, n);
	if (strcmp(key, "output-dir") == 0)
		return set_string(&cfg->output_dir, value, false, why, n);
	if (strcmp(key, "format") == 0) {
		if (strcmp(value, "pprof") == 0)
			cfg->format = AGENT_FORMAT_PPROF;
		else if (strcmp(value, "folded.zst") == 0)
			cfg->format = AGENT_FORMAT_FOLDED_ZST;
		else {
			snprintf(why, n, "expected pprof or folded.zst");
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "retention-bytes") == 0)
		return parse_size(value, &cfg->retention_bytes, why, n);
	if (strcmp(key, "retention-age") == 0)
		return cli_parse_duration(value, CLI_DURATION_ZERO, &cfg->retention_age_s, why, n);
	if (strcmp(key, "symbolize") == 0) {
		if (strcmp(value, "local") == 0)
			cfg->symbolize = AGENT_SYMBOLIZE_LOCAL;
		else if (strcmp(value, "none") == 0)
			cfg->symbolize = AGENT_SYMBOLIZE_NONE;
		else {
			snprintf(why, n, "expected local or none");
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "unwind") == 0) {
		/* Values of enum ember_unwind: 0 auto, 1 frame pointers only, 2 tables only. */
		if (strcmp(value, "auto") == 0)
			cfg->unwind = 0;
		else if (strcmp(value, "fp") == 0)
			cfg->unwind = 1;
		else if (strcmp(value, "dwarf") == 0)
			cfg->unwind = 2;
		else {
			snprintf(why, n, "expected auto, fp or dwarf");
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "mode") == 0) {
		/* Values of enum ember_mode: 0 CPU samples, 1 off-CPU ns, 2 wall-clock ns. */
		if (strcmp(value, "cpu") == 0)
			cfg->mode = 0;
		else if (strcmp(value, "off-cpu") == 0)
			cfg->mode = 1;
		else if (strcmp(value, "wall") == 0)
			cfg->mode = 2;
		else {
			snprintf(why, n, "expected cpu, off-cpu or wall");
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "unwind-rows") == 0) {
		err =
		    cli_parse_uint(value, EMBER_UNWIND_ROWS_MIN, EMBER_UNWIND_ROWS_MAX, &v, why, n);
		if (!err)
			cfg->unwind_rows = (uint32_t)v;
		return err;
	}
	if (strcmp(key, "unwind-cache") == 0) {
		if (strcmp(value, "none") == 0) {
			free(cfg->unwind_cache);
			cfg->unwind_cache = NULL;
			return 0;
		}
		return set_string(&cfg->unwind_cache, value, false, why, n);
	}
	if (strcmp(key, "push") == 0) {
		if (*value && strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0) {
			snprintf(why, n, "expected an http:// or https:// URL");
			return -EINVAL;
		}
		return set_string(&cfg->push_url, value, true, why, n);
	}
	if (strcmp(key, "push-app") == 0) {
		if (check_push_app(value, why, n))
			return -EINVAL;
		return set_string(&cfg->push_app, value, false, why, n);
	}
	if (strcmp(key, "push-tenant") == 0) {
		if (*value && check_tenant(value, why, n))
			return -EINVAL;
		return set_string(&cfg->push_tenant, value, true, why, n);
	}
	if (strcmp(key, "push-max-age") == 0)
		return cli_parse_duration(value, CLI_DURATION_ZERO, &cfg->push_max_age_s, why, n);
	if (strcmp(key, "push-rate-limit-max") == 0)
		return cli_parse_duration(value, 0, &cfg->push_rl_max_s, why, n);
	if (strcmp(key, "push-max-bytes") == 0) {
		err = parse_size(value, &v, why, n);
		if (!err && (v < 1024 || v > PUSH_MAX_BYTES_LIMIT)) {
			snprintf(why, n, "expected 1K..4M (Pyroscope refuses profiles over 4 MiB)");
			err = -EINVAL;
		}
		if (!err)
			cfg->push_max_bytes = v;
		return err;
	}
	if (strcmp(key, "push-max-samples") == 0) {
		err = cli_parse_uint(value, 1, 1000000, &v, why, n);
		if (!err)
			cfg->push_max_samples = (uint32_t)v;
		return err;
	}
	if (strcmp(key, "push-sample-labels") == 0)
		return parse_sample_labels(value, &cfg->push_labels, why, n);
	if (strcmp(key, "push-token-file") == 0)
		return set_string(&cfg->push_token_file, value, true, why, n);
	if (strcmp(key, "push-basic-auth-file") == 0)
		return set_string(&cfg->push_basic_auth_file, value, true, why, n);
	if (strcmp(key, "push-ca-file") == 0)
		return set_string(&cfg->push_ca_file, value, true, why, n);
	if (strcmp(key, "spool-dir") == 0)
		return set_string(&cfg->spool_dir, value, true, why, n);
	if (strcmp(key, "spool-bytes") == 0) {
		err = parse_size(value, &cfg->spool_bytes, why, n);
		if (!err && cfg->spool_bytes < 4096) {
			snprintf(why, n, "expected at least 4K");
			err = -EINVAL;
		}
		return err;
	}
	if (strcmp(key, "push-timeout") == 0)
		return cli_parse_duration(value, 0, &cfg->push_timeout_s, why, n);
	if (strcmp(key, "push-backoff-min") == 0)
		return cli_parse_duration(value, 0, &cfg->push_backoff_min_s, why, n);
	if (strcmp(key, "push-backoff-max") == 0)
		return cli_parse_duration(value, 0, &cfg->push_backoff_max_s, why, n);
	if (strcmp(key, "metrics-port") == 0) {
		if (strcmp(value, "auto") == 0) {
			cfg->metrics_port = AGENT_METRICS_PORT_AUTO;
			return 0;
		}
		err = cli_parse_uint(value, 0, 65535, &v, why, n);
		if (err)
			snprintf(why, n, "expected 0..65535 or auto");
		else
			cfg->metrics_port = (uint32_t)v;
		return err;
	}
	if (strcmp(key, "debug-dir") == 0)
		return add_debug_dir(cfg, value, why, n);
	if (strcmp(key, "symbolizer-memory") == 0)
		return parse_size(value, &cfg->symbolizer_memory, why, n);
	if (strcmp(key, "symbolizer-max-age") == 0) {
		/* Accepted so that configurations written for older agents still
		 * load: the symbolizer no longer restarts, by age or otherwise. */
		err = cli_parse_duration(value, CLI_DURATION_ZERO, &cfg->symbolizer_max_age_s, why,
					 n);
		if (!err)
			pr_warn("symbolizer-max-age is obsolete and ignored: the symbolizer keeps "
				"within symbolizer-memory by dropping what it used least");
		return err;
	}
	if (strcmp(key, "verbose") == 0)
		return parse_bool(value, &cfg->verbose, why, n);
	return -ENOENT;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int agent_config__load(struct agent_config *cfg, const char *path)
{
	char *line = NULL, why[160];
	unsigned int lineno = 0;
	size_t cap = 0;
	ssize_t len;
	FILE *f;
	int err = 0;

	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		if (err != -ENOENT)
			fprintf(stderr, "ember: cannot read config %s: %s\n", path, strerror(-err));
		return err;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *key, *value, *eq;

		lineno++;
		if (len > MAX_LINE) {
			fprintf(stderr, "ember: %s:%u: line longer than %d bytes\n", path, lineno,
				MAX_LINE);
			err = -EINVAL;
			goto out;
		}
		key = trim(line);
		if (*key == '#' || *key == '\0')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			fprintf(stderr, "ember: %s:%u: expected 'key = value', got '%s'\n", path,
				lineno, key);
			err = -EINVAL;
			goto out;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		/* Quotes are optional; they allow leading or trailing spaces in a value. */
		len = (ssize_t)strlen(value);
		if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
			value[len - 1] = '\0';
			value++;
		}
		if (strcmp(key, "config") == 0) {
			fprintf(stderr,
				"ember: %s:%u: key 'config' cannot be set in a config file\n", path,
				lineno);
			err = -EINVAL;
			goto out;
		}
		err = agent_config__set(cfg, key, value, why, sizeof(why));
		if (err == -ENOENT) {
			fprintf(stderr,
				"ember: %s:%u: unknown key '%s' (keys are the long flags of "
				"'ember help agent', and label.NAME)\n",
				path, lineno, key);
			err = -EINVAL;
			goto out;
		}
		if (err == -EINVAL) {
			fprintf(stderr, "ember: %s:%u: invalid value for key '%s': '%s' (%s)\n",
				path, lineno, key, value, why);
			goto out;
		}
		if (err) {
			fprintf(stderr, "ember: %s:%u: %s\n", path, lineno, strerror(-err));
			goto out;
		}
	}
	if (ferror(f)) {
		err = -EIO;
		fprintf(stderr, "ember: cannot read config %s: %s\n", path, strerror(EIO));
	}
out:
	free(line);
	fclose(f);
	return err;
}

int agent_config__validate(const struct agent_config *cfg)
{
	if (cfg->push_backoff_min_s > cfg->push_backoff_max_s) {
		fprintf(stderr,
			"ember: push-backoff-min (%gs) is larger than push-backoff-max "
			"(%gs)\n",
			cfg->push_backoff_min_s, cfg->push_backoff_max_s);
		return -EINVAL;
	}
	if (cfg->push_token_file && cfg->push_basic_auth_file) {
		fprintf(stderr, "ember: set push-token-file or push-basic-auth-file, not both\n");
		return -EINVAL;
	}
	if (!cfg->push_url && (cfg->push_token_file || cfg->push_basic_auth_file)) {
		fprintf(stderr, "ember: push credentials are set but push (the URL) is not\n");
		return -EINVAL;
	}
	if (cfg->push_url) {
		size_t names = PUSH_SERVER_LABEL_NAMES + PUSH_WINDOW_LABEL_NAMES + cfg->nr_labels +
			       nr_bits(cfg->push_labels),
		       i;

		for (i = 0; i < cfg->nr_labels; i++) {
			const char *k = cfg->labels[i].key, *v = cfg->labels[i].value;

			/* The server sets these itself; a second one is a duplicate (400). */
			if (!strcmp(k, "service_name") || !strcmp(k, "pyroscope_spy") ||
			    !strcmp(k, "host") || !strcmp(k, "kernel_release")) {
				fprintf(
				    stderr,
				    "ember: label.%s cannot be set with push (the server or the "
				    "agent sets it; the service name is push-app)\n",
				    k);
				return -EINVAL;
			}
			/* The server trims values: what it files would differ from the config. */
			if (!*v || isspace((unsigned char)v[0]) ||
			    isspace((unsigned char)v[strlen(v) - 1])) {
				fprintf(
				    stderr,
				    "ember: label.%s: with push, values must be non-empty without "
				    "leading or trailing spaces\n",
				    k);
				return -EINVAL;
			}
		}
		if (names > PUSH_MAX_LABEL_NAMES) {
			fprintf(stderr,
				"ember: push: %zu label names per series (%zu static labels, %u "
				"push-sample-labels, and host, kernel_release and the server's 4); "
				"Pyroscope allows %d\n",
				names, cfg->nr_labels, nr_bits(cfg->push_labels),
				PUSH_MAX_LABEL_NAMES);
			return -EINVAL;
		}
	}
	return 0;
}
