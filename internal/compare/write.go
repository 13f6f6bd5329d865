package compare

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// column is one leaderboard column: its header and its cell as text.
type column struct {
	head string
	cell func(Row) string
}

func pct(m Metric) string {
	if !m.Valid {
		return "-"
	}
	return fmt.Sprintf("%.0f%% [%.0f, %.0f]", 100*m.Value, 100*m.Lo, 100*m.Hi)
}

func ratio(m Metric) string {
	if !m.Valid {
		return "-"
	}
	return fmt.Sprintf("%.3g× [%.3g, %.3g] n=%d", m.Value, m.Lo, m.Hi, m.N)
}

func optPct(m *Metric) string {
	if m == nil {
		return "-"
	}
	return pct(*m)
}

// shortColumns are the default terminal table's: who, how complete, and
// the headline metrics.
var shortColumns = []string{"run", "agent", "model", "items", "evaluated", "incomplete (missing/infra/not eval)", "correct", "Opt@1", "SR", "W/M/L/I", "flagged", "cost"}

// columns are the leaderboard's, in order: the long table and Markdown show
// them all, the default table shortColumns.
var columns = []column{
	{"run", func(r Row) string { return r.RunID }},
	{"agent", func(r Row) string { return r.Agent }},
	{"model", func(r Row) string { return orDash(r.Model) }},
	{"K", func(r Row) string { return strconv.Itoa(r.Samples) }},
	{"items", func(r Row) string { return strconv.Itoa(r.Items) }},
	{"evaluated", func(r Row) string { return strconv.Itoa(r.Evaluated) }},
	{"incomplete (missing/infra/not eval)", func(r Row) string {
		if !r.Incomplete {
			return "-"
		}
		return fmt.Sprintf("%d/%d/%d", r.Missing, r.InfraError, r.NotEvaluated)
	}},
	{"patch", func(r Row) string { return pct(r.PatchRate) }},
	{"correct", func(r Row) string { return pct(r.CorrectRate) }},
	{"opt_base@1", func(r Row) string { return pct(r.OptBase1) }},
	{"Opt@1", func(r Row) string { return pct(r.Opt1) }},
	{"Opt@K", func(r Row) string { return optPct(r.OptK) }},
	{"pass@k", func(r Row) string { return optPct(r.PassK) }},
	{"SR", func(r Row) string { return ratio(r.SR) }},
	{"W/M/L/I", func(r Row) string { return fmt.Sprintf("%d/%d/%d/%d", r.Win, r.Match, r.Loss, r.Inconclusive) }},
	{"flagged", func(r Row) string {
		switch {
		case r.Flagged == 0:
			return "-"
		case r.ExcludedFlagged:
			return fmt.Sprintf("%d excluded", r.Flagged)
		}
		return strconv.Itoa(r.Flagged)
	}},
	{"localization F1 files/functions", func(r Row) string {
		l := r.Localization
		if l == nil {
			return "-"
		}
		s := fmt.Sprintf("%.2f/%.2f n=%d", l.Files.F1, l.Functions.F1, l.Units)
		if l.NotBlind {
			// hints.target_files named the files: not blind.
			s += " (not blind)"
		}
		return s
	}},
	{"geomean correct", func(r Row) string { return ratio(r.GeoMeanCorrect) }},
	{"geomean all", func(r Row) string { return ratio(r.GeoMeanAll) }},
	{"cost", func(r Row) string { return CostText(r.CostUSD) }},
	{"cost/item", func(r Row) string { return CostText(r.CostPerItemUSD) }},
	{"cost/Opt@1", func(r Row) string {
		if r.CostPerOpt1USD == nil {
			return "-"
		}
		return CostText(*r.CostPerOpt1USD)
	}},
	{"tokens in/out/cache", func(r Row) string {
		return fmt.Sprintf("%d/%d/%d", r.InputTokens, r.OutputTokens, r.CacheReadTokens+r.CacheWriteTokens)
	}},
	{"wall", func(r Row) string { return WallText(r.WallSeconds) }},
}

// CostText is an amount in cents, "-" when none is recorded (an agent
// that reports no cost), as bench report prints it; the site's too.
func CostText(v float64) string {
	if v == 0 {
		return "-"
	}
	return textx.USDCents(v)
}

// WallText is a duration in seconds: two significant digits under 10 s
// ("0.14s", "2.5s"), whole seconds above; "-" when none is recorded.
func WallText(s float64) string {
	switch {
	case s <= 0:
		return "-"
	case s < 10:
		return fmt.Sprintf("%.2gs", s)
	}
	return fmt.Sprintf("%.0fs", s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var pairHeads = []string{"A", "B", "shared", "only A / only B", "ΔOpt@1", "McNemar p", "ΔSR", "items won A/B"}

func pairCells(p Pair) []string {
	only := "-"
	if len(p.OnlyA)+len(p.OnlyB) > 0 {
		only = fmt.Sprintf("%s / %s", orDash(strings.Join(p.OnlyA, ",")), orDash(strings.Join(p.OnlyB, ",")))
	}
	diff := func(m Metric, scale float64, unit string) string {
		if !m.Valid {
			return "-"
		}
		return fmt.Sprintf("%+.3g%s [%+.3g, %+.3g] n=%d", scale*m.Value, unit, scale*m.Lo, scale*m.Hi, m.N)
	}
	return []string{p.A, p.B, strconv.Itoa(p.Shared), only, diff(p.Opt1Diff, 100, "pp"),
		strconv.FormatFloat(p.McNemarP, 'g', 3, 64), diff(p.SRDiff, 1, ""), fmt.Sprintf("%d/%d", p.WinsA, p.WinsB)}
}

// View is how the terminal table is drawn (the other formats ignore it).
type View struct {
	// Long shows every column, not only the short set.
	Long bool
	// NoLegend drops the legend lines under the tables.
	NoLegend bool
	// Matrix prints the item × run matrix under each task's leaderboard.
	Matrix bool
}

// columnsFor are the columns of a view: all of them, or the short set.
func columnsFor(long bool) []column {
	if long {
		return columns
	}
	var out []column
	for _, c := range columns {
		if slices.Contains(shortColumns, c.head) {
			out = append(out, c)
		}
	}
	return out
}

func heads(cols []column) []string {
	h := make([]string, len(cols))
	for i, c := range cols {
		h[i] = c.head
	}
	return h
}

func cells(cols []column, r Row) []string {
	c := make([]string, len(cols))
	for i, col := range cols {
		c[i] = col.cell(r)
	}
	return c
}

// legend is the one line under every leaderboard: the denominators, the
// interval method and the verdict words.
func legend(b *Board) string {
	return fmt.Sprintf("legend: rates over all plan items (missing, infra_error, not evaluated = failure); "+
		"SR = harmonic mean of agent÷human speedup over n items with a human speedup (failure = 1.0×; missing and infra_error items leave SR, n says how many entered); "+
		"[lo, hi] = %.0f%% bootstrap over %s (B=%d, seed %d); "+
		"W/M/L/I = agent vs human: win, match (within the band or no significant difference: not proven equal), loss, inconclusive (too few rounds, or CI and test disagree), "+records.VerdictCountsOver+"; "+
		"cost - = none recorded",
		100*b.Bootstrap.Confidence, b.Bootstrap.Over, b.Bootstrap.Resamples, b.Bootstrap.Seed)
}

// ExcludedFlaggedMark marks the matrix's items --exclude-flagged left out.
const ExcludedFlaggedMark = "excluded_flagged"

// ExcludedFlaggedLine is the line under a task's leaderboard saying, with
// --exclude-flagged, how many and which items every run is ranked
// without ("" when the option is off); the terminal table, the Markdown
// and the HTML site print the same line.
func ExcludedFlaggedLine(t Task) string {
	if !slices.ContainsFunc(t.Rows, func(r Row) bool { return r.ExcludedFlagged }) {
		return ""
	}
	n := len(t.ExcludedFlaggedItems)
	if n == 0 {
		return "excluded as flagged (--exclude-flagged): no item is flagged"
	}
	return fmt.Sprintf("excluded as flagged (--exclude-flagged): %d item(s) flagged in a run, left out of every run's aggregates and pairs: %s", n, strings.Join(t.ExcludedFlaggedItems, ", "))
}

// pairLegend is the one line under a table of pairs.
const pairLegend = "legend: A − B on the items both evaluated; ΔOpt@1 in percentage points and ΔSR with paired bootstrap intervals over items; McNemar p exact, of Opt@1"

// DominantWarnings are the warnings naming the items that weigh more than
// DominantShare of an aggregate, one line per run: the terminal table, the
// Markdown and the HTML site print the same lines.
func DominantWarnings(t Task) []string {
	var out []string
	for _, r := range t.Rows {
		if len(r.Dominant) == 0 {
			continue
		}
		var parts []string
		for i := 0; i < len(r.Dominant); {
			item := r.Dominant[i].Item
			var shares []string
			for ; i < len(r.Dominant) && r.Dominant[i].Item == item; i++ {
				shares = append(shares, fmt.Sprintf("%.0f%% of %s", 100*r.Dominant[i].Share, r.Dominant[i].Aggregate))
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", item, strings.Join(shares, ", ")))
		}
		out = append(out, fmt.Sprintf("warning: %s: items weighing more than %.0f%% of an aggregate: %s", r.RunID, 100*DominantShare, strings.Join(parts, "; ")))
	}
	return out
}

// WriteJSON writes the board as indented JSON.
func WriteJSON(w io.Writer, b *Board) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(b)
}

// WriteTable writes one aligned table per task as b.View says: the
// leaderboard, its legend, the warnings of dominant items, the pairs and,
// with View.Matrix, the item × run matrix.
func WriteTable(w io.Writer, b *Board) error {
	// Names, subjects and problems come from files: no control character
	// of theirs reaches the terminal.
	w = textx.ControlFree(w)
	cols := columnsFor(b.View.Long)
	for _, t := range b.Tasks {
		fmt.Fprintf(w, "task %s\n", t.ID)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(heads(cols), "\t"))
		for _, r := range t.Rows {
			fmt.Fprintln(tw, strings.Join(cells(cols, r), "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if !b.View.NoLegend {
			fmt.Fprintln(w, legend(b))
		}
		for _, l := range DominantWarnings(t) {
			fmt.Fprintln(w, l)
		}
		writeCalibrationLines(w, t)
		if l := ExcludedFlaggedLine(t); l != "" {
			fmt.Fprintln(w, l)
		}
		if len(t.Pairs) > 0 {
			fmt.Fprintln(w, "\npaired, A − B on the items both have:")
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, strings.Join(pairHeads, "\t"))
			for _, p := range t.Pairs {
				fmt.Fprintln(tw, strings.Join(pairCells(p), "\t"))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if !b.View.NoLegend {
				fmt.Fprintln(w, pairLegend)
			}
		}
		if t.PairsOmitted != "" {
			fmt.Fprintln(w, "\n"+t.PairsOmitted)
		}
		if b.View.Matrix && t.Matrix != nil {
			fmt.Fprintln(w)
			if err := writeMatrix(w, t.Matrix, t.Rows, !b.View.NoLegend); err != nil {
				return err
			}
		}
		fmt.Fprintln(w)
	}
	if len(b.Tasks) == 0 {
		fmt.Fprintln(w, "no runs")
	}
	writeProblems(w, b)
	return nil
}

// matrixLegend is the one line under the matrix.
const matrixLegend = "legend: one row per human commit; human× = the human's speedup over the baseline, the median over the runs that timed it (min–max when they differ by more than the band); cell = the agent's speedup over the baseline [95% CI of eval.json] and its verdict vs the human, or why there is none (no_patch counts as 1×; not_in_plan, missing, infra_error, not_evaluated, or the evaluation's failure); with samples, the worst sample's status and (k/K correct); ! = flagged by the forensic scans (a leak attempt or a reward-hack rule); an item marked (excluded_flagged) is left out of every run's aggregates by --exclude-flagged"

// HumanText is a matrix item's human× in a few characters: the median,
// and the runs' range when they differ by more than the band.
func HumanText(it MatrixItem) string {
	s := fmt.Sprintf("%.3g×", it.HumanSpeedup)
	if it.HumanMax > 0 {
		s += fmt.Sprintf(" (%.3g–%.3g)", it.HumanMin, it.HumanMax)
	}
	return s
}

// writeMatrix writes the item × run matrix: one line per plan item with
// its human commit, one column per run.
func writeMatrix(w io.Writer, m *Matrix, rows []Row, withLegend bool) error {
	fmt.Fprintln(w, "items × runs:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// The subject column only when the plan records subjects.
	subjects := slices.ContainsFunc(m.Items, func(it MatrixItem) bool { return it.Subject != "" })
	head := []string{"item", "human"}
	if subjects {
		head = append(head, "subject")
	}
	fmt.Fprintln(tw, strings.Join(append(append(head, "human×"), m.Runs...), "\t"))
	for _, it := range m.Items {
		human := "-"
		if it.HumanSpeedup > 0 {
			human = HumanText(it)
		}
		line := []string{calibrationMark(it), orDash(it.HumanShort)}
		if subjects {
			line = append(line, orDash(textx.Truncate(textx.OneLine(it.Subject), 40)))
		}
		line = append(line, human)
		for col, c := range it.Cells {
			text := cellText(c)
			// With samples, how many of the item's were correct (the
			// cell shows the worst sample's status).
			if col < len(rows) && rows[col].Samples > 1 && c.Status != CellNotInPlan && c.Status != CellMissing {
				text += fmt.Sprintf(" (%d/%d correct)", c.Correct, rows[col].Samples)
			}
			line = append(line, text)
		}
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if withLegend {
		fmt.Fprintln(w, matrixLegend)
	}
	return nil
}

// cellText is a matrix cell in a few words; "!" marks one the forensic
// scans flagged.
func cellText(c Cell) string {
	if c.Flagged {
		return cellWords(c) + " !"
	}
	return cellWords(c)
}

func cellWords(c Cell) string {
	switch c.Status {
	case CellOK:
		s := "-"
		if c.Speedup > 0 {
			s = fmt.Sprintf("%.3g×", c.Speedup)
			if c.CIValid {
				s += fmt.Sprintf(" [%.3g, %.3g]", c.Lo, c.Hi)
			}
		}
		if v := verdictShort(c); v != "" {
			s += " " + v
		}
		return s
	case CellNoPatch:
		return "no_patch"
	}
	return c.Status
}

// WriteMarkdown writes one Markdown table per task.
func WriteMarkdown(w io.Writer, b *Board) error {
	fmt.Fprintln(w, "# Leaderboard")
	for _, t := range b.Tasks {
		fmt.Fprintf(w, "\n## Task %s\n\n", mdEscape(t.ID))
		fmt.Fprintf(w, "| %s |\n", strings.Join(heads(columns), " | "))
		fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(columns)))
		for _, r := range t.Rows {
			c := cells(columns, r)
			for i := range c {
				c[i] = mdEscape(c[i])
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
		}
		if len(t.Pairs) > 0 {
			fmt.Fprintf(w, "\nPaired, A − B on the items both have:\n\n| %s |\n|%s\n", strings.Join(pairHeads, " | "), strings.Repeat("---|", len(pairHeads)))
			for _, p := range t.Pairs {
				c := pairCells(p)
				for i := range c {
					c[i] = mdEscape(c[i])
				}
				fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
			}
		}
		if t.PairsOmitted != "" {
			fmt.Fprintf(w, "\n%s\n", mdEscape(t.PairsOmitted))
		}
		if lines := DominantWarnings(t); len(lines) > 0 {
			fmt.Fprintf(w, "\n%s\n", mdEscape(strings.Join(lines, "\n\n")))
		}
		if l := ExcludedFlaggedLine(t); l != "" {
			fmt.Fprintf(w, "\n%s\n", mdEscape(l))
		}
	}
	fmt.Fprintln(w)
	writeProblems(w, b)
	_, err := fmt.Fprintln(w, mdEscape(legend(b)))
	return err
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func writeProblems(w io.Writer, b *Board) {
	for _, p := range b.Problems {
		fmt.Fprintf(w, "problem: %s\n", textx.OneLine(p))
	}
}

// WriteCSV writes one line per row with plain numbers (value, lo, hi, n
// for each metric), for spreadsheets.
func WriteCSV(w io.Writer, b *Board) error {
	cw := csv.NewWriter(w)
	metrics := []string{"patch_rate", "correct_rate", "opt_base_at_1", "opt_at_1", "opt_at_k", "pass_at_k",
		"speedup_ratio", "geomean_speedup_correct", "geomean_speedup_all"}
	head := []string{"task", "run_id", "agent", "model", "samples", "items", "evaluated", "missing", "infra_error", "not_evaluated"}
	for _, m := range metrics {
		head = append(head, m, m+"_lo", m+"_hi", m+"_n")
	}
	head = append(head, "win", "match", "loss", "inconclusive", "cost_usd", "cost_per_item_usd", "cost_per_opt_at_1_usd",
		"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "wall_seconds", "flagged", "excluded_flagged_items")
	if err := cw.Write(head); err != nil {
		return err
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	d := func(x int) string { return strconv.Itoa(x) }
	for _, t := range b.Tasks {
		for _, r := range t.Rows {
			// The task's items left out by --exclude-flagged, by id
			// (empty without the option).
			excluded := ""
			if r.ExcludedFlagged {
				excluded = strings.Join(t.ExcludedFlaggedItems, " ")
			}
			rec := []string{t.ID, r.RunID, r.Agent, r.Model, d(r.Samples), d(r.Items), d(r.Evaluated), d(r.Missing), d(r.InfraError), d(r.NotEvaluated)}
			for _, m := range []*Metric{&r.PatchRate, &r.CorrectRate, &r.OptBase1, &r.Opt1, r.OptK, r.PassK, &r.SR, &r.GeoMeanCorrect, &r.GeoMeanAll} {
				if m == nil || !m.Valid {
					n := ""
					if m != nil {
						n = d(m.N)
					}
					rec = append(rec, "", "", "", n)
					continue
				}
				rec = append(rec, f(m.Value), f(m.Lo), f(m.Hi), d(m.N))
			}
			perOpt := ""
			if r.CostPerOpt1USD != nil {
				perOpt = f(*r.CostPerOpt1USD)
			}
			rec = append(rec, d(r.Win), d(r.Match), d(r.Loss), d(r.Inconclusive), f(r.CostUSD), f(r.CostPerItemUSD), perOpt,
				strconv.FormatInt(r.InputTokens, 10), strconv.FormatInt(r.OutputTokens, 10),
				strconv.FormatInt(r.CacheReadTokens, 10), strconv.FormatInt(r.CacheWriteTokens, 10), f(r.WallSeconds), d(r.Flagged), excluded)
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
