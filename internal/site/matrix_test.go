package site

import (
	"math"
	"testing"

	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/records"
)

// A matrix cell as the grid shows compare's cell: the verdict or the
// status, the speedup and its CI, with samples how many were correct.
func TestCellView(t *testing.T) {
	for _, c := range []struct {
		name    string
		cell    compare.Cell
		samples int
		want    matrixCellView
	}{
		{"a win", compare.Cell{Status: compare.CellOK, Speedup: 2.5, Lo: 2.25, Hi: 2.75, CIValid: true, Verdict: "win", Correct: 1}, 1,
			matrixCellView{Class: "c-win", Text: "2.5×", Sub: "[2.25, 2.75] win", Page: "p.html"}},
		{"no verdict, no CI", compare.Cell{Status: compare.CellOK, Speedup: 1.2, Correct: 1}, 1,
			matrixCellView{Class: "c-unjudged", Text: "1.2×", Page: "p.html"}},
		{"an empty patch", compare.Cell{Status: compare.CellNoPatch, Speedup: 1}, 1,
			matrixCellView{Class: "c-no_patch", Text: "no_patch", Page: "p.html"}},
		{"tests broken", compare.Cell{Status: string(records.EvalCorrectnessFailed)}, 1,
			matrixCellView{Class: "c-correctness_failed", Text: "correctness_failed", Page: "p.html"}},
		{"samples that agree", compare.Cell{Status: compare.CellOK, Speedup: 4, Verdict: "match", Correct: 3}, 3,
			matrixCellView{Class: "c-match", Text: "4×", Sub: "match, 3/3 correct", Page: "p.html"}},
		{"samples that differ", compare.Cell{Status: compare.CellOK, Speedup: 4, Correct: 2}, 2,
			matrixCellView{Class: "c-samples", Text: "4×", Sub: "2/2 correct", Page: "p.html"}},
		{"flagged by the forensic scans", compare.Cell{Status: compare.CellOK, Speedup: 2, Verdict: "win", Correct: 1, Flagged: true}, 1,
			matrixCellView{Class: "c-win", Text: "2× !", Sub: "win, flagged", Page: "p.html"}},
		{"flagged and failed", compare.Cell{Status: string(records.EvalCorrectnessFailed), Flagged: true}, 1,
			matrixCellView{Class: "c-correctness_failed", Text: "correctness_failed !", Sub: "flagged", Page: "p.html"}},
		{"one sample broke", compare.Cell{Status: string(records.EvalCorrectnessFailed), Correct: 2}, 3,
			matrixCellView{Class: "c-correctness_failed", Text: "correctness_failed", Sub: "2/3 correct", Page: "p.html"}},
	} {
		if got := cellView(c.cell, c.samples, "p.html"); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	if got := cellView(compare.Cell{Status: compare.CellNotInPlan}, 3, ""); got != (matrixCellView{Class: "c-not_in_plan", Text: "not_in_plan"}) {
		t.Errorf("not in the plan: %+v", got)
	}
}

// An axis crossing zero has a tick "0", never "-0".
func TestTicksNoNegativeZero(t *testing.T) {
	for _, c := range [][2]float64{{-0.3, 0.2}, {-1e-9, 1}, {-2.5, 2.5}} {
		for _, tk := range niceTicks(c[0], c[1], 6) {
			if s := num(tk); s == "-0" || math.Signbit(tk) && tk == 0 {
				t.Errorf("ticks of [%v, %v]: %q", c[0], c[1], s)
			}
		}
	}
	if num(math.Copysign(0, -1)) != "0" {
		t.Error(`num(-0) is not "0"`)
	}
}
