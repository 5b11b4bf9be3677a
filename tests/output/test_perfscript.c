// SPDX-License-Identifier: MIT
/*
 * perf script reader: comm with spaces, pid/tid, kernel and JIT modules,
 * offsets stripped, unknown symbols named after their module, malformed lines;
 * every header layout perf prints (no time, tid only, no event, modifiers),
 * frames without indentation, vmlinux and module paths as kernel code, events
 * chosen one at a time, records weighted by their period.
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

/* Reads @t into a new profile with @o; returns it. */
static struct ember_profile *read_text(const char *t, const struct ember_read_opts *o)
{
	struct ember_profile *p;

	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(perfscript__read(t, strlen(t), o, p), 0);
	return p;
}

/* The function of frame @i of sample @k. */
static const struct ember_frame *frame(const struct ember_profile *p, size_t k, uint32_t i)
{
	struct ember_sample s;

	profile__sample(p, k, &s);
	ASSERT_LT(i, s.nr_locations);
	return &profile__location(p, s.locations[i])->frames[0];
}

static void test_layouts(void)
{
	struct ember_read_opts o = {.sz = sizeof(o), .name = "layouts.txt", .strict = true};
	/* Older perf, or -F without time: no time field; modifiers on the event. */
	static const char no_time[] = "java  3244 cycles:u:\n"
				      "\t7f0000001000 Interpreter (/tmp/perf-3244.map)\n"
				      "\t55550000aaaa main (/usr/bin/java)\n"
				      "\n"
				      "java  3244 cycles:u:\n"
				      "\t55550000aaaa main (/usr/bin/java)\n";
	/* -F comm,tid,ip,sym,dso: no cpu, time, period or event. */
	static const char tid_only[] =
	    "sh 12345\n"
	    "\tffffffffc0a01234 ext4_read+0x4 (/lib/modules/6.1.0-28-amd64/"
	    "kernel/fs/ext4/ext4.ko)\n"
	    "\tffffffff81000010 vfs_read (/lib/modules/6.1.0-28-amd64/build/"
	    "vmlinux)\n"
	    "\t55550000cccc read (/usr/lib/x86_64-linux-gnu/libc.so.6)\n";
	/* A sample perf could not give a thread: comm ":-1", tid -1. */
	static const char unknown[] = ":-1    -1 [000] 23268.233536:     250000 cpu-clock: \n"
				      "\tffffffff81000010 do_exit ([kernel.kallsyms])\n"
				      "\n"
				      "app 7/7 [001] 23268.233600:     250000 cpu-clock: \n"
				      "\t55550000aaaa main (/usr/bin/app)\n";
	/* Frame lines without indentation (some -F layouts). */
	static const char unindented[] = "app 7/7 [000] 1.500000: 250000 cpu-clock:\n"
					 "ffffffff81000010 do_idle+0x10 ([kernel.kallsyms])\n"
					 "55550000aaaa main+0x2 (/usr/bin/app)\n"
					 "\n"
					 "app 7/7 [001] 1.750000: 250000 cpu-clock:\n"
					 "55550000aaaa main+0x2 (/usr/bin/app)\n";
	struct ember_profile *p;
	struct ember_sample s;

	p = read_text(no_time, &o);
	ASSERT_EQ(profile__total(p), 2);
	ASSERT_EQ(profile__nr_samples(p), 2);
	profile__sample(p, 0, &s);
	ASSERT_STR_EQ(s.process_name, "java");
	ASSERT_EQ(s.tid, 3244);
	ASSERT_EQ(frame(p, 0, 0)->flags, EMBER_FRAME_JIT);
	profile__free(p);

	p = read_text(tid_only, &o);
	ASSERT_EQ(profile__total(p), 1);
	profile__sample(p, 0, &s);
	ASSERT_STR_EQ(s.process_name, "sh");
	ASSERT_EQ(s.tid, 12345);
	ASSERT_EQ(s.nr_locations, 3);
	ASSERT_STR_EQ(frame(p, 0, 0)->function, "ext4_read");
	ASSERT_EQ(frame(p, 0, 0)->flags, EMBER_FRAME_KERNEL);
	ASSERT_STR_EQ(frame(p, 0, 1)->function, "vfs_read");
	ASSERT_EQ(frame(p, 0, 1)->flags, EMBER_FRAME_KERNEL);
	ASSERT_EQ(frame(p, 0, 2)->flags, 0);
	profile__free(p);

	p = read_text(unknown, &o);
	ASSERT_EQ(profile__total(p), 500000);
	profile__sample(p, 0, &s);
	ASSERT_STR_EQ(s.process_name, ":-1");
	ASSERT_EQ(s.tid, 0);
	profile__free(p);

	p = read_text(unindented, &o);
	ASSERT_EQ(profile__total(p), 500000);
	ASSERT_EQ(profile__nr_samples(p), 2);
	profile__sample(p, 0, &s);
	ASSERT_EQ(s.nr_locations, 2);
	ASSERT_STR_EQ(frame(p, 0, 0)->function, "do_idle");
	ASSERT_STR_EQ(frame(p, 0, 1)->function, "main");
	profile__free(p);
}

/* Layouts perf 6.1 prints that the reader once misread. */
static void test_perf61(void)
{
	struct ember_read_opts o = {.sz = sizeof(o), .name = "perf61.txt", .strict = true};
	/* -F tid,ip,sym: no comm, the tid right-aligned (%5d), frames without dso. */
	static const char tid_first[] = "    0 \n"
					"\tffffffff81e1b4a4 pv_native_safe_halt\n"
					"\n"
					"16913 \n"
					"\t    55550000aaaa spin_here\n"
					"\t          676728 [unknown]\n";
	/* A deleted file's module: "(/memfd:x (deleted))". */
	static const char deleted[] = "app 7 cpu-clock:\n"
				      "\t7f0000001000 [unknown] (/memfd:sealed-9117 (deleted))\n"
				      "\t55550000aaaa main+0x2 (/usr/bin/app)\n";
	/* A frame line with a decimal address after a blank line is no header. */
	static const char stray[] = "16913 \n"
				    "\t55550000aaaa spin_here\n"
				    "\n"
				    "\t676728 [unknown] (/usr/bin/app)\n";
	struct ember_profile *p;
	struct ember_sample s;

	p = read_text(tid_first, &o);
	ASSERT_EQ(profile__nr_samples(p), 2);
	profile__sample(p, 0, &s);
	ASSERT_EQ(s.tid, 0);
	ASSERT_STR_EQ(frame(p, 0, 0)->function, "pv_native_safe_halt");
	ASSERT_EQ(frame(p, 0, 0)->flags, EMBER_FRAME_KERNEL);
	profile__sample(p, 1, &s);
	ASSERT_EQ(s.tid, 16913);
	ASSERT_EQ(s.nr_locations, 2);
	ASSERT_STR_EQ(frame(p, 1, 0)->function, "spin_here");
	profile__free(p);

	p = read_text(deleted, &o);
	ASSERT_STR_EQ(frame(p, 0, 0)->function, "[memfd:sealed-9117 (deleted)]");
	ASSERT_STR_EQ(frame(p, 0, 1)->function, "main");
	profile__free(p);

	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(perfscript__read(stray, strlen(stray), &o, p), -EINVAL);
	profile__free(p);
}

static void test_events(void)
{
	struct ember_read_opts o = {.sz = sizeof(o), .name = "events.txt", .strict = true};
	/* perf record -e cpu-clock -e page-faults: two events, periods of each. */
	static const char two[] = "app 7/7 [000] 1.0: 250000 cpu-clock:\n"
				  "\t55550000aaaa work (/usr/bin/app)\n"
				  "\n"
				  "app 7/7 [000] 1.1: 36 page-faults:\n"
				  "\t55550000bbbb fill (/usr/bin/app)\n"
				  "\n"
				  "app 7/7 [000] 1.2: 250000 cpu-clock:\n"
				  "\t55550000aaaa work (/usr/bin/app)\n"
				  "\n"
				  "app 7/7 [000] 1.3: 4 page-faults:\n"
				  "\t55550000cccc other (/usr/bin/app)\n";
	/* Some records without a period (a hand-merged file): counted one each. */
	static const char some[] = "app 7/7 [000] 1.0: 100 cpu-clock:\n"
				   "\t55550000aaaa work (/usr/bin/app)\n"
				   "\n"
				   "app 7/7 [000] 1.1: cpu-clock:\n"
				   "\t55550000aaaa work (/usr/bin/app)\n";
	struct ember_profile *p;

	p = read_text(two, &o);
	ASSERT_EQ(profile__total(p), 500000);
	ASSERT_EQ(profile__nr_samples(p), 1);
	ASSERT_STR_EQ(frame(p, 0, 0)->function, "work");
	profile__free(p);

	o.event = "page-faults";
	p = read_text(two, &o);
	ASSERT_EQ(profile__total(p), 40);
	ASSERT_EQ(profile__nr_samples(p), 2);
	profile__free(p);

	o.event = "cycles";
	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(perfscript__read(two, strlen(two), &o, p), -EINVAL);
	profile__free(p);
	o.event = NULL;

	p = read_text(some, &o);
	ASSERT_EQ(profile__total(p), 2);
	profile__free(p);
	o.weight = EMBER_WEIGHT_PERIOD;
	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(perfscript__read(some, strlen(some), &o, p), -EINVAL);
	profile__free(p);
}

int main(void)
{
	struct ember_read_opts o = {.sz = sizeof(o), .name = "perf.txt"};
	struct ember_profile *p;
	struct ember_sample s;
	const struct ember_location *l;

	ember_log_set_level(EMBER_LOG_ERROR);
	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(perfscript__read(text, strlen(text), &o, p), 0);
	/* Every record has a period: each counts it (1000 + 1000 + 1). */
	ASSERT_EQ(profile__total(p), 2001);
	ASSERT_EQ(profile__nr_samples(p), 2);
	profile__sample(p, 0, &s);
	ASSERT_STR_EQ(s.process_name, "my app");
	ASSERT_EQ(s.pid, 10);
	ASSERT_EQ(s.tid, 11);
	ASSERT_EQ(s.count, 2000);
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
	/* A lone number is the thread id. */
	ASSERT_EQ(s.pid, 0);
	ASSERT_EQ(s.tid, 12);
	profile__free(p);

	/* One per record when asked. */
	o.weight = EMBER_WEIGHT_SAMPLES;
	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(perfscript__read(text, strlen(text), &o, p), 0);
	ASSERT_EQ(profile__total(p), 3);
	profile__free(p);
	o.weight = EMBER_WEIGHT_AUTO;

	test_layouts();
	test_events();
	test_perf61();

	o.strict = true;
	ASSERT_EQ(profile__new(&p), 0);
	ASSERT_EQ(perfscript__read(text, strlen(text), &o, p), -EINVAL);
	profile__free(p);
	return 0;
}
