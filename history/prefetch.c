// SPDX-License-Identifier: MIT
/*
 * Decode-ahead for history queries: one thread reads and decodes the windows a
 * query will merge, in order and at most PREFETCH_AHEAD ahead, while the
 * caller's thread merges the previous ones. Decoding (gunzip, protobuf) and
 * merging (the profile's hash tables) cost about the same, so on two CPUs a
 * long query takes about the longer of the two instead of their sum.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"
#include "output/output.h"

#define PREFETCH_AHEAD 8 /* decoded profiles waiting at most: bounds the memory */

struct slot {
	struct ember_profile *p;
	int err;
	bool done;
};

struct history_prefetch {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char **paths; /* the history's pool strings: immutable, never moved */
	struct slot *slots;
	size_t nr, taken;
	bool stop;
};

int history_decode(const char *path, struct ember_profile **p)
{
	struct ember_read_opts ro = {.sz = sizeof(ro), .strict = true, .name = path};

	return output__read_path(path, &ro, p);
}

static void *run(void *arg)
{
	struct history_prefetch *pf = arg;
	size_t i;

	pthread_mutex_lock(&pf->lock);
	for (i = 0; i < pf->nr; i++) {
		struct ember_profile *p = NULL;
		int err;

		while (!pf->stop && i >= pf->taken + PREFETCH_AHEAD)
			pthread_cond_wait(&pf->cond, &pf->lock);
		if (pf->stop)
			break;
		pthread_mutex_unlock(&pf->lock);
		err = history_decode(pf->paths[i], &p);
		pthread_mutex_lock(&pf->lock);
		pf->slots[i].p = p;
		pf->slots[i].err = err;
		pf->slots[i].done = true;
		pthread_cond_broadcast(&pf->cond);
	}
	pthread_mutex_unlock(&pf->lock);
	return NULL;
}

int history_prefetch__start(const char **paths, size_t nr, struct history_prefetch **out)
{
	struct history_prefetch *pf = calloc(1, sizeof(*pf));
	int err;

	*out = NULL;
	if (!pf)
		return -ENOMEM;
	pf->paths = paths;
	pf->nr = nr;
	pf->slots = calloc(nr + 1, sizeof(*pf->slots));
	if (!pf->slots) {
		free(pf);
		return -ENOMEM;
	}
	pthread_mutex_init(&pf->lock, NULL);
	pthread_cond_init(&pf->cond, NULL);
	err = -pthread_create(&pf->thread, NULL, run, pf);
	if (err) {
		/* No thread: take() decodes on the caller's thread instead. */
		pr_debug("history: no decode thread (%d); decoding inline", err);
	} else {
		pf->started = true;
	}
	*out = pf;
	return 0;
}

int history_prefetch__take(struct history_prefetch *pf, size_t i, struct ember_profile **p)
{
	int err;

	*p = NULL;
	if (i >= pf->nr)
		return -EINVAL;
	if (!pf->started)
		return history_decode(pf->paths[i], p);
	pthread_mutex_lock(&pf->lock);
	while (!pf->slots[i].done)
		pthread_cond_wait(&pf->cond, &pf->lock);
	*p = pf->slots[i].p;
	err = pf->slots[i].err;
	pf->slots[i].p = NULL;
	pf->taken = i + 1;
	pthread_cond_broadcast(&pf->cond);
	pthread_mutex_unlock(&pf->lock);
	return err;
}

void history_prefetch__free(struct history_prefetch *pf)
{
	size_t i;

	if (!pf)
		return;
	if (pf->started) {
		pthread_mutex_lock(&pf->lock);
		pf->stop = true;
		pthread_cond_broadcast(&pf->cond);
		pthread_mutex_unlock(&pf->lock);
		pthread_join(pf->thread, NULL);
	}
	for (i = 0; i < pf->nr; i++)
		profile__free(pf->slots[i].p);
	pthread_mutex_destroy(&pf->lock);
	pthread_cond_destroy(&pf->cond);
	free(pf->slots);
	free(pf);
}
