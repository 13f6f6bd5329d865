package site

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/report"
	"github.com/perfbench/perfbench/internal/stats"
)

// figures are the run figures every reader shows.
type figures struct {
	opt1, patch float64
	wmli        string
}

// TestOneDefinitionOfTheRunFigures: bench report (JSON), bench compare
// (JSON), the site's run page and its index give the same Opt@1, patch
// rate and win/match/loss/inconclusive for a run with samples whose empty
// candidate's eval.json flags it opt_base, opt_commit and match (as files
// written before evaluate gated them say), and for an incomplete run with
// one eval.json missing (the item's rollout produced a patch).
func TestOneDefinitionOfTheRunFigures(t *testing.T) {
	root := t.TempDir()
	sp := func(r float64) stats.Speedup {
		return stats.Speedup{Ratio: r, Valid: true, Lo: r * 0.97, Hi: r * 1.03, CIValid: true, P: 0.001, Significant: true, NBase: 5, NCand: 5}
	}
	// A candidate's statistics against a human speedup of 2: flags and
	// verdict as stats computes them, unless forced.
	three := func(agent float64) *stats.ThreeWay {
		o := stats.DefaultOptions()
		st := &stats.ThreeWay{Options: o, HumanOverBase: sp(2), AgentOverBase: sp(agent), AgentOverHuman: sp(agent / 2)}
		st.Verdict = stats.Judge(st.AgentOverHuman, o)
		st.OptBase, st.OptCommit = stats.OptFlags(st.AgentOverBase, st.HumanOverBase)
		return st
	}
	applied := records.EvalPatch{Bytes: 100, Applied: true}
	writeRun := func(id string, items []string, samples int) string {
		dir := filepath.Join(journal.RunsDir(root), id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 1, 2, 3, 4, len(id), 0, time.UTC)
		run := &records.Run{SchemaVersion: records.SchemaVersion, RunID: id, CreatedAt: at, UpdatedAt: at,
			Task: records.RunTask{ID: "demo", Name: "demo"}, Agent: records.RunAgent{Name: id, Type: "command"},
			Items: items, Samples: samples, PlanHash: "p-" + id}
		if err := journal.WriteRun(dir, run); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			for k := range samples {
				d := filepath.Join(dir, journal.ItemDirName(it, k, samples))
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
				// Sample 2 produced nothing; the others a patch.
				j := &records.Journal{SchemaVersion: records.SchemaVersion, RunID: id, ItemID: it, Sample: k,
					Status: records.RolloutSuccess, DurationSeconds: 1, Usage: records.Usage{CostUSD: 0.01}}
				if k == 2 {
					j.Status = records.RolloutNoPatch
				} else {
					j.Patch = &records.PatchInfo{Bytes: 100, Files: []string{"a.go"}, Added: 1, Applies: true}
				}
				if err := journal.WriteJournal(d, j); err != nil {
					t.Fatal(err)
				}
			}
		}
		return dir
	}

	// The run with samples, in the item layout evaluate writes: item a's
	// s0 wins and reaches Opt@1, s1 breaks the tests, s2 is empty yet
	// flagged; item b's s0 loses (1.3x against the human's 2x: opt_base
	// only), s1 matches and reaches Opt@1, s2 is empty and flagged.
	sampled := writeRun("sampled", []string{"a", "b"}, 3)
	flagged := three(1.0)
	flagged.OptBase, flagged.OptCommit = true, true
	flagged.Verdict = stats.Verdict{Outcome: stats.Match, Significant: true}
	for _, it := range []struct {
		id string
		s0 *stats.ThreeWay
	}{{"a", three(2.4)}, {"b", three(1.3)}} {
		ev := &records.Eval{ItemID: it.id, Status: records.EvalSuccess, Config: records.EvalSpec{Rounds: 5, Metric: records.Metric{Kind: "wall"}},
			Candidates: []records.EvalCandidate{
				{Sample: 0, PatchHash: "p0", Status: records.EvalSuccess, Patch: applied, Stats: it.s0},
				{Sample: 1, PatchHash: "p1", Status: records.EvalCorrectnessFailed, Patch: applied, Reason: "tests failed"},
				{Sample: 2, PatchHash: "p2", Status: records.EvalSuccess, Patch: records.EvalPatch{Empty: true, Applied: true},
					Flags: []string{records.FlagEmptyPatch}, Stats: flagged},
			}}
		if it.id == "b" {
			ev.Candidates[1] = records.EvalCandidate{Sample: 1, PatchHash: "p1", Status: records.EvalSuccess, Patch: applied, Stats: three(2.0)}
		}
		if err := journal.WriteEval(filepath.Join(sampled, journal.ItemDirName(it.id, 0, 3)), ev); err != nil {
			t.Fatal(err)
		}
	}
	// The incomplete run: c evaluated and Opt@1, d's rollout made a patch
	// that was never evaluated.
	incomplete := writeRun("incomplete", []string{"c", "d"}, 1)
	if err := journal.WriteEval(filepath.Join(incomplete, "c"), &records.Eval{ItemID: "c", Status: records.EvalSuccess, Patch: applied,
		Stats: three(2.4), Config: records.EvalSpec{Rounds: 5, Metric: records.Metric{Kind: "wall"}}}); err != nil {
		t.Fatal(err)
	}

	want := map[string]figures{
		// Opt@1 = (1/3 + 1/3) / 2; patch: 4 of 6 (the empty ones are
		// not); verdicts of the correct candidates only: a's win, b's
		// loss and match; the empty ones' match is in none.
		"sampled": {opt1: 1.0 / 3, patch: 4.0 / 6, wmli: "1/1/1/0"},
		// Opt@1 = 1/2 over both plan items; patch 2 of 2 (d's from its
		// rollout).
		"incomplete": {opt1: 0.5, patch: 1, wmli: "1/0/0/0"},
	}

	b, err := compare.Load([]string{sampled, incomplete}, compare.Options{Resamples: 200})
	if err != nil {
		t.Fatal(err)
	}
	var cj bytes.Buffer
	if err := compare.WriteJSON(&cj, b); err != nil {
		t.Fatal(err)
	}
	var board struct {
		Tasks []struct {
			Rows []struct {
				RunID                          string                  `json:"run_id"`
				Opt1                           struct{ Value float64 } `json:"opt_at_1"`
				Patch                          struct{ Value float64 } `json:"patch_rate"`
				Win, Match, Loss, Inconclusive int
			}
		}
	}
	if err := json.Unmarshal(cj.Bytes(), &board); err != nil {
		t.Fatal(err)
	}
	fromCompare := map[string]figures{}
	for _, r := range board.Tasks[0].Rows {
		fromCompare[r.RunID] = figures{r.Opt1.Value, r.Patch.Value, fmt.Sprintf("%d/%d/%d/%d", r.Win, r.Match, r.Loss, r.Inconclusive)}
	}

	out := filepath.Join(t.TempDir(), "site")
	if err := Write(out, b); err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}

	for id, w := range want {
		dir := map[string]string{"sampled": sampled, "incomplete": incomplete}[id]
		rep, err := report.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		var rj bytes.Buffer
		if err := report.WriteJSON(&rj, rep); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Evaluation struct {
				Opt1                                  float64 `json:"opt_at_1"`
				Patch                                 float64 `json:"patch_rate"`
				Win, Match, Loss, Inconclusive, Units int
			}
		}
		if err := json.Unmarshal(rj.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		e := doc.Evaluation
		fromReport := figures{e.Opt1, e.Patch, fmt.Sprintf("%d/%d/%d/%d", e.Win, e.Match, e.Loss, e.Inconclusive)}
		if !near(fromReport, w) {
			t.Errorf("%s: report JSON %+v, want %+v", id, fromReport, w)
		}
		if c := fromCompare[id]; !near(c, w) {
			t.Errorf("%s: compare JSON %+v, want %+v", id, c, w)
		}

		// The run page: its cards.
		page, err := os.ReadFile(filepath.Join(out, "runs", id, "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		card := func(label string) string {
			m := regexp.MustCompile(`<div class="label">` + regexp.QuoteMeta(label) + `</div><div class="value">([^<]*)</div>`).FindSubmatch(page)
			if m == nil {
				t.Fatalf("%s: run page has no %s card", id, label)
			}
			return string(m[1])
		}
		pc := func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }
		wm := regexp.MustCompile(`/`).ReplaceAllString(w.wmli, " / ")
		if got := card("Opt@1"); got != pc(w.opt1) {
			t.Errorf("%s: run page Opt@1 %s, want %s", id, got, pc(w.opt1))
		}
		if got := card("patch rate"); got != pc(w.patch) {
			t.Errorf("%s: run page patch rate %s, want %s", id, got, pc(w.patch))
		}
		if got := card("win / match / loss / inconclusive"); got != wm {
			t.Errorf("%s: run page W/M/L/I %s, want %s", id, got, wm)
		}

		// The index: the run's leaderboard row, cells in lbColumns' order.
		row := regexp.MustCompile(`<tr[^>]*><td><a href="runs/` + id + `/index.html">.*</tr>`).Find(index)
		if row == nil {
			t.Fatalf("%s: no leaderboard row in the index", id)
		}
		cells := regexp.MustCompile(`<td class="num">([^<]*)`).FindAllSubmatch(row, -1)
		col := func(head string) string {
			for i, c := range lbColumns {
				if c.Head == head {
					return string(cells[i][1])
				}
			}
			t.Fatalf("no column %s", head)
			return ""
		}
		if got := col("Opt@1"); got != pc(w.opt1) {
			t.Errorf("%s: index Opt@1 %s, want %s", id, got, pc(w.opt1))
		}
		if got := col("patch"); got != pc(w.patch) {
			t.Errorf("%s: index patch %s, want %s", id, got, pc(w.patch))
		}
		if got := col("W / M / L / I"); got != wm {
			t.Errorf("%s: index W/M/L/I %s, want %s", id, got, wm)
		}
	}

	// The empty candidate's page shows no opt flag.
	empty, err := os.ReadFile(filepath.Join(out, "runs", "sampled", "a.s2.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(empty, []byte("opt_base false, opt_commit false")) {
		t.Errorf("the empty candidate's page does not clear its flags:\n%s", empty)
	}
}

func near(a, b figures) bool {
	return a.wmli == b.wmli && abs(a.opt1-b.opt1) < 1e-9 && abs(a.patch-b.patch) < 1e-9
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
