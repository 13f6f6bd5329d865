package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/progress"
	"github.com/perfbench/perfbench/internal/report"
	"github.com/perfbench/perfbench/internal/shard"
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
	shard            string
}

func newEvaluateCmd(env *System) *cobra.Command {
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

With samples (prepare --samples K), an item's K candidates are timed
together: one baseline and one human workspace and K candidate workspaces,
K + 2 arms per round in rotating positions 0..K+1, so every candidate is
compared with the same baseline and human. The item's one eval.json, in
its sample-0 directory <item>.s0/eval.json, holds every arm's samples and
each candidate's status and statistics; a candidate whose patch does not
apply or fails the gate leaves the rounds and the others continue. An item
is skipped when run again only if every candidate's patch is unchanged.

Statuses: success, base_failed, human_failed, patch_failed,
correctness_failed, equivalence_failed, timeout. An empty patch is timed as
the baseline and flagged empty_patch; it is never correct, and never
opt_base or opt_commit.

With an env_build, every arm runs in the environment image the run pinned
(by id, however its tag moved since; without a pin, the image of the task's
current hash, which must be built), never on the host.

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

--shard I/N evaluates only the items of shard I of N (the same partition
as prepare --shard: by a stable hash of the item id); shards write only
their items' eval.json, so N of them may run on N machines at once.

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
	f.StringVar(&o.shard, "shard", "", "evaluate part I of N of the run's items (0 <= I < N), as prepare --shard takes them")
	return c
}

func runEvaluate(ctx context.Context, env *System, o *evaluateOptions, args []string) error {
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
	case o.shard != "" && o.predictions != "":
		return badinput.Errorf("--shard goes with RUN_DIR, not --predictions")
	}
	var sh shard.Spec
	if o.shard != "" {
		var err error
		if sh, err = shard.Parse(o.shard); err != nil {
			return err
		}
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
	in, err := evaluate.Open(ctx, evaluate.InputOptions{
		Bench:    cfg.bench,
		LoadTask: func(path string) (*config.Task, error) { return env.loadTask(cfg, path) },
		RunDir:   firstArg(args), Predictions: o.predictions, PlanPath: o.planPath, Out: o.out,
		TaskPath: o.task, Commits: o.commits, Regrade: o.regrade, Shard: sh,
		EnvImages:    env.envImagesOf(cfg.bench),
		BenchVersion: Version(), Now: env.Now, Log: env.Stderr,
	})
	if err != nil {
		return err
	}
	for _, s := range in.Skipped {
		fmt.Fprintf(env.Stderr, "skipping %s\n", s)
	}
	if !o.regrade && in.Runtime == agent.RuntimeContainer && in.Task.Environment.Image == "" && in.EnvImage == nil {
		fmt.Fprintf(env.Stderr, "warning: run %s's rollouts ran in a container, but %s has no environment.image: the agent's patched code runs on this host, unsandboxed (set environment.image, or environment.require_image: true to refuse)\n", in.RunID, in.Task.Path)
	}
	image := ""
	if in.EnvImage != nil {
		// The run's pinned environment image, by id: a tag moved since
		// (a rebuild) changes nothing here.
		image = in.EnvImage.ID
		fmt.Fprintf(env.Stderr, "environment image %s (%s)\n", in.EnvImage.Tag, in.EnvImage.ID)
	}
	runner := evalRunner(env, cfg.bench, in.Task, image)
	eo := evaluate.Options{
		RunID: in.RunID, Task: in.Task, Bench: cfg.bench, RepoURL: in.Plan.RepoURL, Units: in.Units,
		Regrade: o.regrade, MaxParallelSetup: o.maxParallelSetup, TimingSlots: o.timingSlots, LockDir: o.lockDir,
		Runner:     runner,
		ProcessEnv: env.Environ(), Now: env.Now, Log: env.Stderr,
	}
	if run, err := journal.ReadRun(in.RunDir); err == nil {
		// The result lines name the calibration class; the report says
		// why a calibration.json that cannot be read is left out.
		eo.Calibration, _ = journal.RunCalibration(in.RunDir, run)
	}
	closeBar := func() {}
	if env.StderrTTY && !o.regrade {
		// A live bar on a terminal; its log lines print above it.
		bar := progress.NewEval(env.Stderr, env.Now)
		eo.Progress, eo.Log, closeBar = bar, bar, bar.Close
	}
	sum, err := evaluate.Run(ctx, eo)
	closeBar()
	if err != nil {
		return err
	}
	if sum.Interrupted || ctx.Err() != nil {
		return context.Canceled
	}
	if !o.quiet {
		r, err := report.Load(in.RunDir)
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

// evalRunner is where an evaluation of task runs its commands: on this
// host, or in containers of envImage (the environment image's id, built
// from env_build) or environment.image (evaluate and calibrate share it,
// so a calibration times what the evaluation will).
func evalRunner(env *System, b *config.Bench, task *config.Task, envImage string) evaluate.Runner {
	launcher := launcherArgv(env)
	var runner evaluate.Runner = &evaluate.Host{Launcher: launcher}
	image := task.Environment.Image
	if envImage != "" {
		image = envImage
	}
	if image != "" {
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
		runner = evaluate.NewContainer(b, image, path)
	}
	return runner
}

// newTimedCmd is the hidden launcher of timed runs (evaluate.TimedMain).
func newTimedCmd(env *System) *cobra.Command {
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

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// launcherArgv is how evaluate re-executes this binary (env's Args0, on
// its PATH, else its Executable) as the launcher of timed runs; nil
// (timing by the harness itself) when it cannot be found.
func launcherArgv(env *System) []string {
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
