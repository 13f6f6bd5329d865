package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/perfbench/perfbench/internal/stats"
)

// SampleItem aggregates the K samples of one plan item of a run with
// samples: evaluate times them together, against one baseline and one
// human, so their speedups are directly comparable.
type SampleItem struct {
	ID string `json:"id"`
	// Samples are the item's units in the plan; Evaluated those with an
	// evaluation.
	Samples   int `json:"samples"`
	Evaluated int `json:"evaluated"`
	// Passed counts the correct candidates (a non-empty patch past the
	// gate: an empty patch is never a pass); Opt those of them with
	// opt_commit, OptBase with opt_base (records.Eval.CountsOpt).
	Passed  int `json:"passed"`
	Opt     int `json:"opt"`
	OptBase int `json:"opt_base"`
	// HumanSpeedup is the human commit's speedup over the baseline (the
	// first timed candidate's; HumanShared says every timed candidate had
	// the same, i.e. they were timed together).
	HumanSpeedup *Speedup `json:"human_speedup,omitempty"`
	HumanShared  bool     `json:"human_shared"`
	// MeanSpeedup is the mean agent/base speedup over the item's samples,
	// a candidate not correct (failed, empty, missing or not evaluated)
	// counting as 1.0 (SWE-fficiency's convention); Best the largest
	// speedup of a candidate that passed, with its sample (-1 when none
	// passed).
	MeanSpeedup float64 `json:"mean_speedup"`
	Best        float64 `json:"best_speedup,omitempty"`
	BestSample  int     `json:"best_sample"`
	// PassAtK and OptAtK are the unbiased estimators over the item's
	// samples (a missing one a failure, as in the run's figures),
	// k = 1 .. Samples.
	PassAtK []KValue `json:"pass_at_k,omitempty"`
	OptAtK  []KValue `json:"opt_at_k,omitempty"`
}

// sampleItems aggregates the rows of a run with samples, one per plan
// item in the items' order; nil without samples.
func sampleItems(items []Item, samples int) []SampleItem {
	if samples <= 1 {
		return nil
	}
	var out []SampleItem
	at := map[string]int{}
	for _, it := range items {
		i, ok := at[it.ID]
		if !ok {
			i = len(out)
			at[it.ID] = i
			out = append(out, SampleItem{ID: it.ID, Samples: samples, BestSample: -1})
		}
		a := &out[i]
		ev := it.Eval
		if ev == nil {
			continue
		}
		a.Evaluated++
		speedup := 1.0
		if ev.AgentSpeedup != nil && ev.AgentSpeedup.Valid && ev.Correct {
			speedup = ev.AgentSpeedup.Ratio
		}
		a.MeanSpeedup += speedup - 1
		if ev.Correct {
			a.Passed++
			if a.BestSample < 0 || speedup > a.Best {
				a.Best, a.BestSample = speedup, it.Sample
			}
		}
		if ev.OptCommit {
			a.Opt++
		}
		if ev.OptBase {
			a.OptBase++
		}
		if h := ev.HumanSpeedup; h != nil && h.Valid {
			if a.HumanSpeedup == nil {
				a.HumanSpeedup, a.HumanShared = h, true
			} else if h.Ratio != a.HumanSpeedup.Ratio {
				a.HumanShared = false
			}
		}
	}
	for i := range out {
		a := &out[i]
		if a.Evaluated == 0 {
			continue
		}
		// Summed as excess over 1.0, so the samples without a speedup
		// add nothing.
		a.MeanSpeedup = 1 + a.MeanSpeedup/float64(a.Samples)
		for k := 1; k <= a.Samples; k++ {
			if v, err := stats.PassAtK(a.Samples, a.Passed, k); err == nil {
				a.PassAtK = append(a.PassAtK, KValue{k, v})
			}
			if v, err := stats.PassAtK(a.Samples, a.Opt, k); err == nil {
				a.OptAtK = append(a.OptAtK, KValue{k, v})
			}
		}
	}
	return out
}

// writeSampleTable is WriteTable's table for a run with samples: one row
// per plan item with its candidates aggregated (how many passed, the human
// speedup they share, the mean and best agent speedups, pass@K and Opt@K
// at K = the evaluated samples), and its samples beneath, each as the
// table of a run without samples shows it.
func writeSampleTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	eval := hasEval(r)
	switch {
	case eval && r.Display.Long:
		fmt.Fprintln(tw, "ITEM\tSTATUS\tDURATION\tLINES +/-\tFILES\tCOST\tEVAL\tBASE\tHUMAN\tAGENT\tHUMAN/BASE [95% CI]\tAGENT/BASE [95% CI]\tAGENT/HUMAN [95% CI]\tP\tN\tVERDICT\t"+secondaryHead(r)+"REASON")
	case eval:
		fmt.Fprintln(tw, "ITEM\tSTATUS\tDURATION\tLINES +/-\tFILES\tCOST\tEVAL\tHUMAN\tAGENT [95% CI]\tAGENT/HUMAN\tVERDICT\t"+secondaryHead(r)+"REASON")
	default:
		fmt.Fprintln(tw, "ITEM\tSTATUS\tDURATION\tLINES +/-\tFILES\tCOST\tREASON")
	}
	aggs := map[string]SampleItem{}
	for _, a := range r.SampleItems {
		aggs[a.ID] = a
	}
	seen := map[string]bool{}
	for _, it := range r.Items {
		if !seen[it.ID] {
			seen[it.ID] = true
			writeAggregateRow(tw, r, it.ID, aggs[it.ID])
		}
		writeItemRow(tw, r, it, "  ", eval)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if eval && !r.Display.NoLegend {
		fmt.Fprintf(w, "\n%s\n", legend(r.Items))
		fmt.Fprintln(w, sampleLegend)
	}
	return writeFooter(w, r)
}

// aggregateCells are an item's row above its samples, as text: the
// terminal's and the HTML page's.
type aggregateCells struct {
	status, duration, cost      string
	eval, human, agent, verdict string
}

func aggregateRow(r *Report, id string, a SampleItem) aggregateCells {
	var dur, cost float64
	lines := 0
	for _, it := range r.Items {
		if it.ID == id {
			dur += it.DurationSeconds
			cost += it.CostUSD
			lines++
		}
	}
	status := fmt.Sprintf("%d samples", lines)
	if lines < r.Samples {
		status = fmt.Sprintf("%d of %d samples", lines, r.Samples)
	}
	c := aggregateCells{status: status, duration: fmt.Sprintf("%.1fs", dur), cost: money(cost),
		eval: "-", human: "-", agent: "-", verdict: "-"}
	if a.Evaluated > 0 {
		c.eval = aggregateEval(a)
		if a.HumanSpeedup != nil {
			c.human = ratioText(a.HumanSpeedup)
			if !a.HumanShared {
				c.human += " (differs by sample)"
			}
		}
		c.agent = "mean " + num(a.MeanSpeedup) + "x"
		if a.BestSample >= 0 {
			c.agent += fmt.Sprintf(", best %sx (s%d)", num(a.Best), a.BestSample)
		}
		k := len(a.PassAtK)
		c.verdict = fmt.Sprintf("pass@%d %.2f, Opt@%d %.2f", k, a.PassAtK[k-1].Value, k, a.OptAtK[k-1].Value)
	}
	return c
}

// writeAggregateRow is an item's row above its samples.
func writeAggregateRow(tw io.Writer, r *Report, id string, a SampleItem) {
	c := aggregateRow(r, id, a)
	fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t%s\t", id, c.status, c.duration, c.cost)
	if hasEval(r) {
		if r.Display.Long {
			fmt.Fprintf(tw, "%s\t\t\t\t%s\t%s\t\t\t\t%s\t", c.eval, c.human, c.agent, c.verdict)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t%s\t", c.eval, c.human, c.agent, c.verdict)
		}
	}
	fmt.Fprintln(tw)
}

// sampleLegend explains an item's row above its samples.
const sampleLegend = "an item's row aggregates its samples: EVAL correct/samples, HUMAN the speedup they share, AGENT the mean (a candidate not correct, or missing = 1.0) and the best, VERDICT pass@K and Opt@K over the K samples (a missing one fails)"

// aggregateEval is "1/3 passed", with the evaluated count when some
// sample is not evaluated.
func aggregateEval(a SampleItem) string {
	s := fmt.Sprintf("%d/%d passed", a.Passed, a.Samples)
	if a.Evaluated < a.Samples {
		s += fmt.Sprintf(" (%d evaluated)", a.Evaluated)
	}
	return s
}
