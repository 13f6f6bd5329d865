package aider

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/records"
)

// TrajectorySource names what the trajectory is converted from.
const TrajectorySource = "out/" + ChatHistoryFile

var (
	historyStartRE = regexp.MustCompile(`^# aider chat started at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)`)
	appliedRE      = regexp.MustCompile(`^Applied edit to (.+)$`)
)

// ConvertHistory converts aider's chat history (--chat-history-file,
// markdown as aider's InputOutput.append_chat_history writes it) into t:
// "#### " lines are the user's message, "> " lines aider's own output
// (its tool output and errors), everything else the model's reply. In
// aider's output, "Running CMD" is a shell command aider ran (the lines
// up to the next command its output), "Applied edit to FILE" an edit,
// "Tokens: ..." the tokens of the reply before it, and what the
// LiteLLM errors say an error; other lines are system messages. The
// history has one timestamp, at the start of each session, given to that
// session's first step.
func ConvertHistory(data []byte, t *records.Trajectory) {
	h := &history{t: t, lastReply: -1}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		h.line(sc.Text())
	}
	if sc.Err() != nil {
		t.Warn("%s: %v", TrajectorySource, sc.Err())
	}
	h.flush()
}

type history struct {
	t *records.Trajectory
	// kind of the block being collected: 'u' user, 'a' reply, 'q' quote.
	kind  byte
	lines []string
	at    time.Time
	// lastReply is the index of the last reply step, for its tokens (-1:
	// none yet).
	lastReply int
	calls     int
}

func (h *history) line(l string) {
	if m := historyStartRE.FindStringSubmatch(l); m != nil {
		h.flush()
		h.at, _ = time.ParseInLocation("2006-01-02 15:04:05", m[1], time.Local)
		h.at = h.at.UTC()
		return
	}
	var k byte
	text := l
	switch {
	case strings.HasPrefix(l, "#### ") || l == "####":
		k, text = 'u', strings.TrimPrefix(strings.TrimPrefix(l, "####"), " ")
	case strings.HasPrefix(l, "> ") || l == ">":
		k, text = 'q', strings.TrimPrefix(strings.TrimPrefix(l, ">"), " ")
	default:
		k = 'a'
	}
	text = strings.TrimSuffix(text, "  ") // append_chat_history's line breaks
	if k == 'q' {
		h.quote(text)
		return
	}
	if k != h.kind {
		h.flush()
		h.kind = k
	}
	h.lines = append(h.lines, text)
}

// stamp is the time of the next step: the session's start, once.
func (h *history) stamp() time.Time {
	at := h.at
	h.at = time.Time{}
	return at
}

// flush ends the block of user or reply lines being collected.
func (h *history) flush() {
	text := strings.TrimSpace(strings.Join(h.lines, "\n"))
	kind := h.kind
	h.lines, h.kind = h.lines[:0], 0
	if text == "" {
		return
	}
	switch kind {
	case 'u':
		h.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleUser, Text: text, Time: h.stamp()})
	case 'a':
		h.lastReply = len(h.t.Steps)
		h.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: text, Time: h.stamp()})
	case 'r':
		// A command's output.
		h.t.Append(records.Step{Kind: records.StepToolResult, Role: records.RoleTool, Tool: "shell", CallID: h.callID(), Output: text, Time: h.stamp()})
	}
}

func (h *history) callID() string { return "aider-shell-" + strconv.Itoa(h.calls) }

// quote handles one line of aider's own output.
func (h *history) quote(text string) {
	if h.kind != 'r' {
		h.flush()
	}
	switch {
	case strings.HasPrefix(text, "Running "):
		h.flush()
		h.calls++
		cmd := strings.TrimPrefix(text, "Running ")
		h.t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "shell", CallID: h.callID(), Command: cmd, Time: h.stamp()})
		h.kind = 'r'
		return
	case h.kind == 'r' && !strings.HasPrefix(text, "Tokens: ") && !appliedRE.MatchString(text) && !isQuestion(text):
		h.lines = append(h.lines, text)
		return
	}
	h.flush()
	switch m := appliedRE.FindStringSubmatch(text); {
	case m != nil:
		h.t.Append(records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "edit", Input: jsonObject("path", m[1]), Time: h.stamp()})
	case tokensRE.MatchString(text):
		h.tokens(text)
	case litellmRE.MatchString(text) || strings.Contains(text, "Error:"):
		h.t.Append(records.Step{Kind: records.StepError, Role: records.RoleSystem, Text: text, Time: h.stamp()})
	case strings.TrimSpace(text) != "":
		h.t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleSystem, Text: text, Time: h.stamp()})
	}
}

// tokens gives a usage report's counts to the reply before it.
func (h *history) tokens(text string) {
	m := tokensRE.FindStringSubmatch(text)
	if h.lastReply < 0 || h.lastReply >= len(h.t.Steps) || h.t.Steps[h.lastReply].Kind != records.StepMessage {
		return
	}
	n := func(s string) int64 {
		if s == "" {
			return 0
		}
		v, _, _ := parseTokens(s)
		return v
	}
	h.t.Steps[h.lastReply].Tokens = &records.StepTokens{Input: n(m[1]), CacheWrite: n(m[2]), CacheRead: n(m[3]), Output: n(m[4])}
}

// isQuestion is a confirmation aider asked (and --yes-always answered).
func isQuestion(text string) bool { return strings.Contains(text, "(Y)es/(N)o") }

func jsonObject(k, v string) string {
	b, _ := json.Marshal(map[string]string{k: v})
	return string(b)
}

// trajectory is the outcome's trajectory: the chat history, or without
// one an unstructured trajectory (the scans then read aider's stdout).
func trajectory(r *agent.Rollout) *records.Trajectory {
	t := r.NewTrajectory(TrajectorySource)
	data, err := agent.ReadAgentFile(filepath.Join(r.OutDir, ChatHistoryFile))
	if err != nil {
		agent.Unstructured(t, err)
		return t
	}
	ConvertHistory(data, t)
	return t
}
