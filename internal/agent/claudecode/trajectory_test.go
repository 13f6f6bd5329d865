package claudecode

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/export/atiftest"
	"github.com/perfbench/perfbench/internal/records"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func convertStream(t testing.TB, data []byte) *records.Trajectory {
	t.Helper()
	tick := t0
	c := NewTrajectory(&records.Trajectory{Structured: true, Source: TrajectorySource}, func() time.Time { tick = tick.Add(time.Second); return tick })
	for _, l := range bytes.Split(data, []byte("\n")) {
		c.Line(l)
	}
	return c.Result()
}

func TestTrajectoryOfStream(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "streams", "success.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	tr := convertStream(t, data)
	if err := tr.CheckBounds(); err != nil {
		t.Fatal(err)
	}
	if tr.SessionID != "3c5e1f0a-77b2-4b8e-9d0e-2f6a1c9b8d11" || tr.AgentVersion != "2.0.76" {
		t.Errorf("session %q version %q", tr.SessionID, tr.AgentVersion)
	}
	want := "message: tool_call:Bash tool_result: tool_call:Task tool_call:Grep tool_result: tool_result: tool_call:Edit tool_result: message:"
	if got := atiftest.StepKinds(tr); got != want {
		t.Fatalf("steps\n got %s\nwant %s", got, want)
	}
	bash := tr.Steps[1]
	if bash.Command != "time sh bench.sh" || bash.CallID != "toolu_01X" || !strings.Contains(bash.Input, `"description":"Time the workload"`) {
		t.Errorf("Bash call %+v", bash)
	}
	if r := tr.Steps[2]; r.CallID != "toolu_01X" || !strings.HasPrefix(r.Output, "1000\n") || r.Role != records.RoleTool {
		t.Errorf("Bash result %+v", r)
	}
	if r := tr.Steps[6]; r.Output != "The loop is in src/slow.sh line 1." {
		t.Errorf("Task result from content blocks: %q", r.Output)
	}
	// msg_01AbCdEf came as two blocks; its tokens are on its first step,
	// at the larger of the two usages, and not again on the second.
	if tk := tr.Steps[0].Tokens; tk == nil || tk.Output != 141 || tk.Input != 4+5120+12288 || tk.CacheRead != 12288 || tk.CacheWrite != 5120 {
		t.Errorf("tokens of the first message %+v", tk)
	}
	if tr.Steps[1].Tokens != nil {
		t.Errorf("second block carries tokens %+v", tr.Steps[1].Tokens)
	}
	if !tr.Steps[0].Time.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("first step stamped %v", tr.Steps[0].Time)
	}
	atiftest.CheckConverted(t, tr)
}

func TestTrajectoryOfErrors(t *testing.T) {
	for name, want := range map[string]string{
		"auth_401.jsonl":             "Invalid API key",
		"max_turns.jsonl":            "error_max_turns",
		"during_execution.jsonl":     "error_during_execution",
		"api_error_status_429.jsonl": "",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "streams", name))
		if err != nil {
			t.Fatal(err)
		}
		tr := convertStream(t, data)
		var errs []string
		for _, s := range tr.Steps {
			if s.Kind == records.StepError {
				errs = append(errs, s.Text)
			}
		}
		if want != "" && !strings.Contains(strings.Join(errs, "\n"), want) {
			t.Errorf("%s: errors %q, want %q", name, errs, want)
		}
		atiftest.CheckConverted(t, tr)
	}
}

func TestTrajectoryOfGarbageWarns(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "streams", "garbage.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	tr := convertStream(t, data)
	if len(tr.Warnings) == 0 {
		t.Errorf("no warning for the garbage lines")
	}
}

// FuzzTrajectory: no stream crashes the converter, and what it keeps is
// bounded and exports to a valid ATIF document.
func FuzzTrajectory(f *testing.F) {
	for _, name := range []string{"success.jsonl", "garbage.jsonl", "partial.jsonl", "auth_401.jsonl", "max_turns.jsonl"} {
		atiftest.SeedLines(f, filepath.Join("testdata", "streams", name))
	}
	f.Add([]byte(`{"type":"assistant","message":{"id":"","content":[{"type":"tool_use","id":"a","name":"Bash","input":{"command":` + strings.Repeat(`"x`, 3) + `"}}]}}`))
	f.Add([]byte(`{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"\xff\xfe"}]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := convertStream(t, append(data, '\n', '\n'))
		atiftest.CheckConverted(t, tr)
	})
}
