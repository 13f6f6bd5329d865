package cli

import (
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/all"
	"github.com/perfbench/perfbench/internal/agent/all/testdata/echoagent"
)

// Adding an agent is its package plus one line in the kinds list: with
// echoagent appended, its entries load with its own key (and a positioned
// error for a misspelt one), prepare --dry-run builds its command, and
// doctor checks its default executable; without it, its type is unknown.
func TestOneLineAddsAnAgent(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "t.yaml", "id: t\nrepo:\n  url: /r\n  human_commit: abcdef0\n")
	write(t, dir, "good.yaml", "agents:\n  e:\n    type: echo_agent\n    greeting: hello\n")
	write(t, dir, "typo.yaml", "agents:\n  e:\n    type: echo_agent\n    greating: hello\n")
	write(t, dir, "missing.yaml", "agents:\n  e:\n    type: echo_agent\n")
	run := func(withEcho bool, args ...string) (int, string, string) {
		var kinds []agent.Kind
		if withEcho {
			kinds = append(all.Kinds(), echoagent.Kind)
		}
		return runWith(t, dir, kinds, args...)
	}

	code, _, stderr := run(false, "validate", "t.yaml", "--bench-cfg", "good.yaml")
	if code != ExitBadInput || !strings.Contains(stderr, `good.yaml:4:5: agents.e: unknown field "greeting"`) {
		t.Errorf("greeting without the kind: %d %s", code, stderr)
	}
	code, out, stderr := run(true, "prepare", "t.yaml", "--bench-cfg", "good.yaml", "--agent", "e", "--dry-run")
	if code != 0 || !strings.Contains(out, "t-0000: echo-agent hello") || !strings.Contains(out, "(type echo_agent,") {
		t.Errorf("dry run: %d\n%s%s", code, out, stderr)
	}
	code, _, stderr = run(true, "validate", "t.yaml", "--bench-cfg", "typo.yaml")
	want := `typo.yaml:4:5: agents.e: unknown field "greating" (did you mean "greeting"? expected one of: type, cli, model, command, env, home_files, runtime, run_as, image, extra_args, container_image, runtime_image, config_file, llm_config, agent_cls, sandbox_runtime, openhands_home, allow_browsing, profile, greeting, timeout,`
	if code != ExitBadInput || !strings.Contains(stderr, want) {
		t.Errorf("misspelt key: %d %s", code, stderr)
	}
	code, _, stderr = run(true, "validate", "t.yaml", "--bench-cfg", "missing.yaml")
	if code != ExitBadInput || !strings.Contains(stderr, "missing.yaml:2:3: agents.e.greeting: required for type echo_agent") {
		t.Errorf("kind's check: %d %s", code, stderr)
	}
	code, out, _ = run(true, "doctor", "--bench-cfg", "good.yaml", "--agent", "e")
	if code == 0 || !strings.Contains(out, "✗ agent e: echo-agent: echo-agent not found on PATH") {
		t.Errorf("doctor: %d\n%s", code, out)
	}
	write(t, dir, "bare.yaml", "agents:\n  e:\n    type: echo_agent\n")
	code, _, stderr = run(false, "validate", "t.yaml", "--bench-cfg", "bare.yaml")
	if code != ExitBadInput || !strings.Contains(stderr, `bare.yaml:3:11: agents.e.type: unknown agent type "echo_agent" (expected one of: openhands, claude_code, codex, trae, aider, mini_swe_agent, command, replay, noop)`) {
		t.Errorf("without the line: %d %s", code, stderr)
	}
}
