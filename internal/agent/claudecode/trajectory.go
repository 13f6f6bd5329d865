package claudecode

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/perfbench/perfbench/internal/records"
)

// TrajectorySource names what the trajectory is converted from.
const TrajectorySource = "stream-json stdout"

// Trajectory converts the stream-json events into the trajectory model
// as they arrive: assistant text and thinking blocks are messages,
// tool_use blocks tool calls (a Bash call's command as the step's
// command), the user events' tool_result blocks their results, and API
// errors and an error result are errors. A message's tokens go to its
// first step (Claude Code repeats the message's usage on every block, the
// last the largest). stream-json has no timestamps: each step is stamped
// when its line arrives. Subagents' steps (parent_tool_use_id) are kept:
// what a subagent runs, the agent ran.
type Trajectory struct {
	mu    sync.Mutex
	t     *records.Trajectory
	now   func() time.Time
	first map[string]int // message id → index of its first step
	bad   int
}

// NewTrajectory converts into t, stamping steps with now.
func NewTrajectory(t *records.Trajectory, now func() time.Time) *Trajectory {
	return &Trajectory{t: t, now: now, first: map[string]int{}}
}

// block is a content block of an assistant or user message.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

// Line converts one stdout line; what is not an event is counted.
func (c *Trajectory) Line(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var e event
	if err := json.Unmarshal(line, &e); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			c.bad++
			return
		}
	}
	now := c.now()
	switch e.Type {
	case "system":
		if e.Subtype == "init" {
			c.t.SessionID = e.SessionID
			c.t.AgentVersion = e.Version
		}
	case "assistant":
		c.assistant(&e, now)
	case "user":
		c.user(&e, now)
	case "result":
		if e.IsError {
			text := strings.Join(rawStrings(e.Errors), "; ")
			if text == "" {
				text = rawText(e.Result)
			}
			c.t.Append(records.Step{Kind: records.StepError, Role: records.RoleAgent, Text: strings.TrimSpace(e.Subtype + ": " + text), Time: now})
		}
	}
}

func blocks(raw json.RawMessage) []block {
	var bs []block
	if json.Unmarshal(raw, &bs) != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return []block{{Type: "text", Text: s}}
		}
		return nil
	}
	return bs
}

func (c *Trajectory) assistant(e *event, now time.Time) {
	m := e.Message
	if m == nil {
		return
	}
	if e.IsAPIError || errorKind(e.Error) != "" || m.Model == syntheticModel {
		c.t.Append(records.Step{Kind: records.StepError, Role: records.RoleSystem, Text: contentText(m.Content), Time: now})
		return
	}
	before := len(c.t.Steps)
	for _, b := range blocks(m.Content) {
		switch b.Type {
		case "text":
			c.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: b.Text, Time: now})
		case "thinking":
			c.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: b.Thinking, Time: now})
		case "tool_use":
			s := records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: b.Name, CallID: b.ID, Input: string(b.Input), Time: now}
			var in struct {
				Command string `json:"command"`
			}
			if json.Unmarshal(b.Input, &in) == nil {
				s.Command = in.Command
			}
			c.t.Append(s)
		}
	}
	if m.Usage == nil || len(c.t.Steps) == before {
		return
	}
	u := m.Usage.agentUsage()
	tk := &records.StepTokens{Input: u.InputTokens, Output: u.OutputTokens, CacheRead: u.CacheReadTokens, CacheWrite: u.CacheWriteTokens}
	i, seen := c.first[m.ID]
	if m.ID == "" || !seen {
		c.first[m.ID] = before
		c.t.Steps[before].Tokens = tk
		return
	}
	if old := c.t.Steps[i].Tokens; old != nil {
		old.Input, old.Output = max(old.Input, tk.Input), max(old.Output, tk.Output)
		old.CacheRead, old.CacheWrite = max(old.CacheRead, tk.CacheRead), max(old.CacheWrite, tk.CacheWrite)
	}
}

func (c *Trajectory) user(e *event, now time.Time) {
	if e.Message == nil {
		return
	}
	for _, b := range blocks(e.Message.Content) {
		switch b.Type {
		case "tool_result":
			out := contentText(b.Content)
			if out == "" {
				out = rawText(b.Content)
			}
			c.t.Append(records.Step{Kind: records.StepToolResult, Role: records.RoleTool, CallID: b.ToolUseID, Output: out, Time: now})
		case "text":
			c.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleUser, Text: b.Text, Time: now})
		}
	}
}

// Result is the trajectory converted so far.
func (c *Trajectory) Result() *records.Trajectory {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bad > 0 {
		c.t.Warn("%d stdout lines were not stream-json events", c.bad)
		c.bad = 0
	}
	return c.t
}
