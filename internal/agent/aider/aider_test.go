package aider

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

func rollout(t *testing.T) *agent.Rollout {
	t.Helper()
	root := t.TempDir()
	r := &agent.Rollout{
		Workspace: filepath.Join(root, "workspace"),
		TaskFile:  filepath.Join(root, "task.txt"),
		OutDir:    filepath.Join(root, "out"),
		Home:      filepath.Join(root, "home"),
		Stdout:    &bytes.Buffer{},
		Stderr:    &bytes.Buffer{},
		Secrets:   secrets.FromEnv([]string{"ANTHROPIC_API_KEY=sk-ant-test-secret-123456"}, nil),
	}
	for _, d := range []string{r.Workspace, r.OutDir, r.Home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(r.TaskFile, []byte("make it fast\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + r.Home, "COLUMNS=80"}
	return r
}

func TestCommand(t *testing.T) {
	r := &agent.Rollout{TaskFile: "/r/task.txt", OutDir: "/r/out"}
	ad, _ := New(&config.Agent{Name: "aider", Type: Kind.Type, Model: "anthropic/claude-sonnet-4", ExtraArgs: []string{"--map-tokens", "2048"}})
	got, err := ad.Command(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"aider", "--message-file", "/r/task.txt", "--yes-always", "--no-auto-commits",
		"--model", "anthropic/claude-sonnet-4",
		"--no-dirty-commits", "--no-gitignore", "--no-check-update", "--no-show-release-notes",
		"--no-analytics", "--no-pretty", "--no-stream", "--no-fancy-input", "--no-detect-urls",
		"--input-history-file", "/r/out/aider.input.history",
		"--chat-history-file", "/r/out/aider.chat.history.md",
		"--llm-history-file", "/r/out/aider.llm.history",
		"--analytics-log", "/r/out/aider.analytics.jsonl",
		"--map-tokens", "2048"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("argv\n got %q\nwant %q", got, want)
	}

	// No model: no --model (aider picks from its config / keys); cli:
	// replaces the executable.
	ad, _ = New(&config.Agent{Name: "a", Type: Kind.Type, CLI: "/opt/aider/bin/aider"})
	got, _ = ad.Command(r)
	if got[0] != "/opt/aider/bin/aider" {
		t.Errorf("cli: %q", got[0])
	}
	for _, a := range got {
		if a == "--model" {
			t.Errorf("--model without a model: %q", got)
		}
	}

	// config_file: its copy in the output folder, before extra_args.
	ad, _ = New(&config.Agent{Name: "a", Type: Kind.Type, Options: &agent.ConfigFileOption{ConfigFile: "opts.yml"}, ExtraArgs: []string{"--edit-format", "whole"}})
	got, _ = ad.Command(r)
	if s := strings.Join(got, " "); !strings.HasSuffix(s, "--analytics-log /r/out/aider.analytics.jsonl --config /r/out/aider.conf.yml --edit-format whole") {
		t.Errorf("argv %q", got)
	}
}

func TestEnvColumns(t *testing.T) {
	ad, _ := New(&config.Agent{Name: "a", Type: Kind.Type})
	r := &agent.Rollout{Env: []string{"A=1", "COLUMNS=80", "Z=2"}}
	if got := ad.env(r); !reflect.DeepEqual(got, []string{"A=1", "Z=2", "COLUMNS=4096"}) {
		t.Errorf("env %q", got)
	}
	// The entry's env: wins.
	ad, _ = New(&config.Agent{Name: "a", Type: Kind.Type, Env: map[string]string{"COLUMNS": "120"}})
	r.Env = []string{"COLUMNS=120"}
	if got := ad.env(r); !reflect.DeepEqual(got, []string{"COLUMNS=120"}) {
		t.Errorf("env %q", got)
	}
}

// feed runs a fixture through a Stream and returns the summary and every
// usage reported live.
func feed(t *testing.T, fixture string, price func(records.Usage) records.Usage) (Summary, []records.Usage) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reports []records.Usage
	st := NewStream(price, func(u records.Usage) {
		mu.Lock()
		reports = append(reports, u)
		mu.Unlock()
	})
	var sink bytes.Buffer
	lw := &agent.LineWriter{W: &sink, Fn: st.Line}
	// Write in odd chunks: lines arrive split.
	for len(data) > 0 {
		n := min(7, len(data))
		lw.Write(data[:n])
		data = data[n:]
	}
	lw.Close()
	return st.Summary(), reports
}

func TestStreamUsage(t *testing.T) {
	want := records.Usage{CostUSD: 0.09, InputTokens: 21200, OutputTokens: 1583, CacheReadTokens: 4100, CacheWriteTokens: 2110, Turns: 3, Source: SourceStdout}
	for _, fixture := range []string{"stdout_ok.txt", "stdout_wrapped.txt"} {
		t.Run(fixture, func(t *testing.T) {
			sum, reports := feed(t, fixture, nil)
			if sum.Usage != want {
				t.Errorf("usage\n got %+v\nwant %+v", sum.Usage, want)
			}
			if sum.Version != "0.86.1" {
				t.Errorf("version %q", sum.Version)
			}
			if sum.LastError != nil || len(sum.Errors) > 0 {
				t.Errorf("errors: %v %v", sum.LastError, sum.Errors)
			}
			// Cumulative and rising: one report per tokens line and per
			// cost line apart (4, 5 when wrapping cut a cost part off).
			if len(reports) < 4 || len(reports) > 5 {
				t.Fatalf("%d reports: %+v", len(reports), reports)
			}
			for i := 1; i < len(reports); i++ {
				if reports[i].CostUSD < reports[i-1].CostUSD || reports[i].InputTokens < reports[i-1].InputTokens {
					t.Errorf("report %d went down: %+v after %+v", i, reports[i], reports[i-1])
				}
			}
			// Live reports are lower bounds of the printed (rounded)
			// numbers: 4.2k is 4150 to 4250 tokens, $0.09 at least $0.085.
			if r := reports[0]; r.InputTokens != 4150 || r.CacheWriteTokens != 1850 || r.OutputTokens != 186 || r.Turns != 1 {
				t.Errorf("first report %+v", r)
			}
			last := reports[len(reports)-1]
			lowerBound(t, last, want)
			if last.CostUSD < 0.0849 || last.InputTokens != 4150+4950+11500 || last.Turns != 3 {
				t.Errorf("last report %+v", last)
			}
		})
	}
	sum, _ := feed(t, "stdout_ok.txt", nil)
	if sum.Model != "anthropic/claude-sonnet-4-20250514" {
		t.Errorf("model %q", sum.Model)
	}
}

// lowerBound checks that a live report is not above the final usage.
func lowerBound(t *testing.T, live, final records.Usage) {
	t.Helper()
	if live.CostUSD > final.CostUSD || live.InputTokens > final.InputTokens || live.OutputTokens > final.OutputTokens ||
		live.CacheReadTokens > final.CacheReadTokens || live.CacheWriteTokens > final.CacheWriteTokens || live.Turns > final.Turns {
		t.Errorf("live report %+v above %+v", live, final)
	}
}

func TestStreamPricesTokensWithoutCost(t *testing.T) {
	b := &config.Bench{Prices: map[string]config.Price{"my-local-model": {Input: 1, Output: 2}}}
	priceFn := func(u records.Usage) records.Usage { return agent.PriceMissingCost(b, "openai/my-local-model", u) }
	sum, reports := feed(t, "stdout_nocost.txt", priceFn)
	want := records.Usage{CostUSD: (5500*1 + 750*2) / 1e6, InputTokens: 5500, OutputTokens: 750, Turns: 2, Source: SourceStdout + " priced with prices:"}
	if sum.Usage != want {
		t.Errorf("usage\n got %+v\nwant %+v", sum.Usage, want)
	}
	// Live: priced lower bounds (2.5k is at least 2450 tokens).
	if len(reports) != 2 || reports[0].CostUSD != (2450*1+500*2)/1e6 {
		t.Errorf("reports %+v", reports)
	}
	lowerBound(t, reports[1], want)
	// Without prices the cost stays 0.
	sum, _ = feed(t, "stdout_nocost.txt", func(u records.Usage) records.Usage { return agent.PriceMissingCost(nil, "m", u) })
	if sum.Usage.CostUSD != 0 || sum.Usage.Source != SourceStdout {
		t.Errorf("unpriced %+v", sum.Usage)
	}
}

func TestStreamErrors(t *testing.T) {
	tests := []struct {
		fixture string
		kind    agent.InfraKind // "" = no infra error
		msg     string
		errors  int
		turns   int
	}{
		{"stdout_auth.txt", agent.InfraAuth, "litellm.AuthenticationError: AnthropicException", 2, 0},
		{"stdout_ratelimit.txt", agent.InfraRateLimit, "litellm.RateLimitError: RateLimitError", 4, 1},
		{"stdout_ratelimit_recovered.txt", "", "", 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			sum, _ := feed(t, tt.fixture, nil)
			if len(sum.Errors) != tt.errors || sum.Usage.Turns != tt.turns {
				t.Errorf("errors %q turns %d", sum.Errors, sum.Usage.Turns)
			}
			if tt.kind == "" {
				if sum.LastError != nil {
					t.Errorf("last error %v after a successful call", sum.LastError)
				}
				return
			}
			if sum.LastError == nil || sum.LastError.Kind != tt.kind || !strings.HasPrefix(sum.LastError.Msg, tt.msg) {
				t.Errorf("last error %+v, want %s %q…", sum.LastError, tt.kind, tt.msg)
			}
		})
	}
}

func TestStreamErrorLines(t *testing.T) {
	tests := []struct {
		line string
		kind agent.InfraKind
	}{
		{`litellm.NotFoundError: AnthropicException - {"type":"error","error":{"type":"not_found_error","message":"model: claude-nope"}}`, agent.InfraModelNotFound},
		{`litellm.BadRequestError: LLM Provider NOT provided. Pass in the LLM provider you are trying to call. You passed model=claude-nope`, agent.InfraModelNotFound},
		{`litellm.InternalServerError: AnthropicException - {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, agent.InfraProviderUnavailable},
		{`litellm.InternalServerError: OpenAIException - The server had an error while processing your request.`, agent.InfraProviderUnavailable},
		{`litellm.APIConnectionError: APIConnectionError: OpenAIException - Connection error.`, agent.InfraOther},
		{`litellm.PermissionDeniedError: AnthropicException - {"type":"error","error":{"type":"permission_error"}}`, agent.InfraAuth},
		{`The API provider's servers are down or overloaded.`, agent.InfraProviderUnavailable},
		{`litellm.ContextWindowExceededError: the prompt is too long`, ""},
		{`litellm.BadRequestError: messages: text content blocks must be non-empty`, ""},
		{`I will mention litellm.AuthenticationError: in prose`, ""},
	}
	for _, tt := range tests {
		st := NewStream(nil, nil)
		st.Line([]byte(tt.line))
		sum := st.Summary()
		var got agent.InfraKind
		if sum.LastError != nil {
			got = sum.LastError.Kind
		}
		if got != tt.kind {
			t.Errorf("%q: kind %q, want %q", tt.line, got, tt.kind)
		}
	}
}

func TestStreamMalformed(t *testing.T) {
	st := NewStream(nil, nil)
	for _, l := range []string{
		"Tokens: lots sent, 3 received.",
		"Tokens: 1e999 sent, 3 received.",
		"Tokens: 1.5k sent",
		"Cost: $0.01 message,",
		"unrelated",
		"",
		"Tokens: 9999999999999999k sent, 1 received.",
		"Cost: $NaN message, $NaN session.",
		"Cost: $-1 message, $-1 session.",
		"Tokens:  sent, received.",
		"Only 3 reflections allowed, stopping.",
	} {
		st.Line([]byte(l))
	}
	sum := st.Summary()
	if sum.Usage.Turns != 0 || sum.Usage.CostUSD != 0 || sum.Usage.InputTokens != 0 {
		t.Errorf("malformed lines counted: %+v", sum.Usage)
	}
	if !sum.Reflections {
		t.Error("reflection limit not seen")
	}
}

func TestParseTokens(t *testing.T) {
	for in, want := range map[string][2]int64{"0": {0, 0}, "312": {312, 0}, "2.4k": {2400, 50}, "12k": {12000, 500}, "1.5M": {1500000, 50000}, "9.9k": {9900, 50}} {
		if got, slack, ok := parseTokens(in); !ok || got != want[0] || slack != want[1] {
			t.Errorf("%s: %d ± %d %v", in, got, slack, ok)
		}
	}
	for _, in := range []string{"k", ".", "-1", "1..2k"} {
		if _, _, ok := parseTokens(in); ok {
			t.Errorf("%s parsed", in)
		}
	}
	for in, want := range map[string]float64{"0.03": 0.005, "0.0045": 0.00005, "2": 0.5} {
		if got := roundingSlack(in); got < want || got > want*1.001 {
			t.Errorf("slack %s: %g", in, got)
		}
	}
}

func TestReadAnalytics(t *testing.T) {
	a, err := ReadAnalytics(filepath.Join("testdata", "analytics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := Analytics{Messages: 2, PromptTokens: 9225, CompletionTokens: 283, TotalCost: 0.02423}
	if a != want {
		t.Errorf("got %+v, want %+v", a, want)
	}
	if _, err := ReadAnalytics(filepath.Join(t.TempDir(), "none")); !os.IsNotExist(err) {
		t.Errorf("missing log: %v", err)
	}
}

// script writes a shell stand-in for aider that prints the stdout
// fixture, writes the analytics fixture and the repo-map cache.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "aider")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	fix, _ := filepath.Abs("testdata")
	r := rollout(t)
	var live []records.Usage
	r.Observe = func(u records.Usage) { live = append(live, u) }
	r.Limits.MaxIterations = 7
	if err := os.MkdirAll(filepath.Join(r.Workspace, ".aiderignore.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	cli := script(t, `
mkdir -p .aider.tags.cache.v4 && touch .aider.tags.cache.v4/cache.db
echo x >> .aider.chat.history.md
while [ $# -gt 0 ]; do [ "$1" = --analytics-log ] && cp `+fix+`/analytics.jsonl "$2"; shift; done
cat `+fix+`/stdout_ok.txt
echo "key=$ANTHROPIC_API_KEY"
`)
	ad, _ := New(&config.Agent{Name: "aider", Type: Kind.Type, CLI: cli})
	out, err := ad.Run(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if out.Process == nil || out.Process.ExitCode != 0 {
		t.Fatalf("process %+v %s", out.Process, r.Stderr)
	}
	// The analytics log has fewer events than stdout has reports (it was
	// cut short): stdout wins.
	want := records.Usage{CostUSD: 0.09, InputTokens: 21200, OutputTokens: 1583, CacheReadTokens: 4100, CacheWriteTokens: 2110, Turns: 3, Source: SourceStdout}
	if out.Usage != want {
		t.Errorf("usage\n got %+v\nwant %+v", out.Usage, want)
	}
	if len(live) != 4 || live[3].CostUSD < 0.0849 {
		t.Errorf("live reports %+v", live)
	}
	lowerBound(t, live[3], out.Usage)
	if got := out.Details["removed_from_workspace"]; !reflect.DeepEqual(got, []string{".aider.chat.history.md", ".aider.tags.cache.v4"}) {
		t.Errorf("removed %v", got)
	}
	if _, err := os.Stat(filepath.Join(r.Workspace, ".aiderignore.d")); err != nil {
		t.Errorf("pre-existing .aider entry removed: %v", err)
	}
	if !strings.Contains(out.Details["max_iterations"].(string), "not enforced") {
		t.Errorf("details %v", out.Details)
	}
	if out.Infra != nil || out.Usage.Partial {
		t.Errorf("infra %v partial %v", out.Infra, out.Usage.Partial)
	}
	if !strings.Contains(r.Stdout.(*bytes.Buffer).String(), "Tokens: 12k sent") {
		t.Error("stdout not passed through")
	}

	// The analytics log with every call wins over the rounded stdout.
	r = rollout(t)
	cli = script(t, `
while [ $# -gt 0 ]; do [ "$1" = --analytics-log ] && head -3 `+fix+`/analytics.jsonl > "$2"; shift; done
head -24 `+fix+`/stdout_ok.txt
`)
	ad, _ = New(&config.Agent{Name: "aider", Type: Kind.Type, CLI: cli})
	out, err = ad.Run(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	want = records.Usage{CostUSD: 0.02423, InputTokens: 9225, OutputTokens: 283, CacheReadTokens: 4100, CacheWriteTokens: 2110, Turns: 2, Source: SourceAnalytics}
	if out.Usage != want {
		t.Errorf("usage\n got %+v\nwant %+v", out.Usage, want)
	}
}

func TestRunInfra(t *testing.T) {
	fix, _ := filepath.Abs("testdata")
	r := rollout(t)
	cli := script(t, `cat `+fix+`/stdout_auth.txt; echo "litellm.AuthenticationError: bad key sk-ant-test-secret-123456"`)
	ad, _ := New(&config.Agent{Name: "aider", Type: Kind.Type, CLI: cli})
	out, err := ad.Run(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	ie, ok := out.Infra.(*agent.InfraError)
	if !ok || ie.Kind != agent.InfraAuth {
		t.Fatalf("infra %#v", out.Infra)
	}
	if strings.Contains(ie.Msg, "sk-ant-test") || !strings.Contains(ie.Msg, "REDACTED") {
		t.Errorf("message not scrubbed: %q", ie.Msg)
	}
	for _, e := range out.Details["llm_errors"].([]string) {
		if strings.Contains(e, "sk-ant-test") {
			t.Errorf("error detail not scrubbed: %q", e)
		}
	}
	if out.Usage.Source != "" || out.Usage.Turns != 0 {
		t.Errorf("usage %+v", out.Usage)
	}
}

func FuzzStreamLine(f *testing.F) {
	for _, fx := range []string{"stdout_ok.txt", "stdout_wrapped.txt", "stdout_auth.txt", "stdout_ratelimit.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", fx))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("Tokens: 1k sent, 2k cache write, 3k cache hit, 4 received. Cost: $1 message, $2 session.\n"))
	f.Add([]byte("Tokens: 1k sent,\n2 received.\nCost: $0.01\nmessage, $0.02\nsession.\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st := NewStream(nil, func(u records.Usage) {
			if u.CostUSD < 0 || u.InputTokens < 0 || u.OutputTokens < 0 || u.Turns < 0 {
				t.Fatalf("negative usage %+v", u)
			}
		})
		lw := &agent.LineWriter{W: &bytes.Buffer{}, Fn: st.Line}
		lw.Write(data)
		lw.Close()
		sum := st.Summary()
		if sum.Usage.CostUSD < 0 || sum.Usage.InputTokens < 0 || len(sum.Errors) > maxErrorsKept {
			t.Fatalf("summary %+v", sum)
		}
	})
}
