package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
	"github.com/perfbench/perfbench/internal/workspace"
)

type validateOptions struct {
	benchCfg string
	commits  string
}

func newValidateCmd(env *System) *cobra.Command {
	o := &validateOptions{}
	c := &cobra.Command{
		Use:   "validate TASK.yaml [--bench-cfg FILE] [--commits FILE]",
		Short: "Check a task file and bench.yaml offline",
		Long: `Check a task file, bench.yaml (the flag's file, else ./bench.yaml when present)
and optionally a commits file, without contacting the repository (a local
repository is checked to exist and be a git repository). Every
problem is reported as one line: file:line:col: field: what was expected.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runValidate(env, o, args[0]) },
	}
	c.Flags().StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml to check (default ./bench.yaml when present)")
	c.Flags().StringVar(&o.commits, "commits", "", "commits file to check")
	return c
}

func runValidate(env *System, o *validateOptions, taskPath string) error {
	cfg, err := env.loadBench(o.benchCfg)
	if err != nil {
		return err
	}
	task, err := env.loadTask(cfg, taskPath)
	if err != nil {
		return err
	}
	n := 0
	if o.commits != "" {
		entries, err := plan.ReadCommitsFile(env.path(o.commits))
		if err != nil {
			return err
		}
		n = len(entries)
	} else if entries, _, err := plan.Entries(task); err == nil {
		n = len(entries)
	}
	if config.IsLocalRepo(task.Repo.URL) {
		// A local repository is checked on disk; a remote one is never
		// contacted.
		if err := workspace.CheckLocalRepo(task.Repo.URL); err != nil {
			return &config.Error{Pos: task.Repo.URLPos, Field: "repo.url", Msg: err.Error()}
		}
	}
	// The files env_build names must exist (relative to the task file).
	spec, err := envbuild.FromTask(task)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "ok: task %s (%s): %d commit pair(s) configured\n", task.ID, taskPath, n)
	if spec != nil {
		file := spec.Dockerfile
		if spec.Strategy == envbuild.StrategyRequirements {
			file = spec.Requirements
		}
		fmt.Fprintf(env.Stdout, "ok: env_build: %s strategy, %s (bench build %s builds the image)\n", spec.Strategy, file, taskPath)
	}
	warnFewRounds(env, task)
	warnSetup(env, task)
	b := cfg.bench
	if b.Path != "" {
		def := b.Agents.Default
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(env.Stdout, "ok: %s: %d agent(s), default %s\n", b.Path, len(b.Agents.Entries), def)
	}
	return nil
}

// warnSetup warns, without failing, when workspace_setup installs what
// evaluation will not have (config.Task.SetupWarning).
func warnSetup(env *System, task *config.Task) {
	if w := task.SetupWarning(); w != "" {
		fmt.Fprintf(env.Stderr, "warning: %s\n", w)
	}
}

// warnFewRounds warns, without failing, about every evaluation section
// (the task's and the pairs' overrides) that times fewer than
// records.FewRounds rounds: such samples rarely separate a loss from a
// match, and below stats.MinRounds none can be significant, so every
// verdict would be inconclusive.
func warnFewRounds(env *System, task *config.Task) {
	check := func(field string, rounds int, alpha float64, pos config.Pos) {
		if rounds <= 0 || rounds >= records.FewRounds {
			return
		}
		if alpha <= 0 {
			alpha = evaluate.DefaultAlpha
		}
		why := fmt.Sprintf("the rank test has little power below %d rounds", records.FewRounds)
		if p := stats.MinPValue(rounds, rounds); p > alpha {
			why = fmt.Sprintf("with %d samples per arm the smallest possible Mann–Whitney p is %.3g > alpha %.3g, so every verdict will be inconclusive (at least %d rounds are needed to detect anything, %d recommended)",
				rounds, p, alpha, stats.MinRounds(alpha), records.FewRounds)
		}
		fmt.Fprintf(env.Stderr, "warning: %s: %s: %d rounds: %s\n", pos, field, rounds, why)
	}
	ev := task.Evaluation
	check("evaluation.rounds", ev.Rounds, ev.Alpha, ev.RoundsPos)
	for i, p := range task.Repo.Pairs {
		if p.Evaluation == nil {
			continue
		}
		alpha := p.Evaluation.Alpha
		if alpha == 0 {
			alpha = ev.Alpha
		}
		check(fmt.Sprintf("repo.pairs[%d].evaluation.rounds", i), p.Evaluation.Rounds, alpha, p.Evaluation.RoundsPos)
	}
}
