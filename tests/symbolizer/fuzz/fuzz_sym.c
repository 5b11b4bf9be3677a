// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the symbolizer's parsers of untrusted input. The first
 * byte picks the parser, the rest is the file content:
 *   0: an ELF file (headers, notes, symbol tables, PLT decoding, DWARF index)
 *      resolved at addresses spread over its size;
 *   1: a /proc/kallsyms-format file;
 *   2: a JIT perf map (/tmp/perf-PID.map of this process).
 * The same function runs under replay.c as an ordinary ctest over the corpus.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/support.h"
#include "symbolizer/symbolizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -1;
	if (size && fwrite(data, 1, size, f) != size)
		err = -1;
	if (fclose(f))
		err = -1;
	return err;
}

static void fuzz_elf(struct ember_symbolizer *s, const char *path, size_t size)
{
	struct ember_frame frames[64];
	uint32_t nr;

	/* Addresses over the file's range and the usual text start. */
	for (uint64_t i = 0; i < 64; i++) {
		uint64_t addr = (size ? size * i / 64 : i) + (i & 3);

		symbolizer__resolve_elf(s, path, addr, frames, 64, &nr);
		symbolizer__resolve_elf(s, path, 0x1000 + i * 0x40, frames, 64, &nr);
	}
}

static void fuzz_kallsyms(const char *path)
{
	struct ember_symbolizer_opts opts = {.sz = sizeof(opts), .kallsyms_path = path};
	struct ember_symbolize_request req = {.is_kernel = true};
	struct ember_symbolizer *s = NULL;
	struct ember_frame frames[4];
	uint32_t nr;

	if (symbolizer__new(&opts, &s))
		return;
	for (uint64_t i = 0; i < 16; i++) {
		req.address = 0xffffffff81000000ull + i * 0x10000;
		symbolizer__resolve(s, &req, frames, 4, &nr);
		symbolizer__kernel_module(s, req.address);
	}
	symbolizer__free(s);
}

static void fuzz_perfmap(struct ember_symbolizer *s)
{
	struct ember_symbolize_request req = {.pid = (uint32_t)getpid(), .path = "//anon"};
	struct ember_frame frames[4];
	uint32_t nr;

	for (uint64_t i = 0; i < 16; i++) {
		req.address = i * 0x1111;
		symbolizer__resolve(s, &req, frames, 4, &nr);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct ember_symbolizer *s = NULL;

	/* Damaged input is expected here: keep the warnings quiet. */
	ember_log_set_level(EMBER_LOG_QUIET); /* a reader refusing bad input is expected here */
	if (size < 1)
		return 0;
	if (data[0] == 2)
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	else
		snprintf(path, sizeof(path), "/tmp/ember-fuzz-sym-%d", (int)getpid());
	if (write_file(path, data + 1, size - 1))
		return 0;
	switch (data[0]) {
	case 0:
		if (symbolizer__new(NULL, &s) == 0)
			fuzz_elf(s, path, size - 1);
		break;
	case 1:
		fuzz_kallsyms(path);
		break;
	case 2:
		if (symbolizer__new(NULL, &s) == 0)
			fuzz_perfmap(s);
		break;
	default:
		break;
	}
	symbolizer__free(s);
	unlink(path);
	return 0;
}
