package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/secrets"
)

func ownerOf(t *testing.T, p string) int {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Uid)
}

// A run_as rollout runs as the user in a directory given to it, and
// everything is bench's again afterwards; no link, planted before or made
// by the agent, moves the ownership of what it points to.
func TestRunProcessRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: run_as switches users only when bench is root")
	}
	base := t.TempDir()
	// The agent must reach its workspace: t.TempDir's directories are 0700.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(base, "outside")
	if err := os.WriteFile(outside, []byte("not the agent's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(outside, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	priv := filepath.Join(base, "priv")
	r := &Rollout{
		Agent:     &config.Agent{Name: "a", Type: "command", Runtime: RuntimeHost, RunAs: &config.RunAs{UID: 65534, GID: 65534}},
		Workspace: filepath.Join(priv, "workspace"), TaskFile: filepath.Join(priv, "task.txt"),
		OutDir: filepath.Join(priv, "out"), Home: filepath.Join(priv, "home"),
		Secrets: secrets.FromEnv(nil, nil),
	}
	for _, d := range []string{priv, r.Workspace, r.OutDir, r.Home, rolloutTmp(r)} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(r.TaskFile, []byte("task\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(r.Workspace, "planted")); err != nil {
		t.Fatal(err)
	}
	r.Env = BaseEnv(EnvInput{Process: []string{"PATH=" + os.Getenv("PATH")}, Workspace: r.Workspace, TaskFile: r.TaskFile, OutDir: r.OutDir, Home: r.Home})
	var stderr strings.Builder
	r.Stdout, r.Stderr = &stderr, &stderr
	script := `id -u > "$BENCH_OUT_DIR/uid" && cat "$BENCH_TASK_FILE" > /dev/null && echo hi > new &&
		ln -s "$1" "$BENCH_OUT_DIR/evil" && mkdir "$HOME/d" && echo x > "$TMPDIR/t" &&
		! ls "$(dirname "$BENCH_WORKSPACE")" 2>/dev/null && ! cat "$1" > /dev/null 2>&1 &&
		cp /bin/sh suid && chmod 6755 suid || exit 1`
	out, err := RunProcess(context.Background(), r, []string{"sh", "-c", script, "sh", outside}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Failed || out.Process == nil || out.Process.ExitCode != 0 {
		t.Fatalf("agent failed: %+v %+v\n%s", out, out.Process, stderr.String())
	}
	if got := out.Details["run_as"]; got != "65534:65534" {
		t.Errorf("details run_as %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(r.OutDir, "uid")); string(b) != "65534\n" {
		t.Errorf("agent's uid %q", b)
	}
	if ownerOf(t, outside) != 12345 {
		t.Errorf("a link moved the ownership of %s", outside)
	}
	for _, p := range []string{priv, r.Workspace, filepath.Join(r.Workspace, "new"), filepath.Join(r.OutDir, "evil"), filepath.Join(r.Home, "d"), filepath.Join(rolloutTmp(r), "t"), r.TaskFile} {
		if u := ownerOf(t, p); u != 0 {
			t.Errorf("%s: owner %d after the rollout, want bench's (0)", p, u)
		}
	}
	if fi, err := os.Stat(priv); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("rollout directory mode %v %v, want 0700", fi.Mode(), err)
	}
	// Taken back as root's, the agent's set-id program is set-id no more.
	if fi, err := os.Lstat(filepath.Join(r.Workspace, "suid")); err != nil || fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
		t.Errorf("agent's set-id program after the rollout: %v %v", fi.Mode(), err)
	}

	// An executable the user cannot reach is the agent's failure, saying why.
	hidden := filepath.Join(base, "hidden")
	if err := os.Mkdir(hidden, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := CopyFile("/bin/sh", filepath.Join(hidden, "agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = RunProcess(context.Background(), r, []string{filepath.Join(hidden, "agent"), "-c", "true"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Failed || !strings.Contains(out.Reason, "permission denied (run_as 65534:65534: that user must reach the executable and the workspace)") {
		t.Errorf("unreachable executable: failed %v, reason %q", out.Failed, out.Reason)
	}
}

func TestRunsAs(t *testing.T) {
	me := &config.RunAs{UID: os.Geteuid(), GID: os.Getegid()}
	other := &config.RunAs{UID: 65534, GID: 65534}
	if os.Geteuid() == 65534 {
		other = &config.RunAs{UID: 65533, GID: 65533}
	}
	for _, tc := range []struct {
		a    *config.Agent
		want *config.RunAs
	}{
		{&config.Agent{Runtime: RuntimeHost}, nil},
		{&config.Agent{Runtime: RuntimeHost, RunAs: me}, nil}, // already that user: nothing to switch
		{&config.Agent{Runtime: RuntimeContainer, RunAs: other}, nil},
		{&config.Agent{Runtime: RuntimeHost, RunAs: other}, other},
	} {
		if got := RunsAs(tc.a); got != tc.want {
			t.Errorf("RunsAs(%+v) = %v, want %v", tc.a, got, tc.want)
		}
	}
	// As one's own user run_as is allowed without root.
	if err := CheckRunAs(&config.Agent{Name: "a", Runtime: RuntimeHost, RunAs: me}); err != nil {
		t.Errorf("run_as as oneself: %v", err)
	}
	err := CheckRunAs(&config.Agent{Name: "a", Runtime: RuntimeHost, RunAs: other})
	if (err != nil) == (os.Geteuid() == 0) {
		t.Errorf("CheckRunAs as uid %d: %v", os.Geteuid(), err)
	}
}

func TestProtectAndReach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: files of another owner")
	}
	user := &config.RunAs{UID: 65534, GID: 65534}
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	state, dot, foreign, missing := filepath.Join(base, "state"), filepath.Join(base, ".env"), filepath.Join(base, "theirs"), filepath.Join(base, "none")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dot, []byte("K=v\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !Reachable(user, state) || !Reachable(user, dot) {
		t.Fatal("not reachable before Protect")
	}
	if err := Protect(user, state, dot, missing); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{state: 0o700, dot: 0o600} {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		if Reachable(user, p) {
			t.Errorf("%s reachable after Protect", p)
		}
	}
	if err := os.Mkdir(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	if err := Protect(user, foreign); err == nil || !strings.Contains(err.Error(), "belongs to uid 12345 and uid 65534 could read it") {
		t.Errorf("someone else's readable directory: %v", err)
	}
	if err := CheckTraversable(user, filepath.Join(state)); err == nil || !strings.Contains(err.Error(), state+" is mode 0700") {
		t.Errorf("rollouts under a 0700 directory: %v", err)
	}
	if err := CheckTraversable(user, base); err != nil {
		t.Errorf("rollouts under %s: %v", base, err)
	}
}
