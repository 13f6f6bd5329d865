package all_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/all"
	"github.com/perfbench/perfbench/internal/agent/openhands"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/prepare"
	"github.com/perfbench/perfbench/internal/secrets"
)

const seedBench = "../../config/testdata/seed/bench.yaml"

func load(t *testing.T) *config.Bench {
	t.Helper()
	b, err := config.LoadBench(seedBench, config.Vars{}, agent.ConfigKinds(all.Kinds()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The hashes and JSON of the seed's entries as they were when every
// type's keys were fields of config.Agent (computed on the commit before
// the kinds): a changed hash would start a new run instead of resuming.
func TestSeedAgentConfigHashUnchanged(t *testing.T) {
	want := map[string]struct{ hash, json string }{
		"openhands":   {"2202eb59061921d5", `{"name":"openhands","type":"openhands","cli":"uvx","limits":{"timeout":"1h0m0s","max_iterations":30,"max_budget_usd":10,"kill_grace":"10s"},"runtime":"host","container_image":"docker.all-hands.dev/all-hands-ai/openhands:0.54","runtime_image":"docker.all-hands.dev/all-hands-ai/runtime:0.54-nikolaik","sandbox_runtime":"local"}`},
		"trae":        {"a6a75bf3f2a126e1", `{"name":"trae","type":"trae","cli":"../bench-env/bin/python","limits":{"timeout":"2h0m0s","max_iterations":200,"kill_grace":"10s"},"runtime":"host","config_file":"../third-party/trae-agent/trae_config.yaml"}`},
		"codex_cli":   {"1cbd6ad0dd196f9f", `{"name":"codex_cli","type":"codex","cli":"codex","limits":{"timeout":"2h0m0s","max_iterations":120,"kill_grace":"10s"},"runtime":"host","config_file":"codex.toml","profile":"default"}`},
		"claude_code": {"89fadcc3c96f9556", `{"name":"claude_code","type":"claude_code","cli":"claude","model":"sonnet","limits":{"timeout":"2h0m0s","kill_grace":"10s"},"runtime":"host"}`},
	}
	b := load(t)
	set := secrets.FromEnv(nil, nil)
	for _, a := range b.Agents.Entries {
		h, red := prepare.AgentConfigHash(a, set)
		data, _ := json.Marshal(red)
		if w := want[a.Name]; h != w.hash || string(data) != w.json {
			t.Errorf("%s: hash %s, want %s\n got %s\nwant %s", a.Name, h, w.hash, data, w.json)
		}
		// run.json read back and written again keeps the options.
		var back config.Agent
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if again, _ := json.Marshal(&back); string(again) != string(data) {
			t.Errorf("%s: round trip\n got %s\nwant %s", a.Name, again, data)
		}
	}
	// Every OpenHands key, in the order the old struct had them.
	a := &config.Agent{Name: "oh", Type: "openhands", Command: []string{"x"}, ExtraArgs: []string{"--y"}, Env: map[string]string{"A": "<b>&"},
		Options: &openhands.Options{AgentCls: "CodeActAgent", LLMConfig: "llm", OpenHandsHome: "off", SandboxRuntime: "docker", ConfigFileOption: agent.ConfigFileOption{ConfigFile: "c.toml"}}}
	if h, _ := prepare.AgentConfigHash(a, set); h != "5b56c2e833b8f97c" {
		t.Errorf("every openhands key: hash %s, want 5b56c2e833b8f97c", h)
	}
	// run_as changes what the agent can read, so it is another
	// configuration; it follows runtime.
	c := *b.Agents.Lookup("claude_code")
	c.RunAs = &config.RunAs{UID: 65534, GID: 65534}
	h, red := prepare.AgentConfigHash(&c, set)
	data, _ := json.Marshal(red)
	if wantJSON := `{"name":"claude_code","type":"claude_code","cli":"claude","model":"sonnet","limits":{"timeout":"2h0m0s","kill_grace":"10s"},"runtime":"host","run_as":"65534:65534"}`; h != "7d6f1a87a85664ca" || string(data) != wantJSON {
		t.Errorf("claude_code with run_as: hash %s\n got %s\nwant %s", h, data, wantJSON)
	}
}

// The real kinds give the messages the loader's own tests pin with
// stand-ins.
func TestRealKindsMessages(t *testing.T) {
	b := load(t)
	if o := b.Agents.Lookup("openhands").Options.(*openhands.Options); o.SandboxRuntime != "local" || o.ContainerImage == "" {
		t.Errorf("openhands options %+v", o)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ src, want string }{
		{"agents:\n  openhands:\n    args:\n      itterations: 30\n",
			`bench.yaml:4:7: agents.openhands.args: unknown field "itterations" (did you mean "iterations"? expected one of: model, profile, timeout, time_budget_minutes, max_iterations, iterations, max_steps, max_turns, max_budget_usd, max_budget_per_task, kill_grace)`},
		{"agents:\n  openhands:\n    clii: x\n",
			`bench.yaml:3:5: agents.openhands: unknown field "clii" (did you mean "cli"? expected one of: type, cli, model, command, env, home_files, runtime, run_as, image, extra_args, container_image, runtime_image, config_file, llm_config, agent_cls, sandbox_runtime, openhands_home, allow_browsing, profile, timeout, time_budget_minutes, max_iterations, iterations, max_steps, max_turns, max_budget_usd, max_budget_per_task, kill_grace, args, install, install_context)`},
		{"agents:\n  mine:\n    type: command\n",
			`bench.yaml:2:3: agents.mine.command: required for type command (the argv to run, e.g. [./my-agent, "{workspace}"])`},
		{"agents:\n  openhands:\n    sandbox_runtime: podman\n",
			`bench.yaml:3:22: agents.openhands.sandbox_runtime: expected local or docker, got "podman"`},
	} {
		path := filepath.Join(dir, "bench.yaml")
		if err := os.WriteFile(path, []byte(tc.src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := config.LoadBench(path, config.Vars{}, agent.ConfigKinds(all.Kinds()))
		if err == nil || strings.TrimPrefix(err.Error(), dir+"/") != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
	_, err := b.Agent("nope")
	if err == nil || !strings.Contains(err.Error(), "agent types: openhands, claude_code, codex, trae, aider, mini_swe_agent, command, replay, noop)") {
		t.Errorf("unknown agent: %v", err)
	}
}
