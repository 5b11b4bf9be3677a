#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark for issue 9, acceptance 3: how long a profiler takes to start sampling
# ("attached") and to deliver a whole 10 ms system-wide profile ("written"), for
# `ember record --unwind auto` and `--unwind fp`, bpftrace and `perf record`, in turn,
# RUNS rounds; medians and ratios to bpftrace. What each figure means exactly is in
# tools/bench/startup/measure.py. Needs root.
#   EMBER=PATH  ember binary (default: build/ember, built with tools/scripts/build.sh)
#   RUNS=7      rounds
#   CONFIGS="ember-auto ember-fp bpftrace perf"
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/tools/scripts/install-deps.sh" --bench >&2
if [[ -z "${EMBER:-}" ]]; then
	(cd "$root" && tools/scripts/build.sh >/dev/null)
	EMBER="$root/build/ember"
fi
export EMBER
echo "startup: $(uname -r), $(nproc) CPUs, ember $EMBER, $(bpftrace --version), $(perf --version)" >&2
exec python3 "$root/tools/bench/startup/measure.py"
