// Package export owns the conversion of a run's records into other
// tools' formats: each item's trajectory.json (records.Trajectory) into
// Harbor's Agent Trajectory Interchange Format, so that Harbor's viewer
// and the tools built on ATIF read perfbench's runs. It reads the records
// through journal and writes nothing but its own output.
package export

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/records"
)

// ATIFVersion is the version of the format written: the one the RFC
// (harbor docs/rfcs/0001-trajectory-format.md, "Changelog v1.7",
// April 2026) documents as current.
const ATIFVersion = "ATIF-v1.7"

// ATIF is a trajectory document (the RFC's root object). Optional fields
// are left out when empty, as Harbor's to_json_dict(exclude_none) does.
type ATIF struct {
	SchemaVersion string            `json:"schema_version"`
	SessionID     string            `json:"session_id,omitempty"`
	TrajectoryID  string            `json:"trajectory_id,omitempty"`
	Agent         ATIFAgent         `json:"agent"`
	Steps         []ATIFStep        `json:"steps"`
	Notes         string            `json:"notes,omitempty"`
	FinalMetrics  *ATIFFinalMetrics `json:"final_metrics,omitempty"`
	Extra         map[string]any    `json:"extra,omitempty"`
}

// ATIFAgent is the RFC's AgentSchema.
type ATIFAgent struct {
	Name      string         `json:"name"`
	Version   string         `json:"version"`
	ModelName string         `json:"model_name,omitempty"`
	Extra     map[string]any `json:"extra,omitempty"`
}

// ATIFStep is the RFC's StepObject. Message is required (it may be
// empty); tool_calls and metrics are only written on agent steps.
type ATIFStep struct {
	StepID      int              `json:"step_id"`
	Timestamp   string           `json:"timestamp,omitempty"`
	Source      string           `json:"source"`
	Message     string           `json:"message"`
	ToolCalls   []ATIFToolCall   `json:"tool_calls,omitempty"`
	Observation *ATIFObservation `json:"observation,omitempty"`
	Metrics     *ATIFMetrics     `json:"metrics,omitempty"`
	Extra       map[string]any   `json:"extra,omitempty"`
}

// ATIFToolCall is the RFC's ToolCallSchema: arguments is always an
// object.
type ATIFToolCall struct {
	ToolCallID   string         `json:"tool_call_id"`
	FunctionName string         `json:"function_name"`
	Arguments    map[string]any `json:"arguments"`
}

// ATIFObservation is the RFC's ObservationSchema.
type ATIFObservation struct {
	Results []ATIFResult `json:"results"`
}

// ATIFResult is the RFC's ObservationResultSchema: SourceCallID, when
// set, names a tool call of the same step.
type ATIFResult struct {
	SourceCallID string         `json:"source_call_id,omitempty"`
	Content      string         `json:"content"`
	Extra        map[string]any `json:"extra,omitempty"`
}

// ATIFMetrics is the RFC's MetricsSchema: prompt_tokens counts every
// input token, the cached ones included (as perfbench counts them).
type ATIFMetrics struct {
	PromptTokens     int64          `json:"prompt_tokens,omitempty"`
	CompletionTokens int64          `json:"completion_tokens,omitempty"`
	CachedTokens     int64          `json:"cached_tokens,omitempty"`
	CostUSD          float64        `json:"cost_usd,omitempty"`
	Extra            map[string]any `json:"extra,omitempty"`
}

// ATIFFinalMetrics is the RFC's FinalMetricsSchema.
type ATIFFinalMetrics struct {
	TotalPromptTokens     int64          `json:"total_prompt_tokens,omitempty"`
	TotalCompletionTokens int64          `json:"total_completion_tokens,omitempty"`
	TotalCachedTokens     int64          `json:"total_cached_tokens,omitempty"`
	TotalCostUSD          float64        `json:"total_cost_usd,omitempty"`
	TotalSteps            int            `json:"total_steps"`
	Extra                 map[string]any `json:"extra,omitempty"`
}

// ATIF sources.
const (
	sourceAgent  = "agent"
	sourceUser   = "user"
	sourceSystem = "system"
)

// Item names the item a trajectory is of, for the document's ids.
type Item struct {
	RunID string
	// Dir is the item's directory name ("<item>" or "<item>.s<k>").
	Dir string
}

// ToATIF converts a trajectory. Steps become ATIF steps in order: an
// agent message opens an agent step, the tool calls that follow it
// join it (a call after a result, or repeating a call id, opens the
// next one), and each tool result is an observation result of the
// step holding its call (of the open agent step when it names none).
// User and system messages are steps of their own, errors too (source
// system unless the agent said them, marked extra.kind "error"). It
// returns nil for a trajectory without steps: ATIF has no way to say
// "nothing recorded" that a reader would not take for an empty run.
func ToATIF(t *records.Trajectory, it Item) *ATIF {
	if len(t.Steps) == 0 {
		return nil
	}
	c := &converter{}
	for i := range t.Steps {
		c.step(&t.Steps[i])
	}
	c.flush()
	doc := &ATIF{
		SchemaVersion: ATIFVersion,
		SessionID:     t.SessionID,
		TrajectoryID:  it.RunID + "/" + it.Dir,
		Agent: ATIFAgent{
			Name:      nonEmpty(t.Agent.Type, "unknown"),
			Version:   nonEmpty(t.AgentVersion, "unknown"),
			ModelName: t.Agent.Model,
		},
		Steps: c.steps,
	}
	if doc.SessionID == "" {
		doc.SessionID = doc.TrajectoryID
	}
	if t.Agent.Name != "" {
		doc.Agent.Extra = map[string]any{"perfbench_entry": t.Agent.Name}
	}
	var notes []string
	if !t.Structured {
		notes = append(notes, "unstructured: the agent left no structured trajectory; its one step holds an excerpt of the agent's stdout")
	}
	if t.StepsDropped > 0 {
		notes = append(notes, fmt.Sprintf("%d steps past perfbench's limit of %d were not recorded", t.StepsDropped, records.MaxTrajectorySteps))
	}
	if c.truncated > 0 {
		notes = append(notes, fmt.Sprintf("%d steps hold excerpts (head and tail) of longer texts", c.truncated))
	}
	doc.Notes = strings.Join(notes, "; ")
	fm := &ATIFFinalMetrics{TotalSteps: len(doc.Steps)}
	if u := t.Usage; u != nil {
		fm.TotalPromptTokens, fm.TotalCompletionTokens, fm.TotalCachedTokens = u.InputTokens, u.OutputTokens, u.CacheReadTokens
		fm.TotalCostUSD = u.CostUSD
		if u.CacheWriteTokens > 0 {
			fm.Extra = map[string]any{"total_cache_creation_input_tokens": u.CacheWriteTokens}
		}
	}
	doc.FinalMetrics = fm
	extra := map[string]any{
		"run_id":                    it.RunID,
		"item":                      it.Dir,
		"structured":                t.Structured,
		"trajectory_schema_version": t.SchemaVersion,
	}
	if t.Source != "" {
		extra["source"] = t.Source
	}
	if t.StepsDropped > 0 {
		extra["steps_dropped"] = t.StepsDropped
	}
	if len(t.Warnings) > 0 {
		extra["warnings"] = t.Warnings
	}
	doc.Extra = map[string]any{"perfbench": extra}
	return doc
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// converter groups the model's steps into ATIF steps.
type converter struct {
	steps []ATIFStep
	// cur is the open agent step, which tool calls and results join.
	cur       *ATIFStep
	truncated int
}

func (c *converter) flush() {
	if c.cur != nil {
		c.steps = append(c.steps, *c.cur)
		c.cur = nil
	}
}

func (c *converter) add(s ATIFStep) {
	c.flush()
	s.StepID = len(c.steps) + 1
	c.steps = append(c.steps, s)
}

func (c *converter) open(s *records.Step) {
	c.flush()
	c.cur = &ATIFStep{StepID: len(c.steps) + 1, Source: sourceAgent, Timestamp: stamp(s.Time)}
}

func (c *converter) step(s *records.Step) {
	if s.Truncated {
		c.truncated++
	}
	switch s.Kind {
	case records.StepToolCall:
		if c.cur == nil || c.cur.Observation != nil || c.hasCall(s.CallID) {
			c.open(s)
		}
		c.cur.ToolCalls = append(c.cur.ToolCalls, ATIFToolCall{
			ToolCallID:   c.callID(s),
			FunctionName: nonEmpty(s.Tool, "unknown"),
			Arguments:    arguments(s),
		})
		c.metrics(s)
	case records.StepToolResult:
		if c.cur == nil {
			c.open(s)
		}
		r := ATIFResult{Content: s.Output}
		if s.CallID != "" && c.hasCall(s.CallID) {
			r.SourceCallID = s.CallID
		}
		if s.Truncated || s.Tool != "" {
			r.Extra = map[string]any{}
			if s.Tool != "" {
				r.Extra["tool"] = s.Tool
			}
			if s.Truncated {
				r.Extra["truncated"] = true
				r.Extra["output_bytes"] = s.OutputBytes
			}
		}
		if c.cur.Observation == nil {
			c.cur.Observation = &ATIFObservation{Results: []ATIFResult{}}
		}
		c.cur.Observation.Results = append(c.cur.Observation.Results, r)
	case records.StepError:
		st := ATIFStep{Source: source(s.Role), Message: s.Text, Timestamp: stamp(s.Time), Extra: map[string]any{"kind": "error"}}
		if st.Source == sourceUser {
			st.Source = sourceSystem
		}
		c.add(st)
	default: // message
		src := source(s.Role)
		if src != sourceAgent {
			c.add(ATIFStep{Source: src, Message: s.Text, Timestamp: stamp(s.Time)})
			return
		}
		// A message after the open step's calls is the next response.
		if c.cur == nil || len(c.cur.ToolCalls) > 0 || c.cur.Message != "" || c.cur.Observation != nil {
			c.open(s)
		}
		c.cur.Message = s.Text
		c.metrics(s)
	}
}

func (c *converter) hasCall(id string) bool {
	if c.cur == nil || id == "" {
		return false
	}
	for _, tc := range c.cur.ToolCalls {
		if tc.ToolCallID == id {
			return true
		}
	}
	return false
}

// callID is the step's call id, or one made from its index when the
// agent gave none (ATIF requires one).
func (c *converter) callID(s *records.Step) string {
	if s.CallID != "" {
		return s.CallID
	}
	return fmt.Sprintf("perfbench-step-%d", s.Index)
}

// metrics adds the step's tokens and cost to the open agent step.
func (c *converter) metrics(s *records.Step) {
	if s.Tokens == nil && s.CostUSD == 0 {
		return
	}
	if c.cur.Metrics == nil {
		c.cur.Metrics = &ATIFMetrics{}
	}
	m := c.cur.Metrics
	m.CostUSD += s.CostUSD
	if tk := s.Tokens; tk != nil {
		m.PromptTokens += tk.Input
		m.CompletionTokens += tk.Output
		m.CachedTokens += tk.CacheRead
		if tk.CacheWrite > 0 {
			if m.Extra == nil {
				m.Extra = map[string]any{}
			}
			prev, _ := m.Extra["cache_creation_input_tokens"].(int64)
			m.Extra["cache_creation_input_tokens"] = prev + tk.CacheWrite
		}
	}
}

// arguments is a tool call's input as the object ATIF requires: the
// input itself when it is a JSON object, else the command and the input
// text under their names.
func arguments(s *records.Step) map[string]any {
	var obj map[string]any
	if s.Input != "" && json.Unmarshal([]byte(s.Input), &obj) == nil && obj != nil {
		return obj
	}
	obj = map[string]any{}
	if s.Command != "" {
		obj["command"] = s.Command
	}
	if s.Input != "" {
		obj["input"] = s.Input
	}
	return obj
}

func source(role string) string {
	switch role {
	case records.RoleUser:
		return sourceUser
	case records.RoleAgent:
		return sourceAgent
	}
	return sourceSystem
}

// stamp is an ISO 8601 timestamp with microseconds, which every
// fromisoformat reads; "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}
