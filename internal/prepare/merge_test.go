package prepare

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
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
