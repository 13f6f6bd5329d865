package trae

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Final states recorded in the journal (details.final_state).
const (
	// StateCompleted: the agent called task_done (success: true).
	StateCompleted = "completed"
	// StateMaxSteps: the step limit ran out ("Task execution exceeded
	// maximum steps without completion.").
	StateMaxSteps = "max_steps"
	// StateError: a step raised (an LLM API error, an agent bug); the
	// step's error field says why.
	StateError = "error"
	// StateFailed: finalized without success, error or step limit.
	StateFailed = "failed"
	// StateRunning: the trajectory was never finalized (no end_time): the
	// process was stopped or died.
	StateRunning = "running"
	// StateNone: no readable trajectory.
	StateNone = "none"
)

// Trajectory is what perfbench reads of a TRAE trajectory file
// (trae_agent/utils/trajectory_recorder.py). TRAE rewrites the whole file
// after every LLM interaction and every agent step, so it is readable
// while the agent runs, except for the moment of a write.
type Trajectory struct {
	Task      string
	StartTime string
	EndTime   string
	Provider  string
	Model     string
	MaxSteps  int
	// Interactions are llm_interactions[], one per LLM call.
	Interactions []Interaction
	// Steps are agent_steps[], one per agent step.
	Steps         []Step
	Success       bool
	FinalResult   string
	ExecutionTime float64
	// Skipped counts entries of llm_interactions or agent_steps that were
	// not objects.
	Skipped int
}

// Interaction is one llm_interactions[] entry.
type Interaction struct {
	Provider string
	Model    string
	// ResponseModel is response.model, the model the API answered with.
	ResponseModel string
	Usage         TokenUsage
}

// Step is one agent_steps[] entry.
type Step struct {
	Number int
	State  string
	Error  string
	// Usage is llm_response.usage (input and output tokens only).
	Usage    TokenUsage
	HasUsage bool
}

// TokenUsage is a response's usage as TRAE records it. For the anthropic
// provider input_tokens excludes the cache reads and writes (Anthropic's
// convention); for the OpenAI-style providers it includes the cached
// tokens.
type TokenUsage struct {
	Input         int64
	Output        int64
	CacheCreation int64
	CacheRead     int64
	Reasoning     int64
}

// ErrNotTrajectory is returned for data that is not a JSON object (an
// empty or half-written file).
var ErrNotTrajectory = errors.New("not a TRAE trajectory (no JSON object)")

// ParseTrajectory reads a trajectory. It is lenient about the types of
// single fields (TRAE's schema has changed between versions) but fails on
// data that is not one complete JSON object, as a file caught mid-write
// is.
func ParseTrajectory(data []byte) (*Trajectory, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, ErrNotTrajectory
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	t := &Trajectory{
		Task:          str(top["task"]),
		StartTime:     str(top["start_time"]),
		EndTime:       str(top["end_time"]),
		Provider:      str(top["provider"]),
		Model:         str(top["model"]),
		MaxSteps:      int(integer(top["max_steps"])),
		Success:       boolean(top["success"]),
		FinalResult:   str(top["final_result"]),
		ExecutionTime: float(top["execution_time"]),
	}
	for _, raw := range list(top["llm_interactions"]) {
		o := obj(raw)
		if o == nil {
			t.Skipped++
			continue
		}
		in := Interaction{Provider: str(o["provider"]), Model: str(o["model"])}
		if resp := obj(o["response"]); resp != nil {
			in.ResponseModel = str(resp["model"])
			in.Usage = usage(obj(resp["usage"]))
		}
		t.Interactions = append(t.Interactions, in)
	}
	for _, raw := range list(top["agent_steps"]) {
		o := obj(raw)
		if o == nil {
			t.Skipped++
			continue
		}
		s := Step{Number: int(integer(o["step_number"])), State: str(o["state"]), Error: str(o["error"])}
		if resp := obj(o["llm_response"]); resp != nil {
			if u := obj(resp["usage"]); u != nil {
				s.Usage, s.HasUsage = usage(u), true
			}
		}
		if u := obj(o["llm_usage"]); u != nil && !s.HasUsage {
			s.Usage, s.HasUsage = usage(u), true
		}
		t.Steps = append(t.Steps, s)
	}
	return t, nil
}

func usage(o map[string]json.RawMessage) TokenUsage {
	if o == nil {
		return TokenUsage{}
	}
	return TokenUsage{
		Input:         integer(o["input_tokens"]),
		Output:        integer(o["output_tokens"]),
		CacheCreation: integer(o["cache_creation_input_tokens"]),
		CacheRead:     integer(o["cache_read_input_tokens"]),
		Reasoning:     integer(o["reasoning_tokens"]),
	}
}

func obj(raw json.RawMessage) map[string]json.RawMessage {
	var o map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &o) != nil {
		return nil
	}
	return o
}

func list(raw json.RawMessage) []json.RawMessage {
	var l []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &l) != nil {
		return nil
	}
	return l
}

func str(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func boolean(raw json.RawMessage) bool {
	return string(raw) == "true"
}

func float(raw json.RawMessage) float64 {
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// integer reads a non-negative token count: a JSON number (fractions
// dropped) or a numeric string; anything else is 0.
func integer(raw json.RawMessage) int64 {
	s := string(raw)
	if len(s) > 0 && s[0] == '"' {
		s = str(raw)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0
	}
	if f >= math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(f)
}

// Tokens sums the token usage: llm_interactions[].response.usage when
// there are interactions, else agent_steps[].llm_response.usage. Input
// tokens are normalised to include the cached ones (as agent.PriceUsage
// expects): for the anthropic provider the cache reads and writes are
// added to input_tokens. Turns is the number of agent steps.
func (t *Trajectory) Tokens() (records.Usage, int64) {
	var u records.Usage
	var reasoning int64
	if t == nil {
		return u, 0
	}
	u.Turns = len(t.Steps)
	add := func(provider string, v TokenUsage) {
		in := v.Input
		if strings.EqualFold(provider, "anthropic") {
			in += v.CacheRead + v.CacheCreation
		}
		u.InputTokens += in
		u.OutputTokens += v.Output
		u.CacheReadTokens += v.CacheRead
		u.CacheWriteTokens += v.CacheCreation
		reasoning += v.Reasoning
	}
	if len(t.Interactions) > 0 {
		for _, in := range t.Interactions {
			p := in.Provider
			if p == "" {
				p = t.Provider
			}
			add(p, in.Usage)
		}
	} else {
		for _, s := range t.Steps {
			if s.HasUsage {
				add(t.Provider, s.Usage)
			}
		}
	}
	return u, reasoning
}

// PriceModels are the model names tried, in order, against bench.yaml's
// prices: the trajectory's model, the entry's model, then the models the
// API answered with.
func (t *Trajectory) PriceModels(entryModel string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(m string) {
		if m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	if t != nil {
		add(t.Model)
	}
	add(entryModel)
	if t != nil {
		for _, in := range t.Interactions {
			add(in.Model)
			add(in.ResponseModel)
		}
	}
	return out
}

// Usage is the trajectory's usage priced with bench.yaml's prices: (TRAE
// records tokens, never a cost). pricedAs is the model whose price was
// used, "" when none of PriceModels has one (the cost is then 0).
func (t *Trajectory) Usage(b *config.Bench, entryModel string) (u records.Usage, reasoning int64, pricedAs string) {
	u, reasoning = t.Tokens()
	if t == nil {
		return u, 0, ""
	}
	u.Source = "trajectory"
	for _, m := range t.PriceModels(entryModel) {
		if cost, ok := agent.PriceUsage(b, m, u); ok {
			u.CostUSD = cost
			return u, reasoning, m
		}
	}
	return u, reasoning, ""
}

// executionFailedPrefix starts final_result when the agent loop itself
// raised.
const executionFailedPrefix = "Agent execution failed:"

// LastError is the error that ended the run: the last step's error, or
// final_result when the agent loop itself raised; "" otherwise.
func (t *Trajectory) LastError() string {
	if t == nil {
		return ""
	}
	for i := len(t.Steps) - 1; i >= 0; i-- {
		if e := strings.TrimSpace(t.Steps[i].Error); e != "" {
			return e
		}
	}
	if strings.HasPrefix(t.FinalResult, executionFailedPrefix) {
		return strings.TrimSpace(strings.TrimPrefix(t.FinalResult, executionFailedPrefix))
	}
	return ""
}

var maxStepsRE = regexp.MustCompile(`(?i)exceeded (the )?maximum (number of )?steps`)

// State classifies how the run ended (one of the State constants).
func (t *Trajectory) State() string {
	switch {
	case t == nil:
		return StateNone
	case t.EndTime == "":
		return StateRunning
	case t.Success:
		return StateCompleted
	case maxStepsRE.MatchString(t.FinalResult):
		return StateMaxSteps
	case t.LastError() != "":
		return StateError
	case t.MaxSteps > 0 && len(t.Steps) >= t.MaxSteps:
		return StateMaxSteps
	}
	return StateFailed
}

// unavailableRE matches LLM provider failures that Classify does not
// name: the provider could not be reached (its 5xx answers Classify
// names provider_unavailable).
var unavailableRE = regexp.MustCompile(`(?i)\bconnection error\b|APIConnectionError|APITimeoutError|request timed out|error code: 504\b`)

// classifyAPIError returns the infrastructure class of an LLM API error
// message (a step error, a retry line), nil when it is none.
func classifyAPIError(msg string) *agent.InfraError {
	if ie := agent.Classify(msg); ie != nil {
		return ie
	}
	if loc := unavailableRE.FindStringIndex(msg); loc != nil {
		return &agent.InfraError{Kind: agent.InfraOther, Msg: "LLM provider unavailable: " + textx.Brief(msg, 200)}
	}
	return nil
}
