// SPDX-License-Identifier: MIT
/*
 * What `ember record` and `ember agent` share around the sampler: the
 * capability check before loading it, and one mapping from a collector error
 * to an exit code and a one-line message, so the same kernel answer means the
 * same exit status in every command (README "Exit codes").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include "cli.h"
#include "commands.h"

int cli_check_sampler_privileges(const char *remedy)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {{0}};
	bool bpf, perfmon;

	if (syscall(SYS_capget, &hdr, data) != 0)
		return 0; /* cannot tell: the kernel will say */
#define HAS_CAP(c) ((data[(c) / 32].effective >> ((c) % 32)) & 1)
	/* CAP_SYS_ADMIN implies both (kernels before 5.8 know only it). */
	bpf = HAS_CAP(CAP_BPF) || HAS_CAP(CAP_SYS_ADMIN);
	perfmon = HAS_CAP(CAP_PERFMON) || HAS_CAP(CAP_SYS_ADMIN);
#undef HAS_CAP
	if (bpf && perfmon)
		return 0;
	fprintf(stderr, "ember: missing capability %s: run as root or %s\n",
		!bpf && !perfmon ? "CAP_BPF and CAP_PERFMON"
		: !bpf		 ? "CAP_BPF"
				 : "CAP_PERFMON",
		remedy);
	return EMBER_EXIT_PERMISSION;
}

int cli_sampler_exit_code(enum cli_sampler_step step, int err)
{
	if (step == CLI_SAMPLER_START)
		return err == -EPERM || err == -EACCES ? EMBER_EXIT_PERMISSION : EMBER_EXIT_FAILURE;
	/*
	 * Loading: bpf(2) says -EPERM for missing capabilities; the verifier says
	 * -EACCES or -EINVAL for a program this kernel cannot run.
	 */
	if (err == -EPERM)
		return EMBER_EXIT_PERMISSION;
	if (err == -EACCES || err == -EINVAL || err == -EOPNOTSUPP)
		return EMBER_EXIT_UNSUPPORTED;
	return EMBER_EXIT_FAILURE;
}

int cli_sampler_error(enum cli_sampler_step step, int err)
{
	int code = cli_sampler_exit_code(step, err);

	if (step == CLI_SAMPLER_START)
		fprintf(stderr, "ember: cannot open cpu-clock perf events: %s\n", strerror(-err));
	else if (code == EMBER_EXIT_PERMISSION)
		fprintf(stderr,
			"ember: the kernel refused to load the BPF sampler: %s (needs CAP_BPF and "
			"CAP_PERFMON)\n",
			strerror(-err));
	else if (err == -EOPNOTSUPP)
		fprintf(stderr, "ember: this kernel has no sched_switch tracepoint for BPF (tp_btf "
				"in its BTF): off-CPU and wall-clock profiles need it\n");
	else if (code == EMBER_EXIT_UNSUPPORTED)
		fprintf(stderr,
			"ember: this kernel rejected the BPF sampler (%s); run with -v for the "
			"verifier log\n",
			strerror(-err));
	else
		fprintf(stderr, "ember: cannot set up sampling: %s\n", strerror(-err));
	return code;
}
