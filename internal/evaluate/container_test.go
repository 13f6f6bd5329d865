package evaluate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

// Tests of the container runner against the real engine, with the busybox
// image of evaltest (FROM scratch) and a static bench as the launcher.
// They skip when no engine answers, unless BENCH_REQUIRE_DOCKER is set.

// containerFixture is the fixture evaluated in the busybox image.
func containerFixture(t *testing.T) (*fixture, *Container, string) {
	t.Helper()
	image, launcher := evaltest.Require(t)
	f := newFixture(t)
	f.task.Environment.Image = image
	c := NewContainer(&config.Bench{Container: config.Container{Engine: "docker", Network: "none", EvalNetwork: "none", PidsLimit: 256, Memory: "512m"}},
		image, launcher)
	// A run id of its own: the label finds exactly this test's containers.
	run := fmt.Sprintf("evaltest-%d-%d", os.Getpid(), time.Now().UnixNano())
	return f, c, run
}

func (f *fixture) runAs(t *testing.T, ctx context.Context, run string, units []Unit, runner Runner) (*Summary, string, error) {
	t.Helper()
	var log bytes.Buffer
	s, err := Run(ctx, Options{RunID: run, Task: f.task, Bench: f.bench, RepoURL: f.repo, Units: units,
		Runner: runner, LockDir: f.lockDir, ProcessEnv: os.Environ(), Log: &log})
	t.Logf("log:\n%s", log.String())
	return s, log.String(), err
}

func noContainersLeft(t *testing.T, run string) {
	t.Helper()
	left, err := evaltest.Leftovers(container.LabelRun + "=" + run)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("containers left: %v", left)
	}
}

func TestContainerEvaluate(t *testing.T) {
	f, c, run := containerFixture(t)
	f.task.Evaluation.Setup = []string{
		// The image's shell, the workspace at /workspace for every arm, a
		// writable home, the invoking user, no network but lo.
		`echo "sh=$(readlink /bin/sh) ws=$BENCH_WORKSPACE pwd=$(pwd) arg={workspace} home=$HOME id=$(id -u):$(id -g)"; ls /sys/class/net; touch "$HOME/h" built.txt`,
	}
	f.task.Evaluation.Correctness = []string{"sh test.sh", "test -f built.txt"}
	u := f.unit(t, nil, f.patch(t, func(dir string) { writeFile(t, dir, "agent.txt", "agent\n") }))
	sum, _, err := f.runAs(t, context.Background(), run, []Unit{u}, c)
	if err != nil || sum.Evaluated != 1 || sum.Counts[records.EvalSuccess] != 1 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	r, err := journal.ReadEval(u.Dir)
	if err != nil {
		t.Fatal(err)
	}
	env := r.Environment
	if env.Runner != "container" || env.Container == nil || !strings.HasPrefix(env.Container.ImageID, "sha256:") ||
		env.Container.Image != f.task.Environment.Image || env.Container.Workspace != ContainerWorkspace || env.Container.Network != "none" ||
		env.Container.Memory != "512m" || env.Container.PidsLimit != 256 {
		t.Fatalf("environment %+v / %+v", env, env.Container)
	}
	want := fmt.Sprintf("sh=busybox ws=/workspace pwd=/workspace arg=/workspace home=/.perfbench/home id=%d:%d\nlo\n", os.Getuid(), os.Getgid())
	n := 0
	for _, cl := range r.Commands {
		if cl.Phase == "setup" {
			n++
			if cl.Output != want || !cl.OK {
				t.Fatalf("setup on the %s: %+v, want output %q", cl.Arm, cl, want)
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d setup commands, want 3", n)
	}
	if len(r.Samples) != 3*(r.Config.Rounds+r.Config.Warmup) || r.Stats == nil {
		t.Fatalf("%d samples, stats %v", len(r.Samples), r.Stats)
	}
	for _, s := range r.Samples {
		if !s.CPUTimes || s.WallSeconds <= 0 || !s.RunDelayKnown {
			t.Fatalf("sample %+v", s)
		}
	}
	if cpus, _ := allowedCPUs(); len(cpus) > 1 {
		p := env.Pinning
		if !p.Applied || p.Method != "cpuset+sched_setaffinity" || env.Container.TimingCPUSet != itoa(p.CPU) || env.Container.SetupCPUSet == "" {
			t.Fatalf("pinning %+v, container %+v", p, env.Container)
		}
		for _, s := range r.Samples {
			if !s.Pinned {
				t.Fatalf("sample not pinned: %+v", s)
			}
		}
	}
	noContainersLeft(t, run)
	if entries, _ := os.ReadDir(f.bench.Paths.RolloutRoot); len(entries) != 0 {
		t.Fatalf("private directories left: %v", entries)
	}
}

func TestContainerStatuses(t *testing.T) {
	f, c, run := containerFixture(t)
	f.task.Evaluation.Timeout = records.Duration(2 * time.Second)
	// The agent's candidate hangs; the baseline and the human commit do
	// not. The hung container is killed at the timeout.
	f.task.Workload = "if [ -f hang ]; then sleep 30; fi; sh work.sh"
	hang := f.unit(t, nil, f.patch(t, func(dir string) { writeFile(t, dir, "hang", "") }))
	start := time.Now()
	sum, _, err := f.runAs(t, context.Background(), run, []Unit{hang}, c)
	if err != nil || sum.Counts[records.EvalTimeout] != 1 || time.Since(start) > 40*time.Second {
		t.Fatalf("summary %+v, err %v, %s", sum, err, time.Since(start))
	}
	noContainersLeft(t, run)

	// A failing correctness command on the agent's candidate.
	f.task.Workload = "sh work.sh"
	f.task.Evaluation.Correctness = []string{"test ! -f broken"}
	broken := f.unit(t, nil, f.patch(t, func(dir string) { writeFile(t, dir, "broken", "") }))
	sum, _, err = f.runAs(t, context.Background(), run, []Unit{broken}, c)
	if err != nil || sum.Counts[records.EvalCorrectnessFailed] != 1 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	r, _ := journal.ReadEval(broken.Dir)
	if r.Environment.Container == nil || r.Environment.Runner != "container" {
		t.Fatalf("a failed item records its container environment too: %+v", r.Environment)
	}
	noContainersLeft(t, run)
}

func TestContainerInterrupted(t *testing.T) {
	f, c, run := containerFixture(t)
	f.task.Workload = "sleep 30"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Interrupt once the containers run the workload.
	go func() {
		for ctx.Err() == nil {
			out, _ := exec.Command("docker", "ps", "--filter", "label="+container.LabelRun+"="+run, "--format", "{{.Names}}").Output()
			if strings.Count(string(out), "\n") == 3 {
				time.Sleep(1500 * time.Millisecond)
				cancel()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	u := f.unit(t, nil, nil)
	start := time.Now()
	sum, _, err := f.runAs(t, ctx, run, []Unit{u}, c)
	if err != nil || !sum.Interrupted || time.Since(start) > 40*time.Second {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	if _, err := os.Stat(filepath.Join(u.Dir, journal.EvalFile)); !os.IsNotExist(err) {
		t.Fatalf("eval.json written for an interrupted item: %v", err)
	}
	noContainersLeft(t, run)
	if entries, _ := os.ReadDir(f.bench.Paths.RolloutRoot); len(entries) != 0 {
		t.Fatalf("private directories left: %v", entries)
	}
}

// TestContainerUser: the commands run as the configured user, and what
// they write in the workspace belongs to that user on the host.
func TestContainerUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give the workspace to another user")
	}
	_, c, run := containerFixture(t)
	c.User = "4321:4321"
	ctx := context.Background()
	if err := c.Prepare(ctx, PrepareInfo{RunID: run, Env: os.Environ()}); err != nil {
		t.Fatal(err)
	}
	priv := t.TempDir()
	ws := map[records.Arm]string{}
	for _, arm := range records.Arms {
		ws[arm] = filepath.Join(priv, armDir[arm])
		if err := os.Mkdir(ws[arm], 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(ws[arm], 4321, 4321); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := c.StartItem(ctx, ItemEnv{RunID: run, Name: "u-0000", ItemID: "u-0000", Workspaces: ws, Private: priv, Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := sess.Run(ctx, CommandSpec{Arm: records.ArmAgent, Script: "id -u; mkdir -p d/e; echo x > d/e/f", Stdout: &out, Timeout: 20 * time.Second})
	if err != nil || !res.OK() || out.String() != "4321\n" {
		t.Fatalf("%+v %v %q", res, err, out.String())
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"d", "d/e", "d/e/f"} {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(ws[records.ArmAgent], p), &st); err != nil || st.Uid != 4321 || st.Gid != 4321 {
			t.Fatalf("%s: %+v %v", p, st, err)
		}
	}
	noContainersLeft(t, run)
}

func TestContainerPrepareBadInput(t *testing.T) {
	image, launcher := evaltest.Require(t)
	ctx := context.Background()
	run := fmt.Sprintf("evaltest-%d-%d", os.Getpid(), time.Now().UnixNano())
	b := &config.Bench{Container: config.Container{Engine: "docker", Network: "none", EvalNetwork: "none"}}

	// An image that is not present locally.
	c := NewContainer(b, "perfbench-test/absent:nope", launcher)
	err := c.Prepare(ctx, PrepareInfo{RunID: run, Env: os.Environ()})
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "environment.image: perfbench-test/absent:nope: image not present locally") {
		t.Fatalf("absent image: %v", err)
	}

	// An image without sh.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nLABEL "+evaltest.Label+"\nCOPY note /note\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "note"), []byte("no shell here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noShell := "perfbench-test/eval-noshell:1"
	if out, err := exec.Command("docker", "build", "-q", "-t", noShell, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	c = NewContainer(b, noShell, launcher)
	err = c.Prepare(ctx, PrepareInfo{RunID: run, Env: os.Environ()})
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "environment.image "+noShell+" has no sh on its PATH") {
		t.Fatalf("no shell: %v", err)
	}

	// A launcher that is not statically linked (git is not).
	exe, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	if checkStatic(exe) == nil {
		t.Skip(exe + " is static: no dynamic executable at hand")
	}
	c = NewContainer(b, image, exe)
	err = c.Prepare(ctx, PrepareInfo{RunID: run, Env: os.Environ()})
	if err == nil || !strings.Contains(err.Error(), "is dynamically linked") || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("dynamic launcher: %v", err)
	}
	noContainersLeft(t, run)
}

// TestContainerImageNeedsContainerRunner: an image with the host runner is
// bad input before anything runs.
func TestContainerImageNeedsContainerRunner(t *testing.T) {
	f := newFixture(t)
	f.task.Environment.Image = "busybox:latest"
	r := &countingRunner{}
	_, err := f.run(t, context.Background(), []Unit{f.unit(t, nil, nil)}, r, false)
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "item fx-0000: environment.image busybox:latest needs the container runner") || r.n.Load() != 0 {
		t.Fatalf("err %v, %d commands", err, r.n.Load())
	}
}

func TestRunArgv(t *testing.T) {
	spec := container.Spec{Name: "n", Image: "img", Cmd: []string{"__timed", "--idle"}, Remove: true, User: "1:2"}
	got := runArgv(&spec, true, "0", containerLauncher)
	want := []string{"docker", "run", "--detach", "--rm", "--name", "n", "--user", "1:2", "--cpuset-cpus", "0", "--entrypoint", containerLauncher, "img", "__timed", "--idle"}
	if !slices.Equal(got, want) {
		t.Fatalf("argv\n%q\nwant\n%q", got, want)
	}
	if got := runArgv(&spec, false, "", ""); !slices.Equal(got, spec.RunArgv()) {
		t.Fatalf("no extras: %q", got)
	}
}

func TestTimedIdle(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, TimedCommand, "--idle")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("idle launcher after SIGTERM: %v", err)
	}
}

// TestContainerPrepareRemovesStale: Prepare removes the containers of a
// harness that is gone (killed with -9), and no others.
func TestContainerPrepareRemovesStale(t *testing.T) {
	image, launcher := evaltest.Require(t)
	run := fmt.Sprintf("evaltest-stale-%d-%d", os.Getpid(), time.Now().UnixNano())
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	start := func(name, pid string) {
		out, err := exec.Command("docker", "run", "-d", "--rm", "--name", name, "--label", container.LabelRun+"="+run,
			"--label", container.LabelPID+"="+pid, "--label", container.LabelHost+"="+host, "--label", evaltest.Label,
			image, "sleep", "1000").CombinedOutput()
		if err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	start(run+"-dead", strconv.Itoa(dead.Process.Pid))
	start(run+"-alive", strconv.Itoa(os.Getpid()))
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", run+"-alive").Run() })
	c := NewContainer(&config.Bench{Container: config.Container{Engine: "docker", EvalNetwork: "none"}}, image, launcher)
	var log bytes.Buffer
	if err := c.Prepare(context.Background(), PrepareInfo{RunID: run, Env: os.Environ(), Log: &log}); err != nil {
		t.Fatal(err)
	}
	left, err := evaltest.Leftovers(container.LabelPID + "=" + strconv.Itoa(dead.Process.Pid))
	if err != nil || len(left) != 0 {
		t.Fatalf("stale containers left: %v %v\n%s", left, err, log.String())
	}
	out, err := exec.Command("docker", "ps", "-q", "--filter", "name="+run+"-alive").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("the live harness's container was removed: %v\n%s", err, log.String())
	}
}

// TestContainerSamples: an item with three candidates runs in five
// containers (K + 2 arms), moved together to the timing CPU. A candidate
// that hangs in the rounds has its own container killed at the timeout and
// leaves; one that breaks the tests never reaches them; the others are
// timed to the end, and no container is left.
func TestContainerSamples(t *testing.T) {
	f, c, run := containerFixture(t)
	f.task.Evaluation.Timeout = records.Duration(3 * time.Second)
	f.task.Workload = "if [ -f hang ]; then sleep 30; fi; sh work.sh"
	f.task.Evaluation.Correctness = []string{"test ! -f broken"}
	replay := f.patch(t, func(dir string) { writeFile(t, dir, "human.txt", "the human was here\n") })
	hang := f.patch(t, func(dir string) { writeFile(t, dir, "hang", "") })
	broken := f.patch(t, func(dir string) { writeFile(t, dir, "broken", "") })
	units := f.sampleUnits(t, t.TempDir(), replay, hang, broken, nil)
	rec := &droppingContainer{Container: c}
	sum, _, err := f.runAs(t, context.Background(), run, units, rec)
	if err != nil || sum.Evaluated != 4 || sum.Counts[records.EvalSuccess] != 2 || sum.Counts[records.EvalTimeout] != 1 || sum.Counts[records.EvalCorrectnessFailed] != 1 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	noContainersLeft(t, run)
	if got := strings.Join(rec.dropped, ","); got != "agent.s2,agent.s1" {
		t.Fatalf("dropped %s, want the breaker's container (before the rounds), then the hung one's", got)
	}
	r, err := journal.ReadEval(units[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]records.EvalStatus{0: records.EvalSuccess, 1: records.EvalTimeout, 2: records.EvalCorrectnessFailed, 3: records.EvalSuccess}
	for _, cand := range r.Candidates {
		if cand.Status != want[cand.Sample] || (cand.Status == records.EvalSuccess) != (cand.Stats != nil) {
			t.Fatalf("candidate %d: %s (stats %v), want %s", cand.Sample, cand.Status, cand.Stats != nil, want[cand.Sample])
		}
	}
	setups := map[string]bool{}
	for _, cl := range r.Commands {
		if cl.Phase == "correctness" {
			setups[string(cl.Arm)+"."+strconv.Itoa(cl.Sample)] = true
		}
	}
	if len(setups) != 6 {
		t.Fatalf("correctness ran on %v, want the baseline, the human and the four candidates", setups)
	}
	n := map[int]int{}
	for _, s := range r.Samples {
		if s.Arm == records.ArmAgent {
			n[s.Sample]++
		}
	}
	if rounds := r.Config.Warmup + r.Config.Rounds; n[0] != rounds || n[3] != rounds || n[1] != 0 || n[2] != 0 {
		t.Fatalf("agent samples by candidate %v", n)
	}
	if cpus, _ := allowedCPUs(); len(cpus) > 1 {
		// The breaker's container was removed when it failed: the others
		// were moved to the timing CPU without it.
		if p := r.Environment.Pinning; !p.Applied || p.Method != "cpuset+sched_setaffinity" || p.Error != "" {
			t.Fatalf("pinning %+v", p)
		}
	}
}

// droppingContainer records the arms whose containers an item dropped.
type droppingContainer struct {
	*Container
	dropped []string
}

func (d *droppingContainer) StartItem(ctx context.Context, it ItemEnv) (ItemSession, error) {
	sess, err := d.Container.StartItem(ctx, it)
	if err != nil {
		return nil, err
	}
	return &droppingSession{ItemSession: sess, d: d}, nil
}

type droppingSession struct {
	ItemSession
	d *droppingContainer
}

func (s *droppingSession) Drop(arm records.Arm) {
	s.d.dropped = append(s.d.dropped, string(arm))
	s.ItemSession.(interface{ Drop(records.Arm) }).Drop(arm)
}

// TestContainerPrepareNeedsCounter: counting instructions in an image
// without perf or valgrind is bad input at the preflight; the same image
// passes when nothing is counted.
func TestContainerPrepareNeedsCounter(t *testing.T) {
	image, launcher := evaltest.Require(t)
	ctx := context.Background()
	run := fmt.Sprintf("evaltest-%d-%d", os.Getpid(), time.Now().UnixNano())
	b := &config.Bench{Container: config.Container{Engine: "docker", Network: "none", EvalNetwork: "none"}}
	c := NewContainer(b, image, launcher)
	if err := c.Prepare(ctx, PrepareInfo{RunID: run, Env: os.Environ()}); err != nil {
		t.Fatalf("without counting: %v", err)
	}
	err := c.Prepare(ctx, PrepareInfo{RunID: run, Env: os.Environ(), Counter: true})
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "environment.image "+image+" cannot count instructions: ") {
		t.Fatalf("counting in busybox: %v", err)
	}
	noContainersLeft(t, run)
}

// In the arm's container the launcher adopts a detached child too (it is
// not the container's init): a workload whose spin runs in a detached
// grandchild has the spin's CPU time, not only its shells'. Compared with
// the same spin run in the tree, not with wall time, which load stretches.
func TestContainerCountsDetachedChild(t *testing.T) {
	const spin = `(i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done)`
	minCPU := func(workload string) float64 {
		f, c, run := containerFixture(t)
		zero := 0
		f.task.Workload = workload
		f.task.Evaluation = config.Evaluation{Rounds: 3, Warmup: &zero, Metric: &config.Metric{Kind: records.MetricCPU}}
		u := f.unit(t, nil, nil)
		sum, _, err := f.runAs(t, context.Background(), run, []Unit{u}, c)
		if err != nil || sum.Counts[records.EvalSuccess] != 1 {
			t.Fatalf("%s: summary %+v, err %v", workload, sum, err)
		}
		r, err := journal.ReadEval(u.Dir)
		if err != nil {
			t.Fatal(err)
		}
		noContainersLeft(t, run)
		least := -1.0
		for _, s := range r.Samples {
			if !s.CPUTimes {
				t.Fatalf("sample %+v: no CPU times", s)
			}
			if cpu := s.UserSeconds + s.SysSeconds; least < 0 || cpu < least {
				least = cpu
			}
		}
		return least
	}
	direct := minCPU(spin + ` | cat`)
	detached := minCPU(`( ` + spin + ` & ) | cat`)
	// Without the subreaper the detached spin's CPU time was lost: a few
	// percent of the direct one's (the shells and cat).
	if direct < 0.01 || detached < 0.5*direct {
		t.Fatalf("least CPU of a sample: spin in the tree %.4fs, detached %.4fs", direct, detached)
	}
}

// fakePerf is a perf that is installed but cannot count: perf stat
// writes <not supported> for the counter (a VM without the PMU, or the
// engine's seccomp profile).
const fakePerf = `#!/bin/sh
while [ $# -gt 0 ]; do
  if [ "$1" = -o ]; then out=$2; fi
  if [ "$1" = -- ]; then shift; break; fi
  shift
done
printf '<not supported>,,instructions,,0,100.00,,\n' > "$out"
"$@"
`

// TestContainerPrepareCounterCannotCount: an image with a perf that
// cannot count and no valgrind fails the preflight (a probe that only
// looked for perf on the PATH passed it), naming perf's answer.
func TestContainerPrepareCounterCannotCount(t *testing.T) {
	image, launcher := evaltest.Require(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "perf"), []byte(fakePerf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+image+"\nCOPY perf /bin/perf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("perfbench-test/eval-fakeperf:%d-%d", os.Getpid(), time.Now().UnixNano())
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "--label", evaltest.Label, "-t", tag, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	run := fmt.Sprintf("evaltest-%d-%d", os.Getpid(), time.Now().UnixNano())
	b := &config.Bench{Container: config.Container{Engine: "docker", Network: "none", EvalNetwork: "none"}}
	c := NewContainer(b, tag, launcher)
	err := c.Prepare(ctx, PrepareInfo{RunID: run, Env: os.Environ(), Counter: true})
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "environment.image "+tag+" cannot count instructions: ") ||
		!strings.Contains(err.Error(), "perf cannot count instructions here: <not supported>") {
		t.Fatalf("counting in an image whose perf cannot count: %v", err)
	}
	noContainersLeft(t, run)
}
