package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
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
// reach its workspace.
func CheckTraversable(user *config.RunAs, dir string) error {
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		st, err := statOf(p)
		if err != nil {
			return fmt.Errorf("run_as: %w", err)
		}
		if !permits(st, user, 0o1) {
			return fmt.Errorf("run_as: uid %d cannot reach the rollouts under %s: %s is mode %#o (owner uid %d): choose a paths.rollout_root every user can traverse",
				user.UID, dir, p, fs.FileMode(st.Mode)&fs.ModePerm, st.Uid)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
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
	if err := os.Chmod(root, 0o711); err != nil {
		return fmt.Errorf("run_as: %w", err)
	}
	if _, err := container.RestoreOwnership(user.UID, user.GID, r.Workspace, r.OutDir, r.Home, rolloutTmp(r)); err != nil {
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
	return errors.Join(err, os.Chmod(root, 0o700))
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
