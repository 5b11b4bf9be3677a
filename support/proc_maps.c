// SPDX-License-Identifier: MIT
/*
 * /proc/PID/maps, one line at a time: the process tracker, the symbolizer's
 * map_files lookup and `ember symbolize --pid` all read mappings through here.
 * Lines are read with getline, so no path is ever cut short, and a line that is
 * not in the kernel's format is skipped rather than guessed at.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

struct ember_proc_maps {
	FILE *f;
	char *line; /* getline's buffer, as long as the longest line so far */
	size_t cap; /* bytes */
};

/* The value of digit @c in @base (10 or 16), or -1. */
static int digit(char c, unsigned int base)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (base == 16 && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (base == 16 && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Reads the digits of @base at *@p into *@v and moves *@p past them; false when
 * there are none or the value needs more than 64 bits.
 */
static bool parse_num(const char **p, unsigned int base, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	int d;

	for (; (d = digit(*s, base)) >= 0; s++) {
		if (x > (UINT64_MAX - (uint64_t)d) / base)
			return false;
		x = x * base + (uint64_t)d;
	}
	if (s == *p)
		return false;
	*p = s;
	*v = x;
	return true;
}

/* Moves *@p past the spaces between two fields; false when there are none. */
static bool skip_spaces(const char **p)
{
	const char *s = *p;

	while (*s == ' ')
		s++;
	if (s == *p)
		return false;
	*p = s;
	return true;
}

/*
 * The kernel prints "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu " and then, padded
 * with spaces, the path if there is one (fs/proc/task_mmu.c, show_map_vma).
 */
int ember_proc_maps_parse_line(char *line, struct ember_proc_map *m)
{
	const char *p = line, *dev;
	uint64_t major, minor; /* only checked: callers key files by the text in dev */

	if (!parse_num(&p, 16, &m->start) || *p++ != '-' || !parse_num(&p, 16, &m->end) ||
	    !skip_spaces(&p))
		return -EINVAL;
	if (strcspn(p, " \n") != sizeof(m->perms) - 1)
		return -EINVAL;
	memcpy(m->perms, p, sizeof(m->perms) - 1);
	m->perms[sizeof(m->perms) - 1] = '\0';
	p += sizeof(m->perms) - 1;
	if (!skip_spaces(&p) || !parse_num(&p, 16, &m->offset) || !skip_spaces(&p))
		return -EINVAL;
	dev = p;
	if (!parse_num(&p, 16, &major) || *p++ != ':' || !parse_num(&p, 16, &minor) ||
	    (size_t)(p - dev) >= sizeof(m->dev))
		return -EINVAL;
	memcpy(m->dev, dev, (size_t)(p - dev));
	m->dev[p - dev] = '\0';
	if (!skip_spaces(&p) || !parse_num(&p, 10, &m->inode))
		return -EINVAL;
	if (*p && *p != '\n' && !skip_spaces(&p))
		return -EINVAL; /* the inode runs into something */
	line[(p - line) + strcspn(p, "\n")] = '\0';
	m->path = p;
	return 0;
}

int ember_proc_maps__open_path(const char *path, struct ember_proc_maps **out)
{
	struct ember_proc_maps *maps;
	int err;

	maps = calloc(1, sizeof(*maps));
	if (!maps)
		return -ENOMEM;
	maps->f = fopen(path, "re");
	if (!maps->f) {
		err = -errno;
		free(maps);
		return err;
	}
	*out = maps;
	return 0;
}

int ember_proc_maps__open(uint32_t pid, struct ember_proc_maps **out)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/maps", pid);
	return ember_proc_maps__open_path(path, out);
}

int ember_proc_maps__next(struct ember_proc_maps *maps, struct ember_proc_map *m)
{
	/* getline returns -1 both at the end and on errors; only errors set errno. */
	errno = 0;
	while (getline(&maps->line, &maps->cap, maps->f) > 0)
		if (ember_proc_maps_parse_line(maps->line, m) == 0)
			return 0;
	return errno ? -errno : -ENOENT;
}

int ember_proc_maps_find(uint32_t pid, uint64_t addr, struct ember_proc_map *m, char *path,
			 size_t path_size)
{
	struct ember_proc_maps *maps;
	int err;

	err = ember_proc_maps__open(pid, &maps);
	if (err)
		return err;
	while ((err = ember_proc_maps__next(maps, m)) == 0) {
		if (addr < m->start || addr >= m->end)
			continue;
		if (path)
			snprintf(path, path_size, "%s", m->path);
		m->path = path;
		break;
	}
	ember_proc_maps__free(maps);
	/* A failed read ends the search as the end of the file does. */
	return err ? -ENOENT : 0;
}

void ember_proc_maps__free(struct ember_proc_maps *maps)
{
	if (!maps)
		return;
	fclose(maps->f);
	free(maps->line);
	free(maps);
}
