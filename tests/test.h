/* SPDX-License-Identifier: MIT */
/*
 * Minimal assertions for ember's C tests. A failed assertion prints both values
 * with file:line and exits 1; SKIP() exits 77, which ctest reports as skipped
 * (SKIP_RETURN_CODE) unless CI=true, where the test scripts turn it into a failure.
 */
#ifndef EMBER_TEST_H
#define EMBER_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_FAIL(...)                                          \
	do {                                                    \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                   \
		fputc('\n', stderr);                            \
		exit(1);                                        \
	} while (0)

#define ASSERT(cond)                                              \
	do {                                                      \
		if (!(cond))                                      \
			TEST_FAIL("assertion failed: %s", #cond); \
	} while (0)

#define ASSERT_INT_OP(a, op, b)                                                              \
	do {                                                                                 \
		int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                \
		if (!(a_ op b_))                                                             \
			TEST_FAIL("%s %s %s: %" PRId64 " vs %" PRId64, #a, #op, #b, a_, b_); \
	} while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_OP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_OP(a, !=, b)
#define ASSERT_GE(a, b) ASSERT_INT_OP(a, >=, b)
#define ASSERT_LE(a, b) ASSERT_INT_OP(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_OP(a, >, b)
#define ASSERT_LT(a, b) ASSERT_INT_OP(a, <, b)

#define ASSERT_STR_EQ(a, b)                                                                 \
	do {                                                                                \
		const char *a_ = (a), *b_ = (b);                                            \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                      \
			TEST_FAIL("%s == %s: \"%s\" vs \"%s\"", #a, #b, a_ ? a_ : "(null)", \
				  b_ ? b_ : "(null)");                                      \
	} while (0)

#define SKIP(...)                             \
	do {                                  \
		fprintf(stderr, "SKIP: ");    \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr);          \
		exit(77);                     \
	} while (0)

#endif /* EMBER_TEST_H */
