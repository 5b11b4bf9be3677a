// SPDX-License-Identifier: MIT
/*
 * The files a command maps first, so `ember record -- CMD` can load their
 * unwind tables before it releases the command: the executable as execvp finds
 * it, a script's interpreter (#!, through env), the ELF interpreter (ld.so), and
 * the C library this ember runs on (the command's too, on the same host).
 * Libraries mapped later get their tables as before, once they are mapped; a
 * command that cannot be found gives no files (execvp reports it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gelf.h>

#include "cli.h"
#include "support/support.h"

#define MAX_FILES 8

struct file_list {
	char **paths;
	size_t n;
};

/* Adds @path's canonical form unless it is there already. 0 or -ENOMEM. */
static int add_file(struct file_list *l, const char *path)
{
	char *real = realpath(path, NULL);
	size_t i;

	if (!real)
		return errno == ENOMEM ? -ENOMEM : 0;
	for (i = 0; i < l->n; i++) {
		if (strcmp(l->paths[i], real) == 0) {
			free(real);
			return 0;
		}
	}
	if (l->n == MAX_FILES) {
		free(real);
		return 0;
	}
	l->paths[l->n++] = real;
	return 0;
}

static bool is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* @name as execvp finds it (a name with a slash as it is) into @out; false if none. */
static bool find_command(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH"), *p, *end;

	if (strchr(name, '/'))
		return (size_t)snprintf(out, size, "%s", name) < size;
	for (p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; *p; p = end + !!*end) {
		end = strchrnul(p, ':');
		/* An empty PATH entry is the current directory, as for execvp. */
		if ((size_t)snprintf(out, size, "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "",
				     name) < size &&
		    is_executable_file(out))
			return true;
	}
	return false;
}

/* The interpreter a "#!" line names (through "env NAME"), into @out; false if none. */
static bool script_interpreter(const char *path, char *out, size_t size)
{
	char line[256], *tok, *save = NULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return false;
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	tok = strtok_r(line + 2, " \t", &save);
	if (!tok)
		return false;
	if (strcmp(strrchr(tok, '/') ? strrchr(tok, '/') + 1 : tok, "env") == 0) {
		while ((tok = strtok_r(NULL, " \t", &save)) && tok[0] == '-')
			;
		return tok && find_command(tok, out, size);
	}
	return (size_t)snprintf(out, size, "%s", tok) < size;
}

/* The PT_INTERP path of ELF file @path into @out; false if it has none. */
static bool elf_interpreter(const char *path, char *out, size_t size)
{
	GElf_Phdr ph;
	bool found = false;
	size_t n, i;
	Elf *elf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_getphdrnum(elf, &n) == 0) {
		for (i = 0; i < n && !found; i++) {
			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_INTERP ||
			    ph.p_filesz == 0 || ph.p_filesz > size)
				continue;
			found = pread(fd, out, ph.p_filesz, (off_t)ph.p_offset) ==
				    (ssize_t)ph.p_filesz &&
				out[ph.p_filesz - 1] == '\0';
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

/* The C library this process runs on: a shared object named libc.so.* in its maps. */
static int add_own_libc(struct file_list *l)
{
	struct ember_proc_maps *maps;
	struct ember_proc_map m;
	const char *base;
	int err = 0;

	if (ember_proc_maps__open((uint32_t)getpid(), &maps))
		return 0;
	while (ember_proc_maps__next(maps, &m) == 0) {
		base = strrchr(m.path, '/');
		if (base && strncmp(base + 1, "libc.so", 7) == 0 && strchr(m.perms, 'x')) {
			err = add_file(l, m.path);
			break;
		}
	}
	ember_proc_maps__free(maps);
	return err;
}

int cli_command_files(const char *name, char ***paths, size_t *n)
{
	struct file_list l = {calloc(MAX_FILES, sizeof(char *)), 0};
	char exe[PATH_MAX], interp[PATH_MAX];
	int err = 0;

	*paths = NULL;
	*n = 0;
	if (!l.paths)
		return -ENOMEM;
	if (find_command(name, exe, sizeof(exe))) {
		/* A script: what runs is its interpreter (and that one's ld.so). */
		if (script_interpreter(exe, interp, sizeof(interp)))
			snprintf(exe, sizeof(exe), "%s", interp);
		err = add_file(&l, exe);
		if (!err && elf_interpreter(exe, interp, sizeof(interp)))
			err = add_file(&l, interp);
	}
	if (!err)
		err = add_own_libc(&l);
	if (err) {
		cli_command_files_free(l.paths, l.n);
		return err;
	}
	*paths = l.paths;
	*n = l.n;
	return 0;
}

void cli_command_files_free(char **paths, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}
