#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Cost of `ember agent` with its default settings on a loaded host (issue 12,
# acceptance 5): one xz per CPU, 20 new processes a second burning 30 ms each,
# and a Python loop. Per frequency: CPU of the first window (exec to first window
# file, BPF load and program run time included), steady CPU as a share of one
# core and RSS after it, and the CPU of a SIGHUP that changes the frequency.
# tools/bench/agent_overhead/measure.py says how each figure is taken. Needs root.
#
# Usage: tools/bench/agent_overhead.sh [DURATION_S] [FREQ...]
#        (defaults: 300 s, 19 and 99 Hz; EMBER=path/to/ember, default build/ember;
#        CHURN_BURN, default build/tests/agent/churn_burn; logs in $LOGDIR, default
#        /tmp; AGENT_ARGS adds flags, e.g. AGENT_ARGS="--symbolize none")
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-300}
shift || true
ember=${EMBER:-build/ember}
churn=${CHURN_BURN:-build/tests/agent/churn_burn}
[ -x "$churn" ] || { echo "agent_overhead.sh: no $churn (build the tests)" >&2; exit 1; }
exec python3 tools/bench/agent_overhead/measure.py "$(realpath "$ember")" "$(realpath "$churn")" \
	"$duration" "$@"
