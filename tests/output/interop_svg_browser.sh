#!/bin/bash
# SPDX-License-Identifier: MIT
# ember's SVG in headless Chromium (Debian chromium, driven by playwright-core):
# search "Matched: X%", click-to-zoom, reset, and zoom + search restored from the
# URL. The screenshot is kept in $ARTIFACTS. Also loads the icicle variant.
source "$(dirname "$0")/lib.sh"
need chromium
npm_deps
"$EMBER" convert "$DATA/sample.folded" -o "$T/flame.svg"
# hot_loop and vfs_read: (60000 + 12000 + 4000 + 5000) / 96600 = 83.85%; new_function in
# the diff: 1500 of AFTER's 110100 = 1.36%
node "$SRC/tests/interop/svg_browser.mjs" "$T/flame.svg" compute 'hot_loop|vfs_read' 83.85 \
	"$ARTIFACTS/flamegraph.png"
"$EMBER" convert "$DATA/sample.folded" -o "$T/icicle.svg" --inverted --hash
node "$SRC/tests/interop/svg_browser.mjs" "$T/icicle.svg" run '^d[0-9]+$' 1.04 \
	"$ARTIFACTS/icicle.png"
"$EMBER" diff "$DATA/sample.folded" "$DATA/after.folded" -o "$T/diff.svg"
node "$SRC/tests/interop/svg_browser.mjs" "$T/diff.svg" run 'new_function' 1.36 \
	"$ARTIFACTS/diff.png"
