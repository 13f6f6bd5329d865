package prepare

import (
	"context"
	"path/filepath"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

// rolloutPaths are where a rollout's files are: an attempt's private
// directories, or a dry run's placeholders.
type rolloutPaths struct {
	workspace, taskFile, outDir, home, harness string
}

// privatePaths are the paths of an attempt's private directory (and the
// harness's own).
func privatePaths(private, harness string) rolloutPaths {
	return rolloutPaths{
		workspace: filepath.Join(private, "workspace"),
		taskFile:  filepath.Join(private, journal.TaskFile),
		outDir:    filepath.Join(private, journal.OutDirName),
		home:      filepath.Join(private, "home"),
		harness:   harness,
	}
}

// newRollout is the rollout handed to the adapter, before the attempt
// adds its prompt, logs and callbacks: a dry run asks the adapter for the
// command of the same rollout.
func (r *runner) newRollout(runID string, u unit, p rolloutPaths) *agent.Rollout {
	o := r.opts
	ro := &agent.Rollout{
		RunID: runID, ItemID: u.item.ID, Sample: u.sample,
		Agent: o.Agent, Bench: o.Bench, Limits: r.limits,
		Workspace: p.workspace, TaskFile: p.taskFile, OutDir: p.outDir, Home: p.home, HarnessDir: p.harness,
		Secrets: r.secrets, Host: agent.Host{Env: o.ProcessEnv},
	}
	ro.Env = agent.BaseEnv(agent.EnvInput{
		Process: o.ProcessEnv, Dot: o.Bench.Env, Extra: o.Agent.Env,
		Workspace: p.workspace, TaskFile: p.taskFile, OutDir: p.outDir, Home: p.home,
	})
	return ro
}

// secretSet is the run's secrets: the process environment, .env, and the
// entry's env: (a key written there is a secret like any other).
func secretSet(o *Options) *secrets.Set {
	return secrets.FromEnv(append(mergedEnv(o.ProcessEnv, o.Bench.Env), EnvList(o.Agent.Env)...), o.Bench.Secrets)
}

// Planned is what a prepare would run, as --dry-run shows it.
type Planned struct {
	// RunID is the id a new run would get (a resumed run keeps its own);
	// it names the containers.
	RunID  string
	Limits records.Limits
	// Items is the number of plan items.
	Items    int
	Commands []PlannedCommand
	// EnvImage is the task's environment image (env_build) of its
	// current hash, nil when it builds none; its ID is "" when it is not
	// built. WorkspaceSetup are the task's workspace_setup commands
	// (run whether or not an image is built).
	EnvImage       *records.EnvImage
	WorkspaceSetup []string
}

// PlannedCommand is the command of one item's rollout.
type PlannedCommand struct {
	ItemID string
	// Argv is the command line, secrets redacted; nil when the agent
	// runs in-process.
	Argv []string
}

// DryRun builds every item's rollout as prepare would, with placeholders
// for the private paths, and asks the adapter for its command line. It
// starts nothing and looks nothing up in the repository: the plan is
// opts.Plan, else opts.PlanPath's as written, else the task's commits
// unresolved. On an adapter's error it returns the commands so far.
func DryRun(ctx context.Context, opts Options) (*Planned, error) {
	if opts.Kinds == nil {
		opts.Kinds = agent.Builtins()
	}
	p := opts.Plan
	if p == nil {
		var err error
		if p, err = unresolvedPlan(&opts); err != nil {
			return nil, err
		}
	}
	adapter, err := agent.NewOn(opts.Kinds, opts.Agent, agent.Host{Env: opts.ProcessEnv})
	if err != nil {
		return nil, err
	}
	env, err := resolveEnv(ctx, &opts, true)
	if err != nil {
		return nil, err
	}
	r := &runner{opts: opts, limits: EffectiveLimits(opts.Agent.Limits), secrets: secretSet(&opts), env: env}
	out := &Planned{RunID: opts.RunID, Limits: r.limits, Items: len(p.Items), WorkspaceSetup: opts.Task.EnvBuild.WorkspaceSetup}
	if env != nil {
		img := env.current
		out.EnvImage = &img
		kind, _ := agent.Find(opts.Kinds, opts.Agent.Type)
		if a := opts.Agent; a.Runtime == agent.RuntimeContainer && a.Image == "" && !kind.ChoosesRuntime {
			// What a new run would pin: the id, or the tag until built.
			c := *a
			c.Image = img.ID
			if c.Image == "" {
				c.Image = img.Tag
			}
			r.opts.Agent = &c
		}
	}
	if out.RunID == "" {
		out.RunID = journal.NewRunID(opts.Task.ID, opts.Agent.Name, opts.Agent.Model, opts.now().UTC())
	}
	// Variables reach the agent by name; the paths are placeholders for
	// the private rollout directories.
	paths := rolloutPaths{workspace: "<workspace>", taskFile: "<task_file>", outDir: "<out_dir>", home: "<home>"}
	if opts.Agent.Runtime == agent.RuntimeContainer {
		// The container mounts the private rollout directory that holds
		// them all, at the same path.
		paths = rolloutPaths{workspace: "<rollout>/workspace", taskFile: "<rollout>/task.txt", outDir: "<rollout>/out", home: "<rollout>/home"}
	}
	for _, it := range p.Items {
		ro := r.newRollout(out.RunID, unit{item: it}, paths)
		argv, err := adapter.Command(ro)
		if err != nil {
			return out, err
		}
		if argv != nil && opts.Agent.Runtime == agent.RuntimeContainer {
			sr, ok := adapter.(agent.StdinReader)
			spec, err := agent.ContainerSpec(ro, argv, ok && sr.ReadsStdin())
			if err != nil {
				return out, err
			}
			// The agent waits at the gate while workspace_setup runs.
			spec.Gated = len(out.WorkspaceSetup) > 0
			argv = spec.RunArgv()
		}
		if argv != nil {
			argv = r.secrets.RedactArgv(argv)
		}
		out.Commands = append(out.Commands, PlannedCommand{ItemID: it.ID, Argv: argv})
	}
	return out, nil
}

// unresolvedPlan is a dry run's plan: PlanPath's as written, else the
// commits file's or the task's own, unresolved.
func unresolvedPlan(o *Options) (*plan.Plan, error) {
	if o.PlanPath != "" {
		return plan.Read(o.PlanPath)
	}
	entries, source, err := plan.EntriesFrom(o.Task, o.Commits)
	if err != nil {
		return nil, err
	}
	return plan.Unresolved(o.Task, source, entries, o.now()), nil
}

func (o *Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}
