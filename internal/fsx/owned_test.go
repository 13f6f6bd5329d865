package fsx

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
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
	if err := markOwner(live); err != nil {
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
	// Both were left a while ago: a fresh directory without an owner
	// file may be one being created (by another host, perhaps).
	old := time.Now().Add(-2 * unmarkedGrace)
	for _, d := range []string{unmarked, empty} {
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
	}
	fresh := mk("perfbench-999999996-321", "")
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
	for _, d := range []string{live, kept, other, liveUnmarked, oldStyle, made, keptMade, fresh} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed", d)
		}
	}
	for d := range want {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists", d)
		}
	}
	for _, d := range []string{live, kept, other, liveUnmarked, oldStyle, made, keptMade, fresh} {
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
		if err := markOwner(dir); err != nil {
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

// markOwner writes this process's pid into dir's owner file, as versions
// before MkdirOwned did.
func markOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, OwnerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// The sweep's root is often /tmp, writable by every user: a link planted
// there under a private directory's name must not make it empty the
// link's target, wherever it points.
func TestSweepOwnedFollowsNoLink(t *testing.T) {
	root := t.TempDir()
	victim := filepath.Join(root, "victim") // inside root, so os.Root alone would allow it
	outside := t.TempDir()
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{victim, outside} {
		os.WriteFile(filepath.Join(d, "precious"), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(d, OwnerFile), []byte("999999999\n"), 0o600)
	}
	os.Symlink(victim, filepath.Join(root, "perfbench-999999999-1"))
	os.Symlink(outside, filepath.Join(root, "perfbench-999999999-2"))
	if got := SweepOwned(root, "perfbench-*"); len(got) != 0 {
		t.Errorf("SweepOwned removed %+v", got)
	}
	for _, d := range []string{victim, outside} {
		if _, err := os.Stat(filepath.Join(d, "precious")); err != nil {
			t.Errorf("%s emptied through a link: %v", d, err)
		}
	}
}

// A directory whose owner file an agent controls (a rollout directory is
// mounted into its container): a FIFO there must not hang the sweep, a
// dead pid written there must not get a live directory removed, and a
// directory of another user is never touched.
func TestSweepOwnedDistrustsTheOwnerFile(t *testing.T) {
	root := t.TempDir()
	live, err := MkdirOwned(root, "perfbench-")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(live, OwnerFile))
	os.WriteFile(filepath.Join(live, OwnerFile), []byte("999999999\n"), 0o600)
	fifo := filepath.Join(root, "perfbench-fifo")
	os.Mkdir(fifo, 0o700)
	if err := syscall.Mkfifo(filepath.Join(fifo, OwnerFile), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(root, "perfbench-999999999-3")
	os.Mkdir(foreign, 0o700)
	if err := os.Chown(foreign, 4242, 4242); err != nil && os.Geteuid() == 0 {
		t.Fatal(err)
	}
	done := make(chan []Stale)
	go func() { done <- SweepOwned(root, "perfbench-*") }()
	select {
	case got := <-done:
		want := 0
		if os.Geteuid() != 0 {
			want = 1 // not root: the chown failed, the directory is this user's
		}
		if len(got) != want {
			t.Errorf("SweepOwned removed %+v", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("SweepOwned blocked on a FIFO owner file")
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live directory was removed for the pid its owner file claims: %v", err)
	}
	RemoveOwned(live)
}

// Liveness does not depend on seeing the owner's pid (another pid
// namespace): the owner file's lock keeps a directory whose named pid is
// not running here.
func TestSweepOwnedRespectsTheOwnerLock(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "perfbench-999999999-4")
	os.Mkdir(dir, 0o700)
	os.WriteFile(filepath.Join(dir, OwnerFile), []byte("999999999\n"), 0o600)
	l, err := TryLock(filepath.Join(dir, OwnerFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := SweepOwned(root, "perfbench-*"); len(got) != 0 {
		t.Fatalf("removed while its owner file is locked: %+v", got)
	}
	l.Unlock()
	if got := SweepOwned(root, "perfbench-*"); len(got) != 1 {
		t.Fatalf("not removed once the lock is free: %+v", got)
	}
}

// A pid counts as a directory's owner only if its process started before
// the directory was last modified: a later process reuses a dead owner's
// pid.
func TestProcessAliveStartTime(t *testing.T) {
	pid := os.Getpid()
	start, ok := processStart(pid)
	if !ok {
		t.Skip("no /proc start times here")
	}
	if d := time.Since(start); d < 0 || d > time.Hour {
		t.Fatalf("this process started %v ago, want a plausible start", d)
	}
	if !processAlive(pid, time.Now()) {
		t.Error("this process is not alive for a directory modified now")
	}
	if processAlive(pid, start.Add(-time.Minute)) {
		t.Error("this process owns a directory last modified a minute before it started")
	}
	if processAlive(1<<30, time.Now()) {
		t.Error("a pid beyond pid_max is alive")
	}
}

// The owner file names the host: no sweep removes a directory of another
// host (a rollout root several nodes share), whose pid means nothing
// here, even when no process of that pid runs here and nobody here holds
// its lock; this host's dead owner's directory goes.
func TestSweepOwnedLeavesOtherHosts(t *testing.T) {
	root := t.TempDir()
	old := time.Now().Add(-2 * unmarkedGrace)
	mk := func(name, content string) string {
		d := filepath.Join(root, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, OwnerFile), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
		return d
	}
	other := mk("perfbench-999999999-1", "999999999\nnode-17.cluster\n")
	mine := mk("perfbench-999999999-2", "999999999\n"+hostname()+"\n")
	legacy := mk("perfbench-999999999-3", "999999999\n")
	got := SweepOwned(root, "perfbench-*")
	if len(got) != 2 {
		t.Fatalf("SweepOwned = %+v, want %s and %s", got, mine, legacy)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another host's directory was removed: %v", err)
	}
	for _, d := range []string{mine, legacy} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still exists", d)
		}
	}

	// MkdirOwned records this host next to the pid.
	d, err := MkdirOwned(root, "perfbench-")
	if err != nil {
		t.Fatal(err)
	}
	defer RemoveOwned(d)
	data, err := os.ReadFile(filepath.Join(d, OwnerFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d\n%s\n", os.Getpid(), hostname()); string(data) != want || hostname() == "" {
		t.Errorf("owner file %q, want %q", data, want)
	}
}

// A directory killed before its owner file was written is judged at once
// when its name carries this host's tag (the pid in it is this host's),
// and never when it carries another host's.
func TestSweepOwnedHostTaggedNames(t *testing.T) {
	root := t.TempDir()
	mine := filepath.Join(root, "perfbench-x-"+hostTag()+"-999999995-1")
	other := filepath.Join(root, "perfbench-x-h00000000-999999994-2")
	if hostTag() == "h00000000" {
		t.Skip("this host's tag is the test's other host")
	}
	for _, d := range []string{mine, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * unmarkedGrace)
	if err := os.Chtimes(other, old, old); err != nil {
		t.Fatal(err)
	}
	got := SweepOwned(root, "perfbench-*")
	if len(got) != 1 || got[0].Dir != mine || got[0].PID != 999999995 {
		t.Fatalf("SweepOwned = %+v, want only %s", got, mine)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("another host's directory was removed: %v", err)
	}
	made, err := MkdirOwned(root, "perfbench-y-")
	if err != nil {
		t.Fatal(err)
	}
	defer RemoveOwned(made)
	if nameHost(filepath.Base(made)) != hostTag() {
		t.Fatalf("MkdirOwned's name %s carries no host tag %s", made, hostTag())
	}
}
