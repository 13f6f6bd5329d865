package miniswe

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/records"
)

// TrajectorySource names what the trajectory is converted from.
const TrajectorySource = "out/" + TrajectoryFile

// convMsg is the part of a message of mini's trajectory the conversion
// reads, beyond messageExtra's usage and cost.
type convMsg struct {
	Role    str             `json:"role"`
	Content json.RawMessage `json:"content"`
	Extra   *struct {
		messageExtra
		Actions []struct {
			Command    str `json:"command"`
			ToolCallID str `json:"tool_call_id"`
		} `json:"actions"`
		RawOutput *string `json:"raw_output"`
		Timestamp num     `json:"timestamp"`
	} `json:"extra"`
	ToolCalls []struct {
		ID       str `json:"id"`
		Function struct {
			Name      str `json:"name"`
			Arguments str `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
	ToolCallID str `json:"tool_call_id"`
}

// commandBlockRE is the command block of mini's replies: ```bash (mini
// 1) or ```mswea_bash_command (mini 2), for replies whose extra names no
// action.
var commandBlockRE = regexp.MustCompile("(?s)```(?:bash|mswea_bash_command)\\s*\\n(.*?)\\n?```")

// ConvertTrajectory converts the messages of mini's trajectory into t:
// the system and user messages; each reply of the model as a message
// (with its response's tokens and cost) followed by its actions as bash
// tool calls (extra.actions, else the command block of the reply, or
// the tool calls of tool-calling mode); the observation that follows as
// the results of those calls (extra.raw_output when mini kept it), and
// the exit message. mini's timestamps are Unix times.
func ConvertTrajectory(tr *Trajectory, t *records.Trajectory) {
	if v := string(tr.Info.MiniVersion); v != "" {
		t.AgentVersion = v
	}
	var pending []string // call ids awaiting their observation
	for i, raw := range tr.Messages {
		var m convMsg
		if json.Unmarshal(raw, &m) != nil {
			t.Warn("message %d is not an object", i)
			continue
		}
		text := messageText(m.Content)
		var at time.Time
		if m.Extra != nil && m.Extra.Timestamp > 1e9 {
			sec, frac := math.Modf(float64(m.Extra.Timestamp))
			at = time.Unix(int64(sec), int64(frac*1e9)).UTC()
		}
		switch m.Role {
		case "system":
			t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleSystem, Text: text, Time: at})
		case "assistant":
			pending = pending[:0]
			s := records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: text, Time: at}
			if x := m.Extra; x != nil {
				if x.Cost != nil {
					s.CostUSD = float64(*x.Cost)
				}
				if x.Response != nil && x.Response.Usage != nil {
					u := x.Response.Usage
					cached := int64(u.CacheReadInputTokens)
					if d := u.PromptTokensDetails; d != nil && int64(d.CachedTokens) > cached {
						cached = int64(d.CachedTokens)
					}
					s.Tokens = &records.StepTokens{Input: int64(u.PromptTokens), Output: int64(u.CompletionTokens), CacheRead: cached, CacheWrite: int64(u.CacheCreationInputTokens)}
				}
			}
			t.Append(s)
			call := func(id, tool, command, input string) {
				if id == "" {
					id = fmt.Sprintf("mini-%d-%d", i, len(pending))
				}
				pending = append(pending, id)
				t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: tool, CallID: id, Command: command, Input: input, Time: at})
			}
			switch {
			case m.Extra != nil && len(m.Extra.Actions) > 0:
				for _, a := range m.Extra.Actions {
					call(string(a.ToolCallID), "bash", string(a.Command), "")
				}
			case len(m.ToolCalls) > 0:
				for _, tc := range m.ToolCalls {
					var args struct {
						Command string `json:"command"`
					}
					json.Unmarshal([]byte(tc.Function.Arguments), &args)
					call(string(tc.ID), string(tc.Function.Name), args.Command, string(tc.Function.Arguments))
				}
			default:
				if mm := commandBlockRE.FindStringSubmatch(text); mm != nil {
					call("", "bash", strings.TrimSpace(mm[1]), "")
				}
			}
		case "user", "tool":
			if len(pending) == 0 && m.Role == "user" {
				t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleUser, Text: text, Time: at})
				continue
			}
			id := string(m.ToolCallID)
			if id == "" && len(pending) > 0 {
				id = pending[0]
			}
			if len(pending) > 0 {
				pending = pending[1:]
			}
			out := text
			if m.Extra != nil && m.Extra.RawOutput != nil {
				out = *m.Extra.RawOutput
			}
			t.Append(records.Step{Kind: records.StepToolResult, Role: records.RoleTool, Tool: "bash", CallID: id, Output: out, Time: at})
		case "exit":
			s := records.Step{Kind: records.StepMessage, Role: records.RoleSystem, Text: "exit: " + text, Time: at}
			if m.Extra != nil && m.Extra.ExceptionStr != "" {
				s.Kind, s.Text = records.StepError, string(m.Extra.ExceptionStr)
			}
			t.Append(s)
		}
	}
}

// messageText is a message's content: a string, or the text parts of a
// list of content parts.
func messageText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type str `json:"type"`
		Text str `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var out []string
	for _, p := range parts {
		if p.Text != "" {
			out = append(out, string(p.Text))
		}
	}
	return strings.Join(out, "\n")
}

// trajectory is the outcome's trajectory: mini's trajectory file, or
// without a readable one an unstructured trajectory saying why (the
// scans then read mini's stdout, which shows every step).
func trajectory(r *agent.Rollout, tr *Trajectory, terr error) *records.Trajectory {
	t := r.NewTrajectory(TrajectorySource)
	if terr != nil {
		agent.Unstructured(t, terr)
		return t
	}
	ConvertTrajectory(tr, t)
	return t
}
