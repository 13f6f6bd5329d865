package cli

import (
	"bytes"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/report"
)

type reportOptions struct {
	format   string
	out      string
	long     bool
	noLegend bool
}

func newReportCmd(env *System) *cobra.Command {
	o := &reportOptions{}
	c := &cobra.Command{
		Use:   "report RUN_DIR [--format " + report.RunFormats.Choices() + "] [--out FILE] [--long] [--no-legend]",
		Short: "Show a run: counts by status and one row per item",
		Long: `Show a run: counts by status and, per item, the status, duration, patch
lines and files changed, cost and reason, in one of the formats below.
--out writes to a file (atomically) instead of stdout. Once evaluated, the
table adds the human and agent speedups over the baseline, agent/human and
the verdict, with a one-line legend of the verdict words under it
(--no-legend drops it); --long adds the absolute medians of the three arms,
the human speedup's and agent/human's 95% CIs, the Mann–Whitney p and the
samples per arm (n base/agent of agent vs human).

` + report.RunFormats.Help(),
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runReport(env, o, args[0]) },
	}
	c.Flags().StringVar(&o.format, "format", report.RunFormats.Default(), report.RunFormats.List())
	c.Flags().StringVar(&o.out, "out", "", "write to this file instead of stdout")
	c.Flags().BoolVar(&o.long, "long", false, "table: add absolute medians, CIs of every speedup, p and n")
	c.Flags().BoolVar(&o.noLegend, "no-legend", false, "table: drop the legend line under the table")
	return c
}

func runReport(env *System, o *reportOptions, runDir string) error {
	runDir, out := env.path(runDir), env.path(o.out)
	render, err := lookupFormat(report.RunFormats, o.format)
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
	r.Display = report.Display{Long: o.long, NoLegend: o.noLegend}
	return emit(env, out, func(w io.Writer) error { return render(w, r) })
}

// lookupFormat is the writer of --format name, or a bad-input error listing
// the formats.
func lookupFormat[D any](fs report.Formats[D], name string) (func(io.Writer, D) error, error) {
	if w, ok := fs.Lookup(name); ok {
		return w, nil
	}
	return nil, badinput.Errorf("--format %q: expected %s", name, fs.List())
}

// emit renders to stdout, or atomically to a file.
func emit(env *System, out string, render func(io.Writer) error) error {
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
	noLegend  bool
}

func newReportAllCmd(env *System) *cobra.Command {
	o := &reportAllOptions{}
	c := &cobra.Command{
		Use:   "report-all [--state-root state] [--format " + report.AllFormats.Choices() + "] [--out FILE]",
		Short: "Summarise every run under the state root",
		Long: `Summarise every run under the state root, newest first: items, counts by
status, missing items and spend, in one of the formats below; the table
and the Markdown end with, and the JSON carries under "leaderboard", the leaderboard of
the evaluated runs as ` + "`bench compare`" + ` computes it. --out writes to a file
(atomically) instead of stdout.

` + report.AllFormats.Help(),
		RunE: func(c *cobra.Command, args []string) error { return runReportAll(env, o) },
	}
	c.Flags().StringVar(&o.stateRoot, "state-root", "", "state root (default paths.state_root of bench.yaml)")
	c.Flags().StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	c.Flags().StringVar(&o.format, "format", report.AllFormats.Default(), report.AllFormats.List())
	c.Flags().StringVar(&o.out, "out", "", "write to this file instead of stdout")
	c.Flags().BoolVar(&o.noLegend, "no-legend", false, "table: drop the legend lines under the tables")
	return c
}

func runReportAll(env *System, o *reportAllOptions) error {
	root, err := stateRoot(env, o.stateRoot, o.benchCfg)
	if err != nil {
		return err
	}
	render, err := lookupFormat(report.AllFormats, o.format)
	if err != nil {
		return err
	}
	a, err := report.LoadAll(root)
	if err != nil {
		return err
	}
	switch o.format {
	case "html":
		render = reportAllLeaderboard(root, render) // compare_html.go
	case report.AllFormats.Default():
		// The terminal table ends with the leaderboard of the evaluated
		// runs, as `bench compare` prints it.
		board, err := loadStateBoard(root, nil)
		if err != nil {
			return err
		}
		fillSubjects(env, o.benchCfg, board)
		a.NoLegend, board.View.NoLegend = o.noLegend, o.noLegend
		table := render
		render = func(w io.Writer, a *report.All) error {
			if err := table(w, a); err != nil {
				return err
			}
			if len(board.Tasks) == 0 {
				return nil
			}
			fmt.Fprintln(w, "\nleaderboard of the evaluated runs (bench compare):")
			return compare.WriteTable(w, board)
		}
	case "md", "markdown":
		// Markdown ends with compare's Markdown leaderboard, as the
		// table ends with its table.
		board, err := loadStateBoard(root, nil)
		if err != nil {
			return err
		}
		md := render
		render = func(w io.Writer, a *report.All) error {
			if err := md(w, a); err != nil {
				return err
			}
			if len(board.Tasks) == 0 {
				return nil
			}
			fmt.Fprintln(w)
			return compare.WriteMarkdown(w, board)
		}
	case "json":
		// The JSON carries the same leaderboard as `bench compare
		// --format json` under "leaderboard" (report, a reader, cannot
		// import compare: the document is put together here).
		board, err := loadStateBoard(root, nil)
		if err != nil {
			return err
		}
		fillSubjects(env, o.benchCfg, board)
		render = func(w io.Writer, a *report.All) error {
			return report.WriteJSON(w, struct {
				*report.All
				Leaderboard *compare.Board `json:"leaderboard"`
			}{a, board})
		}
	}
	return emit(env, env.path(o.out), func(w io.Writer) error { return render(w, a) })
}
