// SPDX-License-Identifier: MIT
/*
 * Replays fuzz corpora without libFuzzer, so every compiler and the ordinary
 * ctest run exercise them: each argument is a file or a directory of files,
 * each file one LLVMFuzzerTestOneInput call; without arguments, $EMBER_CORPUS
 * names the directory. Exits non-zero when no input ran, or when the process
 * grew past libFuzzer's default -rss_limit_mb (an out-of-memory reproducer
 * fails here as it does under the fuzzer).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fuzz_entry.h"

#define RSS_LIMIT_MB 2048 /* libFuzzer's default -rss_limit_mb */

/* Peak resident size of this process so far, in MiB. */
static long peak_rss_mb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return ru.ru_maxrss / 1024; /* ru_maxrss is in KiB */
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len + 4096 > cap) {
			uint8_t *nb = realloc(buf, cap = (cap + 4096) * 2);

			if (!nb)
				abort();
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	fclose(f);
	/* An exact-size copy lets ASan see reads past the end. */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (!exact)
			abort();
		memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	free(buf);
	if (peak_rss_mb() > RSS_LIMIT_MB) {
		fprintf(stderr, "%s: out of memory: peak RSS %ld MiB > %d MiB\n", path,
			peak_rss_mb(), RSS_LIMIT_MB);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *env_args[2] = {argv[0], getenv("EMBER_CORPUS")};
	int i, ran = 0;

	if (argc < 2 && env_args[1]) {
		argc = 2;
		argv = env_args;
	}

	for (i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(argv[i], &st)) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]))
				return 1;
			ran++;
			continue;
		}
		d = opendir(argv[i]);
		if (!d)
			return 1;
		while ((e = readdir(d))) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (run_file(path))
				return 1;
			ran++;
		}
		closedir(d);
	}
	printf("replayed %d inputs\n", ran);
	return ran ? 0 : 1;
}
