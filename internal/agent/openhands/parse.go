package openhands

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Final states recorded in the journal (details.final_state). The first
// ones are OpenHands' own agent states; the others refine "error" from its
// reason.
const (
	StateFinished       = "finished"
	StateRejected       = "rejected"
	StateStopped        = "stopped"
	StatePaused         = "paused"
	StateAwaitingInput  = "awaiting_user_input"
	StateRunning        = "running"
	StateError          = "error"
	StateMaxIterations  = "max_iterations"
	StateBudgetExceeded = "budget_exceeded"
	StateStuck          = "stuck"
	StateAuthError      = "llm_auth_error"
	StateRateLimited    = "llm_rate_limited"
	StateLLMUnavailable = "llm_unavailable"
	// StateUnknown: events were written but no agent state.
	StateUnknown = "unknown"
	// StateNone: OpenHands wrote neither a trajectory nor an event.
	StateNone = "none"
)

// FinalStates lists the final states in report order.
var FinalStates = []string{
	StateFinished, StateMaxIterations, StateBudgetExceeded, StateStuck, StateError,
	StateAuthError, StateRateLimited, StateLLMUnavailable, StateRejected, StateStopped,
	StatePaused, StateAwaitingInput, StateRunning, StateUnknown, StateNone,
}

// Event is the part of a serialized OpenHands event (trajectory entry or
// event-store file) that perfbench reads.
type Event struct {
	ID          *int64      `json:"id"`
	Source      string      `json:"source"`
	Action      string      `json:"action"`
	Observation string      `json:"observation"`
	Message     string      `json:"message"`
	Content     string      `json:"content"`
	Extras      eventExtras `json:"extras"`
	LLMMetrics  *LLMMetrics `json:"llm_metrics"`
	// ToolCallMetadata links an action made from a tool call (and its
	// observation) to the LLM response it came from.
	ToolCallMetadata *toolCallMetadata `json:"tool_call_metadata"`
}

// toolCallMetadata is an event's tool_call_metadata (ToolCallMetadata's
// model_dump): model_response is litellm's ModelResponse, with its id.
type toolCallMetadata struct {
	ModelResponse *struct {
		ID string `json:"id"`
	} `json:"model_response"`
}

type eventExtras struct {
	AgentState string `json:"agent_state"`
	Reason     string `json:"reason"`
	ErrorID    string `json:"error_id"`
}

// LLMMetrics is an event's llm_metrics (Metrics.get()): totals so far.
type LLMMetrics struct {
	AccumulatedCost       float64     `json:"accumulated_cost"`
	AccumulatedTokenUsage *TokenUsage `json:"accumulated_token_usage"`
	Costs                 []any       `json:"costs"`
	ResponseLatencies     []any       `json:"response_latencies"`
}

// TokenUsage is llm_metrics.accumulated_token_usage.
type TokenUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	CacheReadTokens  int64 `json:"cache_read_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens"`
}

// Summary is what a run's trajectory and events say.
type Summary struct {
	// Sources read: "trajectory", "events".
	Sources []string
	// Events is the number of distinct events seen.
	Events int
	// Iterations counts the agent's steps (its actions, system prompt
	// excluded); OpenHands' own count from a limit error wins when higher.
	Iterations int
	// FinalState is one of FinalStates; AgentState is OpenHands' last
	// agent state as written, Reason its explanation (the last error).
	FinalState string
	AgentState string
	Reason     string
	// Errors counts error observations; FirstErrors keeps the first few.
	Errors      int
	FirstErrors []string
	// Metrics are the largest accumulated totals seen.
	Metrics *LLMMetrics
	// LLMCalls counts the LLM responses the events record: the distinct
	// model_response ids of their tool_call_metadata, plus the agent's
	// messages without one (a reply without tool calls). 0 when the
	// events record none.
	LLMCalls int
}

const maxErrorsKept = 5

// Parse reads the trajectory (dir/trajectory.json, or any *.json file
// directly in dir) and the event store (dir/file_store/**/events/*.json).
// A missing directory or file is not an error: OpenHands may have been
// killed before it wrote anything; the summary then says StateNone.
func Parse(dir string) (*Summary, error) {
	var trajectory, events []Event
	var errs []error
	trajFiles, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range trajFiles {
		evs, err := readTrajectory(dir, filepath.Base(f))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		trajectory = append(trajectory, evs...)
	}
	// dir is <out>/openhands: out is the harness's (a mount point), what is
	// below it the agent's.
	events, err := readEventStore(filepath.Dir(dir), filepath.Join(dir, "file_store"))
	if err != nil {
		errs = append(errs, err)
	}
	s := summarize(trajectory, events)
	return s, errors.Join(errs...)
}

func readIn(r *os.Root, name string) ([]byte, error) {
	f, err := fsx.OpenFileIn(r, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return agent.ReadBounded(f, agent.MaxAgentFileBytes)
}

// readTrajectory reads a saved trajectory, dir/name: a JSON list of
// events (older versions wrap it in an object under "trajectory" or
// "history"). Like every file OpenHands wrote, it is read without
// following a link, and bounded (agent.ReadAgentFile): the agent's container
// wrote it.
func readTrajectory(dir, name string) ([]Event, error) {
	path := filepath.Join(dir, name)
	data, err := readTrajectoryList(path)
	if err != nil || data == nil {
		return nil, err
	}
	var evs []Event
	if err := json.Unmarshal(data, &evs); err != nil {
		return nil, fmt.Errorf("trajectory %s: %w", filepath.Base(path), err)
	}
	return evs, nil
}

// readTrajectoryList reads the saved trajectory at path, not following a
// link, and returns its list of events as JSON, unwrapped from the
// object older versions hold it in; nil for an empty file.
func readTrajectoryList(path string) (json.RawMessage, error) {
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
	return data, nil
}

// readEventStore reads every events/<n>.json under root, in id order,
// inside an os.Root of root (links are never followed, neither below root
// nor between base and root).
func readEventStore(base, root string) ([]Event, error) {
	r, err := openEventStore(base, root)
	if r == nil {
		return nil, err
	}
	defer r.Close()
	files, err := eventFiles(r)
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool {
		if di, dj := path.Dir(files[i].path), path.Dir(files[j].path); di != dj {
			return di < dj
		}
		return files[i].n < files[j].n
	})
	var evs []Event
	var bad int
	for _, f := range files {
		data, err := readIn(r, f.path)
		if err != nil {
			return evs, fmt.Errorf("event store: %w", err)
		}
		var e Event
		if err := json.Unmarshal(data, &e); err != nil {
			// The last event of a killed run may be half-written.
			bad++
			continue
		}
		if e.ID == nil {
			id := f.n
			e.ID = &id
		}
		evs = append(evs, e)
	}
	if bad > 1 {
		return evs, fmt.Errorf("event store: %d unreadable event files", bad)
	}
	return evs, nil
}

// openEventStore opens the event store root as an os.Root, links never
// followed between base and root; nil and no error when there is none.
func openEventStore(base, root string) (*os.Root, error) {
	r, err := fsx.OpenRootUnder(base, root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("event store: %w", err)
	}
	return r, nil
}

// eventFile is an event store's events/<n>.json.
type eventFile struct {
	n    int64
	path string // slash-separated, relative to the store's root
}

// eventFiles lists the event files under r in walk order: regular
// files named <n>.json in a directory named events. On an error it
// returns what it found before it, with the error.
func eventFiles(r *os.Root) ([]eventFile, error) {
	var files []eventFile
	err := fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
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
		files = append(files, eventFile{n, p})
		return nil
	})
	if err != nil {
		return files, fmt.Errorf("event store: %w", err)
	}
	return files, nil
}

// notSteps are agent actions that are not steps of the agent's loop.
var notSteps = map[string]bool{"system": true, "recall": true, "change_agent_state": true, "null": true, "": true}

var (
	iterationRE = regexp.MustCompile(`(?i)current iteration:?\s*(\d+)`)
)

func summarize(trajectory, events []Event) *Summary {
	s := &Summary{}
	if len(trajectory) > 0 {
		s.Sources = append(s.Sources, "trajectory")
	}
	if len(events) > 0 {
		s.Sources = append(s.Sources, "events")
	}
	seen := map[int64]bool{}
	responses := map[string]bool{}
	steps := map[string]int{}
	var lastStateEv *Event
	var lastAgentAction string
	for src, evs := range map[string][]Event{"trajectory": trajectory, "events": events} {
		n := 0
		for i := range evs {
			e := &evs[i]
			if e.Source == "agent" && e.Action != "" && !notSteps[e.Action] {
				n++
			}
		}
		steps[src] = n
	}
	// Events first (complete: state changes are not part of a
	// trajectory), then the trajectory for what the store missed.
	for _, evs := range [][]Event{events, trajectory} {
		for i := range evs {
			e := &evs[i]
			if e.ID != nil {
				if seen[*e.ID] {
					continue
				}
				seen[*e.ID] = true
			}
			s.Events++
			switch {
			case e.ToolCallMetadata != nil && e.ToolCallMetadata.ModelResponse != nil && e.ToolCallMetadata.ModelResponse.ID != "":
				// Several tool calls of one response, and their
				// observations, carry the same response.
				if id := e.ToolCallMetadata.ModelResponse.ID; !responses[id] {
					responses[id] = true
					s.LLMCalls++
				}
			case e.Source == "agent" && e.Action == "message" && e.ToolCallMetadata == nil:
				s.LLMCalls++
			}
			if m := e.LLMMetrics; m != nil && (s.Metrics == nil || m.AccumulatedCost >= s.Metrics.AccumulatedCost) {
				s.Metrics = m
			}
			switch {
			case e.Observation == "agent_state_changed":
				if lastStateEv == nil || laterThan(e, lastStateEv) {
					lastStateEv = e
				}
			case e.Observation == "error":
				s.Errors++
				if len(s.FirstErrors) < maxErrorsKept {
					s.FirstErrors = append(s.FirstErrors, truncate(e.Content, 300))
				}
			case e.Source == "agent" && e.Action != "" && !notSteps[e.Action]:
				lastAgentAction = e.Action
			}
		}
	}
	s.Iterations = max(steps["trajectory"], steps["events"])
	if lastStateEv != nil {
		s.AgentState = lastStateEv.Extras.AgentState
		s.Reason = lastStateEv.Extras.Reason
	}
	if s.AgentState == "" {
		switch lastAgentAction {
		case "finish":
			s.AgentState = StateFinished
		case "reject":
			s.AgentState = StateRejected
		}
	}
	if s.Reason == "" && s.AgentState == StateError && len(s.FirstErrors) > 0 {
		s.Reason = s.FirstErrors[len(s.FirstErrors)-1]
	}
	if m := iterationRE.FindStringSubmatch(s.Reason); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n > s.Iterations {
			s.Iterations = n
		}
	}
	s.FinalState = classify(s.AgentState, s.Reason, s.Events)
	return s
}

func laterThan(a, b *Event) bool {
	if a.ID != nil && b.ID != nil {
		return *a.ID > *b.ID
	}
	return true
}

// classify maps OpenHands' last agent state and its reason to a final
// state.
func classify(state, reason string, events int) string {
	r := strings.ToLower(reason)
	switch state {
	case "":
		if events == 0 {
			return StateNone
		}
		return StateUnknown
	case "error", "rate_limited":
		switch {
		case strings.Contains(r, "maximum iteration"):
			return StateMaxIterations
		case strings.Contains(r, "maximum budget") || strings.Contains(r, "budget exceeded"):
			return StateBudgetExceeded
		case strings.Contains(r, "stuckinloop") || strings.Contains(r, "stuck in a loop"):
			return StateStuck
		case strings.Contains(r, "authenticationerror") || strings.Contains(r, "llm_authentication") ||
			strings.Contains(r, "out_of_credits") || strings.Contains(r, "exceededbudget"):
			return StateAuthError
		case state == "rate_limited" || strings.Contains(r, "ratelimiterror") || strings.Contains(r, "rate_limited"):
			return StateRateLimited
		case strings.Contains(r, "serviceunavailable") || strings.Contains(r, "apiconnectionerror") ||
			strings.Contains(r, "llm_service_unavailable") || strings.Contains(r, "internalservererror") ||
			// STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR (litellm's
			// InternalServerError, with a status callback)
			strings.Contains(r, "internal_server_error") ||
			strings.HasPrefix(r, "apierror") || strings.Contains(r, "overloaded"):
			return StateLLMUnavailable
		}
		return StateError
	}
	return state
}

// Infra returns why the run failed for reasons of the LLM provider
// (credentials or credit, rate limits, an unavailable service), nil
// otherwise: such rollouts are infrastructure failures, redone on resume;
// rate limits and an unavailable provider are retried at once with
// backoff. Msg is not scrubbed.
func (s *Summary) Infra() *agent.InfraError {
	var kind agent.InfraKind
	switch s.FinalState {
	case StateAuthError:
		kind = agent.InfraAuth
		if r := strings.ToLower(s.Reason); strings.Contains(r, "out_of_credits") || strings.Contains(r, "exceededbudget") {
			kind = agent.InfraBilling
		}
	case StateRateLimited:
		kind = agent.InfraRateLimit
	case StateLLMUnavailable:
		kind = agent.InfraProviderUnavailable
	default:
		return nil
	}
	return &agent.InfraError{Kind: kind, Msg: "OpenHands stopped on an LLM provider error: " + s.FinalState + ": " + truncate(s.Reason, 300)}
}

// Usage converts the metrics; partial marks numbers read from a run that
// did not end by itself.
func (s *Summary) Usage(partial bool) records.Usage {
	u := records.Usage{Turns: s.Iterations}
	if m := s.Metrics; m != nil {
		u.CostUSD = m.AccumulatedCost
		if t := m.AccumulatedTokenUsage; t != nil {
			u.InputTokens, u.OutputTokens = t.PromptTokens, t.CompletionTokens
			u.CacheReadTokens, u.CacheWriteTokens = t.CacheReadTokens, t.CacheWriteTokens
		}
	}
	if len(s.Sources) > 0 {
		u.Source = "openhands " + strings.Join(s.Sources, "+")
		u.Partial = partial
	}
	return u
}

// Details are the journal's agent-specific facts; scrub hides secrets in
// OpenHands' messages.
func (s *Summary) Details(scrub func(string) string) map[string]any {
	d := map[string]any{
		"final_state": s.FinalState,
		"iterations":  s.Iterations,
		"events":      s.Events,
	}
	if s.AgentState != "" {
		d["agent_state"] = s.AgentState
	}
	if s.Reason != "" {
		d["last_error"] = scrub(truncate(s.Reason, 1000))
	}
	if s.Errors > 0 {
		d["error_observations"] = s.Errors
		var first []string
		for _, e := range s.FirstErrors {
			first = append(first, scrub(e))
		}
		d["errors"] = first
	}
	// The metrics events carry are cleaned of their per-response lists
	// (empty response_latencies) in the versions this adapter targets;
	// they count where an older version kept them. Without either, the
	// number is unknown: left out, never 0.
	calls := s.LLMCalls
	if m := s.Metrics; m != nil && len(m.ResponseLatencies) > calls {
		calls = len(m.ResponseLatencies)
	}
	if calls > 0 {
		d["llm_calls"] = calls
	}
	return d
}

func truncate(s string, n int) string { return textx.Truncate(strings.TrimSpace(s), n) }
