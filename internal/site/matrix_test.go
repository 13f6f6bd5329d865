package site

import (
	"bytes"
	"math"
	"strings"
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

// compare --exclude-flagged's board: the leaderboard's task names the
// items left out, as the terminal table does, and the matrix marks their
// rows, rendered in the index.
func TestExcludedFlaggedShown(t *testing.T) {
	task := compare.Task{ID: "demo", ExcludedFlaggedItems: []string{"c1"},
		Rows: []compare.Row{{RunID: "run-a", ExcludedFlagged: true, Flagged: 1}},
		Matrix: &compare.Matrix{Runs: []string{"run-a"}, Items: []compare.MatrixItem{
			{ID: "c1", ExcludedFlagged: true, Cells: []compare.Cell{{Status: compare.CellOK, Speedup: 2, Correct: 1, Flagged: true}}},
			{ID: "c2", Cells: []compare.Cell{{Status: compare.CellOK, Speedup: 2, Correct: 1}}},
		}}}
	lb := leaderboardView(&compare.Board{Tasks: []compare.Task{task}}, nil, false)
	if w := lb.Tasks[0].Warnings; len(w) != 1 || w[0] != compare.ExcludedFlaggedLine(task) || compare.ExcludedFlaggedLine(task) == "" {
		t.Errorf("leaderboard warnings: got %q, want the excluded line", w)
	}
	st := &siteTask{task: &task, runs: []*siteRun{{row: &task.Rows[0], itemByID: map[string]*siteItem{}}}}
	it := indexTaskView(st, 0)
	if !it.Rows[0].ExcludedFlagged || it.Rows[1].ExcludedFlagged {
		t.Errorf("matrix rows: want c1 marked excluded, c2 not: %+v", it.Rows)
	}
	var buf bytes.Buffer
	if err := siteTemplates.ExecuteTemplate(&buf, "index.html", indexView{Tasks: []indexTask{it}, Leaderboard: lb}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "(excluded_flagged)</small>"); n != 1 {
		t.Errorf("index: %d rows marked (excluded_flagged), want 1", n)
	}
	if !strings.Contains(buf.String(), "left out of every run&#39;s aggregates and pairs: c1") {
		t.Errorf("index lacks the excluded line")
	}
}
