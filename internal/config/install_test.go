package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestAgentInstall(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "agent-files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	src := `agents:
  mine:
    type: noop
    install:
      - COPY tool /opt/perfbench/mine/bin/tool
      - RUN ln -s /opt/perfbench/mine/bin/tool /opt/perfbench/bin/tool
    install_context: agent-files
`
	b, err := parseBench("bench.yaml", dir, []byte(src), Vars{}, testKinds)
	if err != nil {
		t.Fatal(err)
	}
	a := b.Agents.Lookup("mine")
	if !slices.Equal(a.Install, []string{"COPY tool /opt/perfbench/mine/bin/tool", "RUN ln -s /opt/perfbench/mine/bin/tool /opt/perfbench/bin/tool"}) || a.InstallContext != "agent-files" {
		t.Fatalf("install %q context %q", a.Install, a.InstallContext)
	}
	// In run.json with the common keys, and read back.
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"install":["COPY tool`) || !strings.Contains(string(data), `"install_context":"agent-files"`) {
		t.Errorf("JSON %s", data)
	}
	var back Agent
	if err := json.Unmarshal(data, &back); err != nil || back.InstallContext != "agent-files" || len(back.Install) != 2 {
		t.Errorf("read back %+v %v", back, err)
	}
	// Without install: an entry's JSON is as before (its hash unchanged).
	plain, _ := json.Marshal(&Agent{Name: "n", Type: "noop"})
	if strings.Contains(string(plain), "install") {
		t.Errorf("JSON of an entry without install: %s", plain)
	}

	for _, tc := range []struct{ name, src, want string }{
		{"install_context missing", "agents:\n  m:\n    type: noop\n    install: [RUN true]\n    install_context: gone\n",
			"bench.yaml:5:22: agents.m.install_context: expected a directory (relative to bench.yaml); " + filepath.Join(dir, "gone") + ": no such file or directory"},
		{"install_context a file", "agents:\n  m:\n    type: noop\n    install: [RUN true]\n    install_context: plain\n",
			"bench.yaml:5:22: agents.m.install_context: expected a directory (relative to bench.yaml), " + filepath.Join(dir, "plain") + " is not one"},
		{"install_context alone", "agents:\n  m:\n    type: noop\n    install_context: agent-files\n",
			"bench.yaml:4:22: agents.m.install_context: only valid with install: (the Dockerfile lines that COPY its files)"},
		{"FROM", "agents:\n  m:\n    type: noop\n    install:\n      - RUN true\n      - FROM busybox\n",
			"bench.yaml:6:9: agents.m.install[1]: a FROM is not allowed: the agent image is built FROM the environment image, in one stage"},
		{"empty line", "agents:\n  m:\n    type: noop\n    install: [\"  \"]\n",
			"bench.yaml:4:15: agents.m.install[0]: expected a Dockerfile line, got an empty one"},
		{"two lines in one", "agents:\n  m:\n    type: noop\n    install:\n      - |\n        RUN a\n        RUN b\n",
			"bench.yaml:5:9: agents.m.install[0]: expected one Dockerfile line per item (continue a long one with a trailing \\ and a next item)"},
		{"a string", "agents:\n  m:\n    type: noop\n    install: RUN true\n",
			"bench.yaml:4:14: agents.m.install: expected a list, got \"RUN true\""},
		{"inside args", "agents:\n  m:\n    type: noop\n    args:\n      install: [RUN true]\n",
			`bench.yaml:5:7: agents.m.args: unknown field "install"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseBench("bench.yaml", dir, []byte(tc.src), Vars{}, testKinds)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error:\n got %v\nwant %s", err, tc.want)
			}
			var cerr *Error
			if !errors.As(err, &cerr) || !isBadInput(err) {
				t.Errorf("error %T is not a bad-input *config.Error", err)
			}
		})
	}
}
