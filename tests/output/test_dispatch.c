// SPDX-License-Identifier: MIT
/*
 * Path dispatch: formats from extensions, ".zst" on any format, content
 * detection on read (gzip/zstd/pprof/perf script/folded whatever the name),
 * unknown extensions and unwritable paths fail without leaving files behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output/output.h"
#include "support/support.h"
#include "test.h"

static const char folded[] = "a;b;c_[k] 3\na;d_[i];e 2\n";

static char *folded_text(const struct ember_profile *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ASSERT_EQ(folded__write(p, NULL, f), 0);
	fclose(f);
	return text;
}

int main(void)
{
	static const char *const exts[] = {".folded",	  ".txt",	".pb.gz", ".pprof",
					   ".folded.zst", ".pb.gz.zst", ".pb.zst"};
	char dir[] = "/tmp/ember-dispatch-XXXXXX", path[256];
	struct ember_profile *p, *q;
	bool zstd;
	size_t i;

	ember_log_set_level(EMBER_LOG_ERROR);
	ASSERT(mkdtemp(dir));
	ASSERT_EQ(output__format_from_path("x.pb.gz", &zstd), EMBER_FORMAT_PPROF);
	ASSERT(!zstd);
	ASSERT_EQ(output__format_from_path("x.SVG.zst", &zstd), EMBER_FORMAT_SVG);
	ASSERT(zstd);
	ASSERT_EQ(output__format_from_path("x.json", NULL), EMBER_FORMAT_SPEEDSCOPE);
	ASSERT_EQ(output__format_from_path("x.data", NULL), EMBER_FORMAT_AUTO);

	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(folded__read(folded, strlen(folded), NULL, p), 0);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		char *text;

		snprintf(path, sizeof(path), "%s/p%s", dir, exts[i]);
		ASSERT_EQ(output__write_path(p, path, NULL), 0);
		ASSERT_EQ(output__read_path(path, NULL, &q), 0);
		text = folded_text(q);
		ASSERT_STR_EQ(text, folded);
		free(text);
		profile__free(q);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/p.svg.zst", dir);
	ASSERT_EQ(output__write_path(p, path, NULL), 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/p.json", dir);
	ASSERT_EQ(output__write_path(p, path, NULL), 0);
	unlink(path);

	/* pprof bytes under a folded name */
	snprintf(path, sizeof(path), "%s/misnamed.folded", dir);
	{
		struct ember_output_opts o = {.sz = sizeof(o), .format = EMBER_FORMAT_PPROF};
		char *text;

		ASSERT_EQ(output__write_path(p, path, &o), 0);
		ASSERT_EQ(output__read_path(path, NULL, &q), 0);
		text = folded_text(q);
		ASSERT_STR_EQ(text, folded);
		free(text);
		profile__free(q);
		unlink(path);
	}

	snprintf(path, sizeof(path), "%s/p.unknown", dir);
	ASSERT_EQ(output__write_path(p, path, NULL), -EINVAL);
	ASSERT_EQ(access(path, F_OK), -1);
	ASSERT_EQ(output__write_path(p, "/nonexistent-dir/x.folded", NULL), -ENOENT);
	ASSERT_EQ(output__read_path("/nonexistent-dir/x.folded", NULL, &q), -ENOENT);

	/* a corrupt gzip stream is an input error */
	ASSERT_EQ(output__read_buffer("\x1f\x8b\x08\x00garbage", 11, NULL, &q), -EINVAL);

	/* Content detection refuses what no reader can read, and keeps what one can. */
	ASSERT_EQ(output__read_buffer("\x7f"
				      "ELF\x02\x01\x01",
				      7, NULL, &q),
		  -EINVAL);
	ASSERT_EQ(output__read_buffer("# header 1\nlegacy: 2 @ 0x1\n",
				      strlen("# header 1\nlegacy: 2 @ 0x1\n"), NULL, &q),
		  -EINVAL);
	ASSERT_EQ(output__read_buffer("{\"shared\":{\"fra", strlen("{\"shared\":{\"fra"), NULL, &q),
		  -EINVAL);
	/* A root frame starting with '{' is folded, not JSON. */
	ASSERT_EQ(output__read_buffer("{closure};main 3\n", strlen("{closure};main 3\n"), NULL, &q),
		  0);
	ASSERT_EQ(profile__total(q), 3);
	profile__free(q);
	/* Some good lines: the bad ones are skipped, as before. */
	ASSERT_EQ(
	    output__read_buffer("a;b 2\nnot a stack\n", strlen("a;b 2\nnot a stack\n"), NULL, &q),
	    0);
	ASSERT_EQ(profile__total(q), 2);
	profile__free(q);
	{
		struct ember_read_opts o = {.sz = sizeof(o), .lenient = true};

		ASSERT_EQ(output__read_buffer("# header 1\nlegacy: 2 @ 0x1\n",
					      strlen("# header 1\nlegacy: 2 @ 0x1\n"), &o, &q),
			  0);
		ASSERT_EQ(profile__nr_samples(q), 0);
		profile__free(q);
	}
	ASSERT_EQ(rmdir(dir), 0);
	profile__free(p);
	return 0;
}
