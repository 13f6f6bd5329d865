package report

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

func TestSpendIsTheLedgersPlusALegacyRunSpend(t *testing.T) {
	dir := t.TempDir()
	// A run.json written before ledgers carries the spend of its sessions.
	if err := journal.WriteRun(dir, &records.Run{RunID: "old", SpentUSD: 0.5}); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.SpentUSD != 0.5 {
		t.Fatalf("legacy run: spend %v, want 0.5", r.SpentUSD)
	}
	// Resumed by two processes at once, each with its own ledger.
	for pid, v := range map[int]float64{41: 0.25, 42: 0.125} {
		if err := journal.WriteLedger(dir, &journal.Ledger{Harness: records.Harness{Host: "h", PID: pid}, SpentUSD: v}); err != nil {
			t.Fatal(err)
		}
	}
	if r, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	if r.SpentUSD != 0.875 || len(r.Problems) != 0 {
		t.Fatalf("spend %v (problems %v), want 0.875", r.SpentUSD, r.Problems)
	}
}

// TestInconclusiveCell: an inconclusive verdict is printed with its
// label, never as a match (records' TestRunFigures counts it in its own
// column).
func TestInconclusiveCell(t *testing.T) {
	items := []Item{
		{ID: "a", Dir: "a-s0", Status: "success", Eval: &ItemEval{Status: "success", Verdict: "inconclusive", VerdictLabel: "inconclusive (n too small)"}},
		{ID: "b", Dir: "b-s0", Status: "success", Eval: &ItemEval{Status: "success", Verdict: "match", Significant: true}},
	}
	if _, _, _, v := evalCells(items[0].Eval); v != "inconclusive (n too small)" {
		t.Errorf("inconclusive cell %q", v)
	}
	if _, _, _, v := evalCells(items[1].Eval); v != "match (within ±5%)" {
		t.Errorf("match cell %q", v)
	}
}

// TestNoisySaysWhichArm: the noisy flag names the arm and its CV.
func TestNoisySaysWhichArm(t *testing.T) {
	it := Item{Eval: &ItemEval{Status: "success", Flags: []string{"noisy", "few_rounds"},
		NoisyArms: []NoisyArm{{Arm: "human", CV: 0.143}}}}
	if got, want := itemReason(it), "[noisy: human CV 14%, few_rounds]"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
}

// TestSummarizeRates: the run figures are records.RunFigures' (the units
// of the plan, missing ones included); the gate counts are the rows'.
func TestSummarizeRates(t *testing.T) {
	var items []Item
	for s := range 2 {
		items = append(items,
			Item{ID: "noop", Dir: fmt.Sprintf("noop.s%d", s), Status: "no_patch", Eval: &ItemEval{Status: "success"}},
			Item{ID: "good", Dir: fmt.Sprintf("good.s%d", s), Status: "success", Eval: &ItemEval{Status: "success", Patched: true, Correct: true}},
			Item{ID: "bad", Dir: fmt.Sprintf("bad.s%d", s), Status: "success", Eval: &ItemEval{Status: "correctness_failed", Patched: true}})
	}
	ok := records.Unit{Patch: true, Correct: true}
	units := [][]records.Unit{{{}, {}}, {ok, ok}, {{Patch: true}, {Patch: true}}, {}}
	s := summarize(items, 8, records.RunFigures(units, 2))
	if s.Units != 8 || s.Patched != 4 || s.Correct != 2 || s.GatePassed != 4 || s.GateReached != 6 {
		t.Fatalf("counts: %+v", s)
	}
	if s.PatchRate != 0.5 || s.CorrectRate != 0.25 {
		t.Errorf("rates: patch %v, correct %v; want 0.5 and 0.25", s.PatchRate, s.CorrectRate)
	}
	// pass@1 over the four plan items: good 2/2, the others 0.
	if len(s.PassAtK) != 2 || math.Abs(s.PassAtK[0].Value-1.0/4) > 1e-12 {
		t.Errorf("pass@1: want 1/4 (an empty patch never passes, a missing item fails), got %+v", s.PassAtK)
	}
	if l := evalLines(s)[1]; l != "patch rate 50% (4 of 8), correct rate 25% (2 of 8: non-empty patch past the gate); gate passed 4 of 6 reached" {
		t.Errorf("rates line %q", l)
	}
}

func TestProtocolFlagsInReason(t *testing.T) {
	it := Item{Eval: &ItemEval{Status: "success", Flags: []string{"writes_during_timing", "setup_grew"}, SetupSeconds: 2.5, BaseSetupSeconds: 0.1}}
	if got, want := itemReason(it), "[writes_during_timing, setup_grew: 0.1s → 2.5s]"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	if l := legend([]Item{it}); !strings.Contains(l, "setup_grew = ") || !strings.Contains(l, "writes_during_timing = ") {
		t.Errorf("legend %q", l)
	}
	if l := legend([]Item{{Eval: &ItemEval{Status: "success", Flags: []string{"noisy"}}}}); strings.Contains(l, "setup_grew") {
		t.Errorf("legend explains flags no item has: %q", l)
	}
}

// TestTableStripsControlCharacters: an evaluation's reason quoting a
// command's output (agent-controlled) reaches the terminal without its
// escape sequences or bell.
func TestTableStripsControlCharacters(t *testing.T) {
	r := &Report{RunID: "r", Samples: 1, Total: 1, Counts: map[string]int{"success": 1},
		Items:      []Item{{ID: "a", Dir: "a", Status: "success", Eval: &ItemEval{Status: "correctness_failed", Reason: "tests failed: \x1b[31mred\x1b]0;pwned\x07"}}},
		Evaluation: &EvalSummary{Evaluated: 1, Units: 1, Counts: map[string]int{"correctness_failed": 1}}}
	var b strings.Builder
	if err := WriteTable(&b, r); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, "[31mred]0;pwned") {
		t.Errorf("table:\n%q", out)
	}
}
