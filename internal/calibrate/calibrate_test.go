package calibrate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// The key is the evaluation's: a changed evaluation section changes it,
// the calibration's own --rounds does not.
func TestKeyInvalidation(t *testing.T) {
	task := &config.Task{ID: "k", Dir: t.TempDir(), Evaluation: config.Evaluation{Workload: "sh bench.sh", Rounds: 7}}
	it := plan.Item{ID: "k-0000", Human: "h", Pre: "p"}
	key := func(task *config.Task, rounds int) records.CalibrationItem {
		td, err := newTodo(Options{Task: task, Rounds: rounds}, it)
		if err != nil {
			t.Fatal(err)
		}
		return td.entry
	}
	base := key(task, 0)
	if r := key(task, 5); r.ConfigHash != base.ConfigHash || r.PlanItemHash != base.PlanItemHash || r.Rounds != 5 || r.ConfiguredRounds != 7 {
		t.Fatalf("--rounds 5 changed the key or lost the rounds: %+v vs %+v", r, base)
	}
	changed := *task
	changed.Evaluation.Rounds = 8
	if key(&changed, 0).ConfigHash == base.ConfigHash {
		t.Fatal("rounds 7 -> 8 kept the config hash")
	}
	changed = *task
	changed.Evaluation.Workload = "sh other.sh"
	if key(&changed, 0).ConfigHash == base.ConfigHash {
		t.Fatal("a changed workload kept the config hash")
	}
}

// fakeSession builds one successful session whose human arm is speedup times
// faster than the baseline, with lognormal noise of the given spread.
func fakeSession(rng *rand.Rand, n int, speedup, spread float64) records.CalibrationSession {
	s := records.CalibrationSession{Session: 1, Status: records.EvalSuccess}
	draw := func(mean float64) float64 { return mean * (1 + spread*rng.NormFloat64()) }
	for r := range n {
		for _, a := range []struct {
			arm  records.Arm
			mean float64
		}{{records.ArmBase, 1}, {records.ArmHuman, 1 / speedup}, {records.ArmAgent, 1}} {
			v := draw(a.mean)
			s.Samples = append(s.Samples, records.Sample{Arm: a.arm, Round: r, Value: v, WallSeconds: v, UserSeconds: 0.98 * v, CPUTimes: true})
		}
	}
	return s
}

func TestRoundsBelowMinimum(t *testing.T) {
	task := &config.Task{ID: "k", Dir: t.TempDir(), Evaluation: config.Evaluation{Workload: "sh bench.sh", Rounds: 7}}
	it := plan.Item{ID: "k-0000", Pre: "p", Human: "h"}
	need := stats.MinRounds(0.05)
	for _, rounds := range []int{1, 2, need - 1} {
		_, err := newTodo(Options{Task: task, Rounds: rounds}, it)
		if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), fmt.Sprintf("calibrate needs at least %d", need)) {
			t.Errorf("--rounds %d: %v", rounds, err)
		}
	}
	if _, err := newTodo(Options{Task: task, Rounds: need}, it); err != nil {
		t.Errorf("--rounds %d: %v", need, err)
	}
}

func TestAnalyzeClasses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	item := func(speedups ...float64) records.CalibrationItem {
		it := records.CalibrationItem{Rounds: 10, ConfiguredRounds: 10, Metric: "wall", Band: 0.05, Alpha: 0.05, Better: "lower"}
		for i, sp := range speedups {
			s := fakeSession(rng, 10, sp, 0.01)
			s.Session = i + 1
			it.Sessions = append(it.Sessions, s)
		}
		return it
	}
	stable := item(1.5, 1.5, 1.5)
	Analyze(&stable)
	if stable.Class != stats.ClassStable || !stable.Analysis.Classification.Agree || len(stable.Analysis.Human) != 3 {
		t.Fatalf("1.5x in 3 sessions: %s (%s)", stable.Class, stable.Reason)
	}
	m := stable.Analysis.MDE
	if !m.SimulatedValid || m.Simulated <= 1.05 || m.Simulated > 1.2 || m.CV <= 0 || m.CV > 0.05 {
		t.Fatalf("MDE of a 1%% spread: %+v", m)
	}
	if stable.Analysis.Metric == nil || stable.Analysis.Metric.Metric != stats.MetricCPU {
		t.Fatalf("metric advice: %+v", stable.Analysis.Metric)
	}
	aa := item(1, 1, 1)
	Analyze(&aa)
	if aa.Class != stats.ClassNoSpeedup {
		t.Fatalf("A/A in 3 sessions: %s (%s)", aa.Class, aa.Reason)
	}
	flaky := item(1.5, 1.0, 1.5)
	Analyze(&flaky)
	if flaky.Class != stats.ClassUnstable {
		t.Fatalf("a speedup in 2 of 3 sessions: %s (%s)", flaky.Class, flaky.Reason)
	}
	broken := item(1.5, 1.5)
	broken.Sessions = append(broken.Sessions, records.CalibrationSession{Session: 3, Status: records.EvalHumanFailed, Reason: "setup failed"})
	Analyze(&broken)
	if broken.Class != stats.ClassBroken || broken.Reason != "session 3: human_failed: setup failed" {
		t.Fatalf("a failed session: %s (%s)", broken.Class, broken.Reason)
	}
}

// The metric advice is computed for every metric from the runs' wall and
// CPU times: a wall or CPU task is told the time metric to use, an
// instructions task keeps instructions only for CPU-bound work, a task
// whose workload reports its own figure keeps it. The text says what to
// change when the advice is not the task's metric.
func TestAnalyzeMetricAdviceEveryMetric(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	item := func(metric string, cpuShare float64) records.CalibrationItem {
		it := records.CalibrationItem{ItemID: "m", Rounds: 10, ConfiguredRounds: 10, Metric: metric, Band: 0.05, Alpha: 0.05, Better: "lower"}
		for i := range 2 {
			s := fakeSession(rng, 10, 1.5, 0.01)
			s.Session = i + 1
			for j := range s.Samples {
				s.Samples[j].UserSeconds = cpuShare * s.Samples[j].WallSeconds
			}
			it.Sessions = append(it.Sessions, s)
		}
		return it
	}
	for _, tc := range []struct {
		metric   string
		cpuShare float64
		use      string
		text     string
	}{
		{"wall", 0.98, "cpu", "metric: cpu (single-threaded baseline (cpu/wall 0.98) and both metrics agree on the human commit (1.4"},
		{"wall", 0.3, "wall", "metric: wall (baseline waits (cpu/wall 0.3 < 0.9): I/O, sleeps or children not counted)\n"},
		{"cpu", 0.98, "cpu", "metric: cpu (single-threaded baseline"},
		{"cpu", 1.9, "wall", "metric: wall (baseline uses more CPU than wall time (cpu/wall 1.9 > 1.1): parallel); the task uses cpu: consider evaluation.metric: wall\n"},
		{"instructions", 0.98, "instructions", "metric: instructions (the task's; CPU-bound work: single-threaded baseline"},
		{"instructions", 0.3, "wall", "metric: wall (baseline waits (cpu/wall 0.3 < 0.9): I/O, sleeps or children not counted); the task uses instructions: consider evaluation.metric: wall\n"},
		{"regex", 0.98, "regex", "metric: regex (the task's: the workload's own figure); of the time metrics cpu would suit its runs (single-threaded"},
	} {
		it := item(tc.metric, tc.cpuShare)
		Analyze(&it)
		m := it.Analysis.Metric
		if m == nil || m.Use != tc.use || m.Configured != tc.metric {
			t.Errorf("%s, cpu/wall %g: advice %+v, want %s", tc.metric, tc.cpuShare, m, tc.use)
			continue
		}
		var b strings.Builder
		if err := WriteText(&b, []records.CalibrationItem{it}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "  "+tc.text) {
			t.Errorf("%s, cpu/wall %g: no %q in\n%s", tc.metric, tc.cpuShare, tc.text, b.String())
		}
	}
	// Contended: the timed runs' CPU is 55% of their wall time and their
	// main process's delay shows none of the waits (a shell that forked
	// the work); the probe runs measured the tree's waits, and the
	// advice reads the ratio without them: CPU time. Without the probes,
	// wall.
	contended := item("wall", 0.55)
	for i := range contended.Sessions {
		for j := range 5 {
			w := 0.1 + 0.001*float64(j)
			contended.Sessions[i].Probes = append(contended.Sessions[i].Probes, records.Sample{
				Arm: records.ArmBase, Round: j, Metric: records.MetricRunQueue, Value: 0.45 * w, WallSeconds: w,
				RunDelaySeconds: 0.45 * w, RunDelayKnown: true, RunCPUSeconds: 0.55 * w, UserSeconds: 0.55 * w, CPUTimes: true,
			})
		}
	}
	Analyze(&contended)
	// The speedups compared are the timed runs' (1.4…), not the probes'.
	if m := contended.Analysis.Metric; m == nil || m.Metric != stats.MetricCPU || m.CPUOverWall < 0.95 || !strings.Contains(m.Reason, "human commit (1.4") {
		t.Errorf("contended with probes: advice %+v, want cpu", m)
	}
	for i := range contended.Sessions {
		contended.Sessions[i].Probes = nil
	}
	Analyze(&contended)
	if m := contended.Analysis.Metric; m == nil || m.Metric != stats.MetricWall {
		t.Errorf("contended without probes: advice %+v, want wall", m)
	}
	// Without CPU times for the runs: no advice.
	it := item("wall", 0.98)
	it.Sessions[1].Samples[0].CPUTimes = false
	Analyze(&it)
	if it.Analysis.Metric != nil {
		t.Errorf("advice without CPU times: %+v", it.Analysis.Metric)
	}
}

// The caveats: nothing can be significant at the configured rounds (the
// Mann–Whitney test's smallest p is above alpha), and too few A/A samples
// for the simulation; neither for enough of both.
func TestAnalyzeCaveats(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	item := func(configured, rounds, sessions int) records.CalibrationItem {
		it := records.CalibrationItem{ItemID: "c", Rounds: rounds, ConfiguredRounds: configured, Metric: "wall", Band: 0.05, Alpha: 0.05, Better: "lower"}
		for i := range sessions {
			s := fakeSession(rng, rounds, 1.5, 0.01)
			s.Session = i + 1
			it.Sessions = append(it.Sessions, s)
		}
		return it
	}
	text := func(it records.CalibrationItem) string {
		var b strings.Builder
		if err := WriteText(&b, []records.CalibrationItem{it}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	ok := item(10, 10, 3)
	Analyze(&ok)
	if len(ok.Analysis.Caveats) != 0 || strings.Contains(text(ok), "caveat") {
		t.Errorf("60 A/A samples at 10 rounds: caveats %q", ok.Analysis.Caveats)
	}
	// Calibrated at 10 rounds, evaluated at 3: the MDE at 3 is nothing.
	low := item(3, 10, 3)
	Analyze(&low)
	want := "  caveat: nothing can be significant at the configured 3 rounds: the Mann–Whitney test needs at least 4 per arm for p <= 0.05 (raise evaluation.rounds)\n"
	if got := text(low); !strings.Contains(got, want) || strings.Count(got, "nothing can be significant") != 1 {
		t.Errorf("3 configured rounds:\n%s", got)
	}
	if low.Analysis.MDE.SimulatedValid {
		t.Errorf("an MDE at 3 rounds: %+v", low.Analysis.MDE)
	}
	// One session of 4 rounds: 8 A/A samples for a 10-round evaluation.
	few := item(10, 4, 1)
	Analyze(&few)
	want = "  caveat: only 8 A/A samples (fewer than 20: two arms of the configured rounds, at least 10): the simulated MDE rests on a rough spread (more sessions or --rounds)\n"
	if got := text(few); !strings.Contains(got, want) {
		t.Errorf("8 A/A samples:\n%s", got)
	}
}
