package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/fsx"
)

// The repository check of run_as sees every URL git clones from a local
// path: a path (made absolute, so that each ancestor is checked) and a
// file:// URL; not a remote.
func TestLocalRepoPath(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url, want string
		ok        bool
	}{
		{"./proj/repo", filepath.Join(wd, "proj/repo"), true},
		{"/srv/repo.git", "/srv/repo.git", true},
		{"file:///srv/repo.git", "/srv/repo.git", true},
		{"FILE:///srv/Repo", "/srv/Repo", true},
		{"https://github.com/o/r", "", false},
		{"git@github.com:o/r.git", "", false},
	} {
		got, ok := localRepoPath(tc.url)
		if got != tc.want || ok != tc.ok {
			t.Errorf("localRepoPath(%q) = %q, %v; want %q, %v", tc.url, got, ok, tc.want, tc.ok)
		}
	}
}

// Two bench processes may not run as the same run_as uid at once: each
// kills every process of it around its rollouts.
func TestLockRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("run_as needs root")
	}
	dir := t.TempDir()
	defer func(d string) { runAsLockDir = d }(runAsLockDir)
	runAsLockDir = filepath.Join(dir, "locks")
	// Another bench holds 61030's lock (another open file of it).
	other, err := fsx.TryLock(filepath.Join(runAsLockDir, "run_as-61030.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Unlock()
	err = lockRunAsUser(61030)
	if err == nil || !strings.Contains(err.Error(), "uid 61030 is in use by another bench process") || !badinput.Is(err) {
		t.Errorf("a uid in use: %v", err)
	}
	if err := lockRunAsUser(61031); err != nil {
		t.Errorf("a free uid: %v", err)
	}
	if err := lockRunAsUser(61031); err != nil {
		t.Errorf("this process's own uid again: %v", err)
	}
	// A lock directory others can write is refused.
	runAsLockDir = filepath.Join(dir, "open")
	os.Mkdir(runAsLockDir, 0o777)
	os.Chmod(runAsLockDir, 0o777)
	if err := lockRunAsUser(61032); err == nil || !strings.Contains(err.Error(), "no one else can write") {
		t.Errorf("an open lock directory: %v", err)
	}
}
