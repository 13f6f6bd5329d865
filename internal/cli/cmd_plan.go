package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/prepare"
)

type planOptions struct {
	benchCfg string
	commits  string
	out      string
}

func newPlanCmd(env *System) *cobra.Command {
	o := &planOptions{}
	c := &cobra.Command{
		Use:   "plan TASK.yaml [--commits FILE] [--out state/plan.json]",
		Short: "Resolve a task's commit pairs into plan.json",
		Long: `Resolve commit pairs into plan.json: from a commits file
("<human_sha> [<pre_sha> | parent=N]" per line), else the task's repo.pairs,
else repo.human_commit. "pre" defaults to the first parent. Both commits must
exist in the repository (it is mirrored under work_root and fetched when a
commit is missing). Items are named <task_id>-0000, -0001, ... in order.
plan.json is written atomically; a failure leaves an existing plan untouched.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runPlan(c.Context(), env, o, args[0]) },
	}
	c.Flags().StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	c.Flags().StringVar(&o.commits, "commits", "", "commits file")
	c.Flags().StringVar(&o.out, "out", "", "output file (default <state_root>/plan.json)")
	return c
}

func runPlan(ctx context.Context, env *System, o *planOptions, taskPath string) error {
	cfg, err := env.loadBench(o.benchCfg)
	if err != nil {
		return err
	}
	task, err := env.loadTask(cfg, taskPath)
	if err != nil {
		return err
	}
	p, err := prepare.BuildPlan(ctx, cfg.bench, task, env.path(o.commits), env.Now(), env.Stderr)
	if err != nil {
		return err
	}
	out := env.path(o.out)
	if out == "" {
		out = filepath.Join(cfg.bench.Paths.StateRoot, "plan.json")
	}
	if err := plan.Write(out, p); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "planned %d item(s) of task %s → %s\n", len(p.Items), task.ID, out)
	return nil
}
