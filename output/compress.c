// SPDX-License-Identifier: MIT
/*
 * Transparent compression: gzip (zlib; pprof is gzip by spec) and zstd. Readers
 * detect either from the magic number, so a profile may be named anything;
 * writers compress whole buffers because every format is built in memory first.
 * Decompression is bounded so a small hostile file cannot exhaust memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "output/output.h"
#include "support/support.h"

#define DEFAULT_MAX_BYTES (4ull << 30)
#define CHUNK_BYTES	  (256 * 1024)

enum ember_compression compress__detect(const void *buf, size_t len)
{
	const unsigned char *b = buf;

	if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return EMBER_COMPRESSION_GZIP;
	if (len >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
		return EMBER_COMPRESSION_ZSTD;
	return EMBER_COMPRESSION_NONE;
}

/* Makes room for CHUNK_BYTES more output (+1 for the NUL), bounded by @max. */
static int grow_out(unsigned char **out, size_t *cap, size_t len, size_t max)
{
	if (len >= max)
		return -EFBIG;
	return ember_grow((void **)out, cap, len + CHUNK_BYTES + 1, 1);
}

static int gunzip(const void *buf, size_t len, size_t max, unsigned char **out, size_t *out_len)
{
	unsigned char *o = NULL;
	size_t cap = 0, olen = 0;
	z_stream z = {0};
	int err, zr = Z_OK;

	/* 16 + MAX_WBITS: gzip wrapper only. */
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)buf;
	for (;;) {
		size_t before_in;

		err = grow_out(&o, &cap, olen, max);
		if (err)
			goto out;
		/* zlib counts in uInt: feed at most 1 GiB at a time. */
		before_in =
		    len - (size_t)((const unsigned char *)z.next_in - (const unsigned char *)buf);
		z.avail_in = (uInt)(before_in > (1u << 30) ? (1u << 30) : before_in);
		z.next_out = o + olen;
		z.avail_out = (uInt)(cap - olen - 1);
		zr = inflate(&z, Z_NO_FLUSH);
		olen = cap - 1 - z.avail_out;
		if (zr == Z_STREAM_END) {
			size_t left = len - (size_t)((const unsigned char *)z.next_in -
						     (const unsigned char *)buf);

			/* Concatenated gzip members form one stream (RFC 1952). */
			if (left >= 2 &&
			    compress__detect(z.next_in, left) == EMBER_COMPRESSION_GZIP) {
				inflateReset(&z);
				continue;
			}
			break;
		}
		if (zr == Z_BUF_ERROR && z.avail_in == 0) {
			err = -EINVAL; /* truncated */
			goto out;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			err = zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
			goto out;
		}
	}
	o[olen] = '\0';
	*out = o;
	*out_len = olen;
	o = NULL;
	err = 0;
out:
	inflateEnd(&z);
	free(o);
	return err;
}

static int unzstd(const void *buf, size_t len, size_t max, unsigned char **out, size_t *out_len)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	ZSTD_inBuffer in = {buf, len, 0};
	unsigned char *o = NULL;
	size_t cap = 0, olen = 0, r = 1;
	int err;

	if (!dctx)
		return -ENOMEM;
	while (in.pos < in.size || r != 0) {
		ZSTD_outBuffer ob;
		size_t before_pos = in.pos, before_len = olen;

		err = grow_out(&o, &cap, olen, max);
		if (err)
			goto out;
		ob.dst = o;
		ob.size = cap - 1;
		ob.pos = olen;
		r = ZSTD_decompressStream(dctx, &ob, &in);
		if (ZSTD_isError(r)) {
			err = ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM
										   : -EINVAL;
			goto out;
		}
		olen = ob.pos;
		/* No progress with input left over, or input gone mid-frame: truncated. */
		if (in.pos == before_pos && olen == before_len && ob.pos < ob.size) {
			err = -EINVAL;
			goto out;
		}
	}
	if (!o) {
		err = grow_out(&o, &cap, 0, max);
		if (err)
			goto out;
	}
	o[olen] = '\0';
	*out = o;
	*out_len = olen;
	o = NULL;
	err = 0;
out:
	ZSTD_freeDCtx(dctx);
	free(o);
	return err;
}

int compress__decode(const void *buf, size_t len, size_t max_len, void **out, size_t *out_len)
{
	unsigned char *o = NULL;
	int err;

	if (max_len == 0)
		max_len = DEFAULT_MAX_BYTES;
	switch (compress__detect(buf, len)) {
	case EMBER_COMPRESSION_GZIP:
		err = gunzip(buf, len, max_len, &o, out_len);
		break;
	case EMBER_COMPRESSION_ZSTD:
		err = unzstd(buf, len, max_len, &o, out_len);
		break;
	default:
		err = -EINVAL;
	}
	/* Growth is geometric: output may have run past the bound in one step. */
	if (!err && *out_len > max_len) {
		free(o);
		return -EFBIG;
	}
	if (!err)
		*out = o;
	return err;
}

static int gzip_write(const void *buf, size_t len, FILE *out)
{
	unsigned char chunk[64 * 1024];
	z_stream z = {0};
	int err = 0, zr;

	/*
	 * Level 1, as Go's runtime/pprof writes: protobuf's repeated ids compress
	 * well anyway; level 6 took 1.8 times as long for 3% less (docs/performance.md).
	 */
	if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)buf;
	do {
		size_t left =
		    len - (size_t)((const unsigned char *)z.next_in - (const unsigned char *)buf);
		size_t n;

		z.avail_in = (uInt)(left > (1u << 30) ? (1u << 30) : left);
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, left > z.avail_in ? Z_NO_FLUSH : Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			err = -EINVAL;
			goto out;
		}
		n = sizeof(chunk) - z.avail_out;
		if (n && fwrite(chunk, 1, n, out) != n) {
			err = -EIO;
			goto out;
		}
	} while (zr != Z_STREAM_END);
out:
	deflateEnd(&z);
	return err;
}

static int zstd_write(const void *buf, size_t len, FILE *out)
{
	size_t bound = ZSTD_compressBound(len), n;
	void *dst = malloc(bound ? bound : 1);
	int err = 0;

	if (!dst)
		return -ENOMEM;
	/* Level 3 (zstd's default) is fast enough for the agent's periodic writes. */
	n = ZSTD_compress(dst, bound, buf, len, 3);
	if (ZSTD_isError(n))
		err = -EINVAL;
	else if (fwrite(dst, 1, n, out) != n)
		err = -EIO;
	free(dst);
	return err;
}

int compress__write(enum ember_compression c, const void *buf, size_t len, FILE *out)
{
	switch (c) {
	case EMBER_COMPRESSION_GZIP:
		return gzip_write(buf, len, out);
	case EMBER_COMPRESSION_ZSTD:
		return zstd_write(buf, len, out);
	default:
		return fwrite(buf, 1, len, out) == len ? 0 : -EIO;
	}
}
