/* SPDX-License-Identifier: MIT */
/*
 * Command-line selection of an agent's history (history/history.h), shared by
 * the commands that read profiles (query; report, convert and diff can take
 * the same flags): --from, --to, --where, --group-by, one text of each.
 */
#ifndef EMBER_HISTORY_CLI_H
#define EMBER_HISTORY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "history/history.h"
#include "output/output.h"

enum history_cli_id {
	HCLI_FROM = 1100,
	HCLI_TO,
	HCLI_WHERE,
	HCLI_GROUP_BY,
	HCLI_LAST,
};

// clang-format off
#define HISTORY_CLI_OPTIONS \
	{ "from", 0, HCLI_FROM, "TIME", \
	  "Only windows that start at or after TIME: RFC 3339 (2026-12-01T14:00:00Z, " \
	  "2026-12-01T14:00:00.5+01:00), now, or relative to now: -30s, -10m, -1h, -2d." }, \
	{ "to", 0, HCLI_TO, "TIME", \
	  "Only windows that start before TIME (same forms as --from; default: no end)." }, \
	{ "where", 0, HCLI_WHERE, "KEY=VALUE|KEY=~REGEX", \
	  "Only samples whose label KEY equals VALUE, or matches the POSIX extended REGEX " \
	  "as a whole. KEY: pid, tid, process_name, thread_name, exe, cgroup, container_id, " \
	  "or a window label (host, kernel_release, the agent's labels). Repeatable: all " \
	  "must hold." }, \
	{ "group-by", 0, HCLI_GROUP_BY, "KEY", \
	  "Root every stack at a frame KEY=VALUE of the sample's label KEY (e.g. pid=1234; " \
	  "KEY=? without one), the process name below it." }
// clang-format on

struct history_cli {
	const char *cmd; /* for usage errors */
	struct history_query *q;
	uint64_t now_ns, from_ns, to_ns;
	const char *from_arg, *to_arg;
	bool selects; /* --from, --to, --where or --group-by given */
	bool strict;  /* a corrupt window fails instead of being skipped */
};

/* 0 or -ENOMEM. */
int history_cli_init(struct history_cli *c, const char *cmd);
void history_cli_free(struct history_cli *c);

/*
 * Handles option @id with @arg when it is a selection flag: 1 when handled,
 * 0 when not ours, -EMBER_EXIT_USAGE on a bad value (message printed).
 */
int history_cli_option(struct history_cli *c, int id, const char *arg);

/*
 * Merges the windows of @paths (directories or profile files) that the flags
 * select into *@out. Prints every message (no window in range, corrupt windows
 * skipped, mixed kinds) and returns the exit code: EMBER_EXIT_OK,
 * EMBER_EXIT_USAGE (--from not before --to), EMBER_EXIT_INPUT (unreadable
 * path, windows that do not add up, corrupt with strict), EMBER_EXIT_NO_DATA,
 * EMBER_EXIT_FAILURE.
 */
int history_cli_load(struct history_cli *c, char *const *paths, size_t nr_paths,
		     struct ember_profile **out);

/*
 * Reads the inputs of report, convert or diff as one profile. A lone file
 * without selection flags is read as before (output__read_path with @ro: any
 * format, "-" for stdin); a directory, several inputs, the selection flags or
 * an input written "PATH@FROM..TO" (FROM and TO in the --from forms, either
 * may be empty; it overrides --from/--to) go through history_cli_load. Returns
 * the exit code, with the message printed.
 */
int history_cli_read(struct history_cli *c, char *const *inputs, size_t nr_inputs,
		     const struct ember_read_opts *ro, struct ember_profile **out);

#endif /* EMBER_HISTORY_CLI_H */
