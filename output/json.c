// SPDX-License-Identifier: MIT
/*
 * A small JSON parser for the speedscope reader: RFC 8259 values into a tree
 * of struct json_value, strings decoded to UTF-8 (invalid escapes and lone
 * surrogates are errors), nesting bounded so hostile input cannot exhaust the
 * stack. Only what reading profiles needs; nothing here writes JSON.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "support/support.h"

#define MAX_DEPTH 64

struct json_parser {
	const char *p, *end;
	size_t depth;
};

static void skip_ws(struct json_parser *jp)
{
	while (jp->p < jp->end &&
	       (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static int parse_value(struct json_parser *jp, struct json_value *v);

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static int put_utf8(struct obuf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return obuf_append(b, u, n);
}

/* Parses a string at jp->p (the opening quote) into a malloc'd copy. */
static int parse_string(struct json_parser *jp, char **out, size_t *out_len)
{
	struct obuf b = {0};
	int err = 0;

	jp->p++; /* opening quote */
	while (!err) {
		const char *run = jp->p;

		while (jp->p < jp->end && *jp->p != '"' && *jp->p != '\\' &&
		       (unsigned char)*jp->p >= 0x20)
			jp->p++;
		if (jp->p > run)
			err = obuf_append(&b, run, (size_t)(jp->p - run));
		if (err)
			break;
		if (jp->p >= jp->end || (unsigned char)*jp->p < 0x20) {
			err = -EINVAL; /* unterminated, or a raw control character */
			break;
		}
		if (*jp->p == '"') {
			jp->p++;
			break;
		}
		/* backslash escape */
		if (jp->end - jp->p < 2) {
			err = -EINVAL;
			break;
		}
		jp->p++;
		switch (*jp->p++) {
		case '"':
			err = obuf_append(&b, "\"", 1);
			break;
		case '\\':
			err = obuf_append(&b, "\\", 1);
			break;
		case '/':
			err = obuf_append(&b, "/", 1);
			break;
		case 'b':
			err = obuf_append(&b, "\b", 1);
			break;
		case 'f':
			err = obuf_append(&b, "\f", 1);
			break;
		case 'n':
			err = obuf_append(&b, "\n", 1);
			break;
		case 'r':
			err = obuf_append(&b, "\r", 1);
			break;
		case 't':
			err = obuf_append(&b, "\t", 1);
			break;
		case 'u': {
			unsigned cp, lo;

			if (jp->end - jp->p < 4 || hex4(jp->p, &cp)) {
				err = -EINVAL;
				break;
			}
			jp->p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				err = -EINVAL; /* lone low surrogate */
				break;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (jp->end - jp->p < 6 || jp->p[0] != '\\' || jp->p[1] != 'u' ||
				    hex4(jp->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
					err = -EINVAL;
					break;
				}
				jp->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			/* U+0000 would cut the C string: a profile name never needs it. */
			err = cp ? put_utf8(&b, cp) : -EINVAL;
			break;
		}
		default:
			err = -EINVAL;
		}
	}
	if (!err && !b.data)
		err = obuf_append(&b, "", 0);
	if (err) {
		obuf_free(&b);
		return err;
	}
	*out = b.data;
	*out_len = b.len;
	return 0;
}

static int parse_number(struct json_parser *jp, double *out)
{
	const char *s = jp->p;
	char buf[64], *end;
	size_t n;

	if (jp->p < jp->end && *jp->p == '-')
		jp->p++;
	if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
		return -EINVAL;
	while (jp->p < jp->end &&
	       ((*jp->p >= '0' && *jp->p <= '9') || *jp->p == '.' || *jp->p == 'e' ||
		*jp->p == 'E' || *jp->p == '+' || *jp->p == '-'))
		jp->p++;
	n = (size_t)(jp->p - s);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtod(buf, &end);
	return *end || !isfinite(*out) ? -EINVAL : 0;
}

/* Parses "[...]" or "{...}" (jp->p at the bracket) into @v. */
static int parse_container(struct json_parser *jp, struct json_value *v, bool object)
{
	char close = object ? '}' : ']';
	size_t cap = 0, cap_keys = 0;
	int err = 0;

	if (++jp->depth > MAX_DEPTH)
		return -EINVAL;
	v->type = object ? JSON_OBJECT : JSON_ARRAY;
	jp->p++;
	skip_ws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		jp->depth--;
		return 0;
	}
	while (!err) {
		char *key = NULL;
		size_t key_len;

		skip_ws(jp);
		if (object) {
			if (jp->p >= jp->end || *jp->p != '"')
				return -EINVAL;
			err = parse_string(jp, &key, &key_len);
			if (err)
				return err;
			skip_ws(jp);
			if (jp->p >= jp->end || *jp->p != ':' ||
			    ember_grow((void **)&v->keys, &cap_keys, v->nr + 1, sizeof(*v->keys))) {
				free(key);
				return jp->p >= jp->end || *jp->p != ':' ? -EINVAL : -ENOMEM;
			}
			v->keys[v->nr] = key;
			jp->p++;
		}
		if (ember_grow((void **)&v->items, &cap, v->nr + 1, sizeof(*v->items))) {
			if (object)
				free(v->keys[v->nr]);
			return -ENOMEM;
		}
		memset(&v->items[v->nr], 0, sizeof(v->items[v->nr]));
		v->nr++; /* counted before parsing so json_free() releases a partial item */
		err = parse_value(jp, &v->items[v->nr - 1]);
		if (err)
			return err;
		skip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			break;
		}
		return -EINVAL;
	}
	jp->depth--;
	return err;
}

static int parse_value(struct json_parser *jp, struct json_value *v)
{
	skip_ws(jp);
	if (jp->p >= jp->end)
		return -EINVAL;
	switch (*jp->p) {
	case '{':
		return parse_container(jp, v, true);
	case '[':
		return parse_container(jp, v, false);
	case '"':
		v->type = JSON_STRING;
		return parse_string(jp, &v->string, &v->len);
	case 't':
	case 'f':
	case 'n': {
		static const struct {
			const char *word;
			enum json_type type;
			bool value;
		} words[] = {{"true", JSON_BOOL, true},
			     {"false", JSON_BOOL, false},
			     {"null", JSON_NULL, false}};
		size_t i;

		for (i = 0; i < 3; i++) {
			size_t n = strlen(words[i].word);

			if ((size_t)(jp->end - jp->p) >= n &&
			    memcmp(jp->p, words[i].word, n) == 0) {
				jp->p += n;
				v->type = words[i].type;
				v->boolean = words[i].value;
				return 0;
			}
		}
		return -EINVAL;
	}
	default:
		v->type = JSON_NUMBER;
		return parse_number(jp, &v->number);
	}
}

void json_free(struct json_value *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->nr; i++) {
		json_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->string);
	memset(v, 0, sizeof(*v));
}

int json_parse(const char *buf, size_t len, struct json_value *out)
{
	struct json_parser jp = {buf, buf + len, 0};
	int err;

	memset(out, 0, sizeof(*out));
	err = parse_value(&jp, out);
	skip_ws(&jp);
	if (!err && jp.p != jp.end)
		err = -EINVAL; /* trailing garbage */
	if (err)
		json_free(out);
	return err;
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	size_t i;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (i = 0; i < obj->nr; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}
