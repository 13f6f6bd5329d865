package cli

import (
	"embed"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/fsx"
)

//go:embed templates/*
var templates embed.FS

type initOptions struct {
	out   string
	force bool
}

func newInitCmd(env *System) *cobra.Command {
	o := &initOptions{}
	c := &cobra.Command{
		Use:   "init [--out DIR]",
		Short: "Write an example task, bench.yaml and commits file",
		Long: `Write tasks/example.yaml, bench.yaml and commits.txt into DIR (default: the
current directory). Existing files are never overwritten unless --force.`,
		RunE: func(c *cobra.Command, args []string) error { return runInit(env, o) },
	}
	c.Flags().StringVar(&o.out, "out", ".", "directory to write into")
	c.Flags().BoolVar(&o.force, "force", false, "overwrite existing files")
	return c
}

func runInit(env *System, o *initOptions) error {
	dir := env.path(o.out)
	files := []struct{ src, dst string }{
		{"templates/task.yaml", filepath.Join("tasks", "example.yaml")},
		{"templates/bench.yaml", "bench.yaml"},
		{"templates/commits.txt", "commits.txt"},
	}
	if !o.force {
		for _, f := range files {
			if p := filepath.Join(dir, f.dst); fsx.Exists(p) {
				return badinput.Errorf("init: %s exists (use --force to overwrite)", p)
			}
		}
	}
	for _, f := range files {
		data, err := templates.ReadFile(f.src)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, f.dst)
		if err := fsx.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote %s\n", p)
	}
	// The pipeline, in the order it runs; bench.yaml is found in the
	// current directory, so the commands run from the one written.
	where := ""
	if o.out != "." {
		where = " from " + dir
	}
	fmt.Fprintf(env.Stdout, `next: edit tasks/example.yaml (repository, workload, evaluation:) and commits.txt, then%s:
  bench validate tasks/example.yaml
  bench plan tasks/example.yaml --commits commits.txt
  bench prepare tasks/example.yaml --from-plan state/plan.json
  bench evaluate state/runs/<run_id>      (prepare prints the run id)
  bench report state/runs/<run_id>
  bench compare                           (every evaluated run: the leaderboard)
`, where)
	return nil
}
