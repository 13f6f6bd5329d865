package codex

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

func feed(t *testing.T, st *Stream, file string, session bool) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if session {
			st.SessionLine(sc.Bytes())
		} else {
			st.StdoutLine(sc.Bytes())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestStreamExecJSON(t *testing.T) {
	st := NewStream(0, nil)
	feed(t, st, "exec_ok.jsonl", false)
	sum := st.Summary()
	if sum.Format != "exec-json" || sum.ThreadID != "0199a213-81c0-7800-8aa1-bbab2a035a53" {
		t.Errorf("format %q thread %q", sum.Format, sum.ThreadID)
	}
	if want := (Tokens{Input: 24763, CachedInput: 24448, Output: 122}); sum.Tokens != want || sum.Source != "turn.completed" {
		t.Errorf("tokens %+v from %q, want %+v from turn.completed", sum.Tokens, sum.Source, want)
	}
	want := map[string]int{ItemReasoning: 1, ItemCommandExecution: 2, ItemTodoList: 1, ItemFileChange: 1, ItemMCPToolCall: 1, ItemWebSearch: 1, ItemError: 1, ItemAgentMessage: 1}
	if !reflect.DeepEqual(sum.Items, want) {
		t.Errorf("items %v, want %v", sum.Items, want)
	}
	if sum.FailedCommands != 1 || !sum.Completed() || sum.TurnsCompleted != 1 || sum.Turns() != 1 || sum.Responses != 0 {
		t.Errorf("summary %+v", sum)
	}
	if sum.LastMessage != "Replaced the counting loop in src/slow.sh with a constant." || sum.ErrorMessage() != "" {
		t.Errorf("last message %q, error %q", sum.LastMessage, sum.ErrorMessage())
	}
	if sum.BadLines != 0 || sum.Unknown != 0 {
		t.Errorf("bad %d unknown %d", sum.BadLines, sum.Unknown)
	}
}

// The first release of the format (Codex 0.43.0) said item_type and
// assistant_message.
func TestStreamFirstRelease(t *testing.T) {
	st := NewStream(0, nil)
	feed(t, st, "exec_v043.jsonl", false)
	sum := st.Summary()
	want := map[string]int{ItemReasoning: 2, ItemMCPToolCall: 1, ItemAgentMessage: 1}
	if !reflect.DeepEqual(sum.Items, want) || sum.LastMessage != "**Assigned Issues**" {
		t.Errorf("items %v, last message %q", sum.Items, sum.LastMessage)
	}
	if sum.Tokens != (Tokens{Input: 34460, CachedInput: 29184, Output: 3291}) {
		t.Errorf("tokens %+v", sum.Tokens)
	}
}

func TestStreamErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		kind agent.InfraKind // "" = not infrastructure
		msg  string
	}{
		{"exec_401.jsonl", agent.InfraAuth, "unexpected status 401 Unauthorized: Incorrect API key"},
		{"exec_429.jsonl", agent.InfraRateLimit, "exceeded retry limit, last status: 429"},
		{"exec_usage_limit.jsonl", agent.InfraRateLimit, "You've hit your usage limit"},
		{"exec_model.jsonl", agent.InfraModelNotFound, "The requested model 'gpt-9' does not exist"},
		{"exec_stream_error.jsonl", "", "stream disconnected before completion"},
		{"exec_reconnect.jsonl", "", ""},
		{"legacy_flat.jsonl", agent.InfraRateLimit, "stream error: exceeded retry limit, last status: 429"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			st := NewStream(0, nil)
			feed(t, st, tc.file, false)
			msg := st.Summary().ErrorMessage()
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("error message %q, want it to contain %q", msg, tc.msg)
			}
			ie := Classify(msg)
			switch {
			case tc.kind == "" && ie != nil:
				t.Errorf("classified as %v", ie)
			case tc.kind != "" && (ie == nil || ie.Kind != tc.kind):
				t.Errorf("classified as %v, want %s", ie, tc.kind)
			case ie != nil && (strings.Contains(ie.Msg, "\n") || len(ie.Msg) > 520):
				t.Errorf("message not one short line: %q", ie.Msg)
			}
		})
	}
	// A reconnect notice that a completed turn followed is no failure,
	// nor is one that more work followed.
	st := NewStream(0, nil)
	st.StdoutLine([]byte(`{"type":"error","message":"Reconnecting... 1/5 (429 Too Many Requests)"}`))
	if st.Summary().ErrorMessage() == "" {
		t.Error("a trailing error event is the failure of a run that did not complete")
	}
	st.StdoutLine([]byte(`{"type":"item.completed","item":{"id":"item_1","type":"reasoning","text":"x"}}`))
	if m := st.Summary().ErrorMessage(); m != "" {
		t.Errorf("error message %q after more work", m)
	}
}

func TestStreamLegacy(t *testing.T) {
	st := NewStream(0, nil)
	feed(t, st, "legacy_info.jsonl", false)
	sum := st.Summary()
	if sum.Format != "legacy" || sum.ThreadID != "7d1f6a5e-2c39-4a7b-9b1a-5f6c9b3e2d10" || sum.Model != "codex-mini-latest" {
		t.Errorf("summary %+v", sum)
	}
	// token_count info totals are running totals; the repeat is no response.
	if want := (Tokens{Input: 11000, CachedInput: 4500, Output: 650, Reasoning: 200}); sum.Tokens != want || sum.Source != "token_count" {
		t.Errorf("tokens %+v (%s), want %+v", sum.Tokens, sum.Source, want)
	}
	if sum.Responses != 2 || sum.Turns() != 2 || !sum.Completed() || sum.LastMessage != "Done: the loop is gone." {
		t.Errorf("responses %d turns %d completed %v message %q", sum.Responses, sum.Turns(), sum.Completed(), sum.LastMessage)
	}
	want := map[string]int{ItemReasoning: 1, ItemCommandExecution: 1, ItemFileChange: 1, ItemAgentMessage: 1}
	if !reflect.DeepEqual(sum.Items, want) {
		t.Errorf("items %v, want %v", sum.Items, want)
	}
	if sum.BadLines != 0 {
		t.Errorf("%d bad lines: the config summary and prompt lines are JSON", sum.BadLines)
	}

	// The earliest versions reported each response's usage: summed.
	st = NewStream(0, nil)
	feed(t, st, "legacy_flat.jsonl", false)
	sum = st.Summary()
	if want := (Tokens{Input: 6500, CachedInput: 3500, Output: 300, Reasoning: 50}); sum.Tokens != want || sum.Responses != 2 {
		t.Errorf("tokens %+v responses %d, want %+v and 2", sum.Tokens, sum.Responses, want)
	}
	if sum.FailedCommands != 1 || sum.Completed() {
		t.Errorf("summary %+v", sum)
	}
}

func TestSessionLog(t *testing.T) {
	st := NewStream(0, nil)
	feed(t, st, "session.jsonl", true)
	sum := st.Summary()
	if sum.Model != "gpt-5-codex" || sum.CLIVersion != "0.63.0" || sum.ThreadID != "0199a213-81c0-7800-8aa1-bbab2a035a53" {
		t.Errorf("summary %+v", sum)
	}
	// Three responses: the null info and the repeated totals are not.
	if sum.Responses != 3 || sum.Turns() != 3 || sum.Source != "session log" {
		t.Errorf("responses %d turns %d source %q", sum.Responses, sum.Turns(), sum.Source)
	}
	if want := (Tokens{Input: 24763, CachedInput: 24448, Output: 122, Reasoning: 30}); sum.Tokens != want {
		t.Errorf("tokens %+v, want %+v", sum.Tokens, want)
	}
	// With the stdout stream, the totals agree; turn.completed names the source.
	feed(t, st, "exec_ok.jsonl", false)
	sum = st.Summary()
	if want := (Tokens{Input: 24763, CachedInput: 24448, Output: 122, Reasoning: 30}); sum.Tokens != want || sum.Source != "turn.completed" || sum.Turns() != 3 {
		t.Errorf("tokens %+v source %q turns %d", sum.Tokens, sum.Source, sum.Turns())
	}
}

// A killed Codex: totals from the session log, no final event.
func TestSessionLogOnly(t *testing.T) {
	st := NewStream(0, nil)
	data, _ := os.ReadFile(filepath.Join("testdata", "session.jsonl"))
	lines := strings.Split(string(data), "\n")
	for _, l := range lines[:9] {
		st.SessionLine([]byte(l))
	}
	sum := st.Summary()
	if sum.Tokens != (Tokens{Input: 8000, CachedInput: 6000, Output: 60, Reasoning: 20}) || sum.Responses != 1 || sum.Completed() {
		t.Errorf("summary %+v", sum)
	}
}

func ev(s string) []byte { return []byte(s) }

func tokenCount(in, out int64) []byte {
	return []byte(`{"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":` +
		strconv.FormatInt(in, 10) + `,"cached_input_tokens":0,"output_tokens":` + strconv.FormatInt(out, 10) + `}}}}`)
}

func TestIterationLimit(t *testing.T) {
	stops := 0
	st := NewStream(2, func() { stops++ })
	st.StdoutLine(ev(`{"type":"item.started","item":{"id":"item_0","type":"command_execution","status":"in_progress"}}`))
	st.SessionLine(tokenCount(100, 10))
	st.StdoutLine(ev(`{"type":"item.completed","item":{"id":"item_0","type":"command_execution","status":"completed","exit_code":0}}`))
	st.StdoutLine(ev(`{"type":"item.started","item":{"id":"item_1","type":"command_execution","status":"in_progress"}}`))
	st.SessionLine(tokenCount(200, 20))
	if stops != 0 {
		t.Fatalf("stopped after %d responses", 2)
	}
	// Updates of an item already seen are no new step.
	st.StdoutLine(ev(`{"type":"item.completed","item":{"id":"item_1","type":"command_execution","status":"completed","exit_code":0}}`))
	st.SessionLine(tokenCount(200, 20))
	if stops != 0 {
		t.Fatal("stopped on a repeat")
	}
	st.StdoutLine(ev(`{"type":"item.completed","item":{"id":"item_2","type":"reasoning","text":"more"}}`))
	st.StdoutLine(ev(`{"type":"item.started","item":{"id":"item_3","type":"command_execution","status":"in_progress"}}`))
	st.SessionLine(tokenCount(300, 30))
	if stops != 1 || !st.Summary().LimitHit {
		t.Fatalf("stops = %d, want 1", stops)
	}

	// The N-th response that finishes the turn is within the limit.
	stops = 0
	st = NewStream(1, func() { stops++ })
	st.StdoutLine(ev(`{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"done"}}`))
	st.SessionLine(tokenCount(100, 10))
	st.StdoutLine(ev(`{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10}}`))
	st.SessionLine(tokenCount(150, 10))
	if stops != 0 {
		t.Fatal("stopped a completed turn")
	}

	// Responses seen late (all at one poll) stop it too.
	stops = 0
	st = NewStream(1, func() { stops++ })
	st.SessionLine(tokenCount(100, 10))
	st.SessionLine(tokenCount(200, 10))
	st.SessionLine(tokenCount(300, 10))
	if stops != 1 {
		t.Fatalf("stops = %d, want 1", stops)
	}
}

func TestMalformed(t *testing.T) {
	st := NewStream(1, nil)
	for _, l := range []string{
		"", "   ", "not json", "{", `{"type":`, `[1,2]`, `"str"`, `{"type":"turn.completed","usage":{"input_tokens":"x"}}`,
		`{"type":"turn.completed","usage":{"input_tokens":-5,"output_tokens":7}}`, `{"type":"item.completed"}`,
		`{"type":"item.completed","item":null}`, `{"type":"something.new","x":1}`, `{"msg":{"type":"token_count","info":null}}`,
		`{"msg":null}`, `{"type":"turn.failed","error":null}`, `{"type":"turn.failed"}`,
	} {
		st.StdoutLine([]byte(l))
		st.SessionLine([]byte(l))
	}
	sum := st.Summary()
	if sum.Tokens != (Tokens{Output: 7}) {
		t.Errorf("tokens %+v", sum.Tokens)
	}
	if sum.BadLines != 6 || sum.Unknown != 4 {
		t.Errorf("bad %d unknown %d", sum.BadLines, sum.Unknown)
	}
	if sum.Failure != "turn failed" {
		t.Errorf("failure %q", sum.Failure)
	}
}

func FuzzStdoutLine(f *testing.F) {
	for _, name := range []string{"exec_ok.jsonl", "exec_v043.jsonl", "exec_401.jsonl", "legacy_info.jsonl", "legacy_flat.jsonl"} {
		data, _ := os.ReadFile(filepath.Join("testdata", name))
		for _, l := range bytes.Split(data, []byte("\n")) {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		st := NewStream(1, func() {})
		st.StdoutLine(line)
		st.StdoutLine(line)
		sum := st.Summary()
		if sum.Tokens.Input < 0 || sum.Tokens.Output < 0 || sum.Tokens.CachedInput < 0 {
			t.Fatalf("negative tokens %+v", sum.Tokens)
		}
		if len(sum.LastMessage) > maxText+4 || len(sum.LastError) > maxText+4 {
			t.Fatal("message not clipped")
		}
	})
}

func FuzzSessionLine(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "session.jsonl"))
	for _, l := range bytes.Split(data, []byte("\n")) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		st := NewStream(2, func() {})
		st.SessionLine(line)
		st.SessionLine(line)
		sum := st.Summary()
		if sum.Responses > 2 || sum.Tokens.Input < 0 || sum.Tokens.Reasoning < 0 {
			t.Fatalf("summary %+v", sum)
		}
	})
}

func TestArgv(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    config.Agent
		want string
	}{
		{"defaults", config.Agent{}, "codex exec --json --cd /ws --skip-git-repo-check --sandbox workspace-write -"},
		{"all", config.Agent{CLI: "/opt/codex", Model: "gpt-5-codex", ExtraArgs: []string{"-c", "model_reasoning_effort=high"}, Options: &Options{Profile: "bench"}},
			"/opt/codex exec --json --cd /ws --skip-git-repo-check --model gpt-5-codex --sandbox workspace-write --profile bench -c model_reasoning_effort=high -"},
		{"own sandbox", config.Agent{ExtraArgs: []string{"--sandbox", "danger-full-access"}}, "codex exec --json --cd /ws --skip-git-repo-check --sandbox danger-full-access -"},
		{"yolo", config.Agent{ExtraArgs: []string{"--yolo"}}, "codex exec --json --cd /ws --skip-git-repo-check --yolo -"},
		{"-s=", config.Agent{ExtraArgs: []string{"-sread-only"}}, "codex exec --json --cd /ws --skip-git-repo-check -sread-only -"},
		{"not a flag", config.Agent{ExtraArgs: []string{"--search"}}, "codex exec --json --cd /ws --skip-git-repo-check --sandbox workspace-write --search -"},
		// --full-auto sets no sandbox after 0.115: the sandbox stays.
		{"full-auto", config.Agent{ExtraArgs: []string{"--full-auto"}}, "codex exec --json --cd /ws --skip-git-repo-check --sandbox workspace-write --full-auto -"},
		{"openai/", config.Agent{Model: "openai/gpt-5"}, "codex exec --json --cd /ws --skip-git-repo-check --model gpt-5 --sandbox workspace-write -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ad, err := New(&tc.a)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ad.Argv("/ws"), " "); got != tc.want {
				t.Errorf("argv\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, err := New(&config.Agent{Name: "c", Env: map[string]string{"CODEX_HOME": "/x"}, Options: &Options{ConfigFileOption: agent.ConfigFileOption{ConfigFile: "c.toml"}}}); err == nil || !strings.Contains(err.Error(), "CODEX_HOME") {
		t.Errorf("config_file with CODEX_HOME: %v", err)
	}
	// The seed's name is an alias, normalised by config.
	path := filepath.Join(t.TempDir(), "bench.yaml")
	os.WriteFile(path, []byte("agents:\n  codex_cli:\n    args:\n      profile: p\n      max_steps: 7\n"), 0o644)
	b, err := config.LoadBench(path, config.Vars{}, agent.ConfigKinds([]agent.Kind{Kind}))
	if err != nil {
		t.Fatal(err)
	}
	if a := b.Agents.Lookup("codex_cli"); a == nil || a.Type != Kind.Type || agent.OptionsOf[Options](a).Profile != "p" || a.Limits.MaxIterations != 7 {
		t.Fatalf("codex_cli entry: %+v", a)
	}
	a, _ := b.Agent("codex_cli")
	if ad, err := agent.NewOn([]agent.Kind{Kind}, a, agent.Host{}); err != nil {
		t.Fatal(err)
	} else if _, ok := ad.(*Adapter); !ok {
		t.Fatalf("adapter %T", ad)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	r        *agent.Rollout
	stdout   *syncBuffer
	stderr   *syncBuffer
	mu       sync.Mutex
	observed []records.Usage
}

// newRollout prepares a rollout whose codex is the stand-in: the test
// binary under the name codex (TestMain dispatches on it).
func newRollout(t *testing.T, a *config.Agent, env ...string) *fixture {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	os.MkdirAll(bin, 0o755)
	if err := os.Symlink(exe, filepath.Join(bin, "codex")); err != nil {
		t.Fatal(err)
	}
	a.CLI = filepath.Join(bin, "codex")
	if a.Name == "" {
		a.Name = "codex"
	}
	a.Type = Kind.Type
	ws, out, home := filepath.Join(root, "workspace"), filepath.Join(root, "out"), filepath.Join(root, "home")
	for _, d := range []string{ws, out, home, filepath.Join(root, "tmp")} {
		os.MkdirAll(d, 0o700)
	}
	prompt := "Make src/slow.sh faster.\n"
	task := filepath.Join(root, "task.txt")
	os.WriteFile(task, []byte(prompt), 0o644)
	process := append([]string{"PATH=" + os.Getenv("PATH"), "OPENAI_API_KEY=sk-test-secret-123456"}, env...)
	fx := &fixture{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	fenv := agent.BaseEnv(agent.EnvInput{Process: process, Extra: a.Env, Workspace: ws, TaskFile: task, OutDir: out, Home: home})
	fx.r = &agent.Rollout{
		RunID: "t__codex__m__20260101T000000Z", ItemID: "t-0000", Agent: a, Limits: a.Limits,
		Bench:     &config.Bench{Dir: root, Prices: map[string]config.Price{"gpt-5-codex": {Input: 1.25, Output: 10, CachedInput: 0.125}}},
		Workspace: ws, TaskFile: task, OutDir: out, Home: home, Prompt: prompt,
		Env: fenv, Stdout: fx.stdout, Stderr: fx.stderr, Secrets: secrets.FromEnv(fenv, nil),
		Observe: func(u records.Usage) {
			fx.mu.Lock()
			fx.observed = append(fx.observed, u)
			fx.mu.Unlock()
		},
	}
	return fx
}

func (fx *fixture) run(t *testing.T, ctx context.Context) *agent.Outcome {
	t.Helper()
	ad, err := New(fx.r.Agent)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ad.Run(ctx, fx.r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stderr:\n%s", fx.stderr.String())
	return out
}

func TestRun(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "codex.toml")
	os.WriteFile(cfg, []byte("model = \"o3\"\n[profiles.bench]\nmodel = \"gpt-5-codex\"\n"), 0o644)
	fx := newRollout(t, &config.Agent{Env: map[string]string{"CODEX_STANDIN_MODE": "ok", "CODEX_STANDIN_STEPS": "4"}, Options: &Options{Profile: "bench", ConfigFileOption: agent.ConfigFileOption{ConfigFile: cfg}}})
	out := fx.run(t, context.Background())
	if out.Process == nil || out.Process.ExitCode != 0 || out.Failed || out.Infra != nil {
		t.Fatalf("outcome %+v %+v", out, out.Process)
	}
	if want := []string{fx.r.Agent.CLI, "exec", "--json", "--cd", fx.r.Workspace, "--skip-git-repo-check", "--sandbox", "workspace-write", "--profile", "bench", "-"}; !slices.Equal(out.Command, want) {
		t.Errorf("command %q", out.Command)
	}
	// 4 responses of 10000 input (4000 cached) and 500 output tokens.
	u := out.Usage
	if u.InputTokens != 40000 || u.CacheReadTokens != 16000 || u.OutputTokens != 2000 || u.Turns != 4 || u.Source != "turn.completed" || u.Partial {
		t.Errorf("usage %+v", u)
	}
	if want := (24000*1.25 + 16000*0.125 + 2000*10) / 1e6; u.CostUSD < want-1e-9 || u.CostUSD > want+1e-9 {
		t.Errorf("cost %v, want %v", u.CostUSD, want)
	}
	d := out.Details
	if d["model"] != "gpt-5-codex" || d["priced"] != true || d["model_responses"] != 4 || d["command_executions"] != 3 || d["turns_completed"] != 1 || d["format"] != "exec-json" {
		t.Errorf("details %v", d)
	}
	log, _ := d["session_log"].(string)
	if !strings.HasPrefix(log, "out/codex/rollout-") {
		t.Fatalf("session_log %q", log)
	}
	if _, err := os.Stat(filepath.Join(fx.r.OutDir, strings.TrimPrefix(log, "out/"))); err != nil {
		t.Error(err)
	}
	if data, err := os.ReadFile(filepath.Join(fx.r.Home, ".codex", "config.toml")); err != nil || !strings.Contains(string(data), "[profiles.bench]") {
		t.Errorf("config.toml in CODEX_HOME: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(fx.r.Workspace, "src", "slow.sh")); !strings.Contains(string(b), "codex was here") {
		t.Error("the workspace was not edited")
	}
	// Usage was reported as it grew.
	fx.mu.Lock()
	defer fx.mu.Unlock()
	if len(fx.observed) == 0 || fx.observed[len(fx.observed)-1].InputTokens != 40000 {
		t.Errorf("observed %+v", fx.observed)
	}
	for i := 1; i < len(fx.observed); i++ {
		if fx.observed[i].CostUSD < fx.observed[i-1].CostUSD {
			t.Errorf("cost went down: %+v", fx.observed)
		}
	}
}

// Killed at the wall clock: the spend comes from the session log.
func TestRunTimeoutKeepsPartialUsage(t *testing.T) {
	fx := newRollout(t, &config.Agent{Model: "gpt-5-codex", Limits: records.Limits{Timeout: records.Duration(1500 * time.Millisecond), KillGrace: records.Duration(time.Second)}, Env: map[string]string{"CODEX_STANDIN_MODE": "hang"}})
	out := fx.run(t, context.Background())
	if out.Process == nil || !out.Process.TimedOut || !slices.Contains(out.LimitsHit, "timeout") {
		t.Fatalf("process %+v", out.Process)
	}
	u := out.Usage
	if !u.Partial || u.Source != "session log" || u.InputTokens != 20000 || u.Turns != 2 || u.CostUSD <= 0 {
		t.Errorf("usage %+v", u)
	}
	if out.Infra != nil || out.Details["turns_completed"] != 0 {
		t.Errorf("infra %v details %v", out.Infra, out.Details)
	}
}

func TestRunMaxIterations(t *testing.T) {
	fx := newRollout(t, &config.Agent{Model: "gpt-5-codex", Limits: records.Limits{MaxIterations: 3, KillGrace: records.Duration(time.Second)}, Env: map[string]string{"CODEX_STANDIN_MODE": "maxiter"}})
	out := fx.run(t, context.Background())
	if !slices.Contains(out.LimitsHit, "max_iterations") || out.Process == nil || !out.Process.Stopped {
		t.Fatalf("limits %v process %+v details %v", out.LimitsHit, out.Process, out.Details)
	}
	if n := out.Details["model_responses"].(int); n < 3 || n >= 40 {
		t.Errorf("model_responses %d", n)
	}
	if !strings.HasPrefix(out.Details["stopped"].(string), "max_iterations") || !out.Usage.Partial {
		t.Errorf("details %v usage %+v", out.Details, out.Usage)
	}
}

func TestRunInfra(t *testing.T) {
	for _, tc := range []struct {
		mode string
		kind agent.InfraKind
	}{
		{"auth", agent.InfraAuth},
		{"ratelimit", agent.InfraRateLimit},
		{"model", agent.InfraModelNotFound},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			fx := newRollout(t, &config.Agent{Env: map[string]string{"CODEX_STANDIN_MODE": tc.mode}})
			out := fx.run(t, context.Background())
			ie, ok := out.Infra.(*agent.InfraError)
			if !ok || ie.Kind != tc.kind {
				t.Fatalf("infra %v, want %s", out.Infra, tc.kind)
			}
			if strings.Contains(ie.Msg, "sk-test-secret") {
				t.Error("secret in the message")
			}
		})
	}
	// No credentials at all: Codex answers 401.
	fx := newRollout(t, &config.Agent{})
	fx.r.Env = setEnv(fx.r.Env, "OPENAI_API_KEY", "")
	out := fx.run(t, context.Background())
	if ie, ok := out.Infra.(*agent.InfraError); !ok || ie.Kind != agent.InfraAuth {
		t.Fatalf("infra %v", out.Infra)
	}
	// A transient reconnect notice is not a failure; an unpriced model is
	// named and costs nothing.
	fx = newRollout(t, &config.Agent{Model: "gpt-unpriced", Env: map[string]string{"CODEX_STANDIN_MODE": "reconnect"}})
	out = fx.run(t, context.Background())
	if out.Infra != nil || out.Failed || out.Usage.CostUSD != 0 || out.Details["unpriced_model"] != "gpt-unpriced" || out.Details["priced"] != false {
		t.Errorf("outcome %+v", out)
	}
	if !strings.Contains(fx.stderr.String(), `no price for model "gpt-unpriced"`) {
		t.Error("no warning")
	}
}

func TestRunLegacyAndGarbage(t *testing.T) {
	fx := newRollout(t, &config.Agent{Model: "gpt-5-codex", Env: map[string]string{"CODEX_STANDIN_MODE": "legacy"}})
	out := fx.run(t, context.Background())
	u := out.Usage
	if out.Details["format"] != "legacy" || u.InputTokens != 6000 || u.Turns != 2 || u.Source != "token_count" || u.CostUSD <= 0 {
		t.Errorf("usage %+v details %v", u, out.Details)
	}
	fx = newRollout(t, &config.Agent{Model: "gpt-5-codex", Env: map[string]string{"CODEX_STANDIN_MODE": "garbage"}})
	out = fx.run(t, context.Background())
	if out.Details["unparsed_lines"] != 6 || out.Usage.InputTokens != 30000 || out.Process.ExitCode != 0 {
		t.Errorf("usage %+v details %v", out.Usage, out.Details)
	}
}

// The entry's env: CODEX_HOME is used as is; only the session log named
// after this thread is read.
func TestRunOwnCodexHome(t *testing.T) {
	own := t.TempDir()
	other := filepath.Join(own, "sessions", "2020", "01", "01")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "rollout-2020-01-01T00-00-00-00000000-0000-0000-0000-000000000000.jsonl"), tokenCount(1e9, 1e9), 0o644)
	fx := newRollout(t, &config.Agent{Model: "gpt-5-codex", Env: map[string]string{"CODEX_HOME": own, "CODEX_STANDIN_ANY_HOME": "1"}})
	out := fx.run(t, context.Background())
	if out.Usage.InputTokens != 30000 || out.Details["model_responses"] != 3 {
		t.Errorf("usage %+v details %v", out.Usage, out.Details)
	}
}

// The session log and the output folder are the agent's: the copy never
// follows a link it left in either.
func TestCopySessionLogFollowsNoLink(t *testing.T) {
	victim := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret.jsonl")
	os.WriteFile(secret, []byte(`{"host":"secret"}`), 0o600)
	sessions := filepath.Join(t.TempDir(), "sessions")
	day := filepath.Join(sessions, "2026", "01", "02")
	os.MkdirAll(day, 0o755)
	good := filepath.Join(day, "rollout-1-abc.jsonl")
	os.WriteFile(good, []byte("{}\n"), 0o644)
	linked := filepath.Join(day, "rollout-2-abc.jsonl")
	os.Symlink(secret, linked)

	// out/codex -> victim: the log is not written there.
	out := t.TempDir()
	os.Symlink(victim, filepath.Join(out, OutSubdir))
	if _, err := copySessionLog("/nonexistent-base", sessions, good, out); err == nil {
		t.Error("copied through out/codex -> victim")
	}
	if ents, _ := os.ReadDir(victim); len(ents) > 0 {
		t.Errorf("written into the victim directory: %v", ents)
	}

	// A log that is a link to a host file is not read.
	out = t.TempDir()
	if _, err := copySessionLog("/nonexistent-base", sessions, linked, out); err == nil {
		t.Error("copied a session log that links outside")
	}
	if name, err := copySessionLog("/nonexistent-base", sessions, good, out); err != nil || name != "rollout-1-abc.jsonl" {
		t.Errorf("copySessionLog = %q, %v", name, err)
	}
	if data, _ := os.ReadFile(filepath.Join(out, OutSubdir, "rollout-1-abc.jsonl")); string(data) != "{}\n" {
		t.Errorf("copied %q", data)
	}

	// The tail never picks the link, however new.
	tail := &sessionTail{root: sessions, private: true, threadID: func() string { return "" }, fn: func([]byte) {}}
	if tail.find(); tail.path != good {
		t.Errorf("tail follows %q, want %q", tail.path, good)
	}
	tail.finish()

	// Below the rollout's private directory, a link on the way to the
	// sessions (home/.codex -> the user's real ~/.codex) is not followed.
	private := t.TempDir()
	real := filepath.Join(t.TempDir(), ".codex")
	os.MkdirAll(filepath.Join(real, "sessions", "2026", "01", "02"), 0o755)
	os.WriteFile(filepath.Join(real, "sessions", "2026", "01", "02", "rollout-3-abc.jsonl"), []byte(`{"host":"real"}`), 0o600)
	os.MkdirAll(filepath.Join(private, "home"), 0o755)
	os.Symlink(real, filepath.Join(private, "home", ".codex"))
	os.MkdirAll(filepath.Join(private, "out"), 0o755)
	viaLink := filepath.Join(private, "home", ".codex", "sessions")
	if _, err := copySessionLog(private, viaLink, filepath.Join(viaLink, "2026", "01", "02", "rollout-3-abc.jsonl"), filepath.Join(private, "out")); err == nil {
		t.Error("copied a session log through home/.codex -> a host directory")
	}
	tail = &sessionTail{base: private, root: viaLink, private: true, threadID: func() string { return "" }, fn: func([]byte) {}}
	if tail.find(); tail.path != "" {
		t.Errorf("tail follows home/.codex to %q", tail.path)
	}
	tail.finish()
}

func TestMapModel(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "with.toml"), []byte("model = \"x\"\n[profiles.local]\nmodel_provider = \"ollama\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "without.toml"), []byte("model_reasoning_effort = \"high\"\n"), 0o644)
	cfg := func(name string) any { return &Options{ConfigFileOption: agent.ConfigFileOption{ConfigFile: name}} }
	pos := config.Pos{File: filepath.Join(dir, "bench.yaml"), Line: 3}
	for _, c := range []struct {
		name   string
		a      config.Agent
		mapped string // "" with refused
	}{
		{"bare", config.Agent{Model: "gpt-5-codex"}, "gpt-5-codex"},
		{"openai/", config.Agent{Model: "openai/gpt-5"}, "gpt-5"},
		{"-c model_provider", config.Agent{Model: "openrouter/anthropic/claude-sonnet-4", ExtraArgs: []string{"-c", "model_provider=openrouter"}}, "anthropic/claude-sonnet-4"},
		{"--config= other id", config.Agent{Model: "anthropic/claude-sonnet-4", ExtraArgs: []string{"--config=model_provider=\"openrouter\""}}, "anthropic/claude-sonnet-4"},
		{"--oss", config.Agent{Model: "ollama/gpt-oss:20b", ExtraArgs: []string{"--oss"}}, "ollama/gpt-oss:20b"},
		{"profile in config_file", config.Agent{Model: "ollama/qwen3", Pos: pos, Options: cfg("with.toml")}, "qwen3"},
		{"refused", config.Agent{Model: "anthropic/claude-sonnet-4-20250514"}, ""},
		{"config_file without model_provider", config.Agent{Model: "anthropic/claude-sonnet-4-20250514", Pos: pos, Options: cfg("without.toml")}, ""},
		{"-c after --", config.Agent{Model: "anthropic/claude-x", ExtraArgs: []string{"--", "-c", "model_provider=x"}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.a.Name = "cx"
			ad, err := New(&c.a)
			if c.mapped == "" {
				want := `agent cx (codex): model "` + c.a.Model + `" is not an OpenAI model`
				if !badinput.Is(err) || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want one line of bad input starting %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ad.Argv("/ws"), " "); !strings.Contains(got, " --model "+c.mapped+" ") {
				t.Errorf("argv %s, want --model %s", got, c.mapped)
			}
			out := &agent.Outcome{}
			ad.finish(&agent.Rollout{Bench: &config.Bench{}, Secrets: secrets.FromEnv(nil, nil), Stderr: io.Discard}, out, Summary{}, "", "", false)
			if out.Details["configured_model"] != c.a.Model || out.Details["mapped_model"] != c.mapped {
				t.Errorf("details %v, want configured_model %s, mapped_model %s", out.Details, c.a.Model, c.mapped)
			}
		})
	}
}
