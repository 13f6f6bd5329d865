package atiftest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/records"
)

// recorder is a testing.TB that keeps what the helpers report; Fatal
// ends the goroutine as the real one does.
type recorder struct {
	testing.TB
	errs  []string
	fatal bool
}

func (r *recorder) Helper()                      {}
func (r *recorder) Error(args ...any)            { r.errs = append(r.errs, fmt.Sprint(args...)) }
func (r *recorder) Errorf(f string, args ...any) { r.errs = append(r.errs, fmt.Sprintf(f, args...)) }
func (r *recorder) Fatal(args ...any)            { r.Error(args...); r.fatal = true; runtime.Goexit() }
func (r *recorder) Fatalf(f string, args ...any) {
	r.Errorf(f, args...)
	r.fatal = true
	runtime.Goexit()
}

func run(check func(testing.TB, *records.Trajectory), tr *records.Trajectory) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r, tr)
	}()
	<-done
	return r
}

func TestCheckConverted(t *testing.T) {
	ok := &records.Trajectory{Structured: true, Steps: []records.Step{
		{Kind: records.StepMessage, Role: records.RoleAgent, Text: "hi"},
		{Index: 1, Kind: records.StepToolCall, CallID: "a", Tool: "shell", Input: `{"command":"ls"}`},
		{Index: 2, Kind: records.StepToolResult, CallID: "a", Output: "x"},
	}}
	if r := run(CheckConverted, ok); len(r.errs) > 0 {
		t.Fatalf("a valid trajectory: %q", r.errs)
	}
	if ok.SchemaVersion != records.TrajectorySchemaVersion {
		t.Errorf("schema version %v, not stamped", ok.SchemaVersion)
	}
	if r := run(CheckConverted, &records.Trajectory{}); len(r.errs) > 0 {
		t.Errorf("no steps: %q", r.errs)
	}
	big := &records.Trajectory{Steps: make([]records.Step, records.MaxTrajectorySteps+1)}
	r := run(CheckConverted, big)
	if !r.fatal || len(r.errs) != 1 || !strings.Contains(r.errs[0], "steps, at most") {
		t.Errorf("past the bounds: fatal %v, %q", r.fatal, r.errs)
	}
}

func TestStepKinds(t *testing.T) {
	tr := &records.Trajectory{Steps: []records.Step{{Kind: records.StepMessage}, {Kind: records.StepToolCall, Tool: "bash"}}}
	if got := StepKinds(tr); got != "message: tool_call:bash" {
		t.Errorf("StepKinds = %q", got)
	}
	if got := StepKinds(&records.Trajectory{}); got != "" {
		t.Errorf("no steps: %q", got)
	}
}
