package compare

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

// Scale of BenchmarkCompareScale: issue 12's 20 runs × 1,000 items.
const (
	scaleRuns   = 20
	scaleItems  = 1000
	scaleRounds = 10
)

// writeScaleRuns writes runs × items synthetic records through the journal
// package: per item a journal.json and, for most, an eval.json with
// rounds+1 rounds (one warmup) of three arms. The mix: 70% correct
// candidates, 10% empty patches, 10% failing the tests, 5% infra_error,
// 5% never rolled out.
func writeScaleRuns(tb testing.TB, root string, runs, items, rounds int) []string {
	tb.Helper()
	ids := make([]string, items)
	for i := range ids {
		ids[i] = fmt.Sprintf("item%04d", i)
	}
	dirs := make([]string, runs)
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	sem := make(chan struct{}, 2*runtime.GOMAXPROCS(0))
	for r := range runs {
		id := fmt.Sprintf("scale-run%02d", r)
		dirs[r] = filepath.Join(journal.RunsDir(root), id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := writeScaleRun(dirs[r], id, r, ids, rounds); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return dirs
}

func writeScaleRun(dir, id string, r int, items []string, rounds int) error {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	run := &records.Run{SchemaVersion: records.SchemaVersion, RunID: id, CreatedAt: created, UpdatedAt: created,
		Task: records.RunTask{ID: "scale", Name: "scale"}, Agent: records.RunAgent{Name: fmt.Sprintf("agent%02d", r), Model: "m"},
		Items: items, Samples: 1, PlanHash: "scaleplan"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := journal.WriteRun(dir, run); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(r), 1))
	for i, item := range items {
		kind := rng.IntN(20)
		if kind == 0 { // never rolled out
			continue
		}
		itemDir := filepath.Join(dir, journal.ItemDirName(item, 0, 1))
		if err := os.MkdirAll(itemDir, 0o755); err != nil {
			return err
		}
		j := &records.Journal{RunID: id, ItemID: item, Status: records.RolloutSuccess, DurationSeconds: 60,
			Usage: records.Usage{CostUSD: 0.02, InputTokens: 5000, OutputTokens: 500}}
		patch := kind >= 3
		if patch {
			j.Patch = &records.PatchInfo{Bytes: 200, Files: []string{"a.go"}, Added: 3, Removed: 1, Applies: true}
		} else {
			j.Status = records.RolloutNoPatch
		}
		if kind == 1 {
			j.Status = records.RolloutInfraError
		}
		if err := journal.WriteJournal(itemDir, j); err != nil {
			return err
		}
		if kind == 1 {
			continue
		}
		human := 1.1 + 3*rng.Float64()
		if i == 7 {
			human = 50000 // one extreme item
		}
		ev := &records.Eval{RunID: id, ItemID: item, Status: records.EvalSuccess,
			Patch: records.EvalPatch{Bytes: 200, Empty: !patch, Applied: patch}}
		switch {
		case kind == 2: // empty patch: timed as the baseline
			ev.Stats = threeWay(human, 1)
			ev.Samples = noisyRounds(rng, rounds, human, 1, true)
		case kind <= 4: // fails the tests: the agent arm is not timed
			ev.Status = records.EvalCorrectnessFailed
			ev.Stats = threeWay(human, 0)
			ev.Samples = noisyRounds(rng, rounds, human, 0, false)
		default:
			agent := human * (0.6 + 0.8*rng.Float64())
			ev.Stats = threeWay(human, agent)
			ev.Samples = noisyRounds(rng, rounds, human, agent, true)
		}
		if err := journal.WriteEval(itemDir, ev); err != nil {
			return err
		}
	}
	return nil
}

// noisyRounds are rounds+1 rounds (one warmup) of base (time 1), human and
// agent times for the given speedups, each with 3% log-normal noise.
func noisyRounds(rng *rand.Rand, rounds int, human, agent float64, withAgent bool) []records.Sample {
	out := make([]records.Sample, 0, 3*(rounds+1))
	noise := func() float64 { return math.Exp(0.03 * rng.NormFloat64()) }
	for r := range rounds + 1 {
		out = append(out, records.Sample{Arm: records.ArmBase, Round: r, Warmup: r == 0, Value: noise()},
			records.Sample{Arm: records.ArmHuman, Round: r, Warmup: r == 0, Value: noise() / human})
		if withAgent {
			out = append(out, records.Sample{Arm: records.ArmAgent, Round: r, Warmup: r == 0, Value: noise() / agent})
		}
	}
	return out
}

// BenchmarkCompareScale is compare over 20 runs × 1,000 items, every
// interval included (B = 2,000) and the 45 pairs of 10 rows: issue 12's
// target is under 10 s and 500 MB peak RSS (scripts/bench-compare-scale.sh
// reports both).
//
// With $BENCH_SCALE_STATE naming a state root TestWriteScaleState wrote,
// the benchmark reads it instead of writing its own.
func BenchmarkCompareScale(b *testing.B) {
	var dirs []string
	if root := os.Getenv("BENCH_SCALE_STATE"); root != "" {
		for r := range scaleRuns {
			dirs = append(dirs, filepath.Join(journal.RunsDir(root), fmt.Sprintf("scale-run%02d", r)))
		}
	} else {
		dirs = writeScaleRuns(b, b.TempDir(), scaleRuns, scaleItems, scaleRounds)
	}
	var asked [][2]string
	for i := range 10 {
		for j := i + 1; j < 10; j++ {
			asked = append(asked, [2]string{fmt.Sprintf("scale-run%02d", i), fmt.Sprintf("scale-run%02d", j)})
		}
	}
	b.ResetTimer()
	for b.Loop() {
		board, err := Load(dirs, Options{Pairs: asked})
		if err != nil {
			b.Fatal(err)
		}
		if got := len(board.Tasks[0].Pairs); got != len(asked) {
			b.Fatalf("want %d pairs, got %d", len(asked), got)
		}
	}
}

// TestWriteScaleState writes the benchmark's synthetic runs into
// $BENCH_SCALE_STATE (a state root) for scripts/bench-compare-scale.sh,
// which times `bench compare` over them; skipped without it.
func TestWriteScaleState(t *testing.T) {
	root := os.Getenv("BENCH_SCALE_STATE")
	if root == "" {
		t.Skip("BENCH_SCALE_STATE not set")
	}
	writeScaleRuns(t, root, scaleRuns, scaleItems, scaleRounds)
}
