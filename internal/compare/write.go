package compare

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

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

// columns are the leaderboard's, in order; table, Markdown and CSV share
// them.
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
	{"geomean correct", func(r Row) string { return ratio(r.GeoMeanCorrect) }},
	{"geomean all", func(r Row) string { return ratio(r.GeoMeanAll) }},
	{"cost", func(r Row) string { return textx.USDCents(r.CostUSD) }},
	{"cost/item", func(r Row) string { return textx.USDShort(r.CostPerItemUSD) }},
	{"cost/Opt@1", func(r Row) string {
		if r.CostPerOpt1USD == nil {
			return "-"
		}
		return textx.USDShort(*r.CostPerOpt1USD)
	}},
	{"tokens in/out/cache", func(r Row) string {
		return fmt.Sprintf("%d/%d/%d", r.InputTokens, r.OutputTokens, r.CacheReadTokens+r.CacheWriteTokens)
	}},
	{"wall", func(r Row) string { return fmt.Sprintf("%.0fs", r.WallSeconds) }},
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

func heads() []string {
	h := make([]string, len(columns))
	for i, c := range columns {
		h[i] = c.head
	}
	return h
}

func cells(r Row) []string {
	c := make([]string, len(columns))
	for i, col := range columns {
		c[i] = col.cell(r)
	}
	return c
}

// footnote states the denominators and the interval method under every
// human-facing table.
func footnote(b *Board) string {
	return fmt.Sprintf("rates are over all plan items (items): missing, infra_error and unevaluated items count as failures;\n"+
		"SR over items with a measured human speedup (n=), a failed candidate counting as 1.0×; geomean correct over correct candidates;\n"+
		"[..] = %.0f%% percentile bootstrap over items, B=%d, seed %d.",
		100*b.Bootstrap.Confidence, b.Bootstrap.Resamples, b.Bootstrap.Seed)
}

// WriteJSON writes the board as indented JSON.
func WriteJSON(w io.Writer, b *Board) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(b)
}

// WriteTable writes one aligned table per task, and the footnote.
func WriteTable(w io.Writer, b *Board) error {
	for _, t := range b.Tasks {
		fmt.Fprintf(w, "task %s\n", t.ID)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(heads(), "\t"))
		for _, r := range t.Rows {
			fmt.Fprintln(tw, strings.Join(cells(r), "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
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
		}
		fmt.Fprintln(w)
	}
	if len(b.Tasks) == 0 {
		fmt.Fprintln(w, "no runs")
	}
	writeProblems(w, b)
	_, err := fmt.Fprintln(w, footnote(b))
	return err
}

// WriteMarkdown writes one Markdown table per task.
func WriteMarkdown(w io.Writer, b *Board) error {
	fmt.Fprintln(w, "# Leaderboard")
	for _, t := range b.Tasks {
		fmt.Fprintf(w, "\n## Task %s\n\n", mdEscape(t.ID))
		fmt.Fprintf(w, "| %s |\n", strings.Join(heads(), " | "))
		fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(columns)))
		for _, r := range t.Rows {
			c := cells(r)
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
	}
	fmt.Fprintln(w)
	writeProblems(w, b)
	_, err := fmt.Fprintln(w, strings.ReplaceAll(footnote(b), "\n", "\n\n"))
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
		"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "wall_seconds")
	if err := cw.Write(head); err != nil {
		return err
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	d := func(x int) string { return strconv.Itoa(x) }
	for _, t := range b.Tasks {
		for _, r := range t.Rows {
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
				strconv.FormatInt(r.CacheReadTokens, 10), strconv.FormatInt(r.CacheWriteTokens, 10), f(r.WallSeconds))
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
