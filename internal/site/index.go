package site

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/report"
	"github.com/perfbench/perfbench/internal/stats"
	"github.com/perfbench/perfbench/internal/textx"
)

// lbCell is one cell of the leaderboard: the value, its interval and
// denominator in smaller type.
type lbCell struct{ Text, Sub string }

// lbColumn is one leaderboard column; Def is its definition's anchor on the
// index (definitions).
type lbColumn struct {
	Head, Def string
	cell      func(compare.Row) lbCell
}

// Headline says the column is one of the first screen's (the browser test
// checks they are in view at 1400 px).
func (c lbColumn) Headline() bool { return slices.Contains(headlineColumns, c.Head) }

var headlineColumns = []string{"correct", "Opt@1", "SR", "W / M / L / I", "cost"}

func rate(m compare.Metric) lbCell {
	if !m.Valid {
		return lbCell{Text: "-", Sub: fmt.Sprintf("n=%d", m.N)}
	}
	return lbCell{fmt.Sprintf("%.0f%%", 100*m.Value), fmt.Sprintf("[%.0f, %.0f] n=%d", 100*m.Lo, 100*m.Hi, m.N)}
}

func optRate(m *compare.Metric) lbCell {
	if m == nil {
		return lbCell{Text: "-"}
	}
	return rate(*m)
}

func ratioCell(m compare.Metric) lbCell {
	if !m.Valid {
		return lbCell{Text: "-", Sub: fmt.Sprintf("n=%d", m.N)}
	}
	return lbCell{times(m.Value), fmt.Sprintf("[%s, %s] n=%d", num(m.Lo), num(m.Hi), m.N)}
}

// lbColumns are the leaderboard's columns after the run, agent and model;
// the same metrics as compare's table, each with its CI and denominator.
// The headline ones come first, so that at 1400 px they are on the first
// screen without scrolling the table sideways; the rest follow.
var lbColumns = []lbColumn{
	{"correct", "def-correct", func(r compare.Row) lbCell { return rate(r.CorrectRate) }},
	{"Opt@1", "def-opt1", func(r compare.Row) lbCell { return rate(r.Opt1) }},
	{"SR", "def-sr", func(r compare.Row) lbCell { return ratioCell(r.SR) }},
	{"W / M / L / I", "def-verdict", func(r compare.Row) lbCell {
		return lbCell{Text: fmt.Sprintf("%d / %d / %d / %d", r.Win, r.Match, r.Loss, r.Inconclusive)}
	}},
	{"cost", "def-cost", func(r compare.Row) lbCell {
		c := lbCell{Text: compare.CostText(r.CostUSD)}
		if r.CostUSD == 0 {
			return c
		}
		c.Sub = compare.CostText(r.CostPerItemUSD) + "/item"
		if r.CostPerOpt1USD != nil {
			c.Sub += ", " + compare.CostText(*r.CostPerOpt1USD) + "/Opt@1"
		}
		return c
	}},
	{"K", "def-samples", func(r compare.Row) lbCell { return lbCell{Text: strconv.Itoa(r.Samples)} }},
	{"items", "def-items", func(r compare.Row) lbCell { return lbCell{Text: strconv.Itoa(r.Items)} }},
	{"evaluated", "def-items", func(r compare.Row) lbCell { return lbCell{Text: strconv.Itoa(r.Evaluated)} }},
	{"incomplete", "def-incomplete", func(r compare.Row) lbCell {
		n := r.Missing + r.InfraError + r.NotEvaluated
		if n == 0 {
			return lbCell{Text: "0"}
		}
		return lbCell{strconv.Itoa(n), fmt.Sprintf("missing %d, infra_error %d, not evaluated %d", r.Missing, r.InfraError, r.NotEvaluated)}
	}},
	{"patch", "def-patch", func(r compare.Row) lbCell { return rate(r.PatchRate) }},
	{"opt_base@1", "def-optbase", func(r compare.Row) lbCell { return rate(r.OptBase1) }},
	{"Opt@K", "def-optk", func(r compare.Row) lbCell { return optRate(r.OptK) }},
	{"pass@k", "def-passk", func(r compare.Row) lbCell { return optRate(r.PassK) }},
	{"geomean correct", "def-geomean", func(r compare.Row) lbCell { return ratioCell(r.GeoMeanCorrect) }},
	{"geomean all", "def-geomean", func(r compare.Row) lbCell { return ratioCell(r.GeoMeanAll) }},
	{"tokens in / out / cache", "def-cost", func(r compare.Row) lbCell {
		return lbCell{Text: fmt.Sprintf("%d / %d / %d", r.InputTokens, r.OutputTokens, r.CacheReadTokens+r.CacheWriteTokens)}
	}},
	{"wall", "def-cost", func(r compare.Row) lbCell { return lbCell{Text: compare.WallText(r.WallSeconds)} }},
}

// The leaderboard's view: per task its rows and pairs.
type lbView struct {
	Heads []lbColumn
	Defs  bool // the heads link to the definitions on the same page
	Tasks []lbTask
	Foot  string
	// Problems are the board's unreadable files.
	Problems []string
}

type lbTask struct {
	ID    string
	Rows  []lbRow
	Pairs []lbPair
	// Warnings name the items weighing more than compare.DominantShare
	// of an aggregate, as the terminal table prints them.
	Warnings []string
}

type lbRow struct {
	Href, RunID, Agent, Model string
	Incomplete                bool
	Cells                     []lbCell
}

type lbPair struct {
	A, B, Shared, Only, Opt1, P, SR, Wins string
}

func diffCell(m compare.Metric, scale float64, unit string) string {
	if !m.Valid {
		return "-"
	}
	return fmt.Sprintf("%+.3g%s [%+.3g, %+.3g] n=%d", scale*m.Value, unit, scale*m.Lo, scale*m.Hi, m.N)
}

func leaderboardView(b *compare.Board, href func(runID string) string, defs bool) lbView {
	v := lbView{Heads: lbColumns, Defs: defs, Problems: b.Problems,
		Foot: fmt.Sprintf("Rates are over all plan items (items): missing, infra_error and unevaluated items count as failures, and are counted under incomplete. "+
			"SR over the items with a measured human speedup (n), a failed candidate counting as 1.0×; missing and infra_error items leave SR (n says how many entered); geomean correct over correct candidates. "+
			"[..] is the %.0f%% percentile bootstrap in two levels, over items and then over the timed rounds within each item (opt_base@1, Opt@1, Opt@K, SR, geomeans), "+
			"or over items only (patch, correct, pass@k and the paired differences); B = %d, seed %d.", 100*b.Bootstrap.Confidence, b.Bootstrap.Resamples, b.Bootstrap.Seed)}
	for _, t := range b.Tasks {
		lt := lbTask{ID: t.ID, Warnings: compare.DominantWarnings(t)}
		if l := compare.ExcludedFlaggedLine(t); l != "" {
			lt.Warnings = append(lt.Warnings, l)
		}
		for _, r := range t.Rows {
			row := lbRow{RunID: r.RunID, Agent: r.Agent, Model: orDash(r.Model), Incomplete: r.Incomplete}
			if href != nil {
				row.Href = href(r.RunID)
			}
			for _, c := range lbColumns {
				row.Cells = append(row.Cells, c.cell(r))
			}
			lt.Rows = append(lt.Rows, row)
		}
		for _, p := range t.Pairs {
			only := "-"
			if len(p.OnlyA)+len(p.OnlyB) > 0 {
				only = fmt.Sprintf("%s / %s", orDash(strings.Join(p.OnlyA, ", ")), orDash(strings.Join(p.OnlyB, ", ")))
			}
			lt.Pairs = append(lt.Pairs, lbPair{A: p.A, B: p.B, Shared: strconv.Itoa(p.Shared), Only: only,
				Opt1: diffCell(p.Opt1Diff, 100, "pp"), P: strconv.FormatFloat(p.McNemarP, 'g', 3, 64),
				SR: diffCell(p.SRDiff, 1, ""), Wins: fmt.Sprintf("%d / %d", p.WinsA, p.WinsB)})
		}
		v.Tasks = append(v.Tasks, lt)
	}
	return v
}

// Leaderboard is the leaderboard of b as an HTML fragment, with the style
// and script it needs: the one rendering shared by the site's index and
// report-all's HTML page (which gets it through report.Embed, since report
// cannot import this package). The rows link nowhere: report-all's page is
// one file.
func Leaderboard(b *compare.Board) (*report.Embed, error) {
	var buf bytes.Buffer
	if err := siteTemplates.ExecuteTemplate(&buf, "leaderboard", leaderboardView(b, nil, false)); err != nil {
		return nil, err
	}
	return &report.Embed{CSS: siteCSS(), HTML: template.HTML(buf.String()), JS: siteJS()}, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// The index's view.
type indexView struct {
	Title       string
	CSS         template.CSS
	JS          template.JS
	Leaderboard lbView
	Tasks       []indexTask
	Problems    []string
	Thresholds  string
}

type indexTask struct {
	ID      string
	Anchor  string
	Runs    []matrixHead
	Rows    []matrixRowView
	States  []legendEntry // the states present, for the legend and the filter
	Pareto  chart
	Curves  chart
	Legend  []legendEntry
	Summary string
}

type matrixHead struct{ Page, RunID, Agent, Model string }

type matrixRowView struct {
	ID, Short, Full, Subject string
	Human                    string // the human commit's speedup over the baseline
	Cells                    []matrixCellView
	// Calibration is the item's class when `bench calibrate` found it
	// not stable ("" otherwise), as compare's matrix marks it.
	Calibration string
	// ExcludedFlagged: compare --exclude-flagged left the item out of
	// every run's aggregates.
	ExcludedFlagged bool
}

type matrixCellView struct {
	Class, Text, Sub, Page string
}

type legendEntry struct{ Class, Label string }

func writeIndex(buf *bytes.Buffer, s *siteData) error {
	v := indexView{Title: "perfbench leaderboard", CSS: report.Stylesheet() + "\n" + siteCSS(), JS: siteJS(), Thresholds: thresholdsText()}
	pages := map[string]string{}
	for _, r := range s.runs {
		pages[r.row.RunID] = r.page
		for _, p := range r.problems {
			v.Problems = append(v.Problems, p)
		}
	}
	v.Leaderboard = leaderboardView(s.board, func(id string) string { return pages[id] }, true)
	for i, t := range s.tasks {
		v.Tasks = append(v.Tasks, indexTaskView(t, i))
	}
	return siteTemplates.ExecuteTemplate(buf, "index.html", v)
}

func indexTaskView(t *siteTask, i int) indexTask {
	it := indexTask{ID: t.task.ID, Anchor: "task-" + strconv.Itoa(i+1)}
	for c, r := range t.runs {
		it.Runs = append(it.Runs, matrixHead{Page: r.page, RunID: r.row.RunID, Agent: r.row.Agent, Model: orDash(r.row.Model)})
		it.Legend = append(it.Legend, legendEntry{paletteClass(c), r.row.Agent + " · " + orDash(r.row.Model)})
	}
	seen := map[string]bool{}
	if m := t.task.Matrix; m != nil {
		for _, mi := range m.Items {
			rv := matrixRowView{ID: mi.ID, Full: mi.Human, Short: mi.HumanShort, Subject: textx.Brief(mi.Subject, 100), Human: "-"}
			if mi.HumanSpeedup > 0 {
				rv.Human = compare.HumanText(mi)
			}
			if mi.Calibration != "" && mi.Calibration != stats.ClassStable {
				rv.Calibration = string(mi.Calibration)
			}
			rv.ExcludedFlagged = mi.ExcludedFlagged
			for col, c := range mi.Cells {
				if col >= len(t.runs) {
					break
				}
				r := t.runs[col]
				cv := cellView(c, r.samples, r.itemByID[mi.ItemID(c)].page())
				seen[strings.TrimPrefix(cv.Class, "c-")] = true
				rv.Cells = append(rv.Cells, cv)
			}
			it.Rows = append(it.Rows, rv)
		}
	}
	var states []string
	for _, st := range leadingStates {
		if seen[st] {
			states = append(states, st)
			delete(seen, st)
		}
	}
	rest := make([]string, 0, len(seen))
	for st := range seen {
		rest = append(rest, st)
	}
	slices.Sort(rest)
	for _, st := range append(states, rest...) {
		it.States = append(it.States, legendEntry{Class: st, Label: st})
	}
	it.Pareto = paretoChart(t, i)
	it.Curves = curveChart(t, i)
	return it
}

// stateClass is a state as a CSS class name.
func stateClass(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// Chart geometry.
const (
	plotW, plotH = 520.0, 260.0
	padL, padT   = 56.0, 16.0
	padB         = 44.0
)

// paretoChart: one point per run at (cost, Opt@1) with Opt@1's CI, and
// the frontier: the runs no cheaper run matches in Opt@1.
func paretoChart(t *siteTask, ti int) chart {
	c := chart{ID: fmt.Sprintf("pareto-%d", ti+1), Label: "Cost against Opt@1, one point per run, the Pareto frontier drawn",
		W: f1(padL + plotW + 200), H: chartHeight(len(t.runs))}
	maxCost := 0.0
	for _, r := range t.runs {
		maxCost = math.Max(maxCost, r.row.CostUSD)
	}
	noCost := maxCost <= 0
	if noCost {
		maxCost = 1
	}
	xTicks := niceTicks(0, maxCost*1.05, 5)
	hiX := math.Max(xTicks[len(xTicks)-1], maxCost*1.05)
	xOf := func(v float64) float64 { return padL + plotW*v/hiX }
	yOf := func(v float64) float64 { return padT + plotH*(1-v) }
	for _, tk := range xTicks {
		c.Els = append(c.Els, line(xOf(tk), padT, xOf(tk), padT+plotH, "grid"),
			text(xOf(tk), padT+plotH+14, "middle", "tick", "$"+strconv.FormatFloat(tk, 'g', 4, 64)))
	}
	for _, tk := range []float64{0, 0.25, 0.5, 0.75, 1} {
		c.Els = append(c.Els, line(padL, yOf(tk), padL+plotW, yOf(tk), "grid"),
			text(padL-6, yOf(tk)+4, "end", "tick", fmt.Sprintf("%.0f%%", 100*tk)))
	}
	xLabel := "total cost (US dollars)"
	if noCost {
		xLabel += ": no run recorded a cost"
	}
	c.Els = append(c.Els, line(padL, padT+plotH, padL+plotW, padT+plotH, "axis"), line(padL, padT, padL, padT+plotH, "axis"),
		text(padL+plotW/2, padT+plotH+34, "middle", "axis-label", xLabel),
		text(padL+plotW+12, padT+10, "start", "axis-label", "y: Opt@1 with its 95% CI"))
	// The frontier: by cost, then Opt@1 (higher first); a run is on it
	// when no cheaper-or-equal run has a higher or equal Opt@1.
	order := make([]int, len(t.runs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ra, rb := t.runs[a].row, t.runs[b].row
		if ra.CostUSD != rb.CostUSD {
			return cmpFloat(ra.CostUSD, rb.CostUSD)
		}
		return cmpFloat(rb.Opt1.Value, ra.Opt1.Value)
	})
	var fx, fy []float64
	best := -1.0
	for _, i := range order {
		r := t.runs[i].row
		if !r.Opt1.Valid || r.Opt1.Value <= best {
			continue
		}
		best = r.Opt1.Value
		if len(fx) > 0 {
			// A step: the frontier holds its value until the next
			// run improves on it.
			fx, fy = append(fx, xOf(r.CostUSD)), append(fy, fy[len(fy)-1])
		}
		fx, fy = append(fx, xOf(r.CostUSD)), append(fy, yOf(r.Opt1.Value))
	}
	if len(fx) > 0 {
		fx, fy = append(fx, padL+plotW), append(fy, fy[len(fy)-1])
		c.Els = append(c.Els, polyline(fx, fy, "frontier", "Pareto frontier"))
	}
	for i, r := range t.runs {
		row := r.row
		if !row.Opt1.Valid {
			continue
		}
		x, y := xOf(row.CostUSD), yOf(row.Opt1.Value)
		tip := fmt.Sprintf("%s: Opt@1 %.0f%% [%.0f, %.0f], cost %s", row.RunID, 100*row.Opt1.Value, 100*row.Opt1.Lo, 100*row.Opt1.Hi, textx.USDCents(row.CostUSD))
		c.Els = append(c.Els, line(x, yOf(row.Opt1.Lo), x, yOf(row.Opt1.Hi), "ci "+paletteClass(i)),
			circle(x, y, 5, "pt "+paletteClass(i), tip))
		c.Els = append(c.Els, text(padL+plotW+12, padT+30+float64(i)*16, "start", "lbl "+paletteClass(i), "● "+textx.Truncate(row.Agent+" · "+orDash(row.Model), 28)))
	}
	return c
}

// chartHeight fits the plot and the legend of n runs beside it.
func chartHeight(n int) string {
	return f1(math.Max(padT+plotH+padB, padT+40+16*float64(n)))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// curveChart: per run, the share of items reaching t × the human speedup,
// t from 0.5 to 1.5.
func curveChart(t *siteTask, ti int) chart {
	c := chart{ID: fmt.Sprintf("curves-%d", ti+1), Label: "Threshold curves: share of items whose agent speedup reaches t times the human's, one curve per run",
		W: f1(padL + plotW + 200), H: chartHeight(len(t.runs))}
	ts := compare.ThresholdSteps()
	lo, hi := ts[0], ts[len(ts)-1]
	xOf := func(v float64) float64 { return padL + plotW*(v-lo)/(hi-lo) }
	yOf := func(v float64) float64 { return padT + plotH*(1-v) }
	for _, tk := range []float64{0.5, 0.75, 1, 1.25, 1.5} {
		c.Els = append(c.Els, line(xOf(tk), padT, xOf(tk), padT+plotH, "grid"), text(xOf(tk), padT+plotH+14, "middle", "tick", strconv.FormatFloat(tk, 'g', 3, 64)+"×"))
	}
	for _, tk := range []float64{0, 0.25, 0.5, 0.75, 1} {
		c.Els = append(c.Els, line(padL, yOf(tk), padL+plotW, yOf(tk), "grid"), text(padL-6, yOf(tk)+4, "end", "tick", fmt.Sprintf("%.0f%%", 100*tk)))
	}
	c.Els = append(c.Els, line(padL, padT+plotH, padL+plotW, padT+plotH, "axis"), line(padL, padT, padL, padT+plotH, "axis"),
		line(xOf(1), padT, xOf(1), padT+plotH, "ref"), line(xOf(0.95), padT, xOf(0.95), padT+plotH, "ref2"),
		text(padL+plotW/2, padT+plotH+34, "middle", "axis-label", "t: agent speedup ÷ human speedup at least (dashed: 1× and Opt@1's 0.95×)"))
	for i, r := range t.runs {
		curve := r.row.ThresholdCurve
		xs, ys := make([]float64, len(curve)), make([]float64, len(curve))
		var at []string
		for j, p := range curve {
			xs[j], ys[j] = xOf(p.T), yOf(p.Share)
			if p.T == lo || p.T == 1 || p.T == hi {
				at = append(at, fmt.Sprintf("%.0f%% at %g×", 100*p.Share, p.T))
			}
		}
		tip := r.row.RunID
		if len(at) > 0 {
			tip += ": " + strings.Join(at, ", ")
		}
		c.Els = append(c.Els, polyline(xs, ys, "curve "+paletteClass(i), tip))
		c.Els = append(c.Els, text(padL+plotW+12, padT+10+float64(i)*16, "start", "lbl "+paletteClass(i), "— "+textx.Truncate(r.row.Agent+" · "+orDash(r.row.Model), 28)))
	}
	return c
}

// thresholdsText lists the curve's t for the definitions.
func thresholdsText() string {
	ts := compare.ThresholdSteps()
	return fmt.Sprintf("%g to %g by %g", ts[0], ts[len(ts)-1], math.Round((ts[1]-ts[0])*100)/100)
}
