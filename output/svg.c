// SPDX-License-Identifier: MIT
/*
 * Interactive SVG flamegraph, in one self-contained file: frames are <g>
 * elements (a <title> tooltip, a <rect>, a pre-truncated <text> so the picture
 * also reads without script), and output/flamegraph.js plus flamegraph.css,
 * embedded at build time, add hover details, click-to-zoom, reset, regex
 * search with "Matched: X%", and keep zoom and search in the URL fragment.
 * Layout follows flamegraph.pl's conventions (children sorted by name, root
 * "all", frames narrower than --minwidth not drawn alone) so people read it
 * the way they read the usual flamegraphs; frames too narrow to draw are
 * merged into one rectangle per run, and its tooltip says how many.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/internal.h"
#include "output/output.h"
#include "support/support.h"

extern const char flamegraph_js[];
extern const char flamegraph_css[];

#define XPAD	   10.0 /* px left and right of the frames */
#define CHAR_WIDTH 0.59 /* average glyph width as a fraction of the font size */

void svg_opts_defaults(struct ember_svg_opts *o, const struct ember_svg_opts *in)
{
	memset(o, 0, sizeof(*o));
	o->minwidth = -1;
	if (in)
		memcpy(o, in, in->sz < sizeof(*o) ? in->sz : sizeof(*o));
	o->sz = sizeof(*o);
	if (!o->title)
		o->title = o->inverted ? "Icicle Graph" : "Flame Graph";
	if (!o->width)
		o->width = 1200;
	/* Zeroed options mean defaults (libbpf's OPTS convention), so 0 is 0.1 px. */
	if (!(o->minwidth > 0))
		o->minwidth = 0.1;
	if (!o->colors)
		o->colors = "ember";
	if (!o->countname)
		o->countname = "samples";
	if (!o->frame_height)
		o->frame_height = 16;
	if (!o->font_size)
		o->font_size = 12;
}

struct rgb {
	int r, g, b;
};

/* flamegraph.pl-style palettes: @v in [0, 1] picks a shade within the band. */
static struct rgb palette(const char *name, double v1, double v2, double v3)
{
	if (strcmp(name, "hot") == 0)
		return (struct rgb){205 + (int)(50 * v3), (int)(230 * v1), (int)(55 * v2)};
	if (strcmp(name, "mem") == 0)
		return (struct rgb){0, 190 + (int)(50 * v2), (int)(210 * v1)};
	if (strcmp(name, "io") == 0 || strcmp(name, "blue") == 0)
		return (struct rgb){80 + (int)(60 * v1), 80 + (int)(60 * v1), 190 + (int)(55 * v2)};
	if (strcmp(name, "green") == 0)
		return (struct rgb){50 + (int)(60 * v1), 200 + (int)(55 * v1), 50 + (int)(60 * v1)};
	if (strcmp(name, "aqua") == 0)
		return (struct rgb){50 + (int)(60 * v1), 165 + (int)(55 * v1),
				    165 + (int)(55 * v1)};
	if (strcmp(name, "yellow") == 0)
		return (struct rgb){175 + (int)(55 * v1), 175 + (int)(55 * v1),
				    50 + (int)(20 * v1)};
	if (strcmp(name, "purple") == 0)
		return (struct rgb){190 + (int)(65 * v1), 80 + (int)(60 * v1),
				    190 + (int)(65 * v1)};
	if (strcmp(name, "orange") == 0)
		return (struct rgb){190 + (int)(65 * v1), 90 + (int)(65 * v1), 0};
	if (strcmp(name, "grey") == 0)
		return (struct rgb){170 + (int)(40 * v1), 170 + (int)(40 * v1),
				    170 + (int)(40 * v1)};
	/* "red", and ember's default for user frames */
	return (struct rgb){200 + (int)(55 * v1), 50 + (int)(80 * v1), 50 + (int)(80 * v1)};
}

/* Kernel, JIT and inline frames keep their own colours whatever --colors says. */
static struct rgb frame_colour(const struct ember_svg_opts *o, uint32_t flags, double v1, double v2,
			       double v3)
{
	if (flags & EMBER_FRAME_KERNEL)
		return palette("orange", v1, v2, v3);
	if (flags & EMBER_FRAME_JIT)
		return palette("green", v1, v2, v3);
	if (flags & EMBER_FRAME_INLINE)
		return palette("aqua", v1, v2, v3);
	if (flags & (EMBER_FRAME_UNKNOWN | EMBER_FRAME_MARKER))
		return palette("grey", v1, v2, v3);
	return palette(strcmp(o->colors, "ember") == 0 ? "red" : o->colors, v1, v2, v3);
}

static const char *kind_class(uint32_t flags)
{
	if (flags & EMBER_FRAME_KERNEL)
		return "k";
	if (flags & EMBER_FRAME_JIT)
		return "j";
	if (flags & EMBER_FRAME_INLINE)
		return "i";
	if (flags & (EMBER_FRAME_UNKNOWN | EMBER_FRAME_MARKER))
		return "x";
	return "u";
}

struct render {
	const struct flame_stacks *fs;
	const struct ember_svg_opts *o;
	const struct svg_diff *diff;
	int which;	     /* counter that sets widths */
	uint64_t total;	     /* samples of the root in that counter */
	double scale;	     /* px per sample */
	double height;	     /* image height, px */
	double ypad1, ypad2; /* px above and below the frames */
	double max_delta;    /* diff: largest |share change| of any frame */
	uint64_t rng;	     /* colour jitter without --hash; fixed seed: stable output */
	struct obuf *b;
	/* Per depth: the run of narrow siblings waiting to be drawn as one frame. */
	struct narrow_run {
		uint32_t count;
		uint64_t samples, start;
	} * runs;
};

static double next_rand(struct render *r)
{
	r->rng = r->rng * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(r->rng >> 11) / (double)(1ull << 53);
}

static double frame_y(const struct render *r, uint32_t depth)
{
	double fh = r->o->frame_height;

	if (r->o->inverted)
		return r->ypad1 + depth * fh;
	return r->height - r->ypad2 - (depth + 1) * fh;
}

/* Share of counter @i of node @n (of its total, or raw when not normalizing). */
static double share(const struct render *r, const struct flame_node *n, int i)
{
	if (!r->diff->normalize)
		return (double)n->total[i];
	return r->diff->totals[i] ? (double)n->total[i] / (double)r->diff->totals[i] : 0;
}

/* AFTER minus BEFORE, in the direction --negate asks for. */
static double delta(const struct render *r, const struct flame_node *n)
{
	return share(r, n, 1) - share(r, n, 0);
}

static struct rgb diff_colour(const struct render *r, const struct flame_node *n)
{
	double d = delta(r, n), x = r->max_delta > 0 ? d / r->max_delta : 0;
	int fade;

	if (r->diff->width_from == 0)
		x = -x; /* negated: colours read from BEFORE's point of view */
	if (x > 1)
		x = 1;
	if (x < -1)
		x = -1;
	fade = 220 - (int)(220 * (x < 0 ? -x : x));
	/* Red: grew; blue: shrank; near-white: unchanged. */
	if (x >= 0)
		return (struct rgb){255, fade, fade};
	return (struct rgb){fade, fade, 255};
}

/* Appends @name cut to what fits in @width px, escaped. */
static int append_label(struct render *r, const char *name, double width)
{
	size_t fit = (size_t)(width / (r->o->font_size * CHAR_WIDTH)), len = strlen(name);
	char *cut;
	int err;

	if (fit < 3)
		return 0;
	if (len <= fit)
		return obuf_xml(r->b, name);
	len = fit - 2;
	/* Never split a UTF-8 sequence. */
	while (len && ((unsigned char)name[len] & 0xc0) == 0x80)
		len--;
	cut = strndup(name, len);
	if (!cut)
		return -ENOMEM;
	err = obuf_xml(r->b, cut);
	free(cut);
	return err ? err : obuf_puts(r->b, "..");
}

/*
 * Appends frame @n, or with @merged > 0 a frame standing for that many narrow
 * siblings (@n then gives only position, depth and samples).
 */
static int emit_frame(struct render *r, const struct flame_node *n, uint32_t merged)
{
	const char *name = n->name;
	uint64_t samples = n->total[r->which], before = n->total[!r->which];
	double x = XPAD + n->start[r->which] * r->scale, w = samples * r->scale;
	uint32_t depth = n->depth;
	struct obuf *b = r->b;
	double y = frame_y(r, depth), pct = r->total ? 100.0 * (double)samples / r->total : 0;
	struct rgb c;
	int err;

	if (r->o->hash && !merged) {
		uint64_t h = ember_hash_bytes(name, strlen(name), 0xf1a3e);

		c = frame_colour(r->o, n->flags, (h & 0xffff) / 65535.0,
				 ((h >> 16) & 0xffff) / 65535.0, ((h >> 32) & 0xffff) / 65535.0);
	} else {
		double v1 = next_rand(r), v2 = next_rand(r), v3 = next_rand(r);

		c = frame_colour(r->o, merged ? EMBER_FRAME_UNKNOWN : n->flags, v1, v2, v3);
	}
	if (r->diff && !merged)
		c = diff_colour(r, n);
	err = obuf_printf(b, "<g class=\"f %s%s\"><title>", merged ? "m" : kind_class(n->flags),
			  depth == 0 ? " r" : "");
	if (!err && merged)
		err = obuf_printf(b, "%u frames merged, each narrower than %.2f px", merged,
				  r->o->minwidth);
	else if (!err)
		err = obuf_xml(b, name);
	if (!err)
		err = obuf_printf(b, " (%llu ", (unsigned long long)samples);
	if (!err)
		err = obuf_xml(b, r->o->countname);
	if (!err)
		err = obuf_printf(b, ", %.2f%%", pct);
	if (!err && r->diff && !merged) {
		double d = delta(r, n);

		if (r->diff->normalize)
			err = obuf_printf(b, "; %s %llu; %+.2f%%",
					  r->diff->width_from ? "before" : "after",
					  (unsigned long long)before, 100.0 * d);
		else
			err = obuf_printf(b, "; %s %llu; %+lld",
					  r->diff->width_from ? "before" : "after",
					  (unsigned long long)before, (long long)d);
	}
	if (!err)
		err = obuf_printf(b,
				  ")</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
				  "height=\"%u\" fill=\"rgb(%d,%d,%d)\" data-n=\"%llu\"/>"
				  "<text x=\"%.2f\" y=\"%.1f\">",
				  x, y, w, r->o->frame_height - 1, c.r, c.g, c.b,
				  (unsigned long long)samples, x + 3,
				  y + r->o->frame_height * 0.5 + r->o->font_size * 0.35);
	if (!err && !merged)
		err = append_label(r, name, w);
	if (!err)
		err = obuf_puts(b, "</text></g>\n");
	return err;
}

/* Draws the run of narrow frames at @depth as one frame when it is wide enough. */
static int flush_run(struct render *r, uint32_t depth)
{
	struct narrow_run *run = &r->runs[depth];
	struct flame_node n = {.name = "", .depth = depth};
	uint32_t count = run->count;

	run->count = 0;
	/* A lone frame narrower than minwidth stays hidden, as in flamegraph.pl. */
	if (count < 2 || run->samples * r->scale < r->o->minwidth)
		return 0;
	n.start[r->which] = run->start;
	n.total[r->which] = run->samples;
	return emit_frame(r, &n, count);
}

/*
 * Frames arrive children first. A narrow frame joins its depth's run; a wide
 * one flushes the run of its left siblings, then draws. A parent settles the
 * run of its children: drawn under a wide parent, dropped under a narrow one
 * (whose whole subtree is narrower still).
 */
static int render_node(const struct flame_node *n, void *ctx)
{
	struct render *r = ctx;
	uint64_t samples = n->total[r->which];
	bool wide = samples && samples * r->scale >= r->o->minwidth;
	struct narrow_run *run = &r->runs[n->depth];
	int err = 0;

	if (n->depth + 1 <= r->fs->max_depth) {
		if (wide)
			err = flush_run(r, n->depth + 1);
		else
			r->runs[n->depth + 1].count = 0;
	}
	if (err || !samples)
		return err;
	if (!wide) {
		if (!run->count) {
			run->start = n->start[r->which];
			run->samples = 0;
		}
		run->count++;
		run->samples += samples;
		return 0;
	}
	if (n->depth)
		err = flush_run(r, n->depth);
	return err ? err : emit_frame(r, n, 0);
}

static int max_delta_node(const struct flame_node *n, void *ctx)
{
	struct render *r = ctx;
	double d = n->depth ? delta(r, n) : 0;

	if (d < 0)
		d = -d;
	if (d > r->max_delta)
		r->max_delta = d;
	return 0;
}

static int header(struct render *r)
{
	const struct ember_svg_opts *o = r->o;
	struct obuf *b = r->b;
	double w = o->width, fs = o->font_size;
	int err;

	err = obuf_printf(
	    b,
	    "<?xml version=\"1.0\" standalone=\"no\"?>\n"
	    "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
	    "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
	    "<svg version=\"1.1\" width=\"%u\" height=\"%.0f\" viewBox=\"0 0 %u %.0f\" "
	    "xmlns=\"http://www.w3.org/2000/svg\" "
	    "xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n"
	    "<!-- Generated by ember %s. Frame groups have classes f and KIND: u user, k "
	    "kernel, j JIT, i inline, x unknown, m merged narrow frames. -->\n"
	    "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" "
	    "x2=\"0\"><stop stop-color=\"%s\" offset=\"5%%\"/><stop stop-color=\"%s\" "
	    "offset=\"95%%\"/></linearGradient></defs>\n<style type=\"text/css\">\n",
	    o->width, r->height, o->width, r->height, EMBER_VERSION,
	    r->diff ? "#eeeeee" : "#eeeeee", r->diff ? "#e0e0ff" : "#eeeeb0");
	if (!err)
		err = obuf_printf(
		    b, "text { font-family: Verdana, sans-serif; font-size: %.0fpx; }\n", fs);
	if (!err)
		err = obuf_puts(b, flamegraph_css);
	if (!err)
		err = obuf_printf(b,
				  "</style>\n<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%.0f\" "
				  "fill=\"url(#background)\"/>\n<text id=\"title\" x=\"%.1f\" "
				  "y=\"%.1f\">",
				  o->width, r->height, w / 2, fs * 2);
	if (!err)
		err = obuf_xml(b, o->title);
	if (!err)
		err = obuf_printf(b, "</text>\n<text id=\"subtitle\" x=\"%.1f\" y=\"%.1f\">", w / 2,
				  fs * 4);
	if (!err && o->subtitle)
		err = obuf_xml(b, o->subtitle);
	if (!err)
		err = obuf_printf(
		    b,
		    "</text>\n<text id=\"details\" x=\"%.1f\" y=\"%.1f\"> </text>\n"
		    "<text id=\"unzoom\" class=\"hide\" x=\"%.1f\" y=\"%.1f\">Reset Zoom</text>\n"
		    "<text id=\"search\" x=\"%.1f\" y=\"%.1f\">Search</text>\n"
		    "<text id=\"ignorecase\" x=\"%.1f\" y=\"%.1f\">ic</text>\n"
		    "<text id=\"matched\" x=\"%.1f\" y=\"%.1f\"> </text>\n",
		    XPAD, r->height - fs / 2 - 2, XPAD, fs * 2, w - XPAD - 100, fs * 2,
		    w - XPAD - 16, fs * 2, w - XPAD - 100, r->height - fs / 2 - 2);
	if (!err && !r->diff)
		err = obuf_printf(
		    b,
		    "<g id=\"legend\" transform=\"translate(%.1f,%.1f)\">"
		    "<rect x=\"0\" y=\"-9\" width=\"10\" height=\"10\" "
		    "fill=\"rgb(227,90,90)\"/><text x=\"13\" y=\"0\">user</text>"
		    "<rect x=\"50\" y=\"-9\" width=\"10\" height=\"10\" "
		    "fill=\"rgb(222,122,0)\"/><text x=\"63\" y=\"0\">kernel</text>"
		    "<rect x=\"115\" y=\"-9\" width=\"10\" height=\"10\" "
		    "fill=\"rgb(80,227,80)\"/><text x=\"128\" y=\"0\">JIT</text>"
		    "<rect x=\"160\" y=\"-9\" width=\"10\" height=\"10\" "
		    "fill=\"rgb(80,192,192)\"/><text x=\"173\" y=\"0\">inline</text></g>\n",
		    XPAD, r->ypad1 - 6);
	else if (!err)
		err = obuf_printf(
		    b,
		    "<g id=\"legend\" transform=\"translate(%.1f,%.1f)\">"
		    "<rect x=\"0\" y=\"-9\" width=\"10\" height=\"10\" "
		    "fill=\"rgb(255,60,60)\"/><text x=\"13\" y=\"0\">grew</text>"
		    "<rect x=\"55\" y=\"-9\" width=\"10\" height=\"10\" "
		    "fill=\"rgb(60,60,255)\"/><text x=\"68\" y=\"0\">shrank</text></g>\n",
		    XPAD, r->ypad1 - 6);
	return err;
}

static int footer(struct render *r)
{
	const struct ember_svg_opts *o = r->o;
	struct obuf *b = r->b;
	int err;

	err =
	    obuf_printf(b,
			"</g>\n<script type=\"text/ecmascript\"><![CDATA[\n"
			"var ember_cfg = { inverted: %s, xpad: %.1f, width: %u, fontsize: %u, "
			"frameheight: %u, total: %llu, diff: %s, countname: \"",
			o->inverted ? "true" : "false", XPAD, o->width, o->font_size,
			o->frame_height, (unsigned long long)r->total, r->diff ? "true" : "false");
	if (!err)
		err = obuf_json(b, o->countname);
	if (!err)
		err = obuf_puts(b, "\" };\n");
	if (!err)
		err = obuf_puts(b, flamegraph_js);
	if (!err)
		err = obuf_puts(b, "]]></script>\n</svg>\n");
	return err;
}

int svg_render(const struct flame_stacks *fs, const struct ember_svg_opts *o,
	       const struct svg_diff *diff, FILE *out)
{
	struct obuf b = {0};
	struct render r = {.fs = fs, .o = o, .diff = diff, .b = &b, .rng = 0x5eed};
	int err;

	r.which = diff ? diff->width_from : 0;
	r.total = fs->total[r.which];
	r.scale = r.total ? (o->width - 2 * XPAD) / (double)r.total : 0;
	/* Title, optional subtitle, then the legend line. */
	r.ypad1 = o->font_size * (o->subtitle ? 6.5 : 4.5) + 4;
	r.ypad2 = o->font_size * 2 + 10;
	r.height = (fs->max_depth + 1) * (double)o->frame_height + r.ypad1 + r.ypad2;
	r.runs = calloc((size_t)fs->max_depth + 2, sizeof(*r.runs));
	if (!r.runs)
		return -ENOMEM;
	err = diff ? flame_stacks_walk(fs, max_delta_node, &r) : 0;
	if (!err)
		err = header(&r);
	if (!err)
		err = obuf_puts(&b, "<g id=\"frames\">\n");
	if (!err && r.total)
		err = flame_stacks_walk(fs, render_node, &r);
	if (!err)
		err = footer(&r);
	if (!err)
		err = obuf_write(&b, out);
	if (!err && fflush(out))
		err = -EIO;
	obuf_free(&b);
	free(r.runs);
	return err;
}

int svg__write(const struct ember_profile *p, const struct ember_svg_opts *opts, FILE *out)
{
	struct ember_svg_opts o;
	struct flame_stacks fs;
	int err;

	svg_opts_defaults(&o, opts);
	/* Off-CPU and wall-clock profiles count nanoseconds: say so in every tooltip. */
	if ((!opts || !opts->countname) && profile__value_type(p) != EMBER_VALUE_SAMPLES)
		o.countname = "ns";
	/* Any other sample type (pprof's inuse_space, ...): its unit ("bytes"). */
	if ((!opts || !opts->countname) && profile__value_type(p) == EMBER_VALUE_OTHER) {
		const char *type;

		profile__sample_type(p, &type, &o.countname);
	}
	err = flame_stacks_init(&fs, o.reverse, o.per_pid, o.per_thread, false);
	if (!err)
		err = flame_stacks_add_profile(&fs, p, 0);
	if (!err)
		err = flame_stacks_finish(&fs);
	if (!err)
		err = svg_render(&fs, &o, NULL, out);
	flame_stacks_free(&fs);
	return err;
}
