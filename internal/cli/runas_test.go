package cli

import (
	"os"
	"path/filepath"
	"testing"
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
