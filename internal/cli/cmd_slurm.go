package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/prepare"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/shard"
	"github.com/perfbench/perfbench/internal/slurm"
)

type slurmSubmitOptions struct {
	benchCfg   string
	fromPlan   string
	agent      string
	samples    int
	shards     int
	partition  string
	time       string
	sbatchArgs []string
	evaluate   bool
	dryRun     bool
	benchBin   string
	runID      string
}

func newSlurmCmd(env *System) *cobra.Command {
	c := &cobra.Command{
		Use:   "slurm",
		Short: "Run a benchmark's shards as Slurm jobs",
		Long: `Run one benchmark run as Slurm jobs: the same bench binary runs as the
tasks of a job array, and the run directory on shared storage is the only
coordination. See 'bench slurm submit --help'.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return badinput.Errorf("bench slurm: a subcommand is required (submit)")
		},
	}
	s := newSlurmSubmitCmd(env)
	s.Args = wrapArgs(s.Args)
	c.AddCommand(s)
	return c
}

func newSlurmSubmitCmd(env *System) *cobra.Command {
	o := &slurmSubmitOptions{}
	c := &cobra.Command{
		Use:   "submit TASK.yaml --from-plan P --shards N [--bench-cfg B] [--agent A] [--evaluate]",
		Short: "Create a run and submit its shards to Slurm",
		Long: `Create the run (as 'bench prepare --init-run' does, so that shards never
race to create it), write its job scripts into <run>/slurm/ and submit:

  1. a job array --array=0-(N-1) whose task I runs
     bench prepare TASK --run-id ID --shard I/N; --time is the agent's
     timeout × the most units (items × samples) of a shard, plus 10% and 10
     minutes (or --time); --cpus-per-task and --mem are container.cpus and
     container.memory when bench.yaml sets them;
  2. with --evaluate, an array after it (--dependency=afterany) whose task
     I runs bench evaluate RUN_DIR --shard I/N with --exclusive: a whole
     node per timing shard, so that nothing else runs beside timed rounds;
  3. a job after those running bench merge RUN_DIR and
     bench report RUN_DIR --format html --out RUN_DIR/report.html.

Jobs are submitted with --export=NONE plus the names of the non-secret
variables bench needs (PATH, HOME, BENCH_*, those the configuration
refers to): no secret's value is in a script or in Slurm's saved job
environment. Secrets come from .env, which bench reads on the node (next
to bench.yaml and in the submit directory, the jobs' working directory).

An agent that runs neither in a container (runtime: container) nor as
another user (run_as:) could read the shared state root and the mirror on
a cluster node: submit refuses unless bench.yaml says allow_unisolated:
true, which the run records and every report shows.

Submitting again with --run-id of the run resubmits its shards: finished
items are skipped. --dry-run prints the scripts and creates nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runSlurmSubmit(c.Context(), env, o, args[0])
		},
	}
	f := c.Flags()
	f.StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	f.StringVar(&o.fromPlan, "from-plan", "", "plan.json written by 'bench plan' (required)")
	f.StringVar(&o.agent, "agent", "", "agent entry or type (default agents.default)")
	f.IntVar(&o.samples, "samples", 1, "independent rollouts per item")
	f.IntVar(&o.shards, "shards", 0, "number of shards: array tasks of each stage (required)")
	f.StringVar(&o.partition, "partition", "", "Slurm partition of every job")
	f.StringVar(&o.time, "time", "", "--time of each rollout shard, HH:MM:SS or D-HH:MM:SS (default from the agent's timeout)")
	f.StringArrayVar(&o.sbatchArgs, "sbatch-arg", nil, "an sbatch option for every job, e.g. --sbatch-arg=--account=lab (repeatable)")
	f.BoolVar(&o.evaluate, "evaluate", false, "also submit the evaluation of each shard, on whole nodes")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the job scripts; create and submit nothing")
	f.StringVar(&o.benchBin, "bench-bin", "", "the bench binary the jobs run, as every node sees it (default this one)")
	f.StringVar(&o.runID, "run-id", "", "the run's id (default a new one; an existing run's resubmits its shards)")
	return c
}

// sbatch options bench sets itself; --sbatch-arg may not override them.
var ownSbatchOptions = []string{"--array", "-a", "--dependency", "-d", "--export", "--parsable", "--output", "-o", "--chdir", "-D", "--wrap"}

// prepareMargin is added to the rollouts' time: setup, capture, retries.
func prepareMargin(d time.Duration) time.Duration { return d/10 + 10*time.Minute }

func runSlurmSubmit(ctx context.Context, env *System, o *slurmSubmitOptions, taskPath string) error {
	if o.shards < 1 {
		return badinput.Errorf("--shards: expected a number of shards of at least 1")
	}
	if o.samples < 1 {
		return badinput.Errorf("--samples must be at least 1")
	}
	if o.fromPlan == "" {
		return badinput.Errorf("--from-plan is required: the shards of a run prepare the one plan")
	}
	if o.time != "" {
		if _, err := slurm.ParseTime(o.time); err != nil {
			return badinput.Errorf("--time: %v", err)
		}
	}
	for _, a := range o.sbatchArgs {
		if !strings.HasPrefix(a, "-") {
			return badinput.Errorf("--sbatch-arg %q: expected an sbatch option (starting with -)", a)
		}
		name, _, _ := strings.Cut(a, "=")
		for _, own := range ownSbatchOptions {
			if name == own || len(own) == 2 && strings.HasPrefix(a, own) && !strings.HasPrefix(a, "--") {
				return badinput.Errorf("--sbatch-arg %q: bench sets %s itself", a, own)
			}
		}
	}
	if o.runID != "" && !journal.ValidRunID(o.runID) {
		return badinput.Errorf("--run-id %q: expected one path component of [A-Za-z0-9._-]", o.runID)
	}
	cwd, err := env.wd()
	if err != nil {
		return err
	}
	// The names the configuration looks up in the process environment
	// are those the jobs need (the non-secret ones are exported).
	var looked []string
	rec := *env
	rec.LookupEnv = func(n string) (string, bool) {
		looked = append(looked, n)
		return env.LookupEnv(n)
	}
	cfg, err := rec.loadBench(o.benchCfg)
	if err != nil {
		return err
	}
	task, err := rec.loadTask(cfg, taskPath)
	if err != nil {
		return err
	}
	a, err := cfg.bench.Agent(o.agent)
	if err != nil {
		return err
	}
	// A task that builds its environment image: a container entry
	// without image: runs in the image the run pins (prepare --init-run).
	envBuild, err := hasEnvBuild(task)
	if err != nil {
		return err
	}
	if a, err = prepare.ResolveAgentEnv(env.kinds(), task, a, agent.Host{Env: env.Environ()}, envBuild); err != nil {
		return err
	}
	adapter, err := agent.NewOn(env.kinds(), a, agent.Host{Env: env.Environ()})
	if err != nil {
		return err
	}
	if err := checkIsolated(cfg.bench, a, agent.RolloutRuntime(a, adapter)); err != nil {
		return err
	}
	planPath := absIn(cwd, o.fromPlan)
	p, err := plan.ReadResolved(planPath)
	if err != nil {
		return err
	}
	units := shard.Largest(p.ItemIDs(), o.shards) * o.samples
	r := &slurm.Run{
		Task: absIn(cwd, taskPath), Plan: planPath, Agent: o.agent, Samples: o.samples,
		Shards: o.shards, Evaluate: o.evaluate, Partition: o.partition, Extra: o.sbatchArgs,
		Chdir:  cwd,
		Export: slurm.ExportNames(env.Environ(), looked, cfg.bench.Secrets),
	}
	if cfg.bench.Path != "" {
		r.BenchCfg = absIn(cwd, cfg.bench.Path)
	}
	switch {
	case o.time != "":
		r.PrepareTime = o.time
	case a.Limits.Timeout > 0:
		d := time.Duration(a.Limits.Timeout) * time.Duration(units)
		r.PrepareTime = slurm.FormatTime(d + prepareMargin(d))
	}
	if c := cfg.bench.Container.CPUs; c > 0 {
		r.CPUs = int(math.Ceil(c))
	}
	if m := cfg.bench.Container.Memory; m != "" {
		if r.Mem, err = slurmMem(m); err != nil {
			return badinput.Errorf("%s: container.memory: %v", cfg.bench.Path, err)
		}
	}
	if r.Bench = o.benchBin; r.Bench == "" {
		if env.Executable == nil {
			return errors.New("bench slurm submit: this binary's path is unknown: pass --bench-bin")
		}
		if r.Bench, err = env.Executable(); err != nil {
			return fmt.Errorf("this binary's path: %w (pass --bench-bin)", err)
		}
	} else {
		r.Bench = absIn(cwd, r.Bench)
	}
	root := cfg.bench.Paths.StateRoot
	r.RunID = o.runID
	if r.RunID == "" {
		r.RunID = journal.FreeRunID(root, journal.NewRunID(task.ID, a.Name, a.Model, env.Now()))
	}
	r.RunDir = absIn(cwd, filepath.Join(journal.RunsDir(root), r.RunID))
	jobs := r.Jobs()
	texts := make([][]byte, len(jobs))
	for i, j := range jobs {
		if texts[i], err = j.Script.Render(); err != nil {
			return badinput.Errorf("%s script: %v", j.Role, err)
		}
	}
	sub := &slurm.Submitter{Sbatch: "sbatch", Run: slurm.ExecRunner(env.Environ())}
	if o.dryRun {
		fmt.Fprintf(env.Stdout, "dry run: run %s, %d item(s) in %d shard(s), at most %d unit(s) a shard; nothing created or submitted\n", r.RunID, len(p.Items), o.shards, units)
		for i, j := range jobs {
			fmt.Fprintf(env.Stdout, "\n# %s\n%s", j.Path, texts[i])
			fmt.Fprintf(env.Stdout, "# submitted with: %s\n", secrets.ShellQuote(sub.Argv(slurm.Submission{Path: j.Path, Export: j.Script.Export, AfterAny: dryDeps(jobs, i)})))
		}
		return nil
	}
	// Before the run exists: without sbatch nothing is left behind.
	if sub.Sbatch, err = proc.LookPath("sbatch", env.Environ()); err != nil {
		return &exitError{code: ExitFailure, err: errors.New("sbatch not found in PATH: submit from a node with Slurm's client commands (Debian: slurm-client)")}
	}
	runDir, err := initRun(ctx, env, o, taskPath, r.RunID)
	if err != nil {
		return err
	}
	if runDir != r.RunDir {
		return fmt.Errorf("the run was created in %s, the scripts name %s", runDir, r.RunDir)
	}
	if err := os.MkdirAll(filepath.Join(r.RunDir, slurm.Dir), 0o755); err != nil {
		return fmt.Errorf("job scripts: %w", err)
	}
	for i, j := range jobs {
		if err := fsx.WriteFile(j.Path, texts[i], 0o755); err != nil {
			return fmt.Errorf("job script: %w", err)
		}
	}
	ids := map[string]string{}
	var order []string
	for i, j := range jobs {
		var after []string
		for _, d := range deps(jobs, i) {
			after = append(after, ids[d])
		}
		id, err := sub.Submit(ctx, slurm.Submission{Path: j.Path, Export: j.Script.Export, AfterAny: after})
		if err != nil {
			msg := err.Error()
			if len(order) > 0 {
				msg += fmt.Sprintf(" (already submitted: job %s; scancel %s withdraws it)", strings.Join(order, ", "), strings.Join(order, " "))
			}
			return &exitError{code: ExitFailure, err: errors.New(msg)}
		}
		ids[j.Role] = id
		order = append(order, id)
	}
	fmt.Fprintf(env.Stdout, "run %s: %d item(s) in %d shard(s), at most %d unit(s) a shard\n", r.RunID, len(p.Items), o.shards, units)
	fmt.Fprintf(env.Stdout, "scripts and job logs: %s\n", filepath.Join(r.RunDir, slurm.Dir))
	for i, j := range jobs {
		var what []string
		if j.Script.Array > 0 {
			what = append(what, fmt.Sprintf("array 0-%d", j.Script.Array-1))
		}
		if j.Script.Time != "" {
			what = append(what, "time "+j.Script.Time)
		}
		if j.Script.Exclusive {
			what = append(what, "exclusive nodes")
		}
		for _, d := range deps(jobs, i) {
			what = append(what, "after "+ids[d])
		}
		fmt.Fprintf(env.Stdout, "%-9s job %s (%s)\n", j.Role+":", ids[j.Role], strings.Join(what, ", "))
	}
	all := strings.Join(order, ",")
	fmt.Fprintf(env.Stdout, "follow:\n  squeue -j %s\n  sacct -j %s\n  bench report %s\n", all, all, r.RunDir)
	return nil
}

// deps are the roles job i waits for: evaluate after prepare, merge after
// the stage before it.
func deps(jobs []slurm.Job, i int) []string {
	if i == 0 {
		return nil
	}
	return []string{jobs[i-1].Role}
}

// dryDeps are deps as placeholders for the ids sbatch would print.
func dryDeps(jobs []slurm.Job, i int) []string {
	var out []string
	for _, d := range deps(jobs, i) {
		out = append(out, "<"+d+" job id>")
	}
	return out
}

// checkIsolated refuses an agent that a cluster node would run with the
// harness's own rights: neither in a container (runtime, as run.json
// records it: runtime: container, or an adapter sandboxing itself) nor as
// another user (run_as).
func checkIsolated(b *config.Bench, a *config.Agent, runtime string) error {
	if runtime == agent.RuntimeContainer || a.RunAs != nil || b.AllowUnisolated {
		return nil
	}
	where := "bench.yaml"
	if b.Path != "" {
		where = b.Path
	}
	return badinput.Errorf("%s: agent %s runs on the host as bench's user (no runtime: container, no run_as): on a cluster node it could read the shared state root and the repository mirror, so the run would not be leak-proof; set runtime: container or run_as: UID[:GID], or allow_unisolated: true to run it anyway", where, a.Name)
}

// initRun creates the run as `bench prepare --init-run` does, in this
// process, and returns its directory (the last line it prints).
func initRun(ctx context.Context, env *System, o *slurmSubmitOptions, taskPath, runID string) (string, error) {
	var out bytes.Buffer
	sub := *env
	sub.Stdout = &out
	po := &prepareOptions{benchCfg: o.benchCfg, fromPlan: o.fromPlan, agent: o.agent, maxWorkers: 1, resume: true,
		runID: runID, samples: o.samples, initRun: true}
	if err := runPrepare(ctx, &sub, po, taskPath); err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	cwd, err := env.wd()
	if err != nil {
		return "", err
	}
	return absIn(cwd, lines[len(lines)-1]), nil
}

// slurmMem is container.memory (docker's: a number of bytes with an
// optional b, k, m or g) as sbatch's --mem, in whole megabytes.
func slurmMem(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'b':
			t = t[:n-1]
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		case 't':
			mult, t = 1<<40, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) {
		return "", fmt.Errorf("%q: expected a size such as 512m or 4g", s)
	}
	return strconv.FormatInt(int64(math.Ceil(v*mult/(1<<20))), 10) + "M", nil
}
