package claudecode_test

// Rollouts through the adapter alone (no prepare), with the stand-in on
// PATH: the usage reported while the stream runs, a stop by the caller's
// context (what the harness does at a budget cap), and a missing
// executable.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/claudecode"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

var _ agent.Adapter = (*claudecode.Adapter)(nil)

type usageLog struct {
	mu sync.Mutex
	us []records.Usage
}

func (l *usageLog) add(u records.Usage) {
	l.mu.Lock()
	l.us = append(l.us, u)
	l.mu.Unlock()
}

func (l *usageLog) all() []records.Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]records.Usage(nil), l.us...)
}

// newRollout prepares a private rollout directory with a git workspace
// and the stand-in first on PATH.
func newRollout(t *testing.T, a *config.Agent, l records.Limits, extraEnv ...string) (*agent.Rollout, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	dir, err := standinDir()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ws := filepath.Join(root, "workspace")
	for _, d := range []string{filepath.Join(ws, "src"), filepath.Join(root, "home"), filepath.Join(root, "out"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("git", "init", "-q", ws).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(ws, "src", "slow.sh"), []byte("slow\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	process := append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "IS_SANDBOX=1")
	process = append(process, extraEnv...)
	var stdout, stderr bytes.Buffer
	r := &agent.Rollout{
		RunID: "t__claude_code__m__20260101T000000Z", ItemID: "t-0000", Agent: a,
		Bench: &config.Bench{Prices: map[string]config.Price{
			"claude-sonnet-4-5": {Input: 3, Output: 15, CachedInput: 0.3},
		}},
		Limits:    l,
		Workspace: ws, TaskFile: filepath.Join(root, "task.txt"), OutDir: filepath.Join(root, "out"), Home: filepath.Join(root, "home"),
		Prompt: "Make bench.sh faster.\n",
		Stdout: &stdout, Stderr: &stderr,
		Secrets: secrets.FromEnv(process, nil),
	}
	r.Env = agent.BaseEnv(agent.EnvInput{
		Process: process, Extra: a.Env,
		Workspace: r.Workspace, TaskFile: r.TaskFile, OutDir: r.OutDir, Home: r.Home,
	})
	return r, &stdout, &stderr
}

func TestRunSuccess(t *testing.T) {
	a := &config.Agent{Name: "claude_code", Type: claudecode.Kind.Type, Model: "anthropic/claude-sonnet-4-5"}
	l := records.Limits{MaxIterations: 5, Timeout: records.Duration(time.Minute), KillGrace: records.Duration(time.Second)}
	r, stdout, stderr := newRollout(t, a, l, "STANDIN_EXPECT_ARGS=-p --output-format stream-json --verbose --model claude-sonnet-4-5 --max-turns 5 --permission-mode bypassPermissions --disallowedTools WebFetch,WebSearch")
	var log usageLog
	r.Observe = log.add
	ad, err := claudecode.New(a)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ad.Run(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if out.Process == nil || out.Process.ExitCode != 0 || out.Failed || out.Infra != nil {
		t.Fatalf("outcome %+v %+v\nstderr: %s", out, out.Process, stderr)
	}
	if out.Command[0] != "claude" || out.Command[len(out.Command)-1] != "WebFetch,WebSearch" {
		t.Errorf("command %q", out.Command)
	}
	if u := out.Usage; u.Source != claudecode.SourceResult || u.Turns != 3 || u.OutputTokens != 380 || u.Partial {
		t.Errorf("usage %+v", u)
	}
	us := log.all()
	if len(us) < 2 || !us[0].Partial || us[len(us)-1] != out.Usage {
		t.Errorf("reports %+v, want partial estimates then the outcome's usage", us)
	}
	data, _ := os.ReadFile(filepath.Join(r.Workspace, "src", "slow.sh"))
	if !strings.Contains(string(data), "optimized by the claude stand-in") {
		t.Errorf("workspace not edited: %q", data)
	}
	if !strings.Contains(stdout.String(), `"type":"result"`) {
		t.Errorf("stdout is not passed through: %q", stdout.String())
	}
}

// The harness stops a rollout by cancelling its context when the reported
// cost reaches a cap; the outcome keeps the stream's numbers, partial.
func TestRunStoppedAtCap(t *testing.T) {
	a := &config.Agent{Name: "cc", Type: claudecode.Kind.Type, Model: "claude-sonnet-4-5", Env: map[string]string{"STANDIN_MODE": "slow", "STANDIN_INTERVAL": "20ms"}}
	l := records.Limits{Timeout: records.Duration(time.Minute), KillGrace: records.Duration(2 * time.Second)}
	r, _, stderr := newRollout(t, a, l)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const capUSD = 0.2
	r.Observe = func(u records.Usage) {
		if u.CostUSD >= capUSD {
			cancel()
		}
	}
	ad, _ := claudecode.New(a)
	out, err := ad.Run(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if out.Process == nil || !out.Process.Stopped || out.Failed || out.Infra != nil {
		t.Fatalf("outcome %+v %+v\nstderr: %s", out, out.Process, stderr)
	}
	u := out.Usage
	if !u.Partial || u.CostUSD < capUSD || u.Turns < 5 || u.Source != claudecode.SourceStream {
		t.Errorf("usage %+v, want partial stream numbers at or past $%g", u, capUSD)
	}
	if out.Details["result_event"] != false {
		t.Errorf("details %v", out.Details)
	}
}

func TestRunMissingCLI(t *testing.T) {
	a := &config.Agent{Name: "cc", Type: claudecode.Kind.Type, CLI: "claude-not-installed-anywhere"}
	r, _, _ := newRollout(t, a, records.Limits{Timeout: records.Duration(time.Minute)})
	ad, _ := claudecode.New(a)
	out, err := ad.Run(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Failed || out.Process != nil || out.Usage != (records.Usage{}) {
		t.Errorf("outcome %+v", out)
	}
}
