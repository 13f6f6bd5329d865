package container

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func uidOf(t *testing.T, p string) uint32 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

// A directory swapped for a link to another tree while the walk runs (by
// a process that outlived the container) does not take the chown there.
func TestRestoreOwnershipSwappedDirectory(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create files owned by another user")
	}
	outside := t.TempDir()
	victim := filepath.Join(outside, "f")
	os.WriteFile(victim, []byte("v"), 0o600)
	os.Chown(victim, 4321, 4321)

	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "f"), []byte("x"), 0o600)
	os.Chown(filepath.Join(sub, "f"), 4321, 4321)
	beforeLchown = func(d, rel string) {
		if rel == filepath.Join("sub", "f") {
			os.Rename(sub, sub+".moved")
			os.Symlink(outside, sub)
		}
	}
	defer func() { beforeLchown = nil }()
	if _, err := RestoreOwnership(1234, 1234, dir); err != nil {
		t.Fatal(err)
	}
	if uid := uidOf(t, victim); uid != 4321 {
		t.Errorf("a file outside the directory was given to uid %d through the swapped link", uid)
	}
}

// A link in place of the directory itself is not followed.
func TestRestoreOwnershipDirIsLink(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create files owned by another user")
	}
	outside := t.TempDir()
	os.Chown(outside, 4321, 4321)
	link := filepath.Join(t.TempDir(), "out")
	os.Symlink(outside, link)
	if _, err := RestoreOwnership(1234, 1234, link); err == nil {
		t.Error("no error for a link in place of the directory")
	}
	if uid := uidOf(t, outside); uid != 4321 {
		t.Errorf("the link was followed: uid %d", uid)
	}
}
