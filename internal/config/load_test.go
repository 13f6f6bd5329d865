package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/records"
)

const (
	seedBench = "testdata/seed/bench.yaml"
	seedTask  = "testdata/seed/tasks/vllm.yaml"
)

// envOf is an Env whose process environment is vars.
func envOf(vars map[string]string) Vars {
	return Vars{Process: func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}}
}

func mustAgent(t *testing.T, b *Bench, name string) *Agent {
	t.Helper()
	a := b.Agents.Lookup(name)
	if a == nil {
		t.Fatalf("no agent entry %q", name)
	}
	return a
}

func TestSeedBenchLoadsWithEmptyEnv(t *testing.T) {
	b, err := LoadBench(seedBench, Vars{}, testKinds)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata/seed")
	if b.Dir != dir || b.Path != seedBench {
		t.Errorf("Path, Dir = %q, %q; want %q, %q", b.Path, b.Dir, seedBench, dir)
	}
	if got, want := b.Paths.StateRoot, filepath.Join(dir, "state"); got != want {
		t.Errorf("state_root = %q, want %q", got, want)
	}
	if got, want := b.Paths.WorkRoot, filepath.Join(dir, ".work"); got != want {
		t.Errorf("work_root = %q, want %q", got, want)
	}
	c := b.Container
	if c.Engine != "docker" || c.Platform != "linux/amd64" || c.CPUs != 2 || c.Memory != "4g" || c.GPUs != "" {
		t.Errorf("container = %+v", c)
	}
	if c.Network != "none" || c.EvalNetwork != "none" {
		t.Errorf(`network_policy "off": network %q, eval %q; want none, none`, c.Network, c.EvalNetwork)
	}
	if !slices.Equal(b.Ignored, []string{"paths.reports_root", "metrics"}) {
		t.Errorf("ignored = %q", b.Ignored)
	}
	if b.PreflightEnabled() != true || b.HintsAllowed() != false {
		t.Errorf("preflight %v, hints %v; want true, false", b.PreflightEnabled(), b.HintsAllowed())
	}
	if b.MaxOutBytes != 256<<20 {
		t.Errorf("max_out_bytes %d, want 256 MiB", b.MaxOutBytes)
	}
	if b.LogCapBytes != 10<<20 || b.Retry != (Retry{Attempts: 3, Backoff: records.Duration(30 * time.Second), MaxConsecutiveAuthFailures: 3}) {
		t.Errorf("log cap %d, retry %+v", b.LogCapBytes, b.Retry)
	}

	var names []string
	for _, e := range b.Agents.Entries {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, []string{"openhands", "trae", "codex_cli", "claude_code"}) || b.Agents.Default != "openhands" {
		t.Errorf("entries %q, default %q", names, b.Agents.Default)
	}

	oh := mustAgent(t, b, "openhands")
	ohOpts := oh.Options.(*testOpenHands)
	if oh.Type != "openhands" || oh.CLI != "uvx" || ohOpts.SandboxRuntime != "local" || oh.Runtime != "host" {
		t.Errorf("openhands = %+v", oh)
	}
	if ohOpts.ContainerImage != "docker.all-hands.dev/all-hands-ai/openhands:0.54" {
		t.Errorf("openhands container_image = %q", ohOpts.ContainerImage)
	}
	wantLimits := records.Limits{Timeout: records.Duration(time.Hour), MaxIterations: 30, MaxBudgetUSD: 10, KillGrace: records.Duration(DefaultKillGrace)}
	if oh.Limits != wantLimits {
		t.Errorf("openhands limits = %+v, want %+v", oh.Limits, wantLimits)
	}
	if oh.Pos != (Pos{File: seedBench, Line: 18, Col: 3}) {
		t.Errorf("openhands pos = %v", oh.Pos)
	}

	trae := mustAgent(t, b, "trae")
	if trae.Limits.MaxIterations != 200 || trae.Limits.Timeout != records.Duration(2*time.Hour) {
		t.Errorf("trae limits = %+v", trae.Limits)
	}
	codex := mustAgent(t, b, "codex_cli")
	codexOpts := codex.Options.(*testCodex)
	if codex.Type != "codex" || codexOpts.Profile != "default" || codex.Limits.MaxIterations != 120 || codexOpts.ConfigFile != "codex.toml" {
		t.Errorf("codex_cli = %+v", codex)
	}
	claude := mustAgent(t, b, "claude_code")
	if claude.Type != "claude_code" || claude.Model != "sonnet" || claude.CLI != "claude" {
		t.Errorf("claude_code = %+v", claude)
	}
	if oh.Model != "" {
		t.Errorf("openhands model = %q without LLM_MODEL, want empty", oh.Model)
	}
}

func TestSeedBenchEnvOverrides(t *testing.T) {
	env := envOf(map[string]string{
		"BENCH_CPUS":       "4",
		"CONTAINER_ENGINE": "podman",
		"BENCH_GPUS":       "all",
		"LLM_MODEL":        "gpt-x",
		"CLAUDE_MODEL":     "opus",
		"OPENHANDS_CLI":    "/opt/openhands",
	})
	b, err := LoadBench(seedBench, env, testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if b.Container.CPUs != 4 || b.Container.Engine != "podman" || b.Container.GPUs != "all" {
		t.Errorf("container = %+v", b.Container)
	}
	if oh := mustAgent(t, b, "openhands"); oh.Model != "gpt-x" || oh.CLI != "/opt/openhands" {
		t.Errorf("openhands model %q cli %q; want gpt-x (LLM_MODEL), /opt/openhands", oh.Model, oh.CLI)
	}
	if m := mustAgent(t, b, "claude_code").Model; m != "opus" {
		t.Errorf("claude_code model = %q, want opus", m)
	}
}

func TestDotEnvFeedsExpansionButProcessWins(t *testing.T) {
	env := Vars{
		Process: envOf(map[string]string{"BENCH_CPUS": "3"}).Process,
		Dot:     map[string]string{"BENCH_CPUS": "8", "BENCH_MEMORY": "16g"},
	}
	b, err := LoadBench(seedBench, env, testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if b.Container.CPUs != 3 || b.Container.Memory != "16g" {
		t.Errorf("cpus %v memory %q; want 3 (process), 16g (.env)", b.Container.CPUs, b.Container.Memory)
	}
}

func TestSeedTaskLoads(t *testing.T) {
	for _, env := range []Vars{{}, envOf(map[string]string{"UNUSED": "x"})} {
		task, err := LoadTask(seedTask, env)
		if err != nil {
			t.Fatal(err)
		}
		if task.ID != "vllm_core" || task.Name != "vLLM core performance" || task.Repo.URL != "https://github.com/vllm-project/vllm.git" {
			t.Errorf("task = %+v", task)
		}
		if task.Repo.HumanCommit != "f092153fbe349a9a1742940e3703bfcff6aa0a6d" || task.Repo.PreParentIndex != 1 {
			t.Errorf("repo = %+v", task.Repo)
		}
		if !slices.Equal(task.OptimizationContract.Constraints, []string{"No public API breakage", "All TestPack checks must pass"}) {
			t.Errorf("constraints = %q", task.OptimizationContract.Constraints)
		}
		if task.Scoring != (Scoring{Primary: "functional_match", TieBreaker: "throughput_img_per_s"}) {
			t.Errorf("scoring = %+v", task.Scoring)
		}
		if !slices.Equal(task.Ignored, []string{"runner", "agents", "testpack", "metrics"}) {
			t.Errorf("ignored = %q", task.Ignored)
		}
		if task.Hints.Any() {
			t.Errorf("hints on by default: %+v", task.Hints)
		}
		dir, _ := filepath.Abs("testdata/seed/tasks")
		if task.Dir != dir || task.Path != seedTask {
			t.Errorf("Path, Dir = %q, %q", task.Path, task.Dir)
		}
		runner, _ := task.Runner.(map[string]any)
		if runner["cuda_version"] != "12.4" || runner["requires_gpu"] != true {
			t.Errorf("runner kept as %#v", task.Runner)
		}
	}
}

func TestTaskDefaultsAndShapes(t *testing.T) {
	src := `
id: demo.1
repo:
  url: https://example.com/r.git
  pairs:
    - human: aaa
    - human: bbb
      pre_parent_index: 2
      evaluation:
        rounds: "${ROUNDS:-12}"
        metric: {regex: 'took ([0-9.]+)s', better: higher}
        equivalence: {mode: numeric, tolerance: 0.01}
evaluation:
  metric: wall
  equivalence: exact
  warmup: 0
  band: 0.05
  alpha: 0.05
  timeout: 90s
  setup:
    - |
      make
      make install
`
	task, err := parseTask("t.yaml", []byte(src), Vars{})
	if err != nil {
		t.Fatal(err)
	}
	if task.Name != "demo.1" {
		t.Errorf("name defaults to id: %q", task.Name)
	}
	e := task.Evaluation
	if e.Metric.Kind != "wall" || e.Equivalence.Mode != "exact" || e.Warmup == nil || *e.Warmup != 0 || e.Timeout != records.Duration(90*time.Second) {
		t.Errorf("evaluation = %+v", e)
	}
	if len(e.Setup) != 1 || e.Setup[0] != "make\nmake install\n" {
		t.Errorf("setup = %q", e.Setup)
	}
	if e.Pos != (Pos{File: "t.yaml", Line: 14, Col: 3}) {
		t.Errorf("evaluation pos = %v", e.Pos)
	}
	p := task.Repo.Pairs
	if len(p) != 2 || p[0].PreParentIndex != 1 || p[1].PreParentIndex != 2 || p[0].Pos.Line != 6 || p[1].Pos.Line != 7 {
		t.Fatalf("pairs = %+v", p)
	}
	pe := p[1].Evaluation
	if pe == nil || pe.Rounds != 12 || pe.Metric.Kind != "regex" || pe.Metric.Better != "higher" || pe.Equivalence.Tolerance != 0.01 {
		t.Errorf("pair evaluation = %+v", pe)
	}
}

func TestSetupListRejectsBlockString(t *testing.T) {
	_, err := parseTask("t.yaml", []byte("id: x\nrepo: {url: u}\nevaluation:\n  setup: |\n    make\n"), Vars{})
	if err == nil || err.Error() != `t.yaml:4:10: evaluation.setup: expected a list, got "make\n"` {
		t.Errorf("err = %v", err)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	src := `
common: &common
  time_budget_minutes: 1.5
  args: {max_turns: 7}
agents:
  default: claude_code
  claude_code:
    <<: *common
    cli: claude
`
	// "common" is not a bench.yaml field: anchors live inside known fields.
	_, err := parseBench("bench.yaml", "/tmp", []byte(src), Vars{}, testKinds)
	if err == nil || !strings.Contains(err.Error(), `unknown field "common"`) {
		t.Fatalf("err = %v", err)
	}
	src = `
agents:
  default: claude_code
  aider: &common
    time_budget_minutes: 1.5
    args: {max_turns: 7}
  claude_code:
    <<: *common
    cli: claude
`
	b, err := parseBench("bench.yaml", "/tmp", []byte(src), Vars{}, testKinds)
	if err != nil {
		t.Fatal(err)
	}
	a, err := b.Agent("")
	if err != nil {
		t.Fatal(err)
	}
	if a.CLI != "claude" || a.Limits.Timeout != records.Duration(90*time.Second) || a.Limits.MaxIterations != 7 {
		t.Errorf("merged entry = %+v", a)
	}
}

func TestBenchAgentSelection(t *testing.T) {
	b, err := LoadBench(seedBench, envOf(map[string]string{"LLM_MODEL": "m1"}), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := b.Agent(""); err != nil || a.Name != "openhands" {
		t.Errorf(`Agent("") = %v, %v; want the default openhands`, a, err)
	}
	if a, err := b.Agent("trae"); err != nil || a.Name != "trae" {
		t.Errorf(`Agent("trae") = %v, %v`, a, err)
	}
	a, err := b.Agent("noop")
	if err != nil {
		t.Fatal(err)
	}
	want := Agent{Name: "noop", Type: "noop", Model: "m1", Runtime: "host", Limits: records.Limits{KillGrace: records.Duration(DefaultKillGrace)}}
	if a.Name != want.Name || a.Type != want.Type || a.Model != want.Model || a.Limits != want.Limits || a.Runtime != want.Runtime {
		t.Errorf(`Agent("noop") = %+v, want %+v`, a, want)
	}
	if a, err := b.Agent("codex"); err != nil || a.Type != "codex" {
		t.Errorf(`Agent("codex") = %v, %v`, a, err)
	}
	_, err = b.Agent("zzzzzz")
	if err == nil || !isBadInput(err) || !strings.Contains(err.Error(), `unknown agent "zzzzzz" (entries: openhands, trae, codex_cli, claude_code; agent types: openhands,`) {
		t.Errorf(`Agent("zzzzzz") err = %v`, err)
	}
	// A typo of an entry or a type gets a did-you-mean, as YAML fields do.
	for typo, want := range map[string]string{"nop": "noop", "claude_cod": "claude_code", "codex-cli": "codex_cli"} {
		_, err = b.Agent(typo)
		if err == nil || !isBadInput(err) || !strings.Contains(err.Error(), fmt.Sprintf(`unknown agent %q (did you mean %q? entries:`, typo, want)) {
			t.Errorf(`Agent(%q) err = %v, want did you mean %q`, typo, err, want)
		}
	}
}

func TestPatchExcludes(t *testing.T) {
	task, err := parseTask("t.yaml", []byte("id: x\nrepo: {url: u}\npatch:\n  exclude: ['!*.py[co]', 'build/', '*.o', '!.ruff_cache/', 'build/']\n"), Vars{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"__pycache__/", ".pytest_cache/", ".mypy_cache/", "*.egg-info/", "build/", "*.o"}
	if got := task.Patch.Excludes(); !slices.Equal(got, want) {
		t.Errorf("excludes = %q, want %q", got, want)
	}
	if got := (PatchCapture{}).Excludes(); !slices.Equal(got, DefaultPatchExclude) {
		t.Errorf("no patch section: %q", got)
	}
}

func TestNoBenchFile(t *testing.T) {
	b, err := LoadBench("", Vars{}, testKinds)
	if err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	if b.Dir != cwd || b.Path != "" || b.Paths.StateRoot != filepath.Join(cwd, "state") || b.Container.Network != "bridge" || b.Container.EvalNetwork != "bridge" {
		t.Errorf("defaults = %+v", b)
	}
	if !b.PreflightEnabled() || !b.HintsAllowed() {
		t.Error("preflight and hints must default to on")
	}
	if b.MaxPatchBytes != 20<<20 {
		t.Errorf("max_patch_bytes = %d, want 20 MiB", b.MaxPatchBytes)
	}
	_, err = b.Agent("")
	if err == nil || err.Error() != "no agent: pass --agent or set agents.default" || !isBadInput(err) {
		t.Errorf(`Agent("") err = %v`, err)
	}
	if a, err := b.Agent("replay"); err != nil || a.Type != "replay" {
		t.Errorf(`Agent("replay") = %v, %v`, a, err)
	}
}

func TestNetworkPolicies(t *testing.T) {
	for _, tc := range []struct{ yaml, network, eval string }{
		{"container: {network_policy: 'on'}", "bridge", "bridge"},
		{"container: {network_policy: on_for_prepare}", "bridge", "none"},
		{"container: {network_policy: off}", "none", "none"},
		{"container: {network: host}", "host", "host"},
		{"container: {}", "bridge", "bridge"},
	} {
		b, err := parseBench("bench.yaml", "/tmp", []byte(tc.yaml), Vars{}, testKinds)
		if err != nil {
			t.Errorf("%s: %v", tc.yaml, err)
			continue
		}
		if b.Container.Network != tc.network || b.Container.EvalNetwork != tc.eval {
			t.Errorf("%s: network %q eval %q; want %q %q", tc.yaml, b.Container.Network, b.Container.EvalNetwork, tc.network, tc.eval)
		}
	}
}

func TestMissingFilesAreBadInput(t *testing.T) {
	_, err := LoadTask("testdata/nope.yaml", Vars{})
	if err == nil || err.Error() != "task testdata/nope.yaml: no such file or directory" || !isBadInput(err) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadTask err = %v", err)
	}
	_, err = LoadBench("testdata/nope.yaml", Vars{}, testKinds)
	if err == nil || !isBadInput(err) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadBench err = %v", err)
	}
}

func TestEmptyFiles(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "---\n", "~\n"} {
		_, err := parseTask("t.yaml", []byte(src), Vars{})
		if err == nil || err.Error() != "t.yaml:1:1: id: required field is missing (a task id such as vllm_core)" {
			t.Errorf("%q: err = %v", src, err)
		}
		b, err := parseBench("b.yaml", "/tmp", []byte(src), Vars{}, testKinds)
		if err != nil || b.Container.Engine != "docker" {
			t.Errorf("%q: bench = %+v, %v", src, b, err)
		}
	}
}

func TestByteOrderMarkIsSkipped(t *testing.T) {
	task, err := parseTask("t.yaml", []byte("\ufeffid: x\nrepo: {url: u}\n"), Vars{})
	if err != nil || task.ID != "x" {
		t.Errorf("task with BOM = %+v, %v", task, err)
	}
}

// isBadInput is what the CLI does to pick exit status 2.
func isBadInput(err error) bool {
	var b interface{ BadInput() bool }
	return errors.As(err, &b) && b.BadInput()
}

func TestErrors(t *testing.T) {
	const base = "id: x\nrepo: {url: u}\n"
	for _, tc := range []struct {
		name, file, src, want string
	}{
		{"malformed yaml", "task", "id: [a\n",
			`tasks/x.yaml:1:5: invalid YAML: sequence end token ']' not found`},
		{"bad indentation", "task", "id: x\nrepo:\n  url: u\n human_commit: h\n",
			`tasks/x.yaml:4:2: invalid YAML: value is not allowed in this context`},
		{"unknown top-level field", "task", "id: x\ndescripton: y\n",
			`tasks/x.yaml:2:1: unknown field "descripton" (did you mean "description"? expected one of: id, name, description, repo, workload, optimization_contract, scoring, hints, prompt_template, optimization_techniques, instructions, evaluation, environment, patch, runner, env_build, testpack, metrics, agents)`},
		{"unknown nested field", "task", "id: x\nrepo:\n  url: u\n  ulr: y\n",
			`tasks/x.yaml:4:3: repo: unknown field "ulr" (expected one of: url, human_commit, pre_commit, pre_parent_index, pairs)`},
		{"unknown field in args", "bench", "agents:\n  openhands:\n    args:\n      itterations: 30\n",
			`bench.yaml:4:7: agents.openhands.args: unknown field "itterations" (did you mean "iterations"? expected one of: model, profile, timeout, time_budget_minutes, max_iterations, iterations, max_steps, max_turns, max_budget_usd, max_budget_per_task, kill_grace)`},
		{"unknown field in agent entry", "bench", "agents:\n  openhands:\n    clii: x\n",
			`bench.yaml:3:5: agents.openhands: unknown field "clii" (did you mean "cli"? expected one of: type, cli, model, command, env, home_files, runtime, run_as, image, extra_args, container_image, runtime_image, config_file, llm_config, agent_cls, sandbox_runtime, openhands_home, profile, timeout, time_budget_minutes, max_iterations, iterations, max_steps, max_turns, max_budget_usd, max_budget_per_task, kill_grace, args, install, install_context)`},
		{"misspelt experiment switch", "bench", "experiment:\n  preflight_enabld: true\n",
			`bench.yaml:2:3: experiment: unknown field "preflight_enabld" (did you mean "preflight_enabled"? expected one of: preflight_enabled, hints_enabled)`},
		{"string for int", "task", base + "evaluation:\n  rounds: abc\n",
			`tasks/x.yaml:4:11: evaluation.rounds: expected an integer, got "abc"`},
		{"1.5 for int", "task", base + "evaluation:\n  rounds: 1.5\n",
			`tasks/x.yaml:4:11: evaluation.rounds: expected an integer, got "1.5"`},
		{"list for string", "task", base + "evaluation:\n  workload: [a]\n",
			`tasks/x.yaml:4:13: evaluation.workload: expected a string, got a list`},
		{"string for list", "task", base + "instructions: be fast\n",
			`tasks/x.yaml:3:15: instructions: expected a list, got "be fast"`},
		{"yes for bool", "task", base + "hints: {diff: yes}\n",
			`tasks/x.yaml:3:15: hints.diff: expected true or false, got "yes"`},
		{"expanded non-number", "bench", "container:\n  cpus: \"${BENCH_CPUS:-two}\"\n",
			`bench.yaml:2:9: container.cpus: expected a number, got "two"`},
		{"duplicate key", "task", "id: x\nid: y\n",
			`tasks/x.yaml:2:1: id: duplicate key (first set at line 1)`},
		{"duplicate nested key", "bench", "agents:\n  trae:\n    cli: a\n    cli: b\n",
			`bench.yaml:4:5: agents.trae.cli: duplicate key (first set at line 3)`},
		{"two aliases of one limit", "bench", "agents:\n  openhands:\n    max_iterations: 10\n    args:\n      iterations: 30\n",
			`bench.yaml:5:7: agents.openhands.args.iterations: sets max_iterations, already set by agents.openhands.max_iterations at line 3`},
		{"timeout spelt twice", "bench", "agents:\n  trae:\n    args:\n      timeout: 1h\n    time_budget_minutes: 5\n",
			`bench.yaml:5:5: agents.trae.time_budget_minutes: sets timeout, already set by agents.trae.args.timeout at line 4`},
		{"same limit top and args", "bench", "agents:\n  trae:\n    kill_grace: 5s\n    args: {kill_grace: 5s}\n",
			`bench.yaml:4:12: agents.trae.args.kill_grace: sets kill_grace, already set by agents.trae.kill_grace at line 3`},
		{"model and args.model", "bench", "agents:\n  claude_code:\n    model: a\n    args:\n      model: b\n",
			`bench.yaml:5:7: agents.claude_code.args.model: sets model, already set by agents.claude_code.model at line 3`},
		{"bad duration", "bench", "agents:\n  openhands:\n    timeout: abc\n",
			`bench.yaml:3:14: agents.openhands.timeout: expected a Go duration such as 90s, got "abc"`},
		{"duration without unit", "task", base + "evaluation: {timeout: 90}\n",
			`tasks/x.yaml:3:23: evaluation.timeout: expected a Go duration such as 90s, got "90"`},
		{"negative limit", "bench", "agents:\n  trae:\n    max_steps: -1\n",
			`bench.yaml:3:16: agents.trae.max_steps: must be at least 0 (0 means the agent's default), got -1`},
		{"unknown agent type", "bench", "agents:\n  mine:\n    type: bogus\n",
			`bench.yaml:3:11: agents.mine.type: unknown agent type "bogus" (expected one of: openhands, claude_code, codex, trae, aider, mini_swe_agent, command, replay, noop)`},
		{"entry name is no type", "bench", "agents:\n  mine:\n    cli: x\n",
			`bench.yaml:2:3: agents.mine: unknown agent type "mine" (the entry's name; set type: to one of: openhands, claude_code, codex, trae, aider, mini_swe_agent, command, replay, noop)`},
		{"command agent without command", "bench", "agents:\n  mine:\n    type: command\n",
			`bench.yaml:2:3: agents.mine.command: required for type command (the argv to run, e.g. [./my-agent, "{workspace}"])`},
		{"default names nothing", "bench", "agents:\n  default: zzz\n  mine:\n    type: noop\n",
			`bench.yaml:2:12: agents.default: "zzz" is neither an entry (mine) nor an agent type (openhands, claude_code, codex, trae, aider, mini_swe_agent, command, replay, noop)`},
		{"missing id", "task", "repo: {url: u}\n",
			`tasks/x.yaml:1:1: id: required field is missing (a task id such as vllm_core)`},
		{"bad id", "task", "id: 'a/b'\nrepo: {url: u}\n",
			`tasks/x.yaml:1:5: id: must match ^[A-Za-z0-9][A-Za-z0-9._-]*$ (it becomes part of file names), got "a/b"`},
		{"missing repo.url", "task", "id: x\nrepo:\n  human_commit: abc\n",
			`tasks/x.yaml:2:1: repo.url: required field is missing (the repository to clone)`},
		{"pair without human", "task", "id: x\nrepo: {url: u, pairs: [{pre: a}]}\n",
			`tasks/x.yaml:2:25: repo.pairs[0].human: required field is missing (the human commit of this pair)`},
		{"pair with pre and parent index", "task", "id: x\nrepo:\n  url: u\n  pairs:\n    - human: h\n      pre: p\n      pre_parent_index: 2\n",
			`tasks/x.yaml:7:7: repo.pairs[0].pre_parent_index: conflicts with repo.pairs[0].pre (set at line 6); set only one`},
		{"parent index 0", "task", "id: x\nrepo: {url: u, pre_parent_index: 0}\n",
			`tasks/x.yaml:2:34: repo.pre_parent_index: must be at least 1 (the first parent is 1), got 0`},
		{"metric without group", "task", base + "evaluation: {metric: {regex: 'a'}}\n",
			"tasks/x.yaml:3:30: evaluation.metric.regex: needs a capture group around the number, e.g. `time: ([0-9.]+)`"},
		{"metric bad regex", "task", base + "evaluation: {metric: {regex: 'a('}}\n",
			"tasks/x.yaml:3:30: evaluation.metric.regex: invalid regular expression: error parsing regexp: missing closing ): `a(`"},
		{"metric regex and json", "task", base + "evaluation:\n  metric:\n    regex: '(a)'\n    json: x\n",
			`tasks/x.yaml:6:5: evaluation.metric.json: conflicts with evaluation.metric.regex (set at line 5); set only one`},
		{"metric scalar", "task", base + "evaluation: {metric: cycles}\n",
			`tasks/x.yaml:3:22: evaluation.metric: expected wall, cpu, instructions or a mapping with regex or json, got "cycles"`},
		{"secondary unknown", "task", base + "evaluation: {secondary_metrics: [cpu, cycles]}\n",
			`tasks/x.yaml:3:39: evaluation.secondary_metrics[1]: expected one of wall, cpu, instructions, got "cycles"`},
		{"reject_flags unknown", "task", base + "evaluation:\n  reject_flags: [disk_cache, memo]\n",
			`tasks/x.yaml:4:30: evaluation.reject_flags[1]: expected a reward-hack rule (memo_decorator, module_cache, once_keyed, disk_cache, workload_literal, bench_env_check, argv_check, process_name_check, edits_tests, edits_benchmark, edits_eval_files, edits_ci, disable_checks, body_replaced_by_constant, commented_out_code, early_return, timer_tamper), got "memo"`},
		{"reject_flags twice", "task", base + "evaluation:\n  reject_flags: [disk_cache, disk_cache]\n",
			`tasks/x.yaml:4:30: evaluation.reject_flags[1]: disk_cache is listed twice`},
		{"secondary twice", "task", base + "evaluation:\n  secondary_metrics:\n    - cpu\n    - cpu\n",
			`tasks/x.yaml:6:7: evaluation.secondary_metrics[1]: cpu is listed twice`},
		{"secondary is the metric", "task", base + "evaluation: {metric: cpu, secondary_metrics: [cpu]}\n",
			`tasks/x.yaml:3:47: evaluation.secondary_metrics[0]: cpu is already evaluation.metric`},
		{"secondary beside instructions", "task", base + "evaluation: {metric: instructions, secondary_metrics: [wall]}\n",
			`tasks/x.yaml:3:56: evaluation.secondary_metrics[0]: wall cannot be recorded beside metric instructions (its runs are under the instruction counter); use metric: wall with secondary_metrics: [instructions]`},
		{"secondary not a list", "task", base + "evaluation: {secondary_metrics: cpu}\n",
			`tasks/x.yaml:3:33: evaluation.secondary_metrics: expected a list, got "cpu"`},
		{"equivalence without mode", "task", base + "evaluation: {equivalence: {tolerance: 1}}\n",
			`tasks/x.yaml:3:28: evaluation.equivalence: mode is missing (exact or numeric)`},
		{"negative tolerance", "task", base + "evaluation: {equivalence: {mode: numeric, tolerance: -1}}\n",
			`tasks/x.yaml:3:54: evaluation.equivalence.tolerance: must not be negative, got -1`},
		{"alpha 0", "task", base + "evaluation: {alpha: 0}\n",
			`tasks/x.yaml:3:21: evaluation.alpha: must be in (0, 1), got 0`},
		{"band 1", "task", base + "evaluation: {band: 1}\n",
			`tasks/x.yaml:3:20: evaluation.band: must be in [0, 1), got 1`},
		{"pair evaluation", "task", "id: x\nrepo:\n  url: u\n  pairs:\n    - human: h\n      evaluation: {rounds: -1}\n",
			`tasks/x.yaml:6:28: repo.pairs[0].evaluation.rounds: must be at least 0, got -1`},
		{"unterminated reference", "task", "id: x\nrepo: {url: \"${X\"}\n",
			`tasks/x.yaml:2:13: repo.url: unterminated variable reference "${X" (missing "}")`},
		{"invalid reference", "bench", "container:\n  engine: ${1X}\n",
			`bench.yaml:2:11: container.engine: invalid variable reference "${1X}" (a name is letters, digits and _, not starting with a digit)`},
		{"required variable", "bench", "container:\n  engine: ${ENGINE:?set it in .env}\n",
			`bench.yaml:2:11: container.engine: required variable ENGINE is not set or empty: set it in .env`},
		{"network and network_policy", "bench", "container:\n  network: none\n  network_policy: \"off\"\n",
			`bench.yaml:3:3: container.network_policy: conflicts with container.network (set at line 2); set only one`},
		{"bad network policy", "bench", "container:\n  network_policy: maybe\n",
			`bench.yaml:2:19: container.network_policy: expected off, on or on_for_prepare, got "maybe"`},
		{"bad engine", "bench", "container: {engine: lxc}\n",
			`bench.yaml:1:21: container.engine: expected docker or podman, got "lxc"`},
		{"rollout root inside state", "bench", "paths:\n  rollout_root: state/x\n",
			`bench.yaml:2:17: paths.rollout_root: must not be inside state_root (/srv/b/state): agents must not see the harness's files`},
		{"small log cap", "bench", "log_cap_bytes: 100\n",
			`bench.yaml:1:16: log_cap_bytes: must be at least 4096, got 100`},
		{"zero out limit", "bench", "max_out_bytes: 0\n",
			`bench.yaml:1:16: max_out_bytes: must be at least 1, got 0`},
		{"negative out limit", "bench", "max_out_bytes: -5\n",
			`bench.yaml:1:16: max_out_bytes: must be at least 1, got -5`},
		{"negative patch limit", "bench", "max_patch_bytes: -1\n",
			`bench.yaml:1:18: max_patch_bytes: must be from 1 to 1073741824 (1 GiB), got -1`},
		{"huge patch limit", "bench", "max_patch_bytes: 2000000000000000000\n",
			`bench.yaml:1:18: max_patch_bytes: must be from 1 to 1073741824 (1 GiB), got 2000000000000000000`},
		{"negative shard budget", "bench", "max_total_budget_usd: 10\nshard_budget_usd: -2.5\n",
			`bench.yaml:2:19: shard_budget_usd: must not be negative, got -2.5`},
		{"shard budget not a number", "bench", "shard_budget_usd: lots\n",
			`bench.yaml:1:19: shard_budget_usd: expected a number, got "lots"`},
		{"negative cache write price", "bench", "prices:\n  claude-sonnet-4-5: {input: 3, output: 15, cache_write: -1}\n",
			`bench.yaml:2:58: prices.claude-sonnet-4-5.cache_write: must not be negative, got -1`},
		{"patch exclude not a list", "task", base + "patch: {exclude: build/}\n",
			`tasks/x.yaml:3:18: patch.exclude: expected a list, got "build/"`},
		{"empty patch exclude", "task", base + "patch:\n  exclude: [build/, '']\n",
			`tasks/x.yaml:4:21: patch.exclude[1]: expected a gitignore pattern such as build/ or *.o, got ""`},
		{"multi-line patch exclude", "task", base + "patch:\n  exclude: [\"a\\nb\"]\n",
			`tasks/x.yaml:4:13: patch.exclude[0]: a pattern must be one line, got "a\nb"`},
		{"comment patch exclude", "task", base + "patch:\n  exclude: ['#x']\n",
			`tasks/x.yaml:4:13: patch.exclude[0]: a pattern must not start with # (a comment in gitignore), got "#x"`},
		{"removing a non-default", "task", base + "patch:\n  exclude:\n    - '!*.o'\n",
			`tasks/x.yaml:5:7: patch.exclude[0]: !*.o removes a default pattern, but "*.o" is not one (defaults: __pycache__/ *.py[co] .pytest_cache/ .mypy_cache/ .ruff_cache/ *.egg-info/)`},
		{"unknown patch field", "task", base + "patch: {excludes: [a]}\n",
			`tasks/x.yaml:3:9: patch: unknown field "excludes" (did you mean "exclude"? expected one of: exclude)`},
		{"top level list", "task", "- a\n",
			`tasks/x.yaml:1:1: expected a mapping of task fields at the top level, got a list`},
		{"two documents", "task", "id: a\n---\nid: b\n",
			`tasks/x.yaml:3:1: a file holds one YAML document, found a second one`},
		{"unknown anchor", "task", "id: *a\n",
			`tasks/x.yaml:1:5: id: unknown anchor "a"`},
		{"custom tag", "task", "id: !secret x\n",
			`tasks/x.yaml:1:5: id: unsupported YAML tag "!secret"`},
		{"agents not a mapping", "bench", "agents: [a]\n",
			`bench.yaml:1:9: agents: expected a mapping of agent entries, got a list`},
		{"newline in quoted key", "task", "id: x\n\"a\\nb\": 1\n",
			`tasks/x.yaml:2:1: unknown field "a\nb" (expected one of: id, name, description, repo, workload, optimization_contract, scoring, hints, prompt_template, optimization_techniques, instructions, evaluation, environment, patch, runner, env_build, testpack, metrics, agents)`},
		{"repo url is an option", "task", "id: x\nrepo:\n  url: --upload-pack=touch /tmp/pwned\n",
			`tasks/x.yaml:3:8: repo.url: must not start with '-' (git would read it as an option), got "--upload-pack=touch /tmp/pwned"`},
		{"ext transport", "task", "id: x\nrepo: {url: \"ext::sh -c touch% /tmp/pwned\"}\n",
			`tasks/x.yaml:2:13: repo.url: the ext:: transport runs a command: give a URL or a path, got "ext::sh -c touch% /tmp/pwned"`},
		{"fd transport", "task", "id: x\nrepo: {url: \"fd::3\"}\n",
			`tasks/x.yaml:2:13: repo.url: the fd:: transport talks over inherited file descriptors: give a URL or a path, got "fd::3"`},
		{"invalid utf-8 in a value", "task", "id: x\nrepo:\n  url: \"caf\xe9\"\n",
			`tasks/x.yaml:3: invalid UTF-8`},
		{"invalid utf-8 in a comment", "task", "# \xff\xfe\nid: x\nrepo: {url: u}\n",
			`tasks/x.yaml:1: invalid UTF-8`},
		{"truncated utf-8 at the end", "task", "id: x\nrepo: {url: u}\nname: \xe2\x82",
			`tasks/x.yaml:3: invalid UTF-8`},
		{"invalid utf-8 in bench.yaml", "bench", "agents:\n  default: x\n  x:\n    type: noop\n    env: {K: \"\xc0\xaf\"}\n",
			`bench.yaml:5: invalid UTF-8`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.file == "task" {
				_, err = parseTask("tasks/x.yaml", []byte(tc.src), Vars{})
			} else {
				_, err = parseBench("bench.yaml", "/srv/b", []byte(tc.src), Vars{}, testKinds)
			}
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error:\n got %s\nwant %s", got, tc.want)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error spans lines: %q", err.Error())
			}
			var cerr *Error
			if !errors.As(err, &cerr) || !isBadInput(err) {
				t.Errorf("error %T is not a bad-input *config.Error", err)
			}
		})
	}
}

func TestDeepNestingIsRejectedQuickly(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{strings.Repeat("[", 150), "t.yaml:1:101: values nested more than 100 deep"},
		{"id: x\nrunner: " + strings.Repeat("{a: ", 150), "t.yaml:2:409: values nested more than 100 deep"},
		{"runner:\n  " + strings.Repeat("- ", 40000) + "x\n", "t.yaml:2:203: values nested more than 100 deep"},
	} {
		start := time.Now()
		_, err := parseTask("t.yaml", []byte(tc.src), Vars{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("err = %v, want %s", err, tc.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v", d)
		}
	}
}

func TestIsLocalRepo(t *testing.T) {
	for url, want := range map[string]bool{
		"./repo": true, "/srv/git/x.git": true, "repo": true, "a/b::c": true, "dir/x:y": true,
		"https://h/x.git": false, "git@github.com:o/r.git": false, "host:path": false,
		"ext::sh -c x": false, "file:///srv/x": false, "": false,
	} {
		if got := IsLocalRepo(url); got != want {
			t.Errorf("IsLocalRepo(%q) = %v, want %v", url, got, want)
		}
	}
}

func TestPricesCacheWrite(t *testing.T) {
	src := "prices:\n  claude-sonnet-4-5: {input: 3, output: 15, cached_input: 0.3, cache_write: 3.75}\n  gpt-5: {input: 1.25, output: 10}\n"
	b, err := parseBench("bench.yaml", "/tmp", []byte(src), Vars{}, testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if p := b.Prices["claude-sonnet-4-5"]; p.CacheWrite != 3.75 || p.CachedInput != 0.3 {
		t.Fatalf("claude-sonnet-4-5 = %+v", p)
	}
	// Without cache_write: Anthropic's models pay 1.25 × input, others
	// the input rate; an explicit cache_write wins.
	for _, c := range []struct {
		model string
		p     Price
		want  float64
	}{
		{"anthropic/claude-sonnet-4-20250514", Price{Input: 3}, 3.75},
		{"claude-sonnet-4-5", Price{Input: 3}, 3.75},
		{"anthropic/some-alias", Price{Input: 2}, 2.5},
		{"openrouter/anthropic/claude-opus-4-1", Price{Input: 15}, 18.75},
		{"openai/gpt-5", Price{Input: 1.25}, 1.25},
		{"gpt-5", Price{Input: 1.25}, 1.25},
		{"deepseek/deepseek-chat", Price{Input: 0.27}, 0.27},
		{"claude-sonnet-4-5", Price{Input: 3, CacheWrite: 6}, 6},
		{"gpt-5", Price{Input: 1.25, CacheWrite: 2}, 2},
	} {
		if got := c.p.CacheWriteRate(c.model); got != c.want {
			t.Errorf("CacheWriteRate(%q) of %+v = %v, want %v", c.model, c.p, got, c.want)
		}
	}
}
