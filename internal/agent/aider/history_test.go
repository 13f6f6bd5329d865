package aider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/export/atiftest"
	"github.com/perfbench/perfbench/internal/records"
)

func TestConvertHistory(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "chat_history.md"))
	if err != nil {
		t.Fatal(err)
	}
	tr := &records.Trajectory{Structured: true}
	ConvertHistory(data, tr)
	if err := tr.CheckBounds(); err != nil {
		t.Fatal(err)
	}
	want := "message: message: message: message: message: message: tool_call:edit message: tool_call:shell tool_result:shell message: message: error:"
	if got := atiftest.StepKinds(tr); got != want {
		t.Fatalf("steps\n got %s\nwant %s", got, want)
	}
	if tr.Steps[0].Role != records.RoleSystem || !strings.HasPrefix(tr.Steps[0].Text, "/usr/local/bin/aider") {
		t.Errorf("first step %+v", tr.Steps[0])
	}
	if !tr.Steps[0].Time.Equal(time.Date(2025, 1, 1, 10, 0, 0, 0, time.Local)) || !tr.Steps[1].Time.IsZero() {
		t.Errorf("times %v %v", tr.Steps[0].Time, tr.Steps[1].Time)
	}
	user, reply := tr.Steps[4], tr.Steps[5]
	if user.Role != records.RoleUser || user.Text != "Make src/slow.sh faster.\nKeep its output the same." {
		t.Errorf("user %+v", user)
	}
	if reply.Role != records.RoleAgent || !strings.Contains(reply.Text, "<<<<<<< SEARCH") {
		t.Errorf("reply %+v", reply)
	}
	if tk := reply.Tokens; tk == nil || tk.Input != 2400 || tk.CacheWrite != 1100 || tk.CacheRead != 12000 || tk.Output != 312 {
		t.Errorf("reply's tokens %+v", tk)
	}
	if e := tr.Steps[6]; !strings.Contains(e.Input, `"path":"src/slow.sh"`) {
		t.Errorf("edit %+v", e)
	}
	call, res := tr.Steps[8], tr.Steps[9]
	if call.Command != "sh bench.sh" || res.CallID != call.CallID || res.Output != "1000\nreal 0m0.01s" {
		t.Errorf("call %+v result %+v", call, res)
	}
	if tk := tr.Steps[11].Tokens; tk == nil || tk.Input != 15000 || tk.Output != 40 {
		t.Errorf("second reply's tokens %+v", tk)
	}
	atiftest.CheckConverted(t, tr)
}

// A usage report before any reply belongs to no step.
func TestConvertHistoryTokensWithoutReply(t *testing.T) {
	tr := &records.Trajectory{}
	ConvertHistory([]byte("> Applied edit to x  \n> Tokens: 1k sent, 2 received.  \n"), tr)
	for _, s := range tr.Steps {
		if s.Tokens != nil {
			t.Fatalf("tokens on %+v", s)
		}
	}
}

// FuzzConvertHistory: no history crashes the conversion; what it keeps
// is bounded and exports to valid ATIF.
func FuzzConvertHistory(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "chat_history.md"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("> Applied edit to x\n> Tokens: 1k sent, 2 received.\n"))
	f.Add([]byte("> Running \n> Tokens: 1e309k sent, 1 received.\n####\n>\n# aider chat started at 9999-99-99 99:99:99\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := &records.Trajectory{Structured: true}
		ConvertHistory(data, tr)
		atiftest.CheckConverted(t, tr)
	})
}
