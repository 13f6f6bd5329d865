package fsx

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/perfbench/perfbench/internal/procfs"
)

// RemoveAll is os.RemoveAll that first makes directories writable when a
// plain removal fails (an agent or a workload may chmod -w a directory).
func RemoveAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// OwnerFile marks a private directory (a rollout's, an evaluation's) as a
// harness's, so that a later run can remove what a harness killed with -9
// left behind. Its owner holds an flock on it while the directory is in
// use: liveness does not depend on seeing the owner's pid (another pid
// namespace, another container sharing the directory). It holds the
// owner's pid and, on a second line, its host: a pid means nothing on
// another machine, so no sweep removes another host's directory (a
// rollout root on storage that several nodes share).
const OwnerFile = ".perfbench-owner"

// unmarkedGrace is how long a directory without an owner file, whose name
// carries no host tag (an older version's), is left alone: it may be one
// being created (its owner file not yet written), perhaps by another host,
// whose pid in its name means nothing here. A tagged name says its host at
// once: this host's is judged by its pid, another's never.
const unmarkedGrace = time.Minute

// hostTag is this host in private directories' names: "h" and 8 hex digits
// of a hash of the host name, so that a directory killed before its owner
// file was written still says whose it is.
var hostTag = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(hostname()))
	return "h" + hex.EncodeToString(sum[:4])
})

// nameHost is the host tag in a private directory's name
// (<prefix><tag>-<pid>-<random>), or "" for an older version's name.
func nameHost(name string) string {
	fields := strings.Split(name, "-")
	if len(fields) < 4 {
		return ""
	}
	t := fields[len(fields)-3]
	if len(t) != 9 || t[0] != 'h' {
		return ""
	}
	if _, err := hex.DecodeString(t[1:]); err != nil {
		return ""
	}
	return t
}

// hostname is this machine's name as owner files record it.
var hostname = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return strings.TrimSpace(h)
})

// ownerContent is what MkdirOwned writes into the owner file.
func ownerContent() []byte {
	return []byte(strconv.Itoa(os.Getpid()) + "\n" + hostname() + "\n")
}

// KeptFile marks a private directory kept on purpose (--keep-workspaces):
// no sweep removes it.
const KeptFile = ".perfbench-kept"

// ownerLocks holds the flock on the owner file of every private directory
// this process owns (dir → *Lock), until RemoveOwned or DisownDir.
var ownerLocks sync.Map

// MkdirOwned creates a private directory root/<prefix><host tag>-<pid>-<random>
// (0700), writes its owner file and locks it. The pid in the name is the
// owner of record: the harness chose the name, where the owner file may
// sit in a folder an agent can write (a rollout directory mounted into its
// container). Until the owner file is locked, the live pid in the name
// keeps the directory from any sweep.
func MkdirOwned(root, prefix string) (string, error) {
	dir, err := os.MkdirTemp(root, prefix+hostTag()+"-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, OwnerFile)
	if err := os.WriteFile(path, ownerContent(), 0o600); err != nil {
		_ = RemoveAll(dir)
		return "", err
	}
	l, err := TryLock(path)
	if err != nil {
		_ = RemoveAll(dir)
		return "", err
	}
	ownerLocks.Store(dir, l)
	return dir, nil
}

func releaseOwner(dir string) {
	if l, ok := ownerLocks.LoadAndDelete(dir); ok {
		_ = l.(*Lock).Unlock()
	}
}

// DisownDir marks dir as kept and removes its owner file, so that no sweep
// ever removes it (--keep-workspaces); it reports whether dir is kept.
func DisownDir(dir string) bool {
	if os.WriteFile(filepath.Join(dir, KeptFile), nil, 0o600) != nil {
		return false
	}
	releaseOwner(dir)
	_ = os.Remove(filepath.Join(dir, OwnerFile))
	return true
}

// RemoveOwned removes a private directory made by MkdirOwned, its owner
// file last: a harness killed while it removes a large workspace leaves a
// directory that the sweep still knows as its own.
func RemoveOwned(dir string) error {
	defer releaseOwner(dir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return RemoveAll(dir)
	}
	var errs []error
	for _, e := range ents {
		if e.Name() != OwnerFile {
			if err := RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return RemoveAll(dir)
}

// Stale is a directory SweepOwned removed.
type Stale struct {
	Dir string
	PID int
}

// SweepOwned removes the directories matching root/pattern whose owning
// harness is gone: the pid in the name MkdirOwned gave it (else, for
// older directories, the one in its owner file) is not running here, and
// no process holds the owner file's lock. Directories kept on purpose
// (KeptFile), naming no owner, not this user's, or whose owner file names
// another host are never touched; one without an owner file only once it
// is older than unmarkedGrace (its owner may be writing it).
//
// root is often a folder every user can write (/tmp): a candidate must be
// a real directory (not a link to one), owned by this user, and it is
// opened and emptied through os.Root, so a link planted there, or swapped
// in while the sweep runs, never makes it remove anything outside.
func SweepOwned(root, pattern string) []Stale {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil
	}
	defer r.Close()
	ents, _ := os.ReadDir(root)
	var out []Stale
	for _, e := range ents {
		if ok, _ := filepath.Match(pattern, e.Name()); !ok {
			continue
		}
		if pid, ok := sweepOne(r, e.Name()); ok {
			out = append(out, Stale{Dir: filepath.Join(root, e.Name()), PID: pid})
		}
	}
	return out
}

// sweepOne removes root/name if it is a stale private directory.
func sweepOne(root *os.Root, name string) (int, bool) {
	fi, err := root.Lstat(name)
	if err != nil || !fi.IsDir() || !ownedByMe(fi) {
		return 0, false
	}
	dir, err := root.OpenRoot(name)
	if err != nil {
		return 0, false
	}
	defer dir.Close()
	if now, err := dir.Stat("."); err != nil || !os.SameFile(fi, now) {
		return 0, false // swapped for a link (to a directory inside root) meanwhile
	}
	if _, err := dir.Lstat(KeptFile); err == nil {
		return 0, false
	}
	owner := readOwner(dir)
	if owner.host != "" && owner.host != hostname() {
		return 0, false // another machine's: its pids are not ours to judge
	}
	if tag := nameHost(name); tag != "" && tag != hostTag() {
		return 0, false // named by another machine
	}
	if !owner.marked && nameHost(name) == "" && time.Since(fi.ModTime()) < unmarkedGrace {
		return 0, false
	}
	pid := ownerPID(name, owner)
	if pid <= 0 || processAlive(pid, fi.ModTime()) || ownerLocked(dir) {
		return 0, false
	}
	if err := removeIn(root, dir, name); err != nil {
		return 0, false
	}
	return pid, true
}

func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// ownerLocked reports whether a live process holds dir's owner file lock.
func ownerLocked(dir *os.Root) bool {
	f, err := OpenFileIn(dir, OwnerFile)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
	return errors.Is(err, syscall.EWOULDBLOCK)
}

// removeIn empties dir (root/name) inside its own root, owner file last,
// then removes it; directories made read-only are made writable first.
func removeIn(root, dir *os.Root, name string) error {
	ents, err := fs.ReadDir(dir.FS(), ".")
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() == OwnerFile {
			continue
		}
		if err := dir.RemoveAll(e.Name()); err != nil {
			_ = fs.WalkDir(dir.FS(), e.Name(), func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					_ = dir.Chmod(p, 0o755)
				}
				return nil
			})
			if err := dir.RemoveAll(e.Name()); err != nil {
				return err
			}
		}
	}
	return root.RemoveAll(name)
}

// owner is what a directory's owner file says.
type owner struct {
	// marked: the file exists and names a pid.
	marked bool
	pid    int
	// host is the owner's host; "" in files of older versions (then the
	// directory is taken to be this host's, as they were).
	host string
}

// readOwner reads the owner file (without following a link, at most a
// few hundred bytes): "<pid>\n<host>\n", or "<pid>\n" from older versions.
func readOwner(dir *os.Root) owner {
	f, err := OpenFileIn(dir, OwnerFile)
	if err != nil {
		return owner{}
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, 320))
	lines := strings.SplitN(string(data), "\n", 3)
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return owner{}
	}
	o := owner{marked: true, pid: pid}
	if len(lines) > 1 {
		o.host = strings.TrimSpace(lines[1])
	}
	return o
}

// ownerPID is the pid in the directory's name (<prefix><pid>-<random>),
// else, for directories of older versions, the one in its owner file,
// else 0.
func ownerPID(name string, o owner) int {
	if fields := strings.Split(name, "-"); len(fields) >= 3 {
		if _, err := strconv.ParseUint(fields[len(fields)-1], 10, 64); err == nil {
			if pid, err := strconv.Atoi(fields[len(fields)-2]); err == nil {
				return pid
			}
		}
	}
	return o.pid
}

// processAlive reports whether pid may still be the owner of a directory
// last modified at mtime: it exists, and it did not start after that time.
// A process that started later reuses the pid of a dead owner (pids wrap
// around at pid_max, fast on a busy machine), and cannot have created the
// directory. Where the start time is unreadable, an existing pid counts as
// alive: keeping a stale directory is the safe mistake.
func processAlive(pid int, mtime time.Time) bool {
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err != nil {
		return false
	}
	start, ok := processStart(pid)
	// One second of slack: the boot time in /proc/stat has whole seconds.
	return !ok || !start.After(mtime.Add(time.Second))
}

// processStart is when pid started (procfs.StartTime).
func processStart(pid int) (time.Time, bool) { return procfs.StartTime(pid) }
