package prepare

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
)

// MergeSummary is what `bench merge` found in a run's journals.
type MergeSummary struct {
	RunID  string
	RunDir string
	// Units is every unit of the run (items × samples), Finished those
	// whose rollout ended in a final status, Missing the others' names.
	Units    int
	Finished int
	Missing  []string
	Counts   map[records.RolloutStatus]int
}

// Merge rebuilds what is run-level in a run whose shards wrote only their
// items' directories (prepare --shard): the predictions files, from the
// journals, and run.json's updated_at, atomically and under the run's
// lock. Unfinished units are left out of the predictions and listed in
// Missing: a later shard finishes them and merge runs again.
func Merge(ctx context.Context, runDir string, now func() time.Time) (*MergeSummary, error) {
	if now == nil {
		now = time.Now
	}
	if !fsx.Exists(filepath.Join(runDir, journal.RunFile)) {
		return nil, badinput.Errorf("%s is not a run directory (no %s)", runDir, journal.RunFile)
	}
	run, err := journal.ReadRun(runDir)
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	p, err := plan.ReadResolved(filepath.Join(runDir, "plan.json"))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", run.RunID, err)
	}
	if p.Hash != run.PlanHash {
		return nil, fmt.Errorf("run %s: its plan.json has hash %s, run.json says %s", run.RunID, p.Hash, run.PlanHash)
	}
	byID := map[string]plan.Item{}
	for _, it := range p.Items {
		byID[it.ID] = it
	}
	items := make([]plan.Item, 0, len(run.Items))
	for _, id := range run.Items {
		it, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("run %s lists item %s, which its plan does not have", run.RunID, id)
		}
		items = append(items, it)
	}
	samples := max(run.Samples, 1)
	sum := &MergeSummary{RunID: run.RunID, RunDir: runDir, Units: len(items) * samples, Counts: map[records.RolloutStatus]int{}}
	for _, it := range items {
		for s := range samples {
			dir := filepath.Join(runDir, journal.ItemDirName(it.ID, s, samples))
			j, err := journal.ReadJournal(dir)
			if err != nil || j.PlanItemHash != it.Hash() || !j.Status.Final() {
				sum.Missing = append(sum.Missing, filepath.Base(dir))
				continue
			}
			sum.Counts[j.Status]++
		}
	}
	lock, err := journal.LockRun(ctx, runDir)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", run.RunID, err)
	}
	defer lock.Unlock()
	if sum.Finished, err = writePredictionsLocked(runDir, items, samples, predictionsModel(run.Agent.Model, run.Agent.Name)); err != nil {
		return nil, err
	}
	// Re-read under the lock: another writer may have changed it since.
	if run, err = journal.ReadRun(runDir); err != nil {
		return nil, err
	}
	run.UpdatedAt = now().UTC()
	if len(sum.Missing) == 0 {
		// Every unit is finished: no session's early stop stands (as an
		// unsharded prepare that finishes the run clears it).
		run.Stopped = ""
	}
	if err := journal.WriteRun(runDir, run); err != nil {
		return nil, err
	}
	return sum, nil
}
