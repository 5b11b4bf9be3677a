#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mutation check of the test suite (issue 10): applies deliberate faults, one at
# a time, to a copy of the tree and runs the tests that should catch each one.
# A fault is caught when at least one of its tests fails; every fault must be.
#
# The working tree is never touched: HEAD (or, with --worktree, the files of
# the working tree as they are now) is copied into a scratch directory, built once, and
# each mutant is an exact text substitution in one file, an incremental
# rebuild, its tests (ctest -R), and the file restored. The scratch build is
# kept, so a second run rebuilds only what changed.
#
#   tools/scripts/mutants.sh              # every mutant (needs root: BPF tests)
#   tools/scripts/mutants.sh --list       # mutants and the tests each one runs
#   tools/scripts/mutants.sh -m NAME ...  # only these mutants
#
# Exit status: 0 when every mutant was caught; 1 when one survived, no longer
# applies (the code it patches changed: update its pattern below), did not
# build, or its tests could not judge it (skipped, or failing without the fault).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
work=/tmp/ember-mutants
jobs=2
source_kind="head"
baseline=1
list_only=0
only=()
override_tests=""

usage() {
	cat <<'EOF'
usage: tools/scripts/mutants.sh [options]
  -l, --list         list the mutants (name, file, tests, fault) and exit
  -m, --mutant NAME  run only mutant NAME (repeatable)
  --worktree         copy the working tree (tracked and untracked files that
                     .gitignore does not exclude, edits included) instead of HEAD
  --work DIR         scratch directory, kept between runs (default /tmp/ember-mutants)
  -j N               build jobs (default 2)
  -t, --tests REGEX  run these tests (ctest names joined by '|') instead of each
                     mutant's own: which tests would catch a fault?
  --no-baseline      do not run the selected tests on the unmutated tree first
  -h, --help         this help
EOF
}

while (($#)); do
	case "$1" in
	-l | --list) list_only=1 ;;
	-m | --mutant)
		[[ $# -ge 2 ]] || {
			usage >&2
			exit 2
		}
		only+=("$2")
		shift
		;;
	-t | --tests)
		[[ $# -ge 2 ]] || {
			usage >&2
			exit 2
		}
		override_tests=$2
		shift
		;;
	--worktree) source_kind=worktree ;;
	--work)
		[[ $# -ge 2 ]] || {
			usage >&2
			exit 2
		}
		work=$2
		shift
		;;
	-j)
		[[ $# -ge 2 ]] || {
			usage >&2
			exit 2
		}
		jobs=$2
		shift
		;;
	--no-baseline) baseline=0 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "mutants: unknown argument '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

# ---- the mutants -------------------------------------------------------------
# mutant NAME FILE TESTS DESCRIPTION OLD NEW
#   TESTS: ctest names joined by '|' (matched whole, as ^(TESTS)$).
#   OLD: text that must occur exactly once in FILE; "re:" makes it a Python
#   regular expression (multi-line), NEW then may use \1 etc. A tab is \t in $'...'.
names=() files=() tests=() descs=() olds=() news=()
mutant() {
	names+=("$1") files+=("$2") tests+=("$3") descs+=("$4") olds+=("$5") news+=("$6")
}

mutant drop_tenth_sample agg/collector.c 'record_drain_boundaries|record_split' \
	"collector drain: a tenth of every drained count is dropped" \
	's.count = c->values[i];' \
	's.count = c->values[i] - c->values[i] / 10;'

mutant drain_counts_twice agg/collector.c 'record_drain_boundaries' \
	"collector window cut: the drained generation's counts are not deleted, so the next drain of that buffer counts them again" \
	'err = delete_keys(counts_fd, c->keys, nr, sizeof(*c->keys));' \
	'err = 0;'

mutant stats_not_delta agg/collector.c 'record_drain_boundaries' \
	"collector: each drain adds the kernel's cumulative counters, not its window's share" \
	'sum - c->last_stats[i]);' \
	'sum);'

mutant agent_window_overlap tools/cmd_agent.c 'agent_push_restart' \
	"agent window cut: the next window keeps the previous start, so the boundary interval is in two windows" \
	$'\tag->window_start_mono = b.mono;\n\tag->window_start_real = b.real;\n' \
	$'\tif (!ag->window_start_mono) {\n\t\tag->window_start_mono = b.mono;\n\t\tag->window_start_real = b.real;\n\t}\n'

mutant agent_reload_no_drain tools/cmd_agent.c 'agent_sighup' \
	"agent SIGHUP with a new frequency: the old sampler is freed without its last drains (the window loses what it sampled since the last periodic drain)" \
	$'\t\tfor (i = 0; i < 2; i++) {\n\t\t\terr = drain(ag, ag->collector);' \
	$'\t\tfor (i = 0; i < 0; i++) {\n\t\t\terr = drain(ag, ag->collector);'

mutant agent_sigterm_no_partial tools/cmd_agent.c 'agent_sigterm' \
	"agent: SIGTERM drains but never writes the partial window" \
	're:(\t\tfor \(i = 0; i < 2; i\+\+\)\n\t\t\tif \(drain\(&ag, ag\.collector\)\)\n\t\t\t\tgoto out;\n)\t\tif \(finish_window\(&ag, end, ag\.cfg\.frequency_hz\)\)\n\t\t\tgoto out;\n' \
	'\1'

mutant push_newest_first tools/agent/push.c 'agent_push_restart' \
	"push spool: the newest spooled window is sent first" \
	'e.seq < oldest->seq' \
	'e.seq > oldest->seq'

mutant reverse_inline_order symbolizer/symbolizer.c 'sym_addr2line|sym_self|sym_cli' \
	"symbolizer: an inline chain comes out outermost first" \
	're:(fr\.flags = dwf\[from\]\.is_inline \? EMBER_FRAME_INLINE : 0;\n\t+)frames\[total\+\+\] = fr;' \
	'\1memmove(&frames[1], &frames[0], total * sizeof(*frames)), frames[0] = fr, total++;'

mutant user_return_address symbolizer/symbolizer.c 'sym_return_address|sym_self|sym_addr2line' \
	"symbolizer: user return addresses are looked up as is, not at address - 1" \
	're:(static int resolve_user\(.*\n.*\n\{\n\tuint64_t addr = )req->is_return \? req->address - 1 : req->address;' \
	'\1req->address;'

mutant lose_kernel_mark output/folded.c 'test_output_folded|golden_output_folded' \
	"folded writer: kernel frames lose their _[k] mark" \
	'frame_suffix(frames[i].flags)' \
	'frame_suffix(frames[i].flags & ~EMBER_FRAME_KERNEL)'

mutant pprof_location_shift output/pprof_tables.c 'test_output_pprof|golden_output_pprof|golden_output_pprof-roundtrip' \
	"pprof writer: samples reference location id + 1" \
	'*id = loc.id;' \
	'*id = loc.id + 1;'

mutant skip_fp_fallback probes/sampler.bpf.c 'unwind_guard_fp_fallback|unwind_qsort_callback' \
	"BPF unwinder: a frame without a table row is not walked by frame pointer (unwind_step's fp_step branch)" \
	'} else if (!fp_fallback) {' \
	'} else if (!fp_fallback || s->pc) { /* always: s->pc != 0 here */'

mutant truncate_64 probes/sampler.bpf.c 'unwind_guard_deep_stacks|unwind_threads' \
	"BPF unwinder: user stacks end after 64 frames instead of EMBER_MAX_STACK_DEPTH (512)" \
	$'\tif (n >= EMBER_MAX_STACK_DEPTH) {\n\t\tst->end = EMBER_UNWIND_END_DEPTH;' \
	$'\tif (n >= 64) {\n\t\tst->end = EMBER_UNWIND_END_DEPTH;'

mutant counts_full_uncounted probes/sampler.bpf.c 'record_map_pressure' \
	"BPF sampler: a sample lost to a full counts map is not counted" \
	$'\t\t} else if (err) {\n\t\t\tstat_inc(EMBER_STAT_LOST_COUNTS_FULL);\n\t\t}\n' \
	$'\t\t}\n'

# ---- helpers -----------------------------------------------------------------

if ((list_only)); then
	for i in "${!names[@]}"; do
		printf '%-26s %-22s %s\n    %s\n' "${names[$i]}" "${files[$i]}" "${tests[$i]}" "${descs[$i]}"
	done
	exit 0
fi

sel=()
if ((${#only[@]})); then
	for want in "${only[@]}"; do
		found=0
		for i in "${!names[@]}"; do
			if [[ "${names[$i]}" == "$want" ]]; then
				sel+=("$i")
				found=1
			fi
		done
		if ((!found)); then
			echo "mutants: no mutant named '$want' (see --list)" >&2
			exit 2
		fi
	done
else
	sel=("${!names[@]}")
fi
if [[ -n $override_tests ]]; then
	for i in "${sel[@]}"; do
		tests[i]=$override_tests
	done
fi

src=$work/src
build=$work/build
logs=$work/logs
mkdir -p "$work" "$logs"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# substitute FILE OLD NEW: exactly one occurrence of OLD, else exit 3 (no longer applies).
substitute() {
	python3 - "$@" <<'EOF'
import re, sys
path, old, new = sys.argv[1:4]
with open(path) as f:
    text = f.read()
if old.startswith("re:"):
    out, n = re.subn(old[3:], new, text)
else:
    n = text.count(old)
    out = text.replace(old, new)
if n != 1:
    print("pattern found %d times in %s (expected once)" % (n, path), file=sys.stderr)
    sys.exit(3)
with open(path, "w") as f:
    f.write(out)
EOF
}

# Copies the chosen tree into $src, rewriting only files whose content differs
# (unchanged files keep their mtime, so the kept build stays incremental).
refresh_source() {
	local stage=$work/stage f
	rm -rf "$stage"
	mkdir -p "$stage" "$src"
	if [[ $source_kind == head ]]; then
		git -C "$root" archive HEAD | tar -x -C "$stage"
	else
		(cd "$root" && git ls-files -z -co --exclude-standard |
			xargs -0 cp --parents -t "$stage" 2>/dev/null) || true
	fi
	while IFS= read -r -d '' f; do
		if ! cmp -s "$stage/$f" "$src/$f"; then
			mkdir -p "$(dirname "$src/$f")"
			cp "$stage/$f" "$src/$f"
		fi
	done < <(cd "$stage" && find . -type f -printf '%P\0')
	# Files gone from the tree go from the copy too.
	while IFS= read -r -d '' f; do
		[[ -e "$stage/$f" ]] || rm -f "$src/$f"
	done < <(cd "$src" && find . -type f -printf '%P\0')
	rm -rf "$stage"
}

build_tree() {
	cmake --build "$build" -j"$jobs" >"$1" 2>&1
}

# run_tests REGEX LOG: 0 all passed, 1 some failed, 2 some were skipped or not found.
run_tests() {
	local rc=0
	ctest --test-dir "$build" -R "^($1)\$" -V >"$2" 2>&1 || rc=$?
	if grep -q -e '\*\*\*Skipped' -e 'Not Run' -e 'No tests were found' "$2"; then
		return 2
	fi
	local want have
	want=$(tr '|' '\n' <<<"$1" | wc -l)
	have=$(grep -c 'Test *#' "$2" || true)
	if ((have != want)); then
		echo "mutants: expected $want tests, ctest ran $have" >>"$2"
		return 2
	fi
	((rc == 0)) && return 0
	return 1
}

current_file=""
restore() {
	if [[ -n $current_file && -f $work/orig ]]; then
		cp "$work/orig" "$src/$current_file"
		touch "$src/$current_file"
		current_file=""
	fi
}
trap restore EXIT INT TERM

# ---- run -----------------------------------------------------------------------

started=$(date +%s)
log "copying $source_kind into $src"
refresh_source
log "configuring and building $build (-j$jobs)"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_WERROR=OFF \
	>"$logs/configure.log" 2>&1 || {
	echo "mutants: configure failed, see $logs/configure.log" >&2
	exit 1
}
if ! build_tree "$logs/build.log"; then
	echo "mutants: the unmutated tree does not build, see $logs/build.log" >&2
	exit 1
fi

if ((baseline)); then
	all_tests=$(for i in "${sel[@]}"; do tr '|' '\n' <<<"${tests[$i]}"; done | sort -u | paste -sd'|')
	log "baseline: $all_tests"
	brc=0
	run_tests "$all_tests" "$logs/baseline.log" || brc=$?
	if ((brc != 0)); then
		echo "mutants: the tests do not pass on the unmutated tree, so they cannot judge" \
			"a fault (see $logs/baseline.log):" >&2
		grep -e 'Failed' -e 'Skipped' -e 'Not Run' "$logs/baseline.log" >&2 || true
		exit 1
	fi
fi

results=()
bad=0 caught=0 survived=0 broken=0
for i in "${sel[@]}"; do
	name=${names[$i]} file=${files[$i]}
	t0=$(date +%s)
	log "$name: ${descs[$i]}"
	cp "$src/$file" "$work/orig"
	current_file=$file
	status=""
	if ! substitute "$src/$file" "${olds[$i]}" "${news[$i]}" 2>"$logs/$name.apply.log"; then
		status="NO LONGER APPLIES"
		log "$name: the fault no longer applies to $file: $(cat "$logs/$name.apply.log")"
	elif ! build_tree "$logs/$name.build.log"; then
		status="BUILD FAILED"
		log "$name: the mutant does not build, see $logs/$name.build.log"
	else
		trc=0
		run_tests "${tests[$i]}" "$logs/$name.tests.log" || trc=$?
		case $trc in
		0) status="SURVIVED" ;;
		1) status="caught" ;;
		*) status="NOT JUDGED (skipped)" ;;
		esac
		failed=$(grep -oE '[0-9]+ - [A-Za-z0-9_.-]+ \(Failed|Timeout\)' "$logs/$name.tests.log" |
			sed -E 's/^[0-9]+ - //; s/ \(.*//' | paste -sd',' || true)
		[[ $status == caught ]] && status="caught ($failed)"
	fi
	restore
	secs=$(($(date +%s) - t0))
	case $status in
	caught*) caught=$((caught + 1)) ;;
	SURVIVED) survived=$((survived + 1)) bad=1 ;;
	*) broken=$((broken + 1)) bad=1 ;;
	esac
	log "$name: $status (${secs} s)"
	results+=("| $name | ${descs[$i]} | ${tests[$i]//|/, } | $status | $secs |")
done

echo
echo "| mutant | fault | tests run | result | s |"
echo "| --- | --- | --- | --- | --: |"
printf '%s\n' "${results[@]}"
echo
echo "${#sel[@]} mutants: $caught caught, $survived survived (a test is missing)," \
	"$broken not judged (no longer apply, do not build, or skipped tests);" \
	"$(($(date +%s) - started)) s; logs in $logs"
exit $bad
