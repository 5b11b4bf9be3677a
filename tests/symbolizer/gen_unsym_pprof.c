// SPDX-License-Identifier: MIT
/*
 * Writes a pprof profile of bare addresses, as an agent with symbolize = none
 * ships them, for tests of `ember convert --symbolize`:
 *   gen_unsym_pprof OUT.pb.gz MAPPING... -- STACK...
 * MAPPING is PATH,BUILD_ID,START,LIMIT,OFFSET (numbers in hex; BUILD_ID "-"
 * for none); STACK is M:ADDR[,M:ADDR...] (hex runtime addresses, leaf first,
 * M the 1-based mapping). Stack i (1-based) is one sample of process "s", pid
 * i, so `--per-pid` folded output names it "s-i".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "profile/profile.h"

#define MAX_MAPPINGS 16
#define MAX_DEPTH    64

static int add_mapping(struct ember_profile *p, char *spec, uint32_t *id)
{
	char *f[5], *save = NULL;
	struct ember_mapping m = {0};

	for (int i = 0; i < 5; i++) {
		f[i] = strtok_r(i ? NULL : spec, ",", &save);
		if (!f[i])
			return -EINVAL;
	}
	m.path = f[0];
	m.build_id = strcmp(f[1], "-") ? f[1] : NULL;
	m.start = strtoull(f[2], NULL, 16);
	m.limit = strtoull(f[3], NULL, 16);
	m.offset = strtoull(f[4], NULL, 16);
	return profile__intern_mapping(p, &m, id);
}

static int add_stack(struct ember_profile *p, const uint32_t *maps, size_t nr_maps, char *spec,
		     uint32_t pid)
{
	uint32_t locs[MAX_DEPTH], n = 0;
	struct ember_sample s = {.pid = pid, .tid = pid, .process_name = "s", .count = 1};
	char *tok, *save = NULL;
	int err;

	for (tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		unsigned long m = colon ? strtoul(tok, NULL, 10) : 0;

		if (!colon || m < 1 || m > nr_maps || n == MAX_DEPTH)
			return -EINVAL;
		/* is_return is what the writer cannot say; the reader sees false anyway. */
		err = profile__intern_location(p, maps[m - 1], 0, strtoull(colon + 1, NULL, 16),
					       false, &locs[n++]);
		if (err)
			return err;
	}
	s.nr_locations = n;
	s.locations = locs;
	return profile__add_sample(p, &s);
}

int main(int argc, char **argv)
{
	struct ember_output_opts wo = {.sz = sizeof(wo)};
	struct ember_profile *p = NULL;
	uint32_t maps[MAX_MAPPINGS];
	size_t nr_maps = 0;
	uint32_t pid = 0;
	int i = 2, err;

	if (argc < 3) {
		fprintf(stderr, "usage: %s OUT MAPPING... -- STACK...\n", argv[0]);
		return 2;
	}
	err = profile__new(&p);
	for (; !err && i < argc && strcmp(argv[i], "--"); i++)
		err = nr_maps < MAX_MAPPINGS ? add_mapping(p, argv[i], &maps[nr_maps++]) : -E2BIG;
	for (i++; !err && i < argc; i++)
		err = add_stack(p, maps, nr_maps, argv[i], ++pid);
	profile__set_frequency(p, 99);
	if (!err)
		err = output__write_path(p, argv[1], &wo);
	if (err)
		fprintf(stderr, "gen_unsym_pprof: %s\n", strerror(-err));
	profile__free(p);
	return err ? 1 : 0;
}
