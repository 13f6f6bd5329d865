package openhands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/export/atiftest"
	"github.com/perfbench/perfbench/internal/records"
)

// convertRun converts a fixture run: testdata/runs/<name> is the
// output folder's openhands/ directory.
func convertRun(t *testing.T, name string) *records.Trajectory {
	t.Helper()
	// ConvertEvents opens the event store under dir's parent (the output
	// folder), as the adapter does: copy the fixture into one.
	out := t.TempDir()
	dir := filepath.Join(out, OutSubdir)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "runs", name))); err != nil {
		t.Fatal(err)
	}
	tr := ConvertEvents(dir, &records.Trajectory{Structured: true, Source: TrajectorySource})
	if err := tr.CheckBounds(); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTrajectoryOfFinishedRun(t *testing.T) {
	tr := convertRun(t, "finished")
	want := "message: message: tool_call:execute_bash tool_result:run tool_call:edit tool_result:edit message:"
	if got := atiftest.StepKinds(tr); got != want {
		t.Fatalf("steps\n got %s\nwant %s", got, want)
	}
	if tr.AgentVersion != "0.54.0" || tr.Steps[0].Role != records.RoleSystem || tr.Steps[1].Role != records.RoleUser {
		t.Errorf("version %q, roles %q %q", tr.AgentVersion, tr.Steps[0].Role, tr.Steps[1].Role)
	}
	run, res := tr.Steps[2], tr.Steps[3]
	if run.Command != "ls" || run.CallID != "toolu_01" || !strings.Contains(run.Input, `"command":"ls"`) {
		t.Errorf("run %+v", run)
	}
	if !run.Time.Equal(time.Date(2025, 6, 1, 10, 0, 3, 0, time.UTC)) {
		t.Errorf("run at %v", run.Time)
	}
	// The observation has no tool_call_metadata: it names its action by
	// cause, and so does the edit without a tool call.
	if res.Output != "README.md\nsrc" {
		t.Errorf("result %+v", res)
	}
	if tr.Steps[4].CallID != "event-6" || tr.Steps[5].CallID != "event-6" {
		t.Errorf("edit %q, its result %q", tr.Steps[4].CallID, tr.Steps[5].CallID)
	}
	if tk := run.Tokens; tk == nil || tk.Input != 11800 || tk.Output != 95 || tk.CacheWrite != 11790 || run.CostUSD != 0.0412 {
		t.Errorf("run's metrics %+v cost %v", tk, run.CostUSD)
	}
	atiftest.CheckConverted(t, tr)
}

func TestTrajectoryOfOtherRuns(t *testing.T) {
	for _, name := range []string{"killed", "maxiter", "rate"} {
		tr := convertRun(t, name)
		if len(tr.Steps) == 0 {
			t.Errorf("%s: no steps", name)
		}
		atiftest.CheckConverted(t, tr)
	}
	if tr := convertRun(t, "rate"); !strings.Contains(atiftest.StepKinds(tr), "error:") {
		t.Errorf("rate: no error step: %s", atiftest.StepKinds(tr))
	}
}

func TestTrajectoryOfNothing(t *testing.T) {
	tr := ConvertEvents(filepath.Join(t.TempDir(), OutSubdir), &records.Trajectory{Structured: true})
	if len(tr.Steps) != 0 || len(tr.Warnings) != 0 {
		t.Fatalf("%+v", tr)
	}
}

// FuzzEvent: no event file crashes the converter; what it keeps is
// bounded and exports to valid ATIF.
func FuzzEvent(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "runs", "*", "file_store", "sessions", "*", "events", "*.json"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	traj, err := os.ReadFile(filepath.Join("testdata", "runs", "finished", "trajectory.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(traj)
	f.Fuzz(func(t *testing.T, data []byte) {
		out := t.TempDir()
		events := filepath.Join(out, OutSubdir, "file_store", "sessions", "s", "events")
		if err := os.MkdirAll(events, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(events, "0.json"), data, 0o644)
		os.WriteFile(filepath.Join(out, OutSubdir, "trajectory.json"), data, 0o644)
		tr := ConvertEvents(filepath.Join(out, OutSubdir), &records.Trajectory{Structured: true})
		atiftest.CheckConverted(t, tr)
	})
}
