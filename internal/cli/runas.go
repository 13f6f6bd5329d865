package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
)

// isolateRunAs readies the harness's files for an agent that runs as
// another user (run_as, --run-as), before any run directory exists: bench
// must be root; state_root and work_root (the mirror, with the full
// history) become 0700 and the .env files 0600, bench's user's; a local
// repository the agent's user could read is refused, and so is a rollout
// root that user cannot reach.
func isolateRunAs(env *System, cfg *configs, task *config.Task, a *config.Agent, workers int) error {
	if err := agent.CheckRunAs(a); err != nil {
		return badinput.Wrap(err)
	}
	user := agent.RunsAs(a)
	if user == nil {
		return nil
	}
	b := cfg.bench
	roots := []string{b.Paths.StateRoot, b.Paths.WorkRoot}
	for _, d := range roots {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("run_as: %w", err)
		}
	}
	cwd, err := env.wd()
	if err != nil {
		return err
	}
	dots := []string{filepath.Join(cwd, ".env")}
	if b.Dir != "" {
		dots = append(dots, filepath.Join(b.Dir, ".env"))
	}
	if err := agent.Protect(user, append(roots, dots...)...); err != nil {
		return badinput.Wrap(err)
	}
	for i, field := range []string{"paths.state_root", "paths.work_root"} {
		if err := agent.CheckUnmovable(user, field+" "+roots[i], field, roots[i]); err != nil {
			return badinput.Wrap(err)
		}
	}
	if p, ok := localRepoPath(task.Repo.URL); ok && agent.Reachable(user, p) {
		return badinput.Errorf("%s: repo.url: run_as: uid %d can read the repository %s, history and human commits included: make it unreadable to that user (chmod 700 on it or a parent), or give a URL",
			task.Repo.URLPos, user.UID, task.Repo.URL)
	}
	if workers > 1 {
		fmt.Fprintf(env.Stderr, "warning: run_as with --max-workers %d: the rollouts running at once are all uid %d and could read each other's workspaces\n", workers, user.UID)
	}
	root, err := b.PrivateRoot()
	if err != nil {
		return err
	}
	if err := agent.CheckTraversable(user, root); err != nil {
		return badinput.Wrap(err)
	}
	return lockRunAsUser(user.UID)
}

// runAsLockDir holds a lock file per run_as uid, in a directory of
// root's only (never the temp dir, where the agents write).
var runAsLockDir = "/run/perfbench"

// runAsLocks are the locks this process holds, until it exits.
var runAsLocks = map[int]*fsx.Lock{}

// lockRunAsUser claims uid for this bench process until it exits: every
// process of a run_as uid is killed around its rollouts, so two bench
// processes sharing one (two shards on a node) would kill each other's
// agents, as well as read each other's workspaces.
func lockRunAsUser(uid int) error {
	if runAsLocks[uid] != nil {
		return nil
	}
	if err := os.MkdirAll(runAsLockDir, 0o700); err != nil {
		return fmt.Errorf("run_as: %w", err)
	}
	if fi, err := os.Lstat(runAsLockDir); err != nil {
		return fmt.Errorf("run_as: %w", err)
	} else if st, ok := fi.Sys().(*syscall.Stat_t); !ok || !fi.IsDir() || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("run_as: %s must be a directory of bench's user that no one else can write (it is %v)", runAsLockDir, fi.Mode())
	}
	l, err := fsx.TryLock(filepath.Join(runAsLockDir, fmt.Sprintf("run_as-%d.lock", uid)))
	if errors.Is(err, fsx.ErrLocked) {
		return badinput.Errorf("run_as: uid %d is in use by another bench process (its agents' processes are killed around each rollout): give each bench running at once a uid of its own", uid)
	}
	if err != nil {
		return fmt.Errorf("run_as: %w", err)
	}
	runAsLocks[uid] = l
	return nil
}

// localRepoPath is the local path git clones url from: a path by git's
// rule, or a file:// URL (a colon first, yet git reads the path all the
// same), made absolute so that every ancestor is checked.
func localRepoPath(url string) (string, bool) {
	p := url
	if !config.IsLocalRepo(url) {
		rest, ok := strings.CutPrefix(strings.ToLower(url), "file://")
		if !ok {
			return "", false
		}
		p = url[len(url)-len(rest):]
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p, true
	}
	return abs, true
}
