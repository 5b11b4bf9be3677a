// SPDX-License-Identifier: MIT
/*
 * gzip and zstd: round trips, detection by magic, truncated and corrupt input
 * (-EINVAL, never a crash), and the output bound against decompression bombs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "test.h"

static void roundtrip(enum ember_compression c)
{
	size_t n = 300000, len = 0, out_len, cut;
	char *data = malloc(n), *packed = NULL;
	void *out;
	FILE *f;

	ASSERT(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)("abcdefgh"[i % 8] + (i / 1000) % 3);
	f = open_memstream(&packed, &len);
	ASSERT_EQ(compress__write(c, data, n, f), 0);
	fclose(f);
	ASSERT_EQ(compress__detect(packed, len), c);
	ASSERT_EQ(compress__decode(packed, len, 0, &out, &out_len), 0);
	ASSERT_EQ(out_len, n);
	ASSERT(memcmp(out, data, n) == 0);
	ASSERT_EQ(((char *)out)[n], '\0');
	free(out);
	/* bounded output: exactly @max_len bytes fit, one more does not */
	ASSERT_EQ(compress__decode(packed, len, 1000, &out, &out_len), -EFBIG);
	ASSERT_EQ(compress__decode(packed, len, n - 1, &out, &out_len), -EFBIG);
	ASSERT_EQ(compress__decode(packed, len, n, &out, &out_len), 0);
	ASSERT_EQ(out_len, n);
	free(out);
	/* truncated input */
	for (cut = 1; cut < len; cut += (len / 50) + 1) {
		int err = compress__decode(packed, cut, 0, &out, &out_len);

		ASSERT_EQ(err, -EINVAL);
	}
	/*
	 * Corrupt input: success or -EINVAL/-EFBIG, never a crash, and success must
	 * still be bounded. The tight bound (one byte under the original) is one a
	 * corrupt stream that still decodes to the original length must hit.
	 */
	for (size_t b = 0; b < 2; b++) {
		size_t max = b == 0 ? 1 << 20 : n - 1;

		for (cut = 10; cut < len; cut += (len / 50) + 1) {
			int err;

			packed[cut] ^= 0x5a;
			out_len = SIZE_MAX;
			err = compress__decode(packed, len, max, &out, &out_len);
			if (err == 0) {
				if (out_len > max)
					TEST_FAIL("corrupt byte %zu: %zu bytes out, bound %zu", cut,
						  out_len, max);
				ASSERT_EQ(((char *)out)[out_len], '\0');
				free(out);
			} else if (err != -EINVAL && err != -EFBIG) {
				TEST_FAIL("corrupt byte %zu: error %d", cut, err);
			}
			packed[cut] ^= 0x5a;
		}
	}
	free(packed);
	free(data);
}

static void empty(enum ember_compression c)
{
	char *packed = NULL;
	size_t len = 0, out_len = 99;
	void *out;
	FILE *f = open_memstream(&packed, &len);

	ASSERT_EQ(compress__write(c, "", 0, f), 0);
	fclose(f);
	ASSERT_EQ(compress__decode(packed, len, 0, &out, &out_len), 0);
	ASSERT_EQ(out_len, 0);
	free(out);
	free(packed);
}

int main(void)
{
	ASSERT_EQ(compress__detect("plain", 5), EMBER_COMPRESSION_NONE);
	ASSERT_EQ(compress__detect("\x1f", 1), EMBER_COMPRESSION_NONE);
	roundtrip(EMBER_COMPRESSION_GZIP);
	roundtrip(EMBER_COMPRESSION_ZSTD);
	empty(EMBER_COMPRESSION_GZIP);
	empty(EMBER_COMPRESSION_ZSTD);
	return 0;
}
