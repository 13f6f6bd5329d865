package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/gitx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/report"
	"github.com/perfbench/perfbench/internal/workspace"
)

type evaluateOptions struct {
	benchCfg         string
	task             string
	planPath         string
	commits          string
	predictions      string
	out              string
	regrade          bool
	maxParallelSetup int
	timingSlots      int
	lockDir          string
	quiet            bool
}

// predictionsAgent names the agent of a run made from a predictions file.
const predictionsAgent = "predictions"

func newEvaluateCmd(env *Env) *cobra.Command {
	o := &evaluateOptions{}
	c := &cobra.Command{
		Use:   "evaluate RUN_DIR | --predictions FILE.jsonl --plan PLAN.json",
		Short: "Time baseline, human and agent side by side, behind a correctness gate",
		Long: `Evaluate the items of a run: for each, three leak-proof workspaces — the
baseline (pre tree), the human commit and the agent's candidate (pre plus
model_patch.diff, applied with git apply, then --3way) — run the task's
evaluation.setup and evaluation.correctness commands (sh -c, in the
workspace, {workspace} replaced), then time evaluation.workload in warm-up
rounds and interleaved rounds with a rotating order (B H A, H A B, A B H),
each run a fresh process pinned to one CPU. The result, with every raw
sample and the statistics (medians with 95% CIs, speedups with bootstrap
CIs and Mann–Whitney p-values, the verdict of agent vs human, opt_base,
opt_commit), goes to <item>/eval.json, and the run's report is printed.

Statuses: success, base_failed, human_failed, patch_failed,
correctness_failed, equivalence_failed, timeout. An empty patch is timed as
the baseline and flagged empty_patch.

With the task's environment.image, setup, correctness and the workload of
every arm run in containers of that image (one per arm, the same limits
from bench.yaml's container section, the evaluation network, the invoking
user, the workspace at /workspace), timed from inside the container by the
bench binary itself, mounted read-only: it must be statically linked
(CGO_ENABLED=0), or BENCH_LAUNCHER must name a bench binary that is.
Without it they run on this host, unsandboxed, as you: evaluate warns when
the run's rollouts ran in a container (run.json's runtime), and the task's
environment.require_image: true refuses (exit status 2).

Only one evaluation times at a time on this machine (a lock per reserved
CPU under --lock-dir); setup and correctness run on the other CPUs.
Evaluated items are skipped when run again (base_failed and human_failed are
retried); --regrade recomputes every statistic from the stored samples with
the current band and alpha, and runs nothing. Ctrl-C stops at once; the item
in progress leaves no eval.json.

With --predictions, the patches come from a SWE-bench/GSO-style
predictions.jsonl ({instance_id, model_patch, model_name_or_path}, with
instance_id a plan item id) and --plan; the results go to a run directory
(--out, else a new or matching run under <state_root>/runs) that
'bench report' reads.

The task file is --task, else the one recorded in run.json (or plan.json);
the plan is --plan, else run.json's plan_path, else <state_root>/plan.json,
else the one rebuilt from --commits or the task's own commits; its hash
must be the run's.

Exit status 2 also when an item's baseline or human commit fails (the task
or the machine needs fixing); those items are recorded as base_failed or
human_failed and every other item is still evaluated.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runEvaluate(c.Context(), env, o, args) },
	}
	f := c.Flags()
	f.StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	f.StringVar(&o.task, "task", "", "task file (default: the run's or the plan's)")
	f.StringVar(&o.planPath, "plan", "", "plan.json (required with --predictions)")
	f.StringVar(&o.commits, "commits", "", "rebuild the run's plan from this commits file (a run prepared with --commits)")
	f.StringVar(&o.predictions, "predictions", "", "evaluate the patches of this predictions.jsonl")
	f.StringVar(&o.out, "out", "", "run directory for --predictions results")
	f.BoolVar(&o.regrade, "regrade", false, "recompute the statistics from the stored samples; run nothing")
	f.IntVar(&o.maxParallelSetup, "max-parallel-setup", 1, "items in their untimed phases (workspaces, setup, correctness) at once")
	f.IntVar(&o.timingSlots, "timing-slots", 1, "evaluations that may time at once on this machine, each on its own CPU")
	f.StringVar(&o.lockDir, "lock-dir", "", "directory of the machine-wide timing locks (default /tmp/perfbench-timing)")
	f.BoolVar(&o.quiet, "quiet", false, "do not print the report at the end")
	return c
}

func runEvaluate(ctx context.Context, env *Env, o *evaluateOptions, args []string) error {
	switch {
	case o.predictions != "" && len(args) > 0:
		return badinput.Errorf("evaluate: give RUN_DIR or --predictions, not both")
	case o.predictions == "" && len(args) == 0:
		return badinput.Errorf("evaluate: give RUN_DIR, or --predictions FILE.jsonl --plan PLAN.json")
	case o.predictions != "" && o.planPath == "":
		return badinput.Errorf("evaluate --predictions needs --plan PLAN.json (the items the instance ids name)")
	case o.out != "" && o.predictions == "":
		return badinput.Errorf("evaluate: --out goes with --predictions (RUN_DIR results stay in the run)")
	case o.maxParallelSetup < 1:
		return badinput.Errorf("--max-parallel-setup must be at least 1")
	case o.timingSlots < 1:
		return badinput.Errorf("--timing-slots must be at least 1")
	}
	for _, p := range []*string{&o.task, &o.planPath, &o.commits, &o.predictions, &o.out, &o.lockDir} {
		*p = env.path(*p)
	}
	if len(args) > 0 {
		args = []string{env.path(args[0])}
	}
	cfg, err := env.loadBench(o.benchCfg)
	if err != nil {
		return err
	}
	var in *evalInput
	if o.predictions != "" {
		in, err = predictionsInput(ctx, env, cfg, o)
	} else {
		in, err = runDirInput(ctx, env, cfg, o, args[0])
	}
	if err != nil {
		return err
	}
	for _, s := range in.skipped {
		fmt.Fprintf(env.Stderr, "skipping %s\n", s)
	}
	if !o.regrade && in.runtime == agent.RuntimeContainer && in.task.Environment.Image == "" {
		fmt.Fprintf(env.Stderr, "warning: run %s's rollouts ran in a container, but %s has no environment.image: the agent's patched code runs on this host, unsandboxed (set environment.image, or environment.require_image: true to refuse)\n", in.runID, in.task.Path)
	}
	launcher := launcherArgv(env)
	var runner evaluate.Runner = &evaluate.Host{Launcher: launcher}
	if image := in.task.Environment.Image; image != "" {
		// In containers the launcher is mounted into the image: it must be
		// statically linked (bench built with CGO_ENABLED=0), or another
		// bench binary that is (BENCH_LAUNCHER).
		path := ""
		if len(launcher) > 0 {
			path = launcher[0]
		}
		if p, ok := env.LookupEnv("BENCH_LAUNCHER"); ok && p != "" {
			path = p
		}
		if path != "" {
			// Mounted by absolute path, the link's target itself.
			if cwd, err := env.wd(); err == nil {
				path = absIn(cwd, path)
			}
			if resolved, err := filepath.EvalSymlinks(path); err == nil {
				path = resolved
			}
		}
		runner = evaluate.NewContainer(cfg.bench, image, path)
	}
	sum, err := evaluate.Run(ctx, evaluate.Options{
		RunID: in.runID, Task: in.task, Bench: cfg.bench, RepoURL: in.plan.RepoURL, Units: in.units,
		Regrade: o.regrade, MaxParallelSetup: o.maxParallelSetup, TimingSlots: o.timingSlots, LockDir: o.lockDir,
		Runner:     runner,
		ProcessEnv: env.Environ(), Now: env.Now, Log: env.Stderr,
	})
	if err != nil {
		return err
	}
	if sum.Interrupted || ctx.Err() != nil {
		return context.Canceled
	}
	if !o.quiet {
		r, err := report.Load(in.runDir)
		if err != nil {
			return err
		}
		if err := report.WriteTable(env.Stdout, r); err != nil {
			return err
		}
	}
	if len(sum.Failures) > 0 {
		return &exitError{code: ExitFailure, err: fmt.Errorf("%d item(s) could not be evaluated (run evaluate again to retry): %s", len(sum.Failures), strings.Join(sum.Failures, "; "))}
	}
	if len(sum.TaskProblems) > 0 {
		return badinput.Errorf("%d item(s) fail without the agent's patch (fix the task or the machine): %s", len(sum.TaskProblems), strings.Join(sum.TaskProblems, "; "))
	}
	return nil
}

// evalInput is what evaluate works on.
type evalInput struct {
	runID  string
	runDir string
	// runtime is where the rollouts ran (run.json); "" when unknown.
	runtime string
	task    *config.Task
	plan    *plan.Plan
	units   []evaluate.Unit
	skipped []string
}

// runDirInput reads a run directory made by prepare.
func runDirInput(ctx context.Context, env *Env, cfg *configs, o *evaluateOptions, runDir string) (*evalInput, error) {
	run, err := journal.ReadRun(runDir)
	if err != nil {
		if fsx.IsNotExist(err) {
			return nil, badinput.Errorf("%s is not a run directory (no %s)", runDir, journal.RunFile)
		}
		return nil, badinput.Wrap(err)
	}
	taskPath := o.task
	if taskPath == "" {
		taskPath = run.Task.Path
	}
	if taskPath == "" || !fsx.Exists(taskPath) {
		return nil, badinput.Errorf("run %s: task file %q not found (pass --task TASK.yaml)", run.RunID, taskPath)
	}
	task, err := env.loadTask(cfg, taskPath)
	if err != nil {
		return nil, err
	}
	if task.ID != run.Task.ID {
		return nil, badinput.Errorf("task %s has id %s, but run %s is of task %s", taskPath, task.ID, run.RunID, run.Task.ID)
	}
	if err := requireImage(o, task); err != nil {
		return nil, err
	}
	p, err := findPlan(ctx, env, cfg, o, run, runDir, task)
	if err != nil {
		return nil, err
	}
	items := map[string]plan.Item{}
	for _, it := range p.Items {
		items[it.ID] = it
	}
	samples := max(run.Samples, 1)
	in := &evalInput{runID: run.RunID, runDir: runDir, runtime: run.Runtime, task: task, plan: p}
	for _, id := range run.Items {
		it, ok := items[id]
		if !ok {
			return nil, badinput.Errorf("run %s lists item %s, which its plan does not have", run.RunID, id)
		}
		for s := 0; s < samples; s++ {
			name := journal.ItemDirName(id, s, samples)
			dir := filepath.Join(runDir, name)
			if !o.regrade {
				j, err := journal.ReadJournal(dir)
				switch {
				case err != nil:
					in.skipped = append(in.skipped, name+": not prepared yet (run prepare to finish the run)")
					continue
				case !j.Status.Final():
					in.skipped = append(in.skipped, fmt.Sprintf("%s: its rollout ended in %s (run prepare to redo it)", name, j.Status))
					continue
				case j.PlanItemHash != it.Hash():
					in.skipped = append(in.skipped, name+": prepared for another version of the plan item")
					continue
				}
			}
			patch, err := readPatch(filepath.Join(dir, journal.PatchFile), cfg.bench.PatchLimit())
			if err != nil {
				return nil, fmt.Errorf("item %s: %w", name, err)
			}
			in.units = append(in.units, evaluate.Unit{Item: it, Sample: s, Dir: dir, Name: name, Patch: patch})
		}
	}
	return in, nil
}

// readPatch reads a model_patch.diff (none: empty) of at most limit bytes:
// prepare never stores a larger one, and evaluate holds patches in memory.
func readPatch(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if fsx.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patch, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(patch)) > limit {
		return nil, badinput.Errorf("%s is larger than max_patch_bytes (%d)", path, limit)
	}
	return patch, nil
}

// findPlan finds the plan a run was prepared from: --plan, run.json's
// plan_path, <state_root>/plan.json next to the run's runs/ directory, or
// the task's own commits; its hash must be the run's.
func findPlan(ctx context.Context, env *Env, cfg *configs, o *evaluateOptions, run *records.Run, runDir string, task *config.Task) (*plan.Plan, error) {
	var tried []string
	try := func(path string) (*plan.Plan, error) {
		if path == "" || !fsx.Exists(path) {
			return nil, nil
		}
		p, err := plan.ReadResolved(path)
		if err != nil {
			return nil, err
		}
		if p.Hash != run.PlanHash {
			tried = append(tried, fmt.Sprintf("%s (plan hash %s)", path, p.Hash))
			return nil, nil
		}
		return p, nil
	}
	if o.planPath != "" {
		p, err := plan.ReadResolved(o.planPath)
		if err != nil {
			return nil, err
		}
		if p.Hash != run.PlanHash {
			return nil, badinput.Errorf("--plan %s is not the plan of run %s (plan hash %s, the run's is %s)", o.planPath, run.RunID, p.Hash, run.PlanHash)
		}
		return p, nil
	}
	for _, path := range []string{run.PlanPath, filepath.Join(runDir, "plan.json"), filepath.Join(filepath.Dir(filepath.Dir(filepath.Clean(runDir))), "plan.json")} {
		p, err := try(path)
		if err != nil {
			return nil, err
		}
		if p != nil {
			return p, nil
		}
	}
	// The commits file or the task's own commits, as prepare builds the
	// plan without --from-plan.
	entries, source, err := planEntries(task, o.commits)
	if err != nil && o.commits != "" {
		return nil, err
	}
	if err == nil {
		m, err := workspace.OpenMirror(ctx, cfg.bench.Paths.WorkRoot, task.Repo.URL)
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", task.Repo.URL, err)
		}
		p, err := plan.Build(ctx, task, source, entries, m, env.Now())
		if err != nil {
			return nil, err
		}
		if p.Hash == run.PlanHash {
			return p, nil
		}
		tried = append(tried, fmt.Sprintf("the plan of %s (plan hash %s)", source, p.Hash))
	}
	msg := "none found"
	if len(tried) > 0 {
		msg = "tried " + strings.Join(tried, ", ")
	}
	return nil, badinput.Errorf("run %s was prepared from plan hash %s: %s; pass --plan PLAN.json", run.RunID, run.PlanHash, msg)
}

// predictionsInput turns a predictions file into a run directory: run.json
// (agent "predictions"), one item directory per prediction holding its
// model_patch.diff, and predictions.jsonl.
func predictionsInput(ctx context.Context, env *Env, cfg *configs, o *evaluateOptions) (*evalInput, error) {
	preds, err := journal.ReadPredictions(o.predictions, cfg.bench.PatchLimit())
	if err != nil {
		return nil, err
	}
	if len(preds) == 0 {
		return nil, badinput.Errorf("%s: no predictions", o.predictions)
	}
	p, err := plan.ReadResolved(o.planPath)
	if err != nil {
		return nil, err
	}
	taskPath := o.task
	if taskPath == "" {
		taskPath = p.TaskPath
	}
	if taskPath == "" || !fsx.Exists(taskPath) {
		return nil, badinput.Errorf("plan %s: task file %q not found (pass --task TASK.yaml)", o.planPath, taskPath)
	}
	task, err := env.loadTask(cfg, taskPath)
	if err != nil {
		return nil, err
	}
	if task.ID != p.TaskID {
		return nil, badinput.Errorf("task %s has id %s, but plan %s is of task %s", taskPath, task.ID, o.planPath, p.TaskID)
	}
	if err := requireImage(o, task); err != nil {
		return nil, err
	}
	byID := map[string]records.Prediction{}
	models := map[string]bool{}
	for _, pr := range preds {
		byID[pr.InstanceID] = pr
		models[pr.ModelNameOrPath] = true
	}
	var ids []string
	var items []plan.Item
	known := map[string]bool{}
	for _, it := range p.Items {
		known[it.ID] = true
		if _, ok := byID[it.ID]; ok {
			ids = append(ids, it.ID)
			items = append(items, it)
		}
	}
	for _, pr := range preds {
		if !known[pr.InstanceID] {
			return nil, badinput.Errorf("%s: instance_id %q is not an item of plan %s (its ids look like %s)", o.predictions, pr.InstanceID, o.planPath, p.Items[0].ID)
		}
	}
	model := ""
	if len(models) == 1 {
		for m := range models {
			model = m
		}
	} else {
		model = "mixed"
	}
	data, err := os.ReadFile(o.predictions)
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:8])
	root := cfg.bench.Paths.StateRoot
	// Choosing or creating the run happens under runs/.lock, as in
	// prepare: two evaluations of one file end in one run.
	lock, err := journal.LockRuns(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	defer lock.Unlock()
	runDir := o.out
	var run *records.Run
	if runDir != "" {
		if fsx.Exists(filepath.Join(runDir, journal.RunFile)) {
			if run, err = journal.ReadRun(runDir); err != nil {
				return nil, badinput.Wrap(err)
			}
			if run.Agent.Type != predictionsAgent || run.PlanHash != p.Hash || run.Agent.ConfigHash != hash {
				return nil, badinput.Errorf("--out %s holds run %s, not the evaluation of %s with plan %s", runDir, run.RunID, o.predictions, o.planPath)
			}
		}
	} else {
		key := journal.RunKey{TaskID: task.ID, AgentName: predictionsAgent, Model: model, PlanHash: p.Hash, AgentConfigHash: hash, Samples: 1}
		if run, err = journal.FindResumable(root, key); err != nil {
			return nil, err
		}
		if run != nil {
			runDir = filepath.Join(journal.RunsDir(root), run.RunID)
		}
	}
	if run == nil && o.regrade {
		return nil, badinput.Errorf("--regrade: no evaluation of %s with plan %s to regrade", o.predictions, o.planPath)
	}
	if run != nil {
		fmt.Fprintf(env.Stderr, "resuming run %s\n", run.RunID)
	} else {
		now := env.Now().UTC()
		id := journal.NewRunID(task.ID, predictionsAgent, model, now)
		if runDir == "" {
			base := id
			for n := 2; fsx.Exists(filepath.Join(journal.RunsDir(root), id)); n++ {
				id = fmt.Sprintf("%s-%d", base, n)
			}
			runDir = filepath.Join(journal.RunsDir(root), id)
		} else {
			id = journal.Sanitize(filepath.Base(runDir))
		}
		gitVersion, _ := gitx.Version(ctx)
		host, _ := os.Hostname()
		absPlan, _ := filepath.Abs(o.planPath)
		run = &records.Run{
			RunID: id, CreatedAt: now, UpdatedAt: now,
			Task:     records.RunTask{ID: task.ID, Name: task.Name, Path: task.Path, RepoURL: p.RepoURL},
			Agent:    records.RunAgent{Name: predictionsAgent, Type: predictionsAgent, Model: model, ConfigHash: hash},
			PlanHash: p.Hash, PlanPath: absPlan, Items: ids, Samples: 1,
			Provenance: records.Provenance{BenchVersion: Version(), GoVersion: runtime.Version(), GitVersion: gitVersion,
				OS: runtime.GOOS + "/" + runtime.GOARCH, Hostname: host},
		}
		if err := os.MkdirAll(runDir, 0o755); err != nil {
			return nil, err
		}
		if err := journal.WriteRun(runDir, run); err != nil {
			return nil, err
		}
		var kept []records.Prediction
		for _, id := range ids {
			kept = append(kept, byID[id])
		}
		if err := journal.WritePredictions(filepath.Join(runDir, journal.PredictionsFile), kept); err != nil {
			return nil, err
		}
		fmt.Fprintf(env.Stderr, "run %s: %d prediction(s) from %s\n", run.RunID, len(ids), o.predictions)
	}
	in := &evalInput{runID: run.RunID, runDir: runDir, task: task, plan: p}
	for _, it := range items {
		dir := filepath.Join(runDir, it.ID)
		patch := []byte(byID[it.ID].ModelPatch)
		if old, err := os.ReadFile(filepath.Join(dir, journal.PatchFile)); !o.regrade && (err != nil || string(old) != string(patch)) {
			if err := fsx.WriteFile(filepath.Join(dir, journal.PatchFile), patch, 0o644); err != nil {
				return nil, err
			}
		}
		in.units = append(in.units, evaluate.Unit{Item: it, Dir: dir, Name: it.ID, Patch: patch})
	}
	return in, nil
}

// newTimedCmd is the hidden launcher of timed runs (evaluate.TimedMain).
func newTimedCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:                evaluate.TimedCommand + " --cpu N --result FILE -- ARGV...",
		Short:              "Run and time one workload process (used by evaluate)",
		Long:               "Run and time one workload process, pinned to one CPU; used by evaluate.",
		Hidden:             true,
		DisableFlagParsing: true,
		Args:               cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if code := evaluate.TimedMain(args); code != 0 {
				return &exitError{code: code, err: errFailed}
			}
			return nil
		},
	}
}

// requireImage refuses, before anything is created, to evaluate on the
// host a task that sets environment.require_image (--regrade runs
// nothing).
func requireImage(o *evaluateOptions, task *config.Task) error {
	if o.regrade || task.Environment.Image != "" || !task.Environment.RequireImage {
		return nil
	}
	return &config.Error{Pos: task.Environment.RequireImagePos, Field: "environment.require_image",
		Msg: "true, but environment.image is empty: evaluating on the host would run the agent's patched code unsandboxed"}
}

// launcherArgv is how evaluate re-executes this binary (env's Args0, on
// its PATH, else its Executable) as the launcher of timed runs; nil
// (timing by the harness itself) when it cannot be found.
func launcherArgv(env *Env) []string {
	exe := env.Args0
	if !strings.Contains(exe, "/") {
		pathEnv, _ := env.LookupEnv("PATH")
		p, err := proc.LookPath(exe, []string{"PATH=" + pathEnv})
		if err != nil {
			if env.Executable == nil {
				return nil
			}
			if exe, err = env.Executable(); err != nil {
				return nil
			}
		} else {
			exe = p
		}
	}
	cwd, err := env.wd()
	if err != nil {
		return nil
	}
	return []string{absIn(cwd, exe), evaluate.TimedCommand}
}
