package forensics

import (
	"context"
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

// A step the bounds cut is scanned whole: each simple command is its own
// evidence, so the attempt shows past the padding; Scan merges them once.
func TestCutStepAttempts(t *testing.T) {
	pad := strings.Repeat("x", 2*records.MaxStepCommandBytes)
	s := records.Step{Index: 7, Kind: records.StepToolCall, Command: "echo " + pad + "; git log --all; echo " + pad}
	got := CutStepAttempts(s, leakCtx)
	if len(got) != 1 || got[0].Rule != LeakGitHistory || got[0].Step != 7 || got[0].Command != "git log --all" {
		t.Fatalf("CutStepAttempts = %+v", got)
	}
	if m := CutStepAttempts(records.Step{Kind: records.StepMessage, Command: "git log --all"}, leakCtx); len(m) != 0 {
		t.Errorf("a message scanned: %+v", m)
	}
	tr := &records.Trajectory{Structured: true}
	tr.Append(records.Step{Kind: records.StepToolCall, Command: "git log --all"})
	f, _ := Scan(context.Background(), Rollout{Trajectory: tr, Leak: leakCtx, CutAttempts: append(got, got...)})
	if len(f.LeakAttempts) != 1 {
		t.Errorf("merged attempts %+v", f.LeakAttempts)
	}
}
