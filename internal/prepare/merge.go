package prepare

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/shard"
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
	// Shards are the shards ("I/N") that prepared the finished units, by
	// N then I, as their journals record them (unsharded sessions and
	// journals older than the record are not in it).
	Shards []shard.Spec
}

// MixedN reports whether shards of more than one N prepared the run. That
// is allowed (a run resumed with another --shard N: every unit is still
// prepared once, by whichever shard claims it first, and the budget split
// counts the other N's spend), but a user resubmitting "the same shard"
// should know which partition is meant.
func (s *MergeSummary) MixedN() bool {
	return len(s.Shards) > 0 && s.Shards[0].N != s.Shards[len(s.Shards)-1].N
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
			if sp, err := shard.Parse(j.Shard); err == nil && !slices.Contains(sum.Shards, sp) {
				sum.Shards = append(sum.Shards, sp)
			}
		}
	}
	slices.SortFunc(sum.Shards, func(a, b shard.Spec) int { return cmp.Or(cmp.Compare(a.N, b.N), cmp.Compare(a.I, b.I)) })
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
