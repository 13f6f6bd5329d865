package doctor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/agent/all"
	"github.com/perfbench/perfbench/internal/agent/openhands"
	"github.com/perfbench/perfbench/internal/config"
)

// fakeCLI writes an executable that prints out (what the real CLI's
// --version prints) and exits with code.
func fakeCLI(t *testing.T, dir, name, out string, code int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	script := "#!/bin/sh\n[ \"$*\" = \"" + "--version" + "\" ] || [ \"$2 $3\" = \"trae_agent.cli --version\" ] || { echo \"unexpected argv: $*\" >&2; exit 9; }\nprintf '%s\\n' '" + out + "'\nexit " + string(rune('0'+code)) + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVersionCheck(t *testing.T) {
	dir := t.TempDir()
	fakeCLI(t, dir, "aider", "aider 0.86.1", 0)
	newAider := fakeCLI(t, dir, "aider-new", "aider 0.90.0", 0)
	broken := fakeCLI(t, dir, "aider-broken", "Traceback (most recent call last):", 1)
	claude := fakeCLI(t, dir, "claude", "2.1.110 (Claude Code)", 0)
	oldClaude := fakeCLI(t, dir, "claude-old", "2.0.76 (Claude Code)", 0)
	codex := fakeCLI(t, dir, "codex", "codex-cli 0.46.0", 0)
	newCodex := fakeCLI(t, dir, "codex-new", "codex-cli 0.130.0", 0)
	python := fakeCLI(t, dir, "python3", "cli, version 0.1.0", 0)
	// A Python with openhands-ai, asked through importlib.metadata.
	ohPython := filepath.Join(dir, "oh-python")
	if err := os.WriteFile(ohPython, []byte("#!/bin/sh\ncase \"$2\" in *\"version('openhands-ai')\"*) echo 'openhands-ai 0.58.1';; *) exit 9;; esac\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + dir}
	for _, c := range []struct {
		a      *config.Agent
		detail string
		warn   bool
	}{
		{&config.Agent{Name: "a", Type: "aider"}, "0.86.1 (checked: 0.86.0 to 0.86.x)", false},
		{&config.Agent{Name: "a", Type: "aider", CLI: newAider}, "0.90.0 is outside the versions the adapter was checked against (0.86.0 to 0.86.x; see docs/agents/compatibility.md)", true},
		{&config.Agent{Name: "a", Type: "aider", CLI: broken}, "--version: exit status 1 Traceback", true},
		{&config.Agent{Name: "a", Type: "aider", Runtime: "container", Image: "img"}, "runs in a container: not asked", false},
		{&config.Agent{Name: "c", Type: "claude_code", CLI: claude}, "2.1.110 (checked: 2.1.0 to 2.1.x)", false},
		{&config.Agent{Name: "c", Type: "claude_code", CLI: oldClaude}, "2.0.76 is outside", true},
		{&config.Agent{Name: "x", Type: "codex", CLI: codex}, "0.46.0 (checked: 0.43.0 to 0.115.x)", false},
		{&config.Agent{Name: "x", Type: "codex", CLI: newCodex}, "0.130.0 is outside", true},
		{&config.Agent{Name: "t", Type: "trae", CLI: python}, "0.1.0 (checked: 0.1.0 to 0.1.x)", false},
		{&config.Agent{Name: "m", Type: "mini_swe_agent"}, "mini has no --version: not asked", false},
		{&config.Agent{Name: "o", Type: "openhands", Options: &openhands.Options{ContainerImage: "docker.all-hands.dev/all-hands-ai/openhands:0.54"}}, "0.54 (checked: 0.54.0 to 0.62.0)", false},
		{&config.Agent{Name: "o", Type: "openhands", Options: &openhands.Options{ContainerImage: "localhost:5000/openhands:0.40.0"}}, "0.40.0 is outside", true},
		{&config.Agent{Name: "o", Type: "openhands", Options: &openhands.Options{ContainerImage: "openhands@sha256:abc"}}, "has no tag: version not known", false},
		{&config.Agent{Name: "o", Type: "openhands", CLI: ohPython}, "0.58.1 (checked: 0.54.0 to 0.62.0)", false},
	} {
		in := Input{Bench: &config.Bench{Dir: dir}, Agent: c.a, Kinds: all.Kinds(), Env: env}
		var got *Result
		for _, ch := range agentChecks(in) {
			if ch.Name == "agent "+c.a.Name+": version" {
				r := ch.Run(context.Background())
				got = &r
			}
		}
		switch {
		case got == nil:
			t.Errorf("%s %s: no version check", c.a.Type, c.a.CLI)
		case !got.OK || got.Warn != c.warn || !strings.Contains(got.Detail, c.detail):
			t.Errorf("%s %s: %+v, want warn %v and %q", c.a.Type, c.a.CLI, *got, c.warn, c.detail)
		}
	}
	// The common agents have no range: no check.
	for _, ch := range agentChecks(Input{Bench: &config.Bench{Dir: dir}, Agent: &config.Agent{Name: "n", Type: "noop"}, Kinds: all.Kinds(), Env: env}) {
		if strings.HasSuffix(ch.Name, ": version") {
			t.Errorf("noop has a version check %q", ch.Name)
		}
	}
}

func TestRunMarksWarnings(t *testing.T) {
	var out bytes.Buffer
	_, ok := Run(context.Background(), []Check{
		{Name: "v", Run: func(context.Context) Result { return Result{OK: true, Warn: true, Detail: "outside"} }},
		{Name: "w", Run: func(context.Context) Result { return Result{OK: true, Detail: "fine"} }},
	}, &out)
	if !ok || out.String() != "! v: outside\n✓ w: fine\n" {
		t.Fatalf("ok %v, output %q: a warning is shown and does not fail", ok, out.String())
	}
}
