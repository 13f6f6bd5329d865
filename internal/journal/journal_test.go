package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
)

func TestNewRunID(t *testing.T) {
	ts := time.Date(2026, 11, 25, 18, 41, 17, 0, time.FixedZone("x", 3600))
	for _, tc := range []struct{ task, agent, model, want string }{
		{"vllm_core", "openhands", "anthropic/claude-x", "vllm_core__openhands__anthropic-claude-x__20261125T174117Z"},
		{"T", "Claude Code", "", "t__claude-code__none__20261125T174117Z"},
		{"a__b", "x", "m:1", "a_b__x__m-1__20261125T174117Z"},
		{"..", "/", "", "x__-__none__20261125T174117Z"},
	} {
		got := NewRunID(tc.task, tc.agent, tc.model, ts)
		if got != tc.want {
			t.Errorf("NewRunID(%q,%q,%q) = %q, want %q", tc.task, tc.agent, tc.model, got, tc.want)
		}
		if !ValidRunID(got) || strings.Count(got, "__") != 3 {
			t.Errorf("%q is not a valid four-part run id", got)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a b", "é"} {
		if ValidRunID(bad) {
			t.Errorf("ValidRunID(%q) = true", bad)
		}
	}
}

func TestItemDirNames(t *testing.T) {
	if got := ItemDirName("t-0001", 0, 1); got != "t-0001" {
		t.Error(got)
	}
	if got := ItemDirName("t-0001", 2, 3); got != "t-0001.s2" {
		t.Error(got)
	}
	if got := PredictionsFileName(0, 1); got != "predictions.jsonl" {
		t.Error(got)
	}
	if got := PredictionsFileName(1, 2); got != "predictions.s1.jsonl" {
		t.Error(got)
	}
}

func TestDone(t *testing.T) {
	dir := t.TempDir()
	if Done(dir, "h") {
		t.Fatal("empty dir is done")
	}
	for _, tc := range []struct {
		status Status
		hash   string
		done   bool
	}{
		{StatusSuccess, "h", true},
		{StatusAgentError, "h", true},
		{StatusSuccess, "other", false},
		{StatusInfraError, "h", false},
		{StatusInterrupted, "h", false},
		{StatusRunning, "h", false},
	} {
		if err := WriteJournal(dir, &Journal{Status: tc.status, PlanItemHash: tc.hash}); err != nil {
			t.Fatal(err)
		}
		if got := Done(dir, "h"); got != tc.done {
			t.Errorf("status %s hash %s: done %v", tc.status, tc.hash, got)
		}
	}
	os.WriteFile(filepath.Join(dir, JournalFile), []byte(`{"schema_version": 1, "status": "succ`), 0o644)
	if Done(dir, "h") {
		t.Error("truncated journal counts as done")
	}
}

func TestPredictionsRoundTripAndErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.jsonl")
	in := []Prediction{{InstanceID: "a-0000", ModelPatch: "diff --git a/x b/x\n<&>", ModelNameOrPath: "m"}, {InstanceID: "a-0001"}}
	if err := WritePredictions(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadPredictions(p)
	if err != nil || len(out) != 2 || out[0].ModelPatch != in[0].ModelPatch {
		t.Fatalf("round trip: %v %+v", err, out)
	}
	for _, tc := range []struct{ content, want string }{
		{"{\"instance_id\": \"a\"}\nnot json\n", "p.jsonl:2: expected a JSON object"},
		{"{\"model_patch\": \"\"}\n", "p.jsonl:1: instance_id is missing"},
		{"{\"instance_id\": \"a\"}\n\n{\"instance_id\": \"a\"}\n", `p.jsonl:3: instance_id "a" already on line 1`},
	} {
		os.WriteFile(p, []byte(tc.content), 0o644)
		_, err := ReadPredictions(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !badinput.Is(err) {
			t.Errorf("%q: error %v, want %q", tc.content, err, tc.want)
		}
	}
}
