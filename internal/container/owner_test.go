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

// An entry swapped for a hard link to a file elsewhere between its check
// and its chown (by a process still running, in a directory it may
// write) does not hand that file over: the chown is of the inode checked.
func TestRestoreOwnershipSwappedForHardLink(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create files owned by another user")
	}
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("v"), 0o600)
	os.Chown(victim, 4321, 4321)
	tree := filepath.Join(dir, "tree")
	os.Mkdir(tree, 0o755)
	f := filepath.Join(tree, "f")
	os.WriteFile(f, []byte("x"), 0o600)
	os.Chown(f, 4321, 4321)
	beforeLchown = func(d, rel string) {
		if rel == "f" {
			os.Remove(f)
			if err := os.Link(victim, f); err != nil {
				t.Error(err)
			}
		}
	}
	defer func() { beforeLchown = nil }()
	if _, err := RestoreOwnership(1234, 1234, tree); err != nil {
		t.Fatal(err)
	}
	if uid := uidOf(t, victim); uid != 4321 {
		t.Errorf("the file the entry was swapped for was given to uid %d", uid)
	}
}

// GiveOwnership leaves a non-directory with other hard links as it is:
// the other name may be anywhere on the file system (a file of root's the
// give would hand to the agent); directories and single files are given.
func TestGiveOwnershipSkipsHardLinks(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give files away")
	}
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	os.WriteFile(outside, []byte("root's"), 0o644)
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "sub", "mine"), []byte("x"), 0o644)
	if err := os.Link(outside, filepath.Join(tree, "sub", "linked")); err != nil {
		t.Fatal(err)
	}
	o, err := GiveOwnership(1234, 1234, tree)
	if err != nil {
		t.Fatal(err)
	}
	if uid := uidOf(t, outside); uid != 0 {
		t.Errorf("a hard link's other name was given to uid %d", uid)
	}
	for _, p := range []string{tree, filepath.Join(tree, "sub"), filepath.Join(tree, "sub", "mine")} {
		if uid := uidOf(t, p); uid != 1234 {
			t.Errorf("%s: uid %d, want 1234", p, uid)
		}
	}
	if o.Linked != 1 || o.Fixed != 3 {
		t.Errorf("ownership %+v, want 3 fixed, 1 linked", o)
	}
}
