#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Quick start: installs dependencies, builds ember, and records a 10-second
# system-wide profile as a flamegraph (ember.svg) in the current directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/tools/scripts/install-deps.sh"
"$root/tools/scripts/build.sh"
out=${EMBER_QUICKSTART_OUTPUT:-ember.svg}
"$root/build/ember" record -a -d 10 -o "$out"
echo "quickstart: open $out in a browser"
