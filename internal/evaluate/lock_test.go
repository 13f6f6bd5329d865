package evaluate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A link planted in the shared lock directory must not make the harness
// create (or truncate) the file it points at.
func TestTimingLockRefusesPlantedLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.Symlink(victim, filepath.Join(dir, "cpu0.lock")); err != nil {
		t.Fatal(err)
	}
	_, err := acquireTiming(context.Background(), dir, []int{0}, nil)
	if err == nil {
		t.Fatal("lock taken through a symbolic link")
	}
	if _, serr := os.Lstat(victim); !os.IsNotExist(serr) {
		t.Fatalf("the link's target was created: %v", serr)
	}
}

func TestTimingLockDirMustBeADirectory(t *testing.T) {
	dir := t.TempDir()
	target := t.TempDir()
	link := filepath.Join(dir, "locks")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err := acquireTiming(context.Background(), link, []int{0}, nil)
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("err = %v, want a refusal of the linked directory", err)
	}
}

func TestTimingLockTakenAndReleased(t *testing.T) {
	dir := t.TempDir()
	s, err := acquireTiming(context.Background(), dir, []int{3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.release()
	if _, err := os.Stat(filepath.Join(dir, "cpu3.lock")); err != nil {
		t.Fatal(err)
	}
}
