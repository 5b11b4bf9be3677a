// SPDX-License-Identifier: MIT
/*
 * Differential profiles: a flamegraph whose widths come from one profile and
 * whose colours show each frame's change against the other (red grew, blue
 * shrank), and difffolded.pl's "stack countA countB" text. Shares of each
 * profile's total are compared by default, so a longer recording of the same
 * program does not look like a regression everywhere.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "output/internal.h"
#include "output/output.h"

int diff__write_svg(const struct ember_profile *before, const struct ember_profile *after,
		    const struct ember_diff_opts *diff, const struct ember_svg_opts *svg, FILE *out)
{
	struct ember_diff_opts d = {0};
	struct ember_svg_opts o;
	struct svg_diff sd;
	struct flame_stacks fs;
	int err;

	if (diff)
		memcpy(&d, diff, diff->sz < sizeof(d) ? diff->sz : sizeof(d));
	svg_opts_defaults(&o, svg);
	sd.totals[0] = profile__total(before);
	sd.totals[1] = profile__total(after);
	sd.normalize = !d.no_normalize;
	sd.width_from = d.negate ? 0 : 1;
	err = flame_stacks_init(&fs, o.reverse, o.per_pid, o.per_thread, true);
	if (!err)
		err = flame_stacks_add_profile(&fs, before, 0);
	if (!err)
		err = flame_stacks_add_profile(&fs, after, 1);
	if (!err)
		err = flame_stacks_finish(&fs);
	if (!err)
		err = svg_render(&fs, &o, &sd, out);
	flame_stacks_free(&fs);
	return err;
}

int diff__write_folded(const struct ember_profile *before, const struct ember_profile *after,
		       const struct ember_diff_opts *diff, FILE *out)
{
	struct ember_folded_opts fo = {.sz = sizeof(fo)};
	struct ember_diff_opts d = {0};
	uint64_t ta = profile__total(before), tb = profile__total(after);
	struct folded_set set;
	size_t i;
	int err;

	if (diff)
		memcpy(&d, diff, diff->sz < sizeof(d) ? diff->sz : sizeof(d));
	err = folded_set_init(&set);
	if (!err)
		err = folded_set_add_profile(&set, before, &fo, 0);
	if (!err)
		err = folded_set_add_profile(&set, after, &fo, 1);
	if (err)
		goto out;
	folded_set_sort(&set);
	for (i = 0; i < set.nr; i++) {
		uint64_t a = set.lines[i].count[0];

		/* Scale BEFORE to AFTER's total, as difffolded.pl -n does. */
		if (!d.no_normalize && ta && tb && ta != tb)
			a = (uint64_t)llround((double)a * (double)tb / (double)ta);
		if (fprintf(out, "%s %llu %llu\n", set.text.data + set.lines[i].offset,
			    (unsigned long long)a, (unsigned long long)set.lines[i].count[1]) < 0) {
			err = -EIO;
			goto out;
		}
	}
	err = fflush(out) ? -EIO : 0;
out:
	folded_set_free(&set);
	return err;
}
