package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKill9LeavesNoTemp kills `bench prepare` and `bench evaluate` with
// SIGKILL at random points (at least killRounds real kills each, with
// TMPDIR an empty directory and no paths.rollout_root, so every private
// directory lives in TMPDIR), runs each to completion again, and then
// requires TMPDIR to be empty: whatever a killed harness made there is
// removed by the next run. BENCH_KILL_SEED replays a failure's delays.
func TestKill9LeavesNoTemp(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const killRounds = 10
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("BENCH_KILL_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("BENCH_KILL_SEED: %v", err)
		}
	}
	t.Logf("BENCH_KILL_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	k := newKillEnv(t)
	k.ok("plan", "task.yaml", "--commits", "commits.txt")

	// prepare: a full run times the kills; each killed run is new, so
	// every kill lands in real work; the last one is then resumed.
	prep := []string{"prepare", "task.yaml", "--from-plan", "state/plan.json", "--max-workers", "2"}
	full := k.ok(append(prep, "--new")...)
	k.killAt(rng, killRounds, full, func(int) []string { return append(prep, "--new") })
	out := k.ok(prep...)
	k.requireEmpty("prepare")
	if !strings.Contains(k.lastStdout, "success 4") {
		t.Fatalf("resumed prepare did not finish every item:\n%s", out)
	}

	// evaluate: the calibrated run's patches, into a fresh run directory
	// per attempt; the last one is then resumed.
	runs, _ := filepath.Glob(filepath.Join(k.dir, "state", "runs", "*", "predictions.jsonl"))
	if len(runs) == 0 {
		t.Fatal("no predictions.jsonl from prepare")
	}
	eval := func(out string) []string {
		return []string{"evaluate", "--predictions", runs[0], "--plan", "state/plan.json", "--out", out,
			"--max-parallel-setup", "2", "--lock-dir", filepath.Join(k.dir, "locks"), "--quiet"}
	}
	full = k.ok(eval("eval-calibration")...)
	last := ""
	k.killAt(rng, killRounds, full, func(i int) []string { last = fmt.Sprintf("eval-%d", i); return eval(last) })
	k.ok(eval(last)...)
	k.requireEmpty("evaluate")
}

// killEnv runs the bench binary (this test binary under the name bench,
// see TestMain) in a project directory with its own TMPDIR.
type killEnv struct {
	t          *testing.T
	dir, tmp   string
	bench      string
	env        []string
	lastStdout string
}

func newKillEnv(t *testing.T) *killEnv {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	k := &killEnv{t: t, dir: filepath.Join(root, "proj"), tmp: filepath.Join(root, "tmp")}
	bin := filepath.Join(root, "bin")
	for _, d := range []string{k.dir, k.tmp, bin, filepath.Join(root, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	k.bench = filepath.Join(bin, "bench")
	if err := os.Symlink(exe, k.bench); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		switch key, _, _ := strings.Cut(kv, "="); key {
		case "TMPDIR", "PATH", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME":
		default:
			k.env = append(k.env, kv)
		}
	}
	k.env = append(k.env, "TMPDIR="+k.tmp, "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+filepath.Join(root, "home"),
		"GIT_CONFIG_NOSYSTEM=1", "NO_COLOR=1", "LLM_MODEL=")
	k.writeProject()
	return k
}

// writeProject writes a repository with 4 human commits off one base, the
// commits file, the task (a tiny workload, 2 rounds) and bench.yaml (a
// command agent that appends a line).
func (k *killEnv) writeProject() {
	repo := filepath.Join(k.dir, "repo")
	k.write("repo/bench.sh", "i=0; while [ $i -lt 200 ]; do i=$((i+1)); done; echo $i\n")
	k.write("repo/src/slow.sh", "slow() { echo 200; }\n")
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Env = k.env
		out, err := cmd.CombinedOutput()
		if err != nil {
			k.t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	base := git("rev-parse", "HEAD")
	var commits strings.Builder
	for i := range 4 {
		git("checkout", "-q", "-B", fmt.Sprintf("opt%d", i), base)
		k.write(fmt.Sprintf("repo/src/fast%d.sh", i), "fast() { echo 200; }\n")
		git("add", "-A")
		git("commit", "-q", "-m", fmt.Sprintf("optimize %d", i))
		fmt.Fprintf(&commits, "%s parent=1\n", git("rev-parse", "HEAD"))
	}
	git("checkout", "-q", "main")
	k.write("commits.txt", commits.String())
	k.write("task.yaml", "id: k9\nrepo:\n  url: ./repo\nworkload: sh bench.sh\nevaluation:\n  rounds: 2\n  warmup: 0\n")
	k.write("bench.yaml", "agents:\n  default: quick\n  quick:\n    type: command\n"+
		"    command: [\"sh\", \"-c\", \"echo '# faster' >> src/slow.sh\"]\n")
}

func (k *killEnv) write(rel, content string) {
	p := filepath.Join(k.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		k.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

func (k *killEnv) command(args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(k.bench, args...)
	cmd.Dir, cmd.Env = k.dir, k.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

// ok runs bench to completion and returns how long it took.
func (k *killEnv) ok(args ...string) time.Duration {
	k.t.Helper()
	cmd, out := k.command(args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	start := time.Now()
	if err := cmd.Run(); err != nil {
		k.t.Fatalf("bench %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), out.String())
	}
	k.lastStdout = stdout.String()
	return time.Since(start)
}

// killAt starts bench (args(i) for attempt i) and kills it with SIGKILL
// after a random delay below full, until n runs were really killed (a run
// that finished first does not count).
func (k *killEnv) killAt(rng *rand.Rand, n int, full time.Duration, args func(i int) []string) {
	k.t.Helper()
	killed := 0
	for i := 0; killed < n; i++ {
		if i >= 4*n {
			k.t.Fatalf("only %d of %d attempts were killed before they finished", killed, i)
		}
		d := time.Duration(rng.Int64N(int64(full)))
		a := args(i)
		cmd, out := k.command(a...)
		if err := cmd.Start(); err != nil {
			k.t.Fatal(err)
		}
		time.Sleep(d)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				killed++
				k.t.Logf("%s: killed after %v", a[0], d)
				continue
			}
		}
		if err != nil {
			k.t.Fatalf("bench %s: %v\n%s", strings.Join(a, " "), err, out.String())
		}
		k.t.Logf("%s: finished before the kill at %v", a[0], d)
	}
}

// requireEmpty fails unless TMPDIR is empty, listing what was left.
func (k *killEnv) requireEmpty(after string) {
	k.t.Helper()
	ents, err := os.ReadDir(k.tmp)
	if err != nil {
		k.t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		name := e.Name()
		owner, err := os.ReadFile(filepath.Join(k.tmp, name, ".perfbench-owner"))
		if err != nil {
			owner = []byte(err.Error())
		}
		left = append(left, fmt.Sprintf("%s (owner %q)", name, owner))
	}
	if len(left) > 0 {
		k.t.Fatalf("after the %s runs completed, TMPDIR still holds %v", after, left)
	}
}
