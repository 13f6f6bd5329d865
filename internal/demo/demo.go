// Package demo owns the embedded example of `bench demo`: a tiny shell
// project with a slow function and a human commit that makes it faster,
// written out at run time as a real git repository, plus a task file and
// bench.yaml that point at it. It needs only git and sh.
package demo

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed project
var project embed.FS

// Layout names what Write created.
type Layout struct {
	Dir       string // the demo directory
	Repo      string // the example repository
	TaskFile  string
	BenchFile string
	Human     string // the human commit
	Pre       string // its parent
}

const taskYAML = `# The demo task: make sum_squares faster.
id: sumsq
name: "Faster sum of squares"
description: "sum_squares in lib/sumsq.sh is slow for large N. Make the workload faster without changing its output."
repo:
  url: ./repo
workload: "sh bench.sh"
optimization_contract:
  strict_targets: true
  target_files: ["lib/*.sh"]
  constraints:
    - "sum_squares must print the same numbers"
evaluation:
  workload: "sh bench.sh"
  correctness: ["sh test.sh"]
  equivalence: exact
  rounds: 10
  warmup: 1
`

const benchYAML = `# The demo's bench.yaml.
paths:
  state_root: ./state
  work_root: ./.work
agents:
  default: replay
  replay:
    timeout: 1m
  noop:
    timeout: 1m
`

// Write creates the demo under dir: the repository (three commits, the last
// one the human optimization), tasks/sumsq.yaml and bench.yaml.
func Write(ctx context.Context, dir string) (*Layout, error) {
	l := &Layout{
		Dir:       dir,
		Repo:      filepath.Join(dir, "tasks", "repo"),
		TaskFile:  filepath.Join(dir, "tasks", "sumsq.yaml"),
		BenchFile: filepath.Join(dir, "bench.yaml"),
	}
	if err := os.MkdirAll(l.Repo, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	g := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", l.Repo}, args...)...)
		cmd.Env = append(os.Environ(),
			"GIT_AUTHOR_NAME=Ada Human", "GIT_AUTHOR_EMAIL=ada@example.com",
			"GIT_COMMITTER_NAME=Ada Human", "GIT_COMMITTER_EMAIL=ada@example.com",
			"GIT_AUTHOR_DATE=2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2024-01-02T03:04:05Z",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("demo: git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := g("init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	if err := copyFS("project/pre", l.Repo, "README.md", "lib/sumsq.sh"); err != nil {
		return nil, err
	}
	if _, err := g("add", "-A"); err != nil {
		return nil, err
	}
	if _, err := g("commit", "-q", "-m", "Add sum_squares"); err != nil {
		return nil, err
	}
	if err := copyFS("project/pre", l.Repo, "bench.sh", "test.sh"); err != nil {
		return nil, err
	}
	if _, err := g("add", "-A"); err != nil {
		return nil, err
	}
	if _, err := g("commit", "-q", "-m", "Add workload and tests"); err != nil {
		return nil, err
	}
	var err error
	if l.Pre, err = g("rev-parse", "HEAD"); err != nil {
		return nil, err
	}
	if err := copyFS("project/human", l.Repo, "lib/sumsq.sh"); err != nil {
		return nil, err
	}
	if _, err := g("commit", "-q", "-am", "Compute sum_squares in closed form\n\nThe loop was O(N); N(N+1)(2N+1)/6 is O(1)."); err != nil {
		return nil, err
	}
	if l.Human, err = g("rev-parse", "HEAD"); err != nil {
		return nil, err
	}
	task := strings.Replace(taskYAML, "repo:\n  url: ./repo", "repo:\n  url: ./repo\n  human_commit: \""+l.Human+"\"", 1)
	if err := os.WriteFile(l.TaskFile, []byte(task), 0o644); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(l.BenchFile, []byte(benchYAML), 0o644); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return l, nil
}

func copyFS(from, to string, names ...string) error {
	for _, n := range names {
		data, err := fs.ReadFile(project, from+"/"+n)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		dst := filepath.Join(to, n)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(n, ".sh") && !strings.HasPrefix(n, "lib/") {
			mode = 0o755
		}
		if err := os.WriteFile(dst, data, mode); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}
