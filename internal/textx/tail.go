package textx

import "sync"

// Tail is an io.Writer that keeps the last bytes written to it and counts
// them all: a command's output, where the cause of a failure usually is,
// without holding all of it. It is safe for concurrent writers (a command's
// stdout and stderr).
type Tail struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

// NewTail keeps the last max bytes.
func NewTail(max int) *Tail { return &Tail{max: max} }

// Write keeps p's end; it never fails.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(len(p))
	t.buf = append(t.buf, p...)
	// Trimmed only past twice the bound, so that many small writes copy
	// the kept bytes once per max bytes written, not once per write.
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// String returns the kept tail, at most max bytes, starting at a UTF-8
// boundary (a cut rune's continuation bytes are dropped).
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.buf
	if len(out) > t.max {
		out = out[len(out)-t.max:]
	}
	for i := 0; i < 3 && len(out) > 0 && out[0]&0xC0 == 0x80; i++ {
		out = out[1:]
	}
	return string(out)
}

// Total is the number of bytes written, kept or not.
func (t *Tail) Total() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}
