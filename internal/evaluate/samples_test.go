package evaluate

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
)

// TestRotateKPlusTwo: with K candidates an item has K + 2 arms; over any
// K + 2 consecutive rounds every arm takes every position exactly once.
func TestRotateKPlusTwo(t *testing.T) {
	for k := 1; k <= 6; k++ {
		arms := []string{"base", "human"}
		for s := 0; s < k; s++ {
			arms = append(arms, "agent.s"+strconv.Itoa(s))
		}
		n := len(arms)
		for start := 0; start < 2*n; start++ {
			count := map[string]map[int]int{}
			for r := start; r < start+n; r++ {
				order := Rotate(arms, r)
				if len(order) != n {
					t.Fatalf("K=%d round %d: %d arms, want %d", k, r, len(order), n)
				}
				for pos, a := range order {
					if count[a] == nil {
						count[a] = map[int]int{}
					}
					count[a][pos]++
				}
			}
			for _, a := range arms {
				if len(count[a]) != n {
					t.Fatalf("K=%d rounds %d..%d: %s took positions %v", k, start, start+n-1, a, count[a])
				}
				for pos, c := range count[a] {
					if c != 1 {
						t.Fatalf("K=%d rounds %d..%d: %s in position %d %d times", k, start, start+n-1, a, pos, c)
					}
				}
			}
		}
	}
	if got := Rotate([]int{0, 1, 2}, -1); got[0] != 2 {
		t.Errorf("Rotate(-1) = %v", got)
	}
}

// sampleUnits are the K units of one item of a run with samples, in one
// run directory.
func (f *fixture) sampleUnits(t *testing.T, runDir string, patches ...[]byte) []Unit {
	t.Helper()
	var units []Unit
	for s, p := range patches {
		name := journal.ItemDirName("fx-0000", s, len(patches))
		dir := filepath.Join(runDir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		units = append(units, Unit{Item: plan.Item{ID: "fx-0000", Human: f.human, Pre: f.pre}, Sample: s, Dir: dir, Name: name, Patch: p, Samples: len(patches)})
	}
	return units
}

// TestSamplesTimedTogether: three candidates of one item, one of which
// breaks the tests, are timed in the same rounds as one baseline and one
// human; the breaker leaves before the rounds with its own status, the
// others are each compared with the same baseline and human, in one
// eval.json in the sample-0 directory. A rerun skips the item; a changed
// patch re-times it.
func TestSamplesTimedTogether(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	replay := f.patch(t, func(dir string) { writeFile(t, dir, "human.txt", "the human was here\n") })
	breaker := f.patch(t, func(dir string) { writeFile(t, dir, "test.sh", "echo broken >&2; exit 1\n") })
	runDir := t.TempDir()
	units := f.sampleUnits(t, runDir, replay, breaker, nil)
	r := &countingRunner{Host: *launcher(t)}
	sum, err := f.run(t, ctx, units, r, false)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Evaluated != 3 || sum.Counts[records.EvalSuccess] != 2 || sum.Counts[records.EvalCorrectnessFailed] != 1 || len(sum.Missing) != 0 {
		t.Fatalf("summary %+v", sum)
	}
	res, err := journal.ReadEval(units[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units[1:] {
		if _, err := os.Stat(filepath.Join(u.Dir, journal.EvalFile)); !os.IsNotExist(err) {
			t.Fatalf("%s has its own eval.json (%v)", u.Name, err)
		}
	}
	if res.SchemaVersion != records.EvalSchemaVersion || res.Status != records.EvalSuccess || len(res.Candidates) != 3 || res.Stats != nil {
		t.Fatalf("item: schema %d status %s, %d candidates, stats %v", res.SchemaVersion, res.Status, len(res.Candidates), res.Stats)
	}
	rounds := res.Config.Warmup + res.Config.Rounds
	perArm := map[string]int{}
	for _, s := range res.Samples {
		key := string(s.Arm)
		if s.Arm == records.ArmAgent {
			key += ".s" + strconv.Itoa(s.Sample)
		}
		perArm[key]++
		if s.Position < 0 || s.Position > 3 {
			t.Fatalf("sample %+v: position out of 0..3 (4 arms in the rounds)", s)
		}
	}
	if perArm["base"] != rounds || perArm["human"] != rounds || perArm["agent.s0"] != rounds || perArm["agent.s2"] != rounds || perArm["agent.s1"] != 0 {
		t.Fatalf("samples per arm %v, want %d for base, human, s0 and s2, none for the breaker", perArm, rounds)
	}
	for _, c := range res.Candidates {
		switch c.Sample {
		case 1:
			if c.Status != records.EvalCorrectnessFailed || c.Stats != nil {
				t.Fatalf("breaker %+v", c)
			}
		default:
			if c.Status != records.EvalSuccess || c.Stats == nil || c.Stats.Base.N != res.Config.Rounds {
				t.Fatalf("candidate %+v", c)
			}
		}
	}
	if c := res.Candidate(2); !c.Patch.Empty || c.Flags[0] != records.FlagEmptyPatch {
		t.Fatalf("empty candidate %+v", c)
	}
	// Every view compares its candidate with the same baseline samples.
	v0, err := journal.ReadSampleEval(units[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := journal.ReadSampleEval(units[2].Dir)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := journal.ReadSampleEval(units[1].Dir)
	if err != nil {
		t.Fatal(err)
	}
	if v0.Stats.Base.Median != v2.Stats.Base.Median || v0.Stats.Human.Median != v2.Stats.Human.Median || v1.Status != records.EvalCorrectnessFailed || v2.Sample != 2 {
		t.Fatalf("views: s0 base %v s2 base %v, s1 %s", v0.Stats.Base.Median, v2.Stats.Base.Median, v1.Status)
	}
	if len(Timed(v2.Samples, records.ArmAgent)) != res.Config.Rounds {
		t.Fatalf("view of s2 has %d agent samples", len(Timed(v2.Samples, records.ArmAgent)))
	}
	// CPU time is recorded beside wall time per candidate, each against
	// its own agent samples, and the views carry it.
	for _, v := range []*records.Eval{v0, v2} {
		c := res.Candidate(v.Sample)
		if len(c.Secondary) != 1 || c.Secondary[0].Metric != records.MetricCPU || c.Secondary[0].Stats == nil ||
			c.Secondary[0].Stats.Agent.N != res.Config.Rounds || len(v.Secondary) != 1 || v.Secondary[0].Stats.Agent.Median != c.Secondary[0].Stats.Agent.Median {
			t.Fatalf("sample %d: secondary %+v, view's %+v", v.Sample, c.Secondary, v.Secondary)
		}
	}

	// Resume: nothing runs again.
	before := r.n.Load()
	sum, err = f.run(t, ctx, units, r, false)
	if err != nil || sum.Skipped != 3 || sum.Evaluated != 0 || r.n.Load() != before {
		t.Fatalf("resume: %+v, err %v, %d commands", sum, err, r.n.Load()-before)
	}
	// A changed patch re-times the whole item.
	units[2].Patch = replay
	sum, err = f.run(t, ctx, units, r, false)
	if err != nil || sum.Evaluated != 3 || sum.Skipped != 0 {
		t.Fatalf("changed patch: %+v, err %v", sum, err)
	}
	again, err := journal.ReadEval(units[0].Dir)
	if err != nil || !again.StartedAt.After(res.StartedAt) || again.Candidate(2).Patch.Empty {
		t.Fatalf("not re-timed: %v", err)
	}

	// Regrade recomputes every candidate's statistics in place.
	f.task.Evaluation.Band = 0.5
	sum, err = f.run(t, ctx, units, nil, true)
	if err != nil || sum.Regraded != 3 {
		t.Fatalf("regrade: %+v, err %v", sum, err)
	}
	rg, err := journal.ReadEval(units[0].Dir)
	if err != nil || rg.RegradedAt.IsZero() || rg.Candidate(0).Stats.Options.Band != 0.5 || len(rg.Samples) != len(again.Samples) {
		t.Fatalf("regraded: %+v, err %v", rg.Candidate(0).Stats, err)
	}
}

// TestSamplesPerSampleLayoutStillRead: an item of a run with samples
// evaluated by an older harness (one eval.json per sample) is done for
// resume, and regrade rewrites each of those files.
func TestSamplesPerSampleLayoutStillRead(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	replay := f.patch(t, func(dir string) { writeFile(t, dir, "human.txt", "the human was here\n") })
	runDir := t.TempDir()
	units := f.sampleUnits(t, runDir, replay, replay)
	// Evaluate each sample alone, as the per-sample layout did.
	for i := range units {
		solo := units[i]
		solo.Samples = 1
		if _, err := f.run(t, ctx, []Unit{solo}, nil, false); err != nil {
			t.Fatal(err)
		}
		r, err := journal.ReadEval(solo.Dir)
		if err != nil {
			t.Fatal(err)
		}
		r.SchemaVersion = records.EvalSchemaVersionPerSample
		if err := os.WriteFile(filepath.Join(solo.Dir, journal.EvalFile), mustJSON(t, r), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &countingRunner{Host: *launcher(t)}
	sum, err := f.run(t, ctx, units, r, false)
	if err != nil || sum.Skipped != 2 || r.n.Load() != 0 {
		t.Fatalf("resume over the per-sample layout: %+v, err %v, %d commands", sum, err, r.n.Load())
	}
	sum, err = f.run(t, ctx, units, nil, true)
	if err != nil || sum.Regraded != 2 {
		t.Fatalf("regrade: %+v, err %v", sum, err)
	}
	for _, u := range units {
		v, err := journal.ReadSampleEval(u.Dir)
		if err != nil || v.RegradedAt.IsZero() || v.Sample != u.Sample || v.Candidates != nil {
			t.Fatalf("%s: %+v, err %v", u.Name, v, err)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := fsx.MarshalJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSamplesDropOut: with samples, a candidate whose patch does not
// apply, and one whose output differs from the baseline's, each leave
// with their own status while the other is timed to the end; a baseline
// that fails fails every candidate, in one file.
func TestSamplesDropOut(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	exact := &config.Equivalence{Mode: "exact"}
	f.task.Evaluation.Equivalence = exact
	replay := f.patch(t, func(dir string) { writeFile(t, dir, "human.txt", "the human was here\n") })
	other := f.patch(t, func(dir string) { writeFile(t, dir, "work.sh", "echo result 43\necho time: 1.5 ms\n") })
	bad := []byte("diff --git a/work.sh b/work.sh\n--- a/work.sh\n+++ b/work.sh\n@@ -1,2 +1,2 @@\n-echo nothing like this\n+echo x\n echo time: 1.5 ms\n")
	units := f.sampleUnits(t, t.TempDir(), bad, other, replay)
	if _, err := f.run(t, ctx, units, nil, false); err != nil {
		t.Fatal(err)
	}
	r, err := journal.ReadEval(units[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []records.EvalStatus{records.EvalPatchFailed, records.EvalEquivalenceFailed, records.EvalSuccess}
	for i, c := range r.Candidates {
		if c.Status != want[i] {
			t.Fatalf("candidate %d: %s (%s), want %s", i, c.Status, c.Reason, want[i])
		}
	}
	if c := r.Candidate(1); c.EquivalenceOK || !strings.Contains(c.EquivalenceDetail, "result 43") || !strings.Contains(c.Reason, "(sample 1)") {
		t.Fatalf("equivalence of sample 1: %+v", c)
	}
	if c := r.Candidate(0); c.Patch.Applied || len(c.Patch.FailingHunks) == 0 {
		t.Fatalf("patch of sample 0: %+v", c.Patch)
	}
	if r.Equivalence == nil || !r.Equivalence.HumanOK || r.Equivalence.AgentOK {
		t.Fatalf("equivalence %+v", r.Equivalence)
	}
	// Sample 1 ran round 0 (warm-up) only; sample 2 every round.
	n := map[int]int{}
	for _, s := range r.Samples {
		if s.Arm == records.ArmAgent {
			n[s.Sample]++
		}
	}
	if rounds := r.Config.Warmup + r.Config.Rounds; n[0] != 0 || n[1] != 1 || n[2] != rounds {
		t.Fatalf("agent samples by candidate %v", n)
	}
	v1, err := journal.ReadSampleEval(units[1].Dir)
	if err != nil || v1.Equivalence.AgentOK || v1.Equivalence.Detail == "" || v1.Status != records.EvalEquivalenceFailed {
		t.Fatalf("view of sample 1: %+v, %v", v1.Equivalence, err)
	}

	// The baseline failing is every candidate's status, and the item's.
	f.task.Evaluation.Equivalence = nil
	f.task.Workload = "test -f human.txt && sh work.sh"
	sum, err := f.run(t, ctx, units, nil, false)
	if err != nil || sum.Counts[records.EvalBaseFailed] != 2 || sum.Counts[records.EvalPatchFailed] != 1 || len(sum.TaskProblems) != 1 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	r, err = journal.ReadEval(units[0].Dir)
	if err != nil || r.Status != records.EvalBaseFailed || r.Candidate(2).Status != records.EvalBaseFailed {
		t.Fatalf("base failed: %+v, err %v", r, err)
	}
}
