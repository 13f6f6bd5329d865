package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/proc"
)

// RunsAs is the user entry a's host-runtime rollouts switch to, nil when
// they run as bench's own user: no run_as, a container runtime (which
// runs as the invoking user anyway), or a run_as that is bench's own
// uid and gid already.
func RunsAs(a *config.Agent) *config.RunAs {
	if a == nil || a.RunAs == nil || a.Runtime == RuntimeContainer {
		return nil
	}
	if a.RunAs.UID == os.Geteuid() && a.RunAs.GID == os.Getegid() {
		return nil
	}
	return a.RunAs
}

// CheckRunAs refuses a run_as bench cannot honour: only root may give
// its rollouts another user (an unprivileged harness could not keep its
// files from an agent running as itself anyway).
func CheckRunAs(a *config.Agent) error {
	r := RunsAs(a)
	if r == nil || os.Geteuid() == 0 {
		return nil
	}
	return fmt.Errorf("agents.%s: run_as %s needs bench to run as root (it runs as uid %d, gid %d): run it as root, or drop run_as (and --run-as)",
		a.Name, r, os.Geteuid(), os.Getegid())
}

// Protect keeps the harness's own paths (state_root, work_root, .env)
// from a run_as agent: each is made owner-only when bench's user owns it
// (a directory 0700, so nothing under it can be reached), and refused
// when another user owns it and user could read it, since chmod'ing
// someone else's file is not bench's to do. A missing path is skipped.
func Protect(user *config.RunAs, paths ...string) error {
	for _, p := range paths {
		st, err := statOf(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("run_as: %w", err)
		}
		mode := fs.FileMode(st.Mode) & fs.ModePerm
		if int(st.Uid) == os.Geteuid() {
			if mode&0o077 != 0 {
				if err := os.Chmod(p, mode&0o700); err != nil {
					return fmt.Errorf("run_as: %w", err)
				}
			}
			continue
		}
		if permits(st, user, 0o4) || permits(st, user, 0o1) {
			return fmt.Errorf("run_as: %s belongs to uid %d and uid %d could read it (mode %#o): make it bench's user's, or not readable by others", p, st.Uid, user.UID, mode)
		}
	}
	return nil
}

// CheckTraversable reports the first of dir and its ancestors that user
// cannot search, where its rollouts would live: the agent could not even
// reach its workspace; or one the user could rename entries of
// (CheckUnmovable).
func CheckTraversable(user *config.RunAs, dir string) error {
	real := realPath(dir)
	for p := real; ; p = filepath.Dir(p) {
		st, err := statOf(p)
		if err != nil {
			return fmt.Errorf("run_as: %w", err)
		}
		if !permits(st, user, 0o1) {
			return fmt.Errorf("run_as: uid %d cannot reach the rollouts under %s: %s is mode %#o (owner uid %d): choose a paths.rollout_root every user can traverse",
				user.UID, dir, p, fs.FileMode(st.Mode)&fs.ModePerm, st.Uid)
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	return CheckUnmovable(user, "the rollouts' directories under "+dir, "paths.rollout_root", real)
}

// CheckUnmovable reports the first of dir and its ancestors (links
// resolved) that user owns, or can write without a sticky bit: its
// processes could rename what is in it, root's as well, and leave a link
// or a directory of their own in its place, which the harness's next
// steps by path would follow (a rollout's give would chown the link's
// target's home/; a state_root or work_root of the agent's would receive
// the runs and the mirror). what names what moves, field the setting.
func CheckUnmovable(user *config.RunAs, what, field, dir string) error {
	for p := realPath(dir); ; p = filepath.Dir(p) {
		st, err := statOf(p)
		if err != nil {
			return fmt.Errorf("run_as: %w", err)
		}
		if int(st.Uid) == user.UID || (permits(st, user, 0o2) && st.Mode&syscall.S_ISVTX == 0) {
			return fmt.Errorf("run_as: uid %d could rename %s: %s is mode %#o (owner uid %d): choose a %s whose directories that user can neither write nor own (a sticky bit, as the system temp dir has, will do)",
				user.UID, what, p, st.Mode&0o7777, st.Uid, field)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// realPath is p absolute with its links resolved (as far as it exists),
// so that the directories checked are those the path goes through.
func realPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

func statOf(p string) (*syscall.Stat_t, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	return &st, nil
}

// permits tells whether user has the access bit (4 read, 2 write, 1
// search) on a file by its mode bits, as the kernel checks them for a
// process with no supplementary groups (ACLs aside).
func permits(st *syscall.Stat_t, user *config.RunAs, bit uint32) bool {
	switch {
	case int(st.Uid) == user.UID:
		return st.Mode&(bit<<6) != 0
	case int(st.Gid) == user.GID:
		return st.Mode&(bit<<3) != 0
	default:
		return st.Mode&bit != 0
	}
}

// rolloutTmp is the rollout's TMPDIR, as BaseEnv sets it.
func rolloutTmp(r *Rollout) string { return filepath.Join(filepath.Dir(r.Home), "tmp") }

// giveRollout hands the rollout's own paths to user before its process
// starts: the workspace, output folder, HOME and TMPDIR (recursively,
// never following a link) and the task file become user's; their
// directory, the harness's, stays root's and only searchable (0711), so
// the agent can neither list it nor rename what is in it (swap its
// workspace for a link before the capture).
func giveRollout(r *Rollout, user *config.RunAs) error {
	root := filepath.Dir(r.Workspace)
	// Also checked before the run (prepare): nothing above root may be
	// the user's to rename, or every step below could follow its link.
	if err := CheckTraversable(user, filepath.Dir(root)); err != nil {
		return err
	}
	if err := chmodDir(root, 0o711); err != nil {
		return fmt.Errorf("run_as: %w", err)
	}
	// Hard-linked files are not given: their other name may be a file of
	// root's anywhere on the file system.
	if _, err := container.GiveOwnership(user.UID, user.GID, r.Workspace, r.OutDir, r.Home, rolloutTmp(r)); err != nil {
		return fmt.Errorf("run_as: give the rollout to uid %d: %w", user.UID, err)
	}
	if r.TaskFile != "" {
		if err := os.Lchown(r.TaskFile, user.UID, user.GID); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("run_as: %w", err)
		}
	}
	return nil
}

// reclaimRollout gives the rollout's directory back to bench's user once
// the agent's group is gone: what the harness does next (the capture, the
// copy of the output folder, --keep-workspaces) works on its own files as
// without run_as, and a process of the agent's that escaped the group can
// write nothing more there. Links are not followed (RestoreOwnership),
// and the kernel clears set-user-ID and set-group-ID bits on chown, also
// root's, so the agent cannot leave a program that would run as root.
func reclaimRollout(r *Rollout) error {
	root := filepath.Dir(r.Workspace)
	own, err := container.RestoreOwnership(os.Geteuid(), os.Getegid(), root)
	if err == nil && own.Foreign > 0 {
		err = fmt.Errorf("%d entries (such as %s) are still another user's", own.Foreign, own.Example)
	}
	return errors.Join(err, chmodDir(root, 0o700))
}

// chmodDir changes the mode of the directory dir itself, never of what a
// link in its place points to.
func chmodDir(dir string, mode os.FileMode) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer syscall.Close(fd)
	if err := syscall.Fchmod(fd, uint32(mode.Perm())); err != nil {
		return &fs.PathError{Op: "chmod", Path: dir, Err: err}
	}
	return nil
}

// Reachable tells whether user could read path: search every ancestor
// and read path itself, by the mode bits (ACLs aside).
func Reachable(user *config.RunAs, path string) bool {
	p := filepath.Clean(path)
	st, err := statOf(p)
	if err != nil || !permits(st, user, 0o4) {
		return false
	}
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		st, err := statOf(d)
		if err != nil || !permits(st, user, 0o1) {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// running counts this process's rollouts running as each run_as uid.
var running struct {
	sync.Mutex
	n map[int]int
}

// enterUser counts a rollout that runs as uid, first killing every
// process of uid when no other rollout runs as it; the func it returns
// ends it and, when it was the last one running as uid, kills every
// process of uid again: a process that left the agent's group (setsid, a daemon)
// escapes the group's sweep, and could write in the rollout while it is
// taken back and captured (from its working directory, through
// directories it made writable to all), or load the machine while the
// evaluation times. Rollouts running at once as the same user keep each
// other's processes alive until the last ends (the README's limit of
// --max-workers with run_as).
func enterUser(uid int) (leave func() error) {
	running.Lock()
	if running.n == nil {
		running.n = map[int]int{}
	}
	var before error
	if running.n[uid] == 0 {
		// What a bench killed mid-rollout left running would race this
		// give as it races a take-back.
		before = proc.KillUser(uid)
	}
	running.n[uid]++
	running.Unlock()
	return func() error {
		running.Lock()
		defer running.Unlock()
		if running.n[uid]--; running.n[uid] > 0 {
			return nil
		}
		delete(running.n, uid)
		return errors.Join(before, proc.KillUser(uid))
	}
}
