package evaluate

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runLauncher runs the test binary as the launcher (as a process of its
// own: it becomes a child subreaper) over sh -c script and returns its
// report.
func runLauncher(t *testing.T, script string) timedResult {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(exe, TimedCommand, "--cpu", "-1", "--result", path, "--", "sh", "-c", script)
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("launcher: %v: %s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r timedResult
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// A spin in a detached grandchild (its parent exits at once, so it is
// reparented away from the shell that waits) is the workload's CPU time
// too: the launcher adopts it as a subreaper and reaps it. Without that it
// counted about 1% of the spin (the shells alone).
func TestLauncherCountsDetachedChild(t *testing.T) {
	spin := spinChild(150000)
	direct := runLauncher(t, spin)
	detached := runLauncher(t, "( ("+spin+") & ) | cat")
	cpu := func(r timedResult) float64 { return time.Duration(r.UserNanos + r.SysNanos).Seconds() }
	if detached.Adopted < 1 || cpu(direct) < 0.02 || cpu(detached) < 0.5*cpu(direct) {
		t.Fatalf("spin in the tree: %.4fs; detached: %.4fs (%d adopted)", cpu(direct), cpu(detached), detached.Adopted)
	}
}

// A descendant still running when the main process exits — here one in a
// session of its own, out of reach of the process group kill — is killed
// and reaped by the launcher, its CPU time counted: the main process
// exits once the leftover has done a fixed spin (whose CPU time load does
// not change), which the shells alone are far below.
func TestLauncherKillsLeftoverDescendants(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	script := `setsid sh -c 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo $$ > ` + pidFile + `.tmp; mv ` + pidFile + `.tmp ` + pidFile + `; while :; do :; done' </dev/null >/dev/null 2>&1 &
while [ ! -s ` + pidFile + ` ]; do sleep 0.01; done`
	r := runLauncher(t, script)
	if r.Killed < 1 || r.Adopted < r.Killed {
		t.Fatalf("adopted %d, killed %d", r.Adopted, r.Killed)
	}
	if cpu := time.Duration(r.UserNanos + r.SysNanos); cpu < 30*time.Millisecond {
		t.Fatalf("the leftover spin's CPU time is not counted: %v", cpu)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("the leftover process %d still exists (%v)", pid, err)
	}
}
