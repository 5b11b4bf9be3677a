// SPDX-License-Identifier: MIT
/*
 * Shared helpers of the output/ module: byte buffers, the root-first frame walk
 * that folded, SVG, speedscope and report all use (so they agree on what a
 * stack is), and escaping for XML and JSON, which must be valid UTF-8 even when
 * a symbol name is not.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "support/support.h"

int obuf_append(struct obuf *b, const void *s, size_t n)
{
	if (b->len + n + 1 < n || ember_grow((void **)&b->data, &b->cap, b->len + n + 1, 1))
		return -ENOMEM;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int obuf_puts(struct obuf *b, const char *s)
{
	return obuf_append(b, s, strlen(s));
}

int obuf_printf(struct obuf *b, const char *fmt, ...)
{
	char small[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(small))
		return obuf_append(b, small, (size_t)n);
	if (ember_grow((void **)&b->data, &b->cap, b->len + (size_t)n + 1, 1))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void obuf_free(struct obuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int obuf_write(const struct obuf *b, FILE *out)
{
	if (b->len && fwrite(b->data, 1, b->len, out) != b->len)
		return -EIO;
	return 0;
}

const char *frame_suffix(uint32_t flags)
{
	if (flags & EMBER_FRAME_KERNEL)
		return "_[k]";
	if (flags & EMBER_FRAME_INLINE)
		return "_[i]";
	if (flags & EMBER_FRAME_JIT)
		return "_[j]";
	return "";
}

static int push_frame(struct stack_walker *w, const char *name, uint32_t flags,
		      const struct ember_frame *f)
{
	if (ember_grow((void **)&w->frames, &w->cap, w->nr + 1, sizeof(*w->frames)))
		return -ENOMEM;
	w->frames[w->nr].name = name;
	w->frames[w->nr].flags = flags;
	w->frames[w->nr].frame = f;
	w->nr++;
	return 0;
}

/*
 * For a location without frames in a mapping with a path, appends its name to
 * w->roots as `go tool pprof` shows one: the file's base name in brackets
 * ("[libc.so.6]"; "[vdso]" stays as it is).
 */
static int mapping_name(struct stack_walker *w, const struct ember_profile *p,
			const struct ember_location *loc)
{
	const struct ember_mapping *m;
	const char *base;
	int err;

	if (!loc || loc->nr_frames || !loc->mapping_id)
		return 0;
	m = profile__mapping(p, loc->mapping_id);
	if (!m || !m->path || !*m->path)
		return 0;
	base = strrchr(m->path, '/');
	base = base && base[1] ? base + 1 : m->path;
	err = *base == '[' ? obuf_puts(&w->roots, base) : obuf_printf(&w->roots, "[%s]", base);
	return err ? err : obuf_append(&w->roots, "", 1);
}

int stack_walk(struct stack_walker *w, const struct ember_profile *p, const struct ember_sample *s)
{
	size_t proc_off = 0, thread_off = 0, unknown_off;
	bool has_proc = false, has_thread = false;
	uint32_t i, j;
	int err = 0;

	w->nr = 0;
	w->roots.len = 0;
	/* Root names are built first and pointed at afterwards: the buffer may move. */
	if (s->process_name) {
		has_proc = true;
		err = w->per_pid && s->pid
			  ? obuf_printf(&w->roots, "%s-%u", s->process_name, s->pid)
			  : obuf_puts(&w->roots, s->process_name);
		if (!err)
			err = obuf_append(&w->roots, "", 1);
	}
	if (!err && w->per_thread && s->tid) {
		has_thread = true;
		thread_off = w->roots.len;
		err = obuf_printf(&w->roots, "%s-%u", s->thread_name ? s->thread_name : "[thread]",
				  s->tid);
		if (!err)
			err = obuf_append(&w->roots, "", 1);
	}
	/* Names of frameless locations in a mapping, in walk order, before any push. */
	unknown_off = w->roots.len;
	for (i = s->nr_locations; !err && i-- > 0;)
		err = mapping_name(w, p, profile__location(p, s->locations[i]));
	/* w->roots is complete: pointers into it stay valid from here on. */
	if (!err && has_proc)
		err = push_frame(w, w->roots.data + proc_off, 0, NULL);
	if (!err && has_thread)
		err = push_frame(w, w->roots.data + thread_off, 0, NULL);
	/* Locations are leaf first and frames innermost first: walk both backwards. */
	for (i = s->nr_locations; !err && i-- > 0;) {
		const struct ember_location *loc = profile__location(p, s->locations[i]);
		const struct ember_mapping *m = loc && !loc->nr_frames && loc->mapping_id
						    ? profile__mapping(p, loc->mapping_id)
						    : NULL;

		if (m && m->path && *m->path) {
			const char *name = w->roots.data + unknown_off;

			unknown_off += strlen(name) + 1;
			err = push_frame(
			    w, name,
			    EMBER_FRAME_UNKNOWN |
				(m->flags & EMBER_MAPPING_KERNEL ? EMBER_FRAME_KERNEL : 0),
			    NULL);
			continue;
		}
		if (!loc || !loc->nr_frames) {
			err = push_frame(w, "[unknown]", EMBER_FRAME_UNKNOWN, NULL);
			continue;
		}
		for (j = loc->nr_frames; !err && j-- > 0;)
			err = push_frame(w, loc->frames[j].function, loc->frames[j].flags,
					 &loc->frames[j]);
	}
	if (!err && w->nr == 0)
		err = push_frame(w, "[unknown]", EMBER_FRAME_UNKNOWN, NULL);
	return err;
}

void stack_walker_free(struct stack_walker *w)
{
	free(w->frames);
	obuf_free(&w->roots);
	w->frames = NULL;
	w->nr = w->cap = 0;
}

/*
 * Length of the valid UTF-8 sequence at @s (1..4), or 0 when invalid. Overlong
 * forms and surrogates are invalid: browsers reject them in XML.
 */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xe0 && s[1] < 0xa0)
			return 0;
		if (s[0] == 0xed && s[1] >= 0xa0)
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

int obuf_xml(struct obuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int err = 0;

	while (*s && !err) {
		size_t n = utf8_len(s);

		switch (*s) {
		case '<':
			err = obuf_puts(b, "&lt;");
			break;
		case '>':
			err = obuf_puts(b, "&gt;");
			break;
		case '&':
			err = obuf_puts(b, "&amp;");
			break;
		case '"':
			err = obuf_puts(b, "&quot;");
			break;
		case '\'':
			err = obuf_puts(b, "&apos;");
			break;
		default:
			/* XML 1.0 forbids most control characters even as references. */
			if (n == 0 || (*s < 0x20 && *s != '\t'))
				err = obuf_append(b, replacement, 3);
			else
				err = obuf_append(b, s, n);
		}
		s += n ? n : 1;
	}
	return err;
}

int obuf_json(struct obuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int err = 0;

	while (*s && !err) {
		size_t n = utf8_len(s);

		if (*s == '"' || *s == '\\') {
			char esc[2] = {'\\', (char)*s};

			err = obuf_append(b, esc, 2);
		} else if (*s < 0x20) {
			err = obuf_printf(b, "\\u%04x", *s);
		} else if (n == 0) {
			err = obuf_append(b, replacement, 3);
		} else {
			err = obuf_append(b, s, n);
		}
		s += n ? n : 1;
	}
	return err;
}

bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		size_t n = utf8_len(s);

		if (!n)
			return false;
		s += n;
	}
	return true;
}

int obuf_utf8(struct obuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int err = 0;

	while (*s && !err) {
		size_t n = utf8_len(s);

		err = n ? obuf_append(b, s, n) : obuf_append(b, replacement, 3);
		s += n ? n : 1;
	}
	return err;
}
