package agent

import (
	"bytes"
	"io"
	"strings"
	"sync"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
)

// ReportUsage tells the harness the agent's cumulative usage so far. The
// harness records the latest value (it becomes the journal's usage, marked
// partial, when the agent is stopped before it reports final totals), shows
// the spend on the progress line and enforces max_budget_usd and
// max_total_budget_usd: when a cap is reached it cancels the context given
// to Adapter.Run, and the item ends as budget_exceeded. Adapters call it
// from their stream parsers; it is safe for concurrent use.
func (r *Rollout) ReportUsage(u records.Usage) {
	if r.Observe != nil {
		r.Observe(u)
	}
}

// LineWriter passes every byte to W unchanged and calls Fn with each
// complete line (without its newline) as it arrives, so that adapters can
// parse an agent's stream (stream-json, JSONL, cost lines) while it runs.
// Lines longer than 16 MiB are passed through but not parsed. Close calls
// Fn with a final unterminated line. Safe for concurrent writes.
type LineWriter struct {
	W  io.Writer
	Fn func(line []byte)

	mu   sync.Mutex
	buf  []byte
	skip bool // inside an over-long line
}

const maxParsedLine = 16 << 20

func (l *LineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.W.Write(p)
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if !l.skip {
				l.buf = append(l.buf, rest...)
				if len(l.buf) > maxParsedLine {
					l.buf, l.skip = l.buf[:0], true
				}
			}
			break
		}
		if !l.skip {
			l.buf = append(l.buf, rest[:i]...)
			l.Fn(bytes.TrimSuffix(l.buf, []byte{'\r'}))
		}
		l.buf, l.skip = l.buf[:0], false
		rest = rest[i+1:]
	}
	return n, err
}

// Close parses a final unterminated line.
func (l *LineWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 && !l.skip {
		l.Fn(l.buf)
	}
	l.buf = nil
	return nil
}

// PriceUsage prices token counts with bench.yaml's prices: table (USD per
// million tokens), for agents that report tokens but no cost. The model is
// looked up as given, then without a provider prefix ("openai/gpt-5" →
// "gpt-5"). Cached input tokens are priced at cached_input when set, and
// cache writes at Price.CacheWriteRate (both are counted inside
// InputTokens, as every adapter reports them).
func PriceUsage(b *config.Bench, model string, u records.Usage) (float64, bool) {
	if b == nil || len(b.Prices) == 0 {
		return 0, false
	}
	p, ok := b.Prices[model]
	if !ok {
		if i := strings.LastIndex(model, "/"); i >= 0 {
			p, ok = b.Prices[model[i+1:]]
		}
	}
	if !ok {
		return 0, false
	}
	in := float64(u.InputTokens)
	cached := float64(u.CacheReadTokens)
	if p.CachedInput > 0 && cached > 0 && cached <= in {
		in -= cached
	} else {
		cached = 0
	}
	write := min(float64(max(u.CacheWriteTokens, 0)), in)
	in -= write
	cost := (in*p.Input + cached*p.CachedInput + write*p.CacheWriteRate(model) + float64(u.OutputTokens)*p.Output) / 1e6
	return cost, true
}
