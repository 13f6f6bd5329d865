package openhands

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
)

// writeEvents writes an event store the way OpenHands' local file store
// does: one event_to_dict per file, events/<id>.json.
func writeEvents(t *testing.T, events ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), OutSubdir)
	ev := filepath.Join(dir, "file_store", "sessions", "s1", "events")
	if err := os.MkdirAll(ev, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		if err := os.WriteFile(filepath.Join(ev, strconv.Itoa(i)+".json"), []byte(e), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cleanedMetrics is an action's llm_metrics as the controller attaches
// them (_prepare_metrics_for_frontend): totals only, the per-response
// lists empty.
const cleanedMetrics = `"llm_metrics": {"accumulated_cost": %s, "max_budget_per_task": null, "accumulated_token_usage": {"model": "default", "prompt_tokens": 1000, "completion_tokens": 50, "cache_read_tokens": 0, "cache_write_tokens": 0, "context_window": 200000, "per_turn_token": 1050, "response_id": ""}, "costs": [], "response_latencies": [], "token_usages": []}`

func toolCall(id int, response, call string, calls int, cost string) string {
	return `{"id": ` + strconv.Itoa(id) + `, "timestamp": "2025-09-01T10:00:0` + strconv.Itoa(id) + `", "source": "agent", "message": "Running command: ls", "action": "run",
 "tool_call_metadata": {"function_name": "execute_bash", "tool_call_id": "` + call + `", "model_response": {"id": "` + response + `", "created": 1756720000, "model": "claude-sonnet-4-20250514", "object": "chat.completion", "system_fingerprint": null, "choices": [], "usage": {"completion_tokens": 50, "prompt_tokens": 1000, "total_tokens": 1050}}, "total_calls_in_response": ` + strconv.Itoa(calls) + `},
 ` + strings.Replace(cleanedMetrics, "%s", cost, 1) + `,
 "args": {"command": "ls", "is_input": false, "thought": "", "blocking": false, "is_static": false, "cwd": null, "hidden": false, "confirmation_state": "confirmed", "security_risk": -1}, "timeout": 120}`
}

func observation(id, cause int, response, call string) string {
	return `{"id": ` + strconv.Itoa(id) + `, "timestamp": "2025-09-01T10:00:1` + strconv.Itoa(id) + `", "source": "environment", "message": "Command ` + "`ls`" + ` executed with exit code 0.", "cause": ` + strconv.Itoa(cause) + `, "observation": "run",
 "tool_call_metadata": {"function_name": "execute_bash", "tool_call_id": "` + call + `", "model_response": {"id": "` + response + `", "choices": []}, "total_calls_in_response": 2},
 "content": "src", "extras": {"command": "ls", "metadata": {"exit_code": 0}, "hidden": false}, "success": true}`
}

const (
	systemEvent = `{"id": 0, "timestamp": "2025-09-01T10:00:00", "source": "agent", "message": "You are OpenHands agent", "action": "system", "args": {"content": "You are OpenHands agent", "tools": [], "openhands_version": "0.54.0", "agent_class": "CodeActAgent"}}`
	userEvent   = `{"id": 1, "timestamp": "2025-09-01T10:00:01", "source": "user", "message": "# Task", "action": "message", "args": {"content": "# Task", "file_urls": null, "image_urls": null, "wait_for_response": false}}`
)

func stateEvent(id int, state, reason string) string {
	return `{"id": ` + strconv.Itoa(id) + `, "timestamp": "2025-09-01T10:00:30", "source": "environment", "message": "", "observation": "agent_state_changed", "content": "", "extras": {"agent_state": "` + state + `", "reason": "` + reason + `"}}`
}

// llm_calls counts the LLM responses the events record (upstream's
// cleaned metrics leave response_latencies empty): two tool calls of one
// response and their observations are one call, a reply without tool
// calls (a MessageAction) another.
func TestLLMCallsFromResponses(t *testing.T) {
	dir := writeEvents(t,
		systemEvent, userEvent,
		toolCall(2, "chatcmpl-a", "toolu_1", 2, "0.01"),
		toolCall(3, "chatcmpl-a", "toolu_2", 2, "0.01"),
		observation(4, 2, "chatcmpl-a", "toolu_1"),
		observation(5, 3, "chatcmpl-a", "toolu_2"),
		`{"id": 6, "timestamp": "2025-09-01T10:00:20", "source": "agent", "message": "Let me look.", "action": "message", `+strings.Replace(cleanedMetrics, "%s", "0.02", 1)+`, "args": {"content": "Let me look.", "file_urls": null, "image_urls": null, "wait_for_response": true}}`,
		toolCall(7, "chatcmpl-b", "toolu_3", 1, "0.03"),
		observation(8, 7, "chatcmpl-b", "toolu_3"),
		`{"id": 9, "timestamp": "2025-09-01T10:00:25", "source": "agent", "message": "All done!", "action": "finish", "tool_call_metadata": {"function_name": "finish", "tool_call_id": "toolu_4", "model_response": {"id": "chatcmpl-c", "choices": []}, "total_calls_in_response": 1}, `+strings.Replace(cleanedMetrics, "%s", "0.04", 1)+`, "args": {"final_thought": "done", "outputs": {}, "thought": ""}}`,
		stateEvent(10, "finished", ""),
	)
	s, err := Parse(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := s.Details(func(s string) string { return s })
	if d["llm_calls"] != 4 {
		t.Errorf("llm_calls %v, want 4 (chatcmpl-a, the message, chatcmpl-b, chatcmpl-c)", d["llm_calls"])
	}
	if s.FinalState != StateFinished || s.Usage(false).CostUSD != 0.04 {
		t.Errorf("summary %+v", s)
	}

	// Events that record no response: the number is unknown, left out
	// of the journal rather than written as 0.
	dir = writeEvents(t, systemEvent, userEvent,
		`{"id": 2, "source": "agent", "action": "run", `+strings.Replace(cleanedMetrics, "%s", "0.01", 1)+`, "args": {"command": "ls"}}`,
		stateEvent(3, "error", "RuntimeError: boom"))
	s, _ = Parse(dir)
	if v, ok := s.Details(func(s string) string { return s })["llm_calls"]; ok {
		t.Errorf("llm_calls = %v without per-response records; want it left out", v)
	}
}

// The provider's failures OpenHands reports (the reason of its last
// agent_state_changed) are infrastructure failures of their class:
// STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR is an unavailable provider,
// retried with backoff like a rate limit.
func TestInfraKinds(t *testing.T) {
	for _, tc := range []struct {
		state, reason string
		want          agent.InfraKind
	}{
		{"error", "STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR", agent.InfraProviderUnavailable},
		{"error", "InternalServerError: litellm.InternalServerError: AnthropicException - Internal server error", agent.InfraProviderUnavailable},
		{"error", "STATUS$ERROR_LLM_SERVICE_UNAVAILABLE", agent.InfraProviderUnavailable},
		{"rate_limited", "", agent.InfraRateLimit},
		{"error", "STATUS$ERROR_LLM_AUTHENTICATION", agent.InfraAuth},
		{"error", "STATUS$ERROR_LLM_OUT_OF_CREDITS", agent.InfraBilling},
		{"error", "RuntimeError: Agent reached maximum iteration. Current iteration: 3, max iteration: 3", ""},
		{"finished", "", ""},
	} {
		s, err := Parse(writeEvents(t, systemEvent, userEvent, stateEvent(2, tc.state, tc.reason)))
		if err != nil {
			t.Fatal(err)
		}
		ie := s.Infra()
		switch {
		case tc.want == "" && ie != nil:
			t.Errorf("%s %q: infra %v, want none", tc.state, tc.reason, ie)
		case tc.want != "" && (ie == nil || ie.Kind != tc.want):
			t.Errorf("%s %q: infra %v, want %s", tc.state, tc.reason, ie, tc.want)
		}
	}
	if !agent.InfraProviderUnavailable.Retried() {
		t.Error("provider_unavailable is not retried")
	}
}

func envOf(spec []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(spec); i++ {
		if spec[i] == "-e" {
			k, v, _ := strings.Cut(spec[i+1], "=")
			m[k] = v
		}
	}
	return m
}

// Browsing is off unless the entry allows it; a value of the user's
// environment does not turn it back on.
func TestBrowsingOff(t *testing.T) {
	for _, allow := range []bool{false, true} {
		a := &config.Agent{CLI: "uvx", Options: &Options{AllowBrowsing: allow}}
		ad, _ := New(a)
		got := map[string]string{}
		for _, kv := range ad.hostEnv(rollout(a, "PATH=/bin", "AGENT_ENABLE_BROWSING=true", "ENABLE_BROWSER=true")) {
			k, v, _ := strings.Cut(kv, "=")
			got[k] = v
		}
		want := "false"
		if allow {
			want = "true" // the user's own, untouched
		}
		if got["AGENT_ENABLE_BROWSING"] != want || got["ENABLE_BROWSER"] != want {
			t.Errorf("allow_browsing %v: AGENT_ENABLE_BROWSING=%q ENABLE_BROWSER=%q, want %q", allow, got["AGENT_ENABLE_BROWSING"], got["ENABLE_BROWSER"], want)
		}

		d := &config.Agent{Options: &Options{ContainerImage: "oh:1", AllowBrowsing: allow}}
		ad, _ = New(d)
		spec, err := ad.Spec(rollout(d, "PATH=/bin"))
		if err != nil {
			t.Fatal(err)
		}
		env := envOf(spec.RunArgv())
		if _, set := env["AGENT_ENABLE_BROWSING"]; set == allow {
			t.Errorf("allow_browsing %v: container env %v", allow, env)
		}
	}
}

// Local mode: OpenHands finds its action server at localhost (the app
// image says host.docker.internal, which our container cannot resolve);
// and --config-file is always the harness's, mounted read-only.
func TestSpecLocalRuntime(t *testing.T) {
	a := &config.Agent{Options: &Options{ContainerImage: "oh:1"}}
	ad, _ := New(a)
	r := rollout(a, "PATH=/bin")
	r.HarnessDir = "/r/harness"
	spec, err := ad.Spec(r)
	if err != nil {
		t.Fatal(err)
	}
	argv := spec.RunArgv()
	line := strings.Join(argv, " ")
	if envOf(argv)["SANDBOX_LOCAL_RUNTIME_URL"] != "http://localhost" {
		t.Errorf("SANDBOX_LOCAL_RUNTIME_URL not localhost: %s", line)
	}
	for _, want := range []string{
		"--mount type=bind,source=/r/harness/" + EmptyConfigName + ",target=/perfbench/config.toml,readonly",
		" -i 12 -b 2.5 --config-file /perfbench/config.toml",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("argv lacks %q:\n%s", want, line)
		}
	}

	// The entry's own config_file takes the harness's place.
	c := &config.Agent{Options: &Options{ContainerImage: "oh:1", ConfigFileOption: agent.ConfigFileOption{ConfigFile: "oh.toml"}}}
	ad, _ = New(c)
	spec, _ = ad.Spec(rollout(c))
	if line := strings.Join(spec.RunArgv(), " "); !strings.Contains(line, "source=/proj/oh.toml,target=/perfbench/config.toml,readonly") || strings.Contains(line, EmptyConfigName) {
		t.Errorf("config_file not mounted: %s", line)
	}

	// sandbox_runtime: docker reaches its runtime containers through the
	// host: no local runtime URL.
	d := &config.Agent{Options: &Options{ContainerImage: "oh:1", SandboxRuntime: "docker"}}
	ad, _ = New(d)
	spec, _ = ad.Spec(rollout(d, "DOCKER_HOST=unix:///nonexistent.sock"))
	if _, ok := envOf(spec.RunArgv())["SANDBOX_LOCAL_RUNTIME_URL"]; ok {
		t.Error("SANDBOX_LOCAL_RUNTIME_URL set with sandbox_runtime: docker")
	}
}

// The harness's empty config.toml is written before OpenHands starts.
func TestWriteEmptyConfig(t *testing.T) {
	a := &config.Agent{CLI: "/venv/bin/python"}
	ad, _ := New(a)
	r := rollout(a)
	r.HarnessDir = t.TempDir()
	if err := ad.writeEmptyConfig(r); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(r.HarnessDir, EmptyConfigName))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.HasPrefix(line, "#") {
			t.Errorf("the empty config.toml sets something: %q", line)
		}
	}
}

func TestTmuxProbe(t *testing.T) {
	spec := tmuxProbe("docker", "oh:1")
	line := strings.Join(spec.RunArgv(), " ")
	for _, want := range []string{"docker run --rm ", " --network none ", " --cap-drop ALL ", " --pull never ", " --entrypoint tmux oh:1 -V"} {
		if !strings.Contains(line, want) {
			t.Errorf("probe lacks %q: %s", want, line)
		}
	}
	for image, want := range map[string]string{
		"docker.all-hands.dev/all-hands-ai/openhands:0.54": "docker.all-hands.dev/all-hands-ai/openhands:0.54-local",
		"localhost:5000/oh": "localhost:5000/oh:local",
		"oh@sha256:0123":    "oh:local",
	} {
		if got := LocalImageTag(image); got != want {
			t.Errorf("LocalImageTag(%q) = %q, want %q", image, got, want)
		}
	}
}
