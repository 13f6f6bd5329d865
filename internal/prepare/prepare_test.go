package prepare

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/workspace"
	"github.com/perfbench/perfbench/internal/workspace/workspacetest"
)

// setup loads a bench.yaml and a task for repo into a fresh directory.
func setup(t *testing.T, benchYAML string) (*config.Bench, *config.Task, string) {
	t.Helper()
	dir := t.TempDir()
	repo, _, human := workspacetest.NewRepo(t)
	if err := os.WriteFile(filepath.Join(dir, "bench.yaml"), []byte(benchYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	task := "id: t\nrepo:\n  url: " + repo + "\n  human_commit: " + human + "\n"
	if err := os.WriteFile(filepath.Join(dir, "task.yaml"), []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	env := config.Vars{}
	b, err := config.LoadBench(filepath.Join(dir, "bench.yaml"), env, agent.ConfigKinds(agent.Builtins()))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := config.LoadTask(filepath.Join(dir, "task.yaml"), env)
	if err != nil {
		t.Fatal(err)
	}
	return b, tk, dir
}

func buildPlan(t *testing.T, b *config.Bench, task *config.Task) *plan.Plan {
	t.Helper()
	ctx := context.Background()
	m, err := workspace.OpenMirror(ctx, b.Paths.WorkRoot, task.Repo.URL)
	if err != nil {
		t.Fatal(err)
	}
	entries, source, err := plan.Entries(task)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(ctx, task, source, entries, m, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDiskFullIsInfraError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tiny tmpfs")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	b, task, _ := setup(t, "paths:\n  rollout_root: "+mnt+"\n")
	p := buildPlan(t, b, task)
	a, err := b.Agent("noop")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[records.RolloutInfraError] != 1 || !sum.Failed() {
		t.Fatalf("counts %v, want one infra_error", sum.Counts)
	}
	j, err := journal.ReadJournal(filepath.Join(sum.RunDir, p.Items[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(j.Reason, "disk full during ") {
		t.Errorf("reason %q does not say the disk is full", j.Reason)
	}
	// Nothing is left on the full disk, and every JSON file is whole.
	left, _ := os.ReadDir(mnt)
	if len(left) != 0 {
		t.Errorf("rollout root not cleaned: %v", left)
	}
	assertJSONWhole(t, b.Paths.StateRoot)
}

func assertJSONWhole(t *testing.T, root string) {
	t.Helper()
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			data, _ := os.ReadFile(p)
			if !json.Valid(data) {
				t.Errorf("%s is not valid JSON", p)
			}
		}
		return nil
	})
}

func TestRolloutRootMustBeOutsideState(t *testing.T) {
	b, _, dir := setup(t, "paths:\n  state_root: ./state\n")
	b.Paths.RolloutRoot = filepath.Join(dir, "state", "rollouts")
	if _, err := b.PrivateRoot(); err == nil {
		t.Fatal("rollout root inside state_root accepted")
	}
}

func TestCheckTargets(t *testing.T) {
	for _, tc := range []struct {
		changed, allowed []string
		ok               bool
		disallowed       string
	}{
		{[]string{"a.go"}, nil, true, ""},
		{[]string{"src/a.go", "src/b/c.go"}, []string{"src/**"}, true, ""},
		{[]string{"src/a.go", "README.md"}, []string{"src/"}, false, "README.md"},
		{[]string{"lib/x.sh", "lib/y/z.sh"}, []string{"lib/*.sh"}, false, "lib/y/z.sh"},
		{[]string{"a.go"}, []string{"./a.go"}, true, ""},
	} {
		got := CheckTargets(tc.changed, tc.allowed, true)
		if got.OK != tc.ok || strings.Join(got.Disallowed, ",") != tc.disallowed {
			t.Errorf("CheckTargets(%v, %v) = ok %v disallowed %v", tc.changed, tc.allowed, got.OK, got.Disallowed)
		}
	}
}

func TestRedactAgentHidesSecrets(t *testing.T) {
	a := &config.Agent{Name: "x", Type: "command", Command: []string{"run", "--key", "sk-abcdef123456"}, Env: map[string]string{"OPENAI_API_KEY": "sk-abcdef123456", "PLAIN": "visible"}}
	set := secretsFor("OPENAI_API_KEY=sk-abcdef123456")
	h1, red := AgentConfigHash(a, set)
	data, _ := json.Marshal(red)
	if strings.Contains(string(data), "sk-abcdef123456") {
		t.Fatalf("secret in redacted config: %s", data)
	}
	if !strings.Contains(string(data), "visible") {
		t.Errorf("plain value lost: %s", data)
	}
	if h2, _ := AgentConfigHash(a, set); h2 != h1 {
		t.Errorf("config hash not stable: %s vs %s", h1, h2)
	}
}

func TestLastLines(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"\n\n", 3, ""},
		{"a", 3, "a"},
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 3, "a\nb\nc"},
		{"\nb", 1, "b"},
		{"a\nb", 0, ""},
	} {
		if got := lastLines(c.in, c.n); got != c.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for attempt := 1; attempt < 200; attempt++ {
		d := backoff(30*time.Second, attempt)
		if d <= 0 || d > maxBackoff*6/5 {
			t.Fatalf("backoff(30s, %d) = %s, want within (0, %s]", attempt, d, maxBackoff*6/5)
		}
	}
	if d := backoff(time.Second, 3); d < 3200*time.Millisecond || d > 4800*time.Millisecond {
		t.Fatalf("backoff(1s, 3) = %s, want 4s ± 20%%", d)
	}
}
