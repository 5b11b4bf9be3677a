// SPDX-License-Identifier: MIT
/*
 * Format dispatch by path: picks the writer from the extension (".zst"
 * wrapping any of them) and writes through a temporary file renamed into
 * place, so a failed write never leaves half a profile behind; picks the
 * reader from the content (compression magic, pprof's binary bytes, a JSON
 * object, perf script's record headers, else folded), so a profile renamed or
 * piped through stdin still reads. Binary data that is not protobuf is
 * refused here; each reader refuses input that yields no valid record, saying
 * which format it looked like and what was wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output/internal.h"
#include "output/output.h"
#include "support/support.h"

static const char *const format_names[] = {
    [EMBER_FORMAT_AUTO] = "auto",
    [EMBER_FORMAT_FOLDED] = "folded",
    [EMBER_FORMAT_PPROF] = "pprof",
    [EMBER_FORMAT_SVG] = "svg",
    [EMBER_FORMAT_SPEEDSCOPE] = "speedscope",
    [EMBER_FORMAT_PERFSCRIPT] = "perf-script",
};

const char *output__format_name(enum ember_format f)
{
	if ((size_t)f >= sizeof(format_names) / sizeof(format_names[0]))
		return "unknown";
	return format_names[f];
}

enum ember_format output__format_from_name(const char *name)
{
	size_t i;

	for (i = 1; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (strcmp(name, format_names[i]) == 0)
			return (enum ember_format)i;
	if (strcmp(name, "perfscript") == 0 || strcmp(name, "perf") == 0)
		return EMBER_FORMAT_PERFSCRIPT;
	return EMBER_FORMAT_AUTO;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

enum ember_format output__format_from_path(const char *path, bool *zstd)
{
	size_t n = strlen(path);

	if (zstd)
		*zstd = false;
	if (ends_with(path, n, ".zst")) {
		n -= 4;
		if (zstd)
			*zstd = true;
	}
	if (ends_with(path, n, ".pb.gz") || ends_with(path, n, ".pprof") ||
	    ends_with(path, n, ".pb") || ends_with(path, n, ".pprof.gz"))
		return EMBER_FORMAT_PPROF;
	if (ends_with(path, n, ".gz"))
		n -= 3;
	if (ends_with(path, n, ".folded") || ends_with(path, n, ".txt") ||
	    ends_with(path, n, ".collapsed"))
		return EMBER_FORMAT_FOLDED;
	if (ends_with(path, n, ".svg"))
		return EMBER_FORMAT_SVG;
	if (ends_with(path, n, ".json"))
		return EMBER_FORMAT_SPEEDSCOPE;
	if (ends_with(path, n, ".perf") || ends_with(path, n, ".perf-script"))
		return EMBER_FORMAT_PERFSCRIPT;
	return EMBER_FORMAT_AUTO;
}

/* Writes @p in @format to @out. */
static int write_format(const struct ember_profile *p, enum ember_format format,
			const struct ember_output_opts *o, FILE *out)
{
	if (o->diff_before) {
		if (format == EMBER_FORMAT_SVG)
			return diff__write_svg(o->diff_before, p, o->diff, o->svg, out);
		if (format == EMBER_FORMAT_FOLDED)
			return diff__write_folded(o->diff_before, p, o->diff, out);
		return -EINVAL;
	}
	switch (format) {
	case EMBER_FORMAT_FOLDED:
		return folded__write(p, o->folded, out);
	case EMBER_FORMAT_PPROF:
		return pprof__write(p, out);
	case EMBER_FORMAT_SVG:
		return svg__write(p, o->svg, out);
	case EMBER_FORMAT_SPEEDSCOPE:
		return speedscope__write(p, out);
	default:
		return -EINVAL;
	}
}

/* Writes to @out, zstd-compressing when asked (formats are built in memory). */
static int write_stream(const struct ember_profile *p, enum ember_format format,
			const struct ember_output_opts *o, bool zstd, FILE *out)
{
	char *mem = NULL;
	size_t len = 0;
	FILE *m;
	int err;

	if (!zstd)
		return write_format(p, format, o, out);
	/* "x.pb.zst": zstd instead of pprof's gzip, not around it. */
	if (format == EMBER_FORMAT_PPROF && !o->diff_before) {
		uint8_t *pb = NULL;

		err = pprof__encode(p, &pb, &len);
		if (!err)
			err = compress__write(EMBER_COMPRESSION_ZSTD, pb, len, out);
		free(pb);
		return err;
	}
	m = open_memstream(&mem, &len);
	if (!m)
		return -errno;
	err = write_format(p, format, o, m);
	if (fclose(m) && !err)
		err = -EIO;
	if (!err)
		err = compress__write(EMBER_COMPRESSION_ZSTD, mem, len, out);
	free(mem);
	return err;
}

int output__write_path(const struct ember_profile *p, const char *path,
		       const struct ember_output_opts *opts)
{
	struct ember_output_opts o = {0};
	enum ember_format format;
	bool zstd = false;
	struct stat st;
	char *tmp = NULL;
	FILE *f = NULL;
	int fd, err;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	format = output__format_from_path(path, &zstd);
	if (o.format != EMBER_FORMAT_AUTO)
		format = o.format;
	if (o.compression == -1)
		zstd = false;
	else if (o.compression == EMBER_COMPRESSION_ZSTD)
		zstd = true;
	if (strcmp(path, "-") == 0) {
		if (format == EMBER_FORMAT_AUTO)
			format = EMBER_FORMAT_FOLDED;
		err = write_stream(p, format, &o, zstd, stdout);
		if (!err && fflush(stdout))
			err = -EIO;
		return err;
	}
	if (format == EMBER_FORMAT_AUTO || format == EMBER_FORMAT_PERFSCRIPT) {
		pr_err("%s: unknown output format (use .folded, .txt, .pb.gz, .pprof, .svg, .json, "
		       "optionally + .zst)",
		       path);
		return -EINVAL;
	}
	/*
	 * A device or pipe (/dev/null, /dev/stdout, a FIFO) is written in place: the
	 * rename below would replace it with a regular file (for root, /dev/null too).
	 */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		f = fopen(path, "we");
		if (!f) {
			err = -errno;
			pr_err("%s: cannot open: %s", path, strerror(-err));
			return err;
		}
		err = write_stream(p, format, &o, zstd, f);
		if (fclose(f) && !err)
			err = -EIO;
		if (err)
			pr_err("%s: write failed: %s", path, strerror(-err));
		return err;
	}
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		pr_err("%s: cannot create: %s", path, strerror(-err));
		free(tmp);
		return err;
	}
	/* mkstemp creates 0600; profiles are ordinary files: honour the umask. */
	{
		mode_t mask = umask(0);

		umask(mask);
		fchmod(fd, 0666 & ~mask);
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto out;
	}
	err = write_stream(p, format, &o, zstd, f);
	if (fclose(f) && !err)
		err = -EIO;
	if (!err && rename(tmp, path)) {
		err = -errno;
		pr_err("%s: cannot rename into place: %s", path, strerror(-err));
	}
out:
	if (err) {
		if (err != -ENOENT && err != -EACCES && err != -EROFS && err != -ENOTDIR)
			pr_err("%s: write failed: %s", path, strerror(-err));
		unlink(tmp);
	}
	free(tmp);
	return err;
}

/* Reads all of @fd into a malloc'd, NUL-terminated buffer. */
static int slurp(int fd, char **out, size_t *out_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		ssize_t n;

		if (ember_grow((void **)&buf, &cap, len + 65536 + 1, 1)) {
			free(buf);
			return -ENOMEM;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			int err = -errno;

			if (err == -EINTR)
				continue;
			free(buf);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

/* Index of the first byte at or after @i that is not JSON whitespace, or @len. */
static size_t skip_space(const char *buf, size_t len, size_t i)
{
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	return i;
}

/*
 * True for the start of a JSON object ('{' then a key or '}'): speedscope's
 * file format is the only JSON ember reads. A folded stack whose root frame
 * starts with '{' ("{closure};f 3") has no '"' after it.
 */
static bool looks_like_json(const char *buf, size_t len)
{
	size_t i = skip_space(buf, len, 0);

	if (i >= len || buf[i] != '{')
		return false;
	i = skip_space(buf, len, i + 1);
	return i >= len || buf[i] == '"' || buf[i] == '}';
}

/*
 * True when @buf holds bytes no text profile has: NUL anywhere (every pprof
 * message has one: "" is string 0, if not in its first bytes), or a control
 * character other than whitespace in its first 4 KiB.
 */
static bool looks_binary(const char *buf, size_t len)
{
	size_t i, n = len < 4096 ? len : 4096;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') ||
		    c == 0x7f)
			return true;
	}
	return len > n && memchr(buf + n, '\0', len - n) != NULL;
}

/*
 * True when @buf starts like a protobuf Profile message: the first byte is
 * the tag of a field of Profile (1..15) with a wire type that field can have
 * (varint or length-delimited). ELF (0x7f), images and archives do not.
 */
static bool looks_like_protobuf(const char *buf, size_t len)
{
	unsigned char tag = len ? (unsigned char)buf[0] : 0;
	unsigned field = tag >> 3, wire = tag & 7;

	return field >= 1 && field <= 15 && (wire == 0 || wire == 2);
}

int output__read_buffer(const void *data, size_t len, const struct ember_read_opts *opts,
			struct ember_profile **out)
{
	struct ember_read_opts o = {.sz = sizeof(o), .name = "input"};
	struct ember_profile *p = NULL;
	enum ember_format format;
	void *plain = NULL;
	const char *buf = data;
	int err;

	if (opts) {
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
		if (!o.name)
			o.name = "input";
	}
	/* Two levels: "x.pb.gz.zst" is zstd around pprof's own gzip. */
	for (int level = 0; level < 2 && compress__detect(buf, len) != EMBER_COMPRESSION_NONE;
	     level++) {
		void *inner;

		err = compress__decode(buf, len, 0, &inner, &len);
		if (err) {
			pr_err("%s: cannot decompress: %s", o.name,
			       err == -EFBIG ? "too large" : "corrupt or truncated data");
			free(plain);
			return err;
		}
		free(plain);
		plain = inner;
		buf = plain;
	}
	format = o.format;
	if (format == EMBER_FORMAT_AUTO) {
		/*
		 * Text formats never hold a NUL byte and every pprof message does (""
		 * is string 0); folded text never has perf script's indented frame
		 * lines under a header. So content decides, whatever the name says.
		 */
		if (len && looks_binary(buf, len)) {
			if (!looks_like_protobuf(buf, len)) {
				pr_err("%s: binary data that is not a profile (not gzip, zstd or "
				       "pprof; ember reads pprof, folded, perf script and "
				       "speedscope)",
				       o.name);
				err = -EINVAL;
				goto out;
			}
			format = EMBER_FORMAT_PPROF;
		} else if (looks_like_json(buf, len)) {
			format = EMBER_FORMAT_SPEEDSCOPE;
		} else if (perfscript__looks_like(buf, len))
			format = EMBER_FORMAT_PERFSCRIPT;
		else
			format = EMBER_FORMAT_FOLDED;
	}
	err = profile__new(&p);
	if (err)
		goto out;
	switch (format) {
	case EMBER_FORMAT_FOLDED:
		err = folded__read(buf, len, &o, p);
		break;
	case EMBER_FORMAT_PPROF:
		err = pprof__read((const uint8_t *)buf, len, &o, p);
		break;
	case EMBER_FORMAT_PERFSCRIPT:
		err = perfscript__read(buf, len, &o, p);
		break;
	case EMBER_FORMAT_SPEEDSCOPE:
		err = speedscope__read(buf, len, &o, p);
		break;
	default:
		pr_err("%s: %s is not a readable format", o.name, output__format_name(format));
		err = -EINVAL;
	}
	if (err)
		goto out;
	*out = p;
	p = NULL;
out:
	profile__free(p);
	free(plain);
	return err;
}

int output__read_path(const char *path, const struct ember_read_opts *opts,
		      struct ember_profile **out)
{
	struct ember_read_opts o = {.sz = sizeof(o)};
	char *buf = NULL;
	void *map = MAP_FAILED;
	size_t len = 0;
	struct stat st;
	int fd, err;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	o.sz = sizeof(o);
	o.name = path;
	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			pr_err("%s: cannot open: %s", path, strerror(-err));
			return err;
		}
	}
	/*
	 * A regular file is mapped, not copied: profiles of 100+ MB read faster
	 * and need no second copy in memory. Pipes and empty files are read.
	 */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size <= SIZE_MAX) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		len = (size_t)st.st_size;
	}
	err = map == MAP_FAILED ? slurp(fd, &buf, &len) : 0;
	if (fd != STDIN_FILENO)
		close(fd);
	if (err) {
		pr_err("%s: cannot read: %s", path, strerror(-err));
		return err;
	}
	err = output__read_buffer(map == MAP_FAILED ? buf : map, len, &o, out);
	if (map != MAP_FAILED)
		munmap(map, len);
	free(buf);
	return err;
}
