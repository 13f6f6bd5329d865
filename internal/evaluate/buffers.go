package evaluate

import "sync"

// headBuffer keeps the first max bytes written to it (a workload's stdout,
// for the metric and the equivalence check) and counts the rest.
type headBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func (b *headBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += int64(len(p))
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *headBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf
}

func (b *headBuffer) Truncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total > int64(len(b.buf))
}

// tailBuffer keeps the last max bytes written to it (a command's output
// for eval.json, where the cause of a failure usually is).
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += int64(len(p))
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

// String returns the kept tail, starting at a UTF-8 boundary.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.buf
	if len(out) > b.max {
		out = out[len(out)-b.max:]
	}
	for i := 0; i < 3 && len(out) > 0 && out[0]&0xC0 == 0x80; i++ {
		out = out[1:]
	}
	return string(out)
}

func (b *tailBuffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}
