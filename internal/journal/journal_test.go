package journal

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/records"
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
		status records.RolloutStatus
		hash   string
		done   bool
	}{
		{records.RolloutSuccess, "h", true},
		{records.RolloutAgentError, "h", true},
		{records.RolloutSuccess, "other", false},
		{records.RolloutInfraError, "h", false},
		{records.RolloutInterrupted, "h", false},
		{records.RolloutRunning, "h", false},
	} {
		if err := WriteJournal(dir, &records.Journal{Status: tc.status, PlanItemHash: tc.hash}); err != nil {
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
	in := []records.Prediction{{InstanceID: "a-0000", ModelPatch: "diff --git a/x b/x\n<&>", ModelNameOrPath: "m"}, {InstanceID: "a-0001"}}
	if err := WritePredictions(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadPredictions(p, 1<<20)
	if err != nil || len(out) != 2 || out[0].ModelPatch != in[0].ModelPatch {
		t.Fatalf("round trip: %v %+v", err, out)
	}
	for _, tc := range []struct{ content, want string }{
		{"{\"instance_id\": \"a\"}\nnot json\n", "p.jsonl:2: expected a JSON object"},
		{"{\"model_patch\": \"\"}\n", "p.jsonl:1: instance_id is missing"},
		{"{\"instance_id\": \"a\"}\n\n{\"instance_id\": \"a\"}\n", `p.jsonl:3: instance_id "a" already on line 1`},
	} {
		os.WriteFile(p, []byte(tc.content), 0o644)
		_, err := ReadPredictions(p, 1<<20)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !badinput.Is(err) {
			t.Errorf("%q: error %v, want %q", tc.content, err, tc.want)
		}
	}
}

func TestPredictionsBounds(t *testing.T) {
	p := filepath.Join(t.TempDir(), "p.jsonl")
	big := strings.Repeat("x", 2000)
	if err := WritePredictions(p, []records.Prediction{{InstanceID: "a", ModelPatch: "ok"}, {InstanceID: "b", ModelPatch: big}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPredictions(p, 2000); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, err := ReadPredictions(p, 1999)
	if want := "p.jsonl:2: model_patch of b is 2000 bytes, more than max_patch_bytes (1999)"; err == nil || !strings.HasSuffix(err.Error(), want) || !badinput.Is(err) {
		t.Errorf("err = %v, want %s", err, want)
	}
	// A line longer than any patch within the limit can encode to.
	line := `{"instance_id":"c","model_patch":"` + strings.Repeat("y", PredictionLineBound(10)) + "\"}\n"
	os.WriteFile(p, []byte(`{"instance_id":"a"}`+"\n"+line), 0o644)
	_, err = ReadPredictions(p, 10)
	if err == nil || !strings.Contains(err.Error(), "p.jsonl:2: line longer than") || !badinput.Is(err) {
		t.Errorf("err = %v", err)
	}
}

// The streamed rows are what encoding/json writes.
func TestPredictionsWriterMatchesEncodingJSON(t *testing.T) {
	for _, patch := range []string{
		"", "diff --git a/x b/x\n+\t<&>\"q\" \\ back\r\n", "\x00\x01\x1f\x7f\b\f", "caf\xc3\xa9 \xe2\x80\xa8 \xe2\x80\xa9 \xff\xfe bad",
		"split \xe2\x82", "\xef\xbf\xbd real U+FFFD", strings.Repeat("\xc3\xa9", 70000) + "\xe2",
	} {
		checkRow(t, patch)
	}
}

func checkRow(t *testing.T, patch string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.jsonl")
	w, err := CreatePredictions(p)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// One byte at a time, so that runes are split across reads.
	if err := w.Add("id\"1", "m<o>", iotest.OneByteReader(strings.NewReader(patch))); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	enc.Encode(records.Prediction{InstanceID: "id\"1", ModelPatch: patch, ModelNameOrPath: "m<o>"})
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("patch %.60q:\n got %.200s\nwant %.200s", patch, got, want.Bytes())
	}
}

func FuzzPredictionsWriter(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\xff", "\xe2\x80\xa8", "\x00\\\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, patch string) { checkRow(t, patch) })
}

// The workspace_setup a run ran is in its key: a run.json without the
// record (older runs) matches a key without a setup only.
func TestRunKeyWorkspaceSetup(t *testing.T) {
	setup := &records.WorkspaceSetup{Commands: []string{"make"}, Timeout: records.Duration(time.Minute)}
	other := &records.WorkspaceSetup{Commands: []string{"make"}, Timeout: records.Duration(2 * time.Minute)}
	run := func(w *records.WorkspaceSetup) *records.Run {
		return &records.Run{Task: records.RunTask{ID: "t"}, Agent: records.RunAgent{Name: "a"}, PlanHash: "p", WorkspaceSetup: w}
	}
	key := func(w *records.WorkspaceSetup) RunKey {
		return RunKey{TaskID: "t", AgentName: "a", PlanHash: "p", WorkspaceSetupHash: w.Hash(), Samples: 1}
	}
	for _, tc := range []struct {
		name      string
		have, key *records.WorkspaceSetup
		want      bool
	}{
		{"neither", nil, nil, true},
		{"the same", setup, setup, true},
		{"older run, a setup now", nil, setup, false},
		{"setup removed", setup, nil, false},
		{"another timeout", setup, other, false},
	} {
		if got := key(tc.key).Matches(run(tc.have)); got != tc.want {
			t.Errorf("%s: Matches %v, want %v", tc.name, got, tc.want)
		}
	}
}
