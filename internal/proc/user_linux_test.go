package proc

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// KillUser kills a user's processes, a set-user-ID one started by it
// and one in a session of its own included, and nothing else: not a
// process of another uid, not bench, whose own credentials stay root's.
func TestKillUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: processes of other users")
	}
	const uid, other = 61018, 61019
	start := func(u int, argv ...string) *exec.Cmd {
		c := exec.Command(argv[0], argv[1:]...)
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: uint32(u), Gid: uint32(u), Groups: []uint32{}}}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c
	}
	victim := start(uid, "sleep", "300")
	// A set-user-ID root program the user started: its real uid is the
	// user's.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	suid := dir + "/sleep"
	if data, err := os.ReadFile(sleepPath(t)); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(suid, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, 0o4755); err != nil {
		t.Fatal(err)
	}
	setuid := start(uid, suid, "300")
	bystander := start(other, "sleep", "300")
	for range 3 { // whichever thread runs it, the main one included
		if err := KillUser(uid); err != nil {
			t.Fatal(err)
		}
	}
	if err := victim.Wait(); err == nil {
		t.Error("the user's process was not killed")
	}
	if err := setuid.Wait(); err == nil {
		t.Error("the user's set-user-ID process was not killed")
	}
	if pids, err := UserProcesses(uid); err != nil || len(pids) > 0 {
		t.Errorf("left: %v %v", pids, err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("another uid's process was killed: %v", err)
	}
	if pids, _ := UserProcesses(other); len(pids) != 1 || pids[0] != bystander.Process.Pid {
		t.Errorf("processes of uid %d: %v, want [%d]", other, pids, bystander.Process.Pid)
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if statusHasUID(data, uid) {
		t.Errorf("bench's own status shows uid %d", uid)
	}
	if err := KillUser(0); err == nil {
		t.Error("KillUser(0) accepted")
	}
}

func sleepPath(t *testing.T) string {
	p, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	return p
}
