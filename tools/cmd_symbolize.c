// SPDX-License-Identifier: MIT
/*
 * `ember symbolize`: resolves addresses of an ELF file (--elf, ELF virtual
 * addresses as addr2line takes them) or of a live process (--pid, runtime
 * addresses) through the same symbolizer `ember record` uses, and prints each
 * frame as two lines, innermost inline first, in eu-addr2line -i -f -C's
 * layout: the first line names the innermost function and where it was
 * inlined, then its file:line; each outer frame follows as "function" and the
 * file:line of its call site. Addresses come from the command line or, when
 * none are given, from stdin one per line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "support/support.h"
#include "symbolize_cli.h"
#include "symbolizer/symbolizer.h"

enum {
	OPT_ELF = 0x100,
	OPT_NO_DEMANGLE,
	/* Options with a short form return it (cli_getopt_tables). */
	OPT_PID = 'p',
	OPT_ADDRESSES = 'a',
	OPT_HELP = 'h',
	OPT_VERBOSE = 'v',
};

static const struct cli_option symbolize_options[] = {
    {"elf", 0, OPT_ELF, "FILE",
     "Resolve ELF virtual addresses of FILE (as printed by nm or objdump), like addr2line -e."},
    {"pid", 'p', OPT_PID, "PID",
     "Resolve runtime addresses of the running process PID through its mappings "
     "(/proc/PID/maps), its mount namespace and JIT perf map."},
    SYMBOLIZE_CLI_DEBUG_DIR_OPTION,
    {"no-demangle", 0, OPT_NO_DEMANGLE, NULL, "Print C++ and Rust names as in the binary."},
    {"addresses", 'a', OPT_ADDRESSES, NULL,
     "Print each address (0x-prefixed, 16 digits) on a line before its frames."},
    {"verbose", 'v', OPT_VERBOSE, NULL, "Log where files and debug info were found."},
    {"help", 'h', OPT_HELP, NULL, "Show this help."},
    {NULL, 0, 0, NULL, NULL},
};

const struct cli_command cli_symbolize_command = {
    .name = "symbolize",
    .synopsis = "ember symbolize (--elf FILE | --pid PID) [OPTIONS] [ADDR...]",
    .summary = "resolve addresses of a file or process to functions and lines",
    .description = "Prints the frames of each ADDR (hex, 0x optional; read from stdin one per line "
		   "when none are given), innermost inline frame first, as eu-addr2line -i -f -C "
		   "does: a function line, then its file:line; inlined frames are followed by the "
		   "frame they were inlined into with the call site's file:line. Unresolvable "
		   "addresses print a module+0xOFFSET placeholder and ??:0. Counters of unresolved "
		   "addresses by reason go to stderr with -v.",
    .options = symbolize_options,
};

struct sym_cmd {
	struct ember_symbolizer *sym;
	const char *elf;
	uint32_t pid;
	bool print_address;
	struct ember_frame frames[128];
};

/* One executable mapping of the target process. */
struct map_line {
	uint64_t start, end, offset;
	char path[4096];
};

/* Finds the mapping of @pid that contains @addr. 0, -ENOENT or -errno. */
static int find_mapping(uint32_t pid, uint64_t addr, struct map_line *m)
{
	struct ember_proc_map pm;
	int err;

	err = ember_proc_maps_find(pid, addr, &pm, m->path, sizeof(m->path));
	if (err)
		return err;
	m->start = pm.start;
	m->end = pm.end;
	m->offset = pm.offset;
	return 0;
}

static void print_loc(const struct ember_frame *f)
{
	if (f->file)
		printf("%s:%" PRIu32 "\n", f->file, f->line);
	else
		printf("??:0\n");
}

static void print_frames(const struct ember_frame *frames, uint32_t nr)
{
	if (nr == 0) {
		printf("??\n??:0\n");
		return;
	}
	/* First line: the innermost function and, for each inlined frame, where
	 * it sits in the next one out (that frame's file:line). */
	printf("%s", frames[0].function);
	for (uint32_t i = 0; i + 1 < nr && (frames[i].flags & EMBER_FRAME_INLINE); i++) {
		if (frames[i + 1].file)
			printf(" inlined at %s:%" PRIu32 " in %s", frames[i + 1].file,
			       frames[i + 1].line, frames[i + 1].function);
		else
			printf(" inlined in %s", frames[i + 1].function);
	}
	putchar('\n');
	print_loc(&frames[0]);
	for (uint32_t i = 1; i < nr; i++) {
		printf("%s\n", frames[i].function);
		print_loc(&frames[i]);
	}
}

static int symbolize_one(struct sym_cmd *c, const char *text)
{
	uint32_t nr = 0, max = sizeof(c->frames) / sizeof(c->frames[0]);
	struct map_line *m = NULL;
	uint64_t addr;
	char *end;
	int err = 0;

	while (*text == ' ' || *text == '\t')
		text++;
	errno = 0;
	addr = strtoull(text, &end, 16);
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (end == text || *end || errno) {
		fprintf(stderr, "ember: symbolize: invalid address '%s'\n", text);
		return -EINVAL;
	}
	if (c->print_address)
		printf("0x%016" PRIx64 "\n", addr);
	if (c->elf) {
		err = symbolizer__resolve_elf(c->sym, c->elf, addr, c->frames, max, &nr);
	} else {
		struct ember_symbolize_request req = {.pid = c->pid, .address = addr};

		m = calloc(1, sizeof(*m));
		if (!m)
			return -ENOMEM;
		/* Kernel addresses are in the upper half on every 64-bit Linux. */
		if (addr >> 63) {
			req.is_kernel = true;
		} else if (find_mapping(c->pid, addr, m) == 0) {
			req.path = m->path;
			req.map_start = m->start;
			req.map_offset = m->offset;
		}
		err = symbolizer__resolve(c->sym, &req, c->frames, max, &nr);
	}
	free(m);
	if (err) {
		fprintf(stderr, "ember: symbolize: 0x%" PRIx64 ": %s\n", addr, strerror(-err));
		return err;
	}
	print_frames(c->frames, nr);
	return 0;
}

int cmd_symbolize(int argc, char **argv)
{
	struct ember_symbolizer_opts opts = {.sz = sizeof(opts), .no_kernel = false};
	struct option longopts[16];
	char shortopts[40];
	struct symbolize_cli sc = {0};
	struct sym_cmd *c = NULL;
	int opt, ret = EMBER_EXIT_OK, err;
	bool verbose = false;
	uint64_t pid = 0;

	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "ember: symbolize: out of memory\n");
		return EMBER_EXIT_FAILURE;
	}
	if (cli_getopt_tables(symbolize_options, longopts, 16, shortopts)) {
		ret = EMBER_EXIT_FAILURE;
		goto out;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_ELF:
			c->elf = optarg;
			break;
		case OPT_PID:
			if (cli_parse_u64("pid", optarg, 1, UINT32_MAX, &pid)) {
				ret = EMBER_EXIT_USAGE;
				goto out;
			}
			break;
		case SCLI_DEBUG_DIR:
			err = symbolize_cli_option(&sc, "symbolize", opt, optarg);
			if (err < 0) {
				ret = -err;
				goto out;
			}
			break;
		case OPT_NO_DEMANGLE:
			opts.no_demangle = true;
			break;
		case OPT_ADDRESSES:
			c->print_address = true;
			break;
		case OPT_VERBOSE:
			verbose = true;
			break;
		case OPT_HELP:
			cli_print_help(stdout, &cli_symbolize_command);
			goto out;
		default:
			ret = cli_usage_error("symbolize", "unknown option");
			goto out;
		}
	}
	if (!c->elf == !pid) {
		ret = cli_usage_error("symbolize", "give exactly one of --elf FILE or --pid PID");
		goto out;
	}
	c->pid = (uint32_t)pid;
	if (c->elf && access(c->elf, R_OK) != 0) {
		fprintf(stderr, "ember: symbolize: cannot read %s: %s\n", c->elf, strerror(errno));
		ret = EMBER_EXIT_INPUT;
		goto out;
	}
	if (c->pid) {
		char proc[32];

		snprintf(proc, sizeof(proc), "/proc/%" PRIu32, c->pid);
		if (access(proc, F_OK) != 0) {
			fprintf(stderr, "ember: symbolize: no process %" PRIu32 "\n", c->pid);
			ret = EMBER_EXIT_NO_TARGET;
			goto out;
		}
	}
	if (verbose)
		ember_log_set_level(EMBER_LOG_DEBUG);
	symbolize_cli_fill(&sc, &opts);
	err = symbolizer__new(&opts, &c->sym);
	if (err) {
		fprintf(stderr, "ember: symbolize: %s\n", strerror(-err));
		ret = EMBER_EXIT_FAILURE;
		goto out;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			err = symbolize_one(c, argv[i]);
			if (err)
				ret = err == -EINVAL ? EMBER_EXIT_USAGE : EMBER_EXIT_FAILURE;
			if (err && err != -EINVAL)
				goto out;
		}
	} else {
		char *line = NULL;
		size_t cap = 0;

		while (getline(&line, &cap, stdin) > 0) {
			if (line[strspn(line, " \t\r\n")] == '\0')
				continue;
			err = symbolize_one(c, line);
			if (err)
				ret = err == -EINVAL ? EMBER_EXIT_INPUT : EMBER_EXIT_FAILURE;
			if (err && err != -EINVAL)
				break;
		}
		free(line);
	}
	if (verbose) {
		for (size_t i = 0; i < symbolizer__nr_counters(c->sym); i++) {
			const char *name;
			uint64_t value;

			symbolizer__counter(c->sym, i, &name, &value);
			if (value)
				fprintf(stderr, "%s: %" PRIu64 "\n", name, value);
		}
	}
out:
	fflush(stdout);
	if (c)
		symbolizer__free(c->sym);
	free(c);
	symbolize_cli_free(&sc);
	return ret;
}
