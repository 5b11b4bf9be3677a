/* SPDX-License-Identifier: MIT */
/*
 * The symbolization flags shared by the commands: --debug-dir DIR (record,
 * agent, symbolize, convert, report) and --symbolize (convert, report), one
 * definition of their text so help and man pages agree; and the symbolization
 * of a profile read from a file (symbolize_cli_profile), for central
 * symbolization of windows an agent wrote with `symbolize = none`. A command
 * wires them in with SYMBOLIZE_CLI_*_OPTION in its table, symbolize_cli_option()
 * in its getopt loop and symbolize_cli_profile() after it read the profile.
 */
#ifndef EMBER_SYMBOLIZE_CLI_H
#define EMBER_SYMBOLIZE_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "profile/profile.h"
#include "symbolizer/symbolizer.h"

enum symbolize_cli_id {
	SCLI_DEBUG_DIR = 2000, /* above every command's own ids */
	SCLI_SYMBOLIZE,
};

// clang-format off
#define SYMBOLIZE_CLI_DEBUG_DIR_OPTION \
	{ "debug-dir", 0, SCLI_DEBUG_DIR, "DIR", \
	  "Also look for separate debug info under DIR: DIR/.build-id/xx/rest.debug by " \
	  "build-id, and .gnu_debuglink files under DIR/<binary's directory>/ and DIR/. " \
	  "Repeatable: the roots are searched in the order given, before /usr/lib/debug " \
	  "(debuginfod, when DEBUGINFOD_URLS is set, comes last). DIR must be a directory." }

#define SYMBOLIZE_CLI_SYMBOLIZE_OPTION \
	{ "symbolize", 0, SCLI_SYMBOLIZE, NULL, \
	  "Symbolize the input's unsymbolized locations (an address in a mapping with a " \
	  "build-id or a path, and no function: windows of an agent with symbolize = none) " \
	  "on this host: from the file at the mapping's path when its build-id matches, the " \
	  "--debug-dir roots, /usr/lib/debug and debuginfod (DEBUGINFOD_URLS); a binary not " \
	  "at its path is taken from ROOT/.build-id/xx/rest or debuginfod. Kernel " \
	  "addresses are left alone (this host's kernel is not the one sampled). Locations " \
	  "that stay unresolved keep their address and mapping and are counted on stderr " \
	  "and in the profile's counter symbolize.unresolved." }
// clang-format on

struct symbolize_cli {
	const char **debug_dirs; /* point into argv or a config; owned array */
	size_t nr_debug_dirs, cap_debug_dirs;
	bool symbolize; /* --symbolize given */
};

/*
 * Handles option @id (argument @arg) of command @cmd when it is one of these:
 * 1 when handled, 0 when not ours, -EMBER_EXIT_USAGE for a DIR that is not a
 * directory (a message was printed), -EMBER_EXIT_FAILURE when out of memory.
 */
int symbolize_cli_option(struct symbolize_cli *c, const char *cmd, int id, const char *arg);

/*
 * Checks that @dir is a directory. 0, or -ENOTDIR / -errno with "WHY" in @why.
 */
int symbolize_cli_check_dir(const char *dir, char *why, size_t why_size);

/* Points @o's debug_dirs at @c's (valid while @c lives). */
void symbolize_cli_fill(const struct symbolize_cli *c, struct ember_symbolizer_opts *o);

/*
 * With --symbolize, symbolizes the unsymbolized user locations of @p, a
 * profile read from a file, in place (see SYMBOLIZE_CLI_SYMBOLIZE_OPTION);
 * prints "ember: CMD: symbolized N of M locations (K unresolved)" on stderr.
 * Without it, does nothing (but say that --debug-dir alone does nothing). Returns an exit code (EMBER_EXIT_OK, or
 * EMBER_EXIT_FAILURE with a message).
 */
int symbolize_cli_profile(const struct symbolize_cli *c, const char *cmd, struct ember_profile **p);

void symbolize_cli_free(struct symbolize_cli *c);

#endif /* EMBER_SYMBOLIZE_CLI_H */
