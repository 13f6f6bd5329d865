package evaluate

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/workspace/workspacetest"
)

func TestRoundSeed(t *testing.T) {
	seen := map[int64]bool{}
	for r := 0; r < 50; r++ {
		s := RoundSeed("abc", r)
		if s < 0 || s >= 1<<31 {
			t.Fatalf("round %d: seed %d out of [0, 2^31)", r, s)
		}
		if s != RoundSeed("abc", r) {
			t.Fatalf("round %d: seed not deterministic", r)
		}
		seen[s] = true
	}
	if len(seen) != 50 {
		t.Errorf("%d distinct seeds in 50 rounds", len(seen))
	}
	if RoundSeed("abc", 0) == RoundSeed("abd", 0) {
		t.Errorf("two items share round 0's seed")
	}
}

func TestFirstRunFactorAndThresholds(t *testing.T) {
	samples := []records.Sample{{Value: 3, Warmup: true}, {Value: 1.1, Warmup: true}, {Value: 1}, {Value: 1.2}, {Value: 0.9}}
	if f := FirstRunFactor(samples, true); f != 3 {
		t.Errorf("lower is better: factor %v, want 3", f)
	}
	if f := FirstRunFactor(samples, false); f != 1.0/3 {
		t.Errorf("higher is better: factor %v, want 1/3", f)
	}
	if FirstRunFactor(nil, true) != 0 || FirstRunFactor(samples[:2], true) != 0 {
		t.Errorf("no timed runs must give 0")
	}
	if e := FirstRunExcess(samples, true); math.Abs(e-2) > 1e-12 {
		t.Errorf("lower is better: excess %v, want 2", e)
	}
	if e := FirstRunExcess(samples, false); math.Abs(e+2) > 1e-12 {
		t.Errorf("higher is better: excess %v, want -2", e)
	}
	for _, c := range []struct {
		name                       string
		candF, baseF, candE, baseE float64
		want                       bool
	}{
		{"cache built by the first run", 2.5, 1.2, 1.5, 0.2, true},
		{"factor within twice the baseline's", 2.3, 1.2, 1.3, 0.2, false},
		{"first run not the slower", 0.9, 0.4, -0.1, -0.6, false},
		{"baseline factor not computable", 3, 0, 2, 0, false},
		// The review's case: the baseline's first run was fast (0.24), so
		// without the floor any slower first run (1.1) was flagged.
		{"fast baseline first run, ordinary cold start", 1.1, 0.2427, 0.1, -0.7, false},
		{"fast baseline first run, real cache", 5, 0.2427, 4, -0.7, true},
		// 0.1 s cold-start cost, baseline 1.0 s, candidate 20x faster:
		// factor 3 but the same absolute excess.
		{"faster candidate, same cold-start cost", 3, 1.1, 0.1, 0.1, false},
		{"excess not twice the baseline's", 3, 1.1, 0.19, 0.1, false},
		{"excess over twice the baseline's", 3, 1.1, 0.5, 0.1, true},
	} {
		if got := WarmCacheSuspected(c.candF, c.baseF, c.candE, c.baseE); got != c.want {
			t.Errorf("%s: WarmCacheSuspected(%v, %v, %v, %v) = %v", c.name, c.candF, c.baseF, c.candE, c.baseE, got)
		}
	}
	for _, c := range []struct {
		cand, base float64
		want       bool
	}{{1.5, 0.1, true}, {0.9, 0.1, false}, {3, 1.6, false}, {5, 2, true}, {2.5, 1.5, false}} {
		if got := SetupGrew(c.cand, c.base); got != c.want {
			t.Errorf("SetupGrew(%v, %v) = %v", c.cand, c.base, got)
		}
	}
}

func TestManifestChanges(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a.txt", "a")
	writeFile(t, root, "sub/b.txt", "b")
	writeFile(t, root, ".git/objects/x", "x")
	writeFile(t, root, ".git/HEAD", "ref")
	before := takeManifest(root, nil)
	if _, ok := before.files[".git/objects/x"]; ok || len(before.files) != 5 {
		t.Fatalf("manifest %v: git's object store must be skipped, the rest listed", before.files)
	}
	writeFile(t, root, "sub/c.txt", "c")
	writeFile(t, root, "a.txt", "aa")
	writeFile(t, root, ".git/objects/y", "y")
	writeFile(t, root, ".git/answer", "42")
	writeFile(t, root, "data/.git/answer", "42")
	out := map[string]bool{}
	changed(before, takeManifest(root, nil), "workspace/", out)
	if len(out) != 4 || !out["workspace/sub/c.txt"] || !out["workspace/a.txt"] || !out["workspace/.git/answer"] || !out["workspace/data/.git/answer"] {
		t.Errorf("changes %v", out)
	}
	if m := takeManifest(filepath.Join(root, "missing"), nil); len(m.files) != 0 {
		t.Errorf("a missing directory must be empty")
	}
	if m := takeManifest(root, []string{filepath.Join(root, "sub")}); m.files["sub/b.txt"] != (fileState{}) || m.files["a.txt"] == (fileState{}) {
		t.Errorf("skipped directory listed: %v", m.files)
	}
}

func TestManifestTruncatedWindow(t *testing.T) {
	files := func(paths ...string) map[string]fileState {
		m := map[string]fileState{}
		for _, p := range paths {
			m[p] = fileState{size: 1}
		}
		return m
	}
	// An entry early in the walk went away, so one more fits at the end:
	// it is not new, only newly inside the cap.
	before := manifest{files: files("a", "b", "c"), truncated: true, last: "c"}
	after := manifest{files: files("b", "c", "d"), truncated: true, last: "d"}
	out := map[string]bool{}
	changed(before, after, "", out)
	if len(out) != 0 {
		t.Errorf("changes %v past the window", out)
	}
	after = manifest{files: files("a", "b", "b2"), truncated: true, last: "b2"}
	changed(before, after, "", out)
	if len(out) != 1 || !out["b2"] {
		t.Errorf("changes %v, want b2", out)
	}
	if !walkLess("a/b", "a.txt") || walkLess("a.txt", "a/b") != false || !walkLess("a", "a/b") {
		t.Errorf("walk order: a's children come before a.txt")
	}
}

// evalOne evaluates one unit and returns its eval.json.
func (f *fixture) evalOne(t *testing.T, eval *config.Evaluation, patch []byte) *records.Eval {
	t.Helper()
	u := f.unit(t, eval, patch)
	if _, err := f.run(t, context.Background(), []Unit{u}, nil, false); err != nil {
		t.Fatal(err)
	}
	r, err := journal.ReadEval(u.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoundAndSeedPlaceholders(t *testing.T) {
	f := newFixture(t)
	log := filepath.Join(t.TempDir(), "log")
	two := 2
	eval := &config.Evaluation{Warmup: &two,
		Setup:    []string{"echo setup {round} {seed} >> " + log},
		Workload: "echo $(basename {workspace}) {round} {seed} >> " + log + "; sh work.sh"}
	r := f.evalOne(t, eval, nil)
	if r.Status != records.EvalSuccess {
		t.Fatalf("status %s: %s", r.Status, r.Reason)
	}
	if len(r.RoundSeeds) != 5 {
		t.Fatalf("round seeds %v, want 5 (2 warm-up + 3)", r.RoundSeeds)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3+15 {
		t.Fatalf("%d lines: %q", len(lines), lines)
	}
	// Setup gets a round and seed no timed round uses.
	untimed := RoundSeed(r.PlanItemHash, -1)
	if slices.Contains(r.RoundSeeds, untimed) {
		t.Fatalf("setup's seed %d is a timed round's: %v", untimed, r.RoundSeeds)
	}
	for _, l := range lines[:3] {
		if l != "setup -1 "+strconv.FormatInt(untimed, 10) {
			t.Errorf("setup line %q, want round -1 and seed %d", l, untimed)
		}
	}
	byRound := map[string]map[string]bool{}
	for _, l := range lines[3:] {
		fs := strings.Fields(l)
		round, err := strconv.Atoi(fs[1])
		if err != nil || fs[2] != strconv.FormatInt(r.RoundSeeds[round], 10) {
			t.Fatalf("line %q: seed is not round %s's (%v)", l, fs[1], r.RoundSeeds)
		}
		if byRound[fs[1]] == nil {
			byRound[fs[1]] = map[string]bool{}
		}
		byRound[fs[1]][fs[0]] = true
	}
	if len(byRound) != 5 {
		t.Errorf("rounds %v", byRound)
	}
	for round, arms := range byRound {
		if len(arms) != 3 {
			t.Errorf("round %s ran on %v", round, arms)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(r.RoundSeeds)))) != 5 {
		t.Errorf("seeds repeat: %v", r.RoundSeeds)
	}
}

func TestRecheck(t *testing.T) {
	f := newFixture(t)
	// The candidate breaks its own tests while it is timed.
	breaks := f.patch(t, func(d string) {
		writeFile(t, d, "work.sh", "echo result 42\necho time: 1.5 ms\ntouch broken.flag\n")
		writeFile(t, d, "test.sh", "test ! -f broken.flag\n")
	})
	r := f.evalOne(t, nil, breaks)
	if r.Status != records.EvalCorrectnessFailed || !strings.HasPrefix(r.Reason, "failed after timing: correctness command `sh test.sh` failed on the agent's candidate: exit status 1") {
		t.Fatalf("status %s (%s)", r.Status, r.Reason)
	}
	if last := r.Commands[len(r.Commands)-1]; last.Phase != "recheck" || last.OK || last.Arm != records.ArmAgent {
		t.Errorf("last command %+v", last)
	}
	off := false
	if r := f.evalOne(t, &config.Evaluation{Recheck: &off}, breaks); r.Status != records.EvalSuccess || r.Config.Recheck {
		t.Errorf("recheck: false: status %s (%s)", r.Status, r.Reason)
	}
	// A workload that changes the state the tests check fails the
	// baseline's recheck: the task's problem.
	r = f.evalOne(t, &config.Evaluation{Workload: "sh work.sh; touch state.flag", Correctness: []string{"test ! -f state.flag"}}, nil)
	if r.Status != records.EvalBaseFailed || !strings.HasPrefix(r.Reason, "failed after timing: correctness command `test ! -f state.flag` failed on the baseline") {
		t.Errorf("status %s (%s)", r.Status, r.Reason)
	}
}

func TestTimingWritesWarmCacheSetupGrew(t *testing.T) {
	f := newFixture(t)
	writeFile(t, f.repo, "setup.sh", "exit 0\n")
	f.pre = workspacetest.Commit(t, f.repo, "setup")
	writeFile(t, f.repo, "human.txt", "the human was here again\n")
	f.human = workspacetest.Commit(t, f.repo, "human again")
	// The candidate caches its answer in the workspace, in HOME and in
	// TMPDIR; its first run is the slow one; its setup does work.
	cheat := f.patch(t, func(d string) {
		writeFile(t, d, "work.sh", `if [ ! -f .cache/answer ]; then
  sleep 0.4
  mkdir -p .cache "$HOME/.cache/cheat" && echo 42 > .cache/answer && echo 42 > "$HOME/.cache/cheat/answer" && echo 42 > "$TMPDIR/answer"
fi
echo result $(cat .cache/answer)
echo time: 1.5 ms
`)
		writeFile(t, d, "setup.sh", "sleep 1.3\n")
	})
	// Every arm writes out.txt on every run: not the candidate's own.
	eval := &config.Evaluation{Setup: []string{"sh setup.sh"}, Workload: "sh work.sh > out.txt; cat out.txt"}
	r := f.evalOne(t, eval, cheat)
	if r.Status != records.EvalSuccess {
		t.Fatalf("status %s (%s)", r.Status, r.Reason)
	}
	for _, fl := range []string{records.FlagWritesDuringTiming, records.FlagWarmCache, records.FlagSetupGrew} {
		if !slices.Contains(r.Flags, fl) {
			t.Errorf("flag %s missing: %v", fl, r.Flags)
		}
	}
	p := r.Protocol
	if p == nil {
		t.Fatal("no protocol checks")
	}
	want := []string{"home/.cache/cheat/answer", "tmp/answer", "workspace/.cache/answer"}
	if !slices.Equal(p.TimingWrites, want) || p.TimingWritesTotal != 3 {
		t.Errorf("timing writes %v (%d), want %v", p.TimingWrites, p.TimingWritesTotal, want)
	}
	if p.SetupSeconds < 1.3 || p.BaseSetupSeconds > p.SetupSeconds-1 || p.FirstRunFactor <= 2*p.BaseFirstRunFactor {
		t.Errorf("protocol figures %+v", p)
	}
	if len(p.Watched) != 4 || !p.Watched[1].Shared || !p.Watched[3].Shared {
		t.Errorf("watched %+v", p.Watched)
	}
	// Another command of the harness running meanwhile (another item's
	// setup): what changes in the shared HOME is nobody's.
	os.RemoveAll(filepath.Join(f.home, ".cache"))
	tok := activity.begin()
	r = f.evalOne(t, eval, cheat)
	activity.end(tok)
	if p := r.Protocol; p == nil || slices.Contains(p.TimingWrites, "home/.cache/cheat/answer") || !slices.Contains(p.TimingWrites, "workspace/.cache/answer") ||
		len(p.Watched) != 4 || p.Watched[1].UnattributedRuns != 12 {
		t.Errorf("with another command running: protocol %+v", r.Protocol)
	}
	// The baseline against itself: neither writes nor a grown setup (a
	// warm-cache flag can come from one slow first run on a loaded
	// machine, so it is not asserted here).
	r = f.evalOne(t, eval, nil)
	for _, fl := range []string{records.FlagWritesDuringTiming, records.FlagSetupGrew} {
		if slices.Contains(r.Flags, fl) {
			t.Errorf("empty patch flagged %s: %v (%+v)", fl, r.Flags, r.Protocol)
		}
	}
}

func TestTimingWritesSharedTmpAndGit(t *testing.T) {
	f := newFixture(t)
	shm := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "perfbench-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		shm = d
		f.sharedTmp = append(f.sharedTmp, "/dev/shm")
	}
	hostTmp := f.sharedTmp[0]
	// The candidate caches its answer in the host's shared temporary
	// directories and in a .git directory of its workspace that is not
	// the repository's.
	cheat := f.patch(t, func(d string) {
		writeFile(t, d, "work.sh", `mkdir -p data/.git && echo 42 > data/.git/answer
echo 42 > `+hostTmp+`/answer
if [ -n "`+shm+`" ]; then echo 42 > "`+shm+`/answer"; fi
echo result 42
echo time: 1.5 ms
`)
	})
	r := f.evalOne(t, &config.Evaluation{}, cheat)
	if r.Status != records.EvalSuccess {
		t.Fatalf("status %s (%s)", r.Status, r.Reason)
	}
	want := []string{hostTmp + "/answer", "workspace/data/.git/answer"}
	if shm != "" {
		want = append(want, shm+"/answer")
	}
	slices.Sort(want)
	if p := r.Protocol; p == nil || !slices.Equal(p.TimingWrites, want) || !slices.Contains(r.Flags, records.FlagWritesDuringTiming) {
		t.Fatalf("flags %v, protocol %+v, want writes %v", r.Flags, r.Protocol, want)
	}
	names := []string{}
	for _, d := range r.Protocol.Watched {
		if d.Shared {
			names = append(names, d.Name)
		}
	}
	if !slices.Contains(names, hostTmp) || !slices.Contains(names, "home") || (shm != "" && !slices.Contains(names, "/dev/shm")) {
		t.Errorf("shared watched %v", names)
	}
	// An honest Python candidate: its helper module's bytecode is listed,
	// not flagged (the machine may set PYTHONDONTWRITEBYTECODE).
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed: the __pycache__ case needs it")
	}
	py := f.patch(t, func(d string) {
		writeFile(t, d, "helper.py", "ANSWER = 42\n")
		writeFile(t, d, "work.sh", "env -u PYTHONDONTWRITEBYTECODE python3 -c 'import helper; print(\"result\", helper.ANSWER)'\necho time: 1.5 ms\n")
	})
	r = f.evalOne(t, &config.Evaluation{}, py)
	if r.Status != records.EvalSuccess {
		t.Fatalf("python: status %s (%s)", r.Status, r.Reason)
	}
	if p := r.Protocol; p == nil || slices.Contains(r.Flags, records.FlagWritesDuringTiming) || len(p.InformationalWrites) != 1 ||
		!strings.HasPrefix(p.InformationalWrites[0], "workspace/__pycache__/helper.") || !strings.HasSuffix(p.InformationalWrites[0], ".pyc") {
		t.Errorf("python: flags %v, protocol %+v", r.Flags, r.Protocol)
	}
}

func TestInformationalWrite(t *testing.T) {
	for p, want := range map[string]bool{
		"workspace/__pycache__/helper.cpython-311.pyc":    true,
		"workspace/pkg/__pycache__/mod.cpython-311.pyc":   true,
		"home/.cache/__pycache__/x.pyc":                   true,
		"workspace/__pycache__/answer":                    false,
		"workspace/helper.pyc":                            false,
		"workspace/not__pycache__/helper.cpython-311.pyc": false,
	} {
		if got := informationalWrite(p); got != want {
			t.Errorf("informationalWrite(%q) = %v", p, got)
		}
	}
}

func TestBenchmarkFileModified(t *testing.T) {
	f := newFixture(t)
	writeFile(t, f.task.Dir, "hidden/check.sh", "echo hidden ok\n")
	writeFile(t, f.task.Dir, "hidden/data.txt", "data\n")
	eval := &config.Evaluation{Files: []string{"hidden"}, Workload: "sh work.sh && sh hidden/check.sh"}
	during := f.patch(t, func(d string) {
		writeFile(t, d, "work.sh", "echo result 42\necho time: 1.5 ms\necho 'echo faster' > hidden/check.sh\n")
	})
	r := f.evalOne(t, eval, during)
	if r.Status != records.EvalCorrectnessFailed || r.Reason != "benchmark file modified during the timed runs: hidden/check.sh" {
		t.Errorf("status %s (%s)", r.Status, r.Reason)
	}
	inSetup := f.patch(t, func(d string) { writeFile(t, d, "test.sh", "rm hidden/data.txt\n") })
	r = f.evalOne(t, eval, inSetup)
	if r.Status != records.EvalCorrectnessFailed || r.Reason != "benchmark file modified during setup and correctness: hidden/data.txt" {
		t.Errorf("status %s (%s)", r.Status, r.Reason)
	}
	// Files added to a copied directory (caches, build output) and the
	// task's own setup rewriting a file in every arm are no candidate's
	// doing.
	own := &config.Evaluation{Files: []string{"hidden"}, Setup: []string{"echo configured >> hidden/data.txt"},
		Workload: "sh work.sh && mkdir -p hidden/__pycache__ && touch hidden/__pycache__/x.pyc"}
	if r := f.evalOne(t, own, nil); r.Status != records.EvalSuccess {
		t.Errorf("status %s (%s)", r.Status, r.Reason)
	}
}

// In a container the arm's workspace and its HOME are host directories,
// so their manifests see what the timed runs wrote; the container's /tmp,
// /var/tmp and /dev/shm are its own and are listed inside it.
func TestContainerTimingWrites(t *testing.T) {
	f, c, run := containerFixture(t)
	cheat := f.patch(t, func(d string) {
		writeFile(t, d, "work.sh", `[ -f "$HOME/answer" ] || { sleep 0.4; echo 42 > "$HOME/answer"; echo 42 > .answer; }
echo result $(cat "$HOME/answer")
echo time: 1.5 ms
`)
	})
	u := f.unit(t, &config.Evaluation{Workload: "sh work.sh; echo {round} {seed} > round.txt"}, cheat)
	sum, _, err := f.runAs(t, context.Background(), run, []Unit{u}, c)
	if err != nil || sum.Counts[records.EvalSuccess] != 1 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	noContainersLeft(t, run)
	r, err := journal.ReadEval(u.Dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"home/answer", "workspace/.answer"}
	if p := r.Protocol; p == nil || !slices.Equal(p.TimingWrites, want) || !slices.Equal(watchedNames(p.Watched), []string{"workspace", "home", "/tmp", "/var/tmp", "/dev/shm"}) ||
		slices.ContainsFunc(p.Watched, func(w records.WatchedDir) bool { return w.Shared || w.Truncated }) {
		t.Fatalf("protocol %+v, want writes %v in the workspace and the arm's own home", r.Protocol, want)
	}
	if !slices.Contains(r.Flags, records.FlagWritesDuringTiming) || !slices.Contains(r.Flags, records.FlagWarmCache) || len(r.RoundSeeds) != 4 {
		t.Errorf("flags %v, seeds %v", r.Flags, r.RoundSeeds)
	}
}

func watchedNames(ws []records.WatchedDir) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Name)
	}
	return out
}

// A candidate that keeps its answer in its container's /tmp (or
// /dev/shm) across the timed runs: the container lives for the whole item,
// so the cache would persist; the listing inside the container catches
// it, and the baseline's own container writes nothing there.
func TestContainerTmpCache(t *testing.T) {
	f, c, run := containerFixture(t)
	cheat := f.patch(t, func(d string) {
		writeFile(t, d, "work.sh", `[ -f /tmp/answer ] || { sleep 0.4; echo 42 > /tmp/answer; echo 42 > /dev/shm/answer; }
echo result $(cat /tmp/answer)
echo time: 1.5 ms
`)
	})
	u := f.unit(t, &config.Evaluation{Workload: "sh work.sh"}, cheat)
	sum, _, err := f.runAs(t, context.Background(), run, []Unit{u}, c)
	if err != nil || sum.Counts[records.EvalSuccess] != 1 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	noContainersLeft(t, run)
	r, err := journal.ReadEval(u.Dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/dev/shm/answer", "/tmp/answer"}
	if p := r.Protocol; p == nil || !slices.Equal(p.TimingWrites, want) {
		t.Fatalf("protocol %+v, want writes %v in the container's own temporary directories", r.Protocol, want)
	}
	if !slices.Contains(r.Flags, records.FlagWritesDuringTiming) || slices.Contains(r.Flags, records.FlagWatchTruncated) {
		t.Errorf("flags %v", r.Flags)
	}
}

// The result folder is every arm's: a candidate's workload that puts
// FIFOs and read-only files of made-up times at the other arms' result
// paths (their launchers' next files) neither hangs their runs nor gets
// its times read as theirs. Before the launcher replaced what was there,
// a FIFO blocked the base's write until the timeout.
func TestContainerResultPlants(t *testing.T) {
	f, c, run := containerFixture(t)
	cheat := f.patch(t, func(d string) {
		writeFile(t, d, "work.sh", `i=1; while [ $i -le 60 ]; do
  for a in base human; do
    p=/.perfbench/out/$a-$i.json
    if [ $((i % 2)) = 0 ]; then mkfifo $p 2>/dev/null; else echo '{"wall_ns": 1, "user_ns": 1, "sys_ns": 1, "exit_code": 0}' > $p 2>/dev/null; chmod 444 $p 2>/dev/null; fi
  done
  i=$((i+1))
done
echo result 42
`)
	})
	u := f.unit(t, &config.Evaluation{Workload: "sh work.sh", Rounds: 4}, cheat)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, _, err := f.runAs(t, ctx, run, []Unit{u}, c)
	if err != nil || sum.Counts[records.EvalSuccess] != 1 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	noContainersLeft(t, run)
	r, err := journal.ReadEval(u.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, smp := range r.Samples {
		if smp.Arm != records.ArmAgent && smp.WallSeconds < 1e-6 {
			t.Errorf("the %s arm's sample is the planted one: %+v", smp.Arm, smp)
		}
	}
}

// The launcher's --manifest prints what takeManifest lists, and the
// harness reads back the same manifest (sizes, times, modes, the cap's
// state); a missing directory is an empty one.
func TestManifestMainRoundTrip(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a/b.txt", "x")
	writeFile(t, dir, "c", "yy")
	var out bytes.Buffer
	if code := ManifestMain([]string{dir, filepath.Join(dir, "nosuch")}, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var js []manifestJSON
	if err := json.Unmarshal(out.Bytes(), &js); err != nil || len(js) != 2 || js[0].Root != dir {
		t.Fatalf("%v: %s", err, out.String())
	}
	want := takeManifest(dir, nil)
	if got := js[0].manifest(); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n%+v\n%+v", got, want)
	}
	if got := js[1].manifest(); len(got.files) != 0 || got.truncated {
		t.Fatalf("missing directory: %+v", got)
	}
	// An unavailable listing compares with nothing.
	w := map[string]bool{}
	changed(manifest{unavailable: true}, want, "x/", w)
	changed(manifest{files: map[string]fileState{}}, manifest{unavailable: true}, "x/", w)
	if len(w) != 0 {
		t.Fatalf("writes from an unavailable listing: %v", w)
	}
	b := &cappedBuffer{max: 4}
	if n, err := b.Write([]byte("abcdef")); n != 6 || err != nil || !b.over || b.buf.String() != "abcd" {
		t.Fatalf("capped: %d %v %+v", n, err, b)
	}
}
