package evaluate

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/gitx"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

func TestOrderRotates(t *testing.T) {
	want := [][]records.Arm{{records.ArmBase, records.ArmHuman, records.ArmAgent}, {records.ArmHuman, records.ArmAgent, records.ArmBase}, {records.ArmAgent, records.ArmBase, records.ArmHuman}, {records.ArmBase, records.ArmHuman, records.ArmAgent}}
	for r, w := range want {
		if got := Order(r); !slices.Equal(got, w) {
			t.Errorf("Order(%d) = %v, want %v", r, got, w)
		}
	}
	// Over any three consecutive rounds every arm takes every position once.
	for start := 0; start < 5; start++ {
		seen := map[records.Arm]map[int]bool{}
		for r := start; r < start+3; r++ {
			for pos, a := range Order(r) {
				if seen[a] == nil {
					seen[a] = map[int]bool{}
				}
				seen[a][pos] = true
			}
		}
		for _, a := range records.Arms {
			if len(seen[a]) != 3 {
				t.Errorf("rounds %d..%d: %s took positions %v", start, start+2, a, seen[a])
			}
		}
	}
}

func TestExtract(t *testing.T) {
	wall := records.Metric{Kind: "wall"}
	if v, err := Extract(wall, []byte("anything"), 1500*time.Millisecond); err != nil || v != 1.5 {
		t.Fatalf("wall: %v %v", v, err)
	}
	re := records.Metric{Kind: "regex", Regex: `time: ([0-9.eE+-]+) ms`}
	js := records.Metric{Kind: "json", JSON: "result.mean"}
	for _, c := range []struct {
		name string
		m    records.Metric
		out  string
		want float64
		err  string
	}{
		{"regex first match", re, "warmup\ntime: 12.5 ms\ntime: 99 ms\n", 12.5, ""},
		{"regex exponent", re, "time: 1.5e2 ms", 150, ""},
		{"regex no match", re, "nothing here\n", 0, "matches nothing"},
		{"regex empty output", re, "", 0, "the output is empty"},
		{"regex not a number", records.Metric{Kind: "regex", Regex: `time: (\S+)`}, "time: fast", 0, `"fast", not a number`},
		{"regex NaN", records.Metric{Kind: "regex", Regex: `time: (\S+)`}, "time: NaN", 0, "not a finite number"},
		{"json nested", js, "log line\n{\"result\": {\"mean\": 3.25}}\n", 3.25, ""},
		{"json first line with the field", js, "{\"other\": 1}\n{\"result\": {\"mean\": 2}}\n{\"result\": {\"mean\": 9}}\n", 2, ""},
		{"json numeric string", js, `{"result": {"mean": " 7.5 "}}`, 7.5, ""},
		{"json wrong type", js, `{"result": {"mean": true}}`, 0, "is a boolean, not a number"},
		{"json object", js, `{"result": {"mean": {"x": 1}}}`, 0, "is an object, not a number"},
		{"json missing field", js, `{"result": {}}`, 0, "none of the 1 JSON line(s)"},
		{"json no JSON", js, "plain text\n", 0, "no line of the workload's output is a JSON object"},
		{"json broken line", js, "{\"result\": \n", 0, "no line of the workload's output is a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := Extract(c.m, []byte(c.out), time.Second)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want it to contain %q", err, c.err)
				}
				return
			}
			if err != nil || v != c.want {
				t.Fatalf("got %v, %v; want %v", v, err, c.want)
			}
		})
	}
}

func TestEquivalent(t *testing.T) {
	exact := records.Equivalence{Mode: "exact"}
	num := func(tol float64) records.Equivalence { return records.Equivalence{Mode: "numeric", Tolerance: tol} }
	for _, c := range []struct {
		name       string
		q          records.Equivalence
		base, cand string
		ok         bool
		detail     string
	}{
		{"exact equal", exact, "a\nb\n", "a\nb\n", true, ""},
		{"exact differs", exact, "a\nb\n", "a\nc\n", false, `line 2: baseline "b\n", candidate "c\n"`},
		{"exact longer candidate", exact, "a\n", "a\nb\n", false, "the baseline's output ends"},
		{"exact shorter candidate", exact, "a\nb\n", "a\n", false, "the candidate's output ends"},
		{"exact whitespace matters", exact, "1 2", "1  2", false, "line 1"},
		{"numeric zero tolerance", num(0), "sum = 1.0\n", "sum =   1\n", true, ""},
		{"numeric within relative tolerance", num(0.01), "mean 100.0 n=3", "mean 100.5 n=3", true, ""},
		{"numeric within absolute tolerance", num(0.01), "x 0.000", "x 0.009", true, ""},
		{"numeric beyond tolerance", num(0.01), "mean 100.0 n=3", "mean 102 n=3", false, "number 1: baseline 100.0, candidate 102"},
		{"numeric text differs", num(0.5), "mean 1", "median 1", false, "text around the numbers differs"},
		{"numeric count differs", num(0.5), "1 2 3", "1 2", false, "text around the numbers differs"},
		{"numeric exponent", num(1e-9), "1e3", "1000", true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ok, detail := Equivalent(c.q, []byte(c.base), []byte(c.cand))
			if ok != c.ok || !strings.Contains(detail, c.detail) {
				t.Fatalf("Equivalent = %v, %q; want %v, containing %q", ok, detail, c.ok, c.detail)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	for _, c := range []struct {
		f    *failure
		want records.EvalStatus
	}{
		{nil, records.EvalSuccess},
		{&failure{arm: records.ArmBase, kind: "workload"}, records.EvalBaseFailed},
		{&failure{arm: records.ArmBase, kind: "setup", timedOut: true}, records.EvalBaseFailed},
		{&failure{arm: records.ArmHuman, kind: "correctness"}, records.EvalHumanFailed},
		{&failure{arm: records.ArmHuman, kind: "equivalence"}, records.EvalHumanFailed},
		{&failure{arm: records.ArmAgent, kind: "patch"}, records.EvalPatchFailed},
		{&failure{arm: records.ArmAgent, kind: "setup"}, records.EvalCorrectnessFailed},
		{&failure{arm: records.ArmAgent, kind: "correctness"}, records.EvalCorrectnessFailed},
		{&failure{arm: records.ArmAgent, kind: "workload"}, records.EvalCorrectnessFailed},
		{&failure{arm: records.ArmAgent, kind: "metric"}, records.EvalCorrectnessFailed},
		{&failure{arm: records.ArmAgent, kind: "files"}, records.EvalCorrectnessFailed},
		{&failure{arm: records.ArmAgent, kind: "correctness", timedOut: true}, records.EvalTimeout},
		{&failure{arm: records.ArmAgent, kind: "workload", timedOut: true}, records.EvalTimeout},
		{&failure{arm: records.ArmAgent, kind: "equivalence"}, records.EvalEquivalenceFailed},
	} {
		if got := statusOf(c.f); got != c.want {
			t.Errorf("statusOf(%+v) = %s, want %s", c.f, got, c.want)
		}
	}
	for _, s := range records.EvalStatuses {
		passed, reached := s.AgentGate()
		wantDone := s != records.EvalBaseFailed && s != records.EvalHumanFailed
		if s.Done() != wantDone || reached != wantDone || passed != (s == records.EvalSuccess) {
			t.Errorf("%s: Done %v, AgentGate %v %v", s, s.Done(), passed, reached)
		}
	}
}

// TestSpecHashUnchanged: the hash that ties an eval.json to its
// configuration is what it was before the spec became a record; a changed
// hash would make every resume evaluate everything again.
func TestSpecHashUnchanged(t *testing.T) {
	s := &Spec{EvalSpec: records.EvalSpec{Setup: []string{"make"}, Workload: "sh bench.sh <&>",
		Metric:      records.Metric{Kind: "regex", Regex: `t=(\d+)`, Unit: "ms", Better: "higher"},
		Correctness: []string{"make test"}, Equivalence: &records.Equivalence{Mode: "numeric", Tolerance: 0.01}, Files: []string{"hidden"},
		Rounds: 12, Warmup: 1, Timeout: records.Duration(90 * time.Second), Band: 0.07, Alpha: 0.01, Image: "img:1"}}
	// Computed by the code of cdcc4f2, where Spec held these fields itself.
	const want = "ecfd3e1f00441b6d"
	if got, err := s.Hash(); err != nil || got != want {
		t.Errorf("Hash() = %q, %v; want %q", got, err, want)
	}
}

func TestResolveSpec(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "hidden/bench.sh", "echo hidden\n")
	three := 3
	task := &config.Task{ID: "t", Path: dir + "/task.yaml", Dir: dir, Workload: "sh shown.sh",
		Evaluation: config.Evaluation{Setup: []string{"make"}, Correctness: []string{"make test"}, Files: []string{"hidden/bench.sh"}, Band: 0.1}}
	it := plan.Item{ID: "t-0000", Human: "h", Pre: "p"}

	s, err := ResolveSpec(task, it)
	if err != nil {
		t.Fatal(err)
	}
	if s.Workload != "sh shown.sh" || s.Rounds != DefaultRounds || s.Warmup != DefaultWarmup || s.Timeout.D() != DefaultTimeout ||
		s.Band != 0.1 || s.Alpha != DefaultAlpha || s.Metric.Kind != "wall" || s.Metric.Better != "lower" || s.Metric.Unit != "s" {
		t.Fatalf("defaults: %+v", s)
	}
	if len(s.FilesAbs) != 1 || s.FilesAbs[0] != dir+"/hidden/bench.sh" {
		t.Fatalf("files: %v", s.FilesAbs)
	}

	// The item's override wins field by field; warmup 0 is an override.
	zero := 0
	it.Workload = "sh pair.sh"
	it.Evaluation = &config.Evaluation{Rounds: 7, Warmup: &zero, Metric: &config.Metric{Kind: "regex", Regex: `t=([0-9.]+)`, Better: "higher"}}
	s2, err := ResolveSpec(task, it)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Workload != "sh pair.sh" || s2.Rounds != 7 || s2.Warmup != 0 || s2.Metric.Kind != "regex" || s2.Setup[0] != "make" || s2.Band != 0.1 {
		t.Fatalf("override: %+v", s2)
	}
	if s2.Options().Better.String() != "higher" {
		t.Fatal("better higher not passed to the statistics")
	}
	// A hidden evaluation workload wins over what the agent is shown.
	task.Evaluation.Workload = "sh hidden/bench.sh"
	task.Evaluation.Warmup = &three
	s3, _ := ResolveSpec(task, plan.Item{ID: "t-0000", Workload: "sh pair.sh"})
	if s3.Workload != "sh hidden/bench.sh" || s3.Warmup != 3 {
		t.Fatalf("hidden workload: %+v", s3)
	}

	// The hash follows the evaluation files' content, not band or alpha.
	h1, _ := s.Hash()
	s.Band = 0.2
	h2, _ := s.Hash()
	writeFile(t, dir, "hidden/bench.sh", "echo changed\n")
	h3, _ := s.Hash()
	if h1 != h2 || h1 == h3 {
		t.Fatalf("hashes %s %s %s", h1, h2, h3)
	}

	// Bad input, naming the item.
	for _, c := range []struct {
		mod  func(*config.Task)
		want string
	}{
		{func(t *config.Task) { t.Workload, t.Evaluation.Workload = "", "" }, "item t-0000: no workload to time"},
		{func(t *config.Task) { t.Evaluation.Files = []string{"missing.py"} }, "item t-0000: evaluation.files: missing.py"},
	} {
		bad := *task
		c.mod(&bad)
		_, err := ResolveSpec(&bad, plan.Item{ID: "t-0000"})
		if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want bad input containing %q", err, c.want)
		}
	}
}

func TestFileTarget(t *testing.T) {
	for _, c := range []struct{ written, abs, want string }{
		{"bench/hidden.py", "/task/bench/hidden.py", "bench/hidden.py"},
		{"../shared/perf.py", "/shared/perf.py", "perf.py"},
		{"/abs/x/perf.py", "/abs/x/perf.py", "perf.py"},
		{"/task/sub/perf.py", "/task/sub/perf.py", "sub/perf.py"},
	} {
		if got := fileTarget("/task", c.written, c.abs); got != c.want {
			t.Errorf("fileTarget(%q) = %q, want %q", c.written, got, c.want)
		}
	}
}

func TestFailingHunks(t *testing.T) {
	patch := `diff --git a/src/a.sh b/src/a.sh
index 1111111..2222222 100644
--- a/src/a.sh
+++ b/src/a.sh
@@ -1,2 +1,2 @@
-old line
+new line
 ctx
@@ -10,2 +10,2 @@
-x
+y
diff --git a/gone.txt b/gone.txt
--- a/gone.txt
+++ b/gone.txt
@@ -1 +1 @@
-a
+b
`
	stderr := "error: patch failed: src/a.sh:10\nerror: src/a.sh: patch does not apply\nerror: gone.txt: does not exist in index\n"
	err := errors.Join(&gitx.GitError{Args: []string{"apply"}, ExitCode: 1, Stderr: stderr})
	hs := failingHunks(gitStderr(err), []byte(patch))
	if len(hs) != 2 {
		t.Fatalf("hunks: %+v", hs)
	}
	if hs[0].File != "src/a.sh" || hs[0].Line != 10 || hs[0].Header != "@@ -10,2 +10,2 @@" || hs[0].Text != "-x\n+y\n" {
		t.Errorf("first hunk: %+v", hs[0])
	}
	if hs[1].File != "gone.txt" || hs[1].Header != "does not exist in index" {
		t.Errorf("second: %+v", hs[1])
	}
}

func TestBuffers(t *testing.T) {
	h := &headBuffer{max: 4}
	h.Write([]byte("abc"))
	h.Write([]byte("defg"))
	if string(h.Bytes()) != "abcd" || !h.Truncated() {
		t.Fatalf("head: %q", h.Bytes())
	}
	tb := textx.NewTail(4)
	for _, s := range []string{"ab", "cdef", "gh", "é"} {
		tb.Write([]byte(s))
	}
	if tb.String() != "ghé" || tb.Total() != 10 {
		t.Fatalf("tail: %q %d", tb.String(), tb.Total())
	}
}

func TestAnalyzeUsesTimedSamplesOnly(t *testing.T) {
	var samples []records.Sample
	for r := 0; r < 8; r++ {
		warm := r < 2
		for pos, a := range Order(r) {
			v := map[records.Arm]float64{records.ArmBase: 2, records.ArmHuman: 1, records.ArmAgent: 1}[a] * (1 + 0.01*float64(r%3))
			if warm {
				v = 100 // a cold first run must not count
			}
			samples = append(samples, records.Sample{Arm: a, Round: r, Position: pos, Warmup: warm, Value: v})
		}
	}
	spec := &Spec{EvalSpec: records.EvalSpec{Band: 0.05, Alpha: 0.05, Metric: records.Metric{Kind: "wall", Better: "lower"}}}
	st := Analyze(samples, spec)
	if st.Base.N != 6 || math.Abs(st.HumanOverBase.Ratio-2) > 1e-9 || st.Verdict.Outcome != "match" {
		t.Fatalf("stats: n %d, human/base %v, verdict %s", st.Base.N, st.HumanOverBase.Ratio, st.Verdict.Outcome)
	}
}

// The launcher's result file lives where a container's workload can
// write: a link to a host file is not read, a FIFO not opened.
func TestReadTimedFollowsNoLink(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(t.TempDir(), "host.json")
	os.WriteFile(host, []byte(`{"wall_ns": 5}`), 0o600)
	os.WriteFile(filepath.Join(dir, "ok.json"), []byte(`{"wall_ns": 7}`), 0o644)
	os.Symlink(host, filepath.Join(dir, "link.json"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := readTimed(filepath.Join(dir, "ok.json")); err != nil || r.WallNanos != 7 {
		t.Fatalf("readTimed = %+v, %v", r, err)
	}
	for _, name := range []string{"link.json", "fifo.json"} {
		if r, err := readTimed(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s: read %+v", name, r)
		}
	}
}

// What a workload put at the launcher's result path before its launcher
// writes there is replaced, not written through: a FIFO would block the
// write (no reader), a link would send it to the link's target, a file
// of made-up times would stay when the write failed.
func TestWriteResultReplacesPlants(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "target.json")
	os.WriteFile(target, []byte(`{"wall_ns": 1}`), 0o600)
	os.Symlink(target, filepath.Join(dir, "link.json"))
	os.WriteFile(filepath.Join(dir, "file.json"), []byte(`{"wall_ns": 1, "padding": "longer than the result"}`), 0o644)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"link.json", "file.json", "fifo.json", "new.json"} {
		done := make(chan error, 1)
		go func() { done <- writeResult(filepath.Join(dir, name), []byte(`{"wall_ns": 7}`)) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the write blocks", name)
		}
		if r, err := readTimed(filepath.Join(dir, name)); err != nil || r.WallNanos != 7 {
			t.Errorf("%s: read back %+v, %v", name, r, err)
		}
	}
	if data, _ := os.ReadFile(target); string(data) != `{"wall_ns": 1}` {
		t.Errorf("the link's target was written: %s", data)
	}
}
