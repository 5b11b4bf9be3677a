#!/bin/bash
# SPDX-License-Identifier: MIT
# speedscope (npm) loads ember's pprof and speedscope JSON: its page and the
# profile are served from one 127.0.0.1 server and opened in headless Chromium
# with #profileURL=. Screenshots are kept in $ARTIFACTS.
source "$(dirname "$0")/lib.sh"
need chromium
npm_deps
"$EMBER" convert "$DATA/sample.folded" -o "$T/profile.json"
"$EMBER" convert "$DATA/sample.folded" -o "$T/profile.pb.gz"
node "$SRC/tests/interop/speedscope_load.mjs" "$T/profile.json" "$ARTIFACTS/speedscope-json.png"
node "$SRC/tests/interop/speedscope_load.mjs" "$T/profile.pb.gz" "$ARTIFACTS/speedscope-pprof.png"
