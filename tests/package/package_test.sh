#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package (tools/package/package.cmake): cpack builds it from this
# build tree; its contents and control data are checked with dpkg-deb -c / -I;
# the unit passes `systemd-analyze verify`; and the unit's own ExecStart line,
# run from the unpacked package with the packaged config, starts the agent and
# writes a window. (What needs systemd as PID 1, DynamicUser and the ambient
# capabilities, is not run here.) Case "contents" runs anywhere; case "starts"
# needs root (exit 77 without).
# Environment: EMBER_BUILD (the build tree).
set -euo pipefail
case=${1:?usage: package_test.sh contents|starts}
build=${EMBER_BUILD:?}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

if [[ $case == starts && $(id -u) -ne 0 ]]; then
	echo "needs root (CAP_BPF, CAP_PERFMON)" >&2
	exit 77
fi

t=$(mktemp -d)
agent=
cleanup() {
	[[ -n $agent ]] && kill -9 "$agent" 2>/dev/null || true
	rm -rf "$t"
}
trap cleanup EXIT

(cd "$build" && cpack -G DEB -B "$t/out" >"$t/cpack.log" 2>&1) || {
	cat "$t/cpack.log"
	fail "cpack failed"
}
debs=("$t"/out/ember_*_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "cpack made ${#debs[@]} packages: ${debs[*]}"
deb=${debs[0]}
dpkg-deb -x "$deb" "$t/root"
control=$(dpkg-deb -I "$deb")
contents=$(dpkg-deb -c "$deb")

if [[ $case == contents ]]; then
	for f in ./usr/bin/ember ./usr/share/man/man1/ember.1.gz \
		./usr/lib/systemd/system/ember-agent.service ./etc/ember/agent.conf \
		./usr/share/doc/ember/agent.conf.example; do
		grep -qE " $f\$" <<<"$contents" || fail "$f not in the package:
$contents"
	done
	grep -qE '^-rwxr-xr-x root/root .* ./usr/bin/ember$' <<<"$contents" ||
		fail "ember is not root-owned mode 755"
	for field in "Package: ember" "Architecture: amd64" "Section: " "Maintainer: " \
		"Description: "; do
		grep -qF " $field" <<<"$control" || fail "no '$field' in the control data:
$control"
	done
	# dpkg-shlibdeps found the libraries ember links.
	depends=$(sed -n 's/^ Depends: //p' <<<"$control")
	for lib in libbpf1 libdw1 libelf1 libzstd1 zlib1g libcurl4 libprotobuf-c1 libc6; do
		grep -qE "(^|, )$lib( |,|$)" <<<"$depends" || fail "Depends lacks $lib: $depends"
	done
	dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$t" ./conffiles ./postinst ./prerm ./postrm
	grep -qx /etc/ember/agent.conf "$t/conffiles" || fail "agent.conf is not a conffile"
	for s in postinst prerm postrm; do
		sh -n "$t/$s" || fail "$s is not valid sh"
	done
	# The man page is ember's own (`ember man`), whole.
	cmp <(zcat "$t/root/usr/share/man/man1/ember.1.gz") <("$build/ember" man) ||
		fail "the packaged man page differs from \`ember man\`"
	unit=$t/root/usr/lib/systemd/system/ember-agent.service
	grep -qx 'ExecStart=/usr/bin/ember agent --config /etc/ember/agent.conf --output-dir /var/lib/ember/profiles' \
		"$unit" || fail "ExecStart does not name the packaged binary: $(grep ExecStart "$unit")"
	# systemd checks the unit's directives; it also wants ExecStart's binary to
	# exist, so a copy names the unpacked one.
	sed "s|^ExecStart=/usr/bin/ember|ExecStart=$t/root/usr/bin/ember|" "$unit" >"$t/ember-agent.service"
	if command -v systemd-analyze >/dev/null; then
		out=$(cd "$t" && systemd-analyze verify ./ember-agent.service 2>&1) ||
			fail "systemd-analyze verify: $out"
		[[ -z $out ]] || fail "systemd-analyze verify warned: $out"
	elif [[ ${CI:-} == true ]]; then
		fail "no systemd-analyze"
	fi
	"$t/root/usr/bin/ember" --version >/dev/null || fail "the packaged ember does not run"
	echo "package contents ok: $(basename "$deb")"
	exit 0
fi

# starts: the unit's command line, with the unpacked package's paths.
unit=$t/root/usr/lib/systemd/system/ember-agent.service
cmd=$(sed -n 's/^ExecStart=//p' "$unit")
[[ -n $cmd ]] || fail "no ExecStart in the unit"
read -r -a argv <<<"$cmd"
args=()
for a in "${argv[@]}"; do
	case $a in
	/usr/bin/ember) args+=("$t/root/usr/bin/ember") ;;
	/etc/ember/agent.conf) args+=("$t/root/etc/ember/agent.conf") ;;
	/var/lib/ember/profiles) args+=("$t/profiles") ;;
	*) args+=("$a") ;;
	esac
done
# A short window without jitter, so the test waits seconds, not the default 10 s.
"${args[@]}" --window 2s --jitter no --metrics-port 0 >"$t/agent.log" 2>&1 &
agent=$!
deadline=$((SECONDS + 120))
until compgen -G "$t/profiles/*.pb.gz" >/dev/null; do
	kill -0 "$agent" 2>/dev/null || {
		cat "$t/agent.log"
		fail "the agent exited before its first window"
	}
	((SECONDS < deadline)) || {
		cat "$t/agent.log"
		fail "no window within 120 s"
	}
	sleep 0.2
done
kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
agent=
[[ $rc -eq 0 ]] || {
	cat "$t/agent.log"
	fail "the agent exited $rc after SIGTERM"
}
for f in "$t"/profiles/*.pb.gz; do
	gzip -t "$f" || fail "window file $f is not whole gzip"
done
echo "the packaged unit's command starts the agent: $(ls "$t/profiles" | wc -l) windows"
