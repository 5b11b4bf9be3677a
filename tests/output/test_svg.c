// SPDX-License-Identifier: MIT
/*
 * SVG writer: names are XML-escaped and invalid UTF-8 replaced, kinds get
 * their classes, narrow frames are merged with a tooltip that says so, an
 * empty profile is still a complete SVG, options reach the output.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "support/support.h"
#include "test.h"

static char *render(const char *folded, const struct ember_svg_opts *o)
{
	struct ember_profile *p;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(folded__read(folded, strlen(folded), NULL, p), 0);
	f = open_memstream(&text, &len);
	ASSERT(f);
	ASSERT_EQ(svg__write(p, o, f), 0);
	fclose(f);
	profile__free(p);
	ASSERT(strstr(text, "</svg>\n"));
	return text;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *s = strstr(hay, needle); s; s = strstr(s + 1, needle))
		n++;
	return n;
}

int main(void)
{
	struct ember_svg_opts o = {.sz = sizeof(o)};
	char *svg, buf[4096];
	int i, len = 0;

	svg = render("", NULL);
	ASSERT(strstr(svg, "<g id=\"frames\">"));
	ASSERT_EQ(count(svg, "<g class=\"f"), 0);
	free(svg);

	svg = render("main;a<b>&\"c\" 5\nmain;bad\xff\xc3(name 5\nmain;k_[k] 1\nmain;j_[j] 1\n"
		     "main;i_[i] 1\n",
		     NULL);
	ASSERT(strstr(svg, "a&lt;b&gt;&amp;&quot;c&quot; (5 samples"));
	ASSERT(strstr(svg, "bad\xef\xbf\xbd\xef\xbf\xbd(name"));
	ASSERT(!strstr(svg, "\xff"));
	ASSERT_EQ(count(svg, "<g class=\"f k\">"), 1);
	ASSERT_EQ(count(svg, "<g class=\"f j\">"), 1);
	ASSERT_EQ(count(svg, "<g class=\"f i\">"), 1);
	ASSERT(strstr(svg, "<title>all (13 samples, 100.00%)</title>"));
	free(svg);

	/* 200 frames of 1 sample beside one of 100000: each 0.006 px wide */
	len = snprintf(buf, sizeof(buf), "root;big 100000\n");
	for (i = 0; i < 200; i++)
		len += snprintf(buf + len, sizeof(buf) - (size_t)len, "root;n%03d 1\n", i);
	svg = render(buf, NULL);
	ASSERT_EQ(count(svg, "<g class=\"f m\">"), 1);
	ASSERT(strstr(svg, "200 frames merged, each narrower than 0.10 px (200 samples"));
	ASSERT(!strstr(svg, "n007"));
	free(svg);

	o.title = "T&T";
	o.subtitle = "sub<>";
	o.width = 640;
	o.countname = "ms";
	o.inverted = true;
	o.minwidth = 1e-9;
	svg = render(buf, &o);
	ASSERT(strstr(svg, "width=\"640\""));
	ASSERT(strstr(svg, ">T&amp;T</text>"));
	ASSERT(strstr(svg, ">sub&lt;&gt;</text>"));
	ASSERT(strstr(svg, "(100000 ms, "));
	ASSERT(strstr(svg, "inverted: true"));
	ASSERT_EQ(count(svg, "<g class=\"f m\">"), 0); /* tiny minwidth: every frame drawn */
	ASSERT(strstr(svg, "n007"));
	free(svg);
	return 0;
}
