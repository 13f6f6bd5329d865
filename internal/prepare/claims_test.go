package prepare

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
)

// noopSetup is a run of the noop agent on a one-item plan.
func noopSetup(t *testing.T, benchYAML string) (*config.Bench, *config.Task, *plan.Plan, *config.Agent) {
	t.Helper()
	b, task, _ := setup(t, benchYAML)
	a, err := b.Agent("noop")
	if err != nil {
		t.Fatal(err)
	}
	return b, task, buildPlan(t, b, task), a
}

func TestHeldItemIsSkippedAndNotMissing(t *testing.T) {
	b, task, p, a := noopSetup(t, "")
	item := filepath.Join(journal.RunsDir(b.Paths.StateRoot), "r1", p.Items[0].ID)
	// Another holder (here an open file of this process: flock excludes
	// it all the same).
	c, err := journal.ClaimItem(item, "prepare", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, RunID: "r1", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Held) != 1 || sum.Held[0].Name != p.Items[0].ID || !strings.HasPrefix(sum.Held[0].Holder, "pid ") {
		t.Fatalf("held %+v, want %s", sum.Held, p.Items[0].ID)
	}
	if len(sum.Missing) != 0 || sum.Failed() {
		t.Fatalf("a held item counted as missing or failed: %+v", sum)
	}
	if _, err := journal.ReadJournal(item); err == nil {
		t.Fatal("a held item was worked on")
	}
	c.Release()

	// Released, the next prepare does it.
	sum, err = Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, RunID: "r1", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Held) != 0 || sum.Counts[records.RolloutNoPatch] != 1 {
		t.Fatalf("after release: %+v", sum)
	}
	j, err := journal.ReadJournal(item)
	if err != nil {
		t.Fatal(err)
	}
	if self := journal.Self(); j.Harness != self {
		t.Errorf("journal harness %v, want %v", j.Harness, self)
	}
}

func TestRunCapCountsOtherLedgers(t *testing.T) {
	b, task, p, a := noopSetup(t, "max_total_budget_usd: 1\n")
	var log bytes.Buffer
	if _, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, RunID: "r1", Samples: 2, Log: &log}); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(journal.RunsDir(b.Paths.StateRoot), "r1")
	// Two other processes spent the whole budget between them.
	for i, v := range []float64{0.75, 0.25} {
		if err := journal.WriteLedger(runDir, &journal.Ledger{Harness: records.Harness{Host: "other", PID: 100 + i}, SpentUSD: v}); err != nil {
			t.Fatal(err)
		}
	}
	// A third sample is new work; the cap stops it before it starts.
	log.Reset()
	sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, RunID: "r1", Samples: 3, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "already spent ($1)") || sum.SpentUSD != 1 || len(sum.Missing) == 0 {
		t.Fatalf("log %q, summary %+v: want the cap reached by the other ledgers", log.String(), sum)
	}
}

func TestSpendRereadsOtherLedgersAgainstTheCap(t *testing.T) {
	others := 0.5
	var total, mine float64
	s := newSpend(0.125, 1, func() float64 { return others }, func(t, m float64) { total, mine = t, m })
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	it := &itemRun{cancelRollout: cancel}
	s.observe(it, 0.25)
	if s.Reached() || total != 0.875 || mine != 0.375 {
		t.Fatalf("reached %v, total %v, mine %v: want 0.875 of which 0.375 this process's", s.Reached(), total, mine)
	}
	// Another process spent meanwhile: re-read before the next item, the
	// run is at its cap and the rollout in flight is stopped.
	others = 0.75
	s.refresh(true)
	if !s.Reached() || !errors.Is(context.Cause(ctx), errRunBudget) {
		t.Fatalf("reached %v, rollout %v: want the cap reached and the rollout stopped", s.Reached(), context.Cause(ctx))
	}
	if got := s.settle(it, 0.25); got != 0.375 || s.Total() != 1.125 {
		t.Fatalf("settled: mine %v, total %v", got, s.Total())
	}
}

func TestTwoFreshRunsGetTwoIDs(t *testing.T) {
	b, task, p, a := noopSetup(t, "")
	// The same second: the same id, unless the choice is made under
	// runs/.lock.
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ids := make(chan string, 2)
	for range 2 {
		go func() {
			var log bytes.Buffer
			sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, New: true, Now: func() time.Time { return at }, Log: &log})
			if err != nil {
				t.Error(err)
				ids <- ""
				return
			}
			ids <- sum.RunID
		}()
	}
	a1, a2 := <-ids, <-ids
	if a1 == a2 || a1 == "" || a2 == "" {
		t.Fatalf("two fresh runs got ids %q and %q", a1, a2)
	}
}
