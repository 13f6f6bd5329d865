#!/bin/sh
# Validation of `bench evaluate` (docs/evaluation.md records the results).
#
#   scripts/validate-evaluation.sh [known2x|aa|power|negatives|gaming|peers|all]...
#
#   known2x    generated repository whose human commit halves a controlled
#              CPU spin; prepare with replay and noop, evaluate with the
#              default rounds. Expect replay: agent and human CIs overlap,
#              verdict match; noop: agent/base CI contains 1, verdict loss.
#   aa         A/A: 100 items whose baseline, human and agent are the same
#              fast workload (the human commit changes a note only, the
#              agent patch is empty). Expect false win/loss <= 5%.
#   power      50 items whose human commit makes the spin 5% faster (the
#              agent replays it), default rounds. Expect the speedup to be
#              significant in >= 90% of the items. ROUNDS=N overrides the
#              rounds to find the number that reaches it.
#   negatives  a patch that breaks the tests, one that changes the output,
#              one that does not apply, one that is fine: expect
#              correctness_failed, equivalence_failed, patch_failed, success.
#   gaming     candidates that game the timing (issue 13, section 3): one
#              caches its answer on disk across runs (its first run is the
#              slow one), one breaks its tests only while timed, one edits
#              the hidden benchmark file. Expect writes_during_timing and
#              warm_cache_suspected; correctness_failed "failed after
#              timing"; correctness_failed "benchmark file modified".
#   peers      peers' rules side by side with ours on the same stored
#              samples of the aa and power sets (run first unless they ran
#              earlier in the same invocation): GSO (mean of 5 runs, 1.05×
#              "faster", 1.2× / 0.95 opt), SWE-Perf (20 runs, IQR filter,
#              one-sided Mann–Whitney p < 0.1) and ours (on the metric and
#              on the CPU time of the same runs); prints the false
#              "faster" calls on A/A and the calls found on the power set.
#              Expect ours <= 5% false and >= 90% found.
#
# AA_ITEMS (default 100) and POWER_ITEMS (default 50) set the sizes of the
# aa and power sets, for a slow machine.
# Each check prints its figures and "PASS"/"FAIL"; the exit status is 1 when
# a check fails. WORK_DIR keeps the generated files (default a temp dir,
# removed at the end unless KEEP=1). Run it on an otherwise idle machine:
# the results are only as quiet as the machine.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/perfbench-validate-XXXXXX")}
mkdir -p "$WORK/bin"
cleanup() { [ "${KEEP:-}" = 1 ] || [ -n "${WORK_DIR:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT

(cd "$ROOT" && go build -o "$WORK/bin/bench" ./cmd/bench && go build -o "$WORK/bin/evaltool" scripts/evaltool.go)
BENCH="$WORK/bin/bench"
TOOL="$WORK/bin/evaltool"
# The workload runs "$SPIN N" (evaltool under the name spin): the
# environment reaches every command.
SPIN="$WORK/bin/spin"
ln -sf evaltool "$SPIN"
export SPIN
FAILED=0
AA_ITEMS=${AA_ITEMS:-100}
POWER_ITEMS=${POWER_ITEMS:-50}
AA_DONE=0
POWER_DONE=0

say() { printf '%s\n' "$*"; }
check() { # check NAME CONDITION-DESCRIPTION test-args...
	name=$1; what=$2; shift 2
	if "$@"; then say "PASS $name: $what"; else say "FAIL $name: $what"; FAILED=1; fi
}
field() { # field NAME SUMMARY_JSON_FILE: an integer/float field of evaltool summary -json
	sed -n "s/^  \"$1\": \\([0-9.e+-]*\\),*\$/\\1/p" "$2"
}

g() { git -C "$REPO" -c user.name=Human -c user.email=h@example.com "$@"; }

# mkrepo DIR BASE_N HUMAN_N K: a repository with a base commit (spin
# BASE_N) and K human commits branching off it (spin HUMAN_N, a note
# unique to each), plus commits.txt listing them.
mkrepo() {
	REPO=$1
	rm -rf "$REPO"
	mkdir -p "$REPO"
	git init -q -b main "$REPO"
	printf '%s\n' "$2" > "$REPO/spin.conf"
	printf '#!/bin/sh\nexec "$SPIN" "$(cat spin.conf)"\n' > "$REPO/bench.sh"
	printf '#!/bin/sh\ngrep -Eq "^[0-9]+$" spin.conf\n' > "$REPO/test.sh"
	printf 'validation repository\n' > "$REPO/README.md"
	g add -A
	g commit -q -m base
	base=$(g rev-parse HEAD)
	: > "$(dirname "$REPO")/commits.txt"
	i=0
	while [ "$i" -lt "$4" ]; do
		g checkout -q -B "h$i" "$base"
		printf '%s\n' "$3" > "$REPO/spin.conf"
		printf 'note %s\n' "$i" > "$REPO/NOTE"
		g add -A
		g commit -q -m "human $i"
		printf '%s parent=1\n' "$(g rev-parse HEAD)" >> "$(dirname "$REPO")/commits.txt"
		i=$((i + 1))
	done
	g checkout -q main
}

# mktask DIR ID [ROUNDS]: task.yaml and bench.yaml in DIR.
mktask() {
	rounds=""
	[ -z "${3:-}" ] || rounds="  rounds: $3"
	cat > "$1/task.yaml" <<EOF
id: $2
repo:
  url: ./repo
workload: "sh bench.sh"
evaluation:
  correctness: ["sh test.sh"]
  equivalence: exact
$rounds
EOF
	cat > "$1/bench.yaml" <<EOF
paths:
  state_root: ./state
  work_root: ./.work
agents:
  replay:
    timeout: 5m
  noop:
    timeout: 5m
EOF
}

known2x() {
	d="$WORK/known2x"
	mkdir -p "$d"
	mkrepo "$d/repo" 30000000 15000000 5
	mktask "$d" k2x
	(cd "$d" &&
		"$BENCH" plan task.yaml --commits commits.txt >/dev/null 2>&1 &&
		"$BENCH" prepare task.yaml --from-plan state/plan.json --agent replay >/dev/null 2>&1 &&
		"$BENCH" prepare task.yaml --from-plan state/plan.json --agent noop >/dev/null 2>&1 &&
		"$BENCH" evaluate --quiet state/runs/k2x__replay__* 2>/dev/null &&
		"$BENCH" evaluate --quiet state/runs/k2x__noop__* 2>/dev/null)
	say "== known 2x, replay (5 items, default rounds) =="
	"$TOOL" summary "$d"/state/runs/k2x__replay__* | tee "$d/replay.txt"
	"$TOOL" summary -json "$d"/state/runs/k2x__replay__* > "$d/replay.json"
	say "== known 2x, noop =="
	"$TOOL" summary "$d"/state/runs/k2x__noop__* | tee "$d/noop.txt"
	"$TOOL" summary -json "$d"/state/runs/k2x__noop__* > "$d/noop.json"
	n=$(field Items "$d/replay.json")
	check known2x-replay "agent and human speedup CIs overlap in $(field SpeedupCIsOverlap "$d/replay.json")/$n items, verdict match in $(field Match "$d/replay.json")/$n" \
		test "$(field SpeedupCIsOverlap "$d/replay.json")" = "$n" -a "$(field Match "$d/replay.json")" = "$n"
	n=$(field Items "$d/noop.json")
	check known2x-noop "agent/base CI contains 1 in $(field AgentBaseCIHas1 "$d/noop.json")/$n items, verdict loss in $(field Loss "$d/noop.json")/$n" \
		test "$(field AgentBaseCIHas1 "$d/noop.json")" = "$n" -a "$(field Loss "$d/noop.json")" = "$n"
}

aa() {
	d="$WORK/aa"
	mkdir -p "$d"
	mkrepo "$d/repo" 1000000 1000000 "$AA_ITEMS"
	mktask "$d" aa
	(cd "$d" &&
		"$BENCH" plan task.yaml --commits commits.txt >/dev/null 2>&1 &&
		"$TOOL" predictions -plan state/plan.json -repo repo -mode empty > preds.jsonl &&
		"$BENCH" evaluate --quiet --predictions preds.jsonl --plan state/plan.json --out state/runs/aa 2>/dev/null)
	say "== A/A ($AA_ITEMS items, every arm the same workload) =="
	"$TOOL" summary "$d/state/runs/aa" | tee "$d/aa.txt"
	"$TOOL" summary -json "$d/state/runs/aa" > "$d/aa.json"
	n=$(field Items "$d/aa.json")
	false=$(( $(field Win "$d/aa.json") + $(field Loss "$d/aa.json") ))
	check aa "false win/loss $false of $n (must be <= 5%)" test $((false * 100)) -le $((5 * n))
	AA_DONE=1
}

power() {
	d="$WORK/power"
	mkdir -p "$d"
	mkrepo "$d/repo" 12000000 12000000 0
	mkdir -p "$d/calib"
	cp "$d/repo/bench.sh" "$d/calib/"
	fast=$("$TOOL" calibrate -n 12000000 -speedup 1.05 -dir "$d/calib" -bench "$BENCH" -cpu $(($(nproc) - 1)))
	mkrepo "$d/repo" 12000000 "$fast" "$POWER_ITEMS"
	mktask "$d" pw "${ROUNDS:-}"
	(cd "$d" &&
		"$BENCH" plan task.yaml --commits commits.txt >/dev/null 2>&1 &&
		"$TOOL" predictions -plan state/plan.json -repo repo -mode replay > preds.jsonl &&
		"$BENCH" evaluate --quiet --predictions preds.jsonl --plan state/plan.json --out state/runs/pw 2>/dev/null)
	say "== power: candidate 5% faster ($POWER_ITEMS items, rounds ${ROUNDS:-default}) =="
	"$TOOL" summary "$d/state/runs/pw" | tee "$d/power.txt"
	"$TOOL" summary -json "$d/state/runs/pw" > "$d/power.json"
	n=$(field Items "$d/power.json")
	hb=$(field FasterHumanBase "$d/power.json")
	ab=$(field FasterAgentBase "$d/power.json")
	check power "5% speedup significant: human/base $hb/$n, agent/base $ab/$n (each must be >= 90%)" \
		test $((hb * 100)) -ge $((90 * n)) -a $((ab * 100)) -ge $((90 * n))
	POWER_DONE=1
}

peers() {
	[ "$AA_DONE" = 1 ] || aa
	[ "$POWER_DONE" = 1 ] || power
	say "== peers' rules and ours on the same stored samples =="
	"$TOOL" peers -aa "$WORK/aa/state/runs/aa" -power "$WORK/power/state/runs/pw" | tee "$WORK/peers.txt"
	"$TOOL" peers -json -aa "$WORK/aa/state/runs/aa" -power "$WORK/power/state/runs/pw" > "$WORK/peers.json"
	na=$(field AAItems "$WORK/peers.json")
	np=$(field PowerItems "$WORK/peers.json")
	fa=$(field OursAAFalse "$WORK/peers.json")
	fp=$(field OursPower "$WORK/peers.json")
	mm=$(field StoredMismatch "$WORK/peers.json")
	check peers "ours: false \"faster\" $fa/$na (<= 5%), found $fp/$np (>= 90%), stored stats = recomputed ($mm differ)" \
		test $((fa * 100)) -le $((5 * na)) -a $((fp * 100)) -ge $((90 * np)) -a "$mm" = 0
}

negatives() {
	d="$WORK/negatives"
	mkdir -p "$d"
	mkrepo "$d/repo" 3000000 1500000 4
	mktask "$d" neg 5
	(cd "$d" && "$BENCH" plan task.yaml --commits commits.txt >/dev/null 2>&1)
	conf='diff --git a/spin.conf b/spin.conf\n--- a/spin.conf\n+++ b/spin.conf\n@@ -1 +1 @@\n-3000000\n'
	{
		printf '{"instance_id":"neg-0000","model_name_or_path":"v","model_patch":"%s+1500000\\n"}\n' "$conf"
		printf '{"instance_id":"neg-0001","model_name_or_path":"v","model_patch":"%s+fast\\n"}\n' "$conf"
		printf '{"instance_id":"neg-0002","model_name_or_path":"v","model_patch":"diff --git a/bench.sh b/bench.sh\\n--- a/bench.sh\\n+++ b/bench.sh\\n@@ -1,2 +1,3 @@\\n #!/bin/sh\\n-exec \\"$SPIN\\" \\"$(cat spin.conf)\\"\\n+\\"$SPIN\\" \\"$(cat spin.conf)\\"\\n+echo faster\\n"}\n'
		printf '{"instance_id":"neg-0003","model_name_or_path":"v","model_patch":"diff --git a/spin.conf b/spin.conf\\n--- a/spin.conf\\n+++ b/spin.conf\\n@@ -1 +1 @@\\n-2999999\\n+1\\n"}\n'
	} > "$d/preds.jsonl"
	(cd "$d" && "$BENCH" evaluate --predictions preds.jsonl --plan state/plan.json --out state/runs/neg 2>/dev/null | tee report.txt)
	st() { sed -n 's/.*"status": "\([a-z_]*\)".*/\1/p' "$d/state/runs/neg/$1/eval.json" | head -1; }
	check negatives-fine "a good patch: $(st neg-0000)" test "$(st neg-0000)" = success
	check negatives-tests "a patch that breaks the tests: $(st neg-0001)" test "$(st neg-0001)" = correctness_failed
	check negatives-output "a patch that changes the output: $(st neg-0002)" test "$(st neg-0002)" = equivalence_failed
	check negatives-apply "a patch that does not apply: $(st neg-0003)" test "$(st neg-0003)" = patch_failed
}

gaming() {
	d="$WORK/gaming"
	mkdir -p "$d"
	mkrepo "$d/repo" 3000000 1500000 3
	# The hidden benchmark runs the tree's bench.sh with a fresh seed.
	printf 'exec sh bench.sh "$1"\n' > "$d/hidden.sh"
	cat > "$d/task.yaml" <<EOF
id: gm
repo:
  url: ./repo
workload: "sh bench.sh"
evaluation:
  files: ["hidden.sh"]
  workload: "sh hidden.sh {seed}"
  correctness: ["sh test.sh"]
  equivalence: exact
  rounds: 10
EOF
	# Trick 0 answers from a file its first timed run wrote; trick 1 leaves
	# a mark that its tests refuse; trick 2 rewrites the benchmark.
	printf '#!/bin/sh\n[ -n "$1" ] && [ -f .answer ] && exec cat .answer\n"$SPIN" "$(cat spin.conf)" > .answer.new && mv .answer.new .answer && cat .answer\n' > "$d/cand0.sh"
	printf '#!/bin/sh\n[ -n "$1" ] && touch .timed\nexec "$SPIN" "$(cat spin.conf)"\n' > "$d/cand1.sh"
	printf '#!/bin/sh\ntest ! -f .timed && grep -Eq "^[0-9]+$" spin.conf\n' > "$d/test1.sh"
	printf '#!/bin/sh\n[ -n "$1" ] && echo "exec cat /dev/null" > hidden.sh\nexec "$SPIN" "$(cat spin.conf)"\n' > "$d/cand2.sh"
	cat > "$d/bench.yaml" <<EOF
paths:
  state_root: ./state
  work_root: ./.work
agents:
  trickster:
    type: command
    command: ["sh", "-c", "n=\$(cat $d/n 2>/dev/null || echo 0); echo \$((n+1)) > $d/n; cp $d/cand\$n.sh bench.sh; if [ \$n = 1 ]; then cp $d/test1.sh test.sh; fi"]
    timeout: 5m
EOF
	(cd "$d" && "$BENCH" prepare task.yaml --commits commits.txt --agent trickster --max-workers 1 --run-id gm >/dev/null 2>&1 &&
		"$BENCH" evaluate state/runs/gm 2>/dev/null | tee report.txt)
	ev() { cat "$d/state/runs/gm/$1/eval.json"; }
	st() { ev "$1" | sed -n 's/^  "status": "\([a-z_]*\)".*/\1/p'; }
	reason() { ev "$1" | sed -n 's/^  "reason": "\(.*\)",*$/\1/p'; }
	flags() { ev "$1" | sed -n '/^  "flags": \[/,/^  \]/p' | sed -n 's/^    "\([a-z_0-9]*\)",*$/\1/p' | tr '\n' ' '; }
	check gaming-cache "a candidate that caches its answer across runs: $(st gm-0000) [$(flags gm-0000)]" \
		sh -c 'case "$1" in *writes_during_timing*warm_cache_suspected*) test "$2" = success ;; *) false ;; esac' _ "$(flags gm-0000)" "$(st gm-0000)"
	check gaming-recheck "a candidate that fails only after timing: $(st gm-0001) ($(reason gm-0001 | cut -c1-60))" \
		sh -c 'test "$1" = correctness_failed && case "$2" in "failed after timing"*) ;; *) false ;; esac' _ "$(st gm-0001)" "$(reason gm-0001)"
	check gaming-hidden "a candidate that edits the hidden benchmark: $(st gm-0002) ($(reason gm-0002))" \
		sh -c 'test "$1" = correctness_failed && case "$2" in "benchmark file modified"*) ;; *) false ;; esac' _ "$(st gm-0002)" "$(reason gm-0002)"
}

say "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
[ $# -gt 0 ] || set -- all
for c in "$@"; do
	case $c in
	known2x) known2x ;;
	aa) aa ;;
	power) power ;;
	negatives) negatives ;;
	gaming) gaming ;;
	peers) peers ;;
	all) negatives; gaming; known2x; aa; power; peers ;;
	*) say "unknown check $c"; exit 2 ;;
	esac
done
say "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $FAILED
