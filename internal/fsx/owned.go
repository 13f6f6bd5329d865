package fsx

import (
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

// MarkOwner writes this process's pid into dir's owner file.
func MarkOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, OwnerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// DisownDir removes dir's owner file, so that no sweep ever removes it
// (--keep-workspaces); it reports whether the file was there.
func DisownDir(dir string) bool {
	return os.Remove(filepath.Join(dir, OwnerFile)) == nil
}

// Stale is a directory SweepOwned removed.
type Stale struct {
	Dir string
	PID int
}

// SweepOwned removes the directories matching root/pattern whose owning
// harness is gone. Directories without an owner file (kept on purpose, or
// not ours) are never touched.
func SweepOwned(root, pattern string) []Stale {
	dirs, _ := filepath.Glob(filepath.Join(root, pattern))
	var out []Stale
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, OwnerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		if RemoveAll(d) == nil {
			out = append(out, Stale{Dir: d, PID: pid})
		}
	}
	return out
}

func processAlive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}
