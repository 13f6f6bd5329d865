package prepare

import (
	"errors"
	"fmt"
	"sync"

	"github.com/perfbench/perfbench/internal/agent"
)

// Why the harness stopped a rollout early (the cause of its context).
var (
	errItemBudget = errors.New("max_budget_usd reached")
	errRunBudget  = errors.New("max_total_budget_usd reached")
)

// spend tracks the money of a run: what finished attempts cost (across
// resumed sessions), what rollouts in flight have reported so far, and the
// run's cap. Rollouts report through their Observe hook; when the run's
// total reaches the cap, every rollout in flight is stopped and no new one
// starts.
type spend struct {
	mu       sync.Mutex
	cap      float64
	finished float64
	inflight map[*itemRun]float64
	reached  bool
	onChange func(total float64)
}

func newSpend(prior, cap float64, onChange func(float64)) *spend {
	return &spend{cap: cap, finished: prior, inflight: map[*itemRun]float64{}, onChange: onChange, reached: cap > 0 && prior >= cap}
}

func (s *spend) totalLocked() float64 {
	t := s.finished
	for _, v := range s.inflight {
		t += v
	}
	return t
}

// Total is the run's spend so far.
func (s *spend) Total() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totalLocked()
}

// Reached reports whether the run's cap is reached: no rollout may start.
func (s *spend) Reached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reached
}

// observe records a rollout's cumulative cost and enforces the run cap.
func (s *spend) observe(it *itemRun, cost float64) {
	s.mu.Lock()
	s.inflight[it] = cost
	total := s.totalLocked()
	var stop []*itemRun
	if s.cap > 0 && total >= s.cap {
		s.reached = true
		for o := range s.inflight {
			stop = append(stop, o)
		}
	}
	s.mu.Unlock()
	for _, o := range stop {
		o.stop(errRunBudget)
	}
	if s.onChange != nil {
		s.onChange(total)
	}
}

// settle moves a finished attempt's cost from in flight to finished.
func (s *spend) settle(it *itemRun, cost float64) float64 {
	s.mu.Lock()
	delete(s.inflight, it)
	s.finished += cost
	total := s.totalLocked()
	if s.cap > 0 && total >= s.cap {
		s.reached = true
	}
	s.mu.Unlock()
	if s.onChange != nil {
		s.onChange(total)
	}
	return total
}

// observeUsage is a rollout's Observe hook: it keeps the latest usage (the
// journal's partial usage if the agent never reports totals), stops the
// rollout at its own cap, and feeds the run's spend.
func (it *itemRun) observeUsage(u agent.Usage) {
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

func usd(v float64) string { return fmt.Sprintf("$%.4g", v) }
