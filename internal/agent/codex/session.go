package codex

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/fsx"
)

// sessionTail follows Codex's session log while Codex runs. Codex writes
// one JSON line per rollout item to
// $CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl,
// including a token_count event after every model response; exec --json
// reports usage only when the turn completes, so this is where the spend
// of a running (or killed) Codex is read.
//
// It is used from one goroutine at a time.
type sessionTail struct {
	// root is $CODEX_HOME/sessions; base the rollout's private directory
	// above it, below which no link is followed on the way to root.
	root, base string
	// private: CODEX_HOME is the rollout's own, so any session log in it
	// is this run's; otherwise only the log named after the thread id is.
	private  bool
	threadID func() string
	fn       func(line []byte)

	path  string
	f     *os.File
	chunk []byte
	// lines splits what is read into lines for fn (over-long ones are
	// skipped).
	lines *agent.LineWriter
}

// find looks for the session log inside root (an os.Root: a link the
// agent put there never leads the harness out of it) and opens it.
func (t *sessionTail) find() {
	id := t.threadID()
	if id == "" && !t.private {
		return
	}
	root, err := fsx.OpenRootUnder(t.base, t.root)
	if err != nil {
		return
	}
	defer root.Close()
	var best string
	var bestMod time.Time
	fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			// sessions/YYYY/MM/DD: three levels.
			if strings.Count(p, "/") >= 3 {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if !d.Type().IsRegular() || !strings.HasPrefix(name, "rollout-") || !strings.HasSuffix(name, ".jsonl") {
			return nil
		}
		if id != "" && !strings.Contains(name, id) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if best == "" || info.ModTime().After(bestMod) {
			best, bestMod = p, info.ModTime()
		}
		return nil
	})
	if best == "" {
		return
	}
	f, err := fsx.OpenFileIn(root, best)
	if err != nil {
		return
	}
	t.path, t.f = filepath.Join(t.root, filepath.FromSlash(best)), f
}

// poll reads what Codex appended since the last call.
func (t *sessionTail) poll() {
	if t.f == nil {
		t.find()
		if t.f == nil {
			return
		}
	}
	if t.chunk == nil {
		t.chunk = make([]byte, 64<<10)
		t.lines = &agent.LineWriter{W: io.Discard, Fn: t.fn}
	}
	for {
		n, err := t.f.Read(t.chunk)
		if n > 0 {
			t.lines.Write(t.chunk[:n])
		}
		if err != nil || n == 0 {
			return
		}
	}
}

// finish reads the rest of the log, including a last line without its
// newline, and closes it. It returns the log's path ("" when none was
// found).
func (t *sessionTail) finish() string {
	t.poll()
	if t.lines != nil {
		t.lines.Close()
	}
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
	return t.path
}
