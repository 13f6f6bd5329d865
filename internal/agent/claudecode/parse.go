package claudecode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Result subtypes of the final result event.
const (
	SubtypeSuccess         = "success"
	SubtypeMaxTurns        = "error_max_turns"
	SubtypeMaxBudget       = "error_max_budget_usd"
	SubtypeDuringExecution = "error_during_execution"
)

// syntheticModel is the model of the assistant messages Claude Code writes
// itself (API errors), which are not turns of the model.
const syntheticModel = "<synthetic>"

// Usage sources.
const (
	SourceResult = "result event"
	SourceStream = "stream-json assistant messages"
)

// event is the part of one stream-json line that perfbench reads.
type event struct {
	Type      string `json:"type"`
	Subtype   string `json:"subtype"`
	SessionID string `json:"session_id"`

	// system/init
	Model          string `json:"model"`
	Version        string `json:"claude_code_version"`
	PermissionMode string `json:"permissionMode"`
	APIKeySource   string `json:"apiKeySource"`

	// assistant, user
	Message         *message        `json:"message"`
	ParentToolUseID *string         `json:"parent_tool_use_id"`
	Error           json.RawMessage `json:"error"`
	IsAPIError      bool            `json:"isApiErrorMessage"`
	APIErrorStatus  int             `json:"apiErrorStatus"`

	// result
	IsError           bool                  `json:"is_error"`
	NumTurns          int                   `json:"num_turns"`
	TotalCostUSD      json.RawMessage       `json:"total_cost_usd"`
	Usage             *usage                `json:"usage"`
	ModelUsage        map[string]modelUsage `json:"modelUsage"`
	Result            json.RawMessage       `json:"result"`
	Errors            json.RawMessage       `json:"errors"`
	DurationMS        int64                 `json:"duration_ms"`
	DurationAPIMS     int64                 `json:"duration_api_ms"`
	TerminalReason    string                `json:"terminal_reason"`
	ResultAPIStatus   int                   `json:"api_error_status"`
	PermissionDenials []json.RawMessage     `json:"permission_denials"`
}

type message struct {
	ID      string          `json:"id"`
	Model   string          `json:"model"`
	Content json.RawMessage `json:"content"`
	Usage   *usage          `json:"usage"`
}

// usage is the Anthropic API's usage object: input_tokens excludes the
// cache reads and writes.
type usage struct {
	InputTokens              count `json:"input_tokens"`
	OutputTokens             count `json:"output_tokens"`
	CacheCreationInputTokens count `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     count `json:"cache_read_input_tokens"`
}

// modelUsage is one model's entry of the result's modelUsage.
type modelUsage struct {
	InputTokens              count `json:"inputTokens"`
	OutputTokens             count `json:"outputTokens"`
	CacheReadInputTokens     count `json:"cacheReadInputTokens"`
	CacheCreationInputTokens count `json:"cacheCreationInputTokens"`
}

// count is a token count that accepts any JSON number (1e3, 12.0) or a
// numeric string; anything else, negative values included, reads as 0.
type count int64

func (c *count) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || math.IsNaN(f) || f <= 0:
		*c = 0
	case f >= math.MaxInt64/4:
		*c = math.MaxInt64 / 4
	default:
		*c = count(f)
	}
	return nil
}

// toUsage converts Anthropic token counts: InputTokens counts every
// prompt token (uncached + cache writes + cache reads), as the other
// agents report them, with the cache split alongside.
func toUsage(in, out, cacheWrite, cacheRead int64) records.Usage {
	return records.Usage{
		InputTokens:      nonNeg(in) + nonNeg(cacheWrite) + nonNeg(cacheRead),
		OutputTokens:     nonNeg(out),
		CacheReadTokens:  nonNeg(cacheRead),
		CacheWriteTokens: nonNeg(cacheWrite),
	}
}

func nonNeg(v int64) int64 { return max(v, 0) }

func (u *usage) agentUsage() records.Usage {
	if u == nil {
		return records.Usage{}
	}
	return toUsage(int64(u.InputTokens), int64(u.OutputTokens), int64(u.CacheCreationInputTokens), int64(u.CacheReadInputTokens))
}

// Result is the final result event.
type Result struct {
	Subtype        string
	IsError        bool
	NumTurns       int
	CostUSD        float64
	HasCost        bool
	Usage          records.Usage
	DurationMS     int64
	DurationAPIMS  int64
	SessionID      string
	Text           string
	Errors         []string
	TerminalReason string
	// APIErrorStatus is the HTTP status of the API failure that ended the
	// run (api_error_status, CLI ≥ 2.1.110, with terminal_reason
	// "api_error"); 0 when absent.
	APIErrorStatus int
	Denials        int
}

// errorText is what the result says went wrong.
func (r *Result) errorText() string {
	parts := []string{r.Subtype}
	if len(r.Errors) > 0 {
		parts = append(parts, strings.Join(r.Errors, "; "))
	} else if r.Text != "" {
		parts = append(parts, r.Text)
	}
	return strings.Join(parts, ": ")
}

// APIError is a synthetic assistant message in which Claude Code reports
// a failed API request ("API Error: 401 ...", "Invalid API key · Please
// run /login").
type APIError struct {
	// Kind is the message's error field (authentication_failed,
	// billing_error, rate_limit, invalid_request, server_error, unknown),
	// "" in versions without it.
	Kind   string
	Status int
	Text   string
}

// Summary is what a stream said.
type Summary struct {
	Lines    int
	Events   int
	BadLines int

	Init           bool
	SessionID      string
	Model          string
	Version        string
	PermissionMode string
	APIKeySource   string

	// Messages counts distinct main-thread assistant messages (the turn
	// estimate without a result event); Stream sums the usage of every
	// assistant message, subagents' included, each message id once.
	Messages int
	Stream   records.Usage
	// StreamPriced is set when some message could be priced with
	// prices:; Unpriced counts those that could not.
	StreamPriced bool
	Unpriced     int

	APIError *APIError
	Result   *Result

	// UnknownOption is a stderr line rejecting an option.
	UnknownOption string
	// RootRefused is set when Claude Code refused bypassPermissions to
	// root (stderr).
	RootRefused bool
}

// Usage is the outcome's usage: Claude Code's totals from the result
// event, or the stream's numbers, marked partial, without one.
func (s *Summary) Usage() records.Usage {
	if r := s.Result; r != nil {
		u := r.Usage
		u.Turns = r.NumTurns
		u.CostUSD = r.CostUSD
		u.Source = SourceResult
		if !r.HasCost && s.StreamPriced {
			u.CostUSD = s.Stream.CostUSD
			u.Source = SourceResult + " (cost priced from prices:)"
		}
		if u.InputTokens == 0 && u.OutputTokens == 0 {
			u.InputTokens, u.OutputTokens = s.Stream.InputTokens, s.Stream.OutputTokens
			u.CacheReadTokens, u.CacheWriteTokens = s.Stream.CacheReadTokens, s.Stream.CacheWriteTokens
		}
		return u
	}
	u := s.Stream
	u.Turns = s.Messages
	if s.Events == 0 {
		return records.Usage{}
	}
	u.Source = SourceStream
	u.Partial = true
	return u
}

// LimitHit names the limit the result says Claude Code stopped at.
func (s *Summary) LimitHit() string {
	if s.Result == nil {
		return ""
	}
	switch {
	case s.Result.Subtype == SubtypeMaxTurns || s.Result.TerminalReason == "max_turns":
		return records.LimitMaxIterations
	case strings.Contains(s.Result.Subtype, "budget") || strings.Contains(s.Result.TerminalReason, "budget"):
		return records.LimitMaxBudgetUSD
	}
	return ""
}

// modelRE matches Claude Code's own message for a model it cannot use.
var modelRE = regexp.MustCompile(`(?i)issue with the selected model|model .{0,80}may not exist|not_found_error`)

func classify(text string) *agent.InfraError {
	if ie := agent.Classify(text); ie != nil {
		return ie
	}
	if loc := modelRE.FindStringIndex(text); loc != nil {
		return &agent.InfraError{Kind: agent.InfraModelNotFound, Msg: text}
	}
	return nil
}

// statusInfra classifies an API failure by its HTTP status: 401/403 auth,
// 429 rate limit, 5xx (529 is Anthropic's "overloaded") provider
// unavailable; nil for any other status.
func statusInfra(status int, msg string) *agent.InfraError {
	switch {
	case status == 401 || status == 403:
		return &agent.InfraError{Kind: agent.InfraAuth, Msg: msg}
	case status == 429:
		return &agent.InfraError{Kind: agent.InfraRateLimit, Msg: msg}
	case status >= 500 && status <= 599:
		return &agent.InfraError{Kind: agent.InfraProviderUnavailable, Msg: msg}
	}
	return nil
}

// Infra classifies an API failure that ended the run: the last synthetic
// API error message, or an is_error result's text. Only meaningful for a
// run that ended by itself; nil when the run succeeded or stopped at a
// limit.
func (s *Summary) Infra() *agent.InfraError {
	if s.Result != nil && (!s.Result.IsError || s.LimitHit() != "") {
		return nil
	}
	if r := s.Result; r != nil && r.APIErrorStatus != 0 {
		// The CLI's own verdict (≥ 2.1.110) holds even when the text
		// carries no code.
		msg := fmt.Sprintf("API error status %d", r.APIErrorStatus)
		if text := strings.TrimSpace(r.Text + "\n" + strings.Join(r.Errors, "\n")); text != "" {
			msg += ": " + text
		}
		if ie := statusInfra(r.APIErrorStatus, msg); ie != nil {
			return ie
		}
	}
	if e := s.APIError; e != nil {
		msg := e.Text
		if msg == "" {
			msg = "API error " + e.Kind
		}
		switch e.Kind {
		case "authentication_failed", "billing_error", "oauth_org_not_allowed":
			return &agent.InfraError{Kind: agent.InfraAuth, Msg: msg}
		case "rate_limit":
			return &agent.InfraError{Kind: agent.InfraRateLimit, Msg: msg}
		}
		if ie := statusInfra(e.Status, msg); ie != nil {
			return ie
		}
		if ie := classify(msg); ie != nil {
			ie.Msg = msg
			return ie
		}
		if e.Kind == "server_error" || e.Status >= 500 || strings.HasPrefix(msg, "API Error") {
			return &agent.InfraError{Kind: agent.InfraOther, Msg: "Claude API failure: " + msg}
		}
	}
	if s.Result != nil {
		text := s.Result.Text + "\n" + strings.Join(s.Result.Errors, "\n")
		if ie := classify(text); ie != nil {
			ie.Msg = strings.TrimSpace(text)
			return ie
		}
		if strings.HasPrefix(strings.TrimSpace(s.Result.Text), "API Error") {
			return &agent.InfraError{Kind: agent.InfraOther, Msg: "Claude API failure: " + s.Result.Text}
		}
	}
	return nil
}

// Details are the journal's Claude Code facts; scrub hides secrets in its
// messages.
func (s *Summary) Details(scrub func(string) string) map[string]any {
	d := map[string]any{"stream_events": s.Events}
	if s.BadLines > 0 {
		d["unparsed_lines"] = s.BadLines
	}
	if s.SessionID != "" {
		d["session_id"] = s.SessionID
	}
	if s.Model != "" {
		d["model"] = s.Model
	}
	if s.Version != "" {
		d["claude_code_version"] = s.Version
	}
	if s.PermissionMode != "" {
		d["permission_mode"] = s.PermissionMode
	}
	if s.APIKeySource != "" {
		d["api_key_source"] = s.APIKeySource
	}
	d["assistant_messages"] = s.Messages
	if s.Unpriced > 0 {
		d["unpriced_messages"] = s.Unpriced
	}
	if e := s.APIError; e != nil {
		d["api_error"] = textx.Brief(scrub(e.Text), 300)
		if e.Kind != "" {
			d["api_error_kind"] = e.Kind
		}
	}
	r := s.Result
	if r == nil {
		d["result_event"] = false
		return d
	}
	d["result_event"] = true
	d["subtype"] = r.Subtype
	d["is_error"] = r.IsError
	d["num_turns"] = r.NumTurns
	d["duration_ms"] = r.DurationMS
	if r.DurationAPIMS > 0 {
		d["duration_api_ms"] = r.DurationAPIMS
	}
	if r.TerminalReason != "" {
		d["terminal_reason"] = r.TerminalReason
	}
	if r.APIErrorStatus != 0 {
		d["api_error_status"] = r.APIErrorStatus
	}
	if r.Denials > 0 {
		d["permission_denials"] = r.Denials
	}
	if len(r.Errors) > 0 {
		var errs []string
		for _, e := range r.Errors {
			errs = append(errs, textx.Brief(scrub(e), 300))
		}
		d["errors"] = errs
	}
	if r.IsError && r.Text != "" {
		d["result"] = textx.Brief(scrub(r.Text), 300)
	}
	return d
}

// Parser reads Claude Code's stream-json output line by line. It is safe
// for concurrent use.
type Parser struct {
	bench  *config.Bench
	model  string
	report func(records.Usage)

	mu       sync.Mutex
	s        Summary
	msgs     map[string]*msgUsage
	anon     int
	reported records.Usage
}

// msgUsage is the largest usage seen for one assistant message (Claude
// Code writes one event per content block, each with the message's usage).
type msgUsage struct {
	model string
	main  bool
	u     usage
}

// NewParser returns a parser that prices tokens with b's prices: (model
// is the configured model, the fallback when a message names none) and
// calls report with the cumulative usage whenever it grows (nil: never).
func NewParser(b *config.Bench, model string, report func(records.Usage)) *Parser {
	return &Parser{bench: b, model: model, report: report, msgs: map[string]*msgUsage{}}
}

// Line parses one stdout line; anything that is not a JSON event is
// counted and ignored.
func (p *Parser) Line(line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s.Lines++
	var e event
	if err := json.Unmarshal(line, &e); err != nil {
		// A field of an unexpected type is skipped; the rest counts.
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			p.s.BadLines++
			return
		}
	}
	if e.Type == "" {
		p.s.BadLines++
		return
	}
	p.s.Events++
	if e.SessionID != "" {
		p.s.SessionID = e.SessionID
	}
	switch e.Type {
	case "system":
		if e.Subtype == "init" {
			p.s.Init = true
			p.s.Model = e.Model
			p.s.Version = e.Version
			p.s.PermissionMode = e.PermissionMode
			p.s.APIKeySource = e.APIKeySource
		}
	case "assistant":
		p.assistant(&e)
	case "result":
		p.result(&e)
	}
}

// StderrLine watches stderr for a rejected option and for Claude Code's
// refusal to bypass permissions as root.
func (p *Parser) StderrLine(line []byte) {
	l := string(bytes.TrimSpace(line))
	lower := strings.ToLower(l)
	root := strings.Contains(lower, "cannot be used with root/sudo privileges")
	unknown := strings.Contains(lower, "unknown option")
	if !root && !unknown {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if root {
		p.s.RootRefused = true
	}
	if unknown && p.s.UnknownOption == "" {
		p.s.UnknownOption = l
	}
}

func (p *Parser) assistant(e *event) {
	m := e.Message
	if m == nil {
		return
	}
	text := contentText(m.Content)
	kind := errorKind(e.Error)
	if e.IsAPIError || kind != "" || m.Model == syntheticModel && strings.Contains(text, "API Error") {
		p.s.APIError = &APIError{Kind: kind, Status: e.APIErrorStatus, Text: strings.TrimSpace(text)}
		if p.s.APIError.Status == 0 {
			p.s.APIError.Status = statusOf(text)
		}
	}
	if e.IsAPIError || m.Model == syntheticModel {
		return
	}
	id := m.ID
	if id == "" {
		p.anon++
		id = "\x00" + strconv.Itoa(p.anon)
	}
	mu := p.msgs[id]
	if mu == nil {
		mu = &msgUsage{model: m.Model, main: e.ParentToolUseID == nil || *e.ParentToolUseID == ""}
		p.msgs[id] = mu
		if mu.main {
			p.s.Messages++
		}
	}
	if u := m.Usage; u != nil {
		mu.u.InputTokens = max(mu.u.InputTokens, u.InputTokens)
		mu.u.OutputTokens = max(mu.u.OutputTokens, u.OutputTokens)
		mu.u.CacheCreationInputTokens = max(mu.u.CacheCreationInputTokens, u.CacheCreationInputTokens)
		mu.u.CacheReadInputTokens = max(mu.u.CacheReadInputTokens, u.CacheReadInputTokens)
	}
	p.restream()
	if p.s.Result == nil {
		u := p.s.Stream
		u.Turns = p.s.Messages
		u.Source = SourceStream
		u.Partial = true
		p.emit(u)
	}
}

// restream recomputes the stream's totals and its estimated cost.
func (p *Parser) restream() {
	var tot records.Usage
	priced, unpriced := false, 0
	for _, mu := range p.msgs {
		u := mu.u.agentUsage()
		tot.InputTokens += u.InputTokens
		tot.OutputTokens += u.OutputTokens
		tot.CacheReadTokens += u.CacheReadTokens
		tot.CacheWriteTokens += u.CacheWriteTokens
		if u.InputTokens == 0 && u.OutputTokens == 0 {
			continue
		}
		cost, ok := p.price(mu.model, mu.main, u)
		if ok {
			tot.CostUSD += cost
			priced = true
		} else {
			unpriced++
		}
	}
	p.s.Stream, p.s.StreamPriced, p.s.Unpriced = tot, priced, unpriced
}

// price prices one message's tokens with prices: under its own model
// (also without the snapshot date: "claude-sonnet-4-5-20250929" →
// "claude-sonnet-4-5"); a main-thread message falls back to the configured
// model and the session's. Subagents' messages (another model, often)
// are priced under their own model only.
func (p *Parser) price(model string, main bool, u records.Usage) (float64, bool) {
	names := []string{model}
	if main || model == "" {
		names = append(names, p.model, p.s.Model)
	}
	for _, m := range names {
		if m == "" || m == syntheticModel {
			continue
		}
		for _, n := range []string{m, dateRE.ReplaceAllString(m, "")} {
			if c, ok := agent.PriceUsage(p.bench, n, u); ok {
				return c, true
			}
		}
	}
	return 0, false
}

// dateRE is the snapshot date that ends Anthropic model ids.
var dateRE = regexp.MustCompile(`-\d{8}$`)

func (p *Parser) result(e *event) {
	r := &Result{
		Subtype:        e.Subtype,
		IsError:        e.IsError,
		NumTurns:       max(e.NumTurns, 0),
		DurationMS:     e.DurationMS,
		DurationAPIMS:  e.DurationAPIMS,
		SessionID:      e.SessionID,
		Text:           rawText(e.Result),
		Errors:         rawStrings(e.Errors),
		TerminalReason: e.TerminalReason,
		APIErrorStatus: e.ResultAPIStatus,
		Denials:        len(e.PermissionDenials),
	}
	if c, err := strconv.ParseFloat(string(e.TotalCostUSD), 64); err == nil && c >= 0 && !math.IsInf(c, 0) {
		r.CostUSD, r.HasCost = c, true
	}
	// modelUsage covers every model (subagents, background calls);
	// usage alone may cover the main model only.
	if len(e.ModelUsage) > 0 {
		var in, out, cw, cr int64
		for _, k := range slices.Sorted(maps.Keys(e.ModelUsage)) {
			m := e.ModelUsage[k]
			in += int64(m.InputTokens)
			out += int64(m.OutputTokens)
			cw += int64(m.CacheCreationInputTokens)
			cr += int64(m.CacheReadInputTokens)
		}
		r.Usage = toUsage(in, out, cw, cr)
	}
	if r.Usage.InputTokens == 0 && r.Usage.OutputTokens == 0 {
		r.Usage = e.Usage.agentUsage()
	}
	p.s.Result = r
	p.emit(p.s.Usage())
}

// emit reports u when it differs from what was last reported.
func (p *Parser) emit(u records.Usage) {
	if p.report == nil || u == p.reported {
		return
	}
	p.reported = u
	p.report(u)
}

// Summary returns what the stream said so far.
func (p *Parser) Summary() *Summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.s
	if r := p.s.Result; r != nil {
		rc := *r
		rc.Errors = slices.Clone(r.Errors)
		s.Result = &rc
	}
	if e := p.s.APIError; e != nil {
		ec := *e
		s.APIError = &ec
	}
	return &s
}

// contentText joins the text blocks of a message's content (a string or a
// list of blocks).
func contentText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return ""
	}
	var parts []string
	for _, b := range blocks {
		if b.Type == "text" && b.Text != "" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// errorKind reads an assistant message's error field: a string
// ("authentication_failed"), or an object with a type.
func errorKind(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Type  string `json:"type"`
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &o) == nil {
		if o.Type != "" && o.Type != "error" {
			return o.Type
		}
		if o.Error.Type != "" {
			return o.Error.Type
		}
	}
	return "unknown"
}

var statusRE = regexp.MustCompile(`API Error: (\d{3})\b`)

func statusOf(text string) int {
	if m := statusRE.FindStringSubmatch(text); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// rawText reads a string, or the JSON text of anything else.
func rawText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// rawStrings reads a list of strings (or of anything, as JSON text).
func rawStrings(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		if t := rawText(raw); t != "" {
			return []string{t}
		}
		return nil
	}
	var out []string
	for _, r := range list {
		if t := rawText(r); t != "" {
			out = append(out, t)
		}
	}
	return out
}
