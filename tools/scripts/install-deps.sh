#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs every Debian package ember needs to build, test and benchmark, on a
# fresh Debian 12 machine as root. Idempotent: it only runs apt-get when a
# package is missing. Usage: tools/scripts/install-deps.sh [--bench]
set -euo pipefail

BUILD_PKGS=(
	build-essential cmake pkg-config git
	clang llvm bpftool
	libbpf-dev libelf-dev libdw-dev libzstd-dev zlib1g-dev
	libprotobuf-c-dev protobuf-c-compiler libjson-c-dev
	libdebuginfod-dev libiberty-dev binutils libcurl4-openssl-dev libmicrohttpd-dev
)
TEST_PKGS=(
	python3 util-linux elfutils clang-format
	golang-go chromium libxml2-utils time zstd
	debuginfod file xz-utils gzip coreutils
)
BENCH_PKGS=(linux-perf bpftrace hyperfine googletest)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
if [[ "${1:-}" == "--bench" ]]; then
	want+=("${BENCH_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

# Node.js may come from elsewhere than Debian (its nodejs then conflicts with
# Debian's npm): only ask for Debian's when there is no npm at all.
if ! command -v npm >/dev/null 2>&1; then
	missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-deps: run as root to install: ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
