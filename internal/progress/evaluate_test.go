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
