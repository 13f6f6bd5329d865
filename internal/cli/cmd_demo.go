package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/demo"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/report"
)

type demoOptions struct {
	out string
}

func newDemoCmd(env *System) *cobra.Command {
	o := &demoOptions{}
	c := &cobra.Command{
		Use:   "demo [--out DIR]",
		Short: "Run the whole pipeline on an embedded example (no credentials)",
		Long: `Write an embedded example project as a real git repository (a slow shell
function and a human commit that makes it faster), plan it, prepare it with
the replay agent (the human diff: the oracle) and the noop agent, evaluate
both runs (baseline, human and agent timed side by side after the tests
pass), print both reports and end with the three-way table: replay should
match the human, noop should lose to it. Needs git and sh; no credentials,
no network.`,
		RunE: func(c *cobra.Command, args []string) error { return runDemo(c.Context(), env, o) },
	}
	c.Flags().StringVar(&o.out, "out", "", "directory for the demo (default: a new temporary directory)")
	return c
}

func runDemo(ctx context.Context, env *System, o *demoOptions) error {
	dir := o.out
	if dir == "" {
		// os.TempDir's choice, from the Env's TMPDIR.
		tmp, _ := env.LookupEnv("TMPDIR")
		if tmp == "" {
			tmp = "/tmp"
		}
		d, err := os.MkdirTemp(tmp, "perfbench-demo-")
		if err != nil {
			return err
		}
		dir = d
	}
	cwd, err := env.wd()
	if err != nil {
		return err
	}
	dir = absIn(cwd, dir)
	l, err := demo.Write(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "demo: example repository, task and bench.yaml in %s\n\n", dir)
	// The demo's own HOME: evaluate watches the HOME its timed runs see
	// for files they write, and a developer's (Go's caches, say) costs
	// tenths of a second per timed run to list, which the example need not
	// pay; nor should it read the user's configuration.
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	env = env.withEnv("HOME", home)
	planFile := filepath.Join(dir, "state", "plan.json")
	if err := runPlan(ctx, env, &planOptions{benchCfg: l.BenchFile, out: planFile}, l.TaskFile); err != nil {
		return err
	}
	for _, agentName := range []string{"replay", "noop"} {
		fmt.Fprintf(env.Stdout, "\n== prepare with %s ==\n", agentName)
		po := &prepareOptions{benchCfg: l.BenchFile, fromPlan: planFile, agent: agentName, maxWorkers: 1, samples: 1, newRun: true}
		if err := runPrepare(ctx, env, po, l.TaskFile); err != nil {
			return err
		}
	}
	runs, _, err := journal.ListRuns(filepath.Join(dir, "state"))
	if err != nil {
		return err
	}
	var reports []*report.Report
	for i := len(runs) - 1; i >= 0; i-- {
		runDir := filepath.Join(journal.RunsDir(filepath.Join(dir, "state")), runs[i].RunID)
		fmt.Fprintf(env.Stdout, "\n== evaluate %s ==\n", runs[i].RunID)
		eo := &evaluateOptions{benchCfg: l.BenchFile, maxParallelSetup: 1, timingSlots: 1, quiet: true}
		if err := runEvaluate(ctx, env, eo, []string{runDir}); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "\n== report %s ==\n", runs[i].RunID)
		if err := runReport(env, &reportOptions{format: "table"}, runDir); err != nil {
			return err
		}
		r, err := report.Load(runDir)
		if err != nil {
			return err
		}
		reports = append(reports, r)
	}
	fmt.Fprintf(env.Stdout, "\n== three-way evaluation (speedups over the baseline; above 1 is faster) ==\n")
	if err := report.WriteThreeWay(env.Stdout, reports); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "\nnext: bench compare --state-root %s (the leaderboard; --format html --out DIR for the site)\n", filepath.Join(dir, "state"))
	return nil
}
