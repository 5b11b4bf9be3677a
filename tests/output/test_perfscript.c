// SPDX-License-Identifier: MIT
/*
 * perf script reader: comm with spaces, pid/tid, kernel and JIT modules,
 * offsets stripped, unknown symbols named after their module, malformed lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "support/support.h"
#include "test.h"

static const char text[] = "# comment\n"
			   "my app 10/11 [003] 5.000001: 1000 cpu-clock:\n"
			   "\tffffffff81000010 do_syscall_64+0x10 ([kernel.kallsyms])\n"
			   "\t    55550000aaaa operator()(int) const+0x1f (/usr/bin/app)\n"
			   "\t    55550000bbbb [unknown] (/usr/lib/libfoo.so.1)\n"
			   "\t    7f0000000001 Lcom/Foo;.run+0x4 (/tmp/perf-10.map)\n"
			   "\n"
			   "my app 10/11 [003] 5.000002: 1000 cpu-clock:\n"
			   "\tffffffff81000010 do_syscall_64+0x10 ([kernel.kallsyms])\n"
			   "\t    55550000aaaa operator()(int) const+0x1f (/usr/bin/app)\n"
			   "\t    55550000bbbb [unknown] (/usr/lib/libfoo.so.1)\n"
			   "\t    7f0000000001 Lcom/Foo;.run+0x4 (/tmp/perf-10.map)\n"
			   "\n"
			   "\tstray frame line (x)\n"
			   "other 12 6.0: 1 cpu-clock:\n"
			   "\tzzzz not hex (y)\n"
			   "\t1234 main (/bin/other)\n";

int main(void)
{
	struct ember_read_opts o = {.sz = sizeof(o), .name = "perf.txt"};
	struct ember_profile *p;
	struct ember_sample s;
	const struct ember_location *l;

	ember_log_set_level(EMBER_LOG_ERROR);
	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(perfscript__read(text, strlen(text), &o, p), 0);
	ASSERT_EQ(profile__total(p), 3);
	ASSERT_EQ(profile__nr_samples(p), 2);
	profile__sample(p, 0, &s);
	ASSERT_STR_EQ(s.process_name, "my app");
	ASSERT_EQ(s.pid, 10);
	ASSERT_EQ(s.tid, 11);
	ASSERT_EQ(s.count, 2);
	ASSERT_EQ(s.nr_locations, 4);
	l = profile__location(p, s.locations[0]);
	ASSERT_STR_EQ(l->frames[0].function, "do_syscall_64");
	ASSERT_EQ(l->frames[0].flags, EMBER_FRAME_KERNEL);
	l = profile__location(p, s.locations[1]);
	ASSERT_STR_EQ(l->frames[0].function, "operator()(int) const");
	l = profile__location(p, s.locations[2]);
	ASSERT_STR_EQ(l->frames[0].function, "[libfoo.so.1]");
	l = profile__location(p, s.locations[3]);
	ASSERT_STR_EQ(l->frames[0].function, "Lcom/Foo;.run");
	ASSERT_EQ(l->frames[0].flags, EMBER_FRAME_JIT);
	profile__sample(p, 1, &s);
	ASSERT_STR_EQ(s.process_name, "other");
	ASSERT_EQ(s.nr_locations, 1);
	profile__free(p);

	o.strict = true;
	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(perfscript__read(text, strlen(text), &o, p), -EINVAL);
	profile__free(p);
	return 0;
}
