package site

import (
	"math"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// The matrix and the threshold curve are computed here from the records,
// in small functions of their own, so that compare's versions
// (Task.Matrix, Row's threshold curve) can replace them when they exist:
// buildMatrix, cellOf and thresholdCurve.

// matrix is one task's item × run grid.
type matrix struct {
	runs []*siteRun
	rows []matrixRow
}

type matrixRow struct {
	id, human, pre string
	cells          []Cell
}

// Cell is one item of one run: the agent's speedup over the baseline with
// its CI and the verdict of agent vs human, or why there is none.
type Cell struct {
	// State is the verdict (win, match, loss, inconclusive) of a timed,
	// correct candidate, else what stopped it: absent (not in this run's
	// plan), missing (no rollout record), the rollout's status when it is
	// not final (infra_error, interrupted, running), not_evaluated, the
	// evaluation's status (patch_failed, correctness_failed, ...), or
	// no_patch (an empty patch: nothing to time).
	State string
	// Timed says Speedup (and, with CI, Lo and Hi) hold the agent's
	// speedup over the baseline; with several samples, their geometric
	// mean over the correct ones.
	Timed           bool
	CI              bool
	Speedup, Lo, Hi float64
	// Correct of Samples samples passed the gate (Samples > 1 only).
	Correct, Samples int
	// Page is the first sample's page.
	Page string
}

// Cell states that are not verdicts.
const (
	StateAbsent       = "absent"
	StateMissing      = "missing"
	StateNotEvaluated = "not_evaluated"
	StateNoPatch      = "no_patch"
)

func buildMatrix(runs []*siteRun) matrix {
	m := matrix{runs: runs}
	index := map[string]int{}
	for _, r := range runs {
		for _, it := range r.items {
			if i, ok := index[it.id]; ok {
				if m.rows[i].human == "" {
					m.rows[i].human, m.rows[i].pre = it.human, it.pre
				}
				continue
			}
			index[it.id] = len(m.rows)
			m.rows = append(m.rows, matrixRow{id: it.id, human: it.human, pre: it.pre})
		}
	}
	for i := range m.rows {
		m.rows[i].cells = make([]Cell, len(runs))
		for c := range runs {
			m.rows[i].cells[c] = Cell{State: StateAbsent}
		}
	}
	for c, r := range runs {
		for _, it := range r.items {
			m.rows[index[it.id]].cells[c] = cellOf(it.units)
		}
	}
	return m
}

// cellOf summarises an item's samples in one cell.
func cellOf(units []*siteUnit) Cell {
	if len(units) == 0 {
		return Cell{State: StateMissing}
	}
	if len(units) == 1 {
		return unitCell(units[0])
	}
	c := Cell{Samples: len(units), Page: units[0].page}
	var logSum float64
	var worst string
	for _, u := range units {
		uc := unitCell(u)
		if uc.Timed {
			c.Correct++
			logSum += math.Log(uc.Speedup)
		} else if worst == "" {
			worst = uc.State
		}
	}
	if c.Correct == 0 {
		c.State = worst
		return c
	}
	c.Timed, c.Speedup = true, math.Exp(logSum/float64(c.Correct))
	// The verdict of the samples together is not one of theirs: the
	// cell shows how many passed and links to each.
	c.State = "samples"
	return c
}

func unitCell(u *siteUnit) Cell {
	c := Cell{Page: u.page}
	j, ev := u.j, u.ev
	switch {
	case j == nil && ev == nil:
		c.State = StateMissing
	case ev == nil && !j.Status.Final():
		c.State = string(j.Status)
		if c.State == "" {
			c.State = string(records.RolloutRunning)
		}
	case ev == nil || !ev.Status.Done() && ev.Status != "":
		if ev != nil {
			c.State = string(ev.Status)
		} else {
			c.State = StateNotEvaluated
		}
	case ev.Patch.Empty:
		c.State = StateNoPatch
	case !u.correct():
		c.State = string(ev.Status)
	default:
		c.State = "inconclusive"
		if st := ev.Stats; st != nil {
			if st.Verdict.Outcome != "" {
				c.State = string(st.Verdict.Outcome)
			}
			if a := st.AgentOverBase; a.Valid && usable(a.Ratio) {
				c.Timed, c.Speedup = true, a.Ratio
				if a.CIValid && usable(a.Lo) && usable(a.Hi) {
					c.CI, c.Lo, c.Hi = true, a.Lo, a.Hi
				}
			}
		}
	}
	if c.State == "" {
		c.State = "unknown"
	}
	return c
}

func usable(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// CurvePoint is one point of a threshold curve: the share of the plan's
// items whose candidate is correct and reaches t × the human speedup.
type CurvePoint struct {
	T     float64 `json:"t"`
	Share float64 `json:"share"`
}

// Thresholds are the curve's t: 0.5 to 1.5 by 0.05.
func Thresholds() []float64 {
	var ts []float64
	for i := 0; i <= 20; i++ {
		ts = append(ts, math.Round((0.5+0.05*float64(i))*100)/100)
	}
	return ts
}

// thresholdCurve is, for each t, the share of the n plan items whose
// candidate is correct with agent/base ≥ t × human/base (an item's samples
// averaged; a failed, missing or unmeasured item never reaches it).
func thresholdCurve(items []*siteItem, n int) []CurvePoint {
	ts := Thresholds()
	out := make([]CurvePoint, len(ts))
	for i, t := range ts {
		out[i].T = t
	}
	if n == 0 {
		return out
	}
	for _, it := range items {
		k := float64(len(it.units))
		for _, u := range it.units {
			ratio, ok := agentOverHuman(u)
			if !ok {
				continue
			}
			for i, t := range ts {
				// The same 1e-12 tolerance as the GSO flags, so a
				// replay of the human patch reaches t = 1.
				if ratio >= t*(1-1e-12) {
					out[i].Share += 1 / k / float64(n)
				}
			}
		}
	}
	return out
}

// agentOverHuman is (agent/base) ÷ (human/base) of a correct candidate.
func agentOverHuman(u *siteUnit) (float64, bool) {
	if !u.correct() || u.ev.Stats == nil {
		return 0, false
	}
	a, h := u.ev.Stats.AgentOverBase, u.ev.Stats.HumanOverBase
	if !a.Valid || !h.Valid || !usable(a.Ratio) || !usable(h.Ratio) {
		return 0, false
	}
	return a.Ratio / h.Ratio, true
}

// verdictStates are the cell states of a timed candidate, in legend order.
var verdictStates = []string{string(stats.Win), string(stats.Match), string(stats.Loss), string(stats.Inconclusive), "samples"}
