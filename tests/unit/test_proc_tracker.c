// SPDX-License-Identifier: MIT
/* Unit tests of agg's process tracker: /proc parsing of this very process, container ids. */
#include <unistd.h>

#include <errno.h>

#include "agg/agg.h"
#include "agg/proc_tracker.h"
#include "test.h"

static void test_container_ids(void)
{
	const char *id64 = "4f1e2d3c4b5a69788796a5b4c3d2e1f04f1e2d3c4b5a69788796a5b4c3d2e1f0";
	char cg[512], id[65];

	snprintf(cg, sizeof(cg), "/system.slice/docker-%s.scope", id64);
	ASSERT(proc_tracker__parse_container_id(cg, id, sizeof(id)));
	ASSERT_STR_EQ(id, id64);
	snprintf(cg, sizeof(cg), "/kubepods.slice/kubepods-pod1.slice/cri-containerd-%s.scope",
		 id64);
	ASSERT(proc_tracker__parse_container_id(cg, id, sizeof(id)));
	ASSERT_STR_EQ(id, id64);
	snprintf(cg, sizeof(cg), "/machine.slice/libpod-x/crio-%s.scope", id64);
	ASSERT(proc_tracker__parse_container_id(cg, id, sizeof(id)));
	snprintf(cg, sizeof(cg), "/docker/%s", id64);
	ASSERT(proc_tracker__parse_container_id(cg, id, sizeof(id)));
	ASSERT(!proc_tracker__parse_container_id("/user.slice/user-0.slice/session-1.scope", id,
						 sizeof(id)));
	snprintf(cg, sizeof(cg), "/x/%s0", id64); /* 65 hex digits: not an id */
	ASSERT(!proc_tracker__parse_container_id(cg, id, sizeof(id)));
}

static void this_function(void)
{
}

static void test_scan_self(void)
{
	struct proc_tracker *t;
	const struct proc_mapping *m;
	struct ember_process info;
	uint32_t pid = (uint32_t)getpid();
	uint64_t addr = (uint64_t)(uintptr_t)&this_function;
	uint32_t *reaped = NULL;
	size_t nr_reaped = 0;

	ASSERT_EQ(proc_tracker__new(&t), 0);
	ASSERT_EQ(proc_tracker__scan(t, pid, "fallback", false), 0);
	ASSERT(proc_tracker__known(t, pid));
	m = proc_tracker__find(t, pid, addr);
	ASSERT(m != NULL);
	ASSERT(m->start <= addr && addr < m->end);
	ASSERT(strstr(m->path, "test_proc_tracker") != NULL);
	ASSERT(m->build_id != NULL && strlen(m->build_id) == 40);
	ASSERT(proc_tracker__find(t, pid, 8) == NULL);
	{
		const struct proc_mapping *maps;
		size_t n = proc_tracker__mappings(t, pid, &maps);

		/* A rescan without exec replaces the newest scan instead of adding one. */
		ASSERT_GT(n, 2);
		ASSERT_EQ(proc_tracker__scan(t, pid, "fallback", false), 0);
		ASSERT_EQ(proc_tracker__mappings(t, pid, &maps), n);
		ASSERT_EQ(proc_tracker__scan(t, pid, "fallback", true), 0);
		ASSERT_EQ(proc_tracker__mappings(t, pid, &maps), n);
		/*
		 * After an exec rescan the address resolves through the newest scan:
		 * one of its mappings, and the one that holds the address.
		 */
		m = proc_tracker__find(t, pid, addr);
		ASSERT(m != NULL);
		ASSERT(m >= maps && m < maps + n);
		ASSERT(m->start <= addr && addr < m->end);
		ASSERT(strstr(m->path, "test_proc_tracker") != NULL);
	}
	ASSERT(proc_tracker__process(t, pid, &info));
	ASSERT(strstr(info.exe, "test_proc_tracker") != NULL);
	ASSERT(info.cgroup != NULL);
	/* Exit handling: kept through the next reap, gone after the one after,
	 * and reported as reaped by that one only. */
	ASSERT_EQ(proc_tracker__take_reaped(t, &reaped, &nr_reaped), 0);
	ASSERT_EQ(nr_reaped, 0);
	proc_tracker__exited(t, pid);
	proc_tracker__reap(t);
	ASSERT(proc_tracker__known(t, pid));
	ASSERT_EQ(proc_tracker__take_reaped(t, &reaped, &nr_reaped), 0);
	ASSERT_EQ(nr_reaped, 0);
	proc_tracker__reap(t);
	ASSERT(!proc_tracker__known(t, pid));
	ASSERT_EQ(proc_tracker__take_reaped(t, &reaped, &nr_reaped), 0);
	ASSERT_EQ(nr_reaped, 1);
	ASSERT_EQ(reaped[0], pid);
	free(reaped);
	ASSERT_EQ(proc_tracker__take_reaped(t, &reaped, &nr_reaped), 0);
	ASSERT_EQ(nr_reaped, 0);
	ASSERT_EQ(proc_tracker__scan(t, 0x7ffffff0, "gone", false), -ESRCH);
	ASSERT_STR_EQ(proc_tracker__name(t, 0x7ffffff0), "gone");
	proc_tracker__free(t);
}

int main(void)
{
	test_container_ids();
	test_scan_self();
	return 0;
}
