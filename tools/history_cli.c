// SPDX-License-Identifier: MIT
/*
 * The history selection flags (--from, --to, --where, --group-by) and the
 * messages and exit codes of a query, for every command that reads windows.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "history_cli.h"
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
		return cli_usage_error(c->cmd, "empty time range: --from %s is not before --to %s",
				       c->from_arg ? c->from_arg : "(start)",
				       c->to_arg ? c->to_arg : "(end)");
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
