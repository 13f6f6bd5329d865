package claudecode

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/textx"
)

func TestArgv(t *testing.T) {
	base := []string{"-p", "--output-format", "stream-json", "--verbose"}
	perms := []string{"--permission-mode", "bypassPermissions", "--disallowedTools", "WebFetch,WebSearch"}
	join := func(parts ...[]string) []string { return slices.Concat(parts...) }
	for _, tc := range []struct {
		name string
		a    config.Agent
		l    records.Limits
		want []string
	}{
		{"defaults", config.Agent{}, records.Limits{},
			join([]string{"claude"}, base, perms)},
		{"model, turns, budget, extra args", config.Agent{Model: "claude-sonnet-4-5", ExtraArgs: []string{"--append-system-prompt", "be quick"}},
			records.Limits{MaxIterations: 40, MaxBudgetUSD: 2.5, Timeout: records.Duration(1e9)},
			join([]string{"claude"}, base, []string{"--model", "claude-sonnet-4-5", "--max-turns", "40"}, perms,
				[]string{"--max-budget-usd", "2.5", "--append-system-prompt", "be quick"})},
		{"provider prefix dropped, cli", config.Agent{CLI: "/opt/claude/bin/claude", Model: "anthropic/claude-opus-4-1"}, records.Limits{MaxBudgetUSD: 0.125},
			join([]string{"/opt/claude/bin/claude"}, base, []string{"--model", "claude-opus-4-1"}, perms, []string{"--max-budget-usd", "0.125"})},
		{"alias kept", config.Agent{Model: "sonnet"}, records.Limits{MaxIterations: 1},
			join([]string{"claude"}, base, []string{"--model", "sonnet", "--max-turns", "1"}, perms)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Argv(&tc.a, tc.l)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("argv\n got %q\nwant %q", got, tc.want)
			}
			ad, _ := New(&tc.a)
			cmd, err := ad.Command(&agent.Rollout{Agent: &tc.a, Limits: tc.l})
			if err != nil || !reflect.DeepEqual(cmd, tc.want) {
				t.Errorf("Command = %q, %v", cmd, err)
			}
		})
	}
}

// prices are bench.yaml prices: for the fixtures' models.
var prices = &config.Bench{Prices: map[string]config.Price{
	// Messages name "claude-sonnet-4-5-20250929": priced without the date.
	"claude-sonnet-4-5": {Input: 3, Output: 15, CachedInput: 0.3},
}}

// parseFile feeds a fixture to a parser line by line and returns the
// summary and every usage reported.
func parseFile(t *testing.T, name string, b *config.Bench, model string) (*Summary, []records.Usage) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "streams", name))
	if err != nil {
		t.Fatal(err)
	}
	var reports []records.Usage
	p := NewParser(b, model, func(u records.Usage) { reports = append(reports, u) })
	lw := &agent.LineWriter{W: &bytes.Buffer{}, Fn: p.Line}
	// Odd-sized writes: lines arrive in pieces, as from a pipe.
	for len(data) > 0 {
		n := min(len(data), 97)
		lw.Write(data[:n])
		data = data[n:]
	}
	lw.Close()
	return p.Summary(), reports
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func exited(code int) *agent.Outcome {
	return &agent.Outcome{Process: &proc.Result{ExitCode: code}}
}

func TestFixtures(t *testing.T) {
	for _, tc := range []struct {
		file      string
		exit      int
		usage     records.Usage
		limit     string
		infra     agent.InfraKind
		infraMsg  string
		failed    string
		details   map[string]any
		noDetails []string
	}{
		{
			file: "success.jsonl",
			// modelUsage covers the Explore subagent's haiku calls, which
			// usage (the main model's) does not.
			usage: records.Usage{CostUSD: 0.0713, InputTokens: 1217 + 6050 + 65552, OutputTokens: 482, CacheReadTokens: 65552, CacheWriteTokens: 6050, Turns: 9, Source: SourceResult},
			details: map[string]any{
				"subtype": "success", "is_error": false, "num_turns": 9, "duration_ms": int64(48213),
				"session_id": "3c5e1f0a-77b2-4b8e-9d0e-2f6a1c9b8d11", "model": "claude-sonnet-4-5-20250929",
				"claude_code_version": "2.0.76", "permission_mode": "bypassPermissions", "api_key_source": "ANTHROPIC_API_KEY",
				"assistant_messages": 4, "stream_events": 12, "result_event": true,
			},
			noDetails: []string{"unparsed_lines", "api_error", "result", "errors"},
		},
		{
			file: "max_turns.jsonl", exit: 1, limit: "max_iterations",
			usage:   records.Usage{CostUSD: 0.0172, InputTokens: 6 + 4100 + 4000, OutputTokens: 60, CacheReadTokens: 4000, CacheWriteTokens: 4100, Turns: 3, Source: SourceResult},
			details: map[string]any{"subtype": "error_max_turns", "is_error": true, "terminal_reason": "max_turns", "errors": []string{"Reached maximum number of turns (2)"}},
		},
		{
			file: "max_budget.jsonl", limit: "max_budget_usd",
			usage:   records.Usage{CostUSD: 0.1521415, InputTokens: 10 + 14253, OutputTokens: 5446, CacheReadTokens: 14253, Turns: 1, Source: SourceResult},
			details: map[string]any{"subtype": "error_max_budget_usd", "is_error": false},
		},
		{
			file: "auth_401.jsonl", exit: 1, infra: agent.InfraAuth, infraMsg: "Invalid API key · Fix external API key",
			usage:   records.Usage{Turns: 1, Source: SourceResult},
			details: map[string]any{"api_error_kind": "authentication_failed", "assistant_messages": 0},
		},
		{
			file: "auth_expired.jsonl", exit: 1, infra: agent.InfraAuth, infraMsg: "OAuth token has expired",
			usage: records.Usage{Turns: 1, Source: SourceResult},
		},
		{
			file: "rate_limit_429.jsonl", exit: 1, infra: agent.InfraRateLimit, infraMsg: "API Error: 429",
			usage:   records.Usage{CostUSD: 0.0152, InputTokens: 4003, OutputTokens: 12, CacheWriteTokens: 4000, Turns: 2, Source: SourceResult},
			details: map[string]any{"api_error_kind": "rate_limit", "assistant_messages": 1},
		},
		{
			file: "overloaded_529.jsonl", exit: 1, infra: agent.InfraProviderUnavailable, infraMsg: "overloaded_error",
			usage: records.Usage{Turns: 1, Source: SourceResult},
		},
		{
			// CLI ≥ 2.1.110: the status is in the result, not its text.
			file: "api_error_status_529.jsonl", exit: 1, infra: agent.InfraProviderUnavailable, infraMsg: "API error status 529: Repeated server errors",
			usage:   records.Usage{Turns: 1, Source: SourceResult},
			details: map[string]any{"api_error_status": 529, "terminal_reason": "api_error"},
		},
		{
			file: "api_error_status_429.jsonl", exit: 1, infra: agent.InfraRateLimit, infraMsg: "API error status 429",
			usage: records.Usage{Turns: 1, Source: SourceResult},
		},
		{
			file: "api_error_status_403.jsonl", exit: 1, infra: agent.InfraAuth, infraMsg: "API error status 403: Request not allowed",
			usage: records.Usage{Turns: 1, Source: SourceResult},
		},
		{
			file: "model_404.jsonl", exit: 1, infra: agent.InfraModelNotFound, infraMsg: "not_found_error",
			usage: records.Usage{Turns: 1, Source: SourceResult},
		},
		{
			file: "during_execution.jsonl", exit: 0, failed: "Claude Code reported an error: error_during_execution: Tool execution aborted",
			usage: records.Usage{CostUSD: 0.0152, InputTokens: 4003, OutputTokens: 12, CacheWriteTokens: 4000, Turns: 2, Source: SourceResult},
		},
		{
			// Killed mid-stream: the last line is cut. msg_1 is written
			// twice (one event per content block) and counts once.
			file: "partial.jsonl", exit: 0, failed: "without a result event",
			usage: records.Usage{
				CostUSD:     (10000*3 + 1000*15 + 1000*3 + 9000*0.3 + 1000*15) / 1e6,
				InputTokens: 20000, OutputTokens: 2000, CacheReadTokens: 9000,
				Turns: 2, Source: SourceStream, Partial: true,
			},
			details: map[string]any{"result_event": false, "unparsed_lines": 1, "assistant_messages": 2},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s, reports := parseFile(t, tc.file, prices, "claude-sonnet-4-5")
			out := exited(tc.exit)
			Finish(out, s, func(s string) string { return s })
			if !near(out.Usage.CostUSD, tc.usage.CostUSD) {
				t.Errorf("cost %v, want %v", out.Usage.CostUSD, tc.usage.CostUSD)
			}
			got, want := out.Usage, tc.usage
			got.CostUSD, want.CostUSD = 0, 0
			if got != want {
				t.Errorf("usage\n got %+v\nwant %+v", got, want)
			}
			if len(reports) == 0 || reports[len(reports)-1] != out.Usage {
				t.Errorf("last usage reported %+v, want the outcome's %+v", reports, out.Usage)
			}
			var lims []string
			if tc.limit != "" {
				lims = []string{tc.limit}
			}
			if !slices.Equal(out.LimitsHit, lims) {
				t.Errorf("limits hit %q, want %q", out.LimitsHit, lims)
			}
			switch ie, _ := out.Infra.(*agent.InfraError); {
			case tc.infra == "" && out.Infra != nil:
				t.Errorf("infra %v, want none", out.Infra)
			case tc.infra != "" && ie == nil:
				t.Errorf("no infra error, want %s", tc.infra)
			case tc.infra != "" && (ie.Kind != tc.infra || !strings.Contains(ie.Msg, tc.infraMsg) || strings.Contains(ie.Msg, "\n")):
				t.Errorf("infra %s %q, want %s containing %q (one line)", ie.Kind, ie.Msg, tc.infra, tc.infraMsg)
			}
			if tc.failed == "" && out.Failed || tc.failed != "" && (!out.Failed || !strings.Contains(out.Reason, tc.failed)) {
				t.Errorf("failed %v %q, want %q", out.Failed, out.Reason, tc.failed)
			}
			for k, v := range tc.details {
				if !reflect.DeepEqual(out.Details[k], v) {
					t.Errorf("details[%s] = %#v, want %#v", k, out.Details[k], v)
				}
			}
			for _, k := range tc.noDetails {
				if v, ok := out.Details[k]; ok {
					t.Errorf("details[%s] = %#v, want absent", k, v)
				}
			}
		})
	}
}

// The harness sees the spend grow while the stream runs: estimated from
// assistant messages with prices:, then Claude Code's own total.
func TestReportsGrow(t *testing.T) {
	_, reports := parseFile(t, "success.jsonl", prices, "claude-sonnet-4-5")
	if len(reports) < 4 {
		t.Fatalf("%d reports, want one per growing message and the result: %+v", len(reports), reports)
	}
	for i, u := range reports[:len(reports)-1] {
		if !u.Partial || u.Source != SourceStream {
			t.Errorf("report %d: %+v, want a partial stream estimate", i, u)
		}
		if i > 0 && (u.CostUSD < reports[i-1].CostUSD || u.InputTokens < reports[i-1].InputTokens) {
			t.Errorf("report %d shrinks: %+v after %+v", i, u, reports[i-1])
		}
	}
	if reports[0].CostUSD <= 0 {
		t.Errorf("first report has no cost: %+v", reports[0])
	}
	last := reports[len(reports)-1]
	if last.Partial || last.Source != SourceResult || !near(last.CostUSD, 0.0713) {
		t.Errorf("last report %+v, want the result's totals", last)
	}
	// The haiku subagent message has no price: it is counted, not priced.
	s, _ := parseFile(t, "success.jsonl", prices, "")
	if s.Unpriced != 1 || !s.StreamPriced {
		t.Errorf("unpriced %d priced %v, want 1 true", s.Unpriced, s.StreamPriced)
	}
	// Without prices: tokens only, no cost.
	s, reports = parseFile(t, "partial.jsonl", nil, "claude-sonnet-4-5")
	if u := s.Usage(); u.CostUSD != 0 || u.InputTokens != 20000 || !u.Partial || len(reports) == 0 {
		t.Errorf("unpriced partial usage %+v (%d reports)", u, len(reports))
	}
}

func TestGarbage(t *testing.T) {
	s, _ := parseFile(t, "garbage.jsonl", prices, "claude-sonnet-4-5")
	if s.BadLines != 6 {
		t.Errorf("bad lines %d, want 6 (npm warning, broken JSON, array, string, type 42, no type)", s.BadLines)
	}
	if s.Result == nil || s.Result.NumTurns != 2 || s.Result.IsError {
		t.Errorf("result %+v, want the one with num_turns 2", s.Result)
	}
	// msg_1's input_tokens is a numeric string, msg_2's cache reads 1e3
	// and its input negative (read as 0).
	if s.Stream.OutputTokens != 10 || s.Stream.InputTokens != 1012 || s.Stream.CacheReadTokens != 1000 || s.Messages != 2 {
		t.Errorf("stream %+v, %d messages", s.Stream, s.Messages)
	}
	out := exited(0)
	Finish(out, s, func(s string) string { return s })
	if out.Usage.Source != SourceResult+" (cost priced from prices:)" || out.Usage.OutputTokens != 10 {
		t.Errorf("usage %+v", out.Usage)
	}
}

func TestFinishProcessStates(t *testing.T) {
	// Stopped by the harness (budget) mid-stream: partial usage, no
	// failure of the agent's own, no infra classification.
	s, _ := parseFile(t, "rate_limit_429.jsonl", prices, "")
	s.Result = nil
	out := &agent.Outcome{Process: &proc.Result{ExitCode: -1, Signal: "terminated", Stopped: true}}
	Finish(out, s, strings.ToUpper)
	if out.Infra != nil || out.Failed || !out.Usage.Partial {
		t.Errorf("stopped: infra %v failed %v usage %+v", out.Infra, out.Failed, out.Usage)
	}
	// Not started at all (cli not found): nothing but the details.
	out = &agent.Outcome{Failed: true, Reason: "claude: not found"}
	Finish(out, &Summary{}, strings.ToUpper)
	if out.Usage != (records.Usage{}) || out.Reason != "claude: not found" || out.Infra != nil {
		t.Errorf("not started: %+v", out)
	}
	// An option the installed version does not know.
	out = exited(1)
	Finish(out, &Summary{UnknownOption: "error: unknown option '--max-budget-usd'"}, func(s string) string { return s })
	if !out.Failed || !strings.Contains(out.Reason, "unknown option '--max-budget-usd'") {
		t.Errorf("unknown option: %v %q", out.Failed, out.Reason)
	}
}

func TestSecretsScrubbed(t *testing.T) {
	set := secrets.FromEnv([]string{"ANTHROPIC_API_KEY=sk-ant-api03-secretvalue"}, nil)
	p := NewParser(nil, "", nil)
	p.Line([]byte(`{"type":"assistant","message":{"id":"x","model":"<synthetic>","content":[{"type":"text","text":"API Error: 401 invalid x-api-key sk-ant-api03-secretvalue"}]},"error":"authentication_failed"}`))
	p.Line([]byte(`{"type":"result","subtype":"success","is_error":true,"result":"API Error: 401 key sk-ant-api03-secretvalue\nsecond line","errors":["sk-ant-api03-secretvalue"]}`))
	out := exited(1)
	Finish(out, p.Summary(), set.ScrubString)
	all := out.Infra.Error()
	for _, v := range out.Details {
		if s, ok := v.(string); ok {
			all += s
		}
		if l, ok := v.([]string); ok {
			all += strings.Join(l, " ")
		}
	}
	if strings.Contains(all, "secretvalue") || !strings.Contains(all, "[REDACTED:ANTHROPIC_API_KEY]") {
		t.Errorf("secret not scrubbed: %s", all)
	}
}

func TestStderrUnknownOption(t *testing.T) {
	p := NewParser(nil, "", nil)
	p.StderrLine([]byte("error: unknown option '--max-budget-usd'"))
	p.StderrLine([]byte("error: unknown option '--later'"))
	p.StderrLine([]byte("some other line"))
	if s := p.Summary(); s.UnknownOption != "error: unknown option '--max-budget-usd'" {
		t.Errorf("unknown option %q", s.UnknownOption)
	}
}

// FuzzLine: no input crashes the parser, and the usage it reports never
// goes negative.
func FuzzLine(f *testing.F) {
	for _, name := range []string{"success.jsonl", "garbage.jsonl", "partial.jsonl", "auth_401.jsonl", "rate_limit_429.jsonl"} {
		data, err := os.ReadFile(filepath.Join("testdata", "streams", name))
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.Add(sc.Bytes())
		}
	}
	f.Add([]byte(`{"type":"assistant","message":{"id":"a","usage":{"input_tokens":9223372036854775807,"output_tokens":9223372036854775807}}}`))
	f.Add([]byte(`{"type":"result","total_cost_usd":-1,"modelUsage":{"m":{"inputTokens":-5}}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		p := NewParser(prices, "claude-sonnet-4-5", func(u records.Usage) {
			if u.CostUSD < 0 || u.OutputTokens < 0 || u.Turns < 0 {
				t.Errorf("negative usage %+v", u)
			}
		})
		p.Line(line)
		p.Line(line)
		p.StderrLine(line)
		s := p.Summary()
		out := exited(1)
		Finish(out, s, func(s string) string { return s })
		_ = s.Infra()
	})
}

func TestOneLine(t *testing.T) {
	got := textx.Brief("Invalid API key\n · Please run /login", 17) // inside "·"
	if got != "Invalid API key …" || !utf8.ValidString(got) {
		t.Errorf("Brief = %q", got)
	}
	if got := textx.Brief("a\tb\n c", 10); got != "a b c" {
		t.Errorf("Brief = %q", got)
	}
}

// As root, runtime: container declares the sandbox Claude Code needs to
// bypass permissions for uid 0; an entry's own value wins; the host is
// left alone.
func TestSandboxEnv(t *testing.T) {
	root := os.Getuid() == 0
	for _, tc := range []struct {
		runtime string
		env     []string
		want    string
	}{
		{"container", []string{"A=1"}, map[bool]string{true: "1", false: "unset"}[root]},
		{"container", []string{"A=1", "IS_SANDBOX="}, map[bool]string{true: "1", false: ""}[root]},
		{"container", []string{"IS_SANDBOX=0"}, "0"},
		{"", []string{"A=1"}, "unset"},
	} {
		ad, _ := New(&config.Agent{Runtime: tc.runtime})
		got := "unset"
		for _, kv := range ad.env(&agent.Rollout{Env: tc.env}) {
			if v, ok := strings.CutPrefix(kv, "IS_SANDBOX="); ok {
				got = v
			}
		}
		if got != tc.want {
			t.Errorf("runtime %q env %q: IS_SANDBOX %q, want %q", tc.runtime, tc.env, got, tc.want)
		}
	}
}
