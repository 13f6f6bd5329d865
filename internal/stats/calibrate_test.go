package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// sp builds a speedup with a valid CI.
func sp(ratio, lo, hi float64) Speedup {
	return Speedup{Ratio: ratio, Valid: true, Lo: lo, Hi: hi, CIValid: true, Significant: lo > 1 || hi < 1, NBase: 20, NCand: 20}
}

// notSignificant is s with a Mann–Whitney p above any alpha (too few
// rounds), its CI unchanged.
func notSignificant(s Speedup) Speedup {
	s.P, s.Significant = 0.2, false
	return s
}

func TestClassifyConstructed(t *testing.T) {
	o := DefaultOptions()
	noCI := Speedup{Ratio: 1.1, Valid: true}
	cases := []struct {
		name     string
		sessions []Speedup
		pooled   Speedup
		broken   bool
		want     Class
		agree    bool
		reason   string
	}{
		{"10% in every session", []Speedup{sp(1.1, 1.08, 1.12), sp(1.09, 1.07, 1.11), sp(1.11, 1.09, 1.13)}, sp(1.1, 1.09, 1.11), false, ClassStable, true, "faster in 3 of 3"},
		{"A/A", []Speedup{sp(1.0, 0.99, 1.01), sp(1.002, 0.99, 1.02), sp(0.998, 0.98, 1.01)}, sp(1.0, 0.995, 1.005), false, ClassNoSpeedup, false, "no session faster beyond 1.05"},
		{"A/A with one false positive inside the band", []Speedup{sp(1.01, 1.002, 1.02), sp(1.0, 0.99, 1.01), sp(1.0, 0.99, 1.01)}, sp(1.003, 0.998, 1.008), false, ClassNoSpeedup, false, ""},
		{"2% in every session (within the band)", []Speedup{sp(1.02, 1.01, 1.03), sp(1.02, 1.01, 1.03)}, sp(1.02, 1.015, 1.025), false, ClassNoSpeedup, false, ""},
		{"slower everywhere", []Speedup{sp(0.8, 0.78, 0.82), sp(0.8, 0.78, 0.82)}, sp(0.8, 0.79, 0.81), false, ClassNoSpeedup, true, ""},
		{"speedup in one session of three", []Speedup{sp(1.1, 1.08, 1.12), sp(1.0, 0.99, 1.01), sp(1.0, 0.99, 1.01)}, sp(1.03, 1.0, 1.06), false, ClassUnstable, false, "faster in 1 of 3 sessions (beyond the band in 1)"},
		{"faster and slower", []Speedup{sp(1.1, 1.08, 1.12), sp(0.9, 0.88, 0.92)}, sp(1.0, 0.95, 1.05), false, ClassUnstable, false, "sessions disagree: faster in 1, slower in 1 of 2"},
		{"CI above 1 but the test not significant in one session", []Speedup{sp(1.1, 1.08, 1.12), notSignificant(sp(1.1, 1.02, 1.2))}, sp(1.1, 1.09, 1.11), false, ClassUnstable, true, "significant (p <= 0.05) in only 1"},
		{"pooled straddles the band", []Speedup{sp(1.06, 1.02, 1.1), sp(1.06, 1.02, 1.1)}, sp(1.06, 1.04, 1.08), false, ClassUnstable, false, "not above 1.05"},
		{"one session unclear though the pooled CI clears the band", []Speedup{sp(1.2, 1.1, 1.3), sp(1.2, 0.9, 1.5)}, sp(1.2, 1.1, 1.3), false, ClassUnstable, false, "faster in 1 of 2"},
		{"pooled CI not computable", []Speedup{sp(1.2, 1.1, 1.3)}, noCI, false, ClassUnstable, false, "pooled CI not computable"},
		{"broken flag", []Speedup{sp(1.1, 1.08, 1.12)}, sp(1.1, 1.09, 1.11), true, ClassBroken, true, "setup failed in session 2"},
		{"no sessions", nil, sp(1.1, 1.09, 1.11), false, ClassBroken, false, "no timed session"},
		{"a session not computable", []Speedup{sp(1.1, 1.08, 1.12), {}}, sp(1.1, 1.09, 1.11), false, ClassBroken, false, "session 2: speedup not computable"},
	}
	for _, c := range cases {
		reason := ""
		if c.broken {
			reason = "setup failed in session 2"
		}
		got := Classify(c.sessions, c.pooled, c.broken, reason, o)
		if got.Class != c.want || got.Agree != c.agree || !strings.Contains(got.Reason, c.reason) || len(got.Sides) != len(c.sessions) {
			t.Errorf("%s: got %+v, want class %s agree %v reason containing %q", c.name, got, c.want, c.agree, c.reason)
		}
		jsonFinite(t, c.name, got)
	}
	// A wider band turns the 6% item into no_speedup.
	o.Band = 0.1
	if got := Classify([]Speedup{sp(1.06, 1.02, 1.1)}, sp(1.06, 1.04, 1.08), false, "", o); got.Class != ClassNoSpeedup {
		t.Errorf("band 10%%: %+v", got)
	}
}

// Classes from real CompareSpeedup results on simulated sessions.
func TestClassifySimulatedSessions(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	o := DefaultOptions()
	session := func(speedup float64) ([]float64, []float64) {
		return noisy(rng, 20, 1, 0.02), noisy(rng, 20, 1/speedup, 0.02)
	}
	classify := func(speedups ...float64) Class {
		var sessions []Speedup
		var pb, ph []float64
		for _, s := range speedups {
			b, h := session(s)
			sessions = append(sessions, CompareSpeedup(b, h, o))
			pb, ph = append(pb, b...), append(ph, h...)
		}
		return Classify(sessions, CompareSpeedup(pb, ph, o), false, "", o).Class
	}
	if c := classify(1.1, 1.1, 1.1); c != ClassStable {
		t.Errorf("10%% x3: %s", c)
	}
	// Two rounds a session: the test can never be significant at 0.05, so
	// not stable however clear the CI looks (the review's --rounds 2 case).
	b, h := noisy(rng, 2, 1, 0.001), noisy(rng, 2, 1/1.3, 0.001)
	two := CompareSpeedup(b, h, o)
	if two.Significant {
		t.Fatalf("2 rounds significant: %+v", two)
	}
	if c := Classify([]Speedup{two}, two, false, "", o); c.Class == ClassStable {
		t.Errorf("2 rounds: %+v", c)
	}
	if c := classify(1, 1, 1); c != ClassNoSpeedup {
		t.Errorf("A/A: %s", c)
	}
	if c := classify(1.1, 1, 1); c != ClassUnstable {
		t.Errorf("10%% in one session: %s", c)
	}
}

func TestRecommendMetric(t *testing.T) {
	o := DefaultOptions()
	wall := []float64{1.0, 1.01, 0.99, 1.0, 1.02, 1.0, 0.98, 1.0, 1.0, 1.01}
	times := func(f float64) []float64 {
		xs := make([]float64, len(wall))
		for i, w := range wall {
			xs[i] = f * w
		}
		return xs
	}
	loaded := times(0.98)
	for i := range 6 { // six runs waited for their CPU: wall doubled, CPU not
		loaded[i] /= 2
	}
	cases := []struct {
		name             string
		cpu              []float64
		humanW, humanCPU Speedup
		want             string
		single           bool
		reason           string
	}{
		{"single-threaded, both agree", times(0.98), sp(1.1, 1.08, 1.12), sp(1.11, 1.1, 1.12), MetricCPU, true, "single-threaded"},
		{"single-threaded under load", loaded, sp(1.1, 1.08, 1.12), sp(1.11, 1.1, 1.12), MetricCPU, true, ""},
		{"wall noisy, CPU significant", times(0.98), sp(1.08, 0.98, 1.2), sp(1.1, 1.09, 1.11), MetricCPU, true, ""},
		{"parallel baseline", times(3.5), sp(1.1, 1.08, 1.12), sp(1.1, 1.08, 1.12), MetricWall, false, "parallel"},
		{"baseline sleeps", times(0.3), sp(1.1, 1.08, 1.12), sp(1.1, 1.08, 1.12), MetricWall, false, "waits"},
		{"human gains by parallelism", times(0.98), sp(1.5, 1.4, 1.6), sp(0.95, 0.93, 0.97), MetricWall, true, "disagree"},
		{"human gains by waiting less", times(0.98), sp(1.3, 1.2, 1.4), sp(1.0, 0.99, 1.01), MetricWall, true, "disagree"},
		{"no CPU times", nil, sp(1.1, 1.08, 1.12), sp(1.1, 1.08, 1.12), MetricWall, false, "no CPU times"},
		{"human not computable", times(0.98), Speedup{}, sp(1.1, 1.08, 1.12), MetricWall, true, "not computable"},
	}
	for _, c := range cases {
		got := RecommendMetric(wall, c.cpu, nil, c.humanW, c.humanCPU, o)
		if got.Metric != c.want || got.SingleThreaded != c.single || !strings.Contains(got.Reason, c.reason) {
			t.Errorf("%s: got %+v, want %s single %v reason containing %q", c.name, got, c.want, c.single, c.reason)
		}
		jsonFinite(t, c.name, got)
	}
}

// For: wall and CPU tasks get the wall/CPU choice, instructions is kept
// only where CPU time would be, a workload's own figure is kept.
func TestMetricAdviceFor(t *testing.T) {
	for _, tc := range []struct{ metric, configured, use string }{
		{MetricCPU, MetricWall, MetricCPU},
		{MetricWall, MetricWall, MetricWall},
		{MetricWall, MetricCPU, MetricWall},
		{MetricCPU, MetricCPU, MetricCPU},
		{MetricCPU, MetricInstructions, MetricInstructions},
		{MetricWall, MetricInstructions, MetricWall},
		{MetricWall, "regex", "regex"},
		{MetricCPU, "json", "json"},
	} {
		a := MetricAdvice{Metric: tc.metric}
		a.For(tc.configured)
		if a.Use != tc.use || a.Configured != tc.configured || a.Metric != tc.metric {
			t.Errorf("%s advice for a %s task: %+v, want %s", tc.metric, tc.configured, a, tc.use)
		}
	}
}

// TreeRunDelay scales the main process's delay to the tree only when the
// main process did a fair share of the tree's work.
func TestTreeRunDelay(t *testing.T) {
	for _, c := range []struct{ delay, mainCPU, treeCPU, want float64 }{
		{0.5, 1, 1, 0.5},       // the main process is the tree (exec)
		{0.5, 0.5, 1, 1},       // half the work: twice the delay
		{0.5, 0.25, 1, 2},      // at the share
		{0.01, 0.001, 1, 0.01}, // a shell waiting for its child: a lower bound
		{0.5, 0, 1, 0.5},       // main CPU unknown (older files)
		{0, 0.5, 1, 0},         // no delay
		{-1, 0.5, 1, 0},        // never negative
		{0.5, 2, 1, 0.5},       // tree CPU below the main's (rounding): as is
	} {
		if got := TreeRunDelay(c.delay, c.mainCPU, c.treeCPU); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("TreeRunDelay(%g, %g, %g) = %g, want %g", c.delay, c.mainCPU, c.treeCPU, got, c.want)
		}
	}
}

// Under contention a CPU-bound baseline's wall time includes its waits for
// a CPU: discounted, its ratio is ~1 and CPU time is advised; a baseline
// that sleeps keeps its low ratio whatever the load.
func TestRecommendMetricDiscountsRunDelay(t *testing.T) {
	o := DefaultOptions()
	var wall, cpu, delay, sleepCPU, sleepDelay []float64
	for i := range 20 {
		c := 0.1 * (1 + 0.01*float64(i%3))
		w := c / 0.55 // two busy loops on two CPUs: the workload gets ~55%
		wall, cpu, delay = append(wall, w), append(cpu, c), append(delay, w-c*1.01)
		// sleeps: 30% CPU, little queueing
		sleepCPU, sleepDelay = append(sleepCPU, 0.3*w), append(sleepDelay, 0.05*w)
	}
	h := sp(1.1, 1.0, 1.2)
	if got := RecommendMetric(wall, cpu, nil, h, sp(1.1, 1.09, 1.11), o); got.Metric != MetricWall || !strings.Contains(got.Reason, "waits") {
		t.Errorf("without the delay: %+v, want wall (waits)", got)
	}
	got := RecommendMetric(wall, cpu, delay, h, sp(1.1, 1.09, 1.11), o)
	if got.Metric != MetricCPU || !got.SingleThreaded || got.CPUOverWall < 0.95 || got.CPUOverWall > 1.05 {
		t.Errorf("CPU-bound under contention: %+v, want cpu with cpu/wall ~1", got)
	}
	if got := RecommendMetric(wall, sleepCPU, sleepDelay, h, sp(1.1, 1.09, 1.11), o); got.Metric != MetricWall || !strings.Contains(got.Reason, "waits") {
		t.Errorf("sleeping baseline under contention: %+v, want wall (waits)", got)
	}
	// Tasks of the tree that waited at once: the summed delay exceeds the
	// time the tree did not run; the ratio is capped at 1, not above.
	over := make([]float64, len(wall))
	for i := range wall {
		over[i] = wall[i] - cpu[i]*0.7
	}
	if got := RecommendMetric(wall, cpu, over, h, sp(1.1, 1.09, 1.11), o); got.Metric != MetricCPU || got.CPUOverWall != 1 {
		t.Errorf("overlapping delays: %+v, want cpu at a ratio of 1", got)
	}
	// A parallel baseline stays parallel whatever its delay.
	par := make([]float64, len(wall))
	for i := range wall {
		par[i] = 1.5 * wall[i]
	}
	if got := RecommendMetric(wall, par, delay, h, sp(1.1, 1.09, 1.11), o); got.Metric != MetricWall || !strings.Contains(got.Reason, "parallel") {
		t.Errorf("parallel with a delay: %+v, want wall (parallel)", got)
	}
}

// Agreement: a CPU speedup outside the band but inside the (noisy) wall
// speedup's interval on the same side of 1 agrees; one on the other side,
// or outside the interval, does not.
func TestRecommendMetricAgreement(t *testing.T) {
	o := DefaultOptions()
	wall := slices.Repeat([]float64{1}, 10)
	cpu := slices.Repeat([]float64{0.99}, 10)
	for _, c := range []struct {
		name      string
		w, c      Speedup
		wantAgree bool
	}{
		{"within the band", sp(1.1, 1.09, 1.11), sp(1.11, 1.1, 1.12), true},
		{"inside a wide wall interval", sp(1.04, 0.97, 1.15), sp(1.1, 1.09, 1.11), true},
		{"outside the interval", sp(1.04, 1.0, 1.06), sp(1.1, 1.09, 1.11), false},
		{"other side of 1", sp(1.03, 0.9, 1.2), sp(0.95, 0.94, 0.96), false},
	} {
		got := RecommendMetric(wall, cpu, nil, c.w, c.c, o)
		if got.Agree != c.wantAgree || (got.Metric == MetricCPU) != c.wantAgree {
			t.Errorf("%s: %+v, want agree %v", c.name, got, c.wantAgree)
		}
	}
}
