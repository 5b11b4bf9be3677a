// SPDX-License-Identifier: MIT
/*
 * Runs the symbolizer fuzz target over every file of a corpus directory (argv[1]
 * or EMBER_CORPUS), so the corpus is a regression test with any compiler.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("EMBER_CORPUS");
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	if (!dir || !(d = opendir(dir))) {
		fprintf(stderr, "replay: no corpus directory\n");
		return 1;
	}
	while ((e = readdir(d))) {
		char path[4096];
		uint8_t *buf;
		long len;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc(len > 0 ? (size_t)len : 1);
		if (!buf || (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
			fprintf(stderr, "replay: cannot read %s\n", path);
			free(buf);
			fclose(f);
			closedir(d);
			return 1;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len > 0 ? (size_t)len : 0);
		free(buf);
		n++;
	}
	closedir(d);
	printf("replayed %zu inputs from %s\n", n, dir);
	return n ? 0 : 1;
}
