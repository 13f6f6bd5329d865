package fsx

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
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
	// Killed before its owner file was written, or while writing it: the
	// pid in the name counts; a live one's directory stays.
	unmarked := mk("perfbench-999999998-123", "")
	empty := mk("perfbench-eval-999999997-456", "")
	if err := os.WriteFile(filepath.Join(empty, OwnerFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	liveUnmarked := mk(fmt.Sprintf("perfbench-%d-789", os.Getpid()), "")
	oldStyle := mk("perfbench-123456", "") // an older version's kept directory
	made, err := MkdirOwned(root, "perfbench-")
	if err != nil {
		t.Fatal(err)
	}
	keptMade, err := MkdirOwned(root, "perfbench-")
	if err != nil || !DisownDir(keptMade) {
		t.Fatalf("MkdirOwned + DisownDir: %v", err)
	}

	got := SweepOwned(root, "perfbench-*")
	want := map[string]int{dead: 999999999, unmarked: 999999998, empty: 999999997}
	if len(got) != len(want) {
		t.Fatalf("SweepOwned = %+v, want %v", got, want)
	}
	for _, st := range got {
		if want[st.Dir] != st.PID {
			t.Errorf("SweepOwned removed %+v, want %v", st, want)
		}
	}
	for _, d := range []string{live, kept, other, liveUnmarked, oldStyle, made, keptMade} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed", d)
		}
	}
	for d := range want {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists", d)
		}
	}
	for _, d := range []string{live, kept, other, liveUnmarked, oldStyle, made, keptMade} {
		if err := RemoveAll(d); err != nil {
			t.Errorf("RemoveAll(%s): %v", d, err)
		}
	}
}

// A removal killed with -9 at any point leaves either nothing or a
// directory that still has its owner file, so the next sweep removes it.
func TestRemoveOwnedKilledKeepsOwner(t *testing.T) {
	if dir := os.Getenv("FSX_REMOVE_OWNED"); dir != "" {
		fmt.Println("ready")
		if err := RemoveOwned(dir); err != nil {
			fmt.Println(err)
		}
		return
	}
	if testing.Short() {
		t.Skip("-short")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range 8 {
		dir := filepath.Join(t.TempDir(), "perfbench-x")
		// Many entries with fresh names: wherever the owner file falls in
		// the directory's order, most of the tree is on either side.
		for range 60 {
			sub := filepath.Join(dir, fmt.Sprintf("d%x", rng.Uint64()))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			for k := range 15 {
				if err := os.WriteFile(filepath.Join(sub, strconv.Itoa(k)), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := MarkOwner(dir); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestRemoveOwnedKilledKeepsOwner$")
		cmd.Env = append(os.Environ(), "FSX_REMOVE_OWNED="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if line != "ready\n" {
			t.Fatalf("child said %q", line)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(10 * time.Millisecond))))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if _, err := os.Stat(dir); err == nil {
			if _, err := os.Stat(filepath.Join(dir, OwnerFile)); err != nil {
				t.Fatalf("attempt %d: killed removal left %s without its owner file", i, dir)
			}
		}
	}
}
