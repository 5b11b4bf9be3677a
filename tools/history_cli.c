// SPDX-License-Identifier: MIT
/*
 * The history selection flags (--from, --to, --where, --group-by) and the
 * messages and exit codes of a query, for every command that reads windows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "history_cli.h"
#include "output_cli.h"
#include "support/support.h"

int history_cli_init(struct history_cli *c, const char *cmd)
{
	struct timespec ts;

	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	c->to_ns = HISTORY_TIME_MAX;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* One "now" for --from and --to, so "-1h" and "now" are exactly an hour apart. */
	c->now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return history_query__new(&c->q);
}

void history_cli_free(struct history_cli *c)
{
	history_query__free(c->q);
	c->q = NULL;
}

int history_cli_option(struct history_cli *c, int id, const char *arg)
{
	char why[160] = "";
	int err;

	switch (id) {
	case HCLI_FROM:
	case HCLI_TO:
		err = history_parse_time(arg, c->now_ns, id == HCLI_FROM ? &c->from_ns : &c->to_ns,
					 why, sizeof(why));
		if (err) {
			cli_usage_error(c->cmd, "invalid value for --%s: '%s' (%s)",
					id == HCLI_FROM ? "from" : "to", arg, why);
			return -EMBER_EXIT_USAGE;
		}
		if (id == HCLI_FROM)
			c->from_arg = arg;
		else
			c->to_arg = arg;
		c->selects = true;
		return 1;
	case HCLI_WHERE:
		err = history_query__add_where(c->q, arg, why, sizeof(why));
		if (err == -ENOMEM)
			return -EMBER_EXIT_FAILURE;
		if (err) {
			cli_usage_error(c->cmd, "invalid value for --where: '%s' (%s)", arg, why);
			return -EMBER_EXIT_USAGE;
		}
		c->selects = true;
		return 1;
	case HCLI_GROUP_BY:
		err = history_query__set_group_by(c->q, arg);
		if (err == -ENOMEM)
			return -EMBER_EXIT_FAILURE;
		c->selects = true;
		if (err) {
			cli_usage_error(c->cmd,
					"invalid value for --group-by: '%s' (expected a "
					"label key)",
					arg);
			return -EMBER_EXIT_USAGE;
		}
		return 1;
	default:
		return 0;
	}
}

static const char *bound(uint64_t ns, const char *none, char *buf, size_t size)
{
	if (ns == 0 || ns == HISTORY_TIME_MAX)
		return none;
	return history_format_time(ns, buf, size);
}

int history_cli_load(struct history_cli *c, char *const *paths, size_t nr_paths,
		     struct ember_profile **out)
{
	char from[40], to[40], first[40], last[40];
	struct history_stats st = {0};
	struct history *h = NULL;
	size_t i;
	int err, ret = EMBER_EXIT_OK;

	*out = NULL;
	if (c->from_ns >= c->to_ns)
		return cli_usage_error(c->cmd, "empty time range: from %s is not before to %s",
				       bound(c->from_ns, "the beginning", from, sizeof(from)),
				       bound(c->to_ns, "the end", to, sizeof(to)));
	history_query__set_range(c->q, c->from_ns, c->to_ns);
	history_query__set_strict(c->q, c->strict);
	if (history__new(&h))
		return EMBER_EXIT_FAILURE;
	for (i = 0; i < nr_paths; i++) {
		err = history__add_path(h, paths[i]);
		if (err) {
			ret = err == -ENOMEM ? EMBER_EXIT_FAILURE : EMBER_EXIT_INPUT;
			goto out;
		}
	}
	err = history__query(h, c->q, out, &st);
	pr_debug("history: %zu windows, %zu in range, %zu left out by their labels, %zu merged, "
		 "%zu decoded, %zu corrupt%s",
		 st.nr_windows, st.nr_in_range, st.nr_pruned, st.nr_merged, st.nr_decoded,
		 st.nr_corrupt, st.index_saved ? "; index saved" : "");
	if (err == -ENODATA && !st.nr_in_range) {
		if (!st.nr_windows)
			fprintf(stderr, "ember: no window starts in [%s, %s): %s no window\n",
				bound(c->from_ns, "the beginning", from, sizeof(from)),
				bound(c->to_ns, "the end", to, sizeof(to)),
				nr_paths == 1 ? "the input holds" : "the inputs hold");
		else
			fprintf(stderr,
				"ember: no window starts in [%s, %s): %s %zu window%s, "
				"starting from %s to %s\n",
				bound(c->from_ns, "the beginning", from, sizeof(from)),
				bound(c->to_ns, "the end", to, sizeof(to)),
				nr_paths == 1 ? "the input holds" : "the inputs hold",
				st.nr_windows, st.nr_windows == 1 ? "" : "s",
				bound(st.first_ns, "?", first, sizeof(first)),
				bound(st.last_ns, "?", last, sizeof(last)));
		ret = EMBER_EXIT_NO_DATA;
	} else if (err == -ENODATA) {
		fprintf(stderr,
			"ember: no sample matches --where in the %zu window%s starting in "
			"[%s, %s)\n",
			st.nr_in_range, st.nr_in_range == 1 ? "" : "s",
			bound(c->from_ns, "the beginning", from, sizeof(from)),
			bound(c->to_ns, "the end", to, sizeof(to)));
		ret = EMBER_EXIT_NO_DATA;
	} else if (err) {
		/* history__query said which windows. */
		ret = err == -ENOMEM ? EMBER_EXIT_FAILURE : EMBER_EXIT_INPUT;
	}
	if (st.nr_corrupt && !ret)
		fprintf(stderr, "ember: note: %zu corrupt window%s skipped (named above)\n",
			st.nr_corrupt, st.nr_corrupt == 1 ? "" : "s");
out:
	history__free(h);
	return ret;
}

/*
 * Splits "PATH@FROM..TO" in @arg: *@path gets a malloc'd PATH, the times go to
 * *@from and *@to. Returns 1 when @arg has a range, 0 when not (*@path NULL),
 * -EMBER_EXIT_USAGE on a bad time, -EMBER_EXIT_FAILURE on -ENOMEM.
 */
static int split_range(struct history_cli *c, const char *arg, char **path, uint64_t *from,
		       uint64_t *to)
{
	const char *at = strrchr(arg, '@'), *dots;
	char why[160] = "", *t = NULL;
	int err = 0;

	*path = NULL;
	dots = at ? strstr(at, "..") : NULL;
	if (!at || !dots)
		return 0;
	*from = 0;
	*to = HISTORY_TIME_MAX;
	if (dots > at + 1) {
		t = strndup(at + 1, (size_t)(dots - at - 1));
		if (!t)
			return -EMBER_EXIT_FAILURE;
		err = history_parse_time(t, c->now_ns, from, why, sizeof(why));
	}
	if (!err && dots[2])
		err = history_parse_time(dots + 2, c->now_ns, to, why, sizeof(why));
	free(t);
	if (err) {
		cli_usage_error(c->cmd, "invalid time range in '%s' (%s)", arg, why);
		return -EMBER_EXIT_USAGE;
	}
	*path = strndup(arg, (size_t)(at - arg));
	return *path ? 1 : -EMBER_EXIT_FAILURE;
}

int history_cli_read(struct history_cli *c, char *const *inputs, size_t nr_inputs,
		     const struct ember_read_opts *ro, struct ember_profile **out)
{
	uint64_t from = 0, to = HISTORY_TIME_MAX, f, t, save_from = c->from_ns, save_to = c->to_ns;
	bool ranged = false, history = c->selects || nr_inputs > 1;
	char **paths = calloc(nr_inputs + 1, sizeof(*paths));
	struct stat st;
	size_t i;
	int ret = EMBER_EXIT_OK, r;

	*out = NULL;
	if (!paths)
		return EMBER_EXIT_FAILURE;
	for (i = 0; i < nr_inputs; i++) {
		r = split_range(c, inputs[i], &paths[i], &f, &t);
		if (r < 0) {
			ret = -r;
			goto out;
		}
		if (r && ranged && (f != from || t != to)) {
			ret = cli_usage_error(c->cmd,
					      "inputs of one side with different ranges: "
					      "'%s'",
					      inputs[i]);
			goto out;
		}
		if (r) {
			ranged = history = true;
			from = f;
			to = t;
		} else {
			paths[i] = strdup(inputs[i]);
			if (!paths[i]) {
				ret = EMBER_EXIT_FAILURE;
				goto out;
			}
		}
		if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
			history = true;
	}
	if (!history) {
		r = output__read_path(paths[0], ro, out);
		ret = r ? output_cli_read_exit(r) : EMBER_EXIT_OK;
		goto out;
	}
	if (ranged) {
		c->from_ns = from;
		c->to_ns = to;
	}
	if (ro && ro->strict)
		c->strict = true;
	ret = history_cli_load(c, paths, nr_inputs, out);
	c->from_ns = save_from;
	c->to_ns = save_to;
out:
	for (i = 0; i < nr_inputs; i++)
		free(paths[i]);
	free(paths);
	return ret;
}
