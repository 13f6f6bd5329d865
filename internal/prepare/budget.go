package prepare

import (
	"errors"
	"sync"
	"time"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Why the harness stopped a rollout early (the cause of its context).
var (
	errItemBudget = errors.New(records.LimitMaxBudgetUSD + " reached")
	errRunBudget  = errors.New(records.LimitMaxTotalBudgetUSD + " reached")
)

// spend tracks the money of a run: what this process's finished attempts
// cost (its ledger), what its rollouts in flight have reported so far,
// what the rest of the run spent (the other ledgers, re-read), and the
// run's cap. Rollouts report through their Observe hook; when the run's
// total reaches the cap, every rollout in flight is stopped and no new one
// starts.
type spend struct {
	mu  sync.Mutex
	cap float64
	// others is the rest of the run as last read by readOthers: other
	// processes' ledgers, earlier sessions', a legacy run.json spend.
	others     float64
	readOthers func() float64
	readAt     time.Time
	finished   float64
	inflight   map[*itemRun]float64
	reached    bool
	// onChange gets the run's total and this process's ledger value.
	onChange func(total, mine float64)
}

// othersReadEvery bounds how often streamed usage re-reads the other
// ledgers.
const othersReadEvery = time.Second

// newSpend starts from this process's ledger value (mine: nonzero when a
// dead process of the same host and pid left one) and reads the others.
func newSpend(mine, cap float64, readOthers func() float64, onChange func(total, mine float64)) *spend {
	s := &spend{cap: cap, finished: mine, readOthers: readOthers, inflight: map[*itemRun]float64{}, onChange: onChange}
	s.refresh(true)
	return s
}

func (s *spend) mineLocked() float64 {
	t := s.finished
	for _, v := range s.inflight {
		t += v
	}
	return t
}

func (s *spend) totalLocked() float64 { return s.others + s.mineLocked() }

// Total is the run's spend so far.
func (s *spend) Total() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totalLocked()
}

// Others is the rest of the run's spend, as last read.
func (s *spend) Others() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.others
}

// Reached reports whether the run's cap is reached: no rollout may start.
func (s *spend) Reached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reached
}

// refresh re-reads the rest of the run's spend: always when force (before
// an item starts), else at most every othersReadEvery. At the cap, the
// rollouts in flight are stopped.
func (s *spend) refresh(force bool) {
	s.mu.Lock()
	if s.readOthers == nil || (!force && time.Since(s.readAt) < othersReadEvery) {
		s.mu.Unlock()
		return
	}
	s.readAt = time.Now()
	s.mu.Unlock()
	v := s.readOthers()
	s.mu.Lock()
	s.others = max(s.others, v)
	stop := s.enforceLocked()
	s.mu.Unlock()
	stopAll(stop)
}

// enforceLocked marks the cap reached when the total is at it and
// returns the rollouts to stop.
func (s *spend) enforceLocked() []*itemRun {
	if s.cap <= 0 || s.totalLocked() < s.cap {
		return nil
	}
	s.reached = true
	var stop []*itemRun
	for o := range s.inflight {
		stop = append(stop, o)
	}
	return stop
}

func stopAll(its []*itemRun) {
	for _, o := range its {
		o.stop(errRunBudget)
	}
}

// observe records a rollout's cumulative cost and enforces the run cap.
func (s *spend) observe(it *itemRun, cost float64) {
	s.refresh(false)
	s.mu.Lock()
	s.inflight[it] = cost
	total, mine := s.totalLocked(), s.mineLocked()
	stop := s.enforceLocked()
	s.mu.Unlock()
	stopAll(stop)
	if s.onChange != nil {
		s.onChange(total, mine)
	}
}

// settle moves a finished attempt's cost from in flight to finished and
// returns this process's ledger value.
func (s *spend) settle(it *itemRun, cost float64) float64 {
	s.mu.Lock()
	delete(s.inflight, it)
	s.finished += cost
	total, mine := s.totalLocked(), s.mineLocked()
	s.enforceLocked()
	s.mu.Unlock()
	if s.onChange != nil {
		s.onChange(total, mine)
	}
	return mine
}

// observeUsage is a rollout's Observe hook: it keeps the latest usage (the
// journal's partial usage if the agent never reports totals), stops the
// rollout at its own cap, and feeds the run's spend.
func (it *itemRun) observeUsage(u records.Usage) {
	it.usageMu.Lock()
	it.observed = u
	it.usageMu.Unlock()
	if c := it.limits.MaxBudgetUSD; c > 0 && it.priorCost+u.CostUSD >= c {
		it.stop(errItemBudget)
	}
	it.spend.observe(it, u.CostUSD)
}

// stop ends the rollout in flight with a cause.
func (it *itemRun) stop(cause error) {
	it.usageMu.Lock()
	cancel := it.cancelRollout
	it.usageMu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}

// usd quotes an amount in a reason or a log line (a sentence: see textx).
func usd(v float64) string { return textx.USDShort(v) }
