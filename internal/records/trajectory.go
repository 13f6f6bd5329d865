package records

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// TrajectorySchemaVersion of trajectory.json.
const TrajectorySchemaVersion = 1

// Bounds of a trajectory: each adapter's conversion goes through Append,
// which applies them, so that a trajectory.json stays a few MiB however
// long or chatty the rollout was (the raw logs keep the rest).
const (
	// MaxTrajectorySteps is the number of steps kept; later ones are
	// counted in StepsDropped.
	MaxTrajectorySteps = 5000
	// MaxStepTextBytes bounds a step's Text and Input.
	MaxStepTextBytes = 4096
	// MaxStepCommandBytes bounds a step's Command.
	MaxStepCommandBytes = 4096
	// MaxStepOutputBytes bounds a step's Output excerpt.
	MaxStepOutputBytes = 2048
	// MaxStepToolBytes bounds a step's Tool, CallID and Role.
	MaxStepToolBytes = 128
)

// StepKind is what a step of a trajectory is.
type StepKind string

// Step kinds.
const (
	// StepMessage is text: the agent's reply or reasoning, the user's
	// prompt, a system message.
	StepMessage StepKind = "message"
	// StepToolCall is an action the agent asked for: a shell command, a
	// file edit, any tool with its input.
	StepToolCall StepKind = "tool_call"
	// StepToolResult is what a tool call gave back (Output).
	StepToolResult StepKind = "tool_result"
	// StepError is an error the agent or its runtime reported.
	StepError StepKind = "error"
)

// Step roles: who produced a step.
const (
	RoleAgent  = "agent"
	RoleUser   = "user"
	RoleSystem = "system"
	RoleTool   = "tool"
)

// Trajectory is an item's trajectory.json: what the agent did, converted
// by its adapter from what the agent leaves (an event stream, a
// trajectory file, a chat history) into one model that the forensic
// scans read and that `bench export atif` writes out. Secrets are
// scrubbed and every text field is bounded.
type Trajectory struct {
	SchemaVersion int         `json:"schema_version"`
	Agent         RunAgentRef `json:"agent"`
	// AgentVersion is the agent's version when the adapter knows it.
	AgentVersion string `json:"agent_version,omitempty"`
	// SessionID is the agent's own id of the session, if any.
	SessionID string `json:"session_id,omitempty"`
	// Structured is false when the agent left no structure (a command
	// agent's stdout): Steps is then empty or a single message, and the
	// scans read the raw logs (the journal's logs) instead.
	Structured bool `json:"structured"`
	// Source says what was converted ("stream-json stdout",
	// "out/trajectory.json", ...).
	Source string `json:"source,omitempty"`
	Steps  []Step `json:"steps"`
	// StepsDropped counts the steps past MaxTrajectorySteps.
	StepsDropped int `json:"steps_dropped,omitempty"`
	// Usage is the rollout's total as the journal records it.
	Usage *Usage `json:"usage,omitempty"`
	// Warnings say what of the agent's files could not be read (a
	// malformed line, a missing file); the conversion keeps the rest.
	Warnings []string `json:"warnings,omitempty"`

	// scrub, when set, is applied to every text before it is bounded:
	// a secret cut in half by an excerpt would not be found afterwards.
	scrub func(string) string
	// observe, when set, is given each step that the bounds cut (see
	// SetObserve).
	observe func(Step)
}

// SetObserve makes Append give f every step whose command or input the
// bounds would cut, and every step dropped past MaxTrajectorySteps, whole
// (scrubbed, numbered where it would have been): the agent chooses what
// the bounds cut, so the leak scan must see it before they do.
func (t *Trajectory) SetObserve(f func(Step)) { t.observe = f }

// SetScrub makes Append and Warn scrub every text with f (secrets.Set's
// ScrubString) before bounding it.
func (t *Trajectory) SetScrub(f func(string) string) { t.scrub = f }

// Scrub applies f to every text of the trajectory in place: the last
// pass before it is written, for what was set without Append.
func (t *Trajectory) Scrub(f func(string) string) {
	if f == nil {
		return
	}
	t.AgentVersion, t.SessionID, t.Source = f(t.AgentVersion), f(t.SessionID), f(t.Source)
	t.Agent.Name, t.Agent.Model = f(t.Agent.Name), f(t.Agent.Model)
	for i := range t.Warnings {
		t.Warnings[i] = f(t.Warnings[i])
	}
	for i := range t.Steps {
		s := &t.Steps[i]
		for _, p := range []*string{&s.Role, &s.Tool, &s.CallID, &s.Command, &s.Input, &s.Text, &s.Output} {
			*p = f(*p)
		}
	}
}

// Step is one step of a trajectory.
type Step struct {
	// Index is the step's position in Steps, from 0.
	Index int      `json:"index"`
	Kind  StepKind `json:"kind"`
	// Role is who produced it (RoleAgent, RoleUser, RoleSystem, RoleTool).
	Role string `json:"role,omitempty"`
	// Tool is the tool's name for tool calls and results ("Bash",
	// "str_replace_editor", "shell").
	Tool string `json:"tool,omitempty"`
	// CallID ties a tool result to its call when the agent says so.
	CallID string `json:"call_id,omitempty"`
	// Command is the shell command of a tool call that runs one.
	Command string `json:"command,omitempty"`
	// Input is a tool call's input (its arguments as JSON text when the
	// agent gives them so).
	Input string `json:"input,omitempty"`
	// Text is a message's or an error's text.
	Text string `json:"text,omitempty"`
	// Output is an excerpt of a tool result's output (head and tail).
	Output string `json:"output,omitempty"`
	// OutputBytes is the size of the output before it was bounded.
	OutputBytes int `json:"output_bytes,omitempty"`
	// Truncated is true when any field of the step was bounded.
	Truncated bool        `json:"truncated,omitempty"`
	Tokens    *StepTokens `json:"tokens,omitempty"`
	CostUSD   float64     `json:"cost_usd,omitempty"`
	Time      time.Time   `json:"time,omitzero"`
}

// StepTokens are a step's tokens, where the agent reports them per step.
type StepTokens struct {
	Input      int64 `json:"input,omitempty"`
	Output     int64 `json:"output,omitempty"`
	CacheRead  int64 `json:"cache_read,omitempty"`
	CacheWrite int64 `json:"cache_write,omitempty"`
}

// Append adds s to the trajectory: it numbers it, bounds its fields and
// drops it (counting it) past MaxTrajectorySteps. Converters build
// trajectories only through it, which is what keeps the bounds true.
func (t *Trajectory) Append(s Step) {
	dropped := len(t.Steps) >= MaxTrajectorySteps
	if dropped && t.observe == nil {
		t.StepsDropped++
		return
	}
	s.Index = len(t.Steps) + t.StepsDropped
	if s.OutputBytes == 0 {
		s.OutputBytes = len(s.Output)
	}
	if t.scrub != nil {
		for _, p := range []*string{&s.Role, &s.Tool, &s.CallID, &s.Command, &s.Input, &s.Text, &s.Output} {
			*p = t.scrub(*p)
		}
	}
	if t.observe != nil && (dropped || len(s.Command) > MaxStepCommandBytes || len(s.Input) > MaxStepTextBytes) {
		t.observe(s)
	}
	if dropped {
		t.StepsDropped++
		return
	}
	var cut [6]bool
	s.Role, cut[0] = Excerpt(s.Role, MaxStepToolBytes)
	s.Tool, cut[1] = Excerpt(s.Tool, MaxStepToolBytes)
	s.CallID, cut[2] = Excerpt(s.CallID, MaxStepToolBytes)
	s.Command, cut[3] = Excerpt(s.Command, MaxStepCommandBytes)
	s.Input, cut[4] = Excerpt(s.Input, MaxStepTextBytes)
	s.Text, cut[5] = Excerpt(s.Text, MaxStepTextBytes)
	var outCut bool
	s.Output, outCut = Excerpt(s.Output, MaxStepOutputBytes)
	s.Truncated = s.Truncated || outCut || cut != [6]bool{}
	if s.Kind == "" {
		s.Kind = StepMessage
	}
	t.Steps = append(t.Steps, s)
}

// Warn records a problem of the conversion, at most 20 of them.
func (t *Trajectory) Warn(format string, args ...any) {
	const maxWarnings = 20
	if len(t.Warnings) < maxWarnings {
		w := fmt.Sprintf(format, args...)
		if t.scrub != nil {
			w = t.scrub(w)
		}
		w, _ = Excerpt(w, 512)
		t.Warnings = append(t.Warnings, w)
	}
}

// Excerpt bounds s to about max bytes of valid UTF-8: the head and the
// tail, with a marker saying how much was left out in between (a
// command's error is usually at the end of its output, what it was run
// on at the start). It reports whether s was cut.
func Excerpt(s string, max int) (string, bool) {
	if !utf8.ValidString(s) {
		s = toValidUTF8(s)
	}
	if len(s) <= max {
		return s, false
	}
	marker := fmt.Sprintf("\n[... %d bytes elided ...]\n", len(s))
	room := max - len(marker)
	if room < 8 {
		return truncUTF8(s, max), true
	}
	headN := room * 2 / 3
	head := truncUTF8(s, headN)
	tail := tailUTF8(s, room-len(head))
	return head + fmt.Sprintf("\n[... %d bytes elided ...]\n", len(s)-len(head)-len(tail)) + tail, true
}

// truncUTF8 is the longest prefix of s of at most n bytes that ends on a
// rune boundary.
func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// tailUTF8 is the longest suffix of s of at most n bytes that starts on
// a rune boundary.
func tailUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

// toValidUTF8 replaces invalid bytes so that JSON keeps the text as is
// (encoding/json would replace them silently otherwise).
func toValidUTF8(s string) string {
	b := make([]byte, 0, len(s))
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[:n]...)
		}
		s = s[n:]
	}
	return string(b)
}

// CheckBounds reports the first way t breaks the bounds Append keeps: for
// the converters' tests and fuzzing.
func (t *Trajectory) CheckBounds() error {
	if len(t.Steps) > MaxTrajectorySteps {
		return fmt.Errorf("%d steps, at most %d", len(t.Steps), MaxTrajectorySteps)
	}
	if len(t.Warnings) > 20 {
		return fmt.Errorf("%d warnings", len(t.Warnings))
	}
	for i, s := range t.Steps {
		if s.Index != i {
			return fmt.Errorf("step %d has index %d", i, s.Index)
		}
		switch s.Kind {
		case StepMessage, StepToolCall, StepToolResult, StepError:
		default:
			return fmt.Errorf("step %d: kind %q", i, s.Kind)
		}
		for _, f := range []struct {
			name string
			v    string
			max  int
		}{
			{"role", s.Role, MaxStepToolBytes}, {"tool", s.Tool, MaxStepToolBytes}, {"call_id", s.CallID, MaxStepToolBytes},
			{"command", s.Command, MaxStepCommandBytes}, {"input", s.Input, MaxStepTextBytes},
			{"text", s.Text, MaxStepTextBytes}, {"output", s.Output, MaxStepOutputBytes},
		} {
			if len(f.v) > f.max {
				return fmt.Errorf("step %d: %s of %d bytes, at most %d", i, f.name, len(f.v), f.max)
			}
			if !utf8.ValidString(f.v) {
				return fmt.Errorf("step %d: %s is not UTF-8", i, f.name)
			}
		}
	}
	return nil
}
