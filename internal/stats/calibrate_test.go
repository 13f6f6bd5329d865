package stats

import (
	"math/rand/v2"
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
		got := RecommendMetric(wall, c.cpu, c.humanW, c.humanCPU, o)
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
