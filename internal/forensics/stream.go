package forensics

import (
	"bytes"
	"slices"
	"sync"

	"github.com/perfbench/perfbench/internal/records"
)

// Bounds of a LineScanner.
const (
	// MaxStreamLine is how much of one line is scanned: the start of a
	// longer line (where a shell prompt puts the command) is, its rest
	// is not held.
	MaxStreamLine = 64 << 10
	// MaxStreamAttempts is how many findings one stream keeps (the first).
	MaxStreamAttempts = 100
)

// LineScanner applies the raw-log rule (LineSteps, then the leak rules)
// to a log while it is written: the file keeps only its tail, so an agent
// that floods its output after an attempt would erase the evidence from
// what the fallback reads after the rollout. Write it the log's bytes as
// they are captured (scrubbed: the findings quote them), then Close it;
// Attempts are the findings. It is safe for concurrent use, and never
// fails a Write.
type LineScanner struct {
	source string
	m      *matcher

	mu     sync.Mutex
	line   []byte // the current line's first MaxStreamLine bytes
	n      int    // the current line's number (1-based)
	found  []records.LeakAttempt
	closed bool
}

// NewLineScanner returns a scanner of the log named source (its file
// name, as the raw-log fallback names it) for the task's context.
func NewLineScanner(source string, c LeakContext) *LineScanner {
	return &LineScanner{source: source, m: newMatcher(c), n: 1}
}

// Write scans every line p completes and holds the start of the last.
func (ls *LineScanner) Write(p []byte) (int, error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return len(p), nil
	}
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		chunk := rest
		if i >= 0 {
			chunk = rest[:i]
		}
		ls.hold(chunk)
		if i < 0 {
			break
		}
		ls.endLine()
		rest = rest[i+1:]
	}
	return len(p), nil
}

// hold appends to the current line what fits in MaxStreamLine.
func (ls *LineScanner) hold(b []byte) {
	if room := MaxStreamLine - len(ls.line); len(b) > room {
		b = b[:room]
	}
	ls.line = append(ls.line, b...)
}

// endLine scans the current line and starts the next.
func (ls *LineScanner) endLine() {
	if len(ls.found) < MaxStreamAttempts {
		if steps := LineSteps(nil, ls.source, ls.n, ls.line); len(steps) > 0 {
			ls.found = ls.m.scan(ls.found, steps, MaxStreamAttempts)
		}
	}
	ls.n++
	ls.line = ls.line[:0]
}

// Close scans the last line when the log did not end with a newline.
func (ls *LineScanner) Close() error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if !ls.closed && len(ls.line) > 0 {
		ls.endLine()
	}
	ls.closed = true
	return nil
}

// Attempts returns the findings so far, in line order (at most
// MaxStreamAttempts).
func (ls *LineScanner) Attempts() []records.LeakAttempt {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return slices.Clone(ls.found)
}
