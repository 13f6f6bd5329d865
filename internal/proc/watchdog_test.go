package proc

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// A long duration: a step that waits for it never runs within a test, so
// the tests below depend on the order of events, never on how long they
// take.
const never = time.Hour

// stand is a stand-in process: it records the watchdog's calls and ends
// (closes done) at the call the test chooses.
type stand struct {
	mu    sync.Mutex
	calls []string
	done  chan struct{}
	// endAt is the call at which the process ends; softMisses is how many
	// soft stops miss it before one reaches it.
	endAt      string
	softMisses int
	ended      sync.Once
}

func newStand(endAt string) *stand { return &stand{done: make(chan struct{}), endAt: endAt} }

func (s *stand) end() { s.ended.Do(func() { close(s.done) }) }

func (s *stand) call(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, name)
	if name == s.endAt || name == "stuck" {
		s.ended.Do(func() { close(s.done) })
	}
}

// watch runs w on the stand-in. A watchdog that misses its step would
// wait forever; the stand-in then ends after a minute and records "stuck".
func (s *stand) watch(ctx context.Context, w Watchdog) Outcome {
	t := time.AfterFunc(time.Minute, func() { s.call("stuck") })
	defer t.Stop()
	return w.Watch(ctx, s.done)
}

func (s *stand) soft() bool {
	s.mu.Lock()
	miss := s.softMisses > 0
	if miss {
		s.softMisses--
	}
	s.mu.Unlock()
	if miss {
		s.call("soft-miss")
		return false
	}
	s.call("soft")
	return true
}

func (s *stand) hard()   { s.call("hard") }
func (s *stand) giveUp() { s.call("giveup") }

func (s *stand) watchdog(timeout, grace time.Duration) Watchdog {
	return Watchdog{Timeout: timeout, Grace: grace, Soft: s.soft, Hard: s.hard, GiveUp: s.giveUp, Bound: never}
}

func (s *stand) check(t *testing.T, want ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Equal(s.calls, want) {
		t.Errorf("calls %q, want %q", s.calls, want)
	}
}

func TestWatchdogEndsBeforeTimeout(t *testing.T) {
	s := newStand("")
	s.end()
	out := s.watch(context.Background(), s.watchdog(never, time.Millisecond))
	s.check(t)
	if out != (Outcome{}) {
		t.Errorf("got %+v, want nothing", out)
	}
}

func TestWatchdogSoftThenHard(t *testing.T) {
	// The process ignores the soft stop: Hard comes after the grace and
	// ends it; GiveUp is not needed.
	s := newStand("hard")
	out := s.watch(context.Background(), s.watchdog(time.Millisecond, time.Millisecond))
	s.check(t, "soft", "hard")
	if !out.TimedOut || !out.Killed || out.Stopped || !out.HardAt.IsZero() {
		t.Errorf("got %+v, want timed out and killed", out)
	}
}

func TestWatchdogSoftWithinGrace(t *testing.T) {
	s := newStand("soft")
	before := time.Now()
	out := s.watch(context.Background(), s.watchdog(time.Millisecond, never))
	s.check(t, "soft")
	if !out.TimedOut || out.Killed {
		t.Errorf("got %+v, want timed out, not killed", out)
	}
	// The caller gets the rest of the grace for what is left (a group's
	// members).
	if out.HardAt.Before(before.Add(never)) {
		t.Errorf("HardAt %v, want the end of the grace", out.HardAt)
	}
}

func TestWatchdogGiveUp(t *testing.T) {
	s := newStand("giveup")
	w := s.watchdog(time.Millisecond, time.Millisecond)
	w.Bound = time.Millisecond
	out := s.watch(context.Background(), w)
	s.check(t, "soft", "hard", "giveup")
	if !out.Killed {
		t.Errorf("got %+v, want killed", out)
	}
}

func TestWatchdogNoSoftStop(t *testing.T) {
	s := newStand("hard")
	w := s.watchdog(time.Millisecond, never)
	w.Soft = nil
	out := s.watch(context.Background(), w)
	s.check(t, "hard")
	if !out.TimedOut || !out.Killed {
		t.Errorf("got %+v, want timed out and killed", out)
	}
}

func TestWatchdogRetriesSoftUntilReached(t *testing.T) {
	defer func(d time.Duration) { softRetry = d }(softRetry)
	softRetry = time.Millisecond
	s := newStand("soft")
	s.softMisses = 2 // a container the engine is still creating
	s.watch(context.Background(), s.watchdog(time.Millisecond, never))
	s.check(t, "soft-miss", "soft-miss", "soft")
}

func TestWatchdogSoftNotRepeatedOnceReached(t *testing.T) {
	defer func(d time.Duration) { softRetry = d }(softRetry)
	softRetry = time.Microsecond
	s := newStand("hard")
	s.watch(context.Background(), s.watchdog(time.Millisecond, 50*time.Millisecond))
	s.check(t, "soft", "hard")
}

func TestWatchdogSoftMissedUntilGraceEnds(t *testing.T) {
	defer func(d time.Duration) { softRetry = d }(softRetry)
	softRetry = never
	s := newStand("hard")
	s.softMisses = 1000
	s.watch(context.Background(), s.watchdog(time.Millisecond, time.Millisecond))
	s.check(t, "soft-miss", "hard")
}

func TestWatchdogCancel(t *testing.T) {
	cause := errors.New("budget reached")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	s := newStand("soft")
	out := s.watch(ctx, s.watchdog(never, never))
	s.check(t, "soft")
	if !out.Stopped || !errors.Is(out.Cause, cause) || out.TimedOut || out.Killed {
		t.Errorf("got %+v, want stopped by %v", out, cause)
	}
}

func TestWatchdogCancelDuringGrace(t *testing.T) {
	// The limit has passed and the context has ended: the stop begins
	// once, and the second trigger, seen during the grace (while the soft
	// stop waits for its retry), is reported too.
	defer func(d time.Duration) { softRetry = d }(softRetry)
	softRetry = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := newStand("soft")
	s.softMisses = 1
	w := s.watchdog(time.Minute, never)
	w.Start = time.Now().Add(-time.Hour)
	out := s.watch(ctx, w)
	s.check(t, "soft-miss", "soft")
	if !out.TimedOut || !out.Stopped || out.Killed {
		t.Errorf("got %+v, want timed out and stopped, not killed", out)
	}
}

func TestWatchdogTimeoutCountsFromStart(t *testing.T) {
	s := newStand("soft")
	w := s.watchdog(time.Minute, never)
	w.Start = time.Now().Add(-time.Hour) // the limit passed already
	out := s.watch(context.Background(), w)
	s.check(t, "soft")
	if !out.TimedOut {
		t.Errorf("got %+v, want timed out", out)
	}
}

func TestWatchdogGo(t *testing.T) {
	// The caller waits for the process and tells the watchdog it ended.
	hardRan := make(chan struct{})
	ended := Watchdog{Timeout: time.Millisecond, Hard: func() { close(hardRan) }}.Go(context.Background())
	<-hardRan
	if out := ended(); !out.TimedOut || !out.Killed {
		t.Errorf("got %+v, want timed out and killed", out)
	}
	ended = Watchdog{Timeout: never, Hard: func() { t.Error("Hard ran") }}.Go(context.Background())
	if out := ended(); out != (Outcome{}) {
		t.Errorf("got %+v, want nothing", out)
	}
}
