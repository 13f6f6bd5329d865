package agent

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// metrics.json is the agent's: a link to a host file is not read, a FIFO
// (which would block a plain read for ever) is not opened, and a link in
// place of the output folder is not followed.
func TestReadMetricsFollowsNoLink(t *testing.T) {
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, MetricsFile), []byte(`{"cost_usd": 9}`), 0o600)
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, MetricsFile), []byte(`{"cost_usd": 0.5, "turns": 2}`), 0o644)
	if u, err := ReadMetrics(filepath.Join(out, MetricsFile)); err != nil || u.CostUSD != 0.5 || u.Turns != 2 {
		t.Fatalf("ReadMetrics = %+v, %v", u, err)
	}

	linked := t.TempDir()
	os.Symlink(filepath.Join(host, MetricsFile), filepath.Join(linked, MetricsFile))
	fifo := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifo, MetricsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(t.TempDir(), "out")
	os.Symlink(host, folder)
	for name, dir := range map[string]string{"link": linked, "fifo": fifo, "folder link": folder} {
		if u, err := ReadMetrics(filepath.Join(dir, MetricsFile)); err == nil {
			t.Errorf("%s: read %+v", name, u)
		}
	}
}
