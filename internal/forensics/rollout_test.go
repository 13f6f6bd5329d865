package forensics

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/records"
)

func TestScanStructuredTrajectory(t *testing.T) {
	tr := &records.Trajectory{Structured: true}
	tr.Append(records.Step{Kind: records.StepMessage, Text: "I could run git log --all, or clone https://github.com/acme/fastlib"})
	tr.Append(records.Step{Kind: records.StepToolCall, Tool: "Bash", CallID: "a", Command: "git log --all --oneline"})
	tr.Append(records.Step{Kind: records.StepToolResult, CallID: "a", Output: "abc123 perf: faster"})
	tr.Append(records.Step{Kind: records.StepToolCall, Tool: "Read", Input: `{"file_path":"/w/.git/packed-refs"}`})
	tr.Append(records.Step{Kind: records.StepToolResult, Output: "# pack-refs"})
	f, err := Scan(context.Background(), Rollout{Trajectory: tr, Leak: leakCtx,
		Logs: []Log{{Name: "x_stdout.txt", Data: []byte("$ git reflog\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Source != SourceTrajectory || len(f.LeakAttempts) != 2 {
		t.Fatalf("Scan = %+v", f)
	}
	// The message is no action; the logs are not read when structured.
	a, b := f.LeakAttempts[0], f.LeakAttempts[1]
	if a.Rule != LeakGitHistory || a.Step != 1 || a.Excerpt != "abc123 perf: faster" || b.Rule != LeakGitInternals || b.Step != 3 || b.Excerpt != "# pack-refs" {
		t.Errorf("attempts = %+v", f.LeakAttempts)
	}
	// Unstructured: the logs are read.
	f, _ = Scan(context.Background(), Rollout{Trajectory: &records.Trajectory{}, Leak: leakCtx,
		Logs: []Log{{Name: "x_stdout.txt", Data: []byte("$ git reflog\n")}}})
	if f.Source != SourceLogs || len(f.LeakAttempts) != 1 || f.LeakAttempts[0].Source != "x_stdout.txt" {
		t.Errorf("unstructured Scan = %+v", f)
	}
}

func TestScanLeakSuspected(t *testing.T) {
	long := []string{"+    total_value_accumulated = sum(x * x for x in range(limit_value))",
		"+    return total_value_accumulated // denominator_for_the_closed_form_expr",
		"+    cached_result_for_everything = precompute_lookup_table(size_limit_value)"}
	human := diffOf("m.py", long...)
	logs := []Log{{Name: "s.txt", Data: []byte("$ git log --all\n")}}
	var asked int
	r := Rollout{Logs: logs, Patch: []byte(human), Leak: leakCtx, Pre: treeStrings{},
		HumanDiff: func(context.Context) ([]byte, error) { asked++; return []byte(human), nil }}
	f, err := Scan(context.Background(), r)
	if err != nil || !f.LeakSuspected || len(f.SuspectLines) != 3 {
		t.Fatalf("Scan = %+v, %v", f, err)
	}
	if asked != 1 || f.Localization == nil || f.Localization.Files.F1 != 1 {
		t.Errorf("human diff read %d times, localization %+v", asked, f.Localization)
	}
	// No attempt: no suspicion.
	r.Logs = nil
	if f, _ := Scan(context.Background(), r); f.LeakSuspected {
		t.Errorf("without an attempt: %+v", f)
	}
	// Two lines are not enough.
	r.Logs, r.Patch = logs, []byte(diffOf("m.py", long[:2]...))
	if f, _ := Scan(context.Background(), r); f.LeakSuspected {
		t.Errorf("two lines suspected: %+v", f)
	}
	// Replay is exempt.
	r.Replay = true
	if f, _ := Scan(context.Background(), r); f.Exempt == "" || len(f.LeakAttempts) > 0 {
		t.Errorf("replay scanned: %+v", f)
	}
	// The human diff's failure is the scan's error; the findings stay.
	r.Replay, r.Patch = false, []byte(human)
	r.HumanDiff = func(context.Context) ([]byte, error) { return nil, errors.New("boom") }
	if f, err := Scan(context.Background(), r); err == nil || !slices.ContainsFunc(f.LeakAttempts, func(a records.LeakAttempt) bool { return a.Rule == LeakGitHistory }) {
		t.Errorf("Scan = %+v, %v", f, err)
	}
}

// A structured trajectory is bounded (a command's middle is elided past
// MaxStepCommandBytes, steps past MaxTrajectorySteps are dropped): an
// attempt hidden where the bounds cut it is found in the raw logs, once.
func TestScanBoundedTrajectoryReadsLogs(t *testing.T) {
	pad := strings.Repeat("x", records.MaxStepCommandBytes)
	hidden := "echo " + pad + "; git log --all; echo " + pad
	tr := &records.Trajectory{Structured: true}
	tr.Append(records.Step{Kind: records.StepToolCall, Tool: "Bash", CallID: "a", Command: hidden})
	tr.Append(records.Step{Kind: records.StepToolCall, Tool: "Bash", CallID: "b", Command: "git reflog"})
	line1, _ := json.Marshal(map[string]any{"type": "tool_use", "input": map[string]string{"command": hidden}})
	line2, _ := json.Marshal(map[string]any{"type": "tool_use", "input": map[string]string{"command": "git reflog"}})
	logs := []Log{{Name: "x_stdout.txt", Data: []byte(string(line1) + "\n" + string(line2) + "\n")}}
	f, err := Scan(context.Background(), Rollout{Trajectory: tr, Leak: leakCtx, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, a := range f.LeakAttempts {
		rules = append(rules, a.Rule+"@"+a.Source)
	}
	want := []string{LeakGitHistory + "@trajectory", LeakGitHistory + "@x_stdout.txt"}
	if !slices.Equal(rules, want) {
		t.Errorf("attempts %v, want %v (the reflog once, from the trajectory; the hidden log --all from the log)", rules, want)
	}
	// Steps dropped past the bound: the logs are read too.
	tr = &records.Trajectory{Structured: true, StepsDropped: 1}
	f, _ = Scan(context.Background(), Rollout{Trajectory: tr, Leak: leakCtx,
		Logs: []Log{{Name: "x_stdout.txt", Data: []byte("$ git reflog\n")}}})
	if len(f.LeakAttempts) != 1 {
		t.Errorf("steps dropped: attempts %+v", f.LeakAttempts)
	}
}
