package codex

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"sync"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/textx"
)

// Tokens are token counts as Codex reports them. Input includes
// CachedInput and Output includes Reasoning, as in OpenAI's accounting.
type Tokens struct {
	Input       int64
	CachedInput int64
	CacheWrite  int64
	Output      int64
	Reasoning   int64
}

// IsZero reports whether nothing was counted.
func (t Tokens) IsZero() bool { return t == Tokens{} }

// max is the field-wise maximum: every source perfbench reads reports a
// running total of the same spend, so the largest is the latest.
func (t Tokens) max(o Tokens) Tokens {
	return Tokens{
		Input: max(t.Input, o.Input), CachedInput: max(t.CachedInput, o.CachedInput),
		CacheWrite: max(t.CacheWrite, o.CacheWrite), Output: max(t.Output, o.Output),
		Reasoning: max(t.Reasoning, o.Reasoning),
	}
}

func (t Tokens) add(o Tokens) Tokens {
	return Tokens{
		Input: t.Input + o.Input, CachedInput: t.CachedInput + o.CachedInput,
		CacheWrite: t.CacheWrite + o.CacheWrite, Output: t.Output + o.Output,
		Reasoning: t.Reasoning + o.Reasoning,
	}
}

// wireUsage is Codex's usage object: exec --json's turn.completed usage
// (input_tokens, cached_input_tokens, output_tokens) and the session
// log's TokenUsage (plus reasoning_output_tokens, total_tokens and, in
// recent versions, cache_write_input_tokens).
type wireUsage struct {
	InputTokens           int64 `json:"input_tokens"`
	CachedInputTokens     int64 `json:"cached_input_tokens"`
	CacheWriteInputTokens int64 `json:"cache_write_input_tokens"`
	OutputTokens          int64 `json:"output_tokens"`
	ReasoningOutputTokens int64 `json:"reasoning_output_tokens"`
}

func (w *wireUsage) tokens() Tokens {
	if w == nil {
		return Tokens{}
	}
	nonneg := func(v int64) int64 { return max(v, 0) }
	return Tokens{
		Input: nonneg(w.InputTokens), CachedInput: nonneg(w.CachedInputTokens),
		CacheWrite: nonneg(w.CacheWriteInputTokens), Output: nonneg(w.OutputTokens),
		Reasoning: nonneg(w.ReasoningOutputTokens),
	}
}

// tokenInfo is a token_count event's info: the thread's running total and
// the last model response's usage.
type tokenInfo struct {
	Total *wireUsage `json:"total_token_usage"`
	Last  *wireUsage `json:"last_token_usage"`
}

// Item types of exec --json (exec_events.rs ThreadItemDetails). The first
// release of the format (Codex 0.43.0) named the field item_type and the
// agent's message assistant_message.
const (
	ItemAgentMessage     = "agent_message"
	ItemReasoning        = "reasoning"
	ItemCommandExecution = "command_execution"
	ItemFileChange       = "file_change"
	ItemMCPToolCall      = "mcp_tool_call"
	ItemWebSearch        = "web_search"
	ItemTodoList         = "todo_list"
	ItemError            = "error"
)

// execEvent is one line of `codex exec --json` (Codex ≥ 0.43, thread
// events) or of the legacy format of earlier versions ({"id", "msg"}).
type execEvent struct {
	Type     string     `json:"type"`
	ThreadID string     `json:"thread_id"`
	Usage    *wireUsage `json:"usage"`
	Message  string     `json:"message"`
	Error    *struct {
		Message string `json:"message"`
	} `json:"error"`
	Item *execItem `json:"item"`

	// Legacy format.
	Msg *legacyMsg `json:"msg"`
}

type execItem struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	ItemType string `json:"item_type"`
	Text     string `json:"text"`
	Status   string `json:"status"`
	ExitCode *int   `json:"exit_code"`
	Message  string `json:"message"`
}

func (it *execItem) kind() string {
	k := it.Type
	if k == "" {
		k = it.ItemType
	}
	if k == "assistant_message" {
		k = ItemAgentMessage
	}
	return k
}

// legacyMsg is the msg of a legacy event line (Codex < 0.43): the
// protocol's EventMsg.
type legacyMsg struct {
	Type      string     `json:"type"`
	Message   string     `json:"message"`
	SessionID string     `json:"session_id"`
	Model     string     `json:"model"`
	Info      *tokenInfo `json:"info"`
	ExitCode  *int       `json:"exit_code"`
	LastMsg   *string    `json:"last_agent_message"`
	wireUsage            // early token_count: one response's usage, flat
}

// sessionLine is one line of Codex's session log
// ($CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl): a
// RolloutLine {timestamp, type, payload}.
type sessionLine struct {
	Type    string `json:"type"`
	Payload *struct {
		Type       string     `json:"type"`
		ID         string     `json:"id"`
		CLIVersion string     `json:"cli_version"`
		Model      string     `json:"model"`
		Info       *tokenInfo `json:"info"`
	} `json:"payload"`
}

// Stream collects what Codex reports while it runs: its stdout (exec
// --json) and its session log. It is safe for concurrent use; the stdout
// parser and the session log tailer feed it from different goroutines.
type Stream struct {
	mu sync.Mutex

	// limit is the number of model responses allowed (max_iterations; 0
	// = none); onLimit is called once when Codex goes on after that.
	limit   int
	onLimit func()
	armed   bool
	limited bool

	format         string
	threadID       string
	turnsCompleted int
	turnsFailed    int
	turnTokens     Tokens
	sawTurnUsage   bool
	items          map[string]string // item id → type
	legacyItems    map[string]int    // legacy counts by type
	failedCommands int
	errors         int
	lastError      string
	errorLast      bool // no event followed the last error
	failure        string
	lastMessage    string
	unknown        int
	badLines       int

	legacyTotal     Tokens
	legacySum       Tokens
	legacyResponses int
	legacyLast      Tokens
	legacyModel     string
	legacyUsage     bool

	sessionLines     int
	sessionTotal     Tokens
	sessionLastSum   Tokens
	sessionResponses int
	sessionPrev      Tokens
	sessionModel     string
	sessionThread    string
	cliVersion       string
}

// NewStream returns a stream that calls onLimit (once) when Codex starts
// more work after its limit-th model response; limit 0 means no limit.
func NewStream(limit int, onLimit func()) *Stream {
	return &Stream{limit: limit, onLimit: onLimit, items: map[string]string{}, legacyItems: map[string]int{}}
}

// maxText bounds the messages kept for the journal.
const maxText = 500

func clip(s string) string { return textx.Truncate(strings.TrimSpace(s), maxText) }

// StdoutLine parses one line of Codex's stdout. It reports whether the
// usage changed.
func (s *Stream) StdoutLine(line []byte) bool {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return false
	}
	var ev execEvent
	if line[0] != '{' || json.Unmarshal(line, &ev) != nil {
		s.mu.Lock()
		s.badLines++
		s.mu.Unlock()
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Msg != nil {
		return s.legacy(ev.Msg)
	}
	if ev.Type != "" && s.format == "" {
		s.format = "exec-json"
	}
	s.errorLast = ev.Type == "error"
	switch ev.Type {
	case "thread.started":
		s.threadID = ev.ThreadID
	case "turn.started":
	case "turn.completed":
		s.turnsCompleted++
		s.failure = ""
		if ev.Usage != nil {
			s.turnTokens = s.turnTokens.max(ev.Usage.tokens())
			s.sawTurnUsage = true
			return true
		}
	case "turn.failed":
		s.turnsFailed++
		msg := "turn failed"
		if ev.Error != nil && strings.TrimSpace(ev.Error.Message) != "" {
			msg = ev.Error.Message
		}
		s.failure = clip(msg)
	case "error":
		s.errors++
		s.lastError = clip(ev.Message)
	case "item.started", "item.updated", "item.completed":
		if ev.Item == nil {
			s.unknown++
			return false
		}
		s.item(ev.Type, ev.Item)
	default:
		s.unknown++
	}
	return false
}

func (s *Stream) item(evType string, it *execItem) {
	kind := it.kind()
	id := it.ID
	if id == "" {
		id = "?" + evType + kind
	}
	_, seen := s.items[id]
	s.items[id] = kind
	switch kind {
	case ItemAgentMessage:
		if evType == "item.completed" {
			s.lastMessage = clip(it.Text)
			s.activity()
		}
	case ItemReasoning:
		if evType == "item.completed" {
			s.activity()
		}
	case ItemCommandExecution:
		if evType == "item.completed" && (it.Status == "failed" || (it.ExitCode != nil && *it.ExitCode != 0)) {
			s.failedCommands++
		}
		if !seen {
			s.activity()
		}
	case ItemError:
		// A non-fatal warning; counted with the items.
	case ItemTodoList:
	default:
		if !seen {
			s.activity()
		}
	}
}

// legacy parses a legacy event's msg.
func (s *Stream) legacy(m *legacyMsg) bool {
	s.format = "legacy"
	s.errorLast = m.Type == "error" || m.Type == "stream_error"
	switch m.Type {
	case "session_configured":
		if s.threadID == "" {
			s.threadID = m.SessionID
		}
		s.legacyModel = m.Model
	case "token_count":
		var t Tokens
		if m.Info != nil {
			if m.Info.Total == nil {
				return false
			}
			t = m.Info.Total.tokens()
			s.legacyTotal = s.legacyTotal.max(t)
		} else {
			// Early versions reported each response's usage.
			t = m.wireUsage.tokens()
			s.legacySum = s.legacySum.add(t)
			t = s.legacySum
		}
		if t == s.legacyLast {
			return false
		}
		s.legacyLast = t
		s.legacyUsage = true
		s.legacyResponses++
		s.response()
		return true
	case "task_complete":
		s.turnsCompleted++
		s.failure = ""
		if m.LastMsg != nil {
			s.lastMessage = clip(*m.LastMsg)
		}
	case "error":
		s.errors++
		s.lastError = clip(m.Message)
		s.failure = s.lastError
	case "stream_error":
		s.errors++
		s.lastError = clip(m.Message)
	case "agent_message":
		s.legacyItems[ItemAgentMessage]++
		s.lastMessage = clip(m.Message)
		s.activity()
	case "agent_reasoning":
		s.legacyItems[ItemReasoning]++
		s.activity()
	case "exec_command_begin":
		s.legacyItems[ItemCommandExecution]++
		s.activity()
	case "exec_command_end":
		if m.ExitCode != nil && *m.ExitCode != 0 {
			s.failedCommands++
		}
	case "patch_apply_begin":
		s.legacyItems[ItemFileChange]++
		s.activity()
	case "mcp_tool_call_begin":
		s.legacyItems[ItemMCPToolCall]++
		s.activity()
	case "web_search_begin":
		s.legacyItems[ItemWebSearch]++
		s.activity()
	}
	return false
}

// SessionLine parses one line of the session log. It reports whether the
// usage changed.
func (s *Stream) SessionLine(line []byte) bool {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return false
	}
	var l sessionLine
	if json.Unmarshal(line, &l) != nil || l.Payload == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessionLines++
	p := l.Payload
	switch l.Type {
	case "session_meta":
		s.sessionThread = p.ID
		s.cliVersion = p.CLIVersion
	case "turn_context":
		if p.Model != "" {
			s.sessionModel = p.Model
		}
	case "event_msg":
		if p.Type != "token_count" || p.Info == nil {
			// info is null on rate-limit-only updates.
			return false
		}
		var t Tokens
		switch {
		case p.Info.Total != nil:
			t = p.Info.Total.tokens()
			s.sessionTotal = s.sessionTotal.max(t)
		case p.Info.Last != nil:
			s.sessionLastSum = s.sessionLastSum.add(p.Info.Last.tokens())
			t = s.sessionLastSum
		default:
			return false
		}
		// Codex repeats the totals when only its rate limits changed:
		// a model response is a change of the totals.
		if t == s.sessionPrev {
			return false
		}
		s.sessionPrev = t
		s.sessionResponses++
		s.response()
		return true
	}
	return false
}

// responses is the number of model responses seen: from the session log,
// or from the legacy stream's token counts (both count the same).
func (s *Stream) responses() int { return max(s.sessionResponses, s.legacyResponses) }

// response notes a model response for the iteration limit.
func (s *Stream) response() {
	if s.limit <= 0 {
		return
	}
	n := s.responses()
	if n > s.limit {
		s.hitLimit()
	} else if n >= s.limit {
		s.armed = true
	}
}

// activity notes that Codex went on working (a tool call started, a new
// message or reasoning summary arrived): after the limit-th model
// response, that is one step too many.
func (s *Stream) activity() {
	if s.armed {
		s.hitLimit()
	}
}

func (s *Stream) hitLimit() {
	if s.limited || s.completedLocked() {
		return
	}
	s.limited = true
	if s.onLimit != nil {
		s.onLimit()
	}
}

func (s *Stream) completedLocked() bool { return s.turnsCompleted > 0 }

// ThreadID is the thread (session) id, once known.
func (s *Stream) ThreadID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.threadID != "" {
		return s.threadID
	}
	return s.sessionThread
}

// Summary is what a run reported.
type Summary struct {
	// Format is "exec-json" (Codex ≥ 0.43), "legacy" or "".
	Format   string
	ThreadID string
	Tokens   Tokens
	// Source names where the totals come from: "turn.completed",
	// "session log", "token_count" (legacy) or "".
	Source string
	// Responses counts model responses (the session log's or the legacy
	// stream's token counts); 0 when neither was read.
	Responses      int
	TurnsCompleted int
	TurnsFailed    int
	Items          map[string]int
	FailedCommands int
	Errors         int
	LastError      string
	// ErrorLast: nothing followed the last error event.
	ErrorLast bool
	// Failure is the message of the last failed turn (or legacy error)
	// when no completed turn followed it.
	Failure     string
	LastMessage string
	// Model is the model Codex used, from its session log (or the legacy
	// session_configured event).
	Model        string
	CLIVersion   string
	SessionLines int
	Unknown      int
	BadLines     int
	// LimitHit is set when the iteration limit stopped Codex.
	LimitHit bool
}

// Summary returns a snapshot.
func (s *Stream) Summary() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	items := maps.Clone(s.legacyItems)
	for _, kind := range s.items {
		items[kind]++
	}
	sum := Summary{
		Format: s.format, ThreadID: s.threadID,
		Tokens:         s.turnTokens.max(s.sessionTotal).max(s.sessionLastSum).max(s.legacyTotal).max(s.legacySum),
		Responses:      s.responses(),
		TurnsCompleted: s.turnsCompleted, TurnsFailed: s.turnsFailed,
		Items: items, FailedCommands: s.failedCommands,
		Errors: s.errors, LastError: s.lastError, ErrorLast: s.errorLast, LastMessage: s.lastMessage,
		Model: s.sessionModel, CLIVersion: s.cliVersion, SessionLines: s.sessionLines,
		Unknown: s.unknown, BadLines: s.badLines, LimitHit: s.limited,
	}
	if sum.ThreadID == "" {
		sum.ThreadID = s.sessionThread
	}
	if sum.Model == "" {
		sum.Model = s.legacyModel
	}
	sum.Failure = s.failure
	switch {
	case s.sawTurnUsage:
		sum.Source = "turn.completed"
	case !s.sessionTotal.IsZero() || !s.sessionLastSum.IsZero():
		sum.Source = "session log"
	case s.legacyUsage:
		sum.Source = "token_count"
	}
	return sum
}

// Completed reports whether Codex finished its turn (and no failure
// followed).
func (sum Summary) Completed() bool { return sum.TurnsCompleted > 0 && sum.Failure == "" }

// Turns is the usage's turn count: the model responses (the agent loop's
// iterations, what Claude Code's num_turns counts) when the session log
// or legacy stream showed them, else the turns Codex completed or failed
// (one per `codex exec`).
func (sum Summary) Turns() int {
	if sum.Responses > 0 {
		return sum.Responses
	}
	return sum.TurnsCompleted + sum.TurnsFailed
}

// ErrorMessage is the error that ended a run that did not complete: the
// failed turn's message, else the last error event's when nothing
// followed it (Codex reports the retries it recovers from as error
// events too, e.g. "Reconnecting... 1/5"); "" when the run completed.
func (sum Summary) ErrorMessage() string {
	switch {
	case sum.Completed():
		return ""
	case sum.Failure != "":
		return sum.Failure
	case sum.ErrorLast:
		return sum.LastError
	}
	return ""
}

// Classify names the infrastructure failure in a Codex error message:
// agent.Classify's classes, plus ChatGPT plans' usage limits ("You've hit
// your usage limit", usage_limit_reached) as rate limits.
func Classify(msg string) *agent.InfraError {
	if msg == "" {
		return nil
	}
	l := strings.ToLower(msg)
	if strings.Contains(l, "usage limit") || strings.Contains(l, "usage_limit_reached") {
		return &agent.InfraError{Kind: agent.InfraRateLimit, Msg: clip(strings.ReplaceAll(msg, "\n", " "))}
	}
	return agent.Classify(msg)
}
