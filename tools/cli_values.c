// SPDX-License-Identifier: MIT
/*
 * The value grammars of the CLI: whole numbers, durations and KEY=VALUE labels.
 * Every command flag and every agent config key of one kind goes through the
 * same function here, so `record --duration 1d` and the agent's
 * `retention-age = 7d` cannot disagree about what a duration is.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why,
		   size_t why_size)
{
	unsigned long long v;
	char *end;

	errno = 0;
	/* A digit first: strtoull would also take spaces and a sign ("-1" wraps). */
	if (!s || !isdigit((unsigned char)*s))
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	snprintf(why, why_size, "expected %llu..%llu", (unsigned long long)min,
		 (unsigned long long)max);
	return -EINVAL;
}

int cli_parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char why[64];

	if (!cli_parse_uint(s, min, max, out, why, sizeof(why)))
		return 0;
	fprintf(stderr, "ember: invalid value for --%s: '%s' (%s)\n", flag, s ? s : "", why);
	return -EINVAL;
}

static const struct {
	const char *suffix;
	double seconds; /* per unit */
} duration_units[] = {
    {"", 1}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400},
};

int cli_parse_duration(const char *s, unsigned int flags, double *out_s, char *why, size_t why_size)
{
	bool allow_zero = flags & CLI_DURATION_ZERO;
	size_t whole, frac = 0, i;
	const char *unit;
	double v;

	/*
	 * Checked by hand before strtod, which would also take signs, spaces,
	 * exponents, hex, "inf" and "nan": only DIGITS[.DIGITS]UNIT is a duration.
	 */
	if (!s)
		goto bad;
	whole = strspn(s, "0123456789");
	if (s[whole] == '.')
		frac = strspn(s + whole + 1, "0123456789");
	if (whole + frac == 0)
		goto bad;
	unit = s + whole + (s[whole] == '.' ? 1 + frac : 0);
	for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (strcmp(unit, duration_units[i].suffix) == 0)
			break;
	if (i == sizeof(duration_units) / sizeof(duration_units[0]))
		goto bad;
	errno = 0;
	v = strtod(s, NULL) * duration_units[i].seconds;
	if (errno == ERANGE || !isfinite(v) || (v == 0 && !allow_zero) || v > CLI_DURATION_MAX_S)
		goto bad;
	*out_s = v;
	return 0;
bad:
	snprintf(why, why_size, "expected a duration%s: 10, 2.5s, 500ms, 1m, 2h, 7d",
		 allow_zero ? " (0: no limit)" : " > 0");
	return -EINVAL;
}

int cli_parse_seconds(const char *flag, const char *s, double *out_s)
{
	char why[96];

	if (!cli_parse_duration(s, 0, out_s, why, sizeof(why)))
		return 0;
	fprintf(stderr, "ember: invalid value for --%s: '%s' (%s)\n", flag, s ? s : "", why);
	return -EINVAL;
}

int cli_check_label_key(const char *key, char *why, size_t why_size)
{
	size_t len = strlen(key), i;
	bool ok = len >= 1 && len <= CLI_LABEL_KEY_MAX &&
		  (isalpha((unsigned char)key[0]) || key[0] == '_');

	for (i = 1; ok && i < len; i++)
		ok = isalnum((unsigned char)key[i]) || key[i] == '_';
	if (ok)
		return 0;
	snprintf(why, why_size,
		 "label names are 1 to %d letters, digits and '_', not starting with a digit",
		 CLI_LABEL_KEY_MAX);
	return -EINVAL;
}

int cli_parse_label(const char *cmd, const char *s, struct cli_label *out)
{
	const char *eq = strchr(s, '=');
	size_t len = eq ? (size_t)(eq - s) : 0;
	char why[128];

	if (len == 0) {
		snprintf(why, sizeof(why), "expected KEY=VALUE");
		goto bad;
	}
	if (len > CLI_LABEL_KEY_MAX) {
		/* Too long for the rule: checking all of @s (longer still) says so. */
		cli_check_label_key(s, why, sizeof(why));
		goto bad;
	}
	memcpy(out->key, s, len);
	out->key[len] = '\0';
	if (cli_check_label_key(out->key, why, sizeof(why)))
		goto bad;
	out->value = eq + 1;
	return 0;
bad:
	cli_usage_error(cmd, "invalid value for --label: '%s' (%s)", s, why);
	return -EINVAL;
}
