package records

import "github.com/perfbench/perfbench/internal/stats"

// The run figures (patch and correct rates, Opt@1, opt_base@1, pass@k,
// Opt@K, win/match/loss/inconclusive) have one definition, here, which
// bench report, bench compare and the site share: rates over every unit
// of the plan (a missing or unevaluated one is a failure), and the flags
// and verdicts of correct candidates only.

// VerdictCountsOver says what the counts of win/match/loss/inconclusive
// are over, for every legend that shows them.
const VerdictCountsOver = "over correct candidates only: a non-empty patch past the gate; an empty or failed candidate is in none"

// Patched reports whether the candidate's patch is non-empty and applied,
// as evaluate applied it.
func (r *Eval) Patched() bool { return r != nil && !r.Patch.Empty && r.Patch.Applied }

// Correct reports whether the candidate is correct: a non-empty patch that
// applied and passed the correctness gate (and equivalence when set). An
// empty patch is never correct: its agent arm is the baseline.
func (r *Eval) Correct() bool {
	if r == nil {
		return false
	}
	passed, _ := r.Status.AgentGate()
	return passed && r.Patched()
}

// CountsOpt are opt_base and opt_commit as the figures count them: a
// correct candidate's flags, false for any other (an empty patch reaches
// the thresholds by noise alone; older eval.json files set them for it).
func (r *Eval) CountsOpt() (optBase, optCommit bool) {
	if !r.Correct() || r.Stats == nil {
		return false, false
	}
	return r.Stats.OptBase, r.Stats.OptCommit
}

// CountsVerdict is the verdict of agent vs human as win/match/loss/
// inconclusive count it: a correct candidate's, "" for any other.
func (r *Eval) CountsVerdict() (o stats.Outcome, significant bool) {
	if !r.Correct() || r.Stats == nil {
		return "", false
	}
	return r.Stats.Verdict.Outcome, r.Stats.Verdict.Significant
}

// GateOptFlags clears st's opt_base and opt_commit unless the patch is
// non-empty and applied: what evaluate stores, so that eval.json does not
// flag an empty patch.
func GateOptFlags(st *stats.ThreeWay, p EvalPatch) {
	if p.Empty || !p.Applied {
		st.OptBase, st.OptCommit = false, false
	}
}

// Unit is one sample of one plan item as the run figures count it.
type Unit struct {
	// Patch: a non-empty patch that applies: the evaluation's apply when
	// the unit is evaluated, else the rollout's.
	Patch              bool
	Correct            bool
	OptBase, OptCommit bool
	// Verdict is a correct candidate's (CountsVerdict).
	Verdict     stats.Outcome
	Significant bool
}

// UnitOf is what a unit's journal and evaluation (either may be nil) count
// for. An evaluation not done (base_failed, human_failed) leaves the
// rollout's patch standing.
func UnitOf(j *Journal, ev *Eval) Unit {
	var u Unit
	if j != nil {
		u.Patch = j.Patch != nil && j.Patch.Bytes > 0 && j.Patch.Applies
	}
	if ev == nil || !ev.Status.Done() {
		return u
	}
	u.Patch, u.Correct = ev.Patched(), ev.Correct()
	u.OptBase, u.OptCommit = ev.CountsOpt()
	u.Verdict, u.Significant = ev.CountsVerdict()
	return u
}

// Figures are a run's figures over every unit of its plan.
type Figures struct {
	// Items are the plan's items, Samples the units per item.
	Items, Samples int
	// Patched and Correct count units; the rates are over every unit.
	Patched, Correct       int
	PatchRate, CorrectRate float64
	// OptAt1 and OptBaseAt1 are the mean over items of the share of their
	// samples with the flag.
	OptAt1, OptBaseAt1 float64
	// Verdicts of correct candidates.
	Win, Match, MatchSignificant, Loss, Inconclusive int
	// PassAtK, OptAtK and OptBaseAtK are the unbiased estimators at
	// k = 1 .. Samples (index k-1), a missing sample a failure; nil with
	// one sample.
	PassAtK, OptAtK, OptBaseAtK []float64
}

// RunFigures computes the figures from units[i][s], sample s of plan item
// i; a unit absent from units[i] (fewer than samples) counts as a failure.
func RunFigures(units [][]Unit, samples int) Figures {
	samples = max(samples, 1)
	f := Figures{Items: len(units), Samples: samples}
	pass, opt, optBase := make([]stats.Count, len(units)), make([]stats.Count, len(units)), make([]stats.Count, len(units))
	for i, item := range units {
		c := [3]int{}
		for _, u := range item {
			if u.Patch {
				f.Patched++
			}
			if u.Correct {
				f.Correct++
				c[0]++
			}
			if u.OptCommit {
				c[1]++
			}
			if u.OptBase {
				c[2]++
			}
			switch u.Verdict {
			case stats.Win:
				f.Win++
			case stats.Match:
				f.Match++
				if u.Significant {
					f.MatchSignificant++
				}
			case stats.Loss:
				f.Loss++
			case stats.Inconclusive:
				f.Inconclusive++
			}
		}
		pass[i], opt[i], optBase[i] = stats.Count{N: samples, C: c[0]}, stats.Count{N: samples, C: c[1]}, stats.Count{N: samples, C: c[2]}
	}
	if n := float64(len(units) * samples); n > 0 {
		f.PatchRate, f.CorrectRate = float64(f.Patched)/n, float64(f.Correct)/n
	}
	f.OptAt1, _ = stats.MeanAtK(opt, 1)
	f.OptBaseAt1, _ = stats.MeanAtK(optBase, 1)
	if samples > 1 && len(units) > 0 {
		for k := 1; k <= samples; k++ {
			p, _ := stats.MeanAtK(pass, k)
			o, _ := stats.MeanAtK(opt, k)
			b, _ := stats.MeanAtK(optBase, k)
			f.PassAtK, f.OptAtK, f.OptBaseAtK = append(f.PassAtK, p), append(f.OptAtK, o), append(f.OptBaseAtK, b)
		}
	}
	return f
}
