package evaluate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/workspace/workspacetest"
)

// TestMain lets the test binary be the launcher of timed runs, as the
// bench binary is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == TimedCommand {
		os.Exit(TimedMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func launcher(t testing.TB) *Host {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Host{Launcher: []string{exe, TimedCommand}}
}

func writeFile(t testing.TB, dir, rel, content string) {
	t.Helper()
	workspacetest.WriteFile(t, dir, rel, content, 0o644)
}

// fixture is a repository whose human commit adds human.txt and keeps the
// workload's output, plus a task, a bench configuration and a unit.
type fixture struct {
	repo, pre, human string
	task             *config.Task
	bench            *config.Bench
	lockDir          string
	home             string
	// sharedTmp stand for the host's /tmp, /var/tmp and /dev/shm: the
	// machine's are written by every other process.
	sharedTmp []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{repo: t.TempDir()}
	g := func(args ...string) string { return workspacetest.Git(t, f.repo, args...) }
	g("init", "-q", "--template=", "--initial-branch=main")
	writeFile(t, f.repo, "work.sh", "echo result 42\necho time: 1.5 ms\n")
	writeFile(t, f.repo, "test.sh", "exit 0\n")
	writeFile(t, f.repo, "README.md", "fixture\n")
	f.pre = workspacetest.Commit(t, f.repo, "pre")
	writeFile(t, f.repo, "human.txt", "the human was here\n")
	f.human = workspacetest.Commit(t, f.repo, "human")
	taskDir := t.TempDir()
	one := 1
	f.task = &config.Task{ID: "fx", Path: filepath.Join(taskDir, "task.yaml"), Dir: taskDir,
		Repo:       config.Repo{URL: f.repo},
		Workload:   "sh work.sh",
		Evaluation: config.Evaluation{Rounds: 3, Warmup: &one, Correctness: []string{"sh test.sh"}}}
	root := t.TempDir()
	f.bench = &config.Bench{Paths: config.Paths{StateRoot: filepath.Join(root, "state"), WorkRoot: filepath.Join(root, "work"), RolloutRoot: filepath.Join(root, "private")}}
	// The machine-wide default: tests never time on the CPU of a real
	// evaluation running on this machine at the same moment.
	f.lockDir = DefaultLockDir()
	f.home = t.TempDir()
	f.sharedTmp = []string{t.TempDir()}
	return f
}

// patch returns the diff that edit makes to the pre tree.
func (f *fixture) patch(t *testing.T, edit func(dir string)) []byte {
	t.Helper()
	dir := t.TempDir()
	workspacetest.Git(t, dir, "clone", "-q", f.repo, ".")
	workspacetest.Git(t, dir, "checkout", "-q", f.pre)
	edit(dir)
	workspacetest.Git(t, dir, "add", "-A")
	out := workspacetest.Git(t, dir, "diff", "--cached", "--binary", "--full-index")
	return []byte(out + "\n")
}

func (f *fixture) unit(t *testing.T, eval *config.Evaluation, patch []byte) Unit {
	dir := filepath.Join(t.TempDir(), "fx-0000")
	return Unit{Item: plan.Item{ID: "fx-0000", Human: f.human, Pre: f.pre, Evaluation: eval}, Dir: dir, Name: "fx-0000", Patch: patch}
}

func (f *fixture) run(t *testing.T, ctx context.Context, units []Unit, runner Runner, regrade bool) (*Summary, error) {
	t.Helper()
	if runner == nil {
		runner = launcher(t)
	}
	var log bytes.Buffer
	s, err := Run(ctx, Options{RunID: "r", Task: f.task, Bench: f.bench, RepoURL: f.repo, Units: units,
		Regrade: regrade, Runner: runner, LockDir: f.lockDir, ProcessEnv: f.env(t), Log: &log, SharedTmpDirs: f.sharedTmp})
	t.Logf("log:\n%s", log.String())
	return s, err
}

// env is the harness's environment with a HOME of the test's own (the
// timed runs' writes there are watched; the machine's HOME has other
// processes' writes).
func (f *fixture) env(t *testing.T) []string {
	env := []string{"HOME=" + f.home}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return env
}

// countingRunner counts the commands run.
type countingRunner struct {
	Host
	n atomic.Int64
}

func (c *countingRunner) Run(ctx context.Context, s CommandSpec) (CommandResult, error) {
	c.n.Add(1)
	return c.Host.Run(ctx, s)
}

func TestRunSuccessResumeRegrade(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	replay := f.patch(t, func(dir string) { writeFile(t, dir, "human.txt", "the human was here\n") })
	u := f.unit(t, nil, replay)
	r := &countingRunner{Host: *launcher(t)}
	sum, err := f.run(t, ctx, []Unit{u}, r, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Evaluated != 1 || sum.Counts[records.EvalSuccess] != 1 || len(sum.Missing) != 0 {
		t.Fatalf("summary %+v", sum)
	}
	res, err := journal.ReadEval(u.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != records.EvalSuccess || res.Stats == nil || len(res.Samples) != 3*(1+3) || !res.Patch.Applied || res.Patch.Empty {
		t.Fatalf("result: status %s, %d samples, patch %+v", res.Status, len(res.Samples), res.Patch)
	}
	// Rotation, positions and warm-up flags as they ran.
	for i, s := range res.Samples {
		r := i / 3
		if s.Round != r || s.Position != i%3 || s.Arm != Order(max(0, r-1))[i%3] || s.Warmup != (r == 0) {
			t.Fatalf("sample %d: %+v", i, s)
		}
		if s.Value <= 0 || s.Value != s.WallSeconds || !s.CPUTimes || s.UserSeconds+s.SysSeconds <= 0 {
			t.Fatalf("sample %d: value %v wall %v", i, s.Value, s.WallSeconds)
		}
	}
	// Correctness before timing, and again after it (recheck).
	if res.Stats.Base.N != 3 || res.Commands[0].Phase != "correctness" || len(res.Commands) != 6 || res.Commands[5].Phase != "recheck" {
		t.Fatalf("stats n %d, commands %+v", res.Stats.Base.N, res.Commands)
	}
	env := res.Environment
	if env.Runner != "host" || env.Cores < 1 || env.Kernel == "" || env.Pinning.Runs != 12 {
		t.Fatalf("environment %+v", env)
	}
	if runtime.NumCPU() > 1 && runtime.GOOS == "linux" && (!env.Pinning.Applied || env.Pinning.PinnedRuns != 12) {
		t.Fatalf("pinning not applied: %+v", env.Pinning)
	}
	if entries, _ := os.ReadDir(f.bench.Paths.RolloutRoot); len(entries) != 0 {
		t.Fatalf("private directories left: %v", entries)
	}

	// Resume: nothing runs.
	before := r.n.Load()
	sum, err = f.run(t, ctx, []Unit{u}, r, false)
	if err != nil || sum.Skipped != 1 || sum.Evaluated != 0 || r.n.Load() != before {
		t.Fatalf("resume: %+v %v, %d commands", sum, err, r.n.Load()-before)
	}
	// A new band changes no measurement: still skipped; regrade applies it
	// without running anything.
	f.task.Evaluation.Band = 0.5
	if sum, _ = f.run(t, ctx, []Unit{u}, r, false); sum.Skipped != 1 {
		t.Fatalf("band change re-evaluated: %+v", sum)
	}
	sum, err = f.run(t, ctx, []Unit{u}, r, true)
	if err != nil || sum.Regraded != 1 || r.n.Load() != before {
		t.Fatalf("regrade: %+v %v", sum, err)
	}
	res2, _ := journal.ReadEval(u.Dir)
	if res2.Stats.Options.Band != 0.5 || res2.Config.Band != 0.5 || res2.RegradedAt.IsZero() || len(res2.Samples) != len(res.Samples) {
		t.Fatalf("regraded: options %+v", res2.Stats.Options)
	}
	// Another patch, or more rounds, is a new evaluation.
	u.Patch = nil
	if sum, _ = f.run(t, ctx, []Unit{u}, r, false); sum.Evaluated != 1 {
		t.Fatalf("patch change not re-evaluated: %+v", sum)
	}
	res3, _ := journal.ReadEval(u.Dir)
	if res3.Status != records.EvalSuccess || !res3.Patch.Empty || !slicesContain(res3.Flags, records.FlagEmptyPatch) {
		t.Fatalf("empty patch: %s %v", res3.Status, res3.Flags)
	}
}

func slicesContain(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestRunStatuses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	writeFile(t, f.task.Dir, "hidden/check.sh", "cat work.sh > /dev/null && echo hidden ok\n")
	exact := &config.Equivalence{Mode: "exact"}
	one := 1
	cases := []struct {
		name   string
		eval   *config.Evaluation
		edit   func(dir string)
		raw    []byte
		status records.EvalStatus
		reason string
		check  func(t *testing.T, r *records.Eval)
	}{
		{name: "workload fails on the baseline", eval: &config.Evaluation{Workload: "test -f human.txt"},
			status: records.EvalBaseFailed, reason: "the workload failed on the baseline (warm-up round 0): exit status 1"},
		{name: "correctness fails on the human commit", eval: &config.Evaluation{Correctness: []string{"test ! -f human.txt"}},
			status: records.EvalHumanFailed, reason: "correctness command `test ! -f human.txt` failed on the human commit: exit status 1"},
		{name: "patch does not apply", raw: []byte("diff --git a/work.sh b/work.sh\n--- a/work.sh\n+++ b/work.sh\n@@ -1,2 +1,2 @@\n-echo nothing like this\n+echo x\n echo time: 1.5 ms\n"),
			status: records.EvalPatchFailed, reason: "the patch does not apply",
			check: func(t *testing.T, r *records.Eval) {
				if len(r.Patch.FailingHunks) == 0 || r.Patch.FailingHunks[0].File != "work.sh" || r.Patch.FailingHunks[0].Header != "@@ -1,2 +1,2 @@" || len(r.Samples) != 0 {
					t.Errorf("failing hunks %+v", r.Patch)
				}
			}},
		{name: "patch breaks the tests", edit: func(d string) { writeFile(t, d, "test.sh", "echo broken >&2\nexit 1\n") },
			status: records.EvalCorrectnessFailed, reason: "correctness command `sh test.sh` failed on the agent's candidate: exit status 1: broken",
			check: func(t *testing.T, r *records.Eval) {
				last := r.Commands[len(r.Commands)-1]
				if last.Arm != records.ArmAgent || last.OK || !strings.Contains(last.Output, "broken") {
					t.Errorf("command log %+v", last)
				}
			}},
		{name: "patch changes the output", eval: &config.Evaluation{Equivalence: exact},
			edit:   func(d string) { writeFile(t, d, "work.sh", "echo result 43\necho time: 1.5 ms\n") },
			status: records.EvalEquivalenceFailed, reason: `line 1: baseline "result 42\n", candidate "result 43\n"`},
		{name: "numeric tolerance accepts a small change", eval: &config.Evaluation{Equivalence: &config.Equivalence{Mode: "numeric", Tolerance: 0.1}},
			edit:   func(d string) { writeFile(t, d, "work.sh", "echo result 42.001\necho time: 1.5 ms\n") },
			status: records.EvalSuccess},
		{name: "agent hits the timeout", eval: &config.Evaluation{Timeout: records.Duration(300 * time.Millisecond), Warmup: &one},
			edit:   func(d string) { writeFile(t, d, "work.sh", "sleep 10\n") },
			status: records.EvalTimeout, reason: "timed out after 300ms"},
		{name: "metric missing from the agent's output", eval: &config.Evaluation{Metric: &config.Metric{Kind: "regex", Regex: `time: ([0-9.]+) ms`, Unit: "ms", Better: "lower"}},
			edit:   func(d string) { writeFile(t, d, "work.sh", "echo result 42\n") },
			status: records.EvalCorrectnessFailed, reason: "no metric in the agent's candidate's output"},
		{name: "metric extracted", eval: &config.Evaluation{Metric: &config.Metric{Kind: "regex", Regex: `time: ([0-9.]+) ms`, Unit: "ms", Better: "lower"}},
			status: records.EvalSuccess,
			check: func(t *testing.T, r *records.Eval) {
				if r.Samples[0].Value != 1.5 || r.Stats.Base.Median != 1.5 {
					t.Errorf("metric values %+v", r.Samples[0])
				}
			}},
		{name: "hidden file wins over the agent's", eval: &config.Evaluation{Files: []string{"hidden/check.sh"}, Workload: "sh {workspace}/hidden/check.sh", Equivalence: exact},
			edit:   func(d string) { writeFile(t, d, "hidden/check.sh", "echo cheated\n") },
			status: records.EvalSuccess,
			check: func(t *testing.T, r *records.Eval) {
				if r.Equivalence == nil || !r.Equivalence.AgentOK {
					t.Errorf("equivalence %+v", r.Equivalence)
				}
			}},
		{name: "setup fails on the agent", eval: &config.Evaluation{Setup: []string{"test ! -f broken.flag"}},
			edit:   func(d string) { writeFile(t, d, "broken.flag", "x\n") },
			status: records.EvalCorrectnessFailed, reason: "setup command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			patch := c.raw
			if c.edit != nil {
				patch = f.patch(t, c.edit)
			}
			u := f.unit(t, c.eval, patch)
			sum, err := f.run(t, ctx, []Unit{u}, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			r, err := journal.ReadEval(u.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != c.status || !strings.Contains(r.Reason, c.reason) {
				t.Fatalf("status %s (%s), want %s (%s)", r.Status, r.Reason, c.status, c.reason)
			}
			if (c.status == records.EvalBaseFailed || c.status == records.EvalHumanFailed) != (len(sum.TaskProblems) == 1) {
				t.Errorf("task problems %v", sum.TaskProblems)
			}
			if (r.Stats != nil) != (c.status == records.EvalSuccess) {
				t.Errorf("stats present: %v", r.Stats != nil)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

func TestRunBadInputBeforeAnything(t *testing.T) {
	f := newFixture(t)
	f.task.Workload = ""
	r := &countingRunner{}
	u := f.unit(t, nil, nil)
	_, err := f.run(t, context.Background(), []Unit{u}, r, false)
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "item fx-0000: no workload") || r.n.Load() != 0 {
		t.Fatalf("err %v, %d commands", err, r.n.Load())
	}
}

func TestRunInterrupted(t *testing.T) {
	f := newFixture(t)
	f.task.Workload = "sleep 30"
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	u := f.unit(t, nil, nil)
	start := time.Now()
	sum, err := f.run(t, ctx, []Unit{u}, nil, false)
	if err != nil || !sum.Interrupted || time.Since(start) > 20*time.Second {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	if _, err := os.Stat(filepath.Join(u.Dir, journal.EvalFile)); !os.IsNotExist(err) {
		t.Fatalf("eval.json written for an interrupted item: %v", err)
	}
	if entries, _ := os.ReadDir(f.bench.Paths.RolloutRoot); len(entries) != 0 {
		t.Fatalf("private directories left: %v", entries)
	}
}

func TestHostGatesAndPins(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("affinity is Linux only")
	}
	cpus, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	last := cpus[len(cpus)-1]
	var out bytes.Buffer
	h := &Host{}
	// The script sees the pinned CPU from its first command, and its stdin
	// is /dev/null as without pinning.
	res, err := h.Run(context.Background(), CommandSpec{
		Script: `grep Cpus_allowed_list /proc/self/status; sh -c 'grep Cpus_allowed_list /proc/self/status'; cat; echo "stdin done $1"`,
		Env:    os.Environ(), Stdout: &out, CPUs: []int{last}, Timeout: 10 * time.Second,
	})
	if err != nil || !res.OK() || !res.Pinned {
		t.Fatalf("%+v %v", res, err)
	}
	want := strings.Repeat("Cpus_allowed_list:\t"+itoa(last)+"\n", 2) + "stdin done \n"
	if out.String() != want {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
	out.Reset()
	res, err = h.Run(context.Background(), CommandSpec{Script: "echo hi; exit 3", Env: os.Environ(), Stdout: &out})
	if err != nil || res.ExitCode != 3 || res.Pinned || out.String() != "hi\n" || res.Describe(0) != "exit status 3" {
		t.Fatalf("%+v %v %q", res, err, out.String())
	}
}

func itoa(i int) string { return cpuList([]int{i}) }

func TestLauncher(t *testing.T) {
	h := launcher(t)
	var out bytes.Buffer
	cpu := -1
	if cpus, err := allowedCPUs(); err == nil {
		cpu = cpus[len(cpus)-1]
	}
	c := CommandSpec{Script: "grep Cpus_allowed_list /proc/self/status; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; exit 4",
		Env: os.Environ(), Stdout: &out, Timed: true, Timeout: 10 * time.Second}
	if cpu >= 0 {
		c.CPUs = []int{cpu}
	}
	res, err := h.Run(context.Background(), c)
	if err != nil || res.ExitCode != 4 || !res.CPUTimes || res.Wall <= 0 || res.User+res.Sys <= 0 || (runtime.GOOS == "linux" && !res.RunDelayKnown) {
		t.Fatalf("%+v %v", res, err)
	}
	// The shell's loop is the run's work: its own time on the CPU (which
	// scales its run delay to the tree) is most of the tree's CPU time.
	if runtime.GOOS == "linux" && (res.RunCPU <= 0 || res.RunCPU > res.User+res.Sys+20*time.Millisecond) {
		t.Fatalf("main process on CPU %v, tree user+sys %v", res.RunCPU, res.User+res.Sys)
	}
	if cpu >= 0 && (!res.Pinned || out.String() != "Cpus_allowed_list:\t"+itoa(cpu)+"\n") {
		t.Fatalf("pinned %v, output %q", res.Pinned, out.String())
	}
	// A timeout stops the launcher and its child; no report is needed.
	res, err = h.Run(context.Background(), CommandSpec{Script: "sleep 30", Env: os.Environ(), Timed: true, Timeout: 200 * time.Millisecond})
	if err != nil || !res.TimedOut || res.OK() {
		t.Fatalf("%+v %v", res, err)
	}
	if code := TimedMain([]string{"--cpu"}); code != 2 {
		t.Fatalf("bad usage: exit %d", code)
	}
}

func TestHeldUnitIsLeftAlone(t *testing.T) {
	f := newFixture(t)
	u := f.unit(t, nil, nil)
	// Another process's claim (an open file of this one: flock excludes
	// it all the same).
	c, err := journal.ClaimItem(u.Dir, "evaluate", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := &countingRunner{Host: *launcher(t)}
	sum, err := f.run(t, context.Background(), []Unit{u}, r, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.n.Load() != 0 || sum.Evaluated != 0 || len(sum.Held) != 1 || !strings.HasPrefix(sum.Held[0], "fx-0000: held by pid ") || len(sum.Missing) != 0 {
		t.Fatalf("held unit: %d commands, summary %+v", r.n.Load(), sum)
	}
	if sum, _ := f.run(t, context.Background(), []Unit{u}, r, true); len(sum.Held) != 1 || sum.Regraded != 0 {
		t.Fatalf("regrade of a held unit: %+v", sum)
	}
	c.Release()
	sum, err = f.run(t, context.Background(), []Unit{u}, r, false)
	if err != nil || sum.Evaluated != 1 || len(sum.Held) != 0 {
		t.Fatalf("released: %+v %v", sum, err)
	}
	res, _ := journal.ReadEval(u.Dir)
	if res.Harness != journal.Self() {
		t.Errorf("eval.json harness %v, want %v", res.Harness, journal.Self())
	}
}

// The launcher's result file lives in CommandSpec.TempDir (the item's
// owner-marked private directory), never in the system temp dir, where a
// harness killed with -9 would leave it for good.
func TestLauncherResultFileInTempDir(t *testing.T) {
	h := launcher(t)
	dir := t.TempDir()
	t.Setenv("TMPDIR", t.TempDir())
	var out bytes.Buffer
	res, err := h.Run(context.Background(), CommandSpec{Script: `echo D; ls "$D"; echo T; ls "$TMPDIR"`,
		Env: append(os.Environ(), "D="+dir), Stdout: &out, Timed: true, Timeout: 10 * time.Second, TempDir: dir})
	if err != nil || !res.OK() {
		t.Fatalf("%+v %v", res, err)
	}
	if !regexp.MustCompile(`^D\nperfbench-timed-[0-9]+\.json\nT\n$`).MatchString(out.String()) {
		t.Errorf("TempDir and TMPDIR held %q during the run, want only the result file in TempDir", out.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		t.Errorf("result file left behind: %v", ents)
	}
}

// recordedProgress records what Run tells its Progress.
type recordedProgress struct {
	mu     sync.Mutex
	events []string
}

func (p *recordedProgress) add(s string)          { p.mu.Lock(); p.events = append(p.events, s); p.mu.Unlock() }
func (p *recordedProgress) Start(total, done int) { p.add(fmt.Sprintf("start %d/%d", done, total)) }
func (p *recordedProgress) Round(item string, r, n int) {
	p.add(fmt.Sprintf("%s round %d/%d", item, r, n))
}
func (p *recordedProgress) Done(item string)  { p.add(item + " done") }
func (p *recordedProgress) Begin(item string) { p.add(item + " begin") }

// TestRunProgress: Progress sees the items, each round (warm-up included)
// and each item's end; a resumed run starts from what is done.
func TestRunProgress(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.unit(t, nil, f.patch(t, func(dir string) { writeFile(t, dir, "human.txt", "the human was here\n") }))
	for _, want := range []string{
		"start 0/1|fx-0000 begin|fx-0000 round 1/4|fx-0000 round 2/4|fx-0000 round 3/4|fx-0000 round 4/4|fx-0000 done",
		"start 1/1",
	} {
		p := &recordedProgress{}
		if _, err := Run(ctx, Options{RunID: "r", Task: f.task, Bench: f.bench, RepoURL: f.repo, Units: []Unit{u},
			Runner: launcher(t), LockDir: f.lockDir, ProcessEnv: os.Environ(), Log: io.Discard, Progress: p}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(p.events, "|"); got != want {
			t.Errorf("progress %q, want %q", got, want)
		}
	}
}
