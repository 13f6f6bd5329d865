package fsx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// OwnerFile marks a private directory (a rollout's, an evaluation's) with
// the pid of the harness that owns it, so that a later run can remove
// what a harness killed with -9 left behind.
const OwnerFile = ".perfbench-owner"

// KeptFile marks a private directory kept on purpose (--keep-workspaces):
// no sweep removes it.
const KeptFile = ".perfbench-kept"

// MkdirOwned creates a private directory root/<prefix><pid>-<random>
// (0700) and marks it with MarkOwner. Until the owner file is written
// (and should a kill leave it empty) the pid in the name stands for it, so
// a harness killed at any instant leaves a directory that SweepOwned
// removes once the harness is gone.
func MkdirOwned(root, prefix string) (string, error) {
	dir, err := os.MkdirTemp(root, prefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", err
	}
	if err := MarkOwner(dir); err != nil {
		_ = RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// MarkOwner writes this process's pid into dir's owner file.
func MarkOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, OwnerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// DisownDir marks dir as kept and removes its owner file, so that no sweep
// ever removes it (--keep-workspaces); it reports whether dir is kept.
func DisownDir(dir string) bool {
	if os.WriteFile(filepath.Join(dir, KeptFile), nil, 0o600) != nil {
		return false
	}
	_ = os.Remove(filepath.Join(dir, OwnerFile))
	return true
}

// RemoveOwned removes a private directory marked by MarkOwner, its owner
// file last: a harness killed while it removes a large workspace leaves a
// directory that the sweep still knows as its own.
func RemoveOwned(dir string) error {
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
// harness is gone: the pid of the owner file, else the one in the name
// MkdirOwned gave it. Directories kept on purpose (KeptFile), and those
// naming no owner (not ours, or from older versions), are never touched.
func SweepOwned(root, pattern string) []Stale {
	dirs, _ := filepath.Glob(filepath.Join(root, pattern))
	var out []Stale
	for _, d := range dirs {
		if _, err := os.Lstat(filepath.Join(d, KeptFile)); err == nil {
			continue
		}
		pid := ownerPID(d)
		if pid <= 0 || processAlive(pid) {
			continue
		}
		if RemoveOwned(d) == nil {
			out = append(out, Stale{Dir: d, PID: pid})
		}
	}
	return out
}

// ownerPID is the pid in dir's owner file, else the one in its name
// (<prefix><pid>-<random>), else 0.
func ownerPID(dir string) int {
	if data, err := os.ReadFile(filepath.Join(dir, OwnerFile)); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			return pid
		}
	}
	fields := strings.Split(filepath.Base(dir), "-")
	if len(fields) < 3 {
		return 0
	}
	if _, err := strconv.ParseUint(fields[len(fields)-1], 10, 64); err != nil {
		return 0
	}
	pid, err := strconv.Atoi(fields[len(fields)-2])
	if err != nil {
		return 0
	}
	return pid
}

func processAlive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}
