// Package progress shows the advance of long work: a live bar on a
// terminal (done/total, running, failed, elapsed, ETA, spend), one plain
// line per item event otherwise (CI logs, files, NO_COLOR).
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Reporter is what the prepare stage drives.
type Reporter interface {
	Start(runID string, total, done int)
	Begin(itemID string)
	End(itemID string, status records.RolloutStatus, reason string, d time.Duration)
	// Skip counts an item another process holds or finished as done here
	// and says why.
	Skip(itemID, why string)
	// Spend sets the run's spend so far (USD), shown next to the ETA.
	Spend(usd float64)
	Close()
}

// New returns a live bar when tty is true, plain lines otherwise.
func New(w io.Writer, tty bool, now func() time.Time) Reporter {
	if now == nil {
		now = time.Now
	}
	if tty {
		return &bar{w: w, now: now}
	}
	return &lines{w: w, now: now}
}

// counters are shared by both renderings.
type counters struct {
	mu                   sync.Mutex
	total, done, running int
	failed               int
	started              time.Time
	finishedThisRun      int
	spend                float64
	spendSeen            bool
}

func (c *counters) Spend(usd float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spend, c.spendSeen = usd, c.spendSeen || usd > 0
}

// spent is ", spent $X" once an agent reported a cost.
func (c *counters) spent() string {
	if !c.spendSeen {
		return ""
	}
	return ", spent " + textx.USDCents(c.spend)
}

func (c *counters) eta(now time.Time) string {
	if c.finishedThisRun == 0 {
		return "?"
	}
	left := c.total - c.done
	per := now.Sub(c.started) / time.Duration(c.finishedThisRun)
	return (per * time.Duration(left)).Round(time.Second).String()
}

func failedStatus(s records.RolloutStatus) bool {
	return s != records.RolloutSuccess && s != records.RolloutNoPatch
}

// lines prints one line per event.
type lines struct {
	counters
	w   io.Writer
	now func() time.Time
}

func (l *lines) Start(runID string, total, done int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total, l.done, l.started = total, done, l.now()
	fmt.Fprintf(l.w, "run %s: %d item(s), %d already done\n", runID, total, done)
}

func (l *lines) Begin(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running++
	fmt.Fprintf(l.w, "[%d/%d] %s started (%d running)\n", l.done, l.total, id, l.running)
}

func (l *lines) End(id string, s records.RolloutStatus, reason string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running--
	l.done++
	l.finishedThisRun++
	if failedStatus(s) {
		l.failed++
	}
	msg := fmt.Sprintf("[%d/%d] %s %s in %s", l.done, l.total, id, s, d.Round(10*time.Millisecond))
	if reason != "" {
		msg += ": " + reason
	}
	fmt.Fprintf(l.w, "%s (elapsed %s, eta %s%s)\n", msg, l.now().Sub(l.started).Round(time.Second), l.eta(l.now()), l.spent())
}

func (l *lines) Skip(id, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done++
	fmt.Fprintf(l.w, "[%d/%d] %s skipped: %s\n", l.done, l.total, id, why)
}

func (l *lines) Close() {}

// bar draws one mpb bar with live counters.
type bar struct {
	counters
	w   io.Writer
	now func() time.Time
	p   *mpb.Progress
	b   *mpb.Bar
}

func (b *bar) Start(runID string, total, done int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total, b.done, b.started = total, done, b.now()
	b.p = mpb.New(mpb.WithOutput(b.w), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	b.b = b.p.AddBar(int64(total),
		mpb.PrependDecorators(decor.Name(runID+" "), decor.CountersNoUnit("%d/%d")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			b.mu.Lock()
			defer b.mu.Unlock()
			s := fmt.Sprintf(" running %d  failed %d  elapsed %s  eta %s",
				b.running, b.failed, b.now().Sub(b.started).Round(time.Second), b.eta(b.now()))
			if b.spendSeen {
				s += "  spent " + textx.USDCents(b.spend)
			}
			return s
		})),
	)
	b.b.SetCurrent(int64(done))
}

func (b *bar) Begin(string) {
	b.mu.Lock()
	b.running++
	b.mu.Unlock()
}

func (b *bar) End(id string, s records.RolloutStatus, reason string, d time.Duration) {
	b.mu.Lock()
	b.running--
	b.done++
	b.finishedThisRun++
	if failedStatus(s) {
		b.failed++
	}
	b.mu.Unlock()
	b.b.Increment()
	if failedStatus(s) {
		// Failures stay visible above the bar.
		msg := fmt.Sprintf("%s %s", id, s)
		if reason != "" {
			msg += ": " + reason
		}
		b.p.Write([]byte(msg + "\n"))
	}
}

func (b *bar) Skip(id, why string) {
	b.mu.Lock()
	b.done++
	b.mu.Unlock()
	b.b.Increment()
	b.p.Write([]byte(id + " skipped: " + why + "\n"))
}

func (b *bar) Close() {
	if b.p == nil {
		return
	}
	if !b.b.Completed() {
		b.b.Abort(false)
	}
	b.p.Wait()
}
