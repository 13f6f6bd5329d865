package miniswe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/export/atiftest"
	"github.com/perfbench/perfbench/internal/records"
)

func convertFixture(t *testing.T, name string) *records.Trajectory {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTrajectory(data)
	if err != nil {
		t.Fatal(err)
	}
	out := &records.Trajectory{Structured: true, Source: TrajectorySource}
	ConvertTrajectory(tr, out)
	if err := out.CheckBounds(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConvertTrajectory(t *testing.T) {
	tr := convertFixture(t, "traj_submitted.json")
	want := "message: message: message: tool_call:bash tool_result:bash message: tool_call:bash tool_result:bash message: tool_call:bash message:"
	if got := atiftest.StepKinds(tr); got != want {
		t.Fatalf("steps\n got %s\nwant %s", got, want)
	}
	call, res := tr.Steps[3], tr.Steps[4]
	if call.Command != "ls src" || call.Tool != "bash" || res.CallID != call.CallID || res.Output != "slow.sh\n" {
		t.Errorf("call %+v, result %+v", call, res)
	}
	if tk := tr.Steps[2].Tokens; tk == nil || tk.Input != 3120 || tk.Output != 212 || tk.CacheWrite != 2900 || tr.Steps[2].CostUSD != 0.0145 {
		t.Errorf("reply's tokens %+v cost %v", tk, tr.Steps[2].CostUSD)
	}
	if c := tr.Steps[9].Command; c != "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT" {
		t.Errorf("last command %q", c)
	}
	atiftest.CheckConverted(t, tr)
}

// mini 1 names no actions: the command is the reply's bash block.
func TestConvertMini1(t *testing.T) {
	tr := &Trajectory{Messages: []json.RawMessage{
		json.RawMessage(`{"role":"assistant","content":"THOUGHT: look\n\n` + "```bash\\ngit log --all\\n```" + `"}`),
		json.RawMessage(`{"role":"user","content":"<returncode>0</returncode><output>x</output>"}`),
		json.RawMessage(`{"role":"user","content":"thanks"}`),
	}}
	out := &records.Trajectory{}
	ConvertTrajectory(tr, out)
	if got := atiftest.StepKinds(out); got != "message: tool_call:bash tool_result:bash message:" {
		t.Fatalf("steps %s", got)
	}
	if out.Steps[1].Command != "git log --all" {
		t.Errorf("command %q", out.Steps[1].Command)
	}
}

func TestConvertOtherTrajectories(t *testing.T) {
	for _, name := range []string{"traj_auth.json", "traj_steplimit.json", "traj_v1.json", "traj_v1_ratelimit.json"} {
		atiftest.CheckConverted(t, convertFixture(t, name))
	}
	if tr := convertFixture(t, "traj_auth.json"); !strings.Contains(atiftest.StepKinds(tr), "error") {
		t.Errorf("traj_auth: no error step: %s", atiftest.StepKinds(tr))
	}
}

// FuzzConvertTrajectory: no trajectory crashes the conversion; what it
// keeps is bounded and exports to valid ATIF.
func FuzzConvertTrajectory(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "traj_*.json"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"bash","arguments":"{\"command\":\"ls\"}"}}]},{"role":"tool","tool_call_id":"b","content":[{"type":"text","text":"x"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrajectory(data)
		if err != nil {
			return
		}
		out := &records.Trajectory{Structured: true}
		ConvertTrajectory(tr, out)
		atiftest.CheckConverted(t, out)
	})
}
