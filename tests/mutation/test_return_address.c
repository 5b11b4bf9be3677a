// SPDX-License-Identifier: MIT
/*
 * Return addresses of user frames are symbolized at address - 1 (design.md):
 * a call that ends its function returns to the first byte after it, which
 * belongs to whatever follows. The fixture (ret_fixture.c) prints such a
 * return address; as a return address it must name ends_in_call and the line
 * of the call, and as a plain address it must not (otherwise the fixture does
 * not show the case and the test would prove nothing). The kernel side of the
 * same rule is checked by sym_kallsyms.
 */
#include <errno.h>

#include "symbolizer/sym_test_util.h"

#define MAX_FRAMES 32

/* Line of the marked call in the fixture's source, found independently of DWARF. */
static uint32_t call_line(const char *source)
{
	char line[512];
	uint32_t n = 0;
	FILE *f = fopen(source, "r");

	ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, "/* RETURN-ADDRESS CALL */")) {
			fclose(f);
			return n;
		}
	}
	TEST_FAIL("no marked call in %s", source);
}

int main(void)
{
	struct ember_symbolizer_opts opts = {.sz = sizeof(opts)};
	struct ember_symbolize_request req;
	struct ember_frame f[MAX_FRAMES];
	struct ember_symbolizer *s = NULL;
	char path[PATH_MAX], cmd[PATH_MAX + 8], out[64];
	unsigned long long ra = 0;
	uint64_t start;
	uint32_t nr;
	FILE *p;

	fixture_path("ret_fixture", path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "'%s'", path);
	p = popen(cmd, "r");
	ASSERT(p != NULL);
	ASSERT(fgets(out, sizeof(out), p) != NULL);
	ASSERT_EQ(pclose(p), 0);
	ASSERT_EQ(sscanf(out, "%llx", &ra), 1);
	start = elf_symbol_value(path, "ends_in_call");
	ASSERT_NE(start, 0);
	ASSERT_GT(ra, start);

	ASSERT_EQ(symbolizer__new(&opts, &s), 0);
	request_for(path, 0, ra, &req);

	/* As a plain address: past ends_in_call (else the fixture shows nothing). */
	ASSERT_EQ(symbolizer__resolve(s, &req, f, MAX_FRAMES, &nr), 0);
	ASSERT_GE(nr, 1);
	if (f[nr - 1].function && strcmp(f[nr - 1].function, "ends_in_call") == 0)
		TEST_FAIL("0x%llx is inside ends_in_call: the compiler put code after the call",
			  ra);

	/* As a return address: the call itself, function and line. */
	req.is_return = true;
	ASSERT_EQ(symbolizer__resolve(s, &req, f, MAX_FRAMES, &nr), 0);
	ASSERT_GE(nr, 1);
	ASSERT_STR_EQ(f[nr - 1].function, "ends_in_call");
	ASSERT(f[nr - 1].file && strstr(f[nr - 1].file, "ret_fixture.c"));
	ASSERT_EQ(f[nr - 1].line, call_line(RET_FIXTURE_SOURCE));
	symbolizer__free(s);
	printf("return address ok: 0x%llx -> ends_in_call:%u\n", ra, f[nr - 1].line);
	return 0;
}
