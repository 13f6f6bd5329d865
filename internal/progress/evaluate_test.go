package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestEvalBar: a resumed evaluation's bar continues from the items done,
// shows the item in progress with its round, and keeps log lines above it.
func TestEvalBar(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	e := NewEval(&buf, func() time.Time { return clock })
	e.Write([]byte("before the bar\n"))
	e.Start(4, 1)
	e.Round("demo-0001", 7, 22)
	if s := e.status(); !strings.Contains(s, "demo-0001 round 7/22") || !strings.Contains(s, "eta ?") {
		t.Errorf("status %q", s)
	}
	clock = clock.Add(10 * time.Second)
	e.Done("demo-0001")
	e.Write([]byte("[2/4] demo-0001 success\n"))
	if s := e.status(); strings.Contains(s, "round") || !strings.Contains(s, "eta 20s") {
		t.Errorf("status after one item in 10s with 2 left: %q", s)
	}
	e.Close()
	out := buf.String()
	for _, want := range []string{"before the bar\n", "[2/4] demo-0001 success", "evaluate 2/4"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%q", want, out)
		}
	}
}

// TestEvalETARounds: the ETA counts rounds: from the first measured round
// the item in progress has its rounds left and each item not started one
// untimed part and R rounds; a resumed run's done items are not counted
// again.
func TestEvalETARounds(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	e := NewEval(&buf, func() time.Time { return clock })
	defer e.Close()
	// 4 items, 1 done before this process: 3 left.
	e.Start(4, 1)
	e.Begin("a")
	clock = clock.Add(4 * time.Second) // a's untimed part
	e.Round("a", 1, 10)
	if s := e.status(); !strings.Contains(s, "a round 1/10") || !strings.Contains(s, "eta ?") {
		t.Errorf("no round measured yet: %q", s)
	}
	clock = clock.Add(2 * time.Second)
	e.Round("a", 2, 10)
	// a: 9 rounds of 2s left = 18s; 2 items waiting, each a's untimed
	// part (4s) + 10 rounds of 2s.
	if s := e.status(); !strings.Contains(s, "eta 1m6s") {
		t.Errorf("after one round of 2s: %q, want eta 1m6s", s)
	}
	for r := 3; r <= 10; r++ {
		clock = clock.Add(2 * time.Second)
		e.Round("a", r, 10)
	}
	clock = clock.Add(2 * time.Second)
	e.Done("a")
	// a took 24s (4s untimed + 10 x 2s): 2 items left of 24s each.
	if s := e.status(); strings.Contains(s, "round") || !strings.Contains(s, "eta 48s") {
		t.Errorf("after a: %q, want eta 48s", s)
	}
	e.Begin("b")
	clock = clock.Add(1 * time.Second)
	// b: an item (24s) less 1s; 1 waiting: 25s elapsed / 1 finished.
	if s := e.status(); !strings.Contains(s, "eta 48s") {
		t.Errorf("1s into b's setup: %q, want eta 48s", s)
	}
}
