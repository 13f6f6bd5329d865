package report

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
	"github.com/perfbench/perfbench/internal/textx"
)

// The HTML rendering is one self-contained page: inline CSS, inline SVG
// charts whose geometry is computed here, no script and no external
// resource, so it opens offline, prints, and can be mailed as one file.
// Every piece of text from the run's files goes through html/template.

// htmlPage is what the report template renders.
type htmlPage struct {
	// ExtraCSS is more style for a page that embeds another package's
	// HTML; Up links back to a site's index (both empty in the
	// single-file page).
	ExtraCSS template.CSS
	Up       string
	Title    string
	Heading  string
	Facts    []fact
	Cards    []card
	Figures  []fact
	Charts   []chart
	Eval     bool
	// Secondary: some item has secondary metrics (their column).
	Secondary bool
	Rows      []htmlRow
	// Legend explains the table's columns and the counts.
	Legend   []string
	Missing  string
	Problems []string
}

type fact struct{ Label, Value string }

// card is one headline figure; Meter is an optional small bar under it.
type card struct {
	Label, Value, Note string
	Meter              *chart
}

// chart is one inline SVG drawing with its caption.
type chart struct {
	ID, Caption, Note string
	W, H              string
	Label             string
	Els               []svgEl
}

// svgEl is one SVG element. Kind picks the element; the coordinates are
// preformatted numbers: rect x, y, width, height; line x1 = X, y1 = Y,
// x2 = W, y2 = H; circle cx = X, cy = Y, r = W; text x, y.
type svgEl struct {
	Kind       string
	X, Y, W, H string
	Points     string
	Class      string
	Anchor     string
	Text       string
	Tip        string
}

type htmlRow struct {
	// Href links the item to its own page (in a site).
	Href string
	// Aggregate is an item's row above its samples (a run with samples),
	// Sample one of the rows beneath.
	Aggregate, Sample                                          bool
	AgentHuman                                                 string
	Dir, Status, StatusClass, Duration, Lines, Files, Cost     string
	EvalStatus, EvalClass, Human, Agent, Verdict, VerdictClass string
	// Secondary is the secondary metrics' cell (secondaryCell).
	Secondary string
	Reason    string
}

// WriteHTML renders the report as one self-contained HTML page with
// charts: counts by status, per-item speedups (when evaluated) and cost per
// item (when any), then the per-item table of the Markdown rendering.
func WriteHTML(w io.Writer, r *Report) error {
	return htmlTemplates.ExecuteTemplate(w, "report.html", reportPage(r))
}

// Links are the relative links of a run page inside a site (bench compare
// --format html): Up to the index, Item to each item's page ("" for none).
type Links struct {
	Up   string
	Item func(dir string) string
}

// WriteHTMLLinked is WriteHTML with the links of a site: the same page,
// with a way back to the index and each item linked to its own page.
func WriteHTMLLinked(w io.Writer, r *Report, l Links) error {
	p := reportPage(r)
	p.Up = l.Up
	if l.Item != nil {
		for i := range p.Rows {
			if !p.Rows[i].Aggregate {
				p.Rows[i].Href = l.Item(p.Rows[i].Dir)
			}
		}
	}
	return htmlTemplates.ExecuteTemplate(w, "report.html", p)
}

// Stylesheet is the pages' stylesheet (style.css), for the pages of a site
// that extend it.
func Stylesheet() template.CSS {
	b, err := templateFiles.ReadFile("templates/style.css")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	return template.CSS(b)
}

// Embed is HTML rendered by another package for one of these pages
// (report-all's leaderboard, rendered by package site), with the style and
// script it needs. The script only adds to a page complete without it.
type Embed struct {
	CSS  template.CSS
	HTML template.HTML
	JS   template.JS
}

func reportPage(r *Report) *htmlPage {
	p := &htmlPage{
		Title:   "perfbench run " + r.RunID,
		Heading: r.RunID,
		Eval:    hasEval(r), Secondary: hasEval(r) && hasSecondary(r),
		Facts: []fact{
			{"task", r.Task},
			{"agent", r.Agent + " (" + r.AgentType + ")"},
			{"model", orDash(r.Model)},
			{"samples", strconv.Itoa(r.Samples)},
			{"items", strconv.Itoa(r.Total)},
		},
		Problems: r.Problems,
	}
	if r.Flagged > 0 {
		p.Facts = append(p.Facts, fact{"forensics", fmt.Sprintf("%d item(s) flagged: %d with leak attempts (%d leak_suspected), %d with reward-hack flags", r.Flagged, r.LeakAttempts, r.LeakSuspected, r.RewardHacks)})
	}
	p.Cards = reportCards(r)
	p.Figures = reportFigures(r)
	if len(r.Counts) > 0 {
		p.Charts = append(p.Charts, statusChart(r.Counts))
	}
	if hasEval(r) {
		p.Charts = append(p.Charts, speedupChart(r.Items))
	}
	if c, ok := costChart(r.Items); ok {
		p.Charts = append(p.Charts, c)
	}
	aggs := map[string]SampleItem{}
	for _, a := range r.SampleItems {
		aggs[a.ID] = a
	}
	seen := map[string]bool{}
	for _, it := range r.Items {
		if r.Samples > 1 && !seen[it.ID] {
			// The item's samples aggregated, as in the terminal table.
			seen[it.ID] = true
			c := aggregateRow(r, it.ID, aggs[it.ID])
			p.Rows = append(p.Rows, htmlRow{Aggregate: true, Dir: it.ID, Status: c.status, Duration: c.duration, Cost: c.cost,
				EvalStatus: c.eval, Human: c.human, Agent: c.agent, AgentHuman: "", Verdict: c.verdict})
		}
		row := htmlRow{
			Sample: r.Samples > 1,
			Dir:    it.Dir, Status: it.Status, StatusClass: statusClass(it.Status),
			Duration: fmt.Sprintf("%.1fs", it.DurationSeconds),
			Lines:    fmt.Sprintf("+%d/-%d", it.LinesAdded, it.LinesRemoved),
			Files:    strconv.Itoa(it.FilesChanged), Cost: money(it.CostUSD),
			Reason: itemReason(it),
		}
		if p.Eval {
			row.EvalStatus, row.Human, row.Agent, row.Verdict = evalCells(it.Eval)
			row.AgentHuman = agentOverHuman(it.Eval)
			row.Secondary = secondaryCell(it.Eval)
			if it.Eval != nil {
				row.EvalClass = evalClass(it.Eval.Status)
				row.VerdictClass = verdictClass(it.Eval.Verdict)
			}
		}
		p.Rows = append(p.Rows, row)
	}
	if len(r.Missing) > 0 {
		p.Missing = fmt.Sprintf("%d: %s", len(r.Missing), strings.Join(r.Missing, ", "))
	}
	if p.Eval {
		p.Legend = append(p.Legend, legend(r.Items))
		if r.Samples > 1 {
			p.Legend = append(p.Legend, sampleLegend)
		}
	}
	return p
}

// reportCards are the headline figures.
func reportCards(r *Report) []card {
	cards := []card{{Label: "items", Value: strconv.Itoa(r.Total), Note: CountsLine(r.Counts)}}
	if r.SpentUSD > 0 || r.MaxTotalBudgetUSD > 0 {
		c := card{Label: "spend", Value: textx.USD(r.SpentUSD)}
		if r.MaxTotalBudgetUSD > 0 {
			c.Note = fmt.Sprintf("of %s cap (%s)", textx.USDShort(r.MaxTotalBudgetUSD), pct(r.SpentUSD/r.MaxTotalBudgetUSD))
			c.Meter = meter(r.SpentUSD, r.MaxTotalBudgetUSD)
		} else {
			c.Note = "no run cap"
		}
		cards = append(cards, c)
	}
	if e := r.Evaluation; e != nil {
		cards = append(cards,
			card{Label: "patch rate", Value: pct(e.PatchRate), Note: fmt.Sprintf("%d of %d: non-empty, applied", e.Patched, e.Units)},
			card{Label: "correct rate", Value: pct(e.CorrectRate), Note: fmt.Sprintf("%d of %d: non-empty patch past the gate", e.Correct, e.Units)},
			card{Label: "Opt@1", Value: pct(e.OptAt1), Note: "opt_base@1 " + pct(e.OptBaseAt1)},
			card{Label: "win / match / loss / inconclusive", Value: fmt.Sprintf("%d / %d / %d / %d", e.Win, e.Match, e.Loss, e.Inconclusive), Note: fmt.Sprintf("of correct candidates; %d match(es) within the band", e.MatchSignificant)},
		)
	}
	return cards
}

// reportFigures are the run-level lines of the table and Markdown, as
// label and value.
func reportFigures(r *Report) []fact {
	f := []fact{{"status", CountsLine(r.Counts)}}
	if r.SpentUSD > 0 || r.MaxTotalBudgetUSD > 0 {
		f = append(f, fact{"spend", spendText(r)})
	}
	if r.PartialUsage > 0 {
		f = append(f, fact{"partial usage", fmt.Sprintf("%d item(s) stopped before reporting final usage", r.PartialUsage)})
	}
	if len(r.FinalStates) > 0 {
		f = append(f, fact{"agent final states", countsText(r.FinalStates)})
	}
	if len(r.LimitsHit) > 0 {
		l := countsText(r.LimitsHit)
		if r.OOMKilled > 0 {
			l += fmt.Sprintf(" (%d out-of-memory kill(s))", r.OOMKilled)
		}
		f = append(f, fact{"limits hit", l})
	}
	if len(r.InfraKinds) > 0 {
		f = append(f, fact{"infra errors", countsText(r.InfraKinds)})
	}
	if r.Stopped != "" {
		f = append(f, fact{"stopped early", r.Stopped})
	}
	if r.AllowUnisolated {
		f = append(f, fact{"isolation", UnisolatedNote})
	}
	if e := r.Evaluation; e != nil {
		f = append(f,
			fact{"evaluated", fmt.Sprintf("%d of %d: %s", e.Evaluated, e.Units, evalCountsLine(e.Counts))},
			fact{"patch rate", fmt.Sprintf("%s (%d of %d: non-empty patch, applied)", pct(e.PatchRate), e.Patched, e.Units)},
			fact{"correct rate", fmt.Sprintf("%s (%d of %d: non-empty patch past the gate; gate passed %d of %d reached)", pct(e.CorrectRate), e.Correct, e.Units, e.GatePassed, e.GateReached)},
			fact{"agent vs human", fmt.Sprintf("win %d, match %d (%d within the band), loss %d, inconclusive %d; %s", e.Win, e.Match, e.MatchSignificant, e.Loss, e.Inconclusive, records.VerdictCountsOver)},
			fact{"Opt@1", fmt.Sprintf("%s, opt_base@1 %s", pct(e.OptAt1), pct(e.OptBaseAt1))},
		)
		if len(e.PassAtK) > 0 {
			f = append(f, fact{"pass@k", kvs(e.PassAtK)}, fact{"Opt@K", kvs(e.OptAtK)}, fact{"opt_base@K", kvs(e.OptBaseAtK)})
		}
	}
	return f
}

// Geometry shared by the charts (SVG user units, about pixels).
const (
	charW    = 7.0  // average width of a 12px character
	rowH     = 22.0 // one bar or item row
	barMaxW  = 360.0
	minLabel = 60.0
	maxLabel = 260.0
)

// labelWidth is the width of the label column for these labels.
func labelWidth(labels []string) float64 {
	w := minLabel
	for _, l := range labels {
		w = math.Max(w, float64(utf8.RuneCountInString(l))*charW)
	}
	return math.Min(w, maxLabel) + 4
}

// fitLabel shortens a label to the label column.
func fitLabel(s string, width float64) string {
	n := int(width / charW)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

// label is a row label right-aligned at x, shortened to width, with the
// whole text as a tooltip when shortened.
func label(x, y, width float64, s string) svgEl {
	short := fitLabel(s, width)
	tip := ""
	if short != s {
		tip = s
	}
	return text(x, y, "end", "", short, tip)
}

// statusChart: one horizontal bar per rollout status, in the table's order.
func statusChart(counts map[string]int) chart {
	order := statusOrder(counts)
	total, most := 0, 0
	for _, s := range order {
		total += counts[s]
		most = max(most, counts[s])
	}
	lw := labelWidth(order)
	x0 := lw + 10
	c := chart{ID: "chart-status", Caption: "Rollouts by status", Label: "Number of rollouts in each final status"}
	for i, s := range order {
		n := counts[s]
		y := 8 + float64(i)*rowH
		w := barMaxW * float64(n) / float64(max(most, 1))
		c.Els = append(c.Els,
			label(lw, y+15, lw, s),
			rect(x0, y+4, math.Max(w, 1), 14, "bar "+statusClass(s), fmt.Sprintf("%s: %d of %d", s, n, total)),
			text(x0+w+6, y+15, "start", "val", fmt.Sprintf("%d (%s)", n, pct(float64(n)/float64(max(total, 1)))), ""),
		)
	}
	c.W = f1(x0 + barMaxW + 90)
	c.H = f1(16 + float64(len(order))*rowH)
	return c
}

// sortedItems are the rows by item id, then sample.
func sortedItems(items []Item) []Item {
	out := append([]Item(nil), items...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Sample < out[j].Sample
	})
	return out
}

// usable is a ratio that can be drawn on a log scale.
func usable(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

func validRatio(s *Speedup) bool { return s != nil && s.Valid && usable(s.Ratio) }

func validCI(s *Speedup) bool { return validRatio(s) && s.CIValid && usable(s.Lo) && usable(s.Hi) }

// timed reports whether a row has something to draw on the speedup chart.
func timed(it Item) bool {
	return it.Eval != nil && it.Eval.Status == string(records.EvalSuccess) &&
		(validRatio(it.Eval.HumanSpeedup) || validRatio(it.Eval.AgentSpeedup))
}

// gapLabel says why a row has no point on the speedup chart.
func gapLabel(it Item) string {
	ev := it.Eval
	switch {
	case ev == nil:
		return "not evaluated (rollout " + it.Status + ")"
	case ev.Status != string(records.EvalSuccess):
		l := "eval " + ev.Status
		if ev.Reason != "" {
			l += ": " + strings.ReplaceAll(ev.Reason, "\n", " ")
		}
		return l
	}
	return "not timed"
}

// speedupChart: per row, human/base and agent/base on a log scale, the
// agent's 95% CI as whiskers, a reference line at 1x, the verdict on the
// right; rows without timings are a labelled gap.
func speedupChart(items []Item) chart {
	rows := sortedItems(items)
	labels := make([]string, len(rows))
	lo, hi := 1.0, 1.0
	for i, it := range rows {
		labels[i] = it.Dir
		if !timed(it) {
			continue
		}
		ev := it.Eval
		for _, s := range []*Speedup{ev.HumanSpeedup, ev.AgentSpeedup} {
			if validRatio(s) {
				lo, hi = math.Min(lo, s.Ratio), math.Max(hi, s.Ratio)
			}
		}
		if validCI(ev.AgentSpeedup) {
			lo, hi = math.Min(lo, ev.AgentSpeedup.Lo), math.Max(hi, ev.AgentSpeedup.Hi)
		}
	}
	lo, hi = lo/1.2, hi*1.2
	lw := labelWidth(labels)
	const plotW, verdictW, top = 440.0, 140.0, 34.0
	x0, x1 := lw+12, lw+12+plotW
	xOf := func(v float64) float64 {
		v = math.Min(math.Max(v, lo), hi)
		return x0 + plotW*(math.Log(v)-math.Log(lo))/(math.Log(hi)-math.Log(lo))
	}
	bottom := top + float64(len(rows))*rowH
	c := chart{
		ID: "chart-speedup", Caption: "Speedup over the baseline, per item",
		Note:  "Log scale; right of the dashed 1× line is better than the baseline. Diamond: the human commit; dot: the agent, with its 95% confidence interval, coloured by the verdict of agent vs human.",
		Label: "Human and agent speedups over the baseline per item, log scale, with the agent's 95% confidence interval",
		W:     f1(x1 + 12 + verdictW), H: f1(bottom + 40),
	}
	// Legend.
	lx := x0
	c.Els = append(c.Els,
		diamond(lx+5, 14, "human", ""), text(lx+14, 18, "start", "legend", "human / base", ""),
		line(lx+110, 14, lx+130, 14, "ci"), circle(lx+120, 14, 4.5, "agent", ""), text(lx+138, 18, "start", "legend", "agent / base (95% CI)", ""),
		line(lx+290, 6, lx+290, 22, "ref"), text(lx+296, 18, "start", "legend", "1× (no change)", ""),
	)
	// Grid and axis.
	for _, t := range logTicks(lo, hi, plotW, 44) {
		x := xOf(t)
		c.Els = append(c.Els, line(x, top, x, bottom, "grid"), text(x, bottom+14, "middle", "tick", tickLabel(t), ""))
	}
	c.Els = append(c.Els,
		line(x0, bottom, x1, bottom, "axis"),
		line(xOf(1), top-4, xOf(1), bottom, "ref"),
		text((x0+x1)/2, bottom+32, "middle", "axis-label", "speedup over baseline (×, log scale)", ""),
	)
	for i, it := range rows {
		y := top + float64(i)*rowH + rowH/2
		c.Els = append(c.Els, label(lw, y+4, lw, it.Dir))
		if !timed(it) {
			gap := gapLabel(it)
			short := fitLabel(gap, plotW-12)
			tip := ""
			if short != gap {
				tip = gap
			}
			c.Els = append(c.Els,
				rect(x0, y-7, plotW, 14, "gapband", ""),
				text(x0+6, y+4, "start", "gap", short, tip),
			)
			continue
		}
		ev := it.Eval
		if a := ev.AgentSpeedup; validCI(a) {
			c.Els = append(c.Els,
				line(xOf(a.Lo), y, xOf(a.Hi), y, "ci"),
				line(xOf(a.Lo), y-4, xOf(a.Lo), y+4, "ci"),
				line(xOf(a.Hi), y-4, xOf(a.Hi), y+4, "ci"),
			)
		}
		if h := ev.HumanSpeedup; validRatio(h) {
			c.Els = append(c.Els, diamond(xOf(h.Ratio), y, "human", it.Dir+" human/base "+ratioText(h)))
		}
		if a := ev.AgentSpeedup; validRatio(a) {
			tip := it.Dir + " agent/base " + ratioText(a)
			if validCI(a) {
				tip += fmt.Sprintf(" [%s, %s]", num(a.Lo), num(a.Hi))
			}
			c.Els = append(c.Els, circle(xOf(a.Ratio), y, 4.5, "agent "+verdictClass(ev.Verdict), tip))
		}
		if ev.Verdict != "" {
			c.Els = append(c.Els, text(x1+12, y+4, "start", "verdict "+verdictClass(ev.Verdict), ev.verdictText(), ""))
		}
	}
	return c
}

// costChart: one bar per row (by item id, as the speedup chart) with its cost; false
// when no row cost anything.
func costChart(items []Item) (chart, bool) {
	items = sortedItems(items)
	most := 0.0
	labels := make([]string, len(items))
	for i, it := range items {
		most = math.Max(most, it.CostUSD)
		labels[i] = it.Dir
	}
	if most <= 0 {
		return chart{}, false
	}
	lw := labelWidth(labels)
	x0 := lw + 10
	c := chart{ID: "chart-cost", Caption: "Cost per item (last attempt)", Label: "Cost in US dollars of each item's last attempt"}
	for i, it := range items {
		y := 8 + float64(i)*rowH
		c.Els = append(c.Els, label(lw, y+15, lw, it.Dir))
		w := 0.0
		if it.CostUSD > 0 {
			w = math.Max(barMaxW*it.CostUSD/most, 1)
			tip := it.Dir + ": " + money(it.CostUSD)
			if it.InputTokens > 0 || it.OutputTokens > 0 {
				tip += fmt.Sprintf(", %d input / %d output tokens", it.InputTokens, it.OutputTokens)
			}
			if it.Turns > 0 {
				tip += fmt.Sprintf(", %d turn(s)", it.Turns)
			}
			c.Els = append(c.Els, rect(x0, y+4, w, 14, "bar cost", tip))
		}
		c.Els = append(c.Els, text(x0+w+6, y+15, "start", "val", money(it.CostUSD), ""))
	}
	c.W = f1(x0 + barMaxW + 90)
	c.H = f1(16 + float64(len(items))*rowH)
	return c, true
}

// meter is a small bar of spent against a cap.
func meter(spent, limit float64) *chart {
	const w = 180.0
	fill := math.Min(spent/limit, 1) * w
	class := "meter"
	if spent > limit {
		class += " over"
	}
	return &chart{
		ID: "meter-spend", W: f1(w), H: "10", Label: fmt.Sprintf("spent %s of the cap", pct(spent/limit)),
		Els: []svgEl{rect(0, 0, w, 10, "meter-bg", ""), rect(0, 0, fill, 10, class, "")},
	}
}

// logTicks picks tick values between lo and hi (lo < 1 < hi) from the
// nicest series that gives a few ticks at least minGap apart on a plot of
// width px. 1 is always a tick.
func logTicks(lo, hi, px, minGap float64) []float64 {
	series := [][]float64{
		{1},
		{1, 2, 5},
		{1, 1.5, 2, 3, 5, 7},
		{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8},
		{1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9},
	}
	scale := px / (math.Log10(hi) - math.Log10(lo))
	best := []float64{1}
	for _, ms := range series {
		var ticks []float64
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			for _, m := range ms {
				v, _ := strconv.ParseFloat(strconv.FormatFloat(m*math.Pow(10, e), 'g', 6, 64), 64)
				if v >= lo && v <= hi {
					ticks = append(ticks, v)
				}
			}
		}
		sort.Float64s(ticks)
		tooClose := false
		for i := 1; i < len(ticks); i++ {
			if (math.Log10(ticks[i])-math.Log10(ticks[i-1]))*scale < minGap {
				tooClose = true
			}
		}
		if tooClose {
			break
		}
		best = ticks
		if len(ticks) >= 5 {
			break
		}
	}
	return best
}

// tickLabel is a tick value with up to 3 significant digits and "×".
func tickLabel(v float64) string {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64) + "×"
}

// f1 is a coordinate with at most one decimal.
func f1(v float64) string {
	v = math.Round(v*10) / 10
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func rect(x, y, w, h float64, class, tip string) svgEl {
	return svgEl{Kind: "rect", X: f1(x), Y: f1(y), W: f1(w), H: f1(h), Class: class, Tip: tip}
}

func line(x1, y1, x2, y2 float64, class string) svgEl {
	return svgEl{Kind: "line", X: f1(x1), Y: f1(y1), W: f1(x2), H: f1(y2), Class: class}
}

func circle(cx, cy, r float64, class, tip string) svgEl {
	return svgEl{Kind: "circle", X: f1(cx), Y: f1(cy), W: f1(r), Class: class, Tip: tip}
}

func diamond(cx, cy float64, class, tip string) svgEl {
	const d = 5.5
	pts := fmt.Sprintf("%s,%s %s,%s %s,%s %s,%s", f1(cx), f1(cy-d), f1(cx+d), f1(cy), f1(cx), f1(cy+d), f1(cx-d), f1(cy))
	return svgEl{Kind: "polygon", Points: pts, Class: class, Tip: tip}
}

func text(x, y float64, anchor, class, s, tip string) svgEl {
	return svgEl{Kind: "text", X: f1(x), Y: f1(y), Anchor: anchor, Class: class, Text: s, Tip: tip}
}

// statusClass is the CSS class (colour) of a rollout status.
func statusClass(s string) string {
	switch s {
	case "success":
		return "s-success"
	case "no_patch":
		return "s-nopatch"
	case "timeout":
		return "s-timeout"
	case "agent_error":
		return "s-agenterr"
	case "target_violation":
		return "s-violation"
	case "budget_exceeded":
		return "s-budget"
	case "infra_error":
		return "s-infra"
	case "interrupted":
		return "s-interrupted"
	case StatusExternal:
		return "s-external"
	}
	return "s-other"
}

// evalClass is the CSS class of an evaluation status.
func evalClass(s string) string {
	if s == string(records.EvalSuccess) {
		return "e-success"
	}
	return "e-failed"
}

// verdictClass is the CSS class of a verdict.
func verdictClass(v string) string {
	switch v {
	case string(stats.Win):
		return "v-win"
	case string(stats.Match):
		return "v-match"
	case string(stats.Loss):
		return "v-loss"
	case string(stats.Inconclusive):
		return "v-inconclusive"
	}
	return "v-none"
}

// allPage is what the report-all template renders.
type allPage struct {
	ExtraCSS  template.CSS
	Embed     *Embed
	Title     string
	StateRoot string
	Runs      []allRow
	Problems  []string
}

type allRow struct {
	RunID, Task, Agent, Model, Created, Items, Counts, Missing, Cost string
	Bar                                                              chart
}

// WriteAllHTML renders report-all as one self-contained HTML page: one row
// per run with a stacked bar of its statuses.
func WriteAllHTML(w io.Writer, a *All) error {
	p := &allPage{Title: "perfbench runs under " + a.StateRoot, StateRoot: a.StateRoot, Problems: a.Problems, Embed: a.Leaderboard}
	if a.Leaderboard != nil {
		p.ExtraCSS = a.Leaderboard.CSS
	}
	for i, r := range a.Runs {
		p.Runs = append(p.Runs, allRow{
			RunID: r.RunID, Task: r.Task, Agent: r.Agent, Model: orDash(r.Model), Created: r.CreatedAt,
			Items: strconv.Itoa(r.Total), Counts: CountsLine(r.Counts), Missing: strconv.Itoa(r.Missing),
			Cost: money(r.TotalCostUSD), Bar: stackedBar(fmt.Sprintf("bar-%d", i), r.Counts),
		})
	}
	return htmlTemplates.ExecuteTemplate(w, "all.html", p)
}

// stackedBar is one bar split by status, in the table's order.
func stackedBar(id string, counts map[string]int) chart {
	const w, h = 200.0, 14.0
	total := 0
	for _, n := range counts {
		total += n
	}
	c := chart{ID: id, W: f1(w), H: f1(h), Label: CountsLine(counts)}
	c.Els = append(c.Els, rect(0, 0, w, h, "meter-bg", ""))
	x := 0.0
	for _, s := range statusOrder(counts) {
		if total == 0 {
			break
		}
		sw := w * float64(counts[s]) / float64(total)
		c.Els = append(c.Els, rect(x, 0, sw, h, "bar "+statusClass(s), fmt.Sprintf("%s %d", s, counts[s])))
		x += sw
	}
	return c
}

// templates holds the pages (report.html, all.html), their shared pieces
// (parts.tmpl: the style element, SVG charts) and the stylesheet
// (style.css), kept as files so they can be read and edited as HTML and CSS.
//
//go:embed templates
var templateFiles embed.FS

var htmlTemplates = template.Must(template.New("html").ParseFS(templateFiles, "templates/*"))
