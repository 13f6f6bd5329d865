package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/plan"
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
	fmt.Fprintf(env.Stdout, "ok: task %s (%s): %d commit pair(s) configured\n", task.ID, taskPath, n)
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
