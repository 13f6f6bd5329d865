package journal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// TestReadSampleEvalLayouts: one sample's evaluation reads the same from
// the item layout (one file in <item>.s0), from the per-sample layout of
// schema 1, and from a run without samples; a sample without one is
// "not exist".
func TestReadSampleEvalLayouts(t *testing.T) {
	run := t.TempDir()
	mk := func(name string) string {
		dir := filepath.Join(run, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	st := func(m float64) *stats.ThreeWay { return &stats.ThreeWay{Agent: stats.ArmSummary{Median: m}} }
	// Item layout: samples 0 and 2, sample 1 broke the tests.
	item := &records.Eval{ItemID: "t-0000", Status: records.EvalSuccess, Flags: []string{records.FlagFewRounds},
		Samples:  []records.Sample{{Arm: records.ArmBase, Value: 2}, {Arm: records.ArmHuman, Value: 1}, {Arm: records.ArmAgent, Value: 1.5}, {Arm: records.ArmAgent, Sample: 2, Value: 1.2}},
		Commands: []records.CommandLog{{Arm: records.ArmAgent, Sample: 1, Phase: "correctness"}, {Arm: records.ArmBase, Phase: "setup"}},
		Candidates: []records.EvalCandidate{
			{Sample: 0, PatchHash: "a", Status: records.EvalSuccess, Stats: st(1.5)},
			{Sample: 1, PatchHash: "b", Status: records.EvalCorrectnessFailed, Reason: "broken"},
			{Sample: 2, PatchHash: "c", Status: records.EvalSuccess, Flags: []string{records.FlagEmptyPatch}, Stats: st(1.2)},
		}}
	if err := WriteEval(mk("t-0000.s0"), item); err != nil {
		t.Fatal(err)
	}
	mk("t-0000.s1")
	mk("t-0000.s2")
	views := make([]*records.Eval, 3)
	for k := range views {
		v, err := ReadSampleEval(filepath.Join(run, ItemDirName("t-0000", k, 3)))
		if err != nil || v.Sample != k || v.Status != item.Candidates[k].Status || v.PatchHash != item.Candidates[k].PatchHash {
			t.Fatalf("sample %d: %+v, err %v", k, v, err)
		}
		views[k] = v
	}
	v2 := views[2]
	if v2.Candidates != nil || v2.Stats.Agent.Median != 1.2 || len(v2.Samples) != 3 || v2.Samples[2].Value != 1.2 || v2.Samples[2].Sample != 0 {
		t.Fatalf("view of sample 2: %+v", v2)
	}
	if len(v2.Flags) != 2 || v2.Flags[0] != records.FlagEmptyPatch || v2.Flags[1] != records.FlagFewRounds {
		t.Fatalf("view of sample 2: flags %v, want the candidate's then the item's", v2.Flags)
	}
	if v1 := views[1]; v1.Status != records.EvalCorrectnessFailed || v1.Reason != "broken" || v1.Stats != nil || len(v1.Flags) != 0 || len(v1.Commands) != 2 || len(v1.Samples) != 2 {
		t.Fatalf("view of the breaker: %+v", v1)
	}

	// The per-sample layout of schema 1: one file per sample.
	for k := range 2 {
		old := &records.Eval{ItemID: "t-0001", Sample: k, PatchHash: string(rune('x' + k)), Status: records.EvalSuccess}
		dir := mk(ItemDirName("t-0001", k, 2))
		old.SchemaVersion = records.EvalSchemaVersionPerSample
		if err := fsx.WriteJSON(filepath.Join(dir, EvalFile), old); err != nil {
			t.Fatal(err)
		}
	}
	for k, want := range []string{"x", "y"} {
		if v, err := ReadSampleEval(filepath.Join(run, ItemDirName("t-0001", k, 2))); err != nil || v.PatchHash != want {
			t.Fatalf("per-sample layout, sample %d: %+v, %v", k, v, err)
		}
	}

	// No samples.
	if err := WriteEval(mk("t-0002"), &records.Eval{ItemID: "t-0002", PatchHash: "z", Status: records.EvalSuccess}); err != nil {
		t.Fatal(err)
	}
	if v, err := ReadSampleEval(filepath.Join(run, "t-0002")); err != nil || v.PatchHash != "z" {
		t.Fatalf("one sample: %+v, %v", v, err)
	}

	// Nothing evaluated; a sample the item layout does not have.
	mk("t-0003.s1")
	if _, err := ReadSampleEval(filepath.Join(run, "t-0003.s1")); !fsx.IsNotExist(err) {
		t.Fatalf("no evaluation: %v", err)
	}
	item.Candidates = item.Candidates[:1]
	if err := WriteEval(filepath.Join(run, "t-0000.s0"), item); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSampleEval(filepath.Join(run, "t-0000.s2")); !fsx.IsNotExist(err) {
		t.Fatalf("a sample the file lacks: %v", err)
	}
	// A future schema is refused with the file's name.
	if err := fsx.WriteJSON(filepath.Join(run, "t-0002", EvalFile), map[string]int{"schema_version": 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSampleEval(filepath.Join(run, "t-0002")); err == nil || fsx.IsNotExist(err) {
		t.Fatalf("schema 9: %v", err)
	}
}

func TestSplitItemDirName(t *testing.T) {
	for name, want := range map[string][3]any{
		"t-0000":     {"t-0000", 0, 1},
		"t-0000.s0":  {"t-0000", 0, 2},
		"t-0000.s12": {"t-0000", 12, 13},
		"a.s1-0000":  {"a.s1-0000", 0, 1},
		"t-0000.s01": {"t-0000.s01", 0, 1},
	} {
		id, k, n := splitItemDirName(name)
		if id != want[0] || k != want[1] || n != want[2] {
			t.Errorf("%s: %s %d %d, want %v", name, id, k, n, want)
		}
	}
}
