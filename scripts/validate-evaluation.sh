#!/bin/sh
# Validation of `bench evaluate` (docs/evaluation.md records the results).
#
#   scripts/validate-evaluation.sh [known2x|aa|power|negatives|gaming|peers|calibrate|instructions|loaded|all]...
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
#   calibrate  `bench calibrate` (3 sessions) on 20 generated items: 10
#              whose human commit makes the workload 10% faster, 5 A/A
#              (a note only), 5 faster in the first session only (their
#              setup restores the base spin unless it is the tree's first
#              setup). Expect >= 18 of 20 classified stable / no_speedup /
#              unstable as built. CAL_METRIC (default wall) sets the
#              task's metric, CAL_ROUNDS the rounds (default the task's
#              20), CAL_N the base spin.
#   instructions  the power set on `metric: instructions` (cachegrind
#              where perf cannot count), a forking workload of a few ms
#              (INSTR_N steps), INSTR_ROUNDS (default 5) rounds, no
#              warm-up, INSTR_ITEMS (default 50) items. Expect the
#              counts' CV < 0.5% in every arm and the 5% speedup found in
#              every item.
#   loaded     two busy loops run while `bench calibrate` (one session,
#              LOADED_CAL items of the power task) recommends a metric and
#              the power set (LOADED_POWER_ITEMS, default 50) and an A/A
#              set of the same workload (LOADED_AA_ITEMS, default 100) are
#              evaluated on it. Expect >= 90% found and <= 5% false
#              win/loss. LOADED_METRIC overrides the advice (and the
#              5% spin is then calibrated on it); LOADED_N is the spin.
#
# AA_ITEMS (default 100) and POWER_ITEMS (default 50) set the sizes of the
# aa and power sets, for a slow machine.
# Each check prints its figures and "PASS"/"FAIL"; the exit status is 1 when
# a check fails. WORK_DIR keeps the generated files (default a temp dir,
# removed at the end unless KEEP=1). LOCK_DIR gives the evaluations and
# calibrations of aa, power, calibrate, instructions and loaded their own
# timing-lock directory (--lock-dir): they then time while other
# evaluations of the machine do, instead of waiting for them.
# NO_WATCH_TMP=1 makes the checks fit on a busy machine (see below). Run it on an otherwise idle machine:
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
CAL_N=${CAL_N:-12000000}
CAL_METRIC=${CAL_METRIC:-wall}
# LOCK_DIR gives calibrate/instructions their own timing locks (to run
# next to another check: instruction counts do not mind).
LOCK_FLAG=${LOCK_DIR:+--lock-dir $LOCK_DIR}
# NO_WATCH_TMP=1 leaves the machine's /tmp, /var/tmp and /dev/shm out of
# the timing protocol's manifests (BENCH_WATCH_TMP empty, as the test
# suites do) and gives bench an empty HOME of its own ($WORK/home): a
# shared directory's manifest is taken after every timed run, and on a
# busy /tmp or a HOME with Go's module and build caches (20,000 entries,
# the cap) each costs ~0.5-1 s per run here: outside the measured
# interval, but most of a check's duration.
if [ "${NO_WATCH_TMP:-}" = 1 ]; then
	BENCH_WATCH_TMP=
	HOME=$WORK/home
	mkdir -p "$HOME"
	export BENCH_WATCH_TMP HOME
fi
INSTR_N=${INSTR_N:-2000000}
INSTR_ITEMS=${INSTR_ITEMS:-50}
LOADED_POWER_ITEMS=${LOADED_POWER_ITEMS:-50}
LOADED_AA_ITEMS=${LOADED_AA_ITEMS:-100}
LOADED_CAL=${LOADED_CAL:-3}
LOADED_N=${LOADED_N:-12000000}

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
	printf '%s\n' '#!/bin/sh' "${BENCH_SH:-exec \"\$SPIN\" \"\$(cat spin.conf)\"}" > "$REPO/bench.sh"
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
		"$BENCH" evaluate --quiet $LOCK_FLAG --predictions preds.jsonl --plan state/plan.json --out state/runs/aa 2>/dev/null)
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
		"$BENCH" evaluate --quiet $LOCK_FLAG --predictions preds.jsonl --plan state/plan.json --out state/runs/pw 2>/dev/null)
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

# calibrate: `bench calibrate` (3 sessions) on 20 generated items of one
# task: 10 whose human commit makes the whole workload 10% faster
# (evaltool calibrate), 5 A/A (a note only), 5 whose speedup exists in the
# first session only. Those 5 carry the 10% faster spin, but their setup.sh
# puts the base spin back unless it is the first setup of that tree: it
# makes a per-item mark under $CAL_MARKS (outside every workspace) and
# calibrate's sessions run one after the other, so session 1 times the fast
# spin and sessions 2 and 3 the base one.
calibrate_set() {
	d="$WORK/calibrate"
	rm -rf "$d"
	mkdir -p "$d/marks" "$d/calib"
	CAL_MARKS="$d/marks"
	export CAL_MARKS
	mkrepo "$d/repo" "$CAL_N" "$CAL_N" 0
	cp "$d/repo/bench.sh" "$d/calib/"
	fast=$("$TOOL" calibrate -n "$CAL_N" -speedup 1.10 -metric "$CAL_METRIC" -dir "$d/calib" -bench "$BENCH" -cpu $(($(nproc) - 1)))
	REPO="$d/repo"
	printf '#!/bin/sh\ntrue\n' > "$REPO/setup.sh"
	g add -A
	g commit -q -m "base: setup.sh"
	base=$(g rev-parse HEAD)
	: > "$d/commits.txt"
	i=0
	while [ "$i" -lt 20 ]; do
		g checkout -q -B "h$i" "$base"
		printf 'note %s\n' "$i" > "$REPO/NOTE"
		if [ "$i" -lt 10 ] || [ "$i" -ge 15 ]; then printf '%s\n' "$fast" > "$REPO/spin.conf"; fi
		if [ "$i" -ge 15 ]; then
			printf '#!/bin/sh\n# fast in the first session only\nmkdir "$CAL_MARKS/item%s" 2>/dev/null || echo %s > spin.conf\n' "$i" "$CAL_N" > "$REPO/setup.sh"
		fi
		g add -A
		g commit -q -m "human $i"
		printf '%s parent=1\n' "$(g rev-parse HEAD)" >> "$d/commits.txt"
		i=$((i + 1))
	done
	g checkout -q main
	mktask "$d" cal "${CAL_ROUNDS:-}"
	sed -i "s/^evaluation:\$/evaluation:\n  setup: [\"sh setup.sh\"]\n  metric: $CAL_METRIC/" "$d/task.yaml"
	say "== calibrate: 20 items (10 with a 10% speedup, 5 A/A, 5 faster in session 1 only), 3 sessions, metric $CAL_METRIC, rounds ${CAL_ROUNDS:-default}; load $(cut -d' ' -f1-3 /proc/loadavg) =="
	start=$(date +%s)
	(cd "$d" &&
		"$BENCH" plan task.yaml --commits commits.txt >/dev/null 2>&1 &&
		"$BENCH" calibrate task.yaml --from-plan state/plan.json --sessions 3 $LOCK_FLAG > calibrate.txt 2> calibrate.log) ||
		{ say "bench calibrate failed:"; tail -5 "$d/calibrate.log"; FAILED=1; return 0; }
	say "bench calibrate took $(($(date +%s) - start)) s; load after $(cut -d' ' -f1-3 /proc/loadavg)"
	tail -2 "$d/calibrate.txt"
	"$TOOL" classes "$d/state/calibration.json" 0:9=stable 10:14=no_speedup 15:19=unstable | tee "$d/classes.txt"
	"$TOOL" classes -json "$d/state/calibration.json" 0:9=stable 10:14=no_speedup 15:19=unstable > "$d/classes.json"
	right=$(field Right "$d/classes.json")
	check calibrate "classified right $right of 20 (must be >= 18)" test "$right" -ge 18
}

# instructions: the power set on `metric: instructions` (cachegrind here:
# perf cannot count on this VM), the workload small (INSTR_N steps, a few
# ms natively) and forking: the workload's shell sources bench.sh, which
# runs the spin as its child, so every run sums the counts of the shell and
# the spin.
# INSTR_ROUNDS (default 5) timed rounds, no warm-up (a count is not warmed).
instructions() {
	d="$WORK/instructions"
	rm -rf "$d"
	mkdir -p "$d/calib"
	BENCH_SH='read n < spin.conf; "$SPIN" "$n"'
	export BENCH_SH
	mkrepo "$d/repo" "$INSTR_N" "$INSTR_N" 0
	cp "$d/repo/bench.sh" "$d/calib/"
	fast=$("$TOOL" calibrate -n "$INSTR_N" -speedup 1.05 -count cachegrind -dir "$d/calib" -bench "$BENCH" -cpu $(($(nproc) - 1)))
	mkrepo "$d/repo" "$INSTR_N" "$fast" "$INSTR_ITEMS"
	unset BENCH_SH
	mktask "$d" in "${INSTR_ROUNDS:-5}"
	# ". ./bench.sh": the workload's shell forks the spin (two processes
	# under valgrind, not three: a valgrind start-up costs more than the
	# spin; every valgrind run takes ~1 s here when the machine is quiet).
	sed -i -e 's/^evaluation:$/evaluation:\n  metric: instructions\n  warmup: 0\n  workload: ". .\/bench.sh"/' "$d/task.yaml"
	say "== instructions: candidate 5% fewer instructions ($INSTR_ITEMS items, rounds ${INSTR_ROUNDS:-5}, forking workload); load $(cut -d' ' -f1-3 /proc/loadavg) =="
	start=$(date +%s)
	(cd "$d" &&
		"$BENCH" plan task.yaml --commits commits.txt >/dev/null 2>&1 &&
		"$TOOL" predictions -plan state/plan.json -repo repo -mode replay > preds.jsonl &&
		"$BENCH" evaluate --quiet $LOCK_FLAG --predictions preds.jsonl --plan state/plan.json --out state/runs/in 2>/dev/null)
	say "evaluate took $(($(date +%s) - start)) s; load after $(cut -d' ' -f1-3 /proc/loadavg)"
	"$TOOL" summary "$d/state/runs/in" | tee "$d/instructions.txt"
	"$TOOL" summary -json "$d/state/runs/in" > "$d/instructions.json"
	method=$(sed -n 's/^ *"instructions_method": "\([a-z]*\)".*/\1/p' "$d"/state/runs/in/*/eval.json | sort | uniq -c | tr '\n' ' ' | tr -s ' ')
	say "instructions counted by (items):$method"
	n=$(field Items "$d/instructions.json")
	hb=$(field FasterHumanBase "$d/instructions.json")
	ab=$(field FasterAgentBase "$d/instructions.json")
	cv=$(field MaxCV "$d/instructions.json")
	check instructions "CV of the counts max $(awk "BEGIN{printf \"%.3f\", 100*$cv}")% (median $(awk "BEGIN{printf \"%.3f\", 100*$(field MedianCV "$d/instructions.json")}")%) (must be < 0.5%); 5% fewer found human/base $hb/$n, agent/base $ab/$n (must be all)" \
		sh -c 'awk "BEGIN{exit !($1 < 0.005)}" && test "$2" = "$4" -a "$3" = "$4" -a "$4" -gt 0' _ "$cv" "$hb" "$ab" "$n"
}

# loaded: two busy loops (one per CPU of this 2-CPU machine) run while
# `bench calibrate` recommends a metric for the power task (LOADED_CAL
# items, one session) and then the power set and an A/A set of the same
# workload are evaluated on that metric.
loaded() {
	d="$WORK/loaded"
	rm -rf "$d"
	mkdir -p "$d/pw/calib" "$d/aa"
	mkrepo "$d/pw/repo" "$LOADED_N" "$LOADED_N" 0
	cp "$d/pw/repo/bench.sh" "$d/pw/calib/"
	fast=$("$TOOL" calibrate -n "$LOADED_N" -speedup 1.05 -metric "${LOADED_METRIC:-wall}" -dir "$d/pw/calib" -bench "$BENCH" -cpu $(($(nproc) - 1)))
	mkrepo "$d/pw/repo" "$LOADED_N" "$fast" "$LOADED_POWER_ITEMS"
	mkrepo "$d/aa/repo" "$LOADED_N" "$LOADED_N" "$LOADED_AA_ITEMS"
	for s in pw aa; do
		mktask "$d/$s" "l$s"
		(cd "$d/$s" && "$BENCH" plan task.yaml --commits commits.txt >/dev/null 2>&1)
	done
	say "== loaded: two busy loops; load before them $(cut -d' ' -f1-3 /proc/loadavg) =="
	sh -c 'while :; do :; done' & busy1=$!
	sh -c 'while :; do :; done' & busy2=$!
	trap 'kill $busy1 $busy2 2>/dev/null; cleanup' EXIT
	sleep 5
	start=$(date +%s)
	shard=$(( (LOADED_POWER_ITEMS + LOADED_CAL - 1) / LOADED_CAL ))
	(cd "$d/pw" && "$BENCH" calibrate task.yaml --from-plan state/plan.json --sessions 1 --shard "1/$shard" $LOCK_FLAG > calibrate.txt 2> calibrate.log) ||
		{ say "bench calibrate failed:"; tail -5 "$d/pw/calibrate.log"; }
	metric=$("$TOOL" advice "$d/pw/state/calibration.json" 2>"$d/advice.txt" || echo wall)
	say "calibrate ($(($(date +%s) - start)) s, load $(cut -d' ' -f1-3 /proc/loadavg)): $(cat "$d/advice.txt")"
	say "recommended metric: $metric"
	if [ -n "${LOADED_METRIC:-}" ]; then
		metric=$LOADED_METRIC
		say "LOADED_METRIC: evaluating on $metric"
	fi
	for s in pw aa; do
		sed -i "s/^evaluation:\$/evaluation:\n  metric: $metric/" "$d/$s/task.yaml"
		mode=replay
		[ "$s" = pw ] || mode=empty
		start=$(date +%s)
		(cd "$d/$s" &&
			"$TOOL" predictions -plan state/plan.json -repo repo -mode $mode > preds.jsonl &&
			"$BENCH" evaluate --quiet $LOCK_FLAG --predictions preds.jsonl --plan state/plan.json --out state/runs/$s 2>/dev/null)
		say "== loaded $s on $metric: evaluate took $(($(date +%s) - start)) s; load after $(cut -d' ' -f1-3 /proc/loadavg) =="
		"$TOOL" summary "$d/$s/state/runs/$s" | tee "$d/$s.txt"
		"$TOOL" summary -json "$d/$s/state/runs/$s" > "$d/$s.json"
	done
	kill $busy1 $busy2 2>/dev/null || true
	trap cleanup EXIT
	say "busy loops stopped; load $(cut -d' ' -f1-3 /proc/loadavg)"
	"$TOOL" peers -aa "$d/aa/state/runs/aa" -power "$d/pw/state/runs/pw" | tee "$d/peers.txt"
	n=$(field Items "$d/pw.json")
	hb=$(field FasterHumanBase "$d/pw.json")
	ab=$(field FasterAgentBase "$d/pw.json")
	check loaded-power "on $metric under two busy loops, 5% speedup significant: human/base $hb/$n, agent/base $ab/$n (each must be >= 90%)" \
		test $((hb * 100)) -ge $((90 * n)) -a $((ab * 100)) -ge $((90 * n))
	n=$(field Items "$d/aa.json")
	false=$(( $(field Win "$d/aa.json") + $(field Loss "$d/aa.json") ))
	check loaded-aa "on $metric under two busy loops, A/A false win/loss $false of $n (p <= 0.05: human/base $(field SigHumanBase "$d/aa.json"), agent/base $(field SigAgentBase "$d/aa.json")) (must be <= 5%)" \
		test $((false * 100)) -le $((5 * n))
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
	calibrate) calibrate_set ;;
	instructions) instructions ;;
	loaded) loaded ;;
	all) negatives; gaming; known2x; aa; power; peers; calibrate_set; instructions; loaded ;;
	*) say "unknown check $c"; exit 2 ;;
	esac
done
say "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $FAILED
