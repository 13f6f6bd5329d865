package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

// syncBuf is a log several goroutines may write.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// setupRollout is a rollout in a fresh private directory with one
// tracked-looking file in its workspace, its environment holding a
// secret.
func setupRollout(t *testing.T, runtime, image string, setup *Setup) (*Rollout, *syncBuf, *syncBuf) {
	t.Helper()
	base := t.TempDir()
	priv := filepath.Join(base, "priv")
	r := &Rollout{
		RunID: "envpin-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), ItemID: "i1",
		Agent:     &config.Agent{Name: "a", Type: "command", Runtime: runtime, Image: image},
		Workspace: filepath.Join(priv, "workspace"), TaskFile: filepath.Join(priv, "task.txt"),
		OutDir: filepath.Join(priv, "out"), Home: filepath.Join(priv, "home"),
		HarnessDir: filepath.Join(base, "harness"),
		Limits:     records.Limits{Timeout: records.Duration(time.Minute), KillGrace: records.Duration(2 * time.Second)},
		Setup:      setup,
	}
	for _, d := range []string{priv, r.Workspace, r.OutDir, r.Home, rolloutTmp(r), r.HarnessDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(r.TaskFile, []byte("task\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Workspace, "tracked.txt"), []byte("pre\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	process := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "MY_API_KEY=sk-envpin-0123456789", "PLAIN=visible"}
	r.Secrets = secrets.FromEnv(process, nil)
	r.Env = BaseEnv(EnvInput{Process: process, Workspace: r.Workspace, TaskFile: r.TaskFile, OutDir: r.OutDir, Home: r.Home})
	stdout, stderr := &syncBuf{}, &syncBuf{}
	r.Stdout, r.Stderr = stdout, stderr
	return r, stdout, stderr
}

// setupImage is the busybox test image (skips without an engine).
func setupImage(t *testing.T) string {
	t.Helper()
	return evaltest.RequireImage(t)
}

func noLeftovers(t *testing.T, run string) {
	t.Helper()
	left, err := evaltest.Leftovers("perfbench.run=" + run)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("containers left behind: %v", left)
	}
}

func readOut(t *testing.T, r *Rollout, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.OutDir, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(b)
}

// workspace_setup runs in the agent's own container, as its non-root
// user, before the agent: what it writes outside the workspace is there
// for the agent; it sees none of the secrets the agent gets; its output
// is the setup log's, not the agent's; the snapshot runs between the two.
func TestSetupInContainer(t *testing.T) {
	img := setupImage(t)
	old := containerUser
	containerUser = func() string { return "61023:61023" }
	t.Cleanup(func() { containerUser = old })
	log := &syncBuf{}
	var snapshotAt, agentFile string
	setup := &Setup{
		Commands: []string{
			"echo setup-says-hello; id -u > /tmp/setup-uid",
			`echo "key=[$MY_API_KEY] plain=[$PLAIN]" > /tmp/setup-env; echo edited >> tracked.txt`,
		},
		Timeout: time.Minute, Log: log,
	}
	r, stdout, stderr := setupRollout(t, RuntimeContainer, img, setup)
	setup.Snapshot = func(context.Context) error {
		snapshotAt = "taken"
		if _, err := os.Stat(filepath.Join(r.OutDir, "seen")); err == nil {
			agentFile = "the agent ran before the snapshot"
		}
		return nil
	}
	// The container's user owns the rollout directory, as the invoking
	// user does in use.
	if err := filepath.Walk(filepath.Dir(r.Workspace), func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 61023, 61023)
	}); err != nil {
		t.Fatal(err)
	}
	script := `cat > "$BENCH_OUT_DIR/stdin"; cat /tmp/setup-uid /tmp/setup-env tracked.txt > "$BENCH_OUT_DIR/seen"; echo "agent=[$MY_API_KEY]" >> "$BENCH_OUT_DIR/seen"; id -u >> "$BENCH_OUT_DIR/seen"`
	// The prompt on stdin reaches the agent whole, after the gate's line.
	prompt := "first line of the prompt\n\nlast line, no newline"
	out, err := RunProcess(context.Background(), r, []string{"sh", "-c", script}, strings.NewReader(prompt))
	if err != nil {
		t.Fatal(err)
	}
	if out.Infra != nil || out.Process == nil || out.Process.ExitCode != 0 {
		t.Fatalf("rollout: infra %v process %+v\nstderr: %s\nsetup log: %s", out.Infra, out.Process, stderr.String(), log.String())
	}
	want := "61023\nkey=[] plain=[visible]\npre\nedited\nagent=[sk-envpin-0123456789]\n61023\n"
	if got := readOut(t, r, "seen"); got != want {
		t.Errorf("the agent saw\n%s\nwant\n%s", got, want)
	}
	if got := readOut(t, r, "stdin"); got != prompt {
		t.Errorf("the agent read %q on stdin, want the prompt %q", got, prompt)
	}
	if snapshotAt == "" || agentFile != "" {
		t.Errorf("snapshot %q %q: want it taken after the setup, before the agent", snapshotAt, agentFile)
	}
	if ran, serr := setup.Ran(); !ran || serr != nil {
		t.Errorf("setup ran %v err %v", ran, serr)
	}
	if l := log.String(); !strings.Contains(l, "$ echo setup-says-hello") || !strings.Contains(l, "setup-says-hello\n") {
		t.Errorf("setup log:\n%s", l)
	}
	if strings.Contains(stdout.String()+stderr.String(), "setup-says-hello") {
		t.Errorf("setup output reached the agent's logs: %q %q", stdout.String(), stderr.String())
	}
	if !strings.Contains(strings.Join(out.Command, " "), "perfbench-gate") {
		t.Errorf("the command does not show the gate: %v", out.Command)
	}
	noLeftovers(t, r.RunID)
}

// A failing setup ends the rollout before the agent starts: an infra
// error of kind setup naming the command and its last lines; the agent
// never runs and the container goes.
func TestSetupFailsInContainer(t *testing.T) {
	img := setupImage(t)
	for _, tc := range []struct {
		name    string
		cmds    []string
		timeout time.Duration
		want    []string
	}{
		{"exit", []string{"echo first", "echo boom-line >&2; exit 3", "echo never > /tmp/x"}, time.Minute,
			[]string{`workspace_setup "echo boom-line >&2; exit 3" exited with status 3`, "boom-line"}},
		{"timeout", []string{"echo before-sleep; sleep 60"}, 1500 * time.Millisecond,
			[]string{`workspace_setup "echo before-sleep; sleep 60" timed out`, "before-sleep"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &syncBuf{}
			setup := &Setup{Commands: tc.cmds, Timeout: tc.timeout, Log: log}
			r, _, stderr := setupRollout(t, RuntimeContainer, img, setup)
			start := time.Now()
			out, err := RunProcess(context.Background(), r, []string{"sh", "-c", `echo ran > "$BENCH_OUT_DIR/agent-ran"`}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 40*time.Second {
				t.Errorf("the failed setup took %s", time.Since(start))
			}
			var ie *InfraError
			if !errors.As(out.Infra, &ie) || ie.Kind != InfraSetup {
				t.Fatalf("infra %v (%T), want a setup infra error\nstderr: %s\nlog: %s", out.Infra, out.Infra, stderr.String(), log.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(ie.Msg, w) {
					t.Errorf("reason %q lacks %q", ie.Msg, w)
				}
			}
			if _, err := os.Stat(filepath.Join(r.OutDir, "agent-ran")); err == nil {
				t.Error("the agent ran after its setup failed")
			}
			if ran, serr := setup.Ran(); !ran || serr == nil {
				t.Errorf("setup ran %v err %v", ran, serr)
			}
			noLeftovers(t, r.RunID)
		})
	}
}

// On the host the setup runs in the workspace before the agent, with the
// environment minus the secrets, once however many processes the adapter
// starts.
func TestSetupOnHost(t *testing.T) {
	log := &syncBuf{}
	setup := &Setup{
		Commands: []string{`pwd > from-setup; echo "key=[$MY_API_KEY]" >> from-setup; echo run >> "$BENCH_OUT_DIR/count"`},
		Timeout:  time.Minute, Log: log,
	}
	r, _, stderr := setupRollout(t, RuntimeHost, "", setup)
	for range 2 {
		out, err := RunProcess(context.Background(), r, []string{"sh", "-c", `cat from-setup > "$BENCH_OUT_DIR/seen"`}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if out.Infra != nil || out.Process == nil || out.Process.ExitCode != 0 {
			t.Fatalf("rollout: %v %+v\n%s\n%s", out.Infra, out.Process, stderr.String(), log.String())
		}
	}
	if got, want := readOut(t, r, "seen"), r.Workspace+"\nkey=[]\n"; got != want {
		t.Errorf("the agent saw %q, want %q", got, want)
	}
	if got := readOut(t, r, "count"); got != "run\n" {
		t.Errorf("setup ran %q times", got)
	}

	failing := &Setup{Commands: []string{"echo nope; exit 9"}, Timeout: time.Minute}
	r2, _, _ := setupRollout(t, RuntimeHost, "", failing)
	out, err := RunProcess(context.Background(), r2, []string{"sh", "-c", `echo ran > "$BENCH_OUT_DIR/agent-ran"`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ie *InfraError
	if !errors.As(out.Infra, &ie) || ie.Kind != InfraSetup || !strings.Contains(ie.Msg, `"echo nope; exit 9" exited with status 9: nope`) {
		t.Errorf("infra %v", out.Infra)
	}
	if _, err := os.Stat(filepath.Join(r2.OutDir, "agent-ran")); err == nil {
		t.Error("the agent ran after its setup failed")
	}
}

// With run_as, the setup runs as the agent's user, in the rollout given
// to it, before the agent.
func TestSetupOnHostRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: run_as switches users only when bench is root")
	}
	setup := &Setup{Commands: []string{`id -u > from-setup`}, Timeout: time.Minute}
	r, _, stderr := setupRollout(t, RuntimeHost, "", setup)
	r.Agent.RunAs = &config.RunAs{UID: 61025, GID: 61025}
	// The user must reach its workspace: t.TempDir's directories are 0700.
	for d := filepath.Dir(filepath.Dir(r.Workspace)); d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := RunProcess(context.Background(), r, []string{"sh", "-c", `cat from-setup > "$BENCH_OUT_DIR/seen"; id -u >> "$BENCH_OUT_DIR/seen"`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Infra != nil || out.Process == nil || out.Process.ExitCode != 0 {
		t.Fatalf("rollout: %v %+v\n%s", out.Infra, out.Process, stderr.String())
	}
	if got := readOut(t, r, "seen"); got != "61025\n61025\n" {
		t.Errorf("setup and agent ran as %q, want 61025 twice", got)
	}
}
