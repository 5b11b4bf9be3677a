/* SPDX-License-Identifier: MIT */
/*
 * Shared by the output/ fuzz targets: after a reader accepts the input, every
 * writer must handle the profile it built (readers make shapes the recorder
 * never does), and the pprof writer's output must read back.
 */
#ifndef EMBER_FUZZ_H
#define EMBER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_entry.h"
#include "output/output.h"

/* Runs the writers over @p; aborts when a writer fails other than -ENOMEM. */
void fuzz_write_all(const struct ember_profile *p);

#endif /* EMBER_FUZZ_H */
