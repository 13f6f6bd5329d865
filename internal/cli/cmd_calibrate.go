package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/calibrate"
	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/prepare"
	"github.com/perfbench/perfbench/internal/progress"
	"github.com/perfbench/perfbench/internal/shard"
)

type calibrateOptions struct {
	benchCfg string
	fromPlan string
	commits  string
	sessions int
	rounds   int
	shard    string
	lockDir  string
	// The hidden flags of a session run in its own process
	// (calibrate.RunSession).
	session    int
	sessionDir string
	items      string
	// envImage is the environment image id the parent resolved.
	envImage string
}

func newCalibrateCmd(env *System) *cobra.Command {
	o := &calibrateOptions{}
	c := &cobra.Command{
		Use:   "calibrate TASK.yaml [--from-plan P] [--sessions S] [--rounds R] [--shard I/N]",
		Short: "Find which items can be measured: A/A noise, minimum detectable effect, human speedup across sessions",
		Long: `Calibrate a task before spending anything on agents: for every plan item,
time the baseline against itself (A/A: two workspaces of the pre tree) and
the human commit against the baseline, in S sessions run one after the
other, each a fresh evaluation in fresh workspaces and its own process
(this binary re-executed), with the evaluation's own protocol (setup, correctness, pinned interleaved rounds; R rounds, default
the task's). The raw samples go to calibration.json next to the plan
(--from-plan's, else <state_root>/plan.json's place), keyed by the plan
item's hash and the evaluation config's hash: an item or an evaluation
section that changed is timed again, others are reused (and re-analysed
with the current band and alpha, which change no measurement: readers see
an entry analysed with another band or alpha than their eval.json's as
stale until calibrate runs again); after each session the items are kept as
partial, so an interrupted calibration continues where it stopped.

Per item it prints the human speedup with its 95% CI in each session and
pooled, and whether the sessions agree; the A/A spread (CV), the minimum
detectable effect at the configured rounds (the smallest true speedup the
verdict rule calls a win in 80% of repeats) and the rounds a 10% speedup
needs, with a caveat when the MDE says little (nothing can be significant
at the configured rounds, or too few A/A samples for the simulation); the
metric to use, for every task (cpu only when the baseline is
single-threaded and wall and CPU time agree on the human commit, else
wall; an instructions task keeps instructions where cpu would do; a
workload's own metric is kept); and a class:

  stable      every session finds the human commit faster (CI above 1 and
              Mann–Whitney significant at alpha) and the pooled CI lies
              above 1+band: its speedup reproduces and can be scored
  unstable    the sessions disagree, or a session is not significant
  no_speedup  the human commit is not measurably faster than the band
  broken      setup, correctness or the workload fails

evaluate's report and compare flag the items that are not stable;
compare --stable-only ranks over the stable ones only (with a warning
when no compared run has a calibration.json). R below the fewest rounds
with which the Mann–Whitney test can reach p <= alpha (4 at 0.05) is bad
input (exit 2).

--shard I/N calibrates the items whose id hashes to shard I of N
(0 <= I < N; the partition of prepare --shard; sessions are never split);
shards may run at once and write the same calibration.json.
With environment.image the sessions time in containers of the image, as
evaluate does.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runCalibrate(c.Context(), env, o, args[0]) },
	}
	f := c.Flags()
	f.StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	f.StringVar(&o.fromPlan, "from-plan", "", "plan.json written by 'bench plan' (default <state_root>/plan.json when present)")
	f.StringVar(&o.commits, "commits", "", "commits file (when there is no plan)")
	f.IntVar(&o.sessions, "sessions", calibrate.DefaultSessions, "separate sessions per item")
	f.IntVar(&o.rounds, "rounds", 0, "timed rounds per session (default: the task's evaluation.rounds)")
	f.StringVar(&o.shard, "shard", "", "calibrate part I of N of the items (0 <= I < N)")
	f.StringVar(&o.lockDir, "lock-dir", "", "directory of the machine-wide timing locks (default /tmp/perfbench-timing)")
	f.IntVar(&o.session, "session", 0, "run only this session, into --session-dir (internal)")
	f.StringVar(&o.sessionDir, "session-dir", "", "the session's directory (internal)")
	f.StringVar(&o.items, "items", "", "the session's item ids, comma-separated (internal)")
	f.StringVar(&o.envImage, "env-image", "", "the environment image id the sessions run in (internal)")
	for _, name := range []string{"session", "session-dir", "items", "env-image"} {
		_ = f.MarkHidden(name)
	}
	return c
}

func runCalibrate(ctx context.Context, env *System, o *calibrateOptions, taskPath string) error {
	if o.sessions < 1 {
		return badinput.Errorf("--sessions must be at least 1, got %d", o.sessions)
	}
	if o.rounds < 0 {
		return badinput.Errorf("--rounds must be at least 1, got %d", o.rounds)
	}
	var sh shard.Spec
	if o.shard != "" {
		var err error
		if sh, err = shard.Parse(o.shard); err != nil {
			return err
		}
	}
	o.fromPlan, o.commits, o.lockDir = env.path(o.fromPlan), env.path(o.commits), env.path(o.lockDir)
	cfg, err := env.loadBench(o.benchCfg)
	if err != nil {
		return err
	}
	absTask := env.path(taskPath)
	if cwd, err := env.wd(); err == nil {
		absTask = absIn(cwd, absTask)
	}
	task, err := env.loadTask(cfg, absTask)
	if err != nil {
		return err
	}
	planPath := o.fromPlan
	if planPath == "" && o.commits == "" {
		if p := filepath.Join(cfg.bench.Paths.StateRoot, "plan.json"); fileExists(p) {
			if pl, err := plan.Read(p); err == nil && pl.TaskID == task.ID {
				planPath = p
			}
		}
	}
	var pl *plan.Plan
	if planPath != "" {
		if pl, err = plan.ReadResolved(planPath); err != nil {
			return err
		}
		if pl.TaskID != task.ID {
			return badinput.Errorf("--from-plan %s is for task %s, not %s", planPath, pl.TaskID, task.ID)
		}
	} else {
		if pl, err = prepare.BuildPlan(ctx, cfg.bench, task, o.commits, env.Now(), env.Stderr); err != nil {
			return err
		}
		planPath = filepath.Join(cfg.bench.Paths.StateRoot, "plan.json")
	}
	image := o.envImage
	if image == "" {
		// The environment image of the task's current hash, by id (the
		// sessions get that id: a rebuild meanwhile changes none); with
		// an env_build, never the host.
		spec, cur, err := env.envImagesOf(cfg.bench).Current(ctx, task)
		if err != nil {
			return fmt.Errorf("environment image: %w", err)
		}
		if spec != nil {
			if cur.ID == "" {
				return badinput.Errorf("%s: the environment image %s (env_build's current hash) is not built: run `bench build %s` first", task.Path, cur.Tag, task.Path)
			}
			image = cur.ID
			fmt.Fprintf(env.Stderr, "environment image %s (%s)\n", cur.Tag, cur.ID)
		}
	}
	co := calibrate.Options{
		Task: task, Bench: cfg.bench, Plan: pl, Path: journal.CalibrationPath(planPath),
		Sessions: o.sessions, Rounds: o.rounds, Shard: sh,
		Runner: evalRunner(env, cfg.bench, task, image), ProcessEnv: env.Environ(), LockDir: o.lockDir,
		Now: env.Now, Log: env.Stderr,
	}
	if o.session > 0 {
		if o.sessionDir == "" || o.items == "" {
			return badinput.Errorf("--session needs --session-dir and --items")
		}
		return calibrate.RunSession(ctx, co, o.session, env.path(o.sessionDir), strings.Split(o.items, ","))
	}
	if launcher := launcherArgv(env); launcher != nil {
		// Each session in its own process: this binary again.
		co.Exec = []string{launcher[0], "calibrate", absTask}
		if cfg.bench.Path != "" {
			co.Exec = append(co.Exec, "--bench-cfg", env.path(cfg.bench.Path))
		}
		if o.lockDir != "" {
			co.Exec = append(co.Exec, "--lock-dir", o.lockDir)
		}
		if image != "" && image != task.Environment.Image {
			co.Exec = append(co.Exec, "--env-image", image)
		}
		co.ExecDir, _ = env.wd()
	}
	if env.StderrTTY {
		co.Progress = func(s, n int) (evaluate.Progress, io.Writer, func()) {
			bar := progress.NewEval(env.Stderr, env.Now)
			return bar, bar, bar.Close
		}
	}
	res, err := calibrate.Run(ctx, co)
	if err != nil {
		return err
	}
	if err := calibrate.WriteText(env.Stdout, res.Items); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s (%d item(s) timed now)\n", co.Path, res.Timed)
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
