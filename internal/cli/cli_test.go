package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/report"
)

// runIn runs the CLI in dir with a clean environment.
func runIn(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runWith(t, dir, nil, args...)
}

// runWith is runIn with the agent kinds (nil: all of this build).
func runWith(t *testing.T, dir string, kinds []agent.Kind, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &System{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Environ:   func() []string { return []string{"PATH=" + os.Getenv("PATH")} },
		LookupEnv: func(string) (string, bool) { return "", false },
		Now:       func() time.Time { return time.Date(2026, 11, 25, 18, 41, 17, 0, time.UTC) },
		Kinds:     kinds,
	}
	t.Chdir(dir)
	code = Main(context.Background(), args, env)
	return code, out.String(), errb.String()
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBadInputExitsTwoWithOneLine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		args  []string
		want  string
	}{
		{"malformed yaml", map[string]string{"t.yaml": "id: x\nrepo: [\n"}, []string{"validate", "t.yaml"}, "t.yaml:2:"},
		{"unknown field", map[string]string{"t.yaml": "id: x\nrepo:\n  url: /r\n  urll: /s\n"}, []string{"validate", "t.yaml"}, `t.yaml:4:3: repo: unknown field "urll" (did you mean "url"?`},
		{"wrong type", map[string]string{"t.yaml": "id: x\nrepo:\n  url: /r\n  pre_parent_index: two\n"}, []string{"validate", "t.yaml"}, "t.yaml:4:"},
		{"missing task", nil, []string{"validate", "nope.yaml"}, "nope.yaml"},
		{"missing bench", map[string]string{"t.yaml": "id: x\nrepo:\n  url: /r\n"}, []string{"validate", "t.yaml", "--bench-cfg", "b.yaml"}, "--bench-cfg"},
		{"empty commits", map[string]string{"t.yaml": "id: x\nrepo:\n  url: /r\n", "c.txt": "# none\n"}, []string{"validate", "t.yaml", "--commits", "c.txt"}, "c.txt: no commits"},
		{"unknown flag", nil, []string{"plan", "--frob"}, "unknown flag"},
		{"unknown command", nil, []string{"frobnicate"}, "unknown command"},
		{"missing argument", nil, []string{"plan"}, "accepts 1 arg"},
		{"two aliases", map[string]string{"t.yaml": "id: x\nrepo:\n  url: /r\n", "b.yaml": "agents:\n  a:\n    type: noop\n    timeout: 1m\n    time_budget_minutes: 2\n"}, []string{"validate", "t.yaml", "--bench-cfg", "b.yaml"}, "b.yaml:5:"},
		{"unknown agent", map[string]string{"t.yaml": "id: x\nrepo:\n  url: /r\n  human_commit: abcdef0\n"}, []string{"prepare", "t.yaml", "--agent", "nobody", "--dry-run"}, "nobody"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				write(t, dir, name, content)
			}
			code, _, stderr := runIn(t, dir, tc.args...)
			if code != ExitBadInput {
				t.Errorf("exit %d, want 2; stderr %q", code, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "bench: ") {
				t.Errorf("stderr is not one line: %q", stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		ctx  context.Context
		err  error
		want int
	}{
		{ctx, nil, ExitOK},
		{ctx, errors.New("boom"), ExitFailure},
		{ctx, errFailed, ExitFailure},
		{canceled, errors.New("boom"), ExitInterrupted},
		{canceled, nil, ExitInterrupted},
		{ctx, &exitError{code: 1, err: errors.New("infra")}, ExitFailure},
	} {
		if got := ExitCode(tc.ctx, tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestValidateSeedExamples(t *testing.T) {
	seed, err := filepath.Abs("../config/testdata/seed")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runIn(t, seed, "validate", "tasks/vllm.yaml", "--bench-cfg", "bench.yaml")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "ok: task vllm_core") {
		t.Errorf("stdout %q", stdout)
	}
}

// The report commands' usage, flag help, FORMATS section and errors all
// come from report's table of formats.
func TestReportFormatsFromOneTable(t *testing.T) {
	for _, tc := range []struct {
		args          []string // the command, with a bad --format
		choices, list string
		help          string
	}{
		{[]string{"report", "run", "--format", "pdf"}, report.RunFormats.Choices(), report.RunFormats.List(), report.RunFormats.Help()},
		{[]string{"report-all", "--state-root", ".", "--format", "pdf"}, report.AllFormats.Choices(), report.AllFormats.List(), report.AllFormats.Help()},
	} {
		cmd := tc.args[0]
		code, stdout, _ := runIn(t, t.TempDir(), cmd, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d", cmd, code)
		}
		for _, want := range []string{"[--format " + tc.choices + "]", tc.help, tc.list + ` (default "table")`} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s --help lacks %q:\n%s", cmd, want, stdout)
			}
		}
		code, _, stderr := runIn(t, t.TempDir(), tc.args...)
		if want := `--format "pdf": expected ` + tc.list + "\n"; code != ExitBadInput || !strings.HasSuffix(stderr, want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr, want)
		}
	}
}
