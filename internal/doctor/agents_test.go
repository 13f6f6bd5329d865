package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/all"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/records"
)

func runChecks(t *testing.T, a *config.Agent, b *config.Bench, env map[string]string) map[string]Result {
	t.Helper()
	out := map[string]Result{}
	kind, _ := agent.Find(all.Kinds(), a.Type)
	for _, c := range commonAgentChecks(a, kind, b, container.NewEngine("docker"), "docker", env) {
		out[c.Name] = c.Run(context.Background())
	}
	return out
}

func TestCommonAgentChecks(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "claude"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "codex.toml"), []byte(""), 0o644)
	t.Setenv("HOME", dir)
	env := map[string]string{"PATH": bin}
	b := &config.Bench{Dir: dir, Prices: map[string]config.Price{"gpt-5": {Input: 1, Output: 2}}}

	got := runChecks(t, &config.Agent{Name: "cc", Type: "claude_code", HomeFiles: []string{".claude/.credentials.json"}}, b, env)
	if r := got["agent cc: claude"]; !r.OK {
		t.Errorf("claude on PATH: %+v", r)
	}
	if r := got["agent cc: home_files"]; r.OK || !strings.Contains(r.Detail, ".claude/.credentials.json") {
		t.Errorf("a missing home file must fail and name it: %+v", r)
	}

	got = runChecks(t, &config.Agent{Name: "cx", Type: "codex", Model: "openai/gpt-5", Options: &agent.ConfigFileOption{ConfigFile: "codex.toml"}, Limits: records.Limits{MaxBudgetUSD: 1}}, b, env)
	if r := got["agent cx: codex"]; r.OK || !strings.Contains(r.Detail, "not found on PATH") {
		t.Errorf("codex is not on PATH: %+v", r)
	}
	if r := got["agent cx: config_file"]; !r.OK {
		t.Errorf("config_file relative to bench.yaml: %+v", r)
	}
	if r := got["agent cx: price of openai/gpt-5"]; !r.OK {
		t.Errorf("priced model: %+v", r)
	}

	got = runChecks(t, &config.Agent{Name: "cx", Type: "codex", Model: "o9", Limits: records.Limits{MaxBudgetUSD: 1}}, b, env)
	if r := got["agent cx: price of o9"]; r.OK || !strings.Contains(r.Detail, "could never fire") {
		t.Errorf("a budget without a price must fail: %+v", r)
	}

	got = runChecks(t, &config.Agent{Name: "box", Type: "aider", Runtime: "container", Image: "img"}, b, env)
	if _, ok := got["image img"]; !ok {
		t.Errorf("runtime: container checks the image, got %v", got)
	}
	if _, ok := got["agent box: aider"]; ok {
		t.Errorf("runtime: container does not look on the host's PATH")
	}

	got = runChecks(t, &config.Agent{Name: "t", Type: "trae", CLI: "bin/claude"}, b, env)
	if r := got["agent t: "+filepath.Join(dir, "bin/claude")]; !r.OK {
		t.Errorf("trae's relative cli is relative to bench.yaml: %v", got)
	}
}
