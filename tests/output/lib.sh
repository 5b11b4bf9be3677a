# SPDX-License-Identifier: MIT
# Shared setup of the tests/output shell tests: $EMBER (the binary, from ctest),
# $SRC (source root), $DATA (inputs), $T (a scratch directory removed on exit),
# $ARTIFACTS (kept after the run: screenshots; ctest sets build/test-artifacts/output),
# skip() and need().
set -euo pipefail
: "${EMBER:?EMBER must point at the ember binary (ctest sets it)}"
case $EMBER in /*) ;; *) EMBER=$PWD/$EMBER ;; esac
SRC=${EMBER_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DATA=$SRC/tests/output/data
EXPECTED=$SRC/tests/output/expected
ARTIFACTS=${EMBER_ARTIFACTS:-${TMPDIR:-/tmp}/ember-test-artifacts}
mkdir -p "$ARTIFACTS"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

need() {
	command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed (see tools/scripts/install-deps.sh)"
}

# npm packages of tests/interop (pinned by its package-lock.json).
npm_deps() {
	need node
	need npm
	bash "$SRC/tests/interop/install.sh" >&2 || skip "npm packages of tests/interop could not be installed"
}
