package compare

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var fixtureItems = []string{"c1", "c2", "c3", "c4", "c5", "c6"}

// humanSpeedups are the fixture's human speedups over the baseline, per item.
var humanSpeedups = []float64{1.5, 2.0, 1.1, 3.0, 1.3, 4.2}

func speedup(r float64) stats.Speedup {
	return stats.Speedup{Ratio: r, Valid: true, Lo: r * 0.97, Hi: r * 1.03, CIValid: true, P: 0.001, Significant: true, NBase: 10, NCand: 10}
}

// threeWay is what evaluate would write for an agent speedup over the
// baseline (0: not timed), judged and flagged by the stats package.
func threeWay(human, agent float64) *stats.ThreeWay {
	o := stats.DefaultOptions()
	t := &stats.ThreeWay{Options: o, HumanOverBase: speedup(human)}
	if agent > 0 {
		t.AgentOverBase = speedup(agent)
		t.AgentOverHuman = speedup(agent / human)
		t.Verdict = stats.Judge(t.AgentOverHuman, o)
		t.OptBase, t.OptCommit = stats.OptFlags(t.AgentOverBase, t.HumanOverBase)
	}
	return t
}

type fixtureItem struct {
	rollout records.RolloutStatus // "" = no journal (missing)
	patch   bool
	eval    records.EvalStatus // "" = no eval.json
	agent   float64            // agent speedup over the baseline
	cost    float64
}

// writeRun writes a run as prepare and evaluate would: run.json, and per item
// journal.json and eval.json through the journal package.
func writeRun(t *testing.T, root, id, agent string, items []fixtureItem) {
	t.Helper()
	dir := filepath.Join(journal.RunsDir(root), id)
	created := time.Date(2026, 1, 2, 3, 4, len(agent), 0, time.UTC)
	run := &records.Run{
		SchemaVersion: records.SchemaVersion, RunID: id, CreatedAt: created, UpdatedAt: created,
		Task:  records.RunTask{ID: "demo", Name: "demo"},
		Agent: records.RunAgent{Name: agent, Type: agent, Model: agent + "-model"},
		Items: fixtureItems, Samples: 1, PlanHash: "fixtureplan",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := journal.WriteRun(dir, run); err != nil {
		t.Fatal(err)
	}
	for i, it := range items {
		itemDir := filepath.Join(dir, journal.ItemDirName(fixtureItems[i], 0, 1))
		if it.rollout == "" && it.eval == "" {
			continue
		}
		if err := os.MkdirAll(itemDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if it.rollout != "" {
			j := &records.Journal{
				SchemaVersion: records.SchemaVersion, RunID: id, ItemID: fixtureItems[i], Status: it.rollout,
				DurationSeconds: 10 * float64(i+1),
				Usage:           records.Usage{CostUSD: it.cost, InputTokens: 1000, OutputTokens: 100, CacheReadTokens: 50},
			}
			if it.patch {
				j.Patch = &records.PatchInfo{Bytes: 120, Files: []string{"a.go"}, Added: 3, Removed: 1, Applies: true}
			}
			if err := journal.WriteJournal(itemDir, j); err != nil {
				t.Fatal(err)
			}
		}
		if it.eval != "" {
			ev := &records.Eval{
				SchemaVersion: records.EvalSchemaVersion, RunID: id, ItemID: fixtureItems[i], Status: it.eval,
				Patch: records.EvalPatch{Bytes: 120, Empty: !it.patch, Applied: it.patch},
				Stats: threeWay(humanSpeedups[i], it.agent),
			}
			if it.agent > 0 {
				ev.Samples = rounds(5, 1, 1/humanSpeedups[i], 1/it.agent)
			}
			if err := journal.WriteEval(itemDir, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sampleAgents are the item-layout fixture's candidates per item, as
// multiples of the human speedup (0: fails the tests).
var sampleAgents = []float64{1.02, 0.6, 0}

// writeItemLayoutRun writes a run with 3 samples per item as evaluate's
// K > 1 layout does: a journal per sample directory and one eval.json per
// item (journal.EvalDir) holding the candidates, the baseline and human
// timed once in the same rounds as every candidate. The third candidate
// fails the tests and is out of the rounds; item c6 was never evaluated.
func writeItemLayoutRun(t *testing.T, root, id string) {
	t.Helper()
	const k = 3
	dir := filepath.Join(journal.RunsDir(root), id)
	created := time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)
	run := &records.Run{
		SchemaVersion: records.SchemaVersion, RunID: id, CreatedAt: created, UpdatedAt: created,
		Task:  records.RunTask{ID: "demo", Name: "demo"},
		Agent: records.RunAgent{Name: "sampler", Type: "sampler", Model: "sampler-model"},
		Items: fixtureItems, Samples: k, PlanHash: "fixtureplan",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := journal.WriteRun(dir, run); err != nil {
		t.Fatal(err)
	}
	for i, item := range fixtureItems {
		h := humanSpeedups[i]
		for s := range k {
			sdir := filepath.Join(dir, journal.ItemDirName(item, s, k))
			if err := os.MkdirAll(sdir, 0o755); err != nil {
				t.Fatal(err)
			}
			j := &records.Journal{SchemaVersion: records.SchemaVersion, RunID: id, ItemID: item, Sample: s, Status: records.RolloutSuccess,
				DurationSeconds: 5, Usage: records.Usage{CostUSD: 0.02, InputTokens: 500, OutputTokens: 50},
				Patch: &records.PatchInfo{Bytes: 80, Files: []string{"a.go"}, Added: 2, Removed: 1, Applies: true}}
			if err := journal.WriteJournal(sdir, j); err != nil {
				t.Fatal(err)
			}
		}
		if item == "c6" {
			continue
		}
		ev := &records.Eval{SchemaVersion: records.EvalSchemaVersion, RunID: id, ItemID: item, Status: records.EvalSuccess}
		for r := range 7 {
			jh := 1 + 0.02*float64((r*7)%5-2)/2
			ev.Samples = append(ev.Samples,
				records.Sample{Arm: records.ArmBase, Round: r, Position: r % (k + 2), Warmup: r == 0, Value: 1},
				records.Sample{Arm: records.ArmHuman, Round: r, Position: (r + 1) % (k + 2), Warmup: r == 0, Value: jh / h})
			for s, m := range sampleAgents {
				if m > 0 {
					ja := 1 + 0.02*float64((r*3+s)%5-2)/2
					ev.Samples = append(ev.Samples, records.Sample{Arm: records.ArmAgent, Sample: s, Round: r, Position: (r + 2 + s) % (k + 2), Warmup: r == 0, Value: ja / (h * m)})
				}
			}
		}
		for s, m := range sampleAgents {
			c := records.EvalCandidate{Sample: s, PatchHash: fmt.Sprintf("p%d", s), Status: records.EvalSuccess,
				Patch: records.EvalPatch{Bytes: 80, Applied: true}, Stats: threeWay(h, h*m)}
			if m == 0 {
				c.Status, c.Stats = records.EvalCorrectnessFailed, nil
			}
			ev.Candidates = append(ev.Candidates, c)
		}
		if err := journal.WriteEval(journal.EvalDir(dir, item, k), ev); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture is a state root with 3 runs × 6 items: replay (the human's patch:
// its speedups, c5's run ended in infra_error), noop (no patch: speedup 1.0),
// a breaker (patches that fail the tests; c6 never rolled out); and a run
// of 3 samples per item in the item layout (writeItemLayoutRun).
func fixture(t *testing.T) string {
	root := t.TempDir()
	var replay, noop, breaker []fixtureItem
	for i, h := range humanSpeedups {
		replay = append(replay, fixtureItem{records.RolloutSuccess, true, records.EvalSuccess, h * (0.98 + 0.01*float64(i)), 0.10})
		noop = append(noop, fixtureItem{records.RolloutNoPatch, false, records.EvalSuccess, 1.0, 0})
		breaker = append(breaker, fixtureItem{records.RolloutSuccess, true, records.EvalCorrectnessFailed, 0, 0.05})
	}
	replay[4] = fixtureItem{rollout: records.RolloutInfraError, cost: 0.01}
	writePlan(t, root)
	breaker[5] = fixtureItem{}
	writeRun(t, root, "demo-replay", "replay", replay)
	writeRun(t, root, "demo-noop", "noop", noop)
	writeRun(t, root, "demo-breaker", "breaker", breaker)
	writeItemLayoutRun(t, root, "demo-samples")
	return root
}

// writePlan writes the state root's plan.json as `bench plan` does (the
// fields compare reads: the plan hash, each item's id and human commit).
func writePlan(t *testing.T, root string) {
	t.Helper()
	var items []map[string]string
	for _, id := range fixtureItems {
		items = append(items, map[string]string{"id": id, "human": fmt.Sprintf("%x", sha1.Sum([]byte("human"+id))), "pre": fmt.Sprintf("%x", sha1.Sum([]byte("pre"+id)))})
	}
	data, err := json.Marshal(map[string]any{"schema_version": 1, "task_id": "demo", "plan_hash": "fixtureplan", "items": items, "resolved": true})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "plan.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadFixture(t *testing.T) *Board {
	t.Helper()
	root := fixture(t)
	t.Chdir(root)
	dirs, bad, err := StateRunDirs(".")
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	b, err := Load(dirs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGolden(t *testing.T) {
	b := loadFixture(t)
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer, *Board) error
	}{
		{"table", func(w *bytes.Buffer, b *Board) error { return WriteTable(w, b) }},
		{"long.table", func(w *bytes.Buffer, b *Board) error {
			b.View = View{Long: true, Matrix: true}
			defer func() { b.View = View{} }()
			return WriteTable(w, b)
		}},
		{"nolegend.table", func(w *bytes.Buffer, b *Board) error {
			b.View = View{NoLegend: true}
			defer func() { b.View = View{} }()
			return WriteTable(w, b)
		}},
		{"json", func(w *bytes.Buffer, b *Board) error { return WriteJSON(w, b) }},
		{"md", func(w *bytes.Buffer, b *Board) error { return WriteMarkdown(w, b) }},
		{"csv", func(w *bytes.Buffer, b *Board) error { return WriteCSV(w, b) }},
	} {
		t.Run(f.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := f.write(&buf, b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(testdataDir, "board."+f.name)
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if buf.String() != string(want) {
				t.Errorf("%s differs from %s (rerun with -update to accept):\n%s", f.name, golden, buf.String())
			}
		})
	}
}

var testdataDir = func() string { d, _ := filepath.Abs("testdata"); return d }()

func TestFixtureCounts(t *testing.T) {
	b := loadFixture(t)
	if len(b.Tasks) != 1 || len(b.Tasks[0].Rows) != 4 {
		t.Fatalf("want 1 task of 4 rows, got %+v", b.Tasks)
	}
	rows := map[string]Row{}
	for _, r := range b.Tasks[0].Rows {
		rows[r.Agent] = r
	}
	replay, noop, breaker := rows["replay"], rows["noop"], rows["breaker"]
	if replay.InfraError != 1 || replay.Evaluated != 5 || !replay.Incomplete {
		t.Errorf("replay: want 1 infra_error, 5 evaluated, incomplete: %+v", replay)
	}
	if breaker.Missing != 1 || breaker.Evaluated != 5 || !breaker.Incomplete {
		t.Errorf("breaker: want 1 missing, 5 evaluated: %+v", breaker)
	}
	if noop.Incomplete || noop.Evaluated != 6 {
		t.Errorf("noop: want complete: %+v", noop)
	}
	// Rates are over all 6 plan items, the infra_error counting as a failure.
	if replay.CorrectRate.Value != 5.0/6 || replay.CorrectRate.N != 6 {
		t.Errorf("replay correct rate: want 5/6 over 6, got %+v", replay.CorrectRate)
	}
	// noop's patch is empty: it is never correct, never a pass, and its
	// speedup ratio is 1/human on every item.
	if noop.PatchRate.Value != 0 || noop.CorrectRate.Value != 0 || noop.Opt1.Value != 0 {
		t.Errorf("noop counted as a pass: %+v", noop)
	}
	inv := 0.0
	for _, h := range humanSpeedups {
		inv += h
	}
	if want := float64(len(humanSpeedups)) / inv; math.Abs(noop.SR.Value-want) > 1e-12 {
		t.Errorf("noop SR: want %v, got %v", want, noop.SR.Value)
	}
	if breaker.SR.N != 5 || breaker.GeoMeanCorrect.Valid || breaker.GeoMeanAll.Value != 1 {
		t.Errorf("breaker: want SR over 5 measured items, no correct geomean, geomean all 1: %+v", breaker)
	}
	// replay's speedups reach 0.98..1.03 of the human's: every item with a
	// human speedup ≥ 1.2 is opt_commit except c1? (0.98 ≥ 0.95: yes).
	if replay.Opt1.Value != 4.0/6 { // c1, c2, c4, c6 (c3's 1.1× is below 1.2; c5 infra_error)
		t.Errorf("replay Opt@1: want 4/6, got %v", replay.Opt1.Value)
	}
	if replay.CostPerOpt1USD == nil || math.Abs(*replay.CostPerOpt1USD-0.51/4) > 1e-12 {
		t.Errorf("replay cost per Opt@1: want %v, got %v", 0.51/4, replay.CostPerOpt1USD)
	}
}

// The same files give the same numbers: the bootstrap is seeded.
func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := WriteJSON(&a, loadFixture(t)); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&b, loadFixture(t)); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Error("two loads of the same files differ")
	}
	// Nor does the number of workers reading the items change anything.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var c bytes.Buffer
	if err := WriteJSON(&c, loadFixture(t)); err != nil {
		t.Fatal(err)
	}
	if c.String() != a.String() {
		t.Error("one worker and several give different numbers")
	}
}

func TestEstimateDegenerate(t *testing.T) {
	xs := []float64{1.7, 1.7, 1.7, 1.7, 1.7}
	for name, stat := range map[string]Statistic{"mean": Mean, "harmonic": HarmonicMean, "geomean": GeoMean} {
		m := Estimate(xs, stat, 2000, 1, 0.95)
		if math.Abs(m.Lo-1.7) > 1e-12 || math.Abs(m.Hi-1.7) > 1e-12 || math.Abs(m.Value-1.7) > 1e-12 {
			t.Errorf("%s of equal items: want a degenerate interval at 1.7, got %+v", name, m)
		}
	}
	if m := Estimate(nil, Mean, 2000, 1, 0.95); m.Valid {
		t.Errorf("no items: want invalid, got %+v", m)
	}
}

// wilson is the Wilson score interval of k successes in n at 95%.
func wilson(k, n int) (lo, hi float64) {
	const z = 1.959963984540054
	p, nf := float64(k)/float64(n), float64(n)
	c := (p + z*z/(2*nf)) / (1 + z*z/nf)
	h := z / (1 + z*z/nf) * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf))
	return c - h, c + h
}

func TestEstimateRateNearWilson(t *testing.T) {
	for _, c := range []struct{ k, n int }{{30, 100}, {50, 100}, {120, 200}} {
		xs := make([]float64, c.n)
		for i := range c.k {
			xs[i] = 1
		}
		m := Estimate(xs, Mean, 2000, 7, 0.95)
		lo, hi := wilson(c.k, c.n)
		if math.Abs(m.Lo-lo) > 0.02 || math.Abs(m.Hi-hi) > 0.02 {
			t.Errorf("%d of %d: bootstrap [%.3f, %.3f], Wilson [%.3f, %.3f]", c.k, c.n, m.Lo, m.Hi, lo, hi)
		}
	}
}

// The default set is every evaluated run: a run only prepared is left out,
// and shown (as not evaluated) when asked for.
func TestEvaluatedOnly(t *testing.T) {
	root := fixture(t)
	var prepared []fixtureItem
	for range fixtureItems {
		prepared = append(prepared, fixtureItem{rollout: records.RolloutSuccess, patch: true})
	}
	writeRun(t, root, "demo-prepared", "prepared", prepared)
	dirs, _, err := StateRunDirs(root)
	if err != nil || len(dirs) != 5 {
		t.Fatalf("want 5 runs, got %v %v", dirs, err)
	}
	b, err := Load(dirs, Options{EvaluatedOnly: true})
	if err != nil || len(b.Tasks[0].Rows) != 4 {
		t.Fatalf("evaluated only: want 4 rows, got %+v %v", b, err)
	}
	b, err = Load(dirs, Options{})
	if err != nil || len(b.Tasks[0].Rows) != 5 {
		t.Fatalf("all: want 5 rows, got %+v %v", b, err)
	}
	for _, r := range b.Tasks[0].Rows {
		if r.Agent == "prepared" && (r.NotEvaluated != 6 || !r.Incomplete || r.PatchRate.Value != 1) {
			t.Errorf("prepared run: want 6 not evaluated, patches counted: %+v", r)
		}
	}
}

func TestMcNemarExact(t *testing.T) {
	for _, c := range []struct {
		b, c int
		want float64
	}{{0, 0, 1}, {3, 3, 1}, {5, 0, 2.0 / 32}, {10, 2, 2 * (1 + 12 + 66) / 4096.0}, {0, 7, 2.0 / 128}} {
		if got := McNemarExact(c.b, c.c); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("McNemar(%d, %d) = %v, want %v", c.b, c.c, got, c.want)
		}
	}
}

// A run compared with itself: every difference is 0 with a degenerate
// interval, p = 1, no item won.
func TestPairedIdentical(t *testing.T) {
	root := t.TempDir()
	writePlan(t, root)
	var replay []fixtureItem
	for i, h := range humanSpeedups {
		replay = append(replay, fixtureItem{records.RolloutSuccess, true, records.EvalSuccess, h * (0.98 + 0.01*float64(i)), 0.10})
	}
	// Two runs written separately from the same items: two rows, not
	// one row compared with itself.
	writeRun(t, root, "replay-a", "replay", replay)
	writeRun(t, root, "replay-b", "replay", replay)
	b, err := Load([]string{filepath.Join(journal.RunsDir(root), "replay-a"), filepath.Join(journal.RunsDir(root), "replay-b")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := b.Tasks[0].Pairs[0]
	if p.Opt1Diff.Value != 0 || p.Opt1Diff.Lo != 0 || p.Opt1Diff.Hi != 0 || p.SRDiff.Value != 0 || p.SRDiff.Lo != 0 || p.SRDiff.Hi != 0 {
		t.Errorf("identical runs: want zero differences, got %+v", p)
	}
	if p.McNemarP != 1 || p.WinsA+p.WinsB != 0 || p.Shared != 6 {
		t.Errorf("identical runs: want p = 1, no wins, 6 shared: %+v", p)
	}
}

// Two noop runs whose human timings differ (noise): every item fails in
// both, so each is a tie and ΔSR is exactly 0, whichever run timed the
// human faster.
func TestPairedNoopsTie(t *testing.T) {
	root := t.TempDir()
	writePlan(t, root)
	var noop []fixtureItem
	for range humanSpeedups {
		noop = append(noop, fixtureItem{records.RolloutNoPatch, false, records.EvalSuccess, 1.0, 0})
	}
	writeRun(t, root, "noop-a", "noop", noop)
	writeRun(t, root, "noop-b", "noop", noop)
	dirB := filepath.Join(journal.RunsDir(root), "noop-b")
	for i, id := range fixtureItems {
		itemDir := filepath.Join(dirB, id)
		ev, err := journal.ReadEval(itemDir)
		if err != nil {
			t.Fatal(err)
		}
		ev.Stats.HumanOverBase = speedup(humanSpeedups[i] * (1.05 + 0.02*float64(i)))
		if err := journal.WriteEval(itemDir, ev); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Load([]string{filepath.Join(journal.RunsDir(root), "noop-a"), dirB}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := b.Tasks[0].Rows
	if rows[0].SR.Value == rows[1].SR.Value {
		t.Fatalf("the runs' own SR must differ (their human timings do): %v", rows[0].SR)
	}
	p := b.Tasks[0].Pairs[0]
	if p.SRDiff.Value != 0 || p.SRDiff.Lo != 0 || p.SRDiff.Hi != 0 || p.SRDiff.N != 6 {
		t.Errorf("two noops: want ΔSR exactly 0 with a degenerate interval over 6 items, got %+v", p.SRDiff)
	}
	if p.WinsA != 0 || p.WinsB != 0 || p.McNemarP != 1 || p.Opt1Diff.Value != 0 {
		t.Errorf("two noops: want items won 0/0, McNemar p 1, ΔOpt@1 0: %+v", p)
	}
}

// Items evaluated in one run only are named, not silently dropped.
func TestPairedNamesOneSided(t *testing.T) {
	b := loadFixture(t)
	var p *Pair
	for i, q := range b.Tasks[0].Pairs {
		if q.A == "demo-replay" && q.B == "demo-breaker" {
			p = &b.Tasks[0].Pairs[i]
		}
	}
	if p == nil {
		t.Fatalf("no replay/breaker pair in %+v", b.Tasks[0].Pairs)
	}
	if p.Shared != 4 || !slices.Equal(p.OnlyA, []string{"c6"}) || !slices.Equal(p.OnlyB, []string{"c5"}) {
		t.Errorf("want 4 shared, c6 only in replay, c5 only in breaker: %+v", p)
	}
	if p.Opt1Diff.Value != 0.75 || math.Abs(p.McNemarP-0.25) > 1e-12 {
		t.Errorf("want ΔOpt@1 = 3/4 (c1, c2, c4) and McNemar p = 2/8: %+v", p)
	}
}

// rounds are n timed rounds (after one warmup) of base, human and agent
// times around the given medians, with a deterministic ±2% jitter.
func rounds(n int, base, human, agent float64) []records.Sample {
	var out []records.Sample
	for r := range n + 1 {
		j := 1 + 0.02*float64((r*7)%5-2)/2
		for _, a := range []struct {
			arm records.Arm
			v   float64
		}{{records.ArmBase, base}, {records.ArmHuman, human * j}, {records.ArmAgent, agent / j}} {
			out = append(out, records.Sample{Arm: a.arm, Round: r, Warmup: r == 0, Value: a.v})
		}
	}
	return out
}

func TestWithinItem(t *testing.T) {
	o := stats.DefaultOptions()
	for _, c := range []struct {
		name               string
		human, agent       float64 // times; the baseline takes 1
		optBase, optCommit float64
	}{
		{"twice as fast as the human", 0.5, 0.25, 1, 1},
		{"no change", 0.5, 1, 0, 0},
		{"fast but far behind the human", 0.1, 0.5, 1, 0},
	} {
		ev := &records.Eval{Samples: rounds(10, 1, c.human, c.agent)}
		odds, ok := withinItem(ev, o.Better, 2000, 3)
		if !ok || odds.optBase != c.optBase || odds.optCommit != c.optCommit {
			t.Errorf("%s: want P(opt_base) %v, P(opt_commit) %v, got %+v (ok %v)", c.name, c.optBase, c.optCommit, odds, ok)
		}
	}
	// On the threshold, the resamples fall on both sides of it.
	ev := &records.Eval{Samples: rounds(10, 1, 0.5, 1/1.2)}
	odds, ok := withinItem(ev, o.Better, 2000, 3)
	if !ok || odds.optBase <= 0.05 || odds.optBase >= 0.95 {
		t.Errorf("agent at 1.2×: want P(opt_base) strictly between, got %+v", odds)
	}
	if _, ok := withinItem(&records.Eval{Samples: rounds(1, 1, 0.5, 0.5)}, o.Better, 2000, 3); ok {
		t.Error("one round: want no odds")
	}
}

// BenchmarkWithinItem is the within-item bootstrap of one item of 20
// rounds (B = 2,000): the cost per evaluated unit that compare pays.
func BenchmarkWithinItem(b *testing.B) {
	ev := &records.Eval{Samples: rounds(20, 1, 0.5, 0.6)}
	o := stats.DefaultOptions()
	for b.Loop() {
		withinItem(ev, o.Better, DefaultResamples, 1)
	}
}

// The matrix has one line per plan item with its human commit, one cell
// per run, and the failure statuses told apart.
func TestMatrix(t *testing.T) {
	b := loadFixture(t)
	m := b.Tasks[0].Matrix
	if len(m.Items) != 6 || len(m.Runs) != 4 {
		t.Fatalf("want 6 items × 4 runs, got %+v", m)
	}
	col := map[string]int{}
	for i, r := range m.Runs {
		col[r] = i
	}
	want := map[string][]string{ // item → status in replay, noop, breaker
		"c1": {CellOK, CellNoPatch, string(records.EvalCorrectnessFailed)},
		"c5": {CellInfraError, CellNoPatch, string(records.EvalCorrectnessFailed)},
		"c6": {CellOK, CellNoPatch, CellMissing},
	}
	for _, it := range m.Items {
		if len(it.Human) != 40 || it.HumanShort != it.Human[:10] {
			t.Errorf("%s: want the plan's human commit, got %q / %q", it.ID, it.Human, it.HumanShort)
		}
		w, ok := want[it.ID]
		if !ok {
			continue
		}
		for i, run := range []string{"demo-replay", "demo-noop", "demo-breaker"} {
			if got := it.Cells[col[run]].Status; got != w[i] {
				t.Errorf("%s in %s: want %s, got %s", it.ID, run, w[i], got)
			}
		}
	}
	c := m.Items[0].Cells[col["demo-replay"]]
	if !c.CIValid || c.Speedup != 1.5*0.98 || c.Lo >= c.Speedup || c.Hi <= c.Speedup || c.Verdict == "" || !c.OptCommit {
		t.Errorf("replay on c1: want its speedup with CI, verdict and opt_commit, got %+v", c)
	}
}

// The item layout (evaluate's K > 1 eval.json with candidates): each
// candidate is read as its sample; the rates count samples, Opt@K the
// items one candidate reaches; within an item every candidate's replicate
// resamples the same rounds, so its human speedups are the same.
func TestItemLayout(t *testing.T) {
	b := loadFixture(t)
	var r Row
	for _, x := range b.Tasks[0].Rows {
		if x.RunID == "demo-samples" {
			r = x
		}
	}
	if r.Samples != 3 || r.Evaluated != 5 || r.NotEvaluated != 1 || !r.Incomplete {
		t.Fatalf("want K 3, 5 evaluated, c6 not evaluated: %+v", r)
	}
	// Candidate 0 reaches 1.02 × the human (opt_commit where the human is
	// ≥ 1.2/1.02: c1, c2, c4, c5), candidate 1 0.6 ×, candidate 2 fails.
	if math.Abs(r.CorrectRate.Value-10.0/18) > 1e-12 || math.Abs(r.Opt1.Value-4.0/18) > 1e-12 || r.OptK == nil || math.Abs(r.OptK.Value-4.0/6) > 1e-12 {
		t.Errorf("want correct 10/18, Opt@1 4/18, Opt@K 4/6: %+v %+v %+v", r.CorrectRate, r.Opt1, r.OptK)
	}
	if r.Win+r.Match+r.Loss+r.Inconclusive != 10 {
		t.Errorf("want a verdict per correct candidate (10): %d/%d/%d/%d", r.Win, r.Match, r.Loss, r.Inconclusive)
	}
	dir := filepath.Join(".", journal.RunsDir("."), "demo-samples")
	const B = 200
	bs := Bootstrap{Resamples: B, Seed: 5, Confidence: 0.95}
	ab, hb := make([]float64, 3*B), make([]float64, 3*B)
	out := readItem(dir, "c2", 0, 3, bs, newRepSet(1, B, 3), ab, hb)
	// The failed candidate has no statistics of its own: it takes the
	// item's human speedup, to enter SR as 1.0.
	if u := out.units[2]; !u.withinHuman || u.humanSpeedup != 2 || u.correct {
		t.Errorf("failed candidate: want the item's human speedup: %+v", u)
	}
	if !out.units[0].withinAgent || !out.units[1].withinAgent {
		t.Fatalf("want the correct candidates resampled: %+v", out.units)
	}
	distinct := map[float64]bool{}
	for i := range B {
		if hb[i] != hb[B+i] {
			t.Fatalf("replicate %d: candidates' human speedups differ: %v %v", i, hb[i], hb[B+i])
		}
		distinct[hb[i]] = true
	}
	if len(distinct) < 3 {
		t.Errorf("the human's replicates do not vary: %v", distinct)
	}
}

// Beyond MaxAllPairs rows without --pairs, the pairs are omitted and the
// board says so; a pair asked for is compared.
func TestPairsOmitted(t *testing.T) {
	root := t.TempDir()
	var noop []fixtureItem
	for range fixtureItems {
		noop = append(noop, fixtureItem{records.RolloutNoPatch, false, records.EvalSuccess, 1.0, 0})
	}
	var dirs []string
	for i := range MaxAllPairs + 1 {
		id := fmt.Sprintf("noop-%02d", i)
		writeRun(t, root, id, "noop", noop)
		dirs = append(dirs, filepath.Join(journal.RunsDir(root), id))
	}
	b, err := Load(dirs, Options{Resamples: 50})
	if err != nil {
		t.Fatal(err)
	}
	if tk := b.Tasks[0]; len(tk.Pairs) != 0 || !strings.Contains(tk.PairsOmitted, "--pairs RUN_ID_A,RUN_ID_B") {
		t.Errorf("want no pairs and a note: %d %q", len(tk.Pairs), tk.PairsOmitted)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\npairs omitted: 11 runs are more than 10;") {
		t.Errorf("table: no note of the omitted pairs:\n%s", buf.String())
	}
	b, err = Load(dirs, Options{Resamples: 50, Pairs: [][2]string{{"noop-03", "noop-07"}}})
	if err != nil {
		t.Fatal(err)
	}
	if tk := b.Tasks[0]; len(tk.Pairs) != 1 || tk.PairsOmitted != "" {
		t.Errorf("want the one pair asked for, no note: %+v %q", tk.Pairs, tk.PairsOmitted)
	}
}

// The counted median of a resample is the median of the resample written
// out and sorted, ties and even sizes included.
func TestCountedArmMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 2; n <= 9; n++ {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(rng.IntN(4)) // ties
		}
		arm := newCountedArm(xs)
		for range 200 {
			drawn := make([]int32, n)
			var sample []float64
			for range n {
				j := rng.IntN(n)
				drawn[j]++
				sample = append(sample, xs[j])
			}
			slices.Sort(sample)
			want := (sample[(n-1)/2] + sample[n/2]) / 2
			if got := arm.median(drawn); got != want {
				t.Fatalf("n=%d %v drawn %v: median %v, want %v", n, xs, drawn, got, want)
			}
		}
	}
}

// noisyRun writes a run of items whose agent and human times are the
// same (speedups 1.5 and 1.5): item 0's rounds spread over a factor of
// spread, the others' are steady.
func noisyRun(t *testing.T, root, id string, items int, spread float64) string {
	t.Helper()
	dir := filepath.Join(journal.RunsDir(root), id)
	ids := make([]string, items)
	for i := range ids {
		ids[i] = fmt.Sprintf("n%d", i)
	}
	run := &records.Run{SchemaVersion: records.SchemaVersion, RunID: id, Task: records.RunTask{ID: "noisy"}, Agent: records.RunAgent{Name: id}, Items: ids, Samples: 1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := journal.WriteRun(dir, run); err != nil {
		t.Fatal(err)
	}
	for i, item := range ids {
		itemDir := filepath.Join(dir, item)
		if err := os.MkdirAll(itemDir, 0o755); err != nil {
			t.Fatal(err)
		}
		var samples []records.Sample
		for r := range 9 {
			j := 1.0
			if i == 0 {
				j = math.Pow(spread, float64(r%3)-1) // 1/spread, 1, spread
			}
			jh := 1.0
			if i == 0 {
				jh = math.Pow(spread, float64((r/3)%3)-1)
			}
			samples = append(samples,
				records.Sample{Arm: records.ArmBase, Round: r, Value: 1},
				records.Sample{Arm: records.ArmHuman, Round: r, Value: jh / 1.5},
				records.Sample{Arm: records.ArmAgent, Round: r, Value: j / 1.5})
		}
		ev := &records.Eval{RunID: id, ItemID: item, Status: records.EvalSuccess, Patch: records.EvalPatch{Bytes: 1, Applied: true},
			Stats: threeWay(1.5, 1.5), Samples: samples}
		if err := journal.WriteEval(itemDir, ev); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The inner level counts: an item whose rounds are noisy widens the
// intervals of SR and the geomean, where resampling items alone (every
// item's point value the same) gives a degenerate one.
func TestTwoLevelWidens(t *testing.T) {
	root := t.TempDir()
	steady := noisyRun(t, root, "steady", 8, 1)
	noisy := noisyRun(t, root, "noisy", 8, 3)
	b, err := Load([]string{steady, noisy}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := b.Tasks[0].Rows
	if b.Bootstrap.Over != OverItemsAndRounds {
		t.Errorf("method not recorded: %+v", b.Bootstrap)
	}
	for _, r := range rows {
		// The point values are the same in both runs: SR 1, geomean 1.5.
		if math.Abs(r.SR.Value-1) > 1e-9 || math.Abs(r.GeoMeanAll.Value-1.5) > 1e-9 {
			t.Fatalf("%s: want SR 1 and geomean 1.5, got %+v %+v", r.RunID, r.SR, r.GeoMeanAll)
		}
		width := r.SR.Hi - r.SR.Lo
		switch r.RunID {
		case "steady":
			if width > 1e-6 || r.GeoMeanAll.Hi-r.GeoMeanAll.Lo > 1e-6 || r.Opt1.Lo != 1 {
				t.Errorf("steady rounds: want degenerate intervals, got SR %+v geomean %+v Opt@1 %+v", r.SR, r.GeoMeanAll, r.Opt1)
			}
		case "noisy":
			if width < 0.1 || r.GeoMeanAll.Hi-r.GeoMeanAll.Lo < 0.1 {
				t.Errorf("one noisy item: want SR and geomean intervals wider than 0.1, got SR %+v geomean %+v", r.SR, r.GeoMeanAll)
			}
			// Its flag is recomputed in every replicate: Opt@1's interval
			// opens below 1 though every item reaches it.
			if r.Opt1.Value != 1 || r.Opt1.Lo >= 1 {
				t.Errorf("one noisy item: want Opt@1 1 with an interval below it, got %+v", r.Opt1)
			}
			if p := r.PerItem[0]; !p.FromRounds || p.POptCommit <= 0.05 || p.POptCommit >= 0.95 {
				t.Errorf("the noisy item: want P(opt_commit) strictly between, got %+v", p)
			}
		}
		// Against the one-level bootstrap of the same point values.
		pts := make([]float64, r.Items)
		for i := range pts {
			pts[i] = 1
		}
		if m := Estimate(pts, HarmonicMean, 2000, 1, 0.95); m.Hi-m.Lo != 0 {
			t.Errorf("one level over equal items: want degenerate, got %+v", m)
		}
	}
}

// The threshold curve and the shares on the fixture's replay, whose agent
// reaches 0.98, 0.99, 1.00, 1.01, (infra_error), 1.03 × the human.
func TestRobustness(t *testing.T) {
	b := loadFixture(t)
	var replay Row
	for _, r := range b.Tasks[0].Rows {
		if r.Agent == "replay" {
			replay = r
		}
	}
	curve := map[float64]float64{}
	for _, p := range replay.ThresholdCurve {
		curve[p.T] = p.Share
	}
	if len(replay.ThresholdCurve) != 21 || replay.ThresholdCurve[0].T != 0.5 || replay.ThresholdCurve[20].T != 1.5 {
		t.Fatalf("want t = 0.5 … 1.5 in 21 steps, got %+v", replay.ThresholdCurve)
	}
	for th, want := range map[float64]float64{0.5: 5.0 / 6, 0.95: 5.0 / 6, 1: 3.0 / 6, 1.05: 0} {
		if math.Abs(curve[th]-want) > 1e-12 {
			t.Errorf("share reaching %v × human: want %v, got %v", th, want, curve[th])
		}
	}
	// geomean all: c6's log 4.2·1.03 is the largest of the logs' sum.
	logs, sum := map[string]float64{}, 0.0
	for i, id := range fixtureItems {
		if id != "c5" {
			logs[id] = math.Log(humanSpeedups[i] * (0.98 + 0.01*float64(i)))
			sum += logs[id]
		}
	}
	for _, p := range replay.PerItem {
		if math.Abs(p.ShareGeoMeanAll-logs[p.ID]/sum) > 1e-9 {
			t.Errorf("%s: geomean share %v, want %v", p.ID, p.ShareGeoMeanAll, logs[p.ID]/sum)
		}
	}
	if !slices.ContainsFunc(replay.Dominant, func(d Dominant) bool { return d.Item == "c6" && d.Aggregate == "geomean_speedup_all" }) ||
		slices.ContainsFunc(replay.Dominant, func(d Dominant) bool { return d.Share <= DominantShare }) {
		t.Errorf("want c6 flagged on the geomean and nothing at or under 25%%: %+v", replay.Dominant)
	}
}

// With two samples per item (the first reaching 2× on a 1.5× human
// commit, the second failing the tests) Opt@K counts the item, Opt@1 half
// of it; the matrix cell shows the worse sample's status. The matrix's
// rows are human commits: another plan's a (a different commit, its ids
// being positional) is a row of its own, its z (k2's b commit) shares b's
// row, whose human× is the median of the two runs' with their range.
func TestSamplesAndOtherPlan(t *testing.T) {
	root := t.TempDir()
	commits := map[string]string{"k2/a": "aaaa", "k2/b": "bbbb", "k2/c": "cccc", "k2/d": "dddd", "k2/e": "eeee", "other/a": "ffff", "other/z": "bbbb"}
	write := func(id string, items []string, samples int) string {
		dir := filepath.Join(journal.RunsDir(root), id)
		run := &records.Run{SchemaVersion: records.SchemaVersion, RunID: id, Task: records.RunTask{ID: "k"}, Agent: records.RunAgent{Name: id}, Items: items, Samples: samples, PlanHash: "plan-" + id}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := journal.WriteRun(dir, run); err != nil {
			t.Fatal(err)
		}
		for _, item := range items {
			for s := range samples {
				itemDir := filepath.Join(dir, journal.ItemDirName(item, s, samples))
				if err := os.MkdirAll(itemDir, 0o755); err != nil {
					t.Fatal(err)
				}
				ev := &records.Eval{RunID: id, ItemID: item, Status: records.EvalSuccess, Patch: records.EvalPatch{Bytes: 1, Applied: true},
					Stats: threeWay(1.5, 2), Samples: rounds(6, 1, 1/1.5, 0.5)}
				ev.Commits.Human = commits[id+"/"+item]
				if id == "other" {
					ev.Stats = threeWay(2, 2)
				}
				if s == 1 {
					ev.Status, ev.Stats, ev.Samples = records.EvalCorrectnessFailed, threeWay(1.5, 0), nil
				}
				if err := journal.WriteEval(itemDir, ev); err != nil {
					t.Fatal(err)
				}
			}
		}
		return dir
	}
	k2 := write("k2", []string{"a", "b", "c", "d", "e"}, 2)
	other := write("other", []string{"a", "z"}, 1)
	b, err := Load([]string{k2, other}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := b.Tasks[0].Rows[0]
	if r.OptK == nil || r.PassK == nil || r.OptK.Value != 1 || r.Opt1.Value != 0.5 || r.PassK.Value != 1 || r.CorrectRate.Value != 0.5 {
		t.Errorf("want Opt@K 1, Opt@1 ½, pass@k 1, correct ½: %+v %+v %+v", r.OptK, r.Opt1, r.PassK)
	}
	if r.OptK.Lo != 1 || r.Opt1.Lo != 0.5 || r.Opt1.Hi != 0.5 {
		t.Errorf("steady rounds: want degenerate intervals, got Opt@K %+v Opt@1 %+v", r.OptK, r.Opt1)
	}
	if len(b.Tasks[0].Pairs) != 0 {
		t.Errorf("different plans: want no pairs, got %+v", b.Tasks[0].Pairs)
	}
	m := b.Tasks[0].Matrix
	var ids []string
	for _, it := range m.Items {
		ids = append(ids, it.ID+"="+it.Human)
	}
	if got := strings.Join(ids, " "); got != "a=aaaa b=bbbb c=cccc d=dddd e=eeee a=ffff" {
		t.Fatalf("want one row per human commit, k2's items then other's a: %s", got)
	}
	if it := m.Items[1]; it.Cells[1].Status != CellOK || it.HumanSpeedup != 1.75 || it.HumanMin != 1.5 || it.HumanMax != 2 {
		t.Errorf("b (other's z): want other's cell, human× the median 1.75 of 1.5 and 2 with the range: %+v", it)
	}
	if it := m.Items[0]; it.HumanSpeedup != 1.5 || it.HumanMin != 0 || it.Cells[1].Status != CellNotInPlan {
		t.Errorf("k2's a: want only k2's human×, not_in_plan for other: %+v", it)
	}
	if it := m.Items[5]; it.Cells[0].Status != CellNotInPlan || it.Cells[1].Status != CellOK {
		t.Errorf("other's a: want its own row: %+v", it)
	}
	if c := m.Items[0].Cells[0]; c.Status != string(records.EvalCorrectnessFailed) || c.CIValid || c.Speedup != 0 || !c.OptCommit || c.Correct != 1 {
		t.Errorf("a in k2: want the worse sample's status, no CI, opt_commit by half the samples, 1 correct: %+v", c)
	}
	if c := m.Items[2].Cells[1]; c.Status != CellNotInPlan {
		t.Errorf("c in other: want not_in_plan, got %+v", c)
	}

	// --exclude-flagged goes by the human commit: other's a (ffff) and z
	// (bbbb) flagged drop k2's b (bbbb) but not k2's a (aaaa).
	for _, item := range []string{"a", "z"} {
		dir := filepath.Join(other, journal.ItemDirName(item, 0, 1))
		ev, err := journal.ReadSampleEval(dir)
		if err != nil {
			t.Fatal(err)
		}
		ev.Patch.RewardHacks = []records.RewardHack{{Rule: "memo_decorator", Severity: "high"}}
		if err := journal.WriteEval(dir, ev); err != nil {
			t.Fatal(err)
		}
	}
	b, err = Load([]string{k2, other}, Options{ExcludeFlagged: true})
	if err != nil {
		t.Fatal(err)
	}
	task := b.Tasks[0]
	if k, o := task.Rows[0], task.Rows[1]; k.CorrectRate.N != 4 || o.CorrectRate.N != 0 || !slices.Equal(task.ExcludedFlaggedItems, []string{"a", "z"}) {
		t.Errorf("excluded by commit: want k2 over 4 items, other over none, [a z] named: %d, %d, %v", k.CorrectRate.N, o.CorrectRate.N, task.ExcludedFlaggedItems)
	}
	var marked []bool
	for _, it := range task.Matrix.Items {
		marked = append(marked, it.ExcludedFlagged)
	}
	if !slices.Equal(marked, []bool{false, true, false, false, false, true}) {
		t.Errorf("matrix marks: want b and other's a, got %v", marked)
	}
}

// A run without plan.json: the matrix takes the human commit from
// eval.json, a patch that did not apply is patch_failed (not no_patch),
// and FillSubjects names the commits the plan did not.
func TestMatrixWithoutPlan(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(journal.RunsDir(root), "p")
	run := &records.Run{SchemaVersion: records.SchemaVersion, RunID: "p", Task: records.RunTask{ID: "k"}, Agent: records.RunAgent{Name: "a"}, Items: []string{"applied", "rejected", "empty"}, Samples: 1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := journal.WriteRun(dir, run); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []*records.Eval{
		{ItemID: "applied", Status: records.EvalSuccess, Patch: records.EvalPatch{Bytes: 1, Applied: true}, Stats: threeWay(1.5, 2)},
		{ItemID: "rejected", Status: records.EvalPatchFailed, Patch: records.EvalPatch{Bytes: 1}},
		{ItemID: "empty", Status: records.EvalSuccess, Patch: records.EvalPatch{Empty: true}, Stats: threeWay(1.5, 0)},
	} {
		ev.RunID, ev.Commits.Human = "p", strings.Repeat(ev.ItemID[:1], 40)
		itemDir := filepath.Join(dir, journal.ItemDirName(ev.ItemID, 0, 1))
		if err := os.MkdirAll(itemDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := journal.WriteEval(itemDir, ev); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Load([]string{dir}, Options{Resamples: 50})
	if err != nil {
		t.Fatal(err)
	}
	m := b.Tasks[0].Matrix
	for i, want := range []string{CellOK, string(records.EvalPatchFailed), CellNoPatch} {
		it := m.Items[i]
		if it.Cells[0].Status != want {
			t.Errorf("%s: want %s, got %+v", it.ID, want, it.Cells[0])
		}
		if it.Human != strings.Repeat(it.ID[:1], 40) || it.HumanShort != it.Human[:10] || it.Subject != "" {
			t.Errorf("%s: want eval.json's human commit and no subject, got %+v", it.ID, it)
		}
	}
	b.FillSubjects(func(sha string) string {
		if sha[0] == 'r' {
			return ""
		}
		return "subject of " + sha[:3]
	})
	if s := m.Items[0].Subject + "|" + m.Items[1].Subject + "|" + m.Items[2].Subject; s != "subject of aaa||subject of eee" {
		t.Errorf("subjects: %q", s)
	}
	b.FillSubjects(func(string) string { return "again" })
	if m.Items[0].Subject != "subject of aaa" {
		t.Errorf("a subject already known must stay: %q", m.Items[0].Subject)
	}
}

// An item flagged in one run only: --exclude-flagged leaves it out of
// both runs' aggregates and pairs (both ranked over the same five items),
// names it under the table and marks it in the matrix, whose cells stay;
// without the option nothing changes.
func TestExcludeFlaggedDropsItem(t *testing.T) {
	root := t.TempDir()
	writePlan(t, root)
	ok := func(i int) fixtureItem {
		return fixtureItem{records.RolloutSuccess, true, records.EvalSuccess, 1.2 * humanSpeedups[i], 0.10}
	}
	fail := fixtureItem{records.RolloutSuccess, true, records.EvalCorrectnessFailed, 0, 0.05}
	// A reaches Opt@1 on c1, c2, c3; B on all but c1.
	a := []fixtureItem{ok(0), ok(1), ok(2), fail, fail, fail}
	bItems := []fixtureItem{fail, ok(1), ok(2), ok(3), ok(4), ok(5)}
	writeRun(t, root, "run-a", "alpha", a)
	writeRun(t, root, "run-b", "beta", bItems)
	// A's c1, its success, carries a medium reward-hack rule.
	c1 := filepath.Join(journal.RunsDir(root), "run-a", journal.ItemDirName("c1", 0, 1))
	ev, err := journal.ReadSampleEval(c1)
	if err != nil {
		t.Fatal(err)
	}
	ev.Patch.RewardHacks = []records.RewardHack{{Rule: "memo_decorator", Severity: "medium", Reason: "test", File: "a.go"}}
	if err := journal.WriteEval(c1, ev); err != nil {
		t.Fatal(err)
	}
	dirs := []string{filepath.Join(journal.RunsDir(root), "run-a"), filepath.Join(journal.RunsDir(root), "run-b")}
	opt1 := func(b *Board) (float64, int, float64, int) {
		r := b.Tasks[0].Rows
		return r[0].Opt1.Value, r[0].Opt1.N, r[1].Opt1.Value, r[1].Opt1.N
	}

	plain, err := Load(dirs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if va, na, vb, nb := opt1(plain); math.Abs(va-3.0/6) > 1e-12 || na != 6 || math.Abs(vb-5.0/6) > 1e-12 || nb != 6 {
		t.Errorf("without --exclude-flagged: Opt@1 A %v (n=%d), B %v (n=%d), want 3/6 and 5/6 over 6", va, na, vb, nb)
	}
	if got := plain.Tasks[0].Rows[0].Flagged; got != 1 {
		t.Errorf("flagged: got %d, want 1", got)
	}
	if plain.Tasks[0].ExcludedFlaggedItems != nil || ExcludedFlaggedLine(plain.Tasks[0]) != "" || plain.Tasks[0].Matrix.Items[0].ExcludedFlagged {
		t.Errorf("without --exclude-flagged nothing is excluded: %v", plain.Tasks[0].ExcludedFlaggedItems)
	}
	if p := plain.Tasks[0].Pairs[0]; p.Shared != 6 {
		t.Errorf("without --exclude-flagged: %d items shared, want 6", p.Shared)
	}

	b, err := Load(dirs, Options{ExcludeFlagged: true})
	if err != nil {
		t.Fatal(err)
	}
	task := b.Tasks[0]
	if va, na, vb, nb := opt1(b); math.Abs(va-2.0/5) > 1e-12 || na != 5 || math.Abs(vb-1) > 1e-12 || nb != 5 {
		t.Errorf("with --exclude-flagged: Opt@1 A %v (n=%d), B %v (n=%d), want 2/5 and 5/5 over 5", va, na, vb, nb)
	}
	if !slices.Equal(task.ExcludedFlaggedItems, []string{"c1"}) {
		t.Errorf("excluded items: got %v, want [c1]", task.ExcludedFlaggedItems)
	}
	for _, r := range task.Rows {
		if !r.ExcludedFlagged || r.Items != 6 || len(r.PerItem) != 5 || r.CorrectRate.N != 5 || r.SR.N != 5 {
			t.Errorf("%s: excluded %v, items %d, per item %d, correct n %d, SR n %d: want true, 6, 5, 5, 5", r.RunID, r.ExcludedFlagged, r.Items, len(r.PerItem), r.CorrectRate.N, r.SR.N)
		}
	}
	if p := task.Pairs[0]; p.Shared != 5 || len(p.OnlyA)+len(p.OnlyB) != 0 {
		t.Errorf("pairs: %d shared (only %v / %v), want the 5 others", p.Shared, p.OnlyA, p.OnlyB)
	}
	it := task.Matrix.Items[0]
	if it.ID != "c1" || !it.ExcludedFlagged || it.Cells[0].Status != CellOK || !it.Cells[0].Flagged || task.Matrix.Items[1].ExcludedFlagged {
		t.Errorf("matrix: want c1 marked excluded with its cells kept, got %+v", it)
	}
	var out bytes.Buffer
	b.View = View{Matrix: true}
	if err := WriteTable(&out, b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"excluded as flagged (--exclude-flagged): 1 item(s) flagged in a run, left out of every run's aggregates and pairs: c1", "c1 (excluded_flagged)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	// The other formats say the same.
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer, *Board) error
		want  []string
	}{
		{"markdown", func(w *bytes.Buffer, b *Board) error { return WriteMarkdown(w, b) }, []string{"left out of every run's aggregates and pairs: c1"}},
		{"json", func(w *bytes.Buffer, b *Board) error { return WriteJSON(w, b) }, []string{`"excluded_flagged_items": [
        "c1"
      ]`, `"excluded_flagged": true`}},
		{"csv", func(w *bytes.Buffer, b *Board) error { return WriteCSV(w, b) }, []string{",flagged,excluded_flagged_items\n", ",1,c1\n", ",0,c1\n"}},
	} {
		var buf bytes.Buffer
		if err := f.write(&buf, b); err != nil {
			t.Fatal(err)
		}
		for _, want := range f.want {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("%s lacks %q:\n%s", f.name, want, buf.String())
			}
		}
	}
}
