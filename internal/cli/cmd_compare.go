package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/report"
)

// compareFormats are the formats of `bench compare`: the same table type as
// report's, so help and errors are built the same way.
var compareFormats = report.Formats[*compare.Board]{
	{Name: "table", Doc: "one aligned table per task, one row per run (the short set of columns; --long for all), a legend line under it (--no-legend drops it), warnings naming any item that weighs more than 25% of SR, Opt@1 or the geomean, the pairs, and with --matrix the item × run matrix (each human commit with its short sha and subject, from the mirrors prepare left)", Write: compare.WriteTable},
	{Name: "json", Doc: "the same data for machines, with the bootstrap's method, resamples and seed, per item P(opt) and shares, the threshold curve and the matrix", Write: compare.WriteJSON},
	{Name: "md", Aliases: []string{"markdown"}, Doc: "one Markdown table per task", Write: compare.WriteMarkdown},
	{Name: "csv", Doc: "one line per run, each metric as value, lo, hi and n", Write: compare.WriteCSV},
	{Name: "html", Doc: compareHTMLDoc, Write: htmlNeedsDir}, // compare_html.go
}

type compareOptions struct {
	stateRoot string
	benchCfg  string
	format    string
	out       string
	pairs     []string
	view      compare.View
	// stableOnly ranks over the items calibration.json calls stable.
	stableOnly bool
	// excludeFlagged ranks every run without the items the forensic
	// scans flagged in any run.
	excludeFlagged bool
}

func newCompareCmd(env *System) *cobra.Command {
	o := &compareOptions{}
	c := &cobra.Command{
		Use:   "compare [RUN_DIR...] [--state-root state] [--format " + compareFormats.Choices() + "] [--out FILE|DIR] [--long] [--matrix] [--no-legend]",
		Short: "Compare runs: a leaderboard per task with 95% confidence intervals",
		Long: `Compare runs: one row per run, grouped by task, with the patch and correct
rates, opt_base@1 and Opt@1 (GSO), Opt@K and pass@k with samples, the speedup
ratio SR (SWE-fficiency: harmonic mean of agent ÷ human speedup, a failure
counting as 1.0), the verdicts, geometric-mean speedups, cost, tokens and
wall time; then, for runs of the same plan, every pair (up to 10 runs, else
those of --pairs): the differences in Opt@1 and SR on the items both
evaluated, with paired bootstrap intervals, the exact McNemar p of Opt@1,
the items each wins (both runs' terms of an item divided by one human
speedup, the geometric mean of theirs, so two failures tie), and the items
evaluated in one run only, named; beyond 10 runs a line says the pairs
were omitted, and a --pairs run id not compared is an error.
Rates are over all plan items; missing, infra_error and
unevaluated items are counted in their own column and count as failures.
Intervals are percentile bootstraps over items and, within each item, over
its timed rounds (two levels; B = 2,000, seeded: the same files give the
same numbers); patch, correct, pass@k and the paired differences resample
items only. Without RUN_DIR, every evaluated run under the state root.
A RUN_DIR named twice is compared once. --long, --matrix and --no-legend
apply to the table only. --out writes to a file (atomically) instead of
stdout; with --format html, it is the site's directory (its .git, CNAME and
.nojekyll kept; a link or the working directory refused).

` + compareFormats.Help(),
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error { return runCompare(env, o, args) },
	}
	c.Flags().StringVar(&o.stateRoot, "state-root", "", "state root (default paths.state_root of bench.yaml)")
	c.Flags().StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	c.Flags().StringVar(&o.format, "format", compareFormats.Default(), compareFormats.List())
	c.Flags().StringVar(&o.out, "out", "", "write to this file instead of stdout (--format html: the site's directory)")
	c.Flags().BoolVar(&o.view.Long, "long", false, "table: every column (opt_base@1, Opt@K, pass@k, geomeans, cost per item and per Opt@1, tokens, wall time), not only the short set")
	c.Flags().BoolVar(&o.view.NoLegend, "no-legend", false, "table: drop the legend lines under the tables")
	c.Flags().BoolVar(&o.view.Matrix, "matrix", false, "table: print the item × run matrix under each task's leaderboard (the JSON always has it)")
	c.Flags().BoolVar(&o.excludeFlagged, "exclude-flagged", false, "rank without the items the forensic scans flagged (a leak attempt or a reward-hack rule): an item flagged in any run is left out of every run's aggregates and pairs, and named under the table")
	c.Flags().BoolVar(&o.stableOnly, "stable-only", false, "rank over the items 'bench calibrate' found stable only (default: all items, the unstable ones counted; a warning when no run has a calibration.json)")
	c.Flags().StringArrayVar(&o.pairs, "pairs", nil, fmt.Sprintf("RUN_ID_A,RUN_ID_B: a pair to compare when a task has more than %d runs (repeatable)", compare.MaxAllPairs))
	return c
}

func runCompare(env *System, o *compareOptions, args []string) error {
	if err := checkCompareHTML(o); err != nil {
		return err
	}
	render, err := lookupFormat(compareFormats, o.format)
	if err != nil {
		return err
	}
	var pairs [][2]string
	for _, p := range o.pairs {
		a, b, ok := strings.Cut(p, ",")
		if !ok || a == "" || b == "" || strings.Contains(b, ",") {
			return badinput.Errorf("--pairs %q: expected two run ids separated by a comma", p)
		}
		pairs = append(pairs, [2]string{a, b})
	}
	if o.format != "table" && (o.view.Long || o.view.Matrix || o.view.NoLegend) {
		return badinput.Errorf("--long, --matrix and --no-legend apply to --format table only (json always has the matrix; md and csv have every column), not to --format %s", o.format)
	}
	dirs, err := runDirArgs(env, args)
	if err != nil {
		return err
	}
	var b *compare.Board
	if len(dirs) == 0 {
		root, err := stateRoot(env, o.stateRoot, o.benchCfg)
		if err != nil {
			return err
		}
		if b, err = loadStateBoardWith(root, compare.Options{EvaluatedOnly: true, Pairs: pairs, StableOnly: o.stableOnly, ExcludeFlagged: o.excludeFlagged}); err != nil {
			return err
		}
	} else if b, err = compare.Load(dirs, compare.Options{Pairs: pairs, StableOnly: o.stableOnly, ExcludeFlagged: o.excludeFlagged}); err != nil {
		// A named directory that is not a run is the caller's mistake.
		return badinput.Wrap(err)
	}
	if err := checkPairs(b, pairs); err != nil {
		return err
	}
	if o.stableOnly && !anyCalibration(b) {
		// A warning, not an error: the board is still right, only
		// unfiltered, and a script comparing runs keeps working before the
		// first calibration.
		fmt.Fprintln(env.Stderr, "warning: --stable-only: no compared run's plan has a calibration.json (run 'bench calibrate'); ranking all items")
	}
	b.View = o.view
	fillSubjects(env, o.benchCfg, b)
	if o.format == "html" {
		return writeCompareSite(env, b, env.path(o.out))
	}
	return emit(env, env.path(o.out), func(w io.Writer) error { return render(w, b) })
}

// anyCalibration reports whether some row of the board has a calibration.
func anyCalibration(b *compare.Board) bool {
	for _, t := range b.Tasks {
		for _, r := range t.Rows {
			if r.Calibration != nil {
				return true
			}
		}
	}
	return false
}

// runDirArgs are the RUN_DIR arguments, each checked to exist, a
// directory named twice (the same after cleaning and resolving links)
// kept once with a note on stderr: a run is never paired with itself.
func runDirArgs(env *System, args []string) ([]string, error) {
	var dirs []string
	seen := map[string]string{}
	for _, a := range args {
		dir := env.path(a)
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return nil, badinput.Errorf("%s: no such run directory", a)
		} else if err != nil {
			return nil, badinput.Wrap(fmt.Errorf("run directory %s: %w", a, err))
		}
		key := filepath.Clean(dir)
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			if abs, err := filepath.Abs(r); err == nil {
				key = abs
			}
		}
		if first, ok := seen[key]; ok {
			fmt.Fprintf(env.Stderr, "note: %s is %s, named twice: compared once\n", a, first)
			continue
		}
		seen[key] = a
		dirs = append(dirs, dir)
	}
	return dirs, nil
}

// checkPairs refuses a --pairs run id that is none of the board's rows.
func checkPairs(b *compare.Board, pairs [][2]string) error {
	ids := b.RunIDs()
	for _, p := range pairs {
		for _, id := range p {
			if !slices.Contains(ids, id) {
				return badinput.Errorf("--pairs %s,%s: no run %q among the compared runs (%s)", p[0], p[1], id, strings.Join(ids, ", "))
			}
		}
	}
	return nil
}

// loadStateBoard is the leaderboard of every evaluated run under root, the
// unreadable run.json files among its problems.
func loadStateBoard(root string, pairs [][2]string) (*compare.Board, error) {
	return loadStateBoardWith(root, compare.Options{EvaluatedOnly: true, Pairs: pairs})
}

// loadStateBoardWith is loadStateBoard with every option of compare.Load.
func loadStateBoardWith(root string, o compare.Options) (*compare.Board, error) {
	dirs, bad, err := compare.StateRunDirs(root)
	if err != nil {
		return nil, err
	}
	b, err := compare.Load(dirs, o)
	if err != nil {
		return nil, err
	}
	for _, e := range bad {
		b.Problems = append(b.Problems, e.Error())
	}
	return b, nil
}

// stateRoot is --state-root, else paths.state_root of bench.yaml.
func stateRoot(env *System, flag, benchCfg string) (string, error) {
	if root := env.path(flag); root != "" {
		return root, nil
	}
	cfg, err := env.loadBench(benchCfg)
	if err != nil {
		return "", err
	}
	return cfg.bench.Paths.StateRoot, nil
}
