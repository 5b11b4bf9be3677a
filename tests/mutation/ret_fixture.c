// SPDX-License-Identifier: MIT
/*
 * Fixture of test_return_address: ends_in_call()'s last instruction is a call
 * of a noreturn function, so the return address that call pushes lies one
 * past the end of ends_in_call. report_and_exit() prints that address (a
 * link-time address: the fixture is built without PIE) and exits.
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

int main(void)
{
	ends_in_call(1);
}
