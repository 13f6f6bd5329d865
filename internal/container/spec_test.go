package container_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/secrets"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/<name>.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s mismatch (run with -update after checking):\n--- want\n%s--- got\n%s", path, want, got)
	}
}

// lines shows an argv one word per line, shell-quoted, for readable
// golden files.
func lines(argv []string) string {
	var b strings.Builder
	for _, a := range argv {
		b.WriteString(secrets.ShellQuote([]string{a}))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestRunArgvGolden(t *testing.T) {
	full := container.FromConfig(config.Container{
		Engine: "docker", CPUs: 1.5, Memory: "4g", PidsLimit: 512, Network: "none",
		GPUs: "all", Platform: "linux/amd64", CapAdd: []string{"SYS_PTRACE"},
	}, "")
	full.Name = container.Name("vllm__openhands__claude__20260101T000000Z", "vllm-0000", 0)
	full.Labels = map[string]string{container.LabelRun: "r1", container.LabelItem: "vllm-0000", container.LabelPID: "42"}
	full.Image = "docker.all-hands.dev/all-hands-ai/openhands:0.54"
	full.User = "1000:1000"
	full.GroupAdd = []string{"998"}
	full.Workdir = "/workspace"
	full.AddHosts = []string{"host.docker.internal:host-gateway"}
	full.Mounts = []container.Mount{
		{Source: "/tmp/perfbench-1/workspace", Target: "/workspace"},
		{Source: "/tmp/perfbench-1/task.txt", Target: "/task.txt", ReadOnly: true},
		{Source: "/home/u/odd,dir \"x\"", Target: "/perfbench/home/.openhands"},
	}
	full.Env = []container.EnvVar{
		{Name: "LOG_ALL_EVENTS", Value: "true"},
		{Name: "SANDBOX_VOLUMES", Value: "/workspace:/workspace:rw"},
		{Name: "LLM_API_KEY", ByName: true},
		{Name: "ANTHROPIC_API_KEY", ByName: true},
	}
	full.Cmd = []string{"python", "-m", "openhands.core.main", "-d", "/workspace", "-f", "/task.txt", "-i", "30", "-b", "2.5"}
	golden(t, "full", lines(full.RunArgv()))

	minimal := container.FromConfig(config.Container{}, "")
	minimal.Image = "alpine"
	golden(t, "minimal", lines(minimal.RunArgv()))

	podman := container.FromConfig(config.Container{Engine: "podman", Network: "bridge"}, "none")
	podman.Image = "localhost/oh:1"
	podman.KeepUserNS = true
	podman.User = "1000:1000"
	golden(t, "podman", lines(podman.RunArgv()))

	// workspace_setup's gate: -i, and the command behind the gate's shell.
	gated := container.FromConfig(config.Container{}, "")
	gated.Image = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	gated.Gated = true
	gated.Cmd = []string{"claude", "-p", "fix it"}
	golden(t, "gated", lines(gated.RunArgv()))
}

func TestRunArgvNoSecretValues(t *testing.T) {
	s := container.Spec{Image: "x", Env: []container.EnvVar{{Name: "OPENAI_API_KEY", ByName: true}}}
	argv := s.RunArgv()
	if !strings.Contains(strings.Join(argv, " "), "-e OPENAI_API_KEY x") {
		t.Errorf("argv %q: want the key passed by name", argv)
	}
}

func TestName(t *testing.T) {
	for _, tc := range []struct {
		run, item string
		sample    int
		want      string
	}{
		{"t__a__m__20260101T000000Z", "t-0000", 0, "bench-t__a__m__20260101T000000Z-t-0000"},
		{"r", "i", 2, "bench-r-i.s2"},
		{"run id/with:odd", "it€m", 0, "bench-run-id-with-odd-it-m"},
	} {
		if got := container.Name(tc.run, tc.item, tc.sample); got != tc.want {
			t.Errorf("Name(%q, %q, %d) = %q, want %q", tc.run, tc.item, tc.sample, got, tc.want)
		}
	}
	long := strings.Repeat("verylongtask", 6) + "__openhands__anthropic-claude-sonnet-4__20260101T000000Z"
	a := container.Name(long, "x-0001", 0)
	b := container.Name(long, "x-0002", 0)
	if len(a) > 63 || len(b) > 63 {
		t.Errorf("names longer than 63: %q (%d), %q (%d)", a, len(a), b, len(b))
	}
	if a == b {
		t.Errorf("distinct items share the name %q", a)
	}
	if a != container.Name(long, "x-0001", 0) {
		t.Error("Name is not deterministic")
	}
	if !strings.HasPrefix(a, "bench-verylongtask") {
		t.Errorf("name %q lost its prefix", a)
	}
}

func TestOwnerLabels(t *testing.T) {
	l := container.OwnerLabels("run", "item")
	host, _ := os.Hostname()
	if l[container.LabelRun] != "run" || l[container.LabelItem] != "item" || l[container.LabelHost] != host {
		t.Errorf("labels %v", l)
	}
	if container.Stale(l, host) {
		t.Error("this process's labels are stale")
	}
	dead := map[string]string{container.LabelRun: "run", container.LabelPID: "999999999"}
	if !container.Stale(dead, host) {
		t.Error("a dead pid's labels are not stale")
	}
	reused := map[string]string{container.LabelRun: "run", container.LabelPID: l[container.LabelPID], container.LabelPIDStart: "1"}
	if !container.Stale(reused, host) {
		t.Error("a reused pid (other start time) is not stale")
	}
	other := map[string]string{container.LabelRun: "run", container.LabelPID: "999999999", container.LabelHost: host + "-other"}
	if container.Stale(other, host) {
		t.Error("another host's container is stale here")
	}
	if container.Stale(map[string]string{container.LabelPID: "999999999"}, host) {
		t.Error("a container without perfbench.run is not ours and never stale")
	}
}

// A probe replaces the image's entrypoint: the program runs alone.
func TestRunArgvEntrypoint(t *testing.T) {
	s := container.FromConfig(config.Container{}, "none")
	s.Image, s.Entrypoint, s.Cmd = "oh:1", "tmux", []string{"-V"}
	got := strings.Join(s.RunArgv(), " ")
	if !strings.HasSuffix(got, " --entrypoint tmux oh:1 -V") {
		t.Errorf("argv %q", got)
	}
}
