// SPDX-License-Identifier: MIT
/*
 * Fixture of test_return_address: ends_in_call()'s last instruction is a call
 * of a noreturn function, so the return address that call pushes lies one
 * past the end of ends_in_call, at the start of follows_call.
 * report_and_exit() prints that address (a link-time address: the fixture is
 * built without PIE) and exits.
 */
#include <stdio.h>
#include <stdlib.h>

static volatile int sink;

__attribute__((noinline, noreturn)) void report_and_exit(int code)
{
	printf("%p\n", __builtin_return_address(0));
	fflush(stdout);
	exit(code);
}

__attribute__((noinline)) void ends_in_call(int x)
{
	sink = x;
	report_and_exit(sink & 0); /* RETURN-ADDRESS CALL */
}

/*
 * Starts right where ends_in_call ends (built with -falign-functions=1 and in
 * source order): the return address is this function's first byte, not
 * alignment padding, which the symbolizer gives to the function before it.
 */
__attribute__((noinline)) int follows_call(int x)
{
	return sink + x;
}

int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 5)
		return follows_call(argc);
	ends_in_call(1);
}
