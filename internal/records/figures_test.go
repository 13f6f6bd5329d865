package records

import (
	"math"
	"testing"

	"github.com/perfbench/perfbench/internal/stats"
)

// TestUnitOf: an empty patch whose eval.json flags it (an older file, or
// noise) is neither a patch nor correct nor counted in Opt@1 or the
// verdicts; a failed candidate neither; a unit not evaluated keeps the
// rollout's patch.
func TestUnitOf(t *testing.T) {
	flagged := func(p EvalPatch, st EvalStatus) *Eval {
		return &Eval{Status: st, Patch: p, Stats: &stats.ThreeWay{OptBase: true, OptCommit: true,
			Verdict: stats.Verdict{Outcome: stats.Win, Significant: true}}}
	}
	applied := EvalPatch{Bytes: 10, Applied: true}
	good := UnitOf(nil, flagged(applied, EvalSuccess))
	if good != (Unit{Patch: true, Correct: true, OptBase: true, OptCommit: true, Verdict: stats.Win, Significant: true}) {
		t.Errorf("correct candidate: %+v", good)
	}
	if u := UnitOf(nil, flagged(EvalPatch{Empty: true, Applied: true}, EvalSuccess)); u != (Unit{}) {
		t.Errorf("empty patch: %+v, want nothing counted", u)
	}
	if u := UnitOf(nil, flagged(applied, EvalCorrectnessFailed)); u != (Unit{Patch: true}) {
		t.Errorf("failed candidate: %+v", u)
	}
	j := &Journal{Patch: &PatchInfo{Bytes: 10, Applies: true}}
	if u := UnitOf(j, nil); u != (Unit{Patch: true}) {
		t.Errorf("not evaluated: %+v, want the rollout's patch", u)
	}
	if u := UnitOf(j, flagged(applied, EvalBaseFailed)); u != (Unit{Patch: true}) {
		t.Errorf("base_failed: %+v, want the rollout's patch only", u)
	}
	if u := UnitOf(nil, nil); u != (Unit{}) {
		t.Errorf("missing: %+v", u)
	}
	st := stats.ThreeWay{OptBase: true, OptCommit: true}
	GateOptFlags(&st, EvalPatch{Empty: true, Applied: true})
	if st.OptBase || st.OptCommit {
		t.Error("GateOptFlags kept an empty patch's flags")
	}
	st.OptBase = true
	if GateOptFlags(&st, applied); !st.OptBase {
		t.Error("GateOptFlags cleared an applied patch's flag")
	}
}

// TestRunFigures: rates over every unit of the plan, a unit absent from
// an item failing; the verdicts counted each in its column; pass@k and
// Opt@K by the unbiased estimator.
func TestRunFigures(t *testing.T) {
	opt := Unit{Patch: true, Correct: true, OptBase: true, OptCommit: true, Verdict: stats.Win, Significant: true}
	match := Unit{Patch: true, Correct: true, OptBase: true, Verdict: stats.Match, Significant: true}
	units := [][]Unit{
		{opt, {Patch: true}},
		{match, {Correct: true, Patch: true, Verdict: stats.Inconclusive}},
		{{Patch: true, Correct: true, Verdict: stats.Loss}}, // one of two samples missing
	}
	f := RunFigures(units, 2)
	if f.Items != 3 || f.Patched != 5 || f.Correct != 4 || f.PatchRate != 5.0/6 || f.CorrectRate != 4.0/6 {
		t.Fatalf("rates: %+v", f)
	}
	if f.Win != 1 || f.Match != 1 || f.MatchSignificant != 1 || f.Loss != 1 || f.Inconclusive != 1 {
		t.Errorf("verdicts: %+v", f)
	}
	// Opt@1 = (1/2 + 0 + 0) / 3; opt_base@1 = (1/2 + 1/2 + 0) / 3.
	if math.Abs(f.OptAt1-1.0/6) > 1e-12 || math.Abs(f.OptBaseAt1-1.0/3) > 1e-12 {
		t.Errorf("Opt@1 %v, opt_base@1 %v", f.OptAt1, f.OptBaseAt1)
	}
	// pass@1 = (1/2 + 1 + 1/2) / 3; pass@2 = (1 + 1 + 1) / 3; Opt@2 = 1/3.
	if len(f.PassAtK) != 2 || math.Abs(f.PassAtK[0]-2.0/3) > 1e-12 || f.PassAtK[1] != 1 || math.Abs(f.OptAtK[1]-1.0/3) > 1e-12 {
		t.Errorf("pass@k %v, Opt@K %v", f.PassAtK, f.OptAtK)
	}
	if one := RunFigures(units, 1); one.PassAtK != nil {
		t.Errorf("pass@k with one sample: %v", one.PassAtK)
	}
	if none := RunFigures(nil, 1); none.PatchRate != 0 || none.OptAt1 != 0 {
		t.Errorf("no items: %+v", none)
	}
}

func TestForensicFlagsOf(t *testing.T) {
	j := &Journal{Forensics: &Forensics{
		LeakAttempts: []LeakAttempt{{Rule: "git_history"}, {Rule: "git_remote"}, {Rule: "git_history"}},
		RewardHacks:  []RewardHack{{Rule: "memo_decorator", Severity: "medium"}},
	}}
	ev := &Eval{Patch: EvalPatch{RewardHacks: []RewardHack{{Rule: "memo_decorator", Severity: "medium"}, {Rule: "timer_tamper", Severity: "high"}}}}
	f := ForensicFlagsOf(j, ev)
	if !f.Any() || f.String() != "leak attempts: git_history, git_remote; reward hacks: memo_decorator (medium), timer_tamper (high)" {
		t.Errorf("ForensicFlagsOf = %q", f.String())
	}
	if f := ForensicFlagsOf(&Journal{Forensics: &Forensics{Exempt: "replay"}}, &Eval{}); f.Any() || f.String() != "" {
		t.Errorf("nothing found: %+v", f)
	}
	if ForensicFlagsOf(nil, nil).Any() {
		t.Error("nil records flagged")
	}
}

// A low-severity reward-hack rule (edits_tests: most honest changes add
// a test) is shown but flags nothing: --exclude-flagged does not fail
// the candidate, the run's flagged count does not count it.
func TestForensicFlagsLowSeverityNotFlagged(t *testing.T) {
	j := &Journal{Forensics: &Forensics{RewardHacks: []RewardHack{{Rule: "edits_tests", Severity: "low"}}}}
	f := ForensicFlagsOf(j, nil)
	if f.Any() || !f.Noted() || f.String() != "reward hacks: edits_tests (low)" {
		t.Errorf("low only: Any %v, Noted %v, %q", f.Any(), f.Noted(), f.String())
	}
	if j.Forensics.Flagged() {
		t.Error("Forensics.Flagged with a low-severity rule only")
	}
	j.Forensics.RewardHacks = append(j.Forensics.RewardHacks, RewardHack{Rule: "module_cache", Severity: "medium"})
	if f := ForensicFlagsOf(j, nil); !f.Any() || !j.Forensics.Flagged() {
		t.Errorf("medium: %+v not flagged", f)
	}
}
