package container_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent/openhands/standin"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := standin.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
	}
	os.Exit(code)
}

// syncBuffer is a goroutine-safe output buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rollout is a stand-in container spec over a fresh workspace and task.
func rollout(t *testing.T, image, mode string, c config.Container) (container.Spec, string) {
	t.Helper()
	dir := t.TempDir()
	ws := filepath.Join(dir, "workspace")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	task := filepath.Join(dir, "task.txt")
	if err := os.WriteFile(task, []byte("do not ask for user input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := container.FromConfig(c, "")
	s.Name = container.Name("containertest-"+fmt.Sprint(time.Now().UnixNano()), strings.ToLower(t.Name()), 0)
	s.Labels = container.OwnerLabels("containertest", t.Name())
	s.Image = image
	s.User = fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	s.Workdir = "/workspace"
	s.Mounts = []container.Mount{{Source: ws, Target: "/workspace"}, {Source: task, Target: "/task.txt", ReadOnly: true}}
	s.Env = []container.EnvVar{{Name: "STANDIN_MODE", Value: mode}}
	s.Cmd = []string{"python", "-m", "openhands.core.main", "-d", "/workspace", "-f", "/task.txt", "-i", "3"}
	return s, ws
}

// gone fails t unless no container has the name (waiting briefly: an
// --rm removal is asynchronous).
func gone(t *testing.T, e *container.Engine, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !e.Wait(ctx, "name=^"+name+"$") {
		cs, _ := e.List(context.Background(), "name=^"+name+"$")
		t.Errorf("container %s still exists: %+v", name, cs)
	}
}

func TestRunNormal(t *testing.T) {
	img := standin.Require(t)
	e := standin.Engine()
	spec, ws := rollout(t, img, "normal", config.Container{Network: "none", Memory: "256m", PidsLimit: 64, CPUs: 1})
	var out, errb syncBuffer
	res, err := e.Run(context.Background(), spec, container.RunOptions{Stdout: &out, Stderr: &errb, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Process.ExitCode != 0 || res.StartFailed || res.Process.TimedOut {
		t.Fatalf("result %+v\nstdout:\n%s\nstderr:\n%s", res, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "net: lo\n") {
		t.Errorf("network none: want only lo, got:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "docker.sock: absent") {
		t.Errorf("the docker socket is visible:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(ws, "standin.txt")); err != nil {
		t.Errorf("the workspace was not edited: %v", err)
	}
	gone(t, e, spec.Name)
}

// TestRunAsOtherUser runs the container as a non-root uid that owns the
// workspace (as a non-root invoking user would): what it writes belongs
// to that uid.
func TestRunAsOtherUser(t *testing.T) {
	img := standin.Require(t)
	if os.Getuid() != 0 {
		t.Skip("needs root to give the workspace to another uid")
	}
	e := standin.Engine()
	spec, ws := rollout(t, img, "normal", config.Container{})
	if err := os.Chown(ws, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	spec.User = "1234:1234"
	var out syncBuffer
	res, err := e.Run(context.Background(), spec, container.RunOptions{Stdout: &out, Stderr: &out, Timeout: time.Minute})
	if err != nil || res.Process.ExitCode != 0 {
		t.Fatalf("run: %v %+v\n%s", err, res, out.String())
	}
	if !strings.Contains(out.String(), "uid=1234 gid=1234") {
		t.Errorf("container user:\n%s", out.String())
	}
	n := 0
	filepath.Walk(ws, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		n++
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1234 {
			t.Errorf("%s is owned by uid %d, want 1234", p, st.Uid)
		}
		return nil
	})
	if n < 3 {
		t.Errorf("only %d entries in the workspace", n)
	}
}

func TestRunTimeoutKillsAndRemoves(t *testing.T) {
	img := standin.Require(t)
	e := standin.Engine()
	spec, _ := rollout(t, img, "hang", config.Container{})
	var out syncBuffer
	start := time.Now()
	res, err := e.Run(context.Background(), spec, container.RunOptions{Stdout: &out, Stderr: &out, Timeout: 2 * time.Second, Grace: time.Second, StopSignal: "INT"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Process.TimedOut || !res.Process.Killed {
		t.Errorf("want timed out and killed, got %+v\n%s", res.Process, out.String())
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %s", d)
	}
	gone(t, e, spec.Name)
}

func TestRunCancelStopsGracefully(t *testing.T) {
	img := standin.Require(t)
	e := standin.Engine()
	spec, _ := rollout(t, img, "slow", config.Container{})
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for !strings.Contains(out.String(), "working") {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	res, err := e.Run(ctx, spec, container.RunOptions{Stdout: &out, Stderr: &out, Timeout: time.Minute, Grace: 10 * time.Second, StopSignal: "INT"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Process.Stopped || res.Process.Killed {
		t.Errorf("want stopped without SIGKILL, got %+v\n%s", res.Process, out.String())
	}
	if !strings.Contains(out.String(), "graceful shutdown") {
		t.Errorf("the stop signal did not reach the agent:\n%s", out.String())
	}
	gone(t, e, spec.Name)
}

// TestRunCancelDuringStart interrupts while the client is still creating
// the container: the stop signal reaches the container as soon as it
// exists, long before the grace ends.
func TestRunCancelDuringStart(t *testing.T) {
	img := standin.Require(t)
	e := standin.Engine()
	spec, _ := rollout(t, img, "slow", config.Container{})
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	res, err := e.Run(ctx, spec, container.RunOptions{Stdout: &out, Stderr: &out, Timeout: time.Minute, Grace: 30 * time.Second, StopSignal: "INT"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Process.Killed || time.Since(start) > 20*time.Second {
		t.Errorf("stopped after %s, killed=%v\n%s", time.Since(start), res.Process.Killed, out.String())
	}
	gone(t, e, spec.Name)
	if _, err := e.Run(ctx, spec, container.RunOptions{}); err == nil {
		t.Error("Run started a container under a cancelled context")
	}
}

func TestRunOOM(t *testing.T) {
	img := standin.Require(t)
	e := standin.Engine()
	ok, err := e.MemoryLimitSupported(context.Background())
	if err != nil || !ok {
		t.Skipf("the engine reports no memory-limit support (%v)", err)
	}
	spec, _ := rollout(t, img, "hog", config.Container{Memory: "48m"})
	var out syncBuffer
	res, err := e.Run(context.Background(), spec, container.RunOptions{Stdout: &out, Stderr: &out, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OOMKilled || res.Process.ExitCode != 137 {
		t.Errorf("want OOM kill (137), got oom=%v %+v\n%s", res.OOMKilled, res.Process, tail(out.String()))
	}
	gone(t, e, spec.Name)
}

func tail(s string) string {
	if len(s) > 500 {
		return s[len(s)-500:]
	}
	return s
}

func TestRunMissingImage(t *testing.T) {
	standin.RequireEngine(t)
	e := standin.Engine()
	spec, _ := rollout(t, standin.Repo+":does-not-exist", "normal", config.Container{})
	var out syncBuffer
	res, err := e.Run(context.Background(), spec, container.RunOptions{Stdout: &out, Stderr: &out, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !res.StartFailed || res.EngineError == "" {
		t.Errorf("want a start failure, got %+v\n%s", res, out.String())
	}
	if _, err := e.InspectImage(context.Background(), standin.Repo+":does-not-exist"); err == nil {
		t.Error("inspect of a missing image succeeded")
	}
}

func TestInspectImage(t *testing.T) {
	img := standin.Require(t)
	i, err := standin.Engine().InspectImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(i.ID, "sha256:") {
		t.Errorf("image id %q", i.ID)
	}
}

// TestRemoveStale starts three sleeping containers: one labelled with a
// dead harness pid, one with this live process's labels, one without our
// labels. Only the first is removed.
func TestRemoveStale(t *testing.T) {
	img := standin.Require(t)
	e := standin.Engine()
	ctx := context.Background()
	suffix := fmt.Sprint(time.Now().UnixNano())
	start := func(name string, labels map[string]string) {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "task.txt"), []byte("task\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"run", "-d", "--rm", "--name", name, "-e", "STANDIN_MODE=hang", "--mount", "type=bind,source=" + dir + ",target=/w"}
		for k, v := range labels {
			args = append(args, "--label", k+"="+v)
		}
		args = append(args, img, "python", "-m", "openhands.core.main", "-d", "/w", "-f", "/w/task.txt", "-i", "1")
		if out, err := execEngine(e, args...); err != nil {
			t.Fatalf("docker run: %v\n%s", err, out)
		}
	}
	host, _ := os.Hostname()
	dead, live, foreign := "stale-dead-"+suffix, "stale-live-"+suffix, "stale-foreign-"+suffix
	start(dead, map[string]string{container.LabelRun: "r", container.LabelItem: "i", container.LabelPID: "999999999", container.LabelHost: host})
	start(live, container.OwnerLabels("r", "i"))
	start(foreign, map[string]string{"perfbench.test.foreign": "1"})
	t.Cleanup(func() { e.Remove(context.Background(), dead, live, foreign) })

	// Another harness (a concurrent test's bench) may sweep the dead
	// one first: what matters is that it is gone and the others are not.
	removed, err := e.RemoveStale(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range removed {
		if n == live || n == foreign {
			t.Errorf("removed %s", n)
		}
	}
	gone(t, e, dead)
	for _, n := range []string{live, foreign} {
		cs, err := e.List(ctx, "name=^"+n+"$")
		if err != nil || len(cs) != 1 || cs[0].State != "running" {
			t.Errorf("%s: %v %+v", n, err, cs)
		}
	}
	names, err := e.RemoveLabeled(ctx, container.LabelRun+"=r", container.LabelPID+"="+fmt.Sprint(os.Getpid()))
	if err != nil || len(names) != 1 || names[0] != live {
		t.Errorf("RemoveLabeled: %v %v", names, err)
	}
	gone(t, e, live)
}

func execEngine(e *container.Engine, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.Bin, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestRestoreOwnership(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create files owned by another user")
	}
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.MkdirAll(sub, 0o700)
	os.WriteFile(filepath.Join(sub, "f"), []byte("x"), 0o600)
	os.Symlink("/etc/passwd", filepath.Join(sub, "link"))
	for _, p := range []string{sub, filepath.Join(sub, "f")} {
		os.Chown(p, 4321, 4321)
	}
	os.Lchown(filepath.Join(sub, "link"), 4321, 4321)
	o, err := container.RestoreOwnership(1234, 1234, dir)
	if err != nil {
		t.Fatal(err)
	}
	if o.Fixed != 4 || o.Foreign != 0 { // dir (root-owned) + sub + f + link
		t.Errorf("ownership %+v", o)
	}
	var st syscall.Stat_t
	syscall.Stat("/etc/passwd", &st)
	if st.Uid != 0 {
		t.Error("the symlink was followed")
	}
	for _, p := range []string{dir, sub, filepath.Join(sub, "f")} {
		fi, _ := os.Lstat(p)
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 1234 {
			t.Errorf("%s: uid %d", p, uid)
		}
	}
}

// TestRunNameTakenByAnother: a container of the same name that another
// harness created (the same run id on a shared engine) makes our run fail
// to start, and is never signalled or removed by it.
func TestRunNameTakenByAnother(t *testing.T) {
	img := standin.Require(t)
	e := standin.Engine()
	spec, _ := rollout(t, img, "hang", config.Container{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "task.txt"), []byte("task\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := execEngine(e, "run", "-d", "--rm", "--name", spec.Name, "-e", "STANDIN_MODE=hang",
		"--mount", "type=bind,source="+dir+",target=/w",
		img, "python", "-m", "openhands.core.main", "-d", "/w", "-f", "/w/task.txt", "-i", "1"); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { e.Remove(context.Background(), spec.Name) })

	var out syncBuffer
	res, err := e.Run(context.Background(), spec, container.RunOptions{Stdout: &out, Stderr: &out, Timeout: 2 * time.Second, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !res.StartFailed || !strings.Contains(res.EngineError, "already in use") {
		t.Errorf("want a start failure on the name conflict, got %+v %q\n%s", res.Process, res.EngineError, tail(out.String()))
	}
	cs, err := e.List(context.Background(), "name=^"+spec.Name+"$")
	if err != nil || len(cs) != 1 || cs[0].State != "running" {
		t.Errorf("the other harness's container was touched: %v %+v", err, cs)
	}
}
