package site

import (
	"math"
	"testing"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// timed is a correct, timed unit with these speedups over the baseline.
func timed(human, agent float64, verdict stats.Outcome) *siteUnit {
	return &siteUnit{j: &records.Journal{Status: records.RolloutSuccess}, ev: &records.Eval{
		Status: records.EvalSuccess, Patch: records.EvalPatch{Applied: true},
		Stats: &stats.ThreeWay{
			HumanOverBase: stats.Speedup{Ratio: human, Valid: true},
			AgentOverBase: stats.Speedup{Ratio: agent, Valid: true, Lo: agent * 0.9, Hi: agent * 1.1, CIValid: true},
			Verdict:       stats.Verdict{Outcome: verdict},
		},
	}}
}

func TestUnitCell(t *testing.T) {
	success := &records.Journal{Status: records.RolloutSuccess}
	for _, c := range []struct {
		name string
		u    *siteUnit
		want string
	}{
		{"no records", &siteUnit{}, StateMissing},
		{"rollout unfinished", &siteUnit{j: &records.Journal{Status: records.RolloutInfraError}}, "infra_error"},
		{"rollout crashed", &siteUnit{j: &records.Journal{Status: records.RolloutRunning}}, "running"},
		{"not evaluated", &siteUnit{j: success}, StateNotEvaluated},
		{"baseline failed", &siteUnit{j: success, ev: &records.Eval{Status: records.EvalBaseFailed}}, "base_failed"},
		{"empty patch", &siteUnit{j: success, ev: &records.Eval{Status: records.EvalSuccess, Patch: records.EvalPatch{Empty: true}}}, StateNoPatch},
		{"tests broken", &siteUnit{j: success, ev: &records.Eval{Status: records.EvalCorrectnessFailed, Patch: records.EvalPatch{Applied: true}}}, "correctness_failed"},
		{"no status", &siteUnit{j: success, ev: &records.Eval{Patch: records.EvalPatch{Applied: true}}}, "unknown"},
		{"a win", timed(2, 2.5, stats.Win), "win"},
	} {
		if got := unitCell(c.u); got.State != c.want {
			t.Errorf("%s: state %q, want %q", c.name, got.State, c.want)
		}
	}
	c := unitCell(timed(2, 2.5, stats.Win))
	if !c.Timed || !c.CI || c.Speedup != 2.5 || c.Lo != 2.25 {
		t.Errorf("a timed cell: %+v", c)
	}
	if v := cellView(c); v.Text != "2.5×" || v.Sub != "[2.25, 2.75] win" || v.Class != "c-win" {
		t.Errorf("a timed cell as shown: %+v", v)
	}
}

// Samples: the geometric mean of the correct ones, how many passed.
func TestCellOfSamples(t *testing.T) {
	c := cellOf([]*siteUnit{timed(2, 2, stats.Match), {j: &records.Journal{Status: records.RolloutSuccess}}, timed(2, 8, stats.Win)})
	if c.State != "samples" || c.Correct != 2 || c.Samples != 3 || math.Abs(c.Speedup-4) > 1e-12 {
		t.Errorf("samples: %+v", c)
	}
	c = cellOf([]*siteUnit{{}, {j: &records.Journal{Status: records.RolloutSuccess}}})
	if c.State != StateMissing || c.Timed {
		t.Errorf("no sample timed: want the first failure, got %+v", c)
	}
}

// The threshold curve over 4 plan items: a replay (agent = human), an
// agent at 0.6 × the human, a broken candidate and a missing item.
func TestThresholdCurve(t *testing.T) {
	items := []*siteItem{
		{units: []*siteUnit{timed(2, 2, stats.Match)}},
		{units: []*siteUnit{timed(2, 1.2, stats.Loss)}},
		{units: []*siteUnit{{j: &records.Journal{Status: records.RolloutSuccess}, ev: &records.Eval{Status: records.EvalCorrectnessFailed}}}},
	}
	curve := thresholdCurve(items, 4)
	if len(curve) != 21 || curve[0].T != 0.5 || curve[20].T != 1.5 || curve[10].T != 1 {
		t.Fatalf("thresholds: %+v", curve)
	}
	want := map[float64]float64{0.5: 0.5, 0.6: 0.5, 0.65: 0.25, 0.95: 0.25, 1: 0.25, 1.05: 0, 1.5: 0}
	for _, p := range curve {
		if w, ok := want[p.T]; ok && math.Abs(p.Share-w) > 1e-12 {
			t.Errorf("share at t = %v: %v, want %v", p.T, p.Share, w)
		}
	}
	if c := thresholdCurve(nil, 0); c[0].Share != 0 {
		t.Errorf("no items: %+v", c)
	}
}
