#!/bin/bash
# SPDX-License-Identifier: MIT
# `ember serve` (tools/serve/): serve_tests.sh CASE, one ctest per case.
#   security  traversal, absolute paths, a malformed request, a huge query, bad
#             filters and other methods get errors and the server keeps serving;
#             a non-loopback listener only with --listen, and with a warning
#   browser   the page in headless Chromium over synthetic windows (gen_windows.py):
#             drag, search share, link, diff, pprof download read by ember report
#             and go tool pprof (tests/interop/serve_browser.mjs)
#   agent     the same page over windows `ember agent` wrote while the split fixture
#             ran (BPF): the fixture's functions are in the flamegraph; the screenshot
#             goes to docs/serve.png when EMBER_SCREENSHOT_DOCS=1
# Each starts ember serve and waits for its "ember: serving http://..." line.
source "$(dirname "$0")/../output/lib.sh"
GEN=$SRC/tools/bench/gen_windows.py
START=1764600000 # 2025-12-01T14:40:00Z

# Starts `ember serve ARGS...` in the background; sets PID and URL once it is ready.
serve() {
	"$EMBER" serve "$@" 2>"$T/serve.err" &
	PID=$!
	trap 'kill $PID 2>"$T/kill.err" || true; wait $PID || true; rm -rf "$T"' EXIT
	local i
	for ((i = 0; i < 600; i++)); do
		URL=$(sed -n 's/^ember: serving \(http:[^ ]*\)$/\1/p' "$T/serve.err")
		[ -n "$URL" ] && return 0
		kill -0 $PID 2>"$T/kill.err" || fail "ember serve exited: $(cat "$T/serve.err")"
		sleep 0.05
	done
	fail "ember serve printed no serving line: $(cat "$T/serve.err")"
}

# status PATH-AND-QUERY: the HTTP status; the body goes to $T/body.
status() {
	curl -s --path-as-is -o "$T/body" -w '%{http_code}' "$URL${1#/}"
}

expect() { # expect CODE PATH
	local got
	got=$(status "$2")
	[ "$got" = "$1" ] || fail "GET $2: status $got, expected $1 ($(head -c 200 "$T/body"))"
	if grep -q 'root:' "$T/body"; then fail "GET $2 served a file outside PATH"; fi
}

windows() {
	python3 "$GEN" "$T/win" --start $START --count 12 --interval 10 --stacks 60 --procs 3 \
		--seed 1 >"$T/gen1"
	python3 "$GEN" "$T/win" --start $((START + 120)) --count 12 --interval 10 --stacks 60 \
		--procs 3 --seed 2 --seq 12 >"$T/gen2"
}

case_security() {
	need curl
	windows
	serve "$T/win"
	case $URL in http://127.0.0.1:*) ;; *) fail "default listener is not loopback: $URL" ;; esac
	grep -q 'not loopback' "$T/serve.err" && fail "warned about a loopback listener"
	expect 200 /api/timeline
	expect 400 /../../../../etc/passwd
	expect 400 /%2e%2e/%2e%2e/etc/passwd
	expect 400 /api/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd
	expect 400 '/..%5c..%5cetc/passwd'
	expect 404 //etc/passwd
	expect 404 /etc/passwd
	expect 404 "/$T/win"
	expect 400 '/api/flame.svg?where=nonsense'
	expect 400 '/api/flame.svg?r=5..3'
	expect 400 '/api/flame.svg?r=x..y'
	expect 400 "/api/flame.svg?$(printf 'where=pid%%3D1&%.0s' {1..9})"
	expect 400 "/api/flame.svg?where=pid%3D~$(head -c 300 /dev/zero | tr '\0' a)"
	expect 400 '/download?fmt=exe'
	expect 404 '/api/flame.svg?r=1..2'
	# A query string larger than a connection may hold (32 KiB): refused by the library.
	expect 414 "/api/flame.svg?where=pid%3D$(head -c 40000 /dev/zero | tr '\0' 1)"
	[ "$(curl -s -o "$T/body" -w '%{http_code}' -X POST -d x=1 "$URL")" = 405 ] ||
		fail "POST not refused"
	# Malformed requests on a raw socket: the server answers 4xx/5xx, closes or waits, and
	# goes on serving.
	python3 - "${URL#http://}" <<'PY' || fail "malformed request handling"
import socket, sys
host, port = sys.argv[1].rstrip("/").split(":")
for req in [b"GARBAGE\r\n\r\n", b"GET /api/timeline HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n", b"\x00\xff" * 100 + b"\r\n\r\n"]:
    s = socket.create_connection((host, int(port)), timeout=2)
    s.sendall(req)
    try:
        data = s.recv(4096)
    except socket.timeout:  # no request line yet: the library waits for it, then times out
        data = b""
    s.close()
    if data and not data.startswith(b"HTTP/1.1 4") and not data.startswith(b"HTTP/1.1 5"):
        sys.exit("answered %r with %r" % (req[:30], data[:40]))
PY
	expect 200 /api/timeline
	grep -q '"windows":\[{"start":1764600000' "$T/body" ||
		grep -q '"start":1764600000' "$T/body" || fail "timeline lacks the first window"
	# The page and the pprof download still work after all that.
	expect 200 /
	grep -q 'id="timeline"' "$T/body" || fail "page not served"
	expect 200 '/download?fmt=pprof'
	cp "$T/body" "$T/sel.pb.gz"
	"$EMBER" report "$T/sel.pb.gz" >"$T/report" || fail "download not readable by ember report"
	kill $PID
	wait $PID || true
	# Another address only when asked, and then with a warning.
	serve "$T/win" --listen 0.0.0.0:0
	case $URL in http://0.0.0.0:*) ;; *) fail "--listen 0.0.0.0:0 gave $URL" ;; esac
	grep -q 'not loopback' "$T/serve.err" || fail "no warning for a non-loopback listener"
	kill $PID
	wait $PID || true
	if "$EMBER" serve "$T/win" --listen nonsense 2>"$T/err"; then fail "bad --listen accepted"; fi
	echo PASS
}

# go tool pprof -top of $1 lists function $2.
check_download() {
	"$EMBER" report "$1" >"$T/report" || fail "ember report cannot read the download"
	grep -q "$2" "$T/report" || fail "ember report of the download lacks $2"
	need go
	go tool pprof -top "$1" >"$T/gotop" 2>&1 || fail "go tool pprof: $(cat "$T/gotop")"
	grep -q "$2" "$T/gotop" || fail "go tool pprof -top of the download lacks $2"
}

case_browser() {
	need chromium
	need curl
	npm_deps
	windows
	# GREW: a function of the second batch that the first has not (from ember query, not the server).
	"$EMBER" query "$T/win" --to 2025-12-01T14:42:00Z -o "$T/a.folded"
	"$EMBER" query "$T/win" --from 2025-12-01T14:42:00Z -o "$T/b.folded"
	grew=$(python3 - "$T/a.folded" "$T/b.folded" <<'PY'
import sys
def funcs(p):
    return {f for l in open(p) for f in l.rsplit(" ", 1)[0].split(";")}
a, b = funcs(sys.argv[1]), funcs(sys.argv[2])
print(sorted(f for f in b - a if f.startswith("func_"))[0])
PY
)
	serve "$T/win"
	first=$(head -1 "$T/a.folded" | cut -d';' -f2)
	node "$SRC/tests/interop/serve_browser.mjs" "$URL" "$first" '_lock$' "$ARTIFACTS/serve.png" \
		"$T/dl.pb.gz" "$grew"
	check_download "$T/dl.pb.gz" func_
}

case_agent() {
	[ "$(id -u)" = 0 ] || skip "needs root for ember agent"
	need chromium
	npm_deps
	local fix=${EMBER_FIXTURES:?}/split ag
	mkdir "$T/agent"
	: >"$T/agent.conf" # never the host's /etc/ember/agent.conf
	"$EMBER" agent -c "$T/agent.conf" --output-dir "$T/agent" -F 199 --window 2s 2>"$T/agent.err" &
	ag=$!
	for ((i = 0; i < 1200; i++)); do
		grep -q 'agent: sampling' "$T/agent.err" && break
		kill -0 $ag 2>"$T/kill.err" || fail "agent exited: $(cat "$T/agent.err")"
		sleep 0.05
	done
	"$fix" 400 >"$T/fix1"
	"$fix" 400 >"$T/fix2"
	kill -TERM $ag
	wait $ag || fail "agent failed: $(cat "$T/agent.err")"
	[ "$(ls "$T/agent" | grep -c '^ember-')" -ge 2 ] || fail "fewer than 2 windows written"
	serve "$T/agent"
	local shot=$ARTIFACTS/serve-agent.png
	node "$SRC/tests/interop/serve_browser.mjs" "$URL" a,b,c '^(a|b)$' "$shot" "$T/dl.pb.gz"
	check_download "$T/dl.pb.gz" burn
	if [ "${EMBER_SCREENSHOT_DOCS:-}" = 1 ]; then cp "$shot" "$SRC/docs/serve.png"; fi
}

"case_${1:?usage: serve_tests.sh CASE}"
