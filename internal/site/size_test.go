package site

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// syntheticSite is a board of runs × items held in memory, with every kind
// of cell (timed with each verdict, failed, missing, not evaluated), run
// ids and item ids as long as real ones.
func syntheticSite(runs, items int) *siteData {
	b := &compare.Board{Bootstrap: compare.Bootstrap{Resamples: 2000, Seed: 12, Confidence: 0.95}}
	task := compare.Task{ID: "synthetic"}
	metric := func(v float64) compare.Metric {
		return compare.Metric{Value: v, Lo: v * 0.9, Hi: v * 1.1, N: items, Valid: true}
	}
	for r := range runs {
		task.Rows = append(task.Rows, compare.Row{
			RunID: fmt.Sprintf("synthetic__agent-%02d__anthropic-claude-x__20261125T1841%02dZ", r, r), Agent: fmt.Sprintf("agent-%02d", r),
			Model: "anthropic/claude-x", Samples: 1, Items: items, Evaluated: items,
			PatchRate: metric(0.8), CorrectRate: metric(0.6), OptBase1: metric(0.4), Opt1: metric(0.3), SR: metric(0.7),
			GeoMeanCorrect: metric(1.4), GeoMeanAll: metric(1.1), CostUSD: float64(r) * 1.5,
		})
	}
	verdicts := []stats.Outcome{stats.Win, stats.Match, stats.Loss, stats.Inconclusive}
	task.Matrix = &compare.Matrix{}
	for i := range items {
		human := fmt.Sprintf("%040x", i*7919)
		mi := compare.MatrixItem{ID: fmt.Sprintf("synthetic-%04d", i), Human: human, HumanShort: human[:10], HumanSpeedup: 2,
			Subject: "perf: make the hot path of the parser faster (" + human[:6] + ")"}
		for r := range runs {
			var c compare.Cell
			switch (i + r) % 10 {
			case 0:
				c.Status = compare.CellMissing
			case 1:
				c.Status = compare.CellInfraError
			case 2:
				c.Status = string(records.EvalCorrectnessFailed)
			default:
				a := 0.5 + float64((i*7+r)%40)/10
				c = compare.Cell{Status: compare.CellOK, Speedup: a, Lo: a * 0.95, Hi: a * 1.05, CIValid: true, Verdict: string(verdicts[i%4]), Correct: 1}
			}
			mi.Cells = append(mi.Cells, c)
		}
		task.Matrix.Items = append(task.Matrix.Items, mi)
	}
	for r := range task.Rows {
		task.Matrix.Runs = append(task.Matrix.Runs, task.Rows[r].RunID)
		for _, t := range compare.ThresholdSteps() {
			task.Rows[r].ThresholdCurve = append(task.Rows[r].ThresholdCurve, compare.ThresholdPoint{T: t, Share: 0.7 / t})
		}
	}
	b.Tasks = []compare.Task{task}
	s := &siteData{board: b}
	st := &siteTask{task: &b.Tasks[0]}
	for r := range runs {
		run := &siteRun{row: &b.Tasks[0].Rows[r], task: "synthetic", slug: b.Tasks[0].Rows[r].RunID, samples: 1, itemByID: map[string]*siteItem{}}
		run.page = "runs/" + run.slug + "/index.html"
		for _, mi := range task.Matrix.Items {
			u := &siteUnit{dir: mi.ID, page: "runs/" + run.slug + "/" + mi.ID + ".html"}
			it := &siteItem{id: mi.ID, human: mi.Human, units: []*siteUnit{u}}
			run.items = append(run.items, it)
			run.itemByID[mi.ID] = it
		}
		st.runs = append(st.runs, run)
		s.runs = append(s.runs, run)
	}
	st.attachMatrix()
	s.tasks = []*siteTask{st}
	return s
}

// The index of 1,000 items × 20 runs stays under 5 MB.
func TestIndexSize(t *testing.T) {
	var buf bytes.Buffer
	if err := writeIndex(&buf, syntheticSite(20, 1000)); err != nil {
		t.Fatal(err)
	}
	const limit = 5 << 20
	t.Logf("index of 1,000 items × 20 runs: %d bytes", buf.Len())
	if buf.Len() > limit {
		t.Errorf("index of 1,000 items × 20 runs: %d bytes, over %d", buf.Len(), limit)
	}
}

// BenchmarkIndex renders the index of 1,000 items × 20 runs and reports
// its size.
func BenchmarkIndex(b *testing.B) {
	s := syntheticSite(20, 1000)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := writeIndex(&buf, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/index")
}
