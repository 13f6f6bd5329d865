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
