package prepare

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/workspace"
)

// findPlan is the plan a run prepares when none is given: PlanPath's
// (--from-plan), which must be the task's, else the one built from the
// commits.
func findPlan(ctx context.Context, o *Options) (*plan.Plan, error) {
	if o.PlanPath == "" {
		return BuildPlan(ctx, o.Bench, o.Task, o.Commits, o.Now(), o.Log)
	}
	p, err := plan.ReadResolved(o.PlanPath)
	if err != nil {
		return nil, err
	}
	if p.TaskID != o.Task.ID {
		return nil, badinput.Errorf("--from-plan %s is for task %s, not %s", o.PlanPath, p.TaskID, o.Task.ID)
	}
	return p, nil
}

// BuildPlan resolves a task's commits (the commits file's when commits is
// given, else the task's own) against its repository mirror, saying so
// on log.
func BuildPlan(ctx context.Context, b *config.Bench, task *config.Task, commits string, now time.Time, log io.Writer) (*plan.Plan, error) {
	entries, source, err := plan.EntriesFrom(task, commits)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "resolving %d commit pair(s) in %s\n", len(entries), task.Repo.URL)
	m, err := workspace.OpenMirror(ctx, b.Paths.WorkRoot, task.Repo.URL)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", task.Repo.URL, err)
	}
	return plan.Build(ctx, task, source, entries, m, now)
}

// ResolveAgent is the entry a prepare of the task runs: a container
// entry without image: runs in the task's evaluation image (so the agent
// can build and run the workload where it will be timed). It fails, as
// bad input, when there is no image, and when the entry's adapter cannot
// be made.
func ResolveAgent(kinds []agent.Kind, task *config.Task, a *config.Agent, host agent.Host) (*config.Agent, error) {
	return ResolveAgentEnv(kinds, task, a, host, false)
}

// ResolveAgentEnv is ResolveAgent for a task that may build its
// environment image: with envImage (its env_build names a file) a
// container entry without image: is left without one, and its rollouts
// run in the image the run pins (DefaultImage), by id; the entry as
// configured, and so the run's agent configuration hash, does not name
// it, so a changed image is found as the same run and refused (--new).
func ResolveAgentEnv(kinds []agent.Kind, task *config.Task, a *config.Agent, host agent.Host, envImage bool) (*config.Agent, error) {
	if kinds == nil {
		kinds = agent.Builtins()
	}
	kind, _ := agent.Find(kinds, a.Type)
	if a.Runtime == agent.RuntimeContainer && a.Image == "" && !kind.ChoosesRuntime && !envImage {
		if task.Environment.Image == "" {
			return nil, badinput.Errorf("agents.%s: runtime: container needs image: (an image with the agent installed), or the task's environment.image", a.Name)
		}
		c := *a
		c.Image = task.Environment.Image
		a = &c
	}
	if _, err := agent.NewOn(kinds, a, host); err != nil {
		return nil, err
	}
	return a, nil
}
