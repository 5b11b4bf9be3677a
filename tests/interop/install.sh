#!/bin/bash
# SPDX-License-Identifier: MIT
# Installs the npm packages the interop tests use (playwright-core,
# pprof-format, speedscope), exactly as package-lock.json pins them, into
# tests/interop/node_modules (git-ignored). Does nothing when already current.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] &&
	[ -d node_modules/playwright-core ] && [ -d node_modules/pprof-format ] &&
	[ -d node_modules/speedscope ]; then
	exit 0
fi
# Several ctests may call this at once under ctest -j: one installs, the others wait.
exec 9>"${TMPDIR:-/tmp}/ember-interop-npm.lock"
flock 9
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ -d node_modules/speedscope ]; then
	exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
