package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
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
	if config.IsLocalRepo(task.Repo.URL) && agent.Reachable(user, task.Repo.URL) {
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
	return badinput.Wrap(agent.CheckTraversable(user, root))
}
