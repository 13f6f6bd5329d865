package openhands

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
)

// TrajectorySource names what the trajectory is converted from.
const TrajectorySource = "openhands events"

// trajEvent is the part of a serialized OpenHands event the trajectory
// reads (Event has what the summary needs).
type trajEvent struct {
	ID          *int64                     `json:"id"`
	Timestamp   string                     `json:"timestamp"`
	Source      string                     `json:"source"`
	Action      string                     `json:"action"`
	Observation string                     `json:"observation"`
	Message     string                     `json:"message"`
	Content     string                     `json:"content"`
	Cause       *int64                     `json:"cause"`
	Args        map[string]json.RawMessage `json:"args"`
	Extras      eventExtras                `json:"extras"`
	LLMMetrics  *LLMMetrics                `json:"llm_metrics"`
	ToolCall    *struct {
		FunctionName string `json:"function_name"`
		ToolCallID   string `json:"tool_call_id"`
	} `json:"tool_call_metadata"`
}

// ConvertEvents reads OpenHands' trajectory and event store under dir
// (as Parse does, links never followed) into t: the system prompt, the
// user's and the agent's messages and thoughts, every action as a tool
// call (a run action's command as the step's command) and every
// observation as its result, errors as errors; in event id order, each
// event once, at its timestamp. An action's tokens and cost are the
// growth of the accumulated metrics since the previous action's.
func ConvertEvents(dir string, t *records.Trajectory) *records.Trajectory {
	byID := map[int64]*trajEvent{}
	var noID []*trajEvent
	add := func(evs []*trajEvent) {
		for _, e := range evs {
			if e.ID == nil {
				noID = append(noID, e)
			} else if byID[*e.ID] == nil {
				byID[*e.ID] = e
			}
		}
	}
	// The event store first: it is complete where a trajectory was not
	// saved (a killed run).
	evs, err := readTrajEventStore(filepath.Dir(dir), filepath.Join(dir, "file_store"))
	if err != nil {
		t.Warn("%v", err)
	}
	add(evs)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		evs, err := readTrajFile(f)
		if err != nil {
			t.Warn("%v", err)
			continue
		}
		add(evs)
	}
	ids := make([]int64, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	c := &eventConverter{t: t}
	for _, id := range ids {
		c.event(byID[id])
	}
	for _, e := range noID {
		c.event(e)
	}
	return t
}

type eventConverter struct {
	t    *records.Trajectory
	prev *LLMMetrics
}

func argString(args map[string]json.RawMessage, name string) string {
	var s string
	if json.Unmarshal(args[name], &s) == nil {
		return s
	}
	return ""
}

// skipActions are actions that are not the agent's doing.
var skipActions = map[string]bool{"recall": true, "change_agent_state": true, "null": true}

// skipObservations are observations that are not a tool's result.
var skipObservations = map[string]bool{"recall": true, "agent_state_changed": true, "null": true}

func (c *eventConverter) event(e *trajEvent) {
	at := agent.ParseTime(e.Timestamp)
	role := records.RoleAgent
	if e.Source == "user" {
		role = records.RoleUser
	}
	switch {
	case e.Action != "":
		if skipActions[e.Action] {
			return
		}
		first := len(c.t.Steps)
		switch e.Action {
		case "system":
			if v := argString(e.Args, "openhands_version"); v != "" {
				c.t.AgentVersion = v
			}
			c.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleSystem, Text: argString(e.Args, "content"), Time: at})
		case "message":
			text := argString(e.Args, "content")
			if text == "" {
				text = e.Message
			}
			c.t.Append(records.Step{Kind: records.StepMessage, Role: role, Text: text, Time: at})
		case "think":
			c.t.Append(records.Step{Kind: records.StepMessage, Role: role, Text: argString(e.Args, "thought"), Time: at})
		case "finish":
			text := argString(e.Args, "final_thought")
			if text == "" {
				text = argString(e.Args, "thought")
			}
			c.t.Append(records.Step{Kind: records.StepMessage, Role: role, Text: text, Time: at})
		default:
			if th := argString(e.Args, "thought"); th != "" {
				c.t.Append(records.Step{Kind: records.StepMessage, Role: role, Text: th, Time: at})
			}
			s := records.Step{Kind: records.StepToolCall, Role: role, Tool: e.Action, CallID: callID(e, e.ID), Time: at}
			if e.ToolCall != nil && e.ToolCall.FunctionName != "" {
				s.Tool = e.ToolCall.FunctionName
			}
			switch e.Action {
			case "run":
				s.Command = argString(e.Args, "command")
			case "run_ipython":
				s.Command = argString(e.Args, "code")
			}
			if in, err := json.Marshal(e.Args); err == nil && e.Args != nil {
				s.Input = string(in)
			}
			c.t.Append(s)
		}
		c.metrics(e, first)
	case e.Observation == "agent_state_changed":
		// The state's reason is the error that ended the agent.
		if e.Extras.AgentState == StateError && e.Extras.Reason != "" {
			c.t.Append(records.Step{Kind: records.StepError, Role: records.RoleSystem, Text: e.Extras.Reason, Time: at})
		}
	case e.Observation != "":
		if skipObservations[e.Observation] {
			return
		}
		if e.Observation == "error" {
			c.t.Append(records.Step{Kind: records.StepError, Role: records.RoleSystem, Text: nonEmpty(e.Content, e.Message), Time: at})
			return
		}
		c.t.Append(records.Step{Kind: records.StepToolResult, Role: records.RoleTool, Tool: e.Observation, CallID: callID(e, e.Cause), Output: e.Content, Time: at})
	}
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// callID ties an observation to its action: the tool call's id when
// the LLM gave one, else the action's event id (an observation's cause).
func callID(e *trajEvent, id *int64) string {
	if e.ToolCall != nil && e.ToolCall.ToolCallID != "" {
		return e.ToolCall.ToolCallID
	}
	if id != nil {
		return "event-" + strconv.FormatInt(*id, 10)
	}
	return ""
}

// metrics gives the first step of an action the growth of the
// accumulated metrics since the last action that carried them.
func (c *eventConverter) metrics(e *trajEvent, first int) {
	m := e.LLMMetrics
	if m == nil || first >= len(c.t.Steps) {
		return
	}
	var prev LLMMetrics
	if c.prev != nil {
		prev = *c.prev
	}
	c.prev = m
	s := &c.t.Steps[first]
	s.CostUSD = max(m.AccumulatedCost-prev.AccumulatedCost, 0)
	if u := m.AccumulatedTokenUsage; u != nil {
		var p TokenUsage
		if prev.AccumulatedTokenUsage != nil {
			p = *prev.AccumulatedTokenUsage
		}
		s.Tokens = &records.StepTokens{
			Input: max(u.PromptTokens-p.PromptTokens, 0), Output: max(u.CompletionTokens-p.CompletionTokens, 0),
			CacheRead: max(u.CacheReadTokens-p.CacheReadTokens, 0), CacheWrite: max(u.CacheWriteTokens-p.CacheWriteTokens, 0),
		}
	}
}

// readTrajFile reads a saved trajectory (a list of events, or an object
// holding it under "trajectory" or "history"), not following a link.
func readTrajFile(path string) ([]*trajEvent, error) {
	data, err := agent.ReadAgentFile(path)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	if data[0] == '{' {
		var wrap map[string]json.RawMessage
		if err := json.Unmarshal(data, &wrap); err != nil {
			return nil, fmt.Errorf("trajectory %s: %w", filepath.Base(path), err)
		}
		for _, k := range []string{"trajectory", "history"} {
			if raw, ok := wrap[k]; ok {
				data = raw
				break
			}
		}
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("trajectory %s: %w", filepath.Base(path), err)
	}
	var evs []*trajEvent
	for _, r := range raws {
		e := &trajEvent{}
		if json.Unmarshal(r, e) == nil {
			evs = append(evs, e)
		}
	}
	return evs, nil
}

// readTrajEventStore reads every events/<n>.json under root inside an
// os.Root (as readEventStore does); an unreadable file is skipped.
func readTrajEventStore(base, root string) ([]*trajEvent, error) {
	r, err := fsx.OpenRootUnder(base, root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("event store: %w", err)
	}
	defer r.Close()
	var evs []*trajEvent
	err = fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() || path.Base(path.Dir(p)) != "events" {
			return nil
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(d.Name(), ".json"), 10, 64)
		if err != nil {
			return nil
		}
		data, err := readIn(r, p)
		if err != nil {
			return nil
		}
		e := &trajEvent{}
		if json.Unmarshal(data, e) != nil {
			return nil
		}
		if e.ID == nil {
			e.ID = &n
		}
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		return evs, fmt.Errorf("event store: %w", err)
	}
	return evs, nil
}
