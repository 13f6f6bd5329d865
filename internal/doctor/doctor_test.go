package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/perfbench/perfbench/internal/config"
)

// TestChecksCreateNothing: the directory checks of a configuration whose
// state and work roots do not exist yet pass (their parent is writable)
// and leave the disk as they found it.
func TestChecksCreateNothing(t *testing.T) {
	root := t.TempDir()
	state, work := filepath.Join(root, "state"), filepath.Join(root, ".work", "deep")
	b := &config.Bench{Paths: config.Paths{StateRoot: state, WorkRoot: work}}
	for _, c := range Checks(Input{Bench: b})[:5] {
		r := c.Run(context.Background())
		if c.Name != "git" && !r.OK {
			t.Errorf("%s: %+v", c.Name, r)
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil || len(entries) != 0 {
		t.Errorf("checks created %v (err %v)", entries, err)
	}
}

// TestCheckWritableRefuses: a directory that exists but is read-only, and
// a path below a file, fail.
func TestCheckWritableRefuses(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write anywhere")
	}
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if r := checkWritable("x", filepath.Join(ro, "state")); r.OK {
		t.Errorf("read-only parent: %+v", r)
	}
}

func TestCheckWritableNotADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := checkWritable("x", filepath.Join(f, "state")); r.OK {
		t.Errorf("below a file: %+v", r)
	}
}

// doctor warns when rollout_root shares state_root's file system (st_dev):
// on a cluster it must be node-local. A rollout root on another file
// system passes without a warning.
func TestCheckNodeLocal(t *testing.T) {
	root := t.TempDir()
	state, rollout := filepath.Join(root, "state"), filepath.Join(root, "not", "yet")
	r := checkNodeLocal(rollout, state)
	if !r.OK || r.Warn || !strings.Contains(r.Detail, "on state_root's local file system") {
		t.Errorf("same local file system: %+v", r)
	}
	if r := nodeLocalVerdict("/r", "/s", true, "", "nfs"); !r.Warn || !strings.Contains(r.Detail, "same file system as the shared state_root /s (nfs)") || !strings.Contains(r.Detail, "must be node-local") {
		t.Errorf("same file system as a shared state root: %+v", r)
	}
	if r := nodeLocalVerdict("/r", "/s", false, "lustre", "lustre"); !r.Warn || !strings.Contains(r.Detail, "network file system (lustre)") {
		t.Errorf("rollout root on a network file system: %+v", r)
	}
	if r := nodeLocalVerdict("/r", "/s", false, "", "nfs"); r.Warn {
		t.Errorf("node-local rollout root, shared state root: %+v", r)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("the check created %v", entries)
	}
	var a, b unix.Stat_t
	if unix.Stat("/dev/shm", &a) != nil || unix.Stat(root, &b) != nil || a.Dev == b.Dev {
		t.Skip("no /dev/shm on another file system than the test's temp dir")
	}
	if r := checkNodeLocal("/dev/shm", state); !r.OK || r.Warn {
		t.Errorf("another file system: %+v", r)
	}
	// The default rollout root is $TMPDIR's (as the config chooses it).
	cfg := &config.Bench{Paths: config.Paths{StateRoot: state}}
	got := rolloutRoot(cfg, func(k string) (string, bool) { return "/dev/shm", k == "TMPDIR" })
	if got != "/dev/shm" {
		t.Errorf("rollout root %q, want $TMPDIR's", got)
	}
}
