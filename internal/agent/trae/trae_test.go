package trae

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
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

var prices = map[string]config.Price{
	"claude-sonnet-4-20250514": {Input: 3, Output: 15, CachedInput: 0.3},
	"gpt-4.1":                  {Input: 2, Output: 8, CachedInput: 0.5},
	"claude-3.5-sonnet":        {Input: 3, Output: 15},
}

func fakeRollout(a *config.Agent) *agent.Rollout {
	return &agent.Rollout{
		Agent: a, Bench: &config.Bench{Dir: "/proj", Prices: prices},
		Limits:    a.Limits,
		Workspace: "/r/workspace", TaskFile: "/r/task.txt", OutDir: "/r/out", Home: "/r/home",
	}
}

func TestCommand(t *testing.T) {
	base := []string{"run", "--file", "/r/task.txt", "--working-dir", "/r/workspace", "--must-patch",
		"--patch-path", "/r/out/trae.patch", "--trajectory-file", "/r/out/trajectory.json"}
	for _, tc := range []struct {
		name string
		a    config.Agent
		want []string
	}{
		{"defaults", config.Agent{Options: &agent.ConfigFileOption{ConfigFile: "trae_config.yaml"}},
			append(append([]string{"trae-cli"}, base...), "--config-file", "/proj/trae_config.yaml")},
		{"limits model extra", config.Agent{CLI: "/opt/trae-cli", Options: &agent.ConfigFileOption{ConfigFile: "/etc/trae.yaml"}, Model: "claude-sonnet-4-20250514",
			Limits: records.Limits{MaxIterations: 40, MaxBudgetUSD: 2}, ExtraArgs: []string{"--console-type", "simple"}},
			append(append([]string{"/opt/trae-cli"}, base...), "--max-steps", "40", "--config-file", "/etc/trae.yaml",
				"--model", "claude-sonnet-4-20250514", "--console-type", "simple")},
		{"python relative to bench.yaml", config.Agent{CLI: "../bench-env/bin/python", Options: &agent.ConfigFileOption{ConfigFile: "../third-party/trae_config.yaml"}, Limits: records.Limits{MaxIterations: 200}},
			append(append([]string{"/bench-env/bin/python", "-m", "trae_agent.cli"}, base...), "--max-steps", "200", "--config-file", "/third-party/trae_config.yaml")},
		{"python3.12 on PATH", config.Agent{CLI: "python3.12", Options: &agent.ConfigFileOption{ConfigFile: "c.yaml"}},
			append(append([]string{"python3.12", "-m", "trae_agent.cli"}, base...), "--config-file", "/proj/c.yaml")},
		{"container: config copied into HOME, cli as in the image", config.Agent{CLI: "bin/trae-cli", Options: &agent.ConfigFileOption{ConfigFile: "c.yaml"}, Runtime: agent.RuntimeContainer},
			append(append([]string{"bin/trae-cli"}, base...), "--config-file", "/r/home/.trae-perfbench/c.yaml")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ad, err := New(&tc.a)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ad.Command(fakeRollout(&tc.a))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("argv\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestNewNeedsConfig(t *testing.T) {
	t.Setenv(ConfigEnv, "")
	os.Unsetenv(ConfigEnv)
	_, err := New(&config.Agent{Name: "trae"})
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "config_file") {
		t.Fatalf("err = %v, want a bad-input error naming config_file", err)
	}
	if _, err := New(&config.Agent{Name: "trae", Env: map[string]string{ConfigEnv: "/etc/t.yaml"}}); err != nil {
		t.Errorf("with env: %s: %v", ConfigEnv, err)
	}
	t.Setenv(ConfigEnv, "/etc/t.yaml")
	if _, err := New(&config.Agent{Name: "trae"}); err != nil {
		t.Errorf("with $%s: %v", ConfigEnv, err)
	}
}

func TestIsPython(t *testing.T) {
	for cli, want := range map[string]bool{
		"python": true, "python3": true, "/venv/bin/python3.12": true, "../bench-env/bin/python": true,
		"trae-cli": false, "/usr/bin/python-config": false, "uv": false, "pythonista": false,
	} {
		if got := IsPython(cli); got != want {
			t.Errorf("IsPython(%q) = %v", cli, got)
		}
	}
}

func readFixture(t *testing.T, name string) *Trajectory {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "trajectories", name))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTrajectory(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tr
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestParseFixtures(t *testing.T) {
	b := &config.Bench{Prices: prices}
	for _, tc := range []struct {
		file              string
		state             string
		turns             int
		in, out, cr, cw   int64
		reasoning         int64
		cost              float64
		pricedAs, lastErr string
	}{
		// Anthropic: cache reads and writes are added to input_tokens;
		// writes cost 1.25 × input:
		// (2500*3 + 4000*3.75 + 8500*0.3 + 650*15) / 1e6.
		{"success_anthropic.json", StateCompleted, 3, 15000, 650, 8500, 4000, 0, 0.0348, "claude-sonnet-4-20250514", ""},
		// OpenAI: cached tokens are inside input_tokens;
		// (6904*2 + 4096*0.5 + 1000*8) / 1e6.
		{"maxsteps_openai.json", StateMaxSteps, 2, 11000, 1000, 4096, 0, 256, 0.023856, "gpt-4.1", ""},
		{"auth_error.json", StateError, 1, 0, 0, 0, 0, 0, 0, "claude-sonnet-4-20250514", "Error code: 401"},
		{"running.json", StateRunning, 0, 1000, 200, 0, 0, 0, 0.006, "claude-sonnet-4-20250514", ""},
		// No llm_interactions: the steps' usage; numbers as strings and
		// floats are read; the OpenRouter model is priced without its
		// provider prefix.
		{"legacy_steps.json", StateCompleted, 2, 400, 100, 0, 0, 0, 0.00270, "anthropic/claude-3.5-sonnet", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			tr := readFixture(t, tc.file)
			u, reasoning, pricedAs := tr.Usage(b, "")
			if got := tr.State(); got != tc.state {
				t.Errorf("state %q, want %q", got, tc.state)
			}
			if u.Turns != tc.turns || u.InputTokens != tc.in || u.OutputTokens != tc.out || u.CacheReadTokens != tc.cr || u.CacheWriteTokens != tc.cw || reasoning != tc.reasoning {
				t.Errorf("usage %+v reasoning %d, want turns %d in %d out %d cache %d/%d reasoning %d", u, reasoning, tc.turns, tc.in, tc.out, tc.cr, tc.cw, tc.reasoning)
			}
			if !near(u.CostUSD, tc.cost) || pricedAs != tc.pricedAs || u.Source != "trajectory" {
				t.Errorf("cost %v priced as %q source %q, want %v %q", u.CostUSD, pricedAs, u.Source, tc.cost, tc.pricedAs)
			}
			if e := tr.LastError(); !strings.HasPrefix(e, tc.lastErr) || (tc.lastErr == "") != (e == "") {
				t.Errorf("last error %q, want prefix %q", e, tc.lastErr)
			}
		})
	}
	if tr := readFixture(t, "legacy_steps.json"); tr.Skipped != 1 {
		t.Errorf("legacy: skipped %d entries, want 1", tr.Skipped)
	}
}

func TestParseRejectsPartialFiles(t *testing.T) {
	data, err := os.ReadFile("testdata/trajectories/truncated.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string][]byte{"truncated": data, "empty": nil, "spaces": []byte(" \n"), "list": []byte("[]"), "null": []byte("null")} {
		if tr, err := ParseTrajectory(d); err == nil {
			t.Errorf("%s: parsed %+v, want an error", name, tr)
		}
	}
}

func TestPricing(t *testing.T) {
	tr := readFixture(t, "running.json")
	tr.Model = "unpriced-model"
	tr.Interactions[0].Model = "unpriced-model"
	tr.Interactions[0].ResponseModel = "unpriced-model-2025"
	b := &config.Bench{Prices: prices}
	// The entry's model is the fallback.
	if u, _, m := tr.Usage(b, "gpt-4.1"); m != "gpt-4.1" || !near(u.CostUSD, (1000*2+200*8)/1e6) {
		t.Errorf("entry model: cost %v priced as %q", u.CostUSD, m)
	}
	// Nothing priced: tokens without cost.
	if u, _, m := tr.Usage(b, ""); m != "" || u.CostUSD != 0 || u.InputTokens != 1000 {
		t.Errorf("unpriced: %+v priced as %q", u, m)
	}
	if u, _, m := tr.Usage(nil, "gpt-4.1"); m != "" || u.CostUSD != 0 {
		t.Errorf("no bench: %+v priced as %q", u, m)
	}
	var none *Trajectory
	if u, _, _ := none.Usage(b, "gpt-4.1"); u != (records.Usage{}) || none.State() != StateNone {
		t.Errorf("nil trajectory: %+v %s", u, none.State())
	}
}

func TestClassifyAPIError(t *testing.T) {
	for msg, want := range map[string]agent.InfraKind{
		"Error code: 401 - {'type': 'error', 'error': {'type': 'authentication_error', 'message': 'invalid x-api-key'}}":                                                                           agent.InfraAuth,
		"Error code: 401 - {'error': {'message': 'Incorrect API key provided: sk-abc***xyz.', 'type': 'invalid_request_error', 'param': None, 'code': 'invalid_api_key'}}":                         agent.InfraAuth,
		"Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'Number of request tokens has exceeded your per-minute rate limit'}}":                                agent.InfraRateLimit,
		"Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}":                                                                                      agent.InfraProviderUnavailable,
		"Error code: 404 - {'type': 'error', 'error': {'type': 'not_found_error', 'message': 'model: claude-x'}}":                                                                                  agent.InfraModelNotFound,
		"Error code: 404 - {'error': {'message': 'The model `gpt-9` does not exist or you do not have access to it.', 'type': 'invalid_request_error', 'param': None, 'code': 'model_not_found'}}": agent.InfraModelNotFound,
		"Connection error.":                        agent.InfraOther,
		"Error code: 503 - upstream connect error": agent.InfraProviderUnavailable,
		"Error code: 504 - gateway timeout":        agent.InfraOther,
		"Message content is required":              "",
		"list index out of range":                  "",
	} {
		ie := classifyAPIError(msg)
		switch {
		case want == "" && ie != nil:
			t.Errorf("%q: classified %s, want none", msg, ie.Kind)
		case want != "" && (ie == nil || ie.Kind != want):
			t.Errorf("%q: got %v, want %s", msg, ie, want)
		}
	}
}

func TestWatcherLines(t *testing.T) {
	stopped := 0
	w := &watcher{stop: func() { stopped++ }}
	w.line([]byte("Anthropic API call failed: Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error'}} will sleep for 12 seconds and will retry."))
	w.line([]byte("the tests print: 401 Unauthorized, invalid key"))
	if stopped != 0 || w.stoppedFor() != nil {
		t.Fatalf("stopped on a rate limit or a non-retry line")
	}
	w.line([]byte("OpenAI API call failed: Error code: 401 - {'error': {'code': 'invalid_api_key'}} will sleep for 3 seconds and will retry."))
	w.line([]byte("OpenAI API call failed: Error code: 401 - {'error': {'code': 'invalid_api_key'}} will sleep for 9 seconds and will retry."))
	ie := w.stoppedFor()
	if stopped != 1 || ie == nil || ie.Kind != agent.InfraAuth {
		t.Fatalf("stopped %d times for %v, want once for auth", stopped, ie)
	}
	if n, last := w.apiFailures(); n != 3 || !strings.Contains(last, "invalid_api_key") {
		t.Errorf("failures %d, last %q", n, last)
	}
}

func TestConfigSecrets(t *testing.T) {
	yaml := "model_providers:\n  anthropic:\n    api_key: sk-ant-123456\n    provider: anthropic\n  openai:\n    api_key: \"sk-oai-abcdef\" # comment\n"
	json := `{"model_providers": {"anthropic": {"api_key": "sk-legacy-7890", "model": "x"}}}`
	got := append(ConfigSecrets([]byte(yaml)), ConfigSecrets([]byte(json))...)
	want := []string{"sk-ant-123456", "sk-oai-abcdef", "sk-legacy-7890"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzParseTrajectory(f *testing.F) {
	files, _ := filepath.Glob("testdata/trajectories/*.json")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"llm_interactions": [{"response": {"usage": {"input_tokens": -5, "output_tokens": 1e300}}}], "agent_steps": [null, 1, {"error": 7}]}`))
	f.Add([]byte(`{"max_steps": "x", "success": "true", "final_result": ["a"]}`))
	b := &config.Bench{Prices: prices}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrajectory(data)
		if err != nil {
			return
		}
		u, _, _ := tr.Usage(b, "claude-sonnet-4-20250514")
		if u.InputTokens < 0 || u.OutputTokens < 0 || u.Turns < 0 || u.CostUSD < 0 || math.IsNaN(u.CostUSD) {
			t.Errorf("usage %+v", u)
		}
		_ = tr.State()
		_ = classifyAPIError(tr.LastError())
	})
}

func FuzzWatcherLine(f *testing.F) {
	f.Add([]byte("Anthropic API call failed: Error code: 401 - x will sleep for 3 seconds and will retry."))
	f.Add([]byte("API call failed:  will sleep for 1 seconds and will retry"))
	f.Add([]byte("\xff\xfe API call failed: \x00 will sleep for 99999999999999999999 seconds and will retry"))
	f.Fuzz(func(t *testing.T, line []byte) {
		w := &watcher{stop: func() {}}
		w.line(line)
		if ie := w.stoppedFor(); ie != nil && ie.Kind != agent.InfraAuth && ie.Kind != agent.InfraModelNotFound {
			t.Errorf("stopped for %v", ie)
		}
	})
}

// The tests below run the stand-in (standin/), which TestMain builds and
// puts on PATH as trae-cli; $TRAE_STANDIN_PYTHON is the same program named
// python3.

type run struct {
	out      *agent.Outcome
	stdout   string
	stderr   string
	observed []records.Usage
	ws, dir  string
}

type runOpts struct {
	a       config.Agent
	env     map[string]string
	limits  records.Limits
	observe func(u records.Usage, cancel context.CancelFunc)
	secrets []string
}

func runStandin(t *testing.T, o runOpts) *run {
	t.Helper()
	if _, ok := os.LookupEnv("TRAE_STANDIN_PYTHON"); !ok {
		t.Skip("the stand-in is built by TestMain")
	}
	old := PollInterval
	PollInterval = 5 * time.Millisecond
	t.Cleanup(func() { PollInterval = old })
	dir := t.TempDir()
	ws := filepath.Join(dir, "workspace")
	for _, d := range []string{ws, filepath.Join(dir, "out"), filepath.Join(dir, "home"), filepath.Join(dir, "benchdir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	task := filepath.Join(dir, "task.txt")
	os.WriteFile(task, []byte("Make it faster.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "benchdir", "trae_config.yaml"), []byte("model_providers:\n  anthropic:\n    api_key: sk-config-key-42\n    provider: anthropic\n"), 0o600)
	a := o.a
	a.Name, a.Type = "trae", Kind.Type
	if agent.ConfigFile(&a) == "" {
		a.Options = &agent.ConfigFileOption{ConfigFile: "trae_config.yaml"}
	}
	ad, err := New(&a)
	if err != nil {
		t.Fatal(err)
	}
	if o.limits.Timeout == 0 {
		// A safety net: no test waits for it.
		o.limits.Timeout = records.Duration(2 * time.Minute)
	}
	r := &agent.Rollout{
		RunID: "t__trae__m__20260101T000000Z", ItemID: "t-0000", Agent: &a,
		Bench: &config.Bench{Dir: filepath.Join(dir, "benchdir"), Prices: prices}, Limits: o.limits,
		Workspace: ws, TaskFile: task, OutDir: filepath.Join(dir, "out"), Home: filepath.Join(dir, "home"),
	}
	r.Env = agent.BaseEnv(agent.EnvInput{Process: os.Environ(), Extra: o.env, Workspace: ws, TaskFile: task, OutDir: r.OutDir, Home: r.Home})
	r.Secrets = secrets.FromEnv(r.Env, nil)
	r.Secrets.Add(o.secrets...)
	var stdout, stderr bytes.Buffer
	r.Stdout, r.Stderr = r.Secrets.Writer(&stdout), r.Secrets.Writer(&stderr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := &run{ws: ws, dir: dir}
	var mu sync.Mutex
	r.Observe = func(u records.Usage) {
		mu.Lock()
		res.observed = append(res.observed, u)
		mu.Unlock()
		if o.observe != nil {
			o.observe(u, cancel)
		}
	}
	out, err := ad.Run(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	r.Stdout.(interface{ Close() error }).Close()
	r.Stderr.(interface{ Close() error }).Close()
	res.out, res.stdout, res.stderr = out, stdout.String(), stderr.String()
	t.Logf("stdout:\n%s\nstderr:\n%s\ndetails: %v", res.stdout, res.stderr, out.Details)
	return res
}

func TestRunSuccess(t *testing.T) {
	res := runStandin(t, runOpts{
		a:      config.Agent{Model: "claude-sonnet-4-20250514"},
		limits: records.Limits{MaxIterations: 9},
		env:    map[string]string{"TRAE_STANDIN_WANT_MAX_STEPS": "9", "TRAE_STANDIN_WANT_MODEL": "claude-sonnet-4-20250514"},
	})
	out := res.out
	if out.Process == nil || out.Process.ExitCode != 0 || out.Infra != nil || out.Failed {
		t.Fatalf("outcome %+v process %+v", out, out.Process)
	}
	// 3 calls of 1000 input + 3000 cache reads + 500 cache writes, 200
	// output: (3*1000*3 + 3*3000*0.3 + 3*500*3.75 + 3*200*15) / 1e6.
	u := out.Usage
	if u.Turns != 3 || u.InputTokens != 13500 || u.OutputTokens != 600 || u.CacheReadTokens != 9000 || !near(u.CostUSD, 0.026325) || u.Partial || u.Source != "trajectory" {
		t.Errorf("usage %+v", u)
	}
	if out.Details["final_state"] != StateCompleted || out.Details["mode"] != "trae-cli" || out.Details["priced_as"] != "claude-sonnet-4-20250514" {
		t.Errorf("details %v", out.Details)
	}
	if len(out.LimitsHit) != 0 {
		t.Errorf("limits hit %v", out.LimitsHit)
	}
	if out.Command[0] != "trae-cli" || !slices.Contains(out.Command, "--must-patch") {
		t.Errorf("command %q", out.Command)
	}
	// Whether the polls caught the stand-in between steps depends on
	// timing (TestRunBudgetStop and TestRunKilledMidStream depend on the
	// reports); what was reported rises and never exceeds the total.
	for i, o := range res.observed {
		if (i > 0 && o.CostUSD < res.observed[i-1].CostUSD) || o.CostUSD > u.CostUSD+1e-12 || o.Turns > u.Turns {
			t.Errorf("reported usage %d of %+v", i, res.observed)
		}
	}
	if data, err := os.ReadFile(filepath.Join(res.ws, "trae_standin.txt")); err != nil || !strings.Contains(string(data), "trae was here") {
		t.Errorf("workspace not edited: %v", err)
	}
}

func TestRunPythonMaxSteps(t *testing.T) {
	res := runStandin(t, runOpts{
		a:      config.Agent{CLI: os.Getenv("TRAE_STANDIN_PYTHON")},
		limits: records.Limits{MaxIterations: 4},
		env:    map[string]string{"TRAE_STANDIN": "maxsteps", "TRAE_STANDIN_WANT_MAX_STEPS": "4", "TRAE_STANDIN_WANT_MODEL": "none"},
	})
	out := res.out
	if out.Details["mode"] != "python" || out.Details["final_state"] != StateMaxSteps || !slices.Equal(out.LimitsHit, []string{"max_iterations"}) {
		t.Errorf("details %v limits %v", out.Details, out.LimitsHit)
	}
	if out.Usage.Turns != 4 || out.Infra != nil || out.Process.ExitCode != 0 {
		t.Errorf("usage %+v infra %v", out.Usage, out.Infra)
	}
	if !slices.Equal(out.Command[1:4], []string{"-m", "trae_agent.cli", "run"}) {
		t.Errorf("command %q", out.Command)
	}
}

// The harness stops a rollout whose reported cost reaches its budget by
// cancelling the context: here the observer does it.
func TestRunBudgetStop(t *testing.T) {
	res := runStandin(t, runOpts{
		env: map[string]string{"TRAE_STANDIN": "slow", "TRAE_STANDIN_SLEEP": "20ms"},
		observe: func(u records.Usage, cancel context.CancelFunc) {
			if u.CostUSD >= 1.0 {
				cancel()
			}
		},
	})
	out := res.out
	if out.Process == nil || !out.Process.Stopped {
		t.Fatalf("process %+v, want stopped", out.Process)
	}
	// Each step costs (100000*3 + 10000*15) / 1e6 = 0.45, so the stop
	// comes at the third LLM call; TRAE records that call's interaction
	// before its step, and the stop can fall between the two: two turns
	// at least (seen under load: 3 calls, 2 steps).
	if u := out.Usage; u.CostUSD < 1.0 || !u.Partial || u.Turns < 2 {
		t.Errorf("usage %+v", u)
	}
	if out.Infra != nil || len(out.LimitsHit) != 0 || out.Details["final_state"] != StateRunning {
		t.Errorf("infra %v limits %v details %v", out.Infra, out.LimitsHit, out.Details)
	}
}

// Killed mid-stream (here after two steps, while it hangs): the partial
// usage is recorded. Each step: (1000*3 + 3000*0.3 + 500*3.75 + 200*15) / 1e6
// (cache reads at cached_input, writes at 1.25 × input).
func TestRunKilledMidStream(t *testing.T) {
	res := runStandin(t, runOpts{
		env: map[string]string{"TRAE_STANDIN": "hang"},
		observe: func(u records.Usage, cancel context.CancelFunc) {
			if u.Turns >= 2 {
				cancel()
			}
		},
	})
	u := res.out.Usage
	if !res.out.Process.Stopped || u.Turns != 2 || !u.Partial || !near(u.CostUSD, 2*0.008775) {
		t.Errorf("process %+v usage %+v", res.out.Process, u)
	}
}

// A 401 stops TRAE at its first retry line (TRAE would retry for minutes:
// the stand-in sleeps an hour between attempts here).
func TestRunAuthStopsAtOnce(t *testing.T) {
	res := runStandin(t, runOpts{
		env:    map[string]string{"TRAE_STANDIN": "auth", "TRAE_STANDIN_SLEEP": "1h"},
		limits: records.Limits{Timeout: records.Duration(5 * time.Minute)},
	})
	out := res.out
	ie, ok := out.Infra.(*agent.InfraError)
	if !ok || ie.Kind != agent.InfraAuth || !strings.Contains(ie.Msg, "401") {
		t.Fatalf("infra %v", out.Infra)
	}
	if !out.Process.Stopped || out.Process.TimedOut {
		t.Errorf("process %+v, want stopped by the adapter", out.Process)
	}
	if out.Details["api_retries"] != 1 {
		t.Errorf("details %v", out.Details)
	}
}

func TestRunAPIErrorsAreInfra(t *testing.T) {
	for scenario, kind := range map[string]agent.InfraKind{"ratelimit": agent.InfraRateLimit, "notfound": agent.InfraModelNotFound} {
		t.Run(scenario, func(t *testing.T) {
			res := runStandin(t, runOpts{env: map[string]string{"TRAE_STANDIN": scenario, "TRAE_STANDIN_SLEEP": "1ms"}})
			ie, ok := res.out.Infra.(*agent.InfraError)
			if !ok || ie.Kind != kind {
				t.Fatalf("infra %v, want %s", res.out.Infra, kind)
			}
			if res.out.Details["final_state"] != StateError && scenario == "ratelimit" {
				t.Errorf("details %v", res.out.Details)
			}
		})
	}
}

func TestRunCrash(t *testing.T) {
	res := runStandin(t, runOpts{env: map[string]string{"TRAE_STANDIN": "crash"}})
	out := res.out
	if out.Process.ExitCode != 1 || out.Infra != nil || !out.Usage.Partial || out.Usage.Turns != 1 || out.Details["final_state"] != StateRunning {
		t.Errorf("process %+v usage %+v infra %v details %v", out.Process, out.Usage, out.Infra, out.Details)
	}
}

func TestRunConfigSecretsScrubbed(t *testing.T) {
	res := runStandin(t, runOpts{env: map[string]string{"TRAE_STANDIN": "leak", "ANTHROPIC_API_KEY": "sk-secret-xyz-123"}})
	all := res.stdout + res.stderr + strings.Join(res.out.Command, " ")
	for _, s := range []string{"sk-secret-xyz-123", "sk-config-key-42"} {
		if strings.Contains(all, s) {
			t.Errorf("%s leaked", s)
		}
	}
	if !strings.Contains(res.stdout, "[REDACTED:trae_config.api_key]") {
		t.Errorf("stdout %q", res.stdout)
	}
	if fr, _ := res.out.Details["final_result"].(string); strings.Contains(fr, "sk-") {
		t.Errorf("final_result %q", fr)
	}
}

func TestRunMissingConfig(t *testing.T) {
	res := runStandin(t, runOpts{a: config.Agent{Options: &agent.ConfigFileOption{ConfigFile: "nope.yaml"}}})
	if !res.out.Failed || !strings.Contains(res.out.Reason, "nope.yaml") || res.out.Process != nil {
		t.Errorf("outcome %+v", res.out)
	}
}

func TestRunContainerConfigCopy(t *testing.T) {
	a := &config.Agent{Name: "trae", Options: &agent.ConfigFileOption{ConfigFile: "c.yaml"}, Runtime: agent.RuntimeContainer}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("api_key: sk-zzz-999999\n"), 0o644)
	ad, _ := New(a)
	r := &agent.Rollout{Agent: a, Bench: &config.Bench{Dir: dir}, Home: filepath.Join(dir, "home"), Secrets: &secrets.Set{}}
	if err := ad.prepareConfig(r); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "home", ".trae-perfbench", "c.yaml"))
	if err != nil || !strings.Contains(string(data), "sk-zzz") {
		t.Fatalf("copy: %v", err)
	}
	if got := r.Secrets.ScrubString("key sk-zzz-999999"); strings.Contains(got, "sk-zzz") {
		t.Errorf("not scrubbed: %s", got)
	}
}

// TestRetryLineForms feeds both forms of retry_utils.py's message: the
// current one (trae-agent ≥ 6fc646d, period, "Will", traceback after) and
// the one before.
func TestRetryLineForms(t *testing.T) {
	stopped := 0
	w := &watcher{stop: func() { stopped++ }}
	for _, l := range strings.Split("Anthropic API call failed: Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error'}}. Will sleep for 17 seconds and will retry.\n"+
		"Traceback (most recent call last):\n  File \"retry_utils.py\", line 30, in wrapper\nanthropic.RateLimitError: Error code: 401 - x", "\n") {
		w.line([]byte(l))
	}
	if n, last := w.apiFailures(); n != 1 || last != "Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error'}}" {
		t.Fatalf("current form: %d failures, last %q", n, last)
	}
	if stopped != 0 {
		t.Fatalf("stopped on a rate limit (or on the traceback)")
	}
	w.line([]byte("OpenAI API call failed: Error code: 401 - {'error': {'code': 'invalid_api_key'}}. Will sleep for 3 seconds and will retry."))
	if ie := w.stoppedFor(); stopped != 1 || ie == nil || ie.Kind != agent.InfraAuth {
		t.Fatalf("current-form 401: stopped %d times for %v, want once for auth", stopped, ie)
	}
	w.line([]byte("Anthropic API call failed: Error code: 404 - model: x will sleep for 5 seconds and will retry."))
	if n, last := w.apiFailures(); n != 3 || last != "Error code: 404 - model: x" {
		t.Errorf("legacy form: %d failures, last %q", n, last)
	}
}

func TestMapModel(t *testing.T) {
	for _, c := range []struct {
		model     string
		extra     []string
		provider  string
		mapped    string
		refusedAs string
	}{
		{model: ""},
		{model: "claude-sonnet-4-20250514", mapped: "claude-sonnet-4-20250514"},
		{model: "anthropic/claude-sonnet-4-20250514", provider: "anthropic", mapped: "claude-sonnet-4-20250514"},
		{model: "openai/gpt-4o", provider: "openai", mapped: "gpt-4o"},
		{model: "gemini/gemini-2.5-pro", provider: "google", mapped: "gemini-2.5-pro"},
		{model: "openrouter/anthropic/claude-sonnet-4", provider: "openrouter", mapped: "anthropic/claude-sonnet-4"},
		{model: "qwen/qwen3-coder", extra: []string{"--provider", "ollama"}, mapped: "qwen/qwen3-coder"},
		{model: "bedrock/anthropic.claude-v2", refusedAs: `agent t (trae): model "bedrock/anthropic.claude-v2": provider "bedrock" has no TRAE model_provider`},
	} {
		a := &config.Agent{Name: "t", Type: "trae", Model: c.model, ExtraArgs: c.extra, Env: map[string]string{ConfigEnv: "/c.yaml"}}
		ad, err := NewOn(a, agent.Host{})
		if c.refusedAs != "" {
			if !badinput.Is(err) || !strings.HasPrefix(err.Error(), c.refusedAs) {
				t.Errorf("%s: err %v, want bad input %q", c.model, err, c.refusedAs)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		argv, _ := ad.Command(&agent.Rollout{TaskFile: "/t", Workspace: "/w", OutDir: "/o"})
		got := strings.Join(argv, " ")
		want := ""
		if c.provider != "" {
			want += " --provider " + c.provider
		}
		if c.mapped != "" {
			want += " --model " + c.mapped
		}
		if !strings.HasSuffix(got, "/o/trajectory.json"+want+strings.Join(append([]string{""}, c.extra...), " ")) {
			t.Errorf("%s: argv %q, want it to end in %q", c.model, got, want)
		}
	}
}
