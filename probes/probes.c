// SPDX-License-Identifier: MIT
/*
 * Loading and attaching the sampler skeleton. Settings go into rodata between
 * open and load; map sizes are set before load so a probe costs only what the
 * caller asked for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "probes/probes.h"
#include "sampler.skel.h"
#include "support/support.h"

_Static_assert(sizeof(struct ember_sample_key) == 48, "sample key layout");
_Static_assert(sizeof(struct ember_stack) == 8 + 8 * EMBER_MAX_STACK_DEPTH, "stack layout");
_Static_assert(sizeof(struct ember_stack_small) == 8 + 8 * EMBER_STACK_SMALL_FRAMES,
	       "small stack layout");
_Static_assert(sizeof(struct ember_stack_medium) == 8 + 8 * EMBER_STACK_MEDIUM_FRAMES,
	       "medium stack layout");
_Static_assert(EMBER_MAX_KERNEL_FRAMES <= EMBER_STACK_MEDIUM_FRAMES,
	       "a kernel stack fits the medium class");
_Static_assert(sizeof(struct ember_proc_event) == 32, "event layout");
_Static_assert(sizeof(struct ember_offcpu_start) == 32, "off-CPU stamp layout");
_Static_assert(sizeof(struct ember_generation) == 8, "generation layout");
_Static_assert(sizeof(struct ember_inflight) == 64, "inflight slot: one cache line");
_Static_assert(sizeof(struct ember_unwind_row) == 8, "unwind row layout");
_Static_assert(sizeof(struct ember_unwind_file) == 16 + 24 * EMBER_MAX_FILE_SEGMENTS,
	       "unwind file layout");
_Static_assert(sizeof(struct ember_unwind_proc) == 16 + 32 * EMBER_MAX_UNWIND_MAPPINGS,
	       "unwind proc layout");

struct ember_probe {
	struct sampler_bpf *skel;
	struct bpf_link **links; /* one per attached perf event */
	size_t nr_links, cap_links;
	struct bpf_link *tp_links[4];	 /* fork, exec, exit, prepare_exec */
	struct bpf_link *ldso_link;	 /* uprobe on ld.so's _dl_debug_state (tables on) */
	struct bpf_link *switch_link;	 /* sched_switch, off-CPU time */
	struct ember_inflight *inflight; /* mmap of the per-CPU inflight slots */
	uint32_t nr_inflight;
	size_t inflight_bytes;
	uint32_t nr_rows; /* unwind_rows entries, when tables are on; else 0 */
	struct ember_probe_load_info load_info;
};

static int set_entries(struct bpf_map *map, uint32_t n)
{
	int err = n ? bpf_map__set_max_entries(map, n) : 0;

	if (err)
		pr_err("cannot size map %s to %u entries: %d", bpf_map__name(map), n, err);
	return err;
}

/* mmap of the per-CPU inflight slots, which the drain reads while sampling runs. */
static int map_inflight(struct ember_probe *p)
{
	long page = sysconf(_SC_PAGESIZE);

	p->nr_inflight = bpf_map__max_entries(p->skel->maps.inflight);
	p->inflight_bytes = ((size_t)p->nr_inflight * sizeof(*p->inflight) + (size_t)page - 1) &
			    ~((size_t)page - 1);
	p->inflight = mmap(NULL, p->inflight_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
			   bpf_map__fd(p->skel->maps.inflight), 0);
	if (p->inflight == MAP_FAILED) {
		int err = -errno;

		p->inflight = NULL;
		pr_err("cannot mmap the inflight slots: %d", err);
		return err;
	}
	return 0;
}

/*
 * The kernel's perf_event_max_stack sysctl: bpf_get_stack returns at most that
 * many frames, whatever the buffer. 127 (the kernel's default) when unreadable.
 */
static uint32_t perf_max_stack(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_max_stack", "re");
	unsigned int v = 0;

	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v ? v : 127;
}

/*
 * Entries of each stack size class's map for @entries unique stacks per
 * generation: all of them may be short, half up to 128 frames, an eighth up to
 * 512 (a full class spills into the next larger one). The collector's default
 * is twice the samples of a drain window (a kernel and a user stack each), so
 * every sample of a window can have a unique user stack of up to 128 frames,
 * and a quarter of them one deeper than that. In bytes of values that is
 * 264 + 1032 / 2 + 4104 / 8 = 1293 per entry, against 1024 for the single
 * 127-frame class before and 4104 for one 512-frame class.
 */
static int set_stack_entries(struct sampler_bpf *skel, uint32_t entries)
{
	uint32_t medium = entries ? (entries + 1) / 2 : 0, large = entries ? (entries + 7) / 8 : 0;
	int err;

	err = set_entries(skel->maps.stacks_small0, entries);
	err = err ?: set_entries(skel->maps.stacks_small1, entries);
	err = err ?: set_entries(skel->maps.stacks_medium0, medium);
	err = err ?: set_entries(skel->maps.stacks_medium1, medium);
	err = err ?: set_entries(skel->maps.stacks_large0, large);
	return err ?: set_entries(skel->maps.stacks_large1, large);
}

/* The verifier's instruction count for the sampler: its share of the load time. */
static uint32_t verified_insns(struct bpf_program *prog)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	if (!bpf_program__autoload(prog))
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len)) {
		pr_debug("cannot read the program info of %s: %d", bpf_program__name(prog), -errno);
		return 0;
	}
	return info.verified_insns;
}

static void read_verified_insns(struct ember_probe *p)
{
	p->load_info.verified_insns = verified_insns(p->skel->progs.ember_sample);
	p->load_info.switch_verified_insns = verified_insns(p->skel->progs.ember_switch);
}

/*
 * Whether the kernel has tracepoint @name for tp_btf programs: its BTF has the
 * btf_trace_NAME typedef the verifier attaches by. A missing one would fail
 * deep in the load with an errno that says nothing of the cause.
 */
static int check_tracepoint(const char *name)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	char type[128];
	int found, err;

	if (!vmlinux) {
		err = -errno;
		pr_err("cannot read the kernel's BTF: %d", err);
		return err;
	}
	snprintf(type, sizeof(type), "btf_trace_%s", name);
	found = btf__find_by_name_kind(vmlinux, type, BTF_KIND_TYPEDEF);
	btf__free(vmlinux);
	if (found < 0) {
		pr_debug("no %s in the kernel's BTF", type);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Whether the kernel's BTF has the tp_btf tracepoint @name (btf_trace_NAME). */
static bool kernel_has_tracepoint(const char *name)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	char type[128];
	bool found;

	if (!vmlinux)
		return true; /* let the load say what is wrong */
	snprintf(type, sizeof(type), "btf_trace_%s", name);
	found = btf__find_by_name_kind(vmlinux, type, BTF_KIND_TYPEDEF) > 0;
	btf__free(vmlinux);
	return found;
}

int probe__new(const struct ember_probe_opts *opts, struct ember_probe **out)
{
	struct ember_probe_opts o = {0};
	struct ember_probe *p;
	uint32_t max_stack;
	uint64_t t0;
	int err;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->skel = sampler_bpf__open();
	if (!p->skel) {
		err = -errno;
		pr_err("cannot open the BPF sampler: %d", err);
		goto err_out;
	}
	p->skel->rodata->filter_mode = o.filter;
	p->skel->rodata->target_cgroup_id = o.cgroup_id;
	p->skel->rodata->follow_children = o.follow_children;
	p->skel->rodata->collect_kernel = !o.no_kernel_stacks;
	p->skel->rodata->collect_user = !o.no_user_stacks;
	p->skel->rodata->include_idle = o.include_idle;
	p->skel->rodata->unwind_mode = o.unwind;
	p->skel->rodata->fp_fallback = !o.no_fp_fallback;
	p->skel->rodata->min_block_ns = o.min_block_ns;
	p->skel->rodata->sched_frames = o.sched_frames;
	/* What a profile does not use is not verified: verification is start-up time. */
	if (o.off_cpu) {
		const char *tp = o.switch_tracepoint ? o.switch_tracepoint : "sched_switch";

		err = check_tracepoint(tp);
		if (!err && o.switch_tracepoint)
			err = bpf_program__set_attach_target(p->skel->progs.ember_switch, 0, tp);
		if (err)
			goto err_out;
	}
	err = bpf_program__set_autoload(p->skel->progs.ember_switch, o.off_cpu);
	err = err ?: bpf_program__set_autoload(p->skel->progs.ember_sample, !o.no_sampler);
	if (err)
		goto err_out;
	max_stack = perf_max_stack();
	p->skel->rodata->kernel_max_frames =
	    max_stack < EMBER_MAX_KERNEL_FRAMES ? max_stack : EMBER_MAX_KERNEL_FRAMES;
	p->skel->rodata->fp_user_max_frames =
	    max_stack < EMBER_MAX_USER_FRAMES ? max_stack : EMBER_MAX_USER_FRAMES;
	/* Without tables the rows array is not used: keep it at one page. */
	if (o.unwind != EMBER_UNWIND_TABLES)
		o.unwind_rows = 512;
	err = set_entries(p->skel->maps.counts0, o.counts_entries);
	err = err ?: set_entries(p->skel->maps.counts1, o.counts_entries);
	err = err ?: set_stack_entries(p->skel, o.stacks_entries);
	err = err ?: set_entries(p->skel->maps.target_pids, o.targets_entries);
	err = err ?: set_entries(p->skel->maps.unwind_rows, o.unwind_rows);
	err = err ?: set_entries(p->skel->maps.unwind_procs, o.unwind_procs);
	/* Without off-CPU time the threads map is not used: keep it small. */
	err = err ?: set_entries(p->skel->maps.offcpu_start, o.off_cpu ? o.offcpu_threads : 1);
	err = err ?: set_entries(p->skel->maps.inflight, (uint32_t)libbpf_num_possible_cpus());
	if (err)
		goto err_out;
	/* sched_prepare_exec is Linux 6.10's: older kernels sample without the
	 * "[no user stack: in execve]" marker rather than not at all. */
	if (!kernel_has_tracepoint("sched_prepare_exec")) {
		pr_debug("no sched_prepare_exec tracepoint: samples inside execve are not marked");
		bpf_program__set_autoload(p->skel->progs.ember_prepare_exec, false);
	}
	t0 = ember_now_mono_ns();
	err = sampler_bpf__load(p->skel);
	if (err) {
		pr_err("cannot load the BPF sampler: %d", err);
		goto err_out;
	}
	p->load_info.load_ns = ember_now_mono_ns() - t0;
	read_verified_insns(p);
	err = map_inflight(p);
	if (err)
		goto err_out;
	if (o.unwind == EMBER_UNWIND_TABLES)
		p->nr_rows = bpf_map__max_entries(p->skel->maps.unwind_rows);
	*out = p;
	return 0;
err_out:
	probe__free(p);
	return err;
}

void probe__free(struct ember_probe *p)
{
	size_t i;

	if (!p)
		return;
	probe__detach_perf_events(p);
	for (i = 0; i < 4; i++)
		bpf_link__destroy(p->tp_links[i]);
	bpf_link__destroy(p->ldso_link);
	probe__detach_switch(p);
	free(p->links);
	if (p->inflight)
		munmap(p->inflight, p->inflight_bytes);
	sampler_bpf__destroy(p->skel);
	free(p);
}

/* The path of the dynamic loader ember itself runs under: the host's. NULL when not found. */
static char *own_ldso(void)
{
	char line[4096], *path = NULL;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return NULL;
	while (!path && fgets(line, sizeof(line), f)) {
		char *slash = strchr(line, '/'), *nl;

		if (!slash || !strstr(slash, "/ld-linux"))
			continue;
		nl = strchr(slash, '\n');
		if (nl)
			*nl = '\0';
		path = strdup(slash);
	}
	fclose(f);
	return path;
}

/*
 * The uprobe that republishes a process by file once ld.so has mapped its
 * libraries (sampler_files.bpf.h). Optional: without it (a static ember, a
 * loader without the symbol) a new library is found one per sample.
 */
static void attach_ldso(struct ember_probe *p)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = "_dl_debug_state");
	char *path = own_ldso();

	if (!path) {
		pr_debug("no ld.so in /proc/self/maps: libraries are found by file, one a sample");
		return;
	}
	p->ldso_link =
	    bpf_program__attach_uprobe_opts(p->skel->progs.ember_ldso_state, -1, path, 0, &uo);
	if (!p->ldso_link)
		pr_debug("cannot attach to %s's _dl_debug_state: %d", path, -errno);
	free(path);
}

int probe__attach_tracepoints(struct ember_probe *p)
{
	struct bpf_program *progs[4] = {p->skel->progs.ember_fork, p->skel->progs.ember_exec,
					p->skel->progs.ember_exit,
					p->skel->progs.ember_prepare_exec};
	int i, err;

	for (i = 0; i < 4; i++) {
		if (p->tp_links[i] || !bpf_program__autoload(progs[i]))
			continue;
		p->tp_links[i] = bpf_program__attach(progs[i]);
		if (!p->tp_links[i]) {
			err = -errno;
			pr_err("cannot attach %s: %d", bpf_program__name(progs[i]), err);
			return err;
		}
	}
	if (!p->ldso_link && p->skel->rodata->unwind_mode == EMBER_UNWIND_TABLES)
		attach_ldso(p);
	return 0;
}

int probe__attach_switch(struct ember_probe *p)
{
	int err;

	if (p->switch_link)
		return 0;
	if (!bpf_program__autoload(p->skel->progs.ember_switch))
		return -EINVAL;
	p->switch_link = bpf_program__attach(p->skel->progs.ember_switch);
	if (!p->switch_link) {
		err = -errno;
		pr_err("cannot attach the off-CPU program to tp_btf/sched_switch: %d", err);
		return err;
	}
	return 0;
}

void probe__detach_switch(struct ember_probe *p)
{
	bpf_link__destroy(p->switch_link);
	p->switch_link = NULL;
}

int probe__attach_perf_event(struct ember_probe *p, int perf_fd)
{
	struct bpf_link *link;
	int err;

	err = ember_grow((void **)&p->links, &p->cap_links, p->nr_links + 1, sizeof(*p->links));
	if (err)
		return err;
	link = bpf_program__attach_perf_event(p->skel->progs.ember_sample, perf_fd);
	if (!link) {
		err = -errno;
		pr_err("cannot attach the sampler to perf event fd %d: %d", perf_fd, err);
		return err;
	}
	p->links[p->nr_links++] = link;
	return 0;
}

void probe__detach_perf_events(struct ember_probe *p)
{
	size_t i;

	for (i = 0; i < p->nr_links; i++)
		bpf_link__destroy(p->links[i]);
	p->nr_links = 0;
}

int probe__add_target(struct ember_probe *p, uint32_t tgid)
{
	__u8 yes = 1;
	int err;

	err = bpf_map_update_elem(bpf_map__fd(p->skel->maps.target_pids), &tgid, &yes, BPF_ANY);
	return err ? -errno : 0;
}

int probe__counts_fd(const struct ember_probe *p, int gen)
{
	return bpf_map__fd(gen ? p->skel->maps.counts1 : p->skel->maps.counts0);
}

int probe__stacks_fd(const struct ember_probe *p, int gen, unsigned int cls)
{
	struct sampler_bpf *s = p->skel;

	switch (cls) {
	case EMBER_STACK_CLASS_SMALL:
		return bpf_map__fd(gen ? s->maps.stacks_small1 : s->maps.stacks_small0);
	case EMBER_STACK_CLASS_MEDIUM:
		return bpf_map__fd(gen ? s->maps.stacks_medium1 : s->maps.stacks_medium0);
	case EMBER_STACK_CLASS_LARGE:
		return bpf_map__fd(gen ? s->maps.stacks_large1 : s->maps.stacks_large0);
	default:
		return -EINVAL;
	}
}

int probe__stats_fd(const struct ember_probe *p)
{
	return bpf_map__fd(p->skel->maps.stats);
}

int probe__events_fd(const struct ember_probe *p)
{
	return bpf_map__fd(p->skel->maps.events);
}

int probe__offcpu_fd(const struct ember_probe *p)
{
	return bpf_map__fd(p->skel->maps.offcpu_start);
}

/* Rows per BPF_MAP_UPDATE_BATCH call: 32 KiB of keys, 64 KiB of rows. */
#define ROWS_PER_BATCH 8192u

int probe__write_unwind_rows(struct ember_probe *p, uint32_t first,
			     const struct ember_unwind_row *rows, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	int fd = bpf_map__fd(p->skel->maps.unwind_rows);
	uint32_t done = 0, i, *keys;
	int err = 0;

	if (first > p->nr_rows || n > p->nr_rows - first)
		return -ERANGE;
	keys = malloc((n < ROWS_PER_BATCH ? n : ROWS_PER_BATCH) * sizeof(*keys) + 1);
	if (!keys)
		return -ENOMEM;
	while (done < n && !err) {
		__u32 count = n - done < ROWS_PER_BATCH ? n - done : ROWS_PER_BATCH;

		for (i = 0; i < count; i++)
			keys[i] = first + done + i;
		err = bpf_map_update_batch(fd, keys, rows + done, &count, &opts);
		done += count;
	}
	free(keys);
	return err;
}

uint32_t probe__unwind_nr_rows(const struct ember_probe *p)
{
	return p->nr_rows;
}

int probe__unwind_procs_fd(const struct ember_probe *p)
{
	return bpf_map__fd(p->skel->maps.unwind_procs);
}

int probe__unwind_files_fd(const struct ember_probe *p)
{
	return bpf_map__fd(p->skel->maps.unwind_files);
}

struct ember_inflight *probe__inflight(struct ember_probe *p, uint32_t *nr)
{
	*nr = p->nr_inflight;
	return p->inflight;
}

void probe__load_info(const struct ember_probe *p, struct ember_probe_load_info *out)
{
	*out = p->load_info;
}

struct ember_generation *probe__generation(struct ember_probe *p)
{
	return &p->skel->bss->gen;
}
