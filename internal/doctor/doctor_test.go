package doctor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/perfbench/perfbench/internal/config"
)

// TestChecksCreateNothing: the directory checks of a configuration whose
// state and work roots do not exist yet pass (their parent is writable)
// and leave the disk as they found it.
func TestChecksCreateNothing(t *testing.T) {
	root := t.TempDir()
	state, work := filepath.Join(root, "state"), filepath.Join(root, ".work", "deep")
	b := &config.Bench{Paths: config.Paths{StateRoot: state, WorkRoot: work}}
	for _, c := range Checks(Input{Bench: b})[:4] {
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
