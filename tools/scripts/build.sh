#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configures and builds ember into build/ (or $BUILD_DIR). Extra arguments go to
# the CMake configure step, e.g. -DEMBER_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
