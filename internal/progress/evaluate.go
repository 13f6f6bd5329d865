package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Eval is evaluate's live bar on a terminal: items done/total, the item
// being timed with its round r/R, elapsed and ETA. It is also the
// evaluation's log writer: lines written to it appear above the bar (and
// before Start, directly).
type Eval struct {
	mu          sync.Mutex
	w           io.Writer
	now         func() time.Time
	p           *mpb.Progress
	b           *mpb.Bar
	total, done int
	finished    int // items finished by this process, for the ETA
	started     time.Time
	item        string
	round, of   int
}

// NewEval returns a bar drawing on w (a terminal).
func NewEval(w io.Writer, now func() time.Time) *Eval {
	if now == nil {
		now = time.Now
	}
	return &Eval{w: w, now: now}
}

// Start draws the bar: total items, done of them already (a resumed run
// continues from there).
func (e *Eval) Start(total, done int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.p != nil {
		return
	}
	e.total, e.done, e.started = total, done, e.now()
	e.p = mpb.New(mpb.WithOutput(e.w), mpb.WithWidth(30), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh())
	e.b = e.p.AddBar(int64(total),
		mpb.PrependDecorators(decor.Name("evaluate "), decor.CountersNoUnit("%d/%d")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return e.status() })))
	e.b.SetCurrent(int64(done))
}

// status is the text after the bar.
func (e *Eval) status() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := ""
	if e.item != "" {
		s = fmt.Sprintf(" %s round %d/%d ", e.item, e.round, e.of)
	}
	eta := "?"
	if e.finished > 0 {
		per := e.now().Sub(e.started) / time.Duration(e.finished)
		eta = (per * time.Duration(e.total-e.done)).Round(time.Second).String()
	}
	return s + fmt.Sprintf(" elapsed %s  eta %s", e.now().Sub(e.started).Round(time.Second), eta)
}

// Round says that item is in timed round r of rounds (warm-up included).
func (e *Eval) Round(item string, r, rounds int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.item, e.round, e.of = item, r, rounds
}

// Done counts one item as finished (whatever its result).
func (e *Eval) Done(string) {
	e.mu.Lock()
	e.done++
	e.finished++
	e.item = ""
	b := e.b
	e.mu.Unlock()
	if b != nil {
		b.Increment()
	}
}

// Write prints p above the bar once it is drawn.
func (e *Eval) Write(p []byte) (int, error) {
	e.mu.Lock()
	pr := e.p
	e.mu.Unlock()
	if pr == nil {
		return e.w.Write(p)
	}
	return pr.Write(p)
}

// Close removes nothing: it leaves the final state of the bar drawn.
func (e *Eval) Close() {
	e.mu.Lock()
	pr, b := e.p, e.b
	e.mu.Unlock()
	if pr == nil {
		return
	}
	if !b.Completed() {
		b.Abort(false)
	}
	pr.Wait()
}
