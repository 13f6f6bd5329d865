package prepare

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/shard"
)

// A merge that finds every unit finished clears run.json's stopped: the
// run no longer stopped early (say, an unsharded session stopped at the
// budget, then shards finished its items), as an unsharded prepare that
// finishes a run clears it.
func TestMergeOfAFinishedRunClearsStopped(t *testing.T) {
	b, task, p, a := noopSetup(t, "")
	if _, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, RunID: "r1"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(journal.RunsDir(b.Paths.StateRoot), "r1")
	const stopped = "the run's max_total_budget_usd of $1 is reached (spent $1)"
	if _, err := journal.UpdateRun(context.Background(), dir, func(r *records.Run) { r.Stopped = stopped }); err != nil {
		t.Fatal(err)
	}
	sum, err := Merge(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Finished != sum.Units || len(sum.Missing) != 0 {
		t.Fatalf("merge %+v", sum)
	}
	run, err := journal.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if run.Stopped != "" {
		t.Errorf("stopped %q after a merge of a finished run", run.Stopped)
	}
}

// Each unit's journal records the shard that prepared it, and merge tells
// which shards those were, noting shards of more than one N (a run resumed
// with another --shard N, which is allowed).
func TestMergeTellsTheShardsOfEachN(t *testing.T) {
	b, task, p, a := noopSetup(t, "")
	ctx := context.Background()
	opts := Options{Task: task, Bench: b, Agent: a, Plan: p, RunID: "r1", Samples: 3}
	init := opts
	init.InitRun = true
	if _, err := Run(ctx, init); err != nil {
		t.Fatal(err)
	}
	// The plan's one item is in one shard of 2: that shard prepares it.
	mine := shard.Spec{I: shard.Of(p.Items[0].ID, 2), N: 2}
	for _, sp := range []shard.Spec{{I: 1 - mine.I, N: 2}, mine} {
		o := opts
		o.Shard = sp
		if _, err := Run(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(journal.RunsDir(b.Paths.StateRoot), "r1")
	sum, err := Merge(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Finished != 3 || !slices.Equal(sum.Shards, []shard.Spec{mine}) || sum.MixedN() {
		t.Fatalf("merge of one N: finished %d, shards %v, mixed %v", sum.Finished, sum.Shards, sum.MixedN())
	}
	// Samples 1 and 2 as shards of 3 and an unsharded session would have
	// recorded them (prepared again after, say, a resubmission with N=3).
	for s, sh := range map[int]string{1: "2/3", 2: ""} {
		unit := filepath.Join(dir, journal.ItemDirName(p.Items[0].ID, s, 3))
		j, err := journal.ReadJournal(unit)
		if err != nil {
			t.Fatal(err)
		}
		if j.Shard != mine.String() {
			t.Fatalf("%s: journal's shard %q, want %q", unit, j.Shard, mine)
		}
		j.Shard = sh
		if err := journal.WriteJournal(unit, j); err != nil {
			t.Fatal(err)
		}
	}
	if sum, err = Merge(ctx, dir, nil); err != nil {
		t.Fatal(err)
	}
	if want := []shard.Spec{mine, {I: 2, N: 3}}; sum.Finished != 3 || !slices.Equal(sum.Shards, want) || !sum.MixedN() {
		t.Fatalf("merge of two N: finished %d, shards %v (want %v), mixed %v", sum.Finished, sum.Shards, want, sum.MixedN())
	}
}
