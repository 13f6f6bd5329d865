package trae

import (
	"bytes"
	"encoding/json"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/records"
)

// TrajectorySource names what the trajectory is converted from.
const TrajectorySource = "out/" + TrajectoryFile

// trajDoc is the part of a TRAE trajectory file the conversion reads.
type trajDoc struct {
	Task       string `json:"task"`
	Provider   string `json:"provider"`
	AgentSteps []struct {
		Timestamp   string `json:"timestamp"`
		LLMResponse *struct {
			Content   string     `json:"content"`
			ToolCalls []toolCall `json:"tool_calls"`
			Usage     *struct {
				Input         json.Number `json:"input_tokens"`
				Output        json.Number `json:"output_tokens"`
				CacheCreation json.Number `json:"cache_creation_input_tokens"`
				CacheRead     json.Number `json:"cache_read_input_tokens"`
			} `json:"usage"`
		} `json:"llm_response"`
		ToolCalls   []toolCall `json:"tool_calls"`
		ToolResults []struct {
			CallID string `json:"call_id"`
			Result string `json:"result"`
			Error  string `json:"error"`
		} `json:"tool_results"`
		Reflection string `json:"reflection"`
		Error      string `json:"error"`
	} `json:"agent_steps"`
}

type toolCall struct {
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// ConvertTrajectory converts a TRAE trajectory file into t: the task as
// the user's message, then per agent step the model's reply (with the
// step's tokens), its tool calls (a bash call's command as the step's
// command) and their results, the reflection, and the step's error; each
// at the step's timestamp. Data that is not a complete trajectory (a
// file caught mid-write) is an error, and t is left as it was.
func ConvertTrajectory(data []byte, t *records.Trajectory) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return ErrNotTrajectory
	}
	var doc trajDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		// TRAE's schema changed between versions: a field of another
		// type is dropped, not the trajectory.
		doc = trajDoc{}
		if err := lenientDecode(data, &doc); err != nil {
			return err
		}
	}
	if doc.Task != "" {
		t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleUser, Text: doc.Task})
	}
	for _, s := range doc.AgentSteps {
		at := agent.ParseTime(s.Timestamp)
		first := len(t.Steps)
		if r := s.LLMResponse; r != nil && r.Content != "" {
			t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: r.Content, Time: at})
		}
		calls := s.ToolCalls
		if len(calls) == 0 && s.LLMResponse != nil {
			// Versions that leave the step's own list empty.
			calls = s.LLMResponse.ToolCalls
		}
		for _, c := range calls {
			st := records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: c.Name, CallID: c.CallID, Input: string(c.Arguments), Time: at}
			var args struct {
				Command string `json:"command"`
			}
			if json.Unmarshal(c.Arguments, &args) == nil && c.Name == "bash" {
				st.Command = args.Command
			}
			t.Append(st)
		}
		for _, r := range s.ToolResults {
			out := r.Result
			if r.Error != "" {
				out += r.Error
			}
			t.Append(records.Step{Kind: records.StepToolResult, Role: records.RoleTool, CallID: r.CallID, Output: out, Time: at})
		}
		if s.Reflection != "" {
			t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: s.Reflection, Time: at})
		}
		if s.Error != "" {
			t.Append(records.Step{Kind: records.StepError, Role: records.RoleSystem, Text: s.Error, Time: at})
		}
		if r := s.LLMResponse; r != nil && r.Usage != nil && first < len(t.Steps) {
			n := func(v json.Number) int64 { i, _ := v.Int64(); return max(i, 0) }
			u := r.Usage
			tk := &records.StepTokens{Input: n(u.Input), Output: n(u.Output), CacheRead: n(u.CacheRead), CacheWrite: n(u.CacheCreation)}
			if doc.Provider == "anthropic" {
				// Anthropic's input_tokens leave the cache out; the model
				// counts every prompt token.
				tk.Input += tk.CacheRead + tk.CacheWrite
			}
			t.Steps[first].Tokens = tk
		}
	}
	return nil
}

// lenientDecode decodes the agent steps one by one, dropping those that
// do not fit.
func lenientDecode(data []byte, doc *trajDoc) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return err
	}
	json.Unmarshal(top["task"], &doc.Task)
	json.Unmarshal(top["provider"], &doc.Provider)
	var steps []json.RawMessage
	json.Unmarshal(top["agent_steps"], &steps)
	for _, raw := range steps {
		var one trajDoc
		if json.Unmarshal([]byte(`{"agent_steps":[`+string(raw)+`]}`), &one) == nil {
			doc.AgentSteps = append(doc.AgentSteps, one.AgentSteps...)
		}
	}
	return nil
}

// trajectory is the outcome's trajectory: the file TRAE left, or, when
// it cannot be read, an unstructured one saying why (the scans then read
// the logs).
func trajectory(r *agent.Rollout, path string) *records.Trajectory {
	t := r.NewTrajectory(TrajectorySource)
	data, err := agent.ReadAgentFile(path)
	if err == nil {
		err = ConvertTrajectory(data, t)
	}
	if err != nil {
		agent.Unstructured(t, err)
	}
	return t
}
