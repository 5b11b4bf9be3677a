/* SPDX-License-Identifier: MIT */
/*
 * Private to the pprof writer (pprof_writer.c) and reader (pprof_reader.c):
 * short names for the protobuf-c messages generated from output/profile.proto,
 * and the names by which ember marks what pprof has no field for. The writer
 * emits them and the reader recognizes them, so they live here, once.
 */
#ifndef EMBER_OUTPUT_PPROF_PROTO_H
#define EMBER_OUTPUT_PPROF_PROTO_H

#include "output/profile.pb-c.h"

/* Synthetic mappings of name-only kernel and JIT frames: they carry the frame kind. */
#define KERNEL_MAPPING_NAME "[kernel.kallsyms]"
#define JIT_MAPPING_NAME    "[jit]"
/* A collector counter is a comment "ember.counter NAME=VALUE" (VALUE in decimal). */
#define COUNTER_PREFIX "ember.counter "
/* One comment naming every counter that is 0: "ember.counters.zero a,b,c". */
#define COUNTERS_ZERO_PREFIX "ember.counters.zero "

typedef Perftools__Profiles__Profile PbProfile;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Label PbLabel;
typedef Perftools__Profiles__Mapping PbMapping;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Line PbLine;
typedef Perftools__Profiles__Function PbFunction;
typedef Perftools__Profiles__ValueType PbValueType;

#endif /* EMBER_OUTPUT_PPROF_PROTO_H */
