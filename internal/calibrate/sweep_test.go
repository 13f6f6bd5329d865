package calibrate

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/fsx"
)

// A session directory whose calibrate died (kill -9) is swept by the next
// calibrate; a live one's is kept.
func TestSweepSessions(t *testing.T) {
	root := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, sessionPrefix+strconv.Itoa(dead.Process.Pid)+"-123")
	if err := os.MkdirAll(filepath.Join(stale, "item-0000"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, fsx.OwnerFile), []byte(strconv.Itoa(dead.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	live, err := fsx.MkdirOwned(root, sessionPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer fsx.RemoveOwned(live)
	var log bytes.Buffer
	sweepSessions(Options{Path: filepath.Join(root, "calibration.json"), Log: &log})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale session directory kept: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live session directory removed: %v", err)
	}
	if !strings.Contains(log.String(), "removed a stale session directory") {
		t.Errorf("log: %q", log.String())
	}
}
