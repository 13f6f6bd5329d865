package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/records"
)

// TestSampleItems: an item's samples aggregate into passed/evaluated (an
// empty patch never passes), the shared human speedup, the mean agent
// speedup with failures as 1.0, the best passing one, and pass@k / Opt@k
// by the unbiased estimator; the table puts the item's row above them.
func TestSampleItems(t *testing.T) {
	sp := func(v float64) *Speedup { return &Speedup{Ratio: v, Valid: true} }
	ok := func(agent float64, opt bool, flags ...string) *ItemEval {
		return &ItemEval{Status: "success", HumanSpeedup: sp(2), AgentSpeedup: sp(agent), OptCommit: opt, Flags: flags, Patched: true, Correct: true}
	}
	// An empty patch is not correct (records.Eval.Correct); its flags
	// are gated by the reader.
	empty := &ItemEval{Status: "success", HumanSpeedup: sp(2), AgentSpeedup: sp(1.0), Flags: []string{records.FlagEmptyPatch}}
	items := []Item{
		{ID: "x-0000", Sample: 0, Dir: "x-0000.s0", Eval: ok(2.4, true)},
		{ID: "x-0000", Sample: 1, Dir: "x-0000.s1", Eval: &ItemEval{Status: string(records.EvalCorrectnessFailed)}},
		{ID: "x-0000", Sample: 2, Dir: "x-0000.s2", Eval: empty},
		{ID: "x-0001", Sample: 0, Dir: "x-0001.s0"},
		{ID: "x-0001", Sample: 1, Dir: "x-0001.s1", Eval: ok(1.5, false)},
		{ID: "x-0001", Sample: 2, Dir: "x-0001.s2"},
	}
	got := sampleItems(items, 3)
	if len(got) != 2 {
		t.Fatalf("%d aggregates", len(got))
	}
	a := got[0]
	if a.Samples != 3 || a.Evaluated != 3 || a.Passed != 1 || a.Opt != 1 || !a.HumanShared || a.HumanSpeedup.Ratio != 2 ||
		math.Abs(a.MeanSpeedup-(2.4+1+1)/3) > 1e-12 || a.Best != 2.4 || a.BestSample != 0 {
		t.Fatalf("x-0000: %+v", a)
	}
	// pass@1 = 1/3, pass@2 = 1 - C(2,2)/C(3,2) = 2/3, pass@3 = 1.
	want := []float64{1.0 / 3, 2.0 / 3, 1}
	for i, kv := range a.PassAtK {
		if kv.K != i+1 || kv.Value < want[i]-1e-9 || kv.Value > want[i]+1e-9 {
			t.Fatalf("pass@k %v, want %v", a.PassAtK, want)
		}
	}
	// x-0001 has one sample of three evaluated: the missing ones fail.
	if b := got[1]; b.Evaluated != 1 || b.Passed != 1 || len(b.PassAtK) != 3 || math.Abs(b.PassAtK[0].Value-1.0/3) > 1e-12 || b.BestSample != 1 ||
		math.Abs(b.MeanSpeedup-(1.5+1+1)/3) > 1e-12 {
		t.Fatalf("x-0001: %+v", b)
	}
	if sampleItems(items, 1) != nil {
		t.Fatal("aggregates without samples")
	}

	r := &Report{RunID: "r", Samples: 3, Items: items, Evaluation: summarize(items, 6, records.Figures{}), SampleItems: got}
	var buf bytes.Buffer
	if err := WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	i0, i1 := strings.Index(out, "\nx-0000 "), strings.Index(out, "\n  x-0000.s0 ")
	if i0 < 0 || i1 < i0 || !strings.Contains(out, "1/3 passed") || !strings.Contains(out, "1/3 passed (1 evaluated)") || !strings.Contains(out, "best 2.40x (s0)") || !strings.Contains(out, "pass@3 1.00, Opt@3 1.00") {
		t.Fatalf("table:\n%s", out)
	}
}
