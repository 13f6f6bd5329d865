package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/export"
	"github.com/perfbench/perfbench/internal/export/atiftest"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.UTC)

func traj(steps ...records.Step) *records.Trajectory {
	t := &records.Trajectory{
		SchemaVersion: records.TrajectorySchemaVersion, Structured: true,
		Agent: records.RunAgentRef{Name: "cc", Type: "claude_code", Model: "claude-sonnet-4-5"},
	}
	for _, s := range steps {
		t.Append(s)
	}
	return t
}

func atif(t *testing.T, tr *records.Trajectory) (*export.ATIF, []byte) {
	t.Helper()
	doc := export.ToATIF(tr, export.Item{RunID: "run", Dir: "item-0000"})
	if doc == nil {
		t.Fatal("no document")
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range atiftest.Validate(data) {
		t.Error(err)
	}
	return doc, data
}

// Calls join the agent step before them until a result arrives; results
// find their call by id; a call id repeated opens a new step.
func TestToATIFGroupsCallsAndResults(t *testing.T) {
	tr := traj(
		records.Step{Kind: records.StepMessage, Role: records.RoleSystem, Text: "sys"},
		records.Step{Kind: records.StepMessage, Role: records.RoleUser, Text: "task", Time: t0},
		records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: "look", Tokens: &records.StepTokens{Input: 100, Output: 5, CacheRead: 40, CacheWrite: 3}, CostUSD: 0.01},
		records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "Bash", CallID: "a", Command: "ls", Input: `{"command":"ls"}`},
		records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "Read", CallID: "b", Input: `not json`},
		records.Step{Kind: records.StepToolResult, Role: records.RoleTool, CallID: "b", Output: "B"},
		records.Step{Kind: records.StepToolResult, Role: records.RoleTool, CallID: "a", Output: "A"},
		records.Step{Kind: records.StepToolResult, Role: records.RoleTool, CallID: "zz", Output: "orphan"},
		records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "shell", Command: "make"},
		records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "shell", CallID: "c"},
		records.Step{Kind: records.StepToolCall, Role: records.RoleAgent, Tool: "shell", CallID: "c"},
		records.Step{Kind: records.StepError, Role: records.RoleSystem, Text: "boom"},
		records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: "done"},
	)
	tr.Usage = &records.Usage{InputTokens: 100, OutputTokens: 5, CacheReadTokens: 40, CacheWriteTokens: 3, CostUSD: 0.01}
	doc, _ := atif(t, tr)
	var shape []string
	for _, s := range doc.Steps {
		shape = append(shape, s.Source+"/"+strings.Repeat("c", len(s.ToolCalls))+"/"+func() string {
			if s.Observation == nil {
				return ""
			}
			return strings.Repeat("r", len(s.Observation.Results))
		}())
	}
	want := "system// user// agent/cc/rrr agent/cc/ agent/c/ system// agent//"
	if got := strings.Join(shape, " "); got != want {
		t.Fatalf("steps\n got %s\nwant %s", got, want)
	}
	s := doc.Steps[2]
	if s.Message != "look" || s.ToolCalls[0].Arguments["command"] != "ls" || s.ToolCalls[1].Arguments["input"] != "not json" {
		t.Errorf("agent step %+v", s)
	}
	if r := s.Observation.Results; r[0].SourceCallID != "b" || r[1].SourceCallID != "a" || r[2].SourceCallID != "" || r[2].Content != "orphan" {
		t.Errorf("results %+v", r)
	}
	if m := s.Metrics; m == nil || m.PromptTokens != 100 || m.CachedTokens != 40 || m.CompletionTokens != 5 || m.CostUSD != 0.01 || m.Extra["cache_creation_input_tokens"] != int64(3) {
		t.Errorf("metrics %+v", s.Metrics)
	}
	if c := doc.Steps[3].ToolCalls; c[0].ToolCallID != "perfbench-step-8" || c[0].Arguments["command"] != "make" {
		t.Errorf("call without id %+v", c)
	}
	if doc.Steps[1].Timestamp != "2026-11-20T10:00:00.123456Z" {
		t.Errorf("timestamp %q", doc.Steps[1].Timestamp)
	}
	if doc.Steps[5].Extra["kind"] != "error" || doc.Steps[5].Message != "boom" {
		t.Errorf("error step %+v", doc.Steps[5])
	}
	if doc.Agent.Name != "claude_code" || doc.Agent.Version != "unknown" || doc.Agent.ModelName != "claude-sonnet-4-5" {
		t.Errorf("agent %+v", doc.Agent)
	}
	if fm := doc.FinalMetrics; fm.TotalSteps != 7 || fm.TotalPromptTokens != 100 || fm.TotalCostUSD != 0.01 {
		t.Errorf("final metrics %+v", fm)
	}
	if doc.SessionID != "run/item-0000" || doc.TrajectoryID != "run/item-0000" {
		t.Errorf("ids %q %q", doc.SessionID, doc.TrajectoryID)
	}
}

func TestToATIFNotes(t *testing.T) {
	tr := traj(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: strings.Repeat("x", 10000)})
	tr.Structured, tr.StepsDropped = false, 3
	doc, _ := atif(t, tr)
	for _, want := range []string{"unstructured", "3 steps past", "excerpts (head and tail) of longer texts: 1"} {
		if !strings.Contains(doc.Notes, want) {
			t.Errorf("notes %q lack %q", doc.Notes, want)
		}
	}
	if export.ToATIF(traj(), export.Item{}) != nil {
		t.Error("a document for a trajectory without steps")
	}
}

// writeRun makes a run of two items with two samples: one sample has a
// trajectory, one has none, one has an empty one.
func writeRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	run := &records.Run{RunID: "r1", Items: []string{"a-0000", "b-0001"}, Samples: 2}
	if err := journal.WriteRun(dir, run); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a-0000.s0", "a-0000.s1", "b-0001.s0"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	if err := journal.WriteTrajectory(filepath.Join(dir, "a-0000.s0"), traj(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: "hi"})); err != nil {
		t.Fatal(err)
	}
	if err := journal.WriteTrajectory(filepath.Join(dir, "a-0000.s1"), &records.Trajectory{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExportATIF(t *testing.T) {
	dir := writeRun(t)
	out := filepath.Join(t.TempDir(), "atif")
	var log bytes.Buffer
	sum, err := export.ExportATIF(context.Background(), dir, out, &log)
	if err != nil || sum.Written != 1 || sum.Skipped != 3 {
		t.Fatalf("%+v %v\n%s", sum, err, log.String())
	}
	for _, want := range []string{"wrote " + filepath.Join(out, "a-0000.s0.json"), "skipped a-0000.s1: the trajectory has no steps", "skipped b-0001.s0: no trajectory.json", "skipped b-0001.s1: no trajectory.json"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if errs := atiftest.ValidateFile(filepath.Join(out, "a-0000.s0.json")); len(errs) > 0 {
		t.Error(errs)
	}
}

func TestExportATIFBadInput(t *testing.T) {
	if _, err := export.ExportATIF(context.Background(), t.TempDir(), t.TempDir(), &bytes.Buffer{}); !badinput.Is(err) {
		t.Errorf("not a run: %v", err)
	}
	dir := writeRun(t)
	os.MkdirAll(filepath.Join(dir, "b-0001.s1"), 0o755)
	os.WriteFile(filepath.Join(dir, "b-0001.s1", journal.TrajectoryFile), []byte(`{"schema_version": 1, "steps": 3}`), 0o644)
	out := filepath.Join(t.TempDir(), "atif")
	_, err := export.ExportATIF(context.Background(), dir, out, &bytes.Buffer{})
	if !badinput.Is(err) || !strings.Contains(err.Error(), "b-0001.s1") {
		t.Errorf("bad trajectory: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output written before the bad trajectory was found: %v", err)
	}
}

// FuzzToATIF: whatever trajectory.json holds (the export reads files a
// user may have edited, not only what Append bounded), the document is
// valid ATIF.
func FuzzToATIF(f *testing.F) {
	tr := traj(
		records.Step{Kind: records.StepToolCall, CallID: "a", Input: `{"x":1}`},
		records.Step{Kind: records.StepToolResult, CallID: "a", Output: "o"},
		records.Step{Kind: records.StepError, Role: records.RoleUser, Text: "e", Time: t0},
	)
	seed, _ := json.Marshal(tr)
	f.Add(seed)
	f.Add([]byte(`{"steps":[{"kind":"tool_call","call_id":"a"},{"kind":"tool_call","call_id":"a"},{"kind":"tool_result","call_id":"a"},{"kind":"??","role":"??"}]}`))
	f.Add([]byte(`{"steps":[{"kind":"tool_call","input":"[1]","tokens":{"input":-5}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tr records.Trajectory
		if json.Unmarshal(data, &tr) != nil {
			return
		}
		atiftest.CheckExport(t, &tr)
	})
}
