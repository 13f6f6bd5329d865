package codex

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/export/atiftest"
	"github.com/perfbench/perfbench/internal/records"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func convertExec(data []byte) *records.Trajectory {
	tick := t0
	c := NewExecTrajectory(&records.Trajectory{Structured: true, Source: SourceExecJSON}, func() time.Time { tick = tick.Add(time.Second); return tick })
	for _, l := range bytes.Split(data, []byte("\n")) {
		c.Line(l)
	}
	return c.Result()
}

func convertSession(data []byte) *records.Trajectory {
	c := NewSessionTrajectory(&records.Trajectory{Structured: true, Source: SourceSessionLog})
	for _, l := range bytes.Split(data, []byte("\n")) {
		c.Line(l)
	}
	return c.Result()
}

func TestTrajectoryOfExecJSON(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "exec_ok.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	tr := convertExec(data)
	if err := tr.CheckBounds(); err != nil {
		t.Fatal(err)
	}
	want := "message: tool_call:shell tool_result:shell tool_call:shell tool_result:shell tool_call:file_change tool_call:docs.search tool_result:docs.search tool_call:web_search error: message:"
	if got := atiftest.StepKinds(tr); got != want {
		t.Fatalf("steps\n got %s\nwant %s", got, want)
	}
	if s := tr.Steps[1]; s.Command != "cat src/slow.sh" || s.Input != "bash -lc 'cat src/slow.sh'" || s.CallID != "item_1" {
		t.Errorf("command %+v", s)
	}
	if s := tr.Steps[4]; s.Output != "sh: 1: bench: not found\n" || s.CallID != "item_3" {
		t.Errorf("failed command's output %+v", s)
	}
	if !strings.Contains(tr.Steps[5].Input, "/tmp/ws/src/slow.sh") {
		t.Errorf("file change %+v", tr.Steps[5])
	}
	if tr.SessionID != "0199a213-81c0-7800-8aa1-bbab2a035a53" {
		t.Errorf("session %q", tr.SessionID)
	}
	atiftest.CheckConverted(t, tr)
}

func TestTrajectoryOfSessionLog(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "session.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	tr := convertSession(data)
	if err := tr.CheckBounds(); err != nil {
		t.Fatal(err)
	}
	if got := atiftest.StepKinds(tr); !strings.HasPrefix(got, "message: tool_call:shell tool_result: message:") {
		t.Fatalf("steps %s", got)
	}
	call := tr.Steps[1]
	if call.Command != "cat src/slow.sh" || call.CallID != "call_1" || !call.Time.Equal(time.Date(2026, 11, 20, 10, 0, 2, 100e6, time.UTC)) {
		t.Errorf("call %+v", call)
	}
	if r := tr.Steps[2]; r.Output != "slow() {}\n" || r.CallID != "call_1" {
		t.Errorf("result %+v", r)
	}
	// The first response's usage, once (its repeat for the rate limits
	// is skipped), on the response's first step.
	if tk := tr.Steps[0].Tokens; tk == nil || tk.Input != 8000 || tk.CacheRead != 6000 || tk.Output != 60 {
		t.Errorf("tokens of the first response %+v", tk)
	}
	if tr.SessionID != "0199a213-81c0-7800-8aa1-bbab2a035a53" || tr.AgentVersion != "0.63.0" {
		t.Errorf("session %q version %q", tr.SessionID, tr.AgentVersion)
	}
	atiftest.CheckConverted(t, tr)
}

func TestTrajectoryOfFailures(t *testing.T) {
	for _, name := range []string{"exec_401.jsonl", "exec_429.jsonl", "exec_stream_error.jsonl", "legacy_flat.jsonl", "exec_v043.jsonl"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		tr := convertExec(data)
		if strings.HasPrefix(name, "exec_4") && !slices.ContainsFunc(tr.Steps, func(s records.Step) bool { return s.Kind == records.StepError }) {
			t.Errorf("%s: no error step: %s", name, atiftest.StepKinds(tr))
		}
		atiftest.CheckConverted(t, tr)
	}
}

func TestShellWords(t *testing.T) {
	for in, want := range map[string][]string{
		"bash -lc 'sh bench.sh'": {"bash", "-lc", "sh bench.sh"},
		"bash -lc ''":            {"bash", "-lc", ""},
		"ls -la":                 {"ls", "-la"},
		"bash -lc 'unterminated": {"bash -lc 'unterminated"},
	} {
		if got := shellWords(in); !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// FuzzExecTrajectory and FuzzSessionTrajectory: no input crashes the
// converters; what they keep is bounded and exports to valid ATIF.
func FuzzExecTrajectory(f *testing.F) {
	atiftest.SeedLines(f, filepath.Join("testdata", "exec_ok.jsonl"), filepath.Join("testdata", "exec_429.jsonl"), filepath.Join("testdata", "legacy_info.jsonl"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := convertExec(data)
		atiftest.CheckConverted(t, tr)
	})
}

func FuzzSessionTrajectory(f *testing.F) {
	atiftest.SeedLines(f, filepath.Join("testdata", "session.jsonl"))
	f.Add([]byte(`{"type":"response_item","payload":{"type":"function_call_output","call_id":"c","output":"{\"output\":7}"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := convertSession(data)
		atiftest.CheckConverted(t, tr)
	})
}
