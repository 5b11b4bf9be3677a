// SPDX-License-Identifier: MIT
/*
 * Off-CPU bookkeeping at a drain. The sched_switch program stores a thread's
 * stacks in the generation active when it leaves the CPU and counts its time
 * when it comes back, maybe several drains later: every drain carries the
 * stacks of the threads still away into the next generation. Stack keys are
 * hashes of the stacks' contents, so a copy under the same key is what a new
 * switch-out of the same stack would have stored.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>

#include "offcpu.h"
#include "probes/probes.h"
#include "support/support.h"

/* Copies stack @key from generation @old to @old ^ 1. 0, 1 when it could not, -errno. */
static int keep_stack(struct ember_probe *probe, int old, uint64_t key, struct ember_stack *buf)
{
	unsigned int cls = EMBER_STACK_KEY_CLASS(key);
	int from = probe__stacks_fd(probe, old, cls), to = probe__stacks_fd(probe, old ^ 1, cls);

	if (!key || from < 0 || to < 0)
		return 0;
	if (bpf_map_lookup_elem(from, &key, buf))
		return 0; /* not in the drained generation: stored in the new one, or copied */
	if (bpf_map_update_elem(to, &key, buf, BPF_NOEXIST) == 0 || errno == EEXIST)
		return 0;
	return errno == E2BIG || errno == ENOMEM ? 1 : -errno;
}

int offcpu_keep_sleepers(struct ember_probe *probe, int old, struct ember_stack *buf)
{
	int fd = probe__offcpu_fd(probe), failed = 0, err;
	struct ember_offcpu_start st;
	uint32_t tid, next;
	bool first = true;

	while (bpf_map_get_next_key(fd, first ? NULL : &tid, &next) == 0) {
		first = false;
		tid = next;
		if (bpf_map_lookup_elem(fd, &tid, &st) || !st.ts_ns)
			continue; /* gone meanwhile, or on a CPU */
		err = keep_stack(probe, old, st.kstack, buf);
		if (err >= 0) {
			failed += err;
			err = keep_stack(probe, old, st.ustack, buf);
		}
		if (err < 0)
			return err;
		failed += err;
	}
	return failed;
}

/* The process (tgid) and name of thread @tid from /proc; -ENOENT when it is gone. */
static int thread_info(uint32_t tid, uint32_t *tgid, char comm[EMBER_COMM_LEN])
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	memset(comm, 0, EMBER_COMM_LEN);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Name:\t", 6) == 0) {
			size_t len = strcspn(line + 6, "\n");

			memcpy(comm, line + 6, len < EMBER_COMM_LEN - 1 ? len : EMBER_COMM_LEN - 1);
		} else if (sscanf(line, "Tgid: %u", tgid) == 1) {
			found = true;
		}
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

int offcpu_sweep(struct ember_probe *probe, int gen, uint64_t end_ns, uint64_t min_block_ns,
		 bool sched_frames)
{
	int fd = probe__offcpu_fd(probe), counts = probe__counts_fd(probe, gen), added = 0;
	struct ember_offcpu_start st;
	uint32_t tid, next;
	bool first = true;

	while (bpf_map_get_next_key(fd, first ? NULL : &tid, &next) == 0) {
		struct ember_sample_key key;
		__u64 ns, have;

		first = false;
		tid = next;
		if (bpf_map_lookup_elem(fd, &tid, &st) || !st.ts_ns || st.ts_ns >= end_ns)
			continue;
		ns = end_ns - st.ts_ns;
		if (ns < min_block_ns)
			continue;
		memset(&key, 0, sizeof(key));
		key.tid = tid;
		if (thread_info(tid, &key.tgid, key.comm))
			continue; /* exited meanwhile: its last switch came after the detach */
		key.kind = st.kind;
		key.ustack = st.ustack;
		key.ustack_status = st.ustack_status;
		key.kstack = sched_frames ? st.kstack : 0;
		key.kstack_status = sched_frames ? st.kstack_status : EMBER_STACK_NONE;
		if (bpf_map_lookup_elem(counts, &key, &have) == 0)
			ns += have;
		if (bpf_map_update_elem(counts, &key, &ns, BPF_ANY))
			return -errno;
		added++;
	}
	return added;
}
