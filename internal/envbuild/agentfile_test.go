package envbuild

import (
	"strings"
	"testing"
)

func TestAgentDockerfile(t *testing.T) {
	r := Recipe{
		Agent: "aider", Version: `0.86.1"$x\`, Prefix: "/opt/perfbench/aider",
		Lines: []string{"USER root", "RUN set -eu; \\", "    true"},
	}
	got := string(AgentDockerfile("sha256:abc", r))
	want := `# perfbench agent image: aider 0.86.1"$x\ in /opt/perfbench/aider, FROM the environment image.
# The environment's python and PATH come first; the agent's executables are
# in /opt/perfbench/bin, appended to PATH by the last line.
FROM sha256:abc
LABEL perfbench.agent="aider" perfbench.agent_version="0.86.1\"\$x\\"
USER root
RUN set -eu; \
    true
ENV PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}:/opt/perfbench/bin
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// A line break cannot add an instruction.
	r = Recipe{Agent: "a\nRUN evil", Version: "1", Lines: []string{"RUN a\nRUN b"}}
	got = string(AgentDockerfile("sha256:abc\nRUN x", r))
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if strings.HasPrefix(l, "RUN ") && l != "RUN a RUN b" {
			t.Errorf("an injected line: %q in\n%s", l, got)
		}
	}
}

func TestRecipeCheck(t *testing.T) {
	good := Recipe{Agent: "a", Version: "1.0.0", Prefix: "/opt/perfbench/a", Lines: []string{"RUN true"},
		Files: map[string]File{"bin/x": {Data: []byte("x"), Mode: 0o755}}}
	if err := good.Check(); err != nil {
		t.Fatalf("good recipe: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Recipe)
		want string
	}{
		{"no version", func(r *Recipe) { r.Version = "" }, "no agent or no version"},
		{"no lines", func(r *Recipe) { r.Lines = nil }, "no Dockerfile lines"},
		{"newline", func(r *Recipe) { r.Lines = []string{"RUN a\nRUN b"} }, "line 1 spans lines"},
		{"FROM", func(r *Recipe) { r.Lines = []string{"RUN a", "  from x AS y"} }, "line 2 is a FROM"},
		{"prefix outside", func(r *Recipe) { r.Prefix = "/usr/local" }, "not a directory of its own under /opt/perfbench"},
		{"prefix bin", func(r *Recipe) { r.Prefix = AgentBin }, "not a directory of its own"},
		{"prefix unclean", func(r *Recipe) { r.Prefix = "/opt/perfbench/a/../.." }, "not a directory of its own"},
		{"dotdot file", func(r *Recipe) { r.Files = map[string]File{"../x": {}} }, `context file "../x" is not a clean relative path`},
		{"abs file", func(r *Recipe) { r.Files = map[string]File{"/x": {}} }, "not a clean relative path"},
		{"Dockerfile", func(r *Recipe) { r.Files = map[string]File{"Dockerfile": {}} }, "would replace the build's own"},
	} {
		r := good
		tc.edit(&r)
		if err := r.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if got := good.ContextPaths(); len(got) != 1 || got[0] != "bin/x" {
		t.Errorf("ContextPaths = %v", got)
	}
}

// FuzzAgentDockerfile: whatever the values, the Dockerfile has exactly
// the header, FROM, LABEL, one line per recipe line and the PATH line,
// and its first instruction is the FROM of the environment image.
func FuzzAgentDockerfile(f *testing.F) {
	f.Add("sha256:abc", "aider", "0.86.1", "RUN true", "COPY a /opt/perfbench/a")
	f.Add("x\nRUN y", "a\"b", "$PATH\\", "RUN a\r\nRUN b", "")
	f.Fuzz(func(t *testing.T, from, agent, version, l1, l2 string) {
		r := Recipe{Agent: agent, Version: version, Lines: []string{l1, l2}}
		got := string(AgentDockerfile(from, r))
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if len(lines) != 3+2+2+1 {
			t.Fatalf("%d lines:\n%s", len(lines), got)
		}
		if !strings.HasPrefix(lines[3], "FROM ") || !strings.HasPrefix(lines[4], "LABEL ") || lines[7] != agentPathLine {
			t.Fatalf("structure:\n%s", got)
		}
		for _, l := range lines[:3] {
			if !strings.HasPrefix(l, "# ") {
				t.Fatalf("header line %q", l)
			}
		}
	})
}
