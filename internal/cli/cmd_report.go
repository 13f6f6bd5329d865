package cli

import (
	"bytes"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/report"
)

type reportOptions struct {
	format string
	out    string
}

func newReportCmd(env *Env) *cobra.Command {
	o := &reportOptions{}
	c := &cobra.Command{
		Use:   "report RUN_DIR [--format table|json|md|html] [--out FILE]",
		Short: "Show a run: counts by status and one row per item",
		Long: `Show a run: counts by status and, per item, the status, duration, patch
lines and files changed, cost and reason. --format json gives the same data
for machines; --format md a Markdown document; --format html one
self-contained page (inline CSS and SVG charts, no script, nothing fetched):
counts by status, per-item speedups on a log scale with the agent's 95% CI
once evaluated, cost per item, then the table. --out writes to a file
(atomically) instead of stdout.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runReport(env, o, args[0]) },
	}
	c.Flags().StringVar(&o.format, "format", "table", "table, json, md or html")
	c.Flags().StringVar(&o.out, "out", "", "write to this file instead of stdout")
	return c
}

func runReport(env *Env, o *reportOptions, runDir string) error {
	render, err := reportRenderer(o.format)
	if err != nil {
		return err
	}
	if err := report.ReadRunDir(runDir); err != nil {
		return err
	}
	r, err := report.Load(runDir)
	if err != nil {
		return err
	}
	return emit(env, o.out, func(w io.Writer) error { return render(w, r) })
}

func reportRenderer(format string) (func(io.Writer, *report.Report) error, error) {
	switch format {
	case "table":
		return report.WriteTable, nil
	case "json":
		return func(w io.Writer, r *report.Report) error { return report.WriteJSON(w, r) }, nil
	case "md", "markdown":
		return report.WriteMarkdown, nil
	case "html":
		return report.WriteHTML, nil
	}
	return nil, badinput.Errorf("--format %q: expected table, json, md or html", format)
}

// emit renders to stdout, or atomically to a file.
func emit(env *Env, out string, render func(io.Writer) error) error {
	if out == "" {
		return render(env.Stdout)
	}
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	if err := fsx.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "wrote %s\n", out)
	return nil
}

type reportAllOptions struct {
	stateRoot string
	benchCfg  string
	format    string
	out       string
}

func newReportAllCmd(env *Env) *cobra.Command {
	o := &reportAllOptions{}
	c := &cobra.Command{
		Use:   "report-all [--state-root state] [--format table|json|html] [--out FILE]",
		Short: "Summarise every run under the state root",
		Long: `Summarise every run under the state root, newest first: items, counts by
status, missing items and spend. --format html gives one self-contained page
with a bar of the statuses per run; --out writes to a file (atomically)
instead of stdout.`,
		RunE: func(c *cobra.Command, args []string) error { return runReportAll(env, o) },
	}
	c.Flags().StringVar(&o.stateRoot, "state-root", "", "state root (default paths.state_root of bench.yaml)")
	c.Flags().StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	c.Flags().StringVar(&o.format, "format", "table", "table, json or html")
	c.Flags().StringVar(&o.out, "out", "", "write to this file instead of stdout")
	return c
}

func runReportAll(env *Env, o *reportAllOptions) error {
	root := o.stateRoot
	if root == "" {
		cfg, err := env.loadBench(o.benchCfg)
		if err != nil {
			return err
		}
		root = cfg.bench.Paths.StateRoot
	}
	var render func(io.Writer, *report.All) error
	switch o.format {
	case "table":
		render = report.WriteAllTable
	case "json":
		render = func(w io.Writer, a *report.All) error { return report.WriteJSON(w, a) }
	case "html":
		render = report.WriteAllHTML
	default:
		return badinput.Errorf("--format %q: expected table, json or html", o.format)
	}
	a, err := report.LoadAll(root)
	if err != nil {
		return err
	}
	return emit(env, o.out, func(w io.Writer) error { return render(w, a) })
}
