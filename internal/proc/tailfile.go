package proc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/renameio/v2"
)

// LogStats describes a capped log file, for the journal.
type LogStats struct {
	Path string `json:"path"`
	// Bytes is everything written; Kept what the file holds (without the
	// header line); Dropped = Bytes - Kept, the oldest bytes.
	Bytes   int64 `json:"bytes"`
	Kept    int64 `json:"kept"`
	Dropped int64 `json:"dropped"`
	// Cap is the limit; 0 means none.
	Cap       int64 `json:"cap"`
	Truncated bool  `json:"truncated"`
}

// TailFile is an io.WriteCloser writing a log file of at most Cap bytes
// that keeps the tail, where the cause of a failure usually is.
//
// During the run the file holds up to 2*Cap bytes and is appended to, so
// it can be watched live; past that it is compacted to its last Cap bytes
// by writing a temp file and renaming it over the log, so a crash at any
// instant leaves a readable file. A rename gives the path a new inode:
// watch it with `tail -F` (by name), not `tail -f`. Close leaves at most
// Cap bytes, preceded, when anything was dropped, by the line
//
//	[perfbench: N earlier bytes dropped, cap C bytes]
//
// The cut never splits a UTF-8 sequence, so Kept may be up to 3 bytes
// below Cap. Write is safe for concurrent use.
type TailFile struct {
	mu        sync.Mutex
	path      string
	cap       int64
	f         *os.File
	headerLen int64 // bytes of the header line at the start of the file
	data      int64 // bytes after the header
	total     int64
	dropped   int64
	closed    bool
	err       error // sticky: a log that failed once is not trusted again
	observer  io.Writer
}

// Observe makes every byte written to the log also go to w, in order and
// before the cap drops any (call it before the first Write): the file
// keeps only the tail, so what must see the whole output, such as a scan
// for evidence that flooding would push out, watches it here. w's errors
// are ignored, and Close closes w when it is an io.Closer.
func (t *TailFile) Observe(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observer = w
}

// NewTailFile creates (or truncates) the log file at path, creating its
// directory. cap <= 0 means no cap: everything is kept.
func NewTailFile(path string, cap int64) (*TailFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", path, err)
	}
	if cap < 0 {
		cap = 0
	}
	return &TailFile{path: path, cap: cap, f: f}, nil
}

// Write appends p, compacting the file when it would exceed 2*Cap. It
// always consumes all of p unless the file cannot be written.
func (t *TailFile) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, fmt.Errorf("write log %s: %w", t.path, os.ErrClosed)
	}
	if t.err != nil {
		return 0, t.err
	}
	if t.observer != nil {
		_, _ = t.observer.Write(p)
	}
	if t.cap == 0 || t.data+int64(len(p)) <= 2*t.cap {
		n, err := t.f.Write(p)
		t.data += int64(n)
		t.total += int64(n)
		if err != nil {
			t.err = fmt.Errorf("write log %s: %w", t.path, err)
			return n, t.err
		}
		return n, nil
	}
	if err := t.compact(p); err != nil {
		t.err = err
		return 0, err
	}
	return len(p), nil
}

// compact replaces the file with the header and the last Cap bytes of the
// file's data followed by p.
func (t *TailFile) compact(p []byte) error {
	combined := t.data + int64(len(p))
	start := combined - t.cap // first kept byte, in data-then-p coordinates
	byteAt := func(i int64) byte {
		if i < t.data {
			var b [1]byte
			if _, err := t.f.ReadAt(b[:], t.headerLen+i); err != nil {
				return 0 // treated as a rune start; only alignment suffers
			}
			return b[0]
		}
		return p[i-t.data]
	}
	// Do not start in the middle of a UTF-8 sequence (at most 3
	// continuation bytes follow a leading byte).
	for k := 0; k < 3 && start < combined && byteAt(start)&0xC0 == 0x80; k++ {
		start++
	}
	dropped := t.total + int64(len(p)) - (combined - start)

	pf, err := renameio.NewPendingFile(t.path, renameio.WithTempDir(filepath.Dir(t.path)), renameio.WithPermissions(0o644))
	if err != nil {
		return fmt.Errorf("compact log %s: %w", t.path, err)
	}
	defer pf.Cleanup()
	header := fmt.Sprintf("[perfbench: %d earlier bytes dropped, cap %d bytes]\n", dropped, t.cap)
	if _, err := io.WriteString(pf, header); err != nil {
		return fmt.Errorf("compact log %s: %w", t.path, err)
	}
	if start < t.data {
		sr := io.NewSectionReader(t.f, t.headerLen+start, t.data-start)
		if _, err := io.Copy(pf, sr); err != nil {
			return fmt.Errorf("compact log %s: %w", t.path, err)
		}
		if _, err := pf.Write(p); err != nil {
			return fmt.Errorf("compact log %s: %w", t.path, err)
		}
	} else if _, err := pf.Write(p[start-t.data:]); err != nil {
		return fmt.Errorf("compact log %s: %w", t.path, err)
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("compact log %s: %w", t.path, err)
	}
	nf, err := os.OpenFile(t.path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("compact log %s: %w", t.path, err)
	}
	t.f.Close()
	t.f = nf
	t.headerLen = int64(len(header))
	t.data = combined - start
	t.total += int64(len(p))
	t.dropped = dropped
	return nil
}

// Close compacts the file to at most Cap bytes (plus the header line) and
// closes it. Closing twice is a no-op.
func (t *TailFile) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if t.err == nil && t.cap > 0 && t.data > t.cap {
		if err := t.compact(nil); err != nil {
			errs = append(errs, err)
		}
	}
	if c, ok := t.observer.(io.Closer); ok {
		_ = c.Close()
	}
	if err := t.f.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("close log %s: %w", t.path, err))
	}
	if err := t.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close log %s: %w", t.path, err))
	}
	return errors.Join(errs...)
}

// Stats reports what was written and what the file keeps.
func (t *TailFile) Stats() LogStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return LogStats{
		Path:      t.path,
		Bytes:     t.total,
		Kept:      t.data,
		Dropped:   t.dropped,
		Cap:       t.cap,
		Truncated: t.dropped > 0,
	}
}
