/* SPDX-License-Identifier: MIT */
/*
 * The libFuzzer entry point every fuzz target defines; the corpus replay driver
 * (replay.c) calls it, for targets of any module.
 */
#ifndef EMBER_FUZZ_ENTRY_H
#define EMBER_FUZZ_ENTRY_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* EMBER_FUZZ_ENTRY_H */
