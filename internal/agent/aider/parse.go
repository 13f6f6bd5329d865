package aider

import (
	"bufio"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Usage sources.
const (
	SourceStdout    = "aider usage reports"
	SourceAnalytics = "aider analytics log"
)

// maxWrapped is how many lines a wrapped usage report may span.
const maxWrapped = 4

// maxErrorsKept bounds the LLM errors kept for the journal.
const maxErrorsKept = 5

var (
	// Tokens: 2.4k sent, 1.1k cache write, 12k cache hit, 312 received.
	tokensRE = regexp.MustCompile(`^Tokens: ([0-9.]+[kKmMbB]?) sent(?:, ([0-9.]+[kKmMbB]?) cache write)?(?:, ([0-9.]+[kKmMbB]?) cache hit)?, ([0-9.]+[kKmMbB]?) received\.`)
	// Cost: $0.01 message, $0.03 session.
	costRE     = regexp.MustCompile(`^Cost: \$([0-9.]+) message, \$([0-9.]+) session\.`)
	versionRE  = regexp.MustCompile(`^Aider v(\S+)`)
	modelRE    = regexp.MustCompile(`^(?:Main model|Model): (\S+)`)
	litellmRE  = regexp.MustCompile(`^litellm\.(?:exceptions\.)?([A-Za-z]+):`)
	reflectsRE = regexp.MustCompile(`^Only \d+ reflections allowed`)
)

// friendly are the explanations aider prints after a LiteLLM error
// (aider/exceptions.py).
var friendly = []struct {
	text string
	kind agent.InfraKind
}{
	{"The API provider is not able to authenticate you", agent.InfraAuth},
	{"Permission was denied. Check your API key", agent.InfraAuth},
	{"The API provider has rate limited you", agent.InfraRateLimit},
	{"The API provider's servers are down or overloaded", agent.InfraProviderUnavailable},
}

// infraKind classifies a LiteLLM exception aider printed; ok is false for
// errors that are the agent's (bad request, context window, ...).
func infraKind(name, line string) (agent.InfraKind, bool) {
	switch name {
	case "AuthenticationError", "PermissionDeniedError":
		return agent.InfraAuth, true
	case "RateLimitError", "RouterRateLimitError":
		return agent.InfraRateLimit, true
	case "NotFoundError":
		return agent.InfraModelNotFound, true
	case "InternalServerError", "ServiceUnavailableError", "BadGatewayError":
		if c := agent.Classify(line); c != nil {
			return c.Kind, true
		}
		return agent.InfraProviderUnavailable, true
	case "APIConnectionError", "Timeout", "APIError":
		if c := agent.Classify(line); c != nil {
			return c.Kind, true
		}
		return agent.InfraOther, true
	case "BadRequestError":
		// litellm cannot tell which provider serves the model.
		if strings.Contains(line, "LLM Provider NOT provided") {
			return agent.InfraModelNotFound, true
		}
	}
	return "", false
}

// Summary is what aider's output said.
type Summary struct {
	// Usage is cumulative: the last session cost, the summed tokens, and
	// one turn per usage report.
	Usage records.Usage
	// Version and Model are from aider's banner.
	Version, Model string
	// Errors are the first LLM errors printed (unscrubbed).
	Errors []string
	// LastError is the LLM error no later usage report superseded: the
	// one the run ended on (Msg unscrubbed).
	LastError *agent.InfraError
	// Reflections is true when aider gave up after its reflection limit.
	Reflections bool
}

// Stream parses aider's stdout line by line (see agent.LineWriter).
type Stream struct {
	price  func(records.Usage) records.Usage
	report func(records.Usage)

	mu      sync.Mutex
	pending []string // a usage report wrapped over several lines
	sum     Summary
	// The printed numbers, summed (tokens) or the latest (session cost),
	// and lower bounds of the true ones (the printed ones are rounded).
	printed, lower counts
	hasCost        bool
}

// counts are tokens and cost.
type counts struct {
	sent, write, hit, recv int64
	cost                   float64
}

// NewStream returns a parser. price (may be nil) completes the usage
// (prices tokens when aider printed no cost); report (may be nil) receives
// the cumulative usage after every usage report.
func NewStream(price func(records.Usage) records.Usage, report func(records.Usage)) *Stream {
	return &Stream{price: price, report: report}
}

type parsed int

const (
	notReport parsed = iota
	incomplete
	complete
)

// Line parses one line of output.
func (s *Stream) Line(b []byte) {
	text := agent.CleanLine(b)
	s.mu.Lock()
	changed := s.line(text)
	var u records.Usage
	if changed {
		u = s.usageLocked(true)
	}
	s.mu.Unlock()
	if changed && s.report != nil {
		s.report(u)
	}
}

func (s *Stream) line(text string) bool {
	if len(s.pending) > 0 {
		lines := append(s.pending, text)
		s.pending = nil
		switch s.parseReport(strings.Join(lines, " ")) {
		case complete:
			return true
		case incomplete:
			if len(lines) < maxWrapped {
				s.pending = lines
				return false
			}
		}
		// Not a wrapped report after all: the other lines stand alone.
		changed := false
		for _, l := range lines[1:] {
			if s.single(l) {
				changed = true
			}
		}
		return changed
	}
	return s.single(text)
}

func (s *Stream) single(text string) bool {
	switch s.parseReport(text) {
	case complete:
		return true
	case incomplete:
		s.pending = []string{text}
		return false
	}
	s.other(text)
	return false
}

// parseReport applies a "Tokens: ..." or "Cost: ..." report.
func (s *Stream) parseReport(text string) parsed {
	switch {
	case strings.HasPrefix(text, "Tokens: "):
		m := tokensRE.FindStringSubmatch(text)
		if m == nil {
			if !strings.Contains(text, "received") && len(text) < 300 {
				return incomplete
			}
			return notReport
		}
		var v, lo [4]int64
		for i, g := range m[1:] {
			if g == "" {
				continue
			}
			n, slack, ok := parseTokens(g)
			if !ok {
				return notReport
			}
			v[i], lo[i] = n, max(0, n-slack)
		}
		s.printed.add(v)
		s.lower.add(lo)
		s.sum.Usage.Turns++
		// A call went through: an earlier error did not end the run.
		s.sum.LastError = nil
		if i := strings.Index(text[len(m[0]):], "Cost: "); i >= 0 {
			rest := text[len(m[0])+i:]
			if s.parseCost(rest) == incomplete {
				s.pending = []string{rest}
			}
		}
		return complete
	case strings.HasPrefix(text, "Cost: "):
		return s.parseCost(text)
	}
	return notReport
}

func (s *Stream) parseCost(text string) parsed {
	m := costRE.FindStringSubmatch(text)
	if m == nil {
		if !strings.Contains(text, "session") && len(text) < 200 {
			return incomplete
		}
		return notReport
	}
	v, err := strconv.ParseFloat(m[2], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e12 {
		return notReport
	}
	s.printed.cost = math.Max(s.printed.cost, v)
	s.lower.cost = math.Max(s.lower.cost, v-roundingSlack(m[2]))
	s.hasCost = true
	return complete
}

func (c *counts) add(v [4]int64) {
	c.sent += v[0]
	c.write += v[1]
	c.hit += v[2]
	c.recv += v[3]
}

// roundingSlack is half a unit of the last decimal printed: how far the
// true value may be from the printed one ("0.03": 0.005), plus a little
// for floating point.
func roundingSlack(printed string) float64 {
	d := 0
	if i := strings.IndexByte(printed, '.'); i >= 0 {
		d = len(printed) - i - 1
	}
	return 0.5*math.Pow10(-d) + 1e-9
}

// parseTokens reads aider's token counts: "312", "2.4k", "12k" (and "1.2M"
// of derived tools), and how far the true count may be from it.
func parseTokens(s string) (n, slack int64, ok bool) {
	mult := 1.0
	switch s[len(s)-1] {
	case 'k', 'K':
		mult, s = 1e3, s[:len(s)-1]
	case 'm', 'M':
		mult, s = 1e6, s[:len(s)-1]
	case 'b', 'B':
		mult, s = 1e9, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v*mult > 1e15 {
		return 0, 0, false
	}
	if mult > 1 {
		d := 0
		if i := strings.IndexByte(s, '.'); i >= 0 {
			d = len(s) - i - 1
		}
		slack = int64(math.Round(0.5 * math.Pow10(-d) * mult))
	}
	return int64(math.Round(v * mult)), slack, true
}

// other looks at a line that is no usage report: banner, errors.
func (s *Stream) other(text string) {
	if text == "" {
		return
	}
	if s.sum.Version == "" {
		if m := versionRE.FindStringSubmatch(text); m != nil {
			s.sum.Version = m[1]
			return
		}
	}
	if s.sum.Model == "" {
		if m := modelRE.FindStringSubmatch(text); m != nil {
			s.sum.Model = m[1]
			return
		}
	}
	if reflectsRE.MatchString(text) {
		s.sum.Reflections = true
		return
	}
	if m := litellmRE.FindStringSubmatch(text); m != nil {
		s.keepError(text)
		if kind, ok := infraKind(m[1], text); ok {
			s.sum.LastError = &agent.InfraError{Kind: kind, Msg: textx.Truncate(strings.TrimSpace(text), 300)}
		}
		return
	}
	for _, f := range friendly {
		if strings.HasPrefix(text, f.text) {
			s.keepError(text)
			if s.sum.LastError == nil {
				s.sum.LastError = &agent.InfraError{Kind: f.kind, Msg: textx.Truncate(strings.TrimSpace(text), 300)}
			}
			return
		}
	}
}

func (s *Stream) keepError(text string) {
	if len(s.sum.Errors) < maxErrorsKept {
		s.sum.Errors = append(s.sum.Errors, textx.Truncate(strings.TrimSpace(text), 300))
	}
}

// usageLocked is the usage as printed, or (lower) a lower bound of the
// true one: what the harness is told while aider runs, so that the exact
// totals read afterwards are never below what it was told.
func (s *Stream) usageLocked(lower bool) records.Usage {
	c := s.printed
	if lower {
		c = s.lower
	}
	u := records.Usage{
		CostUSD: max(0, c.cost), InputTokens: c.sent, OutputTokens: c.recv,
		CacheReadTokens: c.hit, CacheWriteTokens: c.write,
		Turns: s.sum.Usage.Turns,
	}
	if u.Turns > 0 || s.hasCost {
		u.Source = SourceStdout
	}
	if s.price != nil {
		u = s.price(u)
	}
	return u
}

// Summary returns what the stream said so far (an unfinished report is
// ignored).
func (s *Stream) Summary() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.sum
	sum.Usage = s.usageLocked(false)
	sum.Errors = append([]string(nil), s.sum.Errors...)
	if s.sum.LastError != nil {
		e := *s.sum.LastError
		sum.LastError = &e
	}
	return sum
}

// Analytics is what aider's analytics log (--analytics-log) says: one
// message_send event per usage report, with exact numbers.
type Analytics struct {
	Messages         int
	PromptTokens     int64
	CompletionTokens int64
	TotalCost        float64
}

// ReadAnalytics reads an analytics log (JSON lines); unreadable lines (the
// last one of a killed run) are skipped. The log is in the agent's output
// folder: a link or FIFO there is not followed or opened.
func ReadAnalytics(path string) (Analytics, error) {
	var a Analytics
	f, err := fsx.OpenNoFollow(path)
	if err != nil {
		return a, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var ev struct {
			Event      string         `json:"event"`
			Properties map[string]any `json:"properties"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Event != "message_send" {
			continue
		}
		a.Messages++
		a.PromptTokens += int64(num(ev.Properties["prompt_tokens"]))
		a.CompletionTokens += int64(num(ev.Properties["completion_tokens"]))
		a.TotalCost = math.Max(a.TotalCost, num(ev.Properties["total_cost"]))
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return a, err
	}
	return a, nil
}

// num reads a non-negative finite JSON number; anything else is 0.
func num(v any) float64 {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e15 {
		return 0
	}
	return f
}
