package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/proc"
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
	// A uid of this test's own: the rollout kills every process of it.
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
		Agent:     &config.Agent{Name: "a", Type: "command", Runtime: RuntimeHost, RunAs: &config.RunAs{UID: 61022, GID: 61022}},
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
	if got := out.Details["run_as"]; got != "61022:61022" {
		t.Errorf("details run_as %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(r.OutDir, "uid")); string(b) != "61022\n" {
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
	if !out.Failed || !strings.Contains(out.Reason, "permission denied (run_as 61022:61022: that user must reach the executable and the workspace)") {
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
	// A rollout root (or an ancestor) the user can write without a sticky
	// bit, or owns, lets its agents rename a rollout's directory (root's)
	// and leave a link in its place, which the harness's next steps by
	// path then follow (the give would chown the link's target/home).
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode  os.FileMode
		owner int
		ok    bool
	}{
		{0o777, 0, false},
		{0o777 | os.ModeSticky, 0, true},
		{0o755, 65534, false},
		{0o755 | os.ModeSticky, 65534, false},
		{0o775, 0, true}, // group 0's, and the user is not in it
	} {
		if err := os.Chown(open, tc.owner, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(open, tc.mode); err != nil {
			t.Fatal(err)
		}
		err := CheckTraversable(user, filepath.Join(open))
		if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "could rename")) {
			t.Errorf("rollouts under a %v directory of uid %d: %v", tc.mode, tc.owner, err)
		}
		// A state_root there, or reached through a link to there.
		stateIn := filepath.Join(open, "state")
		os.Mkdir(stateIn, 0o700)
		link := filepath.Join(base, "state-link")
		os.Remove(link)
		if err := os.Symlink(stateIn, link); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{stateIn, link} {
			err := CheckUnmovable(user, "paths.state_root "+p, "paths.state_root", p)
			if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "uid 65534 could rename paths.state_root "+p+": "+open+" is mode")) {
				t.Errorf("state_root %s under a %v directory of uid %d: %v", p, tc.mode, tc.owner, err)
			}
		}
	}
}

// runAsRollout is a rollout in a fresh private directory under base (made
// reachable), as uid:gid.
func runAsRollout(t *testing.T, uid, gid int) *Rollout {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	priv := filepath.Join(base, "priv")
	r := &Rollout{
		Agent:     &config.Agent{Name: "a", Type: "command", Runtime: RuntimeHost, RunAs: &config.RunAs{UID: uid, GID: gid}},
		Workspace: filepath.Join(priv, "workspace"), TaskFile: filepath.Join(priv, "task.txt"),
		OutDir: filepath.Join(priv, "out"), Home: filepath.Join(priv, "home"),
		Secrets: secrets.FromEnv(nil, nil),
	}
	for _, d := range []string{priv, r.Workspace, r.OutDir, r.Home, rolloutTmp(r)} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r.Env = BaseEnv(EnvInput{Process: []string{"PATH=" + os.Getenv("PATH")}, Workspace: r.Workspace, TaskFile: r.TaskFile, OutDir: r.OutDir, Home: r.Home})
	return r
}

// livePidsOf lists the processes (not zombies) whose real or effective
// uid is uid.
func livePidsOf(t *testing.T, uid int) []int {
	t.Helper()
	pids, err := proc.UserProcesses(uid)
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// A process of the agent's that left its group (setsid, daemonized) is
// killed before the rollout is taken back: it could otherwise go on
// writing in the workspace (from its working directory, through
// directories it made world-writable) while the harness captures it, and
// outlive the rollout into the evaluation's timing.
func TestRunAsKillsEscapedProcesses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: run_as switches users only when bench is root")
	}
	// A uid of this test's own, so no other test's processes are killed.
	const uid = 61017
	r := runAsRollout(t, uid, uid)
	var stderr strings.Builder
	r.Stdout, r.Stderr = &stderr, &stderr
	script := `chmod 777 . && setsid sh -c 'while :; do echo late > late; sleep 0.05; done' </dev/null >/dev/null 2>&1 &
		sleep 0.3; exit 0`
	out, err := RunProcess(context.Background(), r, []string{"sh", "-c", script}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Failed || out.Process == nil || out.Process.ExitCode != 0 {
		t.Fatalf("agent failed: %+v %+v\n%s", out, out.Process, stderr.String())
	}
	late := filepath.Join(r.Workspace, "late")
	if err := os.Remove(late); err != nil {
		t.Fatalf("the escaped process never wrote: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	pids := livePidsOf(t, uid)
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	if len(pids) > 0 {
		t.Errorf("processes of uid %d outlive the rollout: %v", uid, pids)
	}
	if _, err := os.Lstat(late); err == nil {
		t.Errorf("the agent wrote %s after its rollout was taken back", late)
	}
}

// An agent's process (a rollout running at once as the same user) that
// can write the directory holding the rollouts renames another rollout's
// directory and leaves a link to / in its place: the give must not then
// chown /home (here: a victim directory's home/) to the agent's user.
func TestRunAsRolloutRootWritable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: run_as switches users only when bench is root")
	}
	const uid = 61023
	r := runAsRollout(t, uid, uid)
	priv := filepath.Dir(r.Workspace)
	if err := os.Chmod(filepath.Dir(priv), 0o777); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	secret := filepath.Join(victim, "home", "secret")
	if err := os.MkdirAll(filepath.Dir(secret), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	swap := exec.Command("sh", "-c", `mv "$1" "$1.moved" && ln -s "$2" "$1"`, "sh", priv, victim)
	swap.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	if b, err := swap.CombinedOutput(); err != nil {
		t.Fatalf("the swap: %v %s", err, b)
	}
	var stderr strings.Builder
	r.Stdout, r.Stderr = &stderr, &stderr
	_, err := RunProcess(context.Background(), r, []string{"sh", "-c", "cat \"$HOME/secret\""}, nil)
	if u := ownerOf(t, secret); u != 0 {
		t.Errorf("the link's target was given to uid %d", u)
	}
	if fi, err := os.Stat(victim); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the link's target's mode changed: %v %v", fi.Mode(), err)
	}
	if err == nil || !strings.Contains(err.Error(), "could rename the rollouts' directories") {
		t.Errorf("rollout under a directory the agent can write: %v", err)
	}
	if strings.Contains(stderr.String(), "root's") {
		t.Errorf("the agent read the victim's file: %s", stderr.String())
	}
}

// A hard link in the rollout at the give (left by a process of the same
// user racing it, a rollout running at once, or by anything else) is not
// given: the inode is also a file elsewhere, perhaps root's.
func TestRunAsGiveSkipsHardLinks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: run_as switches users only when bench is root")
	}
	const uid = 61024
	r := runAsRollout(t, uid, uid)
	outside := filepath.Join(filepath.Dir(filepath.Dir(r.Workspace)), "outside")
	if err := os.WriteFile(outside, []byte("root's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(outside, filepath.Join(r.Workspace, "linked")); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	r.Stdout, r.Stderr = &stderr, &stderr
	if _, err := RunProcess(context.Background(), r, []string{"sh", "-c", "echo pwned >> linked"}, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "root's\n" {
		t.Errorf("the agent wrote a file outside its rollout through a hard link: %q", b)
	}
}

// A process of the user's already running when a rollout starts (left by
// a bench killed mid-rollout) is killed before the give.
func TestRunAsKillsLeftoversBeforeTheGive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: run_as switches users only when bench is root")
	}
	const uid = 61025
	r := runAsRollout(t, uid, uid)
	left := exec.Command("sh", "-c", `while :; do [ -e "$1/go" ] && echo alive > "$1/leftover"; sleep 0.02; done`, "sh", r.Workspace)
	left.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	if err := left.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { left.Process.Kill(); left.Wait() })
	var stderr strings.Builder
	r.Stdout, r.Stderr = &stderr, &stderr
	out, err := RunProcess(context.Background(), r, []string{"sh", "-c", `touch go; sleep 0.3; ! [ -e leftover ]`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Process == nil || out.Process.ExitCode != 0 {
		t.Errorf("a process of the user's from before ran during the rollout: %+v\n%s", out.Process, stderr.String())
	}
}
