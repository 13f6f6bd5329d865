package miniswe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Usage sources.
const (
	SourceTrajectory = "mini trajectory"
	SourceStdout     = "mini step lines"
	// SourceTrajectoryAndStdout: the trajectory's tokens, the cost and
	// steps of a step line printed after it was last saved.
	SourceTrajectoryAndStdout = SourceTrajectory + " + step lines"
)

// Exit statuses of mini's own flow (the others are exception names).
const (
	ExitSubmitted      = "Submitted"
	ExitLimitsExceeded = "LimitsExceeded"
)

// num is a JSON number that tolerates anything else (as 0).
type num float64

func (n *num) UnmarshalJSON(b []byte) error {
	var f float64
	if json.Unmarshal(b, &f) == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && f >= 0 && f <= 1e15 {
		*n = num(f)
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && f >= 0 && f <= 1e15 {
			*n = num(f)
			return nil
		}
	}
	*n = 0
	return nil
}

// str is a JSON string that tolerates anything else (as "").
type str string

func (s *str) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		*s = str(v)
	} else {
		*s = ""
	}
	return nil
}

// Trajectory is the part of mini's trajectory file (-o) perfbench reads.
type Trajectory struct {
	Info struct {
		ModelStats struct {
			InstanceCost num `json:"instance_cost"`
			APICalls     num `json:"api_calls"`
		} `json:"model_stats"`
		ExitStatus  str `json:"exit_status"`
		Submission  str `json:"submission"`
		MiniVersion str `json:"mini_version"`
		Config      struct {
			Agent struct {
				StepLimit *num `json:"step_limit"`
				CostLimit *num `json:"cost_limit"`
			} `json:"agent"`
		} `json:"config"`
	} `json:"info"`
	Messages []json.RawMessage `json:"messages"`
	Format   str               `json:"trajectory_format"`

	// Filled by ReadTrajectory from the messages.
	usage     records.Usage
	responses int
	exitMsg   *messageExtra
}

type messageExtra struct {
	Response *struct {
		Usage *struct {
			PromptTokens        num `json:"prompt_tokens"`
			CompletionTokens    num `json:"completion_tokens"`
			PromptTokensDetails *struct {
				CachedTokens num `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
			CacheReadInputTokens     num `json:"cache_read_input_tokens"`
			CacheCreationInputTokens num `json:"cache_creation_input_tokens"`
		} `json:"usage"`
	} `json:"response"`
	Cost         *num `json:"cost"`
	ExitStatus   str  `json:"exit_status"`
	ExceptionStr str  `json:"exception_str"`
	Submission   str  `json:"submission"`
}

// ReadTrajectory reads a trajectory file (the agent's: a link or FIFO
// there is not followed or opened).
func ReadTrajectory(path string) (*Trajectory, error) {
	data, err := agent.ReadAgentFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTrajectory(data)
}

// ParseTrajectory parses a trajectory: mini 2's (trajectory_format
// mini-swe-agent-1.1, written after every step) or mini 1's (written at
// the end).
func ParseTrajectory(data []byte) (*Trajectory, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("trajectory: empty")
	}
	var t Trajectory
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("trajectory: %w", err)
	}
	var costs float64
	for _, raw := range t.Messages {
		var m struct {
			Role  str             `json:"role"`
			Extra json.RawMessage `json:"extra"`
		}
		if json.Unmarshal(raw, &m) != nil || len(m.Extra) == 0 {
			continue
		}
		var x messageExtra
		if json.Unmarshal(m.Extra, &x) != nil {
			continue
		}
		if x.Response != nil && x.Response.Usage != nil {
			u := x.Response.Usage
			t.responses++
			t.usage.InputTokens += int64(u.PromptTokens)
			t.usage.OutputTokens += int64(u.CompletionTokens)
			cached := int64(u.CacheReadInputTokens)
			if d := u.PromptTokensDetails; d != nil && int64(d.CachedTokens) > cached {
				cached = int64(d.CachedTokens)
			}
			t.usage.CacheReadTokens += cached
			t.usage.CacheWriteTokens += int64(u.CacheCreationInputTokens)
		}
		if x.Cost != nil {
			costs += float64(*x.Cost)
		}
		if m.Role == "exit" || x.ExitStatus != "" {
			xx := x
			t.exitMsg = &xx
		}
	}
	t.usage.CostUSD = float64(t.Info.ModelStats.InstanceCost)
	if t.usage.CostUSD == 0 {
		t.usage.CostUSD = costs
	}
	t.usage.Turns = int(t.Info.ModelStats.APICalls)
	if t.usage.Turns == 0 {
		t.usage.Turns = t.responses
	}
	t.usage.Source = SourceTrajectory
	return &t, nil
}

// Usage is what the trajectory says was spent.
func (t *Trajectory) Usage() records.Usage { return t.usage }

// ExitStatus is how the run ended: info.exit_status, else the exit
// message's.
func (t *Trajectory) ExitStatus() string {
	if s := string(t.Info.ExitStatus); s != "" {
		return s
	}
	if t.exitMsg != nil {
		return string(t.exitMsg.ExitStatus)
	}
	return ""
}

// Exception is the message of the exception that ended the run, if any.
func (t *Trajectory) Exception() string {
	if t.exitMsg != nil && t.exitMsg.ExceptionStr != "" {
		return string(t.exitMsg.ExceptionStr)
	}
	switch s := t.ExitStatus(); s {
	case "", ExitSubmitted, ExitLimitsExceeded:
		return ""
	}
	// mini 1 keeps str(exception) as the submission.
	return string(t.Info.Submission)
}

var (
	stepRE    = regexp.MustCompile(`^mini-swe-agent \(step (\d+), \$([0-9.]+)\):$`)
	limitsRE  = regexp.MustCompile(`^Limits exceeded\. Limits: (-?\d+) steps, \$(\S+)$`)
	versionRE = regexp.MustCompile(`mini-swe-agent version (\d+(?:\.\d+)*)`)
)

// Summary is what mini printed.
type Summary struct {
	// Usage: the cost and step of the last step line.
	Usage records.Usage
	// Version is from the banner.
	Version string
	// LimitsPrompt is true when mini printed "Limits exceeded" (older
	// versions then ask for new limits on the terminal); LimitSteps and
	// LimitCost are the limits it printed.
	LimitsPrompt bool
	LimitSteps   int
	LimitCost    float64
}

// Stream parses mini's stdout line by line (see agent.LineWriter).
type Stream struct {
	price  func(records.Usage) records.Usage
	report func(records.Usage)

	mu  sync.Mutex
	sum Summary
	// lowerCost is a lower bound of the true cost: the step lines print it
	// rounded to the cent.
	lowerCost float64
}

// stepSlack is how far the true cost may be above or below a step line's.
const stepSlack = 0.005 + 1e-9

// NewStream returns a parser; price and report may be nil (see aider).
func NewStream(price func(records.Usage) records.Usage, report func(records.Usage)) *Stream {
	return &Stream{price: price, report: report}
}

// Line parses one line of output.
func (s *Stream) Line(b []byte) {
	text := agent.CleanLine(b)
	s.mu.Lock()
	changed := s.line(text)
	u := s.usageLocked(true)
	s.mu.Unlock()
	if changed && s.report != nil {
		s.report(u)
	}
}

func (s *Stream) line(text string) bool {
	if m := stepRE.FindStringSubmatch(text); m != nil {
		step, err1 := strconv.Atoi(m[1])
		cost, err2 := strconv.ParseFloat(m[2], 64)
		// Steps only go up: a step line inside the agent's output that
		// repeats an old one changes nothing.
		if err1 != nil || err2 != nil || step <= s.sum.Usage.Turns || step > 1e9 || math.IsNaN(cost) || math.IsInf(cost, 0) || cost > 1e12 {
			return false
		}
		s.sum.Usage.Turns = step
		s.sum.Usage.CostUSD = math.Max(s.sum.Usage.CostUSD, cost)
		s.lowerCost = math.Max(s.lowerCost, cost-stepSlack)
		s.sum.Usage.Source = SourceStdout
		return true
	}
	if m := limitsRE.FindStringSubmatch(text); m != nil {
		s.sum.LimitsPrompt = true
		s.sum.LimitSteps, _ = strconv.Atoi(m[1])
		if c, err := strconv.ParseFloat(strings.TrimSuffix(m[2], "."), 64); err == nil && !math.IsNaN(c) && !math.IsInf(c, 0) {
			s.sum.LimitCost = c
		}
		return false
	}
	if s.sum.Version == "" {
		if m := versionRE.FindStringSubmatch(text); m != nil {
			s.sum.Version = m[1]
		}
	}
	return false
}

// usageLocked is the usage as printed, or (lower) with a lower bound of
// the cost: what the harness is told while mini runs, so that the exact
// totals of the trajectory are never below what it was told.
func (s *Stream) usageLocked(lower bool) records.Usage {
	u := s.sum.Usage
	if lower {
		u.CostUSD = s.lowerCost
	}
	if s.price != nil {
		u = s.price(u)
	}
	return u
}

// Summary returns what the stream said so far.
func (s *Stream) Summary() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.sum
	sum.Usage = s.usageLocked(false)
	return sum
}

// Facts combines the trajectory (nil when mini wrote none) and the stream.
type Facts struct {
	Trajectory *Trajectory
	Stream     Summary
}

func (f Facts) exitStatus() string {
	if f.Trajectory != nil {
		return f.Trajectory.ExitStatus()
	}
	return ""
}

// limitsExceeded: mini stopped on its limits, or (older versions) printed
// the limits prompt and then failed reading the answer.
func (f Facts) limitsExceeded() bool {
	switch f.exitStatus() {
	case ExitLimitsExceeded:
		return true
	case "", "EOFError":
		return f.Stream.LimitsPrompt
	}
	return false
}

// LimitsHit names the limits mini stopped on: the step limit
// (max_iterations) when the calls reached it, the cost limit
// (max_budget_usd) when the cost did. The limits are the trajectory's,
// else the ones mini printed, else the configured ones.
func (f Facts) LimitsHit(l records.Limits) []string {
	if !f.limitsExceeded() {
		return nil
	}
	steps, cost := l.MaxIterations, l.MaxBudgetUSD
	if f.Stream.LimitsPrompt {
		steps, cost = f.Stream.LimitSteps, f.Stream.LimitCost
	}
	calls, spent := f.Stream.Usage.Turns, f.Stream.Usage.CostUSD
	if t := f.Trajectory; t != nil {
		if a := t.Info.Config.Agent; a.StepLimit != nil || a.CostLimit != nil {
			steps, cost = 0, 0
			if a.StepLimit != nil {
				steps = int(*a.StepLimit)
			}
			if a.CostLimit != nil {
				cost = float64(*a.CostLimit)
			}
		}
		calls = max(calls, t.usage.Turns)
		spent = math.Max(spent, t.usage.CostUSD)
	}
	var hit []string
	if steps > 0 && calls >= steps {
		hit = append(hit, records.LimitMaxIterations)
	}
	if cost > 0 && spent >= cost {
		hit = append(hit, records.LimitMaxBudgetUSD)
	}
	return hit
}

// Infra is the infrastructure failure the run ended on (Msg unscrubbed),
// from the name of the exception mini stopped with.
func (f Facts) Infra() *agent.InfraError {
	t := f.Trajectory
	if t == nil {
		return nil
	}
	status := t.ExitStatus()
	msg := textx.Truncate(textx.FirstLine(t.Exception()), 300)
	if msg == "" {
		msg = status
	} else if !strings.Contains(msg, status) {
		msg = status + ": " + msg
	}
	var kind agent.InfraKind
	switch status {
	case "AuthenticationError", "PermissionDeniedError":
		kind = agent.InfraAuth
	case "RateLimitError", "RouterRateLimitError":
		kind = agent.InfraRateLimit
	case "NotFoundError":
		kind = agent.InfraModelNotFound
	case "InternalServerError", "ServiceUnavailableError", "BadGatewayError", "APIConnectionError", "Timeout", "APIError":
		kind = agent.InfraOther
		if status == "InternalServerError" || status == "ServiceUnavailableError" || status == "BadGatewayError" {
			kind = agent.InfraProviderUnavailable
		}
		if c := agent.Classify(msg); c != nil {
			kind = c.Kind
		}
	case "BadRequestError":
		if !strings.Contains(msg, "LLM Provider NOT provided") {
			return nil
		}
		kind = agent.InfraModelNotFound
	default:
		return nil
	}
	return &agent.InfraError{Kind: kind, Msg: msg}
}

// Details are the journal's agent-specific facts; scrub hides secrets.
func (f Facts) Details(scrub func(string) string) map[string]any {
	d := map[string]any{}
	if f.Stream.Version != "" {
		d["mini_version"] = f.Stream.Version
	}
	if f.Stream.LimitsPrompt {
		d["limits_prompt"] = true
	}
	t := f.Trajectory
	if t == nil {
		d["trajectory"] = "none"
		return d
	}
	if s := t.ExitStatus(); s != "" {
		d["exit_status"] = s
	}
	if v := string(t.Info.MiniVersion); v != "" {
		d["mini_version"] = v
	}
	if v := string(t.Format); v != "" {
		d["trajectory_format"] = v
	}
	d["api_calls"] = t.usage.Turns
	if a := t.Info.Config.Agent; a.StepLimit != nil {
		d["step_limit"] = int(*a.StepLimit)
	}
	if a := t.Info.Config.Agent; a.CostLimit != nil {
		d["cost_limit"] = float64(*a.CostLimit)
	}
	if e := t.Exception(); e != "" {
		d["exception"] = scrub(textx.Truncate(textx.FirstLine(e), 300))
	}
	return d
}
