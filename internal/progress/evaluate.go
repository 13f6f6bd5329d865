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
//
// The ETA counts rounds, not only items: an item is its untimed part
// (workspaces, setup, correctness: the mean of those measured) plus R
// rounds of the mean measured round duration, and the item being timed
// has its rounds left. So it is known from the second round of the first
// item, and an item with more candidates (longer rounds) moves it at once.
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
	// items are those in progress; rounds and roundTime the rounds
	// measured (their count and total); untimed and untimedTime the
	// untimed parts of finished items.
	items                  map[string]*evalItem
	rounds, untimed        int
	roundTime, untimedTime time.Duration
}

// evalItem is an item in progress.
type evalItem struct {
	start, firstRound, roundStart time.Time
	round, of                     int
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
	e.items = map[string]*evalItem{}
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
	if d, ok := e.eta(e.now()); ok {
		eta = d.Round(time.Second).String()
	}
	return s + fmt.Sprintf(" elapsed %s  eta %s", e.now().Sub(e.started).Round(time.Second), eta)
}

// eta estimates the time left (mu held); ok is false before anything was
// measured. The items in progress have their rounds left (or, before
// their rounds, a whole item less what they did); the items waiting take
// what the finished ones took (elapsed / finished, so overlapping setups
// count once), or before any finished one untimed part plus R rounds.
func (e *Eval) eta(now time.Time) (time.Duration, bool) {
	left := e.total - e.done
	if left <= 0 {
		return 0, true
	}
	var per time.Duration
	if e.finished > 0 {
		per = now.Sub(e.started) / time.Duration(e.finished)
	}
	if e.rounds == 0 {
		// No round measured yet (or items that failed before timing).
		return per * time.Duration(left), e.finished > 0
	}
	round := e.roundTime / time.Duration(e.rounds)
	var untimed time.Duration
	of := e.of
	if e.untimed > 0 {
		untimed = e.untimedTime / time.Duration(e.untimed)
	} else {
		n := 0
		for _, it := range e.items {
			if it.round > 0 {
				untimed += it.firstRound.Sub(it.start)
				n++
			}
		}
		if n > 0 {
			untimed /= time.Duration(n)
		}
	}
	item := untimed + time.Duration(of)*round
	if e.finished == 0 {
		per = item
	}
	var sum time.Duration
	for _, it := range e.items {
		var rest time.Duration
		if it.round > 0 {
			rest = time.Duration(it.of-it.round+1)*round - now.Sub(it.roundStart)
		} else {
			rest = item - now.Sub(it.start)
		}
		sum += max(rest, 0)
	}
	waiting := max(left-len(e.items), 0)
	return sum + time.Duration(waiting)*per, true
}

// begin returns the item in progress, started now if new (mu held).
func (e *Eval) begin(name string, now time.Time) *evalItem {
	if e.items == nil {
		e.items = map[string]*evalItem{}
	}
	it := e.items[name]
	if it == nil {
		it = &evalItem{start: now}
		e.items[name] = it
	}
	return it
}

// Begin says that an item's work started (its workspaces, setup and
// correctness come before the rounds); an item first seen at Round
// started then.
func (e *Eval) Begin(item string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.begin(item, e.now())
}

// Round says that item is in timed round r of rounds (warm-up included).
func (e *Eval) Round(item string, r, rounds int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	it := e.begin(item, now)
	if it.round > 0 && r > it.round {
		e.rounds++
		e.roundTime += now.Sub(it.roundStart)
	}
	if it.round == 0 {
		it.firstRound = now
	}
	it.round, it.of, it.roundStart = r, rounds, now
	e.item, e.round, e.of = item, r, rounds
}

// Done counts one item as finished (whatever its result).
func (e *Eval) Done(item string) {
	e.mu.Lock()
	now := e.now()
	if it := e.items[item]; it != nil {
		if it.round > 0 {
			e.rounds++
			e.roundTime += now.Sub(it.roundStart)
			e.untimed++
			e.untimedTime += it.firstRound.Sub(it.start)
		}
		delete(e.items, item)
	}
	e.done++
	e.finished++
	if e.item == item {
		e.item = ""
	}
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
