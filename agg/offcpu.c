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
