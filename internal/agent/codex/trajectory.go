package codex

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/records"
)

// Trajectory sources.
const (
	SourceExecJSON   = "exec --json stdout"
	SourceSessionLog = "session log"
)

// ExecTrajectory converts the exec --json events of stdout as they
// arrive: agent messages and reasoning summaries are messages, a command
// execution a shell call (when it starts) and its aggregated output (when
// it completes), file changes, MCP tool calls and web searches tool
// calls, errors and failed turns errors. The events carry no time: steps
// are stamped when their line arrives. The legacy format has no items
// and converts to nothing.
type ExecTrajectory struct {
	mu      sync.Mutex
	t       *records.Trajectory
	now     func() time.Time
	started map[string]bool // command items whose call is recorded
	bad     int
}

// NewExecTrajectory converts into t, stamping steps with now.
func NewExecTrajectory(t *records.Trajectory, now func() time.Time) *ExecTrajectory {
	return &ExecTrajectory{t: t, now: now, started: map[string]bool{}}
}

// trajItem is the part of an exec item the trajectory reads.
type trajItem struct {
	ID               string          `json:"id"`
	Type             string          `json:"type"`
	ItemType         string          `json:"item_type"`
	Text             string          `json:"text"`
	Command          string          `json:"command"`
	AggregatedOutput string          `json:"aggregated_output"`
	ExitCode         *int            `json:"exit_code"`
	Status           string          `json:"status"`
	Changes          json.RawMessage `json:"changes"`
	Server           string          `json:"server"`
	Tool             string          `json:"tool"`
	Arguments        json.RawMessage `json:"arguments"`
	Result           json.RawMessage `json:"result"`
	Error            json.RawMessage `json:"error"`
	Query            string          `json:"query"`
	Message          string          `json:"message"`
}

func (it *trajItem) kind() string {
	return (&execItem{Type: it.Type, ItemType: it.ItemType}).kind()
}

// Line converts one stdout line.
func (c *ExecTrajectory) Line(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var e struct {
		Type     string    `json:"type"`
		ThreadID string    `json:"thread_id"`
		Message  string    `json:"message"`
		Item     *trajItem `json:"item"`
		Error    *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if json.Unmarshal(line, &e) != nil {
		c.bad++
		return
	}
	now := c.now()
	switch e.Type {
	case "thread.started":
		c.t.SessionID = e.ThreadID
	case "item.started":
		if it := e.Item; it != nil && it.kind() == ItemCommandExecution && !c.started[it.ID] {
			c.started[it.ID] = true
			c.t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "shell", CallID: it.ID, Command: agent.ShellCommand(shellWords(it.Command)), Input: it.Command, Time: now})
		}
	case "item.completed":
		if e.Item != nil {
			c.item(e.Item, now)
		}
	case "turn.failed":
		if e.Error != nil {
			c.t.Append(records.Step{Kind: records.StepError, Role: records.RoleSystem, Text: e.Error.Message, Time: now})
		}
	case "error":
		c.t.Append(records.Step{Kind: records.StepError, Role: records.RoleSystem, Text: e.Message, Time: now})
	}
}

func (c *ExecTrajectory) item(it *trajItem, now time.Time) {
	switch it.kind() {
	case ItemAgentMessage, ItemReasoning:
		c.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: it.Text, Time: now})
	case ItemCommandExecution:
		if !c.started[it.ID] {
			c.started[it.ID] = true
			c.t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "shell", CallID: it.ID, Command: agent.ShellCommand(shellWords(it.Command)), Input: it.Command, Time: now})
		}
		c.t.Append(records.Step{Kind: records.StepToolResult, Role: records.RoleTool, Tool: "shell", CallID: it.ID, Output: it.AggregatedOutput, Time: now})
	case ItemFileChange:
		c.t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "file_change", CallID: it.ID, Input: `{"changes":` + rawOr(it.Changes, "[]") + `}`, Time: now})
	case ItemMCPToolCall:
		c.t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: it.Server + "." + it.Tool, CallID: it.ID, Input: rawOr(it.Arguments, ""), Time: now})
		out := rawOr(it.Result, "")
		if e := rawOr(it.Error, "null"); e != "null" {
			out = e
		}
		c.t.Append(records.Step{Kind: records.StepToolResult, Role: records.RoleTool, Tool: it.Server + "." + it.Tool, CallID: it.ID, Output: out, Time: now})
	case ItemWebSearch:
		q, _ := json.Marshal(map[string]string{"query": it.Query})
		c.t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "web_search", CallID: it.ID, Input: string(q), Time: now})
	case ItemError:
		c.t.Append(records.Step{Kind: records.StepError, Role: records.RoleSystem, Text: it.Message, Time: now})
	}
}

func rawOr(raw json.RawMessage, def string) string {
	if len(raw) == 0 {
		return def
	}
	return string(raw)
}

// shellWords splits Codex's displayed command ("bash -lc 'sh bench.sh'")
// into the argv it ran, undoing the single quotes of its shlex join; a
// command it cannot split is one word.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case in:
			if ch == '\'' {
				in = false
			} else {
				cur.WriteByte(ch)
			}
		case ch == '\'':
			in, quoted = true, true
		case ch == ' ':
			if cur.Len() > 0 || quoted {
				words = append(words, cur.String())
				cur.Reset()
				quoted = false
			}
		default:
			cur.WriteByte(ch)
		}
	}
	if in {
		return []string{s}
	}
	if cur.Len() > 0 || quoted {
		words = append(words, cur.String())
	}
	return words
}

// Result is the trajectory converted so far.
func (c *ExecTrajectory) Result() *records.Trajectory {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bad > 0 {
		c.t.Warn("%d stdout lines were not JSON events", c.bad)
		c.bad = 0
	}
	return c.t
}

// SessionTrajectory converts Codex's session log, a RolloutLine a line:
// the user's and the agent's messages and reasoning (event_msg
// user_message, agent_message, agent_reasoning), the tool calls
// (response_item function_call, custom_tool_call, local_shell_call,
// web_search_call) and their outputs, errors; each step at the line's
// timestamp. A token_count's last_token_usage (the response just ended)
// goes to the first step of that response.
type SessionTrajectory struct {
	t         *records.Trajectory
	respStart int
	lastTotal *wireUsage
	bad       int
}

// NewSessionTrajectory converts into t.
func NewSessionTrajectory(t *records.Trajectory) *SessionTrajectory {
	return &SessionTrajectory{t: t}
}

// Line converts one line of the session log.
func (c *SessionTrajectory) Line(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var l struct {
		Timestamp string `json:"timestamp"`
		Type      string `json:"type"`
		Payload   *struct {
			Type       string          `json:"type"`
			ID         string          `json:"id"`
			CLIVersion string          `json:"cli_version"`
			Message    string          `json:"message"`
			Text       string          `json:"text"`
			Name       string          `json:"name"`
			Arguments  string          `json:"arguments"`
			Input      string          `json:"input"`
			CallID     string          `json:"call_id"`
			Output     json.RawMessage `json:"output"`
			Action     json.RawMessage `json:"action"`
			Info       *tokenInfo      `json:"info"`
		} `json:"payload"`
	}
	if json.Unmarshal(line, &l) != nil || l.Payload == nil {
		c.bad++
		return
	}
	p := l.Payload
	at := agent.ParseTime(l.Timestamp)
	switch l.Type {
	case "session_meta":
		c.t.SessionID, c.t.AgentVersion = p.ID, p.CLIVersion
	case "event_msg":
		switch p.Type {
		case "user_message":
			c.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleUser, Text: p.Message, Time: at})
		case "agent_message":
			c.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: p.Message, Time: at})
		case "agent_reasoning":
			c.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: p.Text, Time: at})
		case "error", "stream_error":
			c.t.Append(records.Step{Kind: records.StepError, Role: records.RoleSystem, Text: p.Message, Time: at})
		case "token_count":
			c.tokens(p.Info)
		}
	case "response_item":
		switch p.Type {
		case "function_call":
			s := records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: p.Name, CallID: p.CallID, Input: p.Arguments, Time: at}
			var args struct {
				Command json.RawMessage `json:"command"`
				Cmd     string          `json:"cmd"`
			}
			if json.Unmarshal([]byte(p.Arguments), &args) == nil {
				s.Command = commandOf(args.Command, args.Cmd)
			}
			c.t.Append(s)
		case "custom_tool_call":
			c.t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: p.Name, CallID: p.CallID, Input: p.Input, Time: at})
		case "local_shell_call":
			var a struct {
				Command []string `json:"command"`
			}
			json.Unmarshal(p.Action, &a)
			c.t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "local_shell", CallID: p.CallID, Command: agent.ShellCommand(a.Command), Input: rawOr(p.Action, ""), Time: at})
		case "web_search_call":
			c.t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "web_search", Input: rawOr(p.Action, ""), Time: at})
		case "function_call_output", "custom_tool_call_output":
			c.t.Append(records.Step{Kind: records.StepToolResult, Role: records.RoleTool, CallID: p.CallID, Output: outputText(p.Output), Time: at})
		}
	}
}

// commandOf is a shell call's command: an argv (["bash","-lc","make"])
// or a string.
func commandOf(raw json.RawMessage, cmd string) string {
	var argv []string
	if json.Unmarshal(raw, &argv) == nil && len(argv) > 0 {
		return agent.ShellCommand(argv)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return s
	}
	return cmd
}

// outputText is a function call's output: a string, itself often the
// JSON {"output": ..., "metadata": ...} of a shell call, whose output is
// then the text.
func outputText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var o struct {
			Content string `json:"content"`
		}
		if json.Unmarshal(raw, &o) == nil && o.Content != "" {
			return o.Content
		}
		return rawOr(raw, "")
	}
	var sh struct {
		Output *string `json:"output"`
	}
	if json.Unmarshal([]byte(s), &sh) == nil && sh.Output != nil {
		return *sh.Output
	}
	return s
}

// tokens gives a response's usage to its first step; Codex repeats a
// token_count when only its rate limits changed, which is skipped.
func (c *SessionTrajectory) tokens(info *tokenInfo) {
	if info == nil || info.Last == nil {
		return
	}
	if info.Total != nil && c.lastTotal != nil && *info.Total == *c.lastTotal {
		return
	}
	c.lastTotal = info.Total
	if c.respStart >= len(c.t.Steps) {
		return
	}
	tk := info.Last.tokens()
	c.t.Steps[c.respStart].Tokens = &records.StepTokens{Input: tk.Input, Output: tk.Output, CacheRead: tk.CachedInput, CacheWrite: tk.CacheWrite}
	c.respStart = len(c.t.Steps)
}

// Result is the trajectory converted.
func (c *SessionTrajectory) Result() *records.Trajectory {
	if c.bad > 0 {
		c.t.Warn("%d session log lines were not read", c.bad)
		c.bad = 0
	}
	return c.t
}

// trajectory is the richer of the two conversions (the one with more
// steps): the session log has times and per-response tokens, stdout the
// commands' output and file changes, and either may be missing or cut
// short when Codex was killed.
func trajectory(r *agent.Rollout, exec *ExecTrajectory, logPath string) *records.Trajectory {
	best := exec.Result()
	if logPath == "" {
		return best
	}
	st := NewSessionTrajectory(r.NewTrajectory(SourceSessionLog))
	if err := agent.ReadLines(logPath, st.Line); err != nil {
		best.Warn("reading the session log: %v", err)
		return best
	}
	if s := st.Result(); len(s.Steps) > len(best.Steps) {
		return s
	}
	if best.SessionID == "" {
		best.SessionID = st.t.SessionID
	}
	best.AgentVersion = st.t.AgentVersion
	return best
}
