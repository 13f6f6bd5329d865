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
	b.Tasks = []compare.Task{task}
	s := &siteData{board: b}
	st := &siteTask{task: &b.Tasks[0]}
	verdicts := []stats.Outcome{stats.Win, stats.Match, stats.Loss, stats.Inconclusive}
	for r := range runs {
		run := &siteRun{row: &b.Tasks[0].Rows[r], task: "synthetic", slug: b.Tasks[0].Rows[r].RunID, samples: 1}
		run.page = "runs/" + run.slug + "/index.html"
		for i := range items {
			id := fmt.Sprintf("synthetic-%04d", i)
			u := &siteUnit{dir: id, page: "runs/" + run.slug + "/" + id + ".html"}
			switch (i + r) % 10 {
			case 0:
				// missing: no records
			case 1:
				u.j = &records.Journal{Status: records.RolloutInfraError}
			case 2:
				u.j = &records.Journal{Status: records.RolloutSuccess}
				u.ev = &records.Eval{Status: records.EvalCorrectnessFailed, Patch: records.EvalPatch{Applied: true}}
			default:
				a := 0.5 + float64((i*7+r)%40)/10
				u.j = &records.Journal{Status: records.RolloutSuccess}
				u.ev = &records.Eval{Status: records.EvalSuccess, Patch: records.EvalPatch{Applied: true}, Stats: &stats.ThreeWay{
					HumanOverBase: stats.Speedup{Ratio: 2, Valid: true},
					AgentOverBase: stats.Speedup{Ratio: a, Valid: true, Lo: a * 0.95, Hi: a * 1.05, CIValid: true},
					Verdict:       stats.Verdict{Outcome: verdicts[i%4]},
				}}
			}
			human := fmt.Sprintf("%040x", i*7919)
			run.items = append(run.items, &siteItem{id: id, human: human, units: []*siteUnit{u}})
		}
		run.curve = thresholdCurve(run.items, items)
		st.runs = append(st.runs, run)
		s.runs = append(s.runs, run)
	}
	st.matrix = buildMatrix(st.runs)
	s.tasks = []*siteTask{st}
	s.opts.Subject = func(sha string) string { return "perf: make the hot path of the parser faster (" + sha[:6] + ")" }
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
