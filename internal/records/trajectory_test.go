package records_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/perfbench/perfbench/internal/records"
)

func TestExcerptBoundsAndKeepsHeadAndTail(t *testing.T) {
	s := "HEAD" + strings.Repeat("é", 5000) + "TAIL"
	got, cut := records.Excerpt(s, 200)
	if !cut || len(got) > 200 || !utf8.ValidString(got) {
		t.Fatalf("cut %v, %d bytes, valid %v", cut, len(got), utf8.ValidString(got))
	}
	if !strings.HasPrefix(got, "HEAD") || !strings.HasSuffix(got, "TAIL") || !strings.Contains(got, "bytes elided") {
		t.Fatalf("excerpt %q", got)
	}
	if got, cut := records.Excerpt("short", 200); cut || got != "short" {
		t.Fatalf("short: %q %v", got, cut)
	}
	if got, _ := records.Excerpt("a\xffb", 200); got != "a\uFFFDb" {
		t.Fatalf("invalid utf-8 kept as %q", got)
	}
	for _, n := range []int{0, 1, 5, 9, 40} {
		if got, _ := records.Excerpt(s, n); len(got) > n || !utf8.ValidString(got) {
			t.Fatalf("max %d: %d bytes", n, len(got))
		}
	}
}

func TestAppendNumbersBoundsScrubsAndDrops(t *testing.T) {
	var tr records.Trajectory
	tr.SetScrub(func(s string) string { return strings.ReplaceAll(s, "sk-secret", "[REDACTED:KEY]") })
	// The secret straddles where an excerpt would cut: scrubbing first
	// is what keeps half of it from surviving.
	out := strings.Repeat("x", records.MaxStepOutputBytes*2/3-4) + "sk-secret" + strings.Repeat("y", 10000)
	tr.Append(records.Step{Kind: records.StepToolResult, Output: out})
	tr.Append(records.Step{Command: "echo sk-secret"})
	s := tr.Steps[0]
	if s.Index != 0 || !s.Truncated || len(s.Output) > records.MaxStepOutputBytes || s.OutputBytes != len(out) {
		t.Fatalf("step 0: index %d truncated %v output %d bytes of %d", s.Index, s.Truncated, len(s.Output), s.OutputBytes)
	}
	if strings.Contains(s.Output, "sk-sec") || strings.Contains(tr.Steps[1].Command, "sk-secret") {
		t.Fatalf("secret survived: %q / %q", s.Output[:records.MaxStepOutputBytes/2+20], tr.Steps[1].Command)
	}
	if tr.Steps[1].Index != 1 || tr.Steps[1].Kind != records.StepMessage {
		t.Fatalf("step 1 %+v", tr.Steps[1])
	}
	for range records.MaxTrajectorySteps {
		tr.Append(records.Step{Kind: records.StepMessage, Text: "hi"})
	}
	if len(tr.Steps) != records.MaxTrajectorySteps || tr.StepsDropped != 2 {
		t.Fatalf("%d steps, %d dropped", len(tr.Steps), tr.StepsDropped)
	}
}

func TestScrubReachesEveryText(t *testing.T) {
	tr := records.Trajectory{SessionID: "SECRET", AgentVersion: "SECRET", Source: "SECRET", Warnings: []string{"SECRET"}, Agent: records.RunAgentRef{Name: "SECRET", Model: "SECRET"}}
	tr.Append(records.Step{Role: "SECRET", Tool: "SECRET", CallID: "SECRET", Command: "SECRET", Input: "SECRET", Text: "SECRET", Output: "SECRET"})
	tr.Scrub(func(s string) string { return strings.ReplaceAll(s, "SECRET", "x") })
	if strings.Contains(fmt.Sprintf("%+v", tr), "SECRET") {
		t.Fatalf("left unscrubbed: %+v", tr)
	}
}

// The observer sees, whole and scrubbed, the steps the bounds cut or
// drop, and no others.
func TestTrajectoryObserveCutSteps(t *testing.T) {
	var seen []records.Step
	tr := &records.Trajectory{Structured: true}
	tr.SetScrub(func(s string) string { return strings.ReplaceAll(s, "hunter2", "[REDACTED]") })
	tr.SetObserve(func(s records.Step) { seen = append(seen, s) })
	long := "echo hunter2 " + strings.Repeat("x", records.MaxStepCommandBytes) + "; git log --all"
	tr.Append(records.Step{Kind: records.StepToolCall, Command: "ls"})
	tr.Append(records.Step{Kind: records.StepToolCall, Command: long})
	for len(tr.Steps) < records.MaxTrajectorySteps {
		tr.Append(records.Step{Kind: records.StepMessage, Text: "m"})
	}
	tr.Append(records.Step{Kind: records.StepToolCall, Command: "git reflog"})
	if len(seen) != 2 || seen[0].Index != 1 || !strings.HasSuffix(seen[0].Command, "; git log --all") ||
		strings.Contains(seen[0].Command, "hunter2") || seen[1].Index != records.MaxTrajectorySteps || seen[1].Command != "git reflog" {
		t.Fatalf("observed %d steps", len(seen))
	}
	if tr.StepsDropped != 1 || len(tr.Steps) != records.MaxTrajectorySteps || len(tr.Steps[1].Command) > records.MaxStepCommandBytes {
		t.Errorf("bounds: dropped %d, steps %d", tr.StepsDropped, len(tr.Steps))
	}
}
