package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/doctor"
	"github.com/perfbench/perfbench/internal/prepare"
	"github.com/perfbench/perfbench/internal/progress"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/shard"
	"github.com/perfbench/perfbench/internal/textx"
)

type prepareOptions struct {
	benchCfg       string
	fromPlan       string
	commits        string
	agent          string
	maxWorkers     int
	resume         bool
	newRun         bool
	runID          string
	samples        int
	dryRun         bool
	skipPreflight  bool
	keepWorkspaces bool
	runAs          string
	initRun        bool
	shard          string
}

func newPrepareCmd(env *System) *cobra.Command {
	o := &prepareOptions{}
	c := &cobra.Command{
		Use:   "prepare TASK.yaml [--from-plan state/plan.json] [--bench-cfg bench.yaml] [--agent NAME]",
		Short: "Run an agent on every plan item (resumable)",
		Long: `Run an agent on every item of a plan. Each item gets a fresh one-commit
repository holding the "pre" tree (no history, no trace of the human commit),
a task file, a private output folder and a fresh HOME; the agent runs in its
own process group under the wall-clock limit. The patch is captured against
the workspace's commit, and the item ends with exactly one status:
` + rolloutStatusList() + `

Results go to <state_root>/runs/<task>__<agent>__<model>__<UTC timestamp>/.
By default prepare resumes the newest run with the same task, agent, model,
plan and agent configuration: finished items are skipped, infra_error and
interrupted ones are redone. --new starts a fresh run; --run-id picks one.

Shards of one run (on many machines sharing the state root): first
--run-id ID --init-run creates the run (run.json, its plan) once, runs no
rollout and prints the run directory; then each of N processes runs
--run-id ID --shard I/N (0 <= I < N, as $SLURM_ARRAY_TASK_ID and
$(JOB_COMPLETION_INDEX) count) and prepares the items whose id hashes to
shard I (every sample of an item with the item), resuming like any
prepare. Shards never write run.json or predictions*.jsonl: 'bench merge
RUN_DIR' rebuilds them once the shards are done. A shard's spend cap is
bench.yaml's shard_budget_usd, else max_total_budget_usd / N.

Without --from-plan the plan is built from --commits or the task's own
commits. Preflight checks (as in 'bench doctor') run first unless
--dry-run or --skip-preflight (or experiment.preflight_enabled: false).
--dry-run prints what would run for each item and starts nothing.

With an env_build that names a file, the run's first prepare pins the
environment image of its current hash in run.json (id, tag, hash); a
runtime: container entry without image: runs in it, by id, with the
task's workspace_setup run in its container first. A resume whose hash
changed is exit status 2 (start a fresh run with --new), and so is an
image not built yet (run 'bench build TASK.yaml').`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runPrepare(c.Context(), env, o, args[0]) },
	}
	f := c.Flags()
	f.StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	f.StringVar(&o.fromPlan, "from-plan", "", "plan.json written by 'bench plan'")
	f.StringVar(&o.commits, "commits", "", "commits file (when no --from-plan)")
	f.StringVar(&o.agent, "agent", "", "agent entry or type (default agents.default)")
	f.IntVar(&o.maxWorkers, "max-workers", 1, "rollouts run at once")
	f.BoolVar(&o.resume, "resume", true, "resume the newest matching run (--resume=false or --new: a fresh run)")
	f.BoolVar(&o.newRun, "new", false, "start a fresh run")
	f.StringVar(&o.runID, "run-id", "", "use (or create) this run id")
	f.IntVar(&o.samples, "samples", 1, "independent rollouts per item")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would run; start nothing")
	f.BoolVar(&o.skipPreflight, "skip-preflight", false, "do not run the preflight checks")
	f.BoolVar(&o.keepWorkspaces, "keep-workspaces", false, "keep each workspace after its patch is captured")
	f.StringVar(&o.runAs, "run-as", "", "UID[:GID] a host-runtime agent runs as (bench as root; overrides run_as:, ignored for runtime: container)")
	f.BoolVar(&o.initRun, "init-run", false, "create the run --run-id (before its shards start), run no rollout, print its directory")
	f.StringVar(&o.shard, "shard", "", "prepare part I of N of the existing run --run-id (0 <= I < N)")
	return c
}

func runPrepare(ctx context.Context, env *System, o *prepareOptions, taskPath string) error {
	if o.maxWorkers < 1 {
		return badinput.Errorf("--max-workers must be at least 1")
	}
	if o.samples < 1 {
		return badinput.Errorf("--samples must be at least 1")
	}
	if o.newRun && o.runID != "" {
		return badinput.Errorf("--new and --run-id exclude each other")
	}
	var sh shard.Spec
	if c := o.shard; c != "" || o.initRun {
		switch {
		case o.runID == "" && o.initRun:
			return badinput.Errorf("--init-run needs --run-id (the id its shards will name)")
		case o.runID == "":
			return badinput.Errorf("--shard needs --run-id of a run created with --init-run")
		case o.initRun && c != "":
			return badinput.Errorf("--init-run and --shard exclude each other (create the run once, then start its shards)")
		case o.dryRun:
			return badinput.Errorf("--dry-run goes with neither --init-run nor --shard")
		}
		if c != "" {
			var err error
			if sh, err = shard.Parse(c); err != nil {
				return err
			}
		}
	}
	o.fromPlan, o.commits = env.path(o.fromPlan), env.path(o.commits)
	cfg, err := env.loadBench(o.benchCfg)
	if err != nil {
		return err
	}
	task, err := env.loadTask(cfg, taskPath)
	if err != nil {
		return err
	}
	warnSetup(env, task)
	a, err := cfg.bench.Agent(o.agent)
	if err != nil {
		return err
	}
	if a, err = withRunAs(a, o.runAs); err != nil {
		return err
	}
	envBuild, err := hasEnvBuild(task)
	if err != nil {
		return err
	}
	if a, err = prepare.ResolveAgentEnv(env.kinds(), task, a, agent.Host{Env: env.Environ()}, envBuild); err != nil {
		return err
	}
	if !o.dryRun {
		// Before any run directory: a run_as that cannot be honoured is
		// the user's error, not an item's infra_error.
		if err := isolateRunAs(env, cfg, task, a, o.maxWorkers); err != nil {
			return err
		}
	}
	opts := prepare.Options{
		Task: task, Bench: cfg.bench, Agent: a, Kinds: env.kinds(), PlanPath: o.fromPlan, Commits: o.commits,
		MaxWorkers: o.maxWorkers, Samples: o.samples, New: o.newRun, RunID: o.runID,
		KeepWorkspaces: o.keepWorkspaces, InitRun: o.initRun, Shard: sh,
		ProcessEnv: env.Environ(), BenchVersion: Version(), Now: env.Now,
		Log: env.Stderr,
	}
	if envBuild {
		opts.EnvImages = env.envImagesOf(cfg.bench)
	}
	if o.dryRun {
		return dryRun(ctx, env, opts)
	}
	if o.initRun {
		// No rollout runs here (often a login node without the agent):
		// no preflight. The last line is the run directory, for scripts.
		sum, err := prepare.Run(ctx, opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "run %s: %d item(s) × %d sample(s); start its shards with --run-id %s --shard I/N\n", sum.RunID, sum.Total/o.samples, o.samples, sum.RunID)
		fmt.Fprintln(env.Stdout, sum.RunDir)
		return nil
	}
	if !o.skipPreflight && cfg.bench.PreflightEnabled() {
		if err := doctor.Preflight(ctx, doctor.Checks(env.doctorInput(cfg.bench, a))); err != nil {
			return &exitError{code: ExitFailure, err: err}
		}
	}
	opts.Progress = progress.New(env.Stderr, env.StderrTTY, env.Now)
	sum, err := prepare.Run(ctx, opts)
	if sum != nil {
		printSummary(env, sum)
	}
	if err != nil {
		return err
	}
	if sum.Interrupted || ctx.Err() != nil {
		return context.Canceled
	}
	if sum.Stopped != "" && !sum.Failed() {
		return &exitError{code: ExitFailure, err: errors.New(sum.Stopped)}
	}
	if sum.Failed() {
		if sum.Stopped != "" {
			return &exitError{code: ExitFailure, err: errors.New(sum.Stopped)}
		}
		return &exitError{code: ExitFailure, err: fmt.Errorf("%d item(s) ended in infra_error; run prepare again to retry them", sum.Counts[records.RolloutInfraError])}
	}
	return nil
}

// withRunAs applies --run-as to a host-runtime entry (a container runs
// as the invoking user already); the entry itself is left as loaded.
func withRunAs(a *config.Agent, flag string) (*config.Agent, error) {
	if flag == "" || a.Runtime != agent.RuntimeHost {
		return a, nil
	}
	r, err := config.ParseRunAs(flag)
	if err != nil {
		return nil, badinput.Errorf("--run-as: %v", err)
	}
	c := *a
	c.RunAs = r
	return &c, nil
}

func printSummary(env *System, s *prepare.Summary) {
	var parts []string
	for _, st := range records.RolloutStatuses {
		if n := s.Counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	if len(parts) == 0 {
		parts = []string{"nothing recorded"}
	}
	fmt.Fprintf(env.Stdout, "run %s: %d item(s): %s\n", s.RunID, s.Total, strings.Join(parts, ", "))
	if s.SpentUSD > 0 {
		line := "spent " + textx.USD(s.SpentUSD)
		if s.Shard != "" {
			line = "shard " + s.Shard + " spent " + textx.USD(s.SpentUSD)
		}
		if d := s.SpentUSD - s.SessionUSD; d > 1e-9 && s.SessionUSD > 0 {
			line += " (" + textx.USD(s.SessionUSD) + " by this process)"
		}
		fmt.Fprintln(env.Stdout, line)
	}
	if len(s.Missing) > 0 {
		fmt.Fprintf(env.Stdout, "still to do (%d): %s\n", len(s.Missing), strings.Join(s.Missing, ", "))
	}
	// Grouped by holder: "skipped, held by pid 12@host (prepare) (2): a, b".
	var holders []string
	byHolder := map[string][]string{}
	for _, h := range s.Held {
		if _, ok := byHolder[h.Holder]; !ok {
			holders = append(holders, h.Holder)
		}
		byHolder[h.Holder] = append(byHolder[h.Holder], h.Name)
	}
	for _, h := range holders {
		fmt.Fprintf(env.Stdout, "skipped, held by %s (%d): %s\n", h, len(byHolder[h]), strings.Join(byHolder[h], ", "))
	}
	fmt.Fprintf(env.Stdout, "results: %s\n", s.RunDir)
}

// dryRun prints, for every item, what would run; it starts nothing and
// looks nothing up in the repository.
func dryRun(ctx context.Context, env *System, o prepare.Options) error {
	dr, err := prepare.DryRun(ctx, o)
	if dr == nil {
		return err
	}
	a := o.Agent
	fmt.Fprintf(env.Stdout, "dry run: task %s, agent %s (type %s, model %s), %d item(s) × %d sample(s)\n",
		o.Task.ID, a.Name, a.Type, orNone(a.Model), dr.Items, o.Samples)
	fmt.Fprintf(env.Stdout, "limits: %s %s, %s %d, %s %g, %s %s\n",
		records.LimitTimeout, dr.Limits.Timeout, records.LimitMaxIterations, dr.Limits.MaxIterations,
		records.LimitMaxBudgetUSD, dr.Limits.MaxBudgetUSD, records.LimitKillGrace, dr.Limits.KillGrace)
	if r := agent.RunsAs(a); r != nil {
		fmt.Fprintf(env.Stdout, "run as: %s (the agent's user; bench must be root)\n", r)
	}
	if img := dr.EnvImage; img != nil {
		id := img.ID
		if id == "" {
			id = "not built: run `bench build " + o.Task.Path + "`"
		}
		fmt.Fprintf(env.Stdout, "environment image: %s (%s)\n", img.Tag, id)
	}
	for _, c := range dr.WorkspaceSetup {
		fmt.Fprintf(env.Stdout, "workspace_setup: %s\n", c)
	}
	fmt.Fprintf(env.Stdout, "state: %s\n", o.Bench.Paths.StateRoot)
	fmt.Fprintf(env.Stdout, "run id: %s (a new run; a resumed run keeps its own)\n", dr.RunID)
	for _, c := range dr.Commands {
		cmd := "(in-process: " + a.Type + ")"
		if c.Argv != nil {
			cmd = secrets.ShellQuote(c.Argv)
		}
		fmt.Fprintf(env.Stdout, "%s: %s\n", c.ItemID, cmd)
	}
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// rolloutStatusList is the final rollout statuses in prose, from the
// records package so that help never omits one.
func rolloutStatusList() string {
	names := make([]string, len(records.RolloutStatuses))
	for i, s := range records.RolloutStatuses {
		names[i] = string(s)
	}
	words := strings.Fields(strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1] + ".")
	var b strings.Builder
	n := 0
	for _, w := range words {
		if n > 0 && n+1+len(w) > 76 {
			b.WriteString("\n")
			n = 0
		} else if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
