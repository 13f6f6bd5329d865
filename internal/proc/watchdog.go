package proc

import (
	"context"
	"time"
)

// softRetry is how long Watch waits before it repeats a soft stop that did
// not reach its target. A variable so tests can shorten it.
var softRetry = 200 * time.Millisecond

// Watchdog is the one timeout and cancellation policy of the harness: Run
// applies it to a process group, package container to a container (through
// its engine), package evaluate to an evaluation command. At the wall-clock
// limit or when the context ends it stops the watched process in escalating
// steps, each one skipped once the process has ended: Soft, then Hard after
// Grace, then GiveUp after Bound. The callbacks carry what differs between
// the callers (signals to a group, `docker kill --signal`, removing a
// container); they run one at a time on Watch's goroutine.
type Watchdog struct {
	// Timeout is the wall-clock limit, counted from Start; 0 means none.
	Timeout time.Duration
	// Start is when the limit began; zero means when Watch is called.
	Start time.Time
	// Grace is the time between the first Soft and Hard.
	Grace time.Duration
	// Soft asks the process to stop and reports whether the request
	// reached it. When it did not (a container the engine is still
	// creating), Watch repeats it until it does or the grace is over. Nil
	// means no soft stop: Hard runs at once.
	Soft func() (reached bool)
	// Hard forces the stop.
	Hard func()
	// GiveUp, when set, runs Bound after Hard if the process still has not
	// ended: callers that stop a process through someone else (a container
	// engine) then stop their own client.
	GiveUp func()
	Bound  time.Duration
}

// Outcome is what a Watchdog saw and did.
type Outcome struct {
	// TimedOut is set when the limit fired before the process ended.
	TimedOut bool
	// Stopped is set when the context ended before the process did; Cause
	// is context.Cause then. Both TimedOut and Stopped are set when one
	// came during the stop the other began.
	Stopped bool
	Cause   error
	// Killed is set when Hard ran.
	Killed bool
	// HardAt is when Hard would have run: set only when the process ended
	// during the grace, so that a caller with more to wait for (the
	// members of a group whose leader is gone) can give them the rest of
	// it.
	HardAt time.Time
}

// Watch runs until done is closed, the sign that the process ended, and
// returns what happened meanwhile.
func (w Watchdog) Watch(ctx context.Context, done <-chan struct{}) Outcome {
	var out Outcome
	// Since Go 1.23 a stopped or reset timer delivers no stale tick, so
	// one timer per step serves however often the step is re-armed.
	limit, grace, retry, bound := idle(), idle(), idle(), idle()
	defer func() {
		for _, t := range []*time.Timer{limit, grace, retry, bound} {
			t.Stop()
		}
	}()
	if w.Timeout > 0 {
		start := w.Start
		if start.IsZero() {
			start = time.Now()
		}
		limit.Reset(time.Until(start.Add(w.Timeout)))
	}
	hard := func() {
		out.Killed, out.HardAt = true, time.Time{}
		grace.Stop()
		retry.Stop()
		if w.Hard != nil {
			w.Hard()
		}
		if w.GiveUp != nil {
			bound.Reset(w.Bound)
		}
	}
	soft := func() {
		if !w.Soft() {
			retry.Reset(softRetry)
		}
	}
	stopping := false
	begin := func() {
		if stopping {
			return
		}
		stopping = true
		if w.Soft == nil {
			hard()
			return
		}
		// The grace runs from the first request, however long that
		// request takes.
		out.HardAt = time.Now().Add(w.Grace)
		grace.Reset(w.Grace)
		soft()
	}
	stop := ctx.Done()
	for {
		select {
		case <-done:
			return out
		case <-limit.C:
			out.TimedOut = true
			begin()
		case <-stop:
			stop = nil
			out.Stopped, out.Cause = true, context.Cause(ctx)
			begin()
		case <-retry.C:
			soft()
		case <-grace.C:
			hard()
		case <-bound.C:
			w.GiveUp()
		}
	}
}

// Go runs Watch on its own goroutine, for a caller that waits for the
// process itself. Calling ended says the process has ended and returns the
// outcome, once the watchdog's current step is over.
func (w Watchdog) Go(ctx context.Context) (ended func() Outcome) {
	done := make(chan struct{})
	out := make(chan Outcome, 1)
	go func() { out <- w.Watch(ctx, done) }()
	return func() Outcome {
		close(done)
		return <-out
	}
}

// idle is a stopped timer, armed later with Reset.
func idle() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}
