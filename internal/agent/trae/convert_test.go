package trae

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/export/atiftest"
	"github.com/perfbench/perfbench/internal/records"
)

func convertFixture(t *testing.T, name string) (*records.Trajectory, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "trajectories", name))
	if err != nil {
		t.Fatal(err)
	}
	tr := &records.Trajectory{Structured: true, Source: TrajectorySource}
	err = ConvertTrajectory(data, tr)
	if berr := tr.CheckBounds(); berr != nil {
		t.Fatal(berr)
	}
	return tr, err
}

func TestConvertTrajectory(t *testing.T) {
	tr, err := convertFixture(t, "success_anthropic.json")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Steps[0].Role != records.RoleUser || !strings.HasPrefix(tr.Steps[0].Text, "Make src/slow.sh faster") {
		t.Errorf("task step %+v", tr.Steps[0])
	}
	var call, result *records.Step
	for i := range tr.Steps {
		s := &tr.Steps[i]
		if s.Kind == records.StepToolCall && call == nil {
			call = s
		}
		if s.Kind == records.StepToolResult && result == nil {
			result = s
		}
	}
	if call == nil || call.Tool != "bash" || call.Command != "ls -R" || call.CallID != "toolu_01" {
		t.Fatalf("first call %+v", call)
	}
	if result == nil || result.CallID != "toolu_01" || result.Output != "bench.sh\nsrc\n" {
		t.Fatalf("first result %+v", result)
	}
	if !tr.Steps[1].Time.Equal(time.Date(2025, 7, 21, 10, 2, 16, 1020000, time.UTC)) {
		t.Errorf("step time %v", tr.Steps[1].Time)
	}
	if tk := tr.Steps[1].Tokens; tk == nil || tk.Input != 2100 || tk.Output != 150 {
		t.Errorf("first step's tokens %+v", tk)
	}
	atiftest.CheckConverted(t, tr)
}

func TestConvertOtherTrajectories(t *testing.T) {
	for _, name := range []string{"auth_error.json", "legacy_steps.json", "maxsteps_openai.json", "running.json"} {
		tr, err := convertFixture(t, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		atiftest.CheckConverted(t, tr)
	}
	if tr, _ := convertFixture(t, "auth_error.json"); !strings.Contains(atiftest.StepKinds(tr), "error") {
		t.Errorf("auth_error: no error step: %s", atiftest.StepKinds(tr))
	}
	if _, err := convertFixture(t, "truncated.json"); err == nil {
		t.Error("a truncated file converted")
	}
}

// FuzzConvertTrajectory: no file crashes the conversion; what it keeps is
// bounded and exports to valid ATIF.
func FuzzConvertTrajectory(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "trajectories", "*.json"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"agent_steps":[{"tool_calls":[{"name":"bash","arguments":"ls"}]},{"llm_response":{"usage":{"input_tokens":"x"}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := &records.Trajectory{Structured: true}
		ConvertTrajectory(data, tr)
		atiftest.CheckConverted(t, tr)
	})
}

// A trajectory file the agent made huge is not read into memory: the
// trajectory is unstructured and says why (the scans read the logs).
func TestTrajectoryFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trajectory.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(agent.MaxAgentFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tr := trajectory(&agent.Rollout{}, path)
	if tr.Structured || len(tr.Warnings) != 1 || !strings.Contains(tr.Warnings[0], "larger than") {
		t.Errorf("trajectory = structured %v, warnings %q", tr.Structured, tr.Warnings)
	}
}
