package fsx

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSweepOwned(t *testing.T) {
	root := t.TempDir()
	mk := func(name, owner string) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Join(d, "ro"), 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(d, OwnerFile), []byte(owner), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// A read-only directory inside: RemoveAll must still get rid of it.
		os.WriteFile(filepath.Join(d, "ro", "f"), nil, 0o644)
		os.Chmod(filepath.Join(d, "ro"), 0o555)
		return d
	}
	dead := mk("perfbench-dead", "999999999\n")
	live := mk("perfbench-live", "")
	if err := MarkOwner(live); err != nil {
		t.Fatal(err)
	}
	kept := mk("perfbench-kept", "999999999\n")
	if !DisownDir(kept) {
		t.Fatal("DisownDir found no owner file")
	}
	other := mk("other-dead", "999999999\n")

	got := SweepOwned(root, "perfbench-*")
	if len(got) != 1 || got[0].Dir != dead || got[0].PID != 999999999 {
		t.Fatalf("SweepOwned = %+v, want only %s", got, dead)
	}
	for _, d := range []string{live, kept, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed", d)
		}
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("%s still exists", dead)
	}
	for _, d := range []string{live, kept, other} {
		if err := RemoveAll(d); err != nil {
			t.Errorf("RemoveAll(%s): %v", d, err)
		}
	}
}
