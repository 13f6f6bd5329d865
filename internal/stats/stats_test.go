package stats

import (
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"
)

// noisy returns n samples center·exp(sd·N(0,1)) from a seeded generator.
func noisy(rng *rand.Rand, n int, center, sd float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = center * math.Exp(sd*rng.NormFloat64())
	}
	return xs
}

func benchP(a, b []float64) float64 {
	th := &benchmath.DefaultThresholds
	return benchmath.AssumeNothing.Compare(
		benchmath.NewSample(slices.Clone(a), th),
		benchmath.NewSample(slices.Clone(b), th)).P
}

// uCDF is P(U <= u) for untied arms of m and n samples, from uCounts.
func uCDF(m, n int, u float64) float64 {
	counts := uCounts(m, n)
	var cum, total float64
	for i, c := range counts {
		total += c
		if float64(i) <= u {
			cum += c
		}
	}
	return cum / total
}

// uStat is the Mann–Whitney U of x over y: pairs with x > y, ties 1/2.
func uStat(x, y []float64) float64 {
	var u float64
	for _, a := range x {
		for _, b := range y {
			switch {
			case a > b:
				u++
			case a == b:
				u += 0.5
			}
		}
	}
	return u
}

func TestUCountsSumToBinomial(t *testing.T) {
	for _, mn := range [][2]int{{1, 1}, {3, 4}, {5, 5}, {10, 5}, {12, 20}, {30, 30}} {
		m, n := mn[0], mn[1]
		counts := uCounts(m, n)
		if len(counts) != m*n+1 {
			t.Fatalf("uCounts(%d,%d): len %d", m, n, len(counts))
		}
		var total float64
		for u, c := range counts {
			total += c
			if c != counts[m*n-u] {
				t.Fatalf("uCounts(%d,%d) not symmetric at %d", m, n, u)
			}
		}
		want, _ := new(big.Int).Binomial(int64(m+n), int64(m)).Float64()
		if math.Abs(total-want) > 1e-9*want {
			t.Errorf("uCounts(%d,%d) sums to %v, want C(%d,%d)=%v", m, n, total, m+n, m, want)
		}
	}
}

// TestMannWhitneyTextbook checks p-values against published values.
func TestMannWhitneyTextbook(t *testing.T) {
	// Hollander & Wolfe (1973), p. 69 (the example of R's wilcox.test):
	// permeability at term (x) and at 12-26 weeks (y). Published:
	// W = 35, one-sided p = 0.1272 (exact).
	x := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	if u := uStat(x, y); u != 35 {
		t.Fatalf("U = %v, want 35", u)
	}
	oneSided := uCDF(10, 5, 50-35) // P(U >= 35) = P(U <= 15)
	if math.Abs(oneSided-0.1272) > 0.00005 {
		t.Errorf("exact one-sided p = %.5f, want 0.1272", oneSided)
	}
	// benchmath's two-sided p doubles the smaller tail.
	if p := benchP(x, y); math.Abs(p-2*oneSided) > 1e-12 {
		t.Errorf("benchmath p = %v, want %v", p, 2*oneSided)
	}
	// CompareSpeedup reports that same p.
	if sp := CompareSpeedup(x, y, DefaultOptions()); math.Abs(sp.P-2*oneSided) > 1e-12 || sp.Significant {
		t.Errorf("CompareSpeedup p = %v significant=%v, want %v, false", sp.P, sp.Significant, 2*oneSided)
	}

	// Completely separated samples: the exact two-sided p is 2/C(m+n, m).
	for _, c := range []struct {
		n    int
		want float64
	}{{3, 2.0 / 20}, {5, 2.0 / 252}, {10, 2.0 / 184756}} {
		a, b := make([]float64, c.n), make([]float64, c.n)
		for i := range a {
			a[i], b[i] = float64(i), float64(100+i)
		}
		if p := benchP(a, b); math.Abs(p-c.want) > 1e-12*c.want {
			t.Errorf("separated n=%d: p = %v, want %v", c.n, p, c.want)
		}
	}

	// Two-sided critical values of U at alpha = 0.05 (standard tables,
	// e.g. Zar, Biostatistical Analysis, table B.11): U <= crit rejects.
	for _, c := range []struct{ n, crit int }{{5, 2}, {6, 5}, {7, 8}, {8, 13}, {9, 17}, {10, 23}, {12, 37}, {15, 64}, {20, 127}} {
		if p := 2 * uCDF(c.n, c.n, float64(c.crit)); p > 0.05 {
			t.Errorf("n=%d: P at U=%d is %v > 0.05", c.n, c.crit, p)
		}
		if p := 2 * uCDF(c.n, c.n, float64(c.crit+1)); p <= 0.05 {
			t.Errorf("n=%d: P at U=%d is %v <= 0.05", c.n, c.crit+1, p)
		}
		// The Hodges–Lehmann interval uses the (crit+1)-th differences.
		if k := hlRank(c.n, c.n, 0.95); k != c.crit+1 {
			t.Errorf("hlRank(%d,%d,0.95) = %d, want %d", c.n, c.n, k, c.crit+1)
		}
	}
}

// TestMannWhitneyMatchesExact compares benchmath with our exact
// distribution on random untied samples.
func TestMannWhitneyMatchesExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 50; trial++ {
		m, n := 3+rng.IntN(15), 3+rng.IntN(15)
		a := noisy(rng, m, 10, 0.1)
		b := noisy(rng, n, 10.5, 0.1)
		u := uStat(a, b)
		us := math.Min(u, float64(m*n)-u)
		want := 2 * uCDF(m, n, us)
		if u == float64(m*n)-u {
			want = 1
		}
		if p := benchP(a, b); math.Abs(p-want) > 1e-9 {
			t.Fatalf("m=%d n=%d U=%v: benchmath p=%v, exact %v", m, n, u, p, want)
		}
	}
}

// TestMannWhitneyTies documents benchmath's handling of ties: up to 25
// samples per arm it uses the exact permutation distribution conditioned on
// the observed ties (ties count 1/2 in U), which we check by enumerating
// every relabelling.
func TestMannWhitneyTies(t *testing.T) {
	x := []float64{1, 2, 2, 3, 5}
	y := []float64{2, 3, 4, 4, 6}
	pool := append(slices.Clone(x), y...)
	u1 := uStat(x, y)
	us := math.Min(u1, 25-u1)
	var hits, total float64
	for mask := 0; mask < 1<<10; mask++ {
		if popcount(mask) != 5 {
			continue
		}
		var a, b []float64
		for i, v := range pool {
			if mask&(1<<i) != 0 {
				a = append(a, v)
			} else {
				b = append(b, v)
			}
		}
		total++
		if uStat(a, b) <= us+1e-9 {
			hits++
		}
	}
	want := 2 * hits / total
	if p := benchP(x, y); math.Abs(p-want) > 1e-9 {
		t.Errorf("tied samples: benchmath p = %v, permutation p = %v", p, want)
	}
	// All values equal: the test is meaningless; benchmath says p = 1.
	sp := CompareSpeedup([]float64{3, 3, 3}, []float64{3, 3, 3}, DefaultOptions())
	if sp.P != 1 || sp.Significant || len(sp.Warnings) == 0 {
		t.Errorf("all equal: p=%v significant=%v warnings=%q", sp.P, sp.Significant, sp.Warnings)
	}
}

func popcount(x int) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func TestMedianCIMatchesBenchmath(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 5, 6, 10, 11, 20, 31, 40} {
		xs := noisy(rng, n, 100, 0.1)
		orig := slices.Clone(xs)
		got := Summarize(xs, DefaultOptions())
		if !slices.Equal(xs, orig) {
			t.Fatalf("n=%d: Summarize modified its input", n)
		}
		want := benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(xs), &benchmath.DefaultThresholds), 0.95)
		if got.Median != want.Center {
			t.Errorf("n=%d: median %v, benchmath %v", n, got.Median, want.Center)
		}
		finite := !math.IsInf(want.Lo, 0) && !math.IsInf(want.Hi, 0)
		if got.CIValid != finite {
			t.Errorf("n=%d: CIValid=%v, benchmath [%v, %v]", n, got.CIValid, want.Lo, want.Hi)
		}
		if finite && (got.Lo != want.Lo || got.Hi != want.Hi || got.CILevel != want.Confidence) {
			t.Errorf("n=%d: CI [%v, %v] at %v, benchmath [%v, %v] at %v", n, got.Lo, got.Hi, got.CILevel, want.Lo, want.Hi, want.Confidence)
		}
		if !finite && (got.Lo != 0 || got.Hi != 0 || len(got.Warnings) == 0) {
			t.Errorf("n=%d: invalid CI must be 0,0 with a warning: %+v", n, got)
		}
		if want := n >= 6; got.CIValid != want {
			t.Errorf("n=%d: CIValid=%v, want %v (benchmath needs 6 samples at 95%%)", n, got.CIValid, want)
		}
	}
	// A fixed input with known order statistics: for n=10 at 95% the
	// interval is [x(2), x(9)] (binomial, 97.9% actual coverage).
	s := Summarize([]float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5}, DefaultOptions())
	if s.Median != 5.5 || s.Lo != 2 || s.Hi != 9 || s.Min != 1 || s.Max != 10 || s.Mean != 5.5 {
		t.Errorf("fixed input: %+v", s)
	}
}

func TestBootstrapDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	base := noisy(rng, 20, 10, 0.05)
	cand := noisy(rng, 20, 8, 0.05)
	o := DefaultOptions()
	a := CompareSpeedup(base, cand, o)
	b := CompareSpeedup(slices.Clone(base), slices.Clone(cand), o)
	if a.Lo != b.Lo || a.Hi != b.Hi || a.Method != MethodBootstrapPaired || !a.CIValid {
		t.Fatalf("not deterministic or not paired: %+v vs %+v", a, b)
	}
	if !(a.Lo < a.Ratio && a.Ratio < a.Hi) {
		t.Errorf("ratio %v outside its CI [%v, %v]", a.Ratio, a.Lo, a.Hi)
	}
	o.Seed = 12345
	if c := CompareSpeedup(base, cand, o); c.Lo == a.Lo && c.Hi == a.Hi {
		t.Errorf("seed has no effect: %+v", c)
	}
	// Different lengths: unpaired.
	if d := CompareSpeedup(base, cand[:15], DefaultOptions()); d.Method != MethodBootstrap || !d.CIValid {
		t.Errorf("unequal lengths: %+v", d)
	}
	// A dropped sample breaks the pairing.
	withNaN := append(slices.Clone(cand[:19]), math.NaN())
	if d := CompareSpeedup(base, withNaN, DefaultOptions()); d.Method != MethodBootstrap || d.NCand != 19 {
		t.Errorf("NaN sample: %+v", d)
	}
	// Swapping the arms inverts the ratio and the interval exactly.
	s := CompareSpeedup(cand, base, DefaultOptions())
	if !near(s.Ratio, 1/a.Ratio) || !near(s.Lo, 1/a.Hi) || !near(s.Hi, 1/a.Lo) || !near(s.Alt.Lo, 1/a.Alt.Hi) {
		t.Errorf("swap: %+v vs %+v", s, a)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b)) }

// TestCoverage is a statistical property test with a fixed seed: over 200
// simulated items whose true speedup is 2, the 95% intervals must cover 2 in
// at least 90% of the trials. Rounds share a drift term, as on a real
// machine whose speed wanders.
func TestCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 11))
	const trials, n, trueRatio = 200, 20, 2.0
	var bootHits, hlHits, unpairedHits int
	var pairedWidth, unpairedWidth float64
	for trial := 0; trial < trials; trial++ {
		base, cand := make([]float64, n), make([]float64, n)
		for i := range base {
			drift := 0.08 * rng.NormFloat64()
			base[i] = 10 * math.Exp(drift+0.04*rng.NormFloat64())
			cand[i] = 10 / trueRatio * math.Exp(drift+0.04*rng.NormFloat64())
		}
		sp := CompareSpeedup(base, cand, DefaultOptions())
		if !sp.CIValid || !sp.Alt.Valid || sp.Method != MethodBootstrapPaired {
			t.Fatalf("trial %d: %+v", trial, sp)
		}
		if sp.Lo <= trueRatio && trueRatio <= sp.Hi {
			bootHits++
		}
		if sp.Alt.Lo <= trueRatio && trueRatio <= sp.Alt.Hi {
			hlHits++
		}
		pairedWidth += math.Log(sp.Hi / sp.Lo)
		// The same data with pairing disabled (one sample fewer in an arm).
		up := CompareSpeedup(base, cand[:n-1], DefaultOptions())
		if up.Lo <= trueRatio && trueRatio <= up.Hi {
			unpairedHits++
		}
		unpairedWidth += math.Log(up.Hi / up.Lo)
	}
	t.Logf("coverage of 95%% CIs over %d trials: bootstrap-paired %d, hodges-lehmann %d, bootstrap-unpaired %d; mean log width paired %.4f, unpaired %.4f",
		trials, bootHits, hlHits, unpairedHits, pairedWidth/trials, unpairedWidth/trials)
	for name, hits := range map[string]int{"bootstrap-paired": bootHits, "hodges-lehmann": hlHits, "bootstrap": unpairedHits} {
		if float64(hits) < 0.90*trials {
			t.Errorf("%s covers the true ratio in %d/%d trials, want >= 90%%", name, hits, trials)
		}
	}
	if pairedWidth >= unpairedWidth {
		t.Errorf("pairing by round should narrow the interval under drift: %v >= %v", pairedWidth, unpairedWidth)
	}
}

// TestHodgesLehmannDualToUTest: without ties and with exact critical values
// the HL interval excludes a ratio of 1 exactly when the U test rejects.
func TestHodgesLehmannDualToUTest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	o := DefaultOptions()
	o.Method = MethodHodgesLehmann
	agree := 0
	for trial := 0; trial < 300; trial++ {
		m, n := 5+rng.IntN(16), 5+rng.IntN(16)
		a := noisy(rng, m, 10, 0.05)
		b := noisy(rng, n, 10*(1+0.06*rng.Float64()), 0.05)
		sp := CompareSpeedup(a, b, o)
		if sp.Method != MethodHodgesLehmann || !sp.CIValid {
			t.Fatalf("trial %d: %+v", trial, sp)
		}
		excludes1 := sp.Lo > 1 || sp.Hi < 1
		if excludes1 != sp.Significant {
			t.Fatalf("trial %d (m=%d n=%d): CI [%v, %v] but p=%v", trial, m, n, sp.Lo, sp.Hi, sp.P)
		}
		if excludes1 {
			agree++
		}
	}
	if agree == 0 || agree == 300 {
		t.Errorf("degenerate trial mix: %d significant of 300", agree)
	}
}

func TestHodgesLehmannEstimate(t *testing.T) {
	// Pure scale change by 2: every log difference is log 2 ± noise-free.
	base := []float64{8, 10, 12, 14, 16, 18}
	cand := make([]float64, len(base))
	for i, b := range base {
		cand[i] = b / 2
	}
	iv := hodgesLehmannCI(base, cand, 0.95)
	// The median pairwise log difference is log 2 by symmetry.
	if !iv.Valid || !near(iv.Estimate, 2) || !(iv.Lo < 2 && 2 < iv.Hi) {
		t.Errorf("HL: %+v", iv)
	}
	// n=3 per arm: min two-sided p is 0.1, so no 95% interval exists.
	if iv := hodgesLehmannCI([]float64{1, 2, 3}, []float64{4, 5, 6}, 0.95); iv.Valid || iv.Note == "" {
		t.Errorf("n=3: %+v", iv)
	}
	// Normal approximation above 50 samples agrees with the exact rank
	// near the threshold.
	exact := hlRank(50, 50, 0.95)
	mu, sigma := 1250.0, math.Sqrt(2500*101/12.0)
	approx := int(math.Floor(mu - 1.959963984540054*sigma + 0.5))
	if d := exact - approx; d < -1 || d > 1 {
		t.Errorf("hlRank(50,50) exact %d, normal approx %d", exact, approx)
	}
	if k := hlRank(60, 60, 0.95); k < 1 || k > 1800 {
		t.Errorf("hlRank(60,60) = %d", k)
	}
}

func TestJudge(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	o := DefaultOptions()
	base := noisy(rng, 20, 20, 0.01)
	human := noisy(rng, 20, 10, 0.01)
	cases := []struct {
		name        string
		agent       []float64
		outcome     Outcome
		significant bool
	}{
		{"identical to human", slices.Clone(human), Match, false},
		{"2x faster", noisy(rng, 20, 5, 0.01), Win, true},
		{"1.03x faster, significant", noisy(rng, 20, 10/1.03, 0.001), Match, true},
		{"2x slower", noisy(rng, 20, 20, 0.01), Loss, true},
		{"1.03x slower, significant", noisy(rng, 20, 10*1.03, 0.001), Match, true},
		{"2x faster but too noisy to tell", []float64{1, 50, 2, 40, 3}, Match, false},
	}
	for _, c := range cases {
		h := human
		if c.name == "1.03x faster, significant" || c.name == "1.03x slower, significant" {
			h = noisy(rng, 20, 10, 0.001)
		}
		tw := Analyze(base, h, c.agent, o)
		v := tw.Verdict
		if v.Outcome != c.outcome || v.Significant != c.significant || v.Reason == "" {
			t.Errorf("%s: got %+v (agent/human %+v), want %s significant=%v", c.name, v, tw.AgentOverHuman, c.outcome, c.significant)
		}
	}

	// The band is symmetric in log space.
	sig := func(r float64) Speedup {
		return Speedup{Ratio: r, Valid: true, P: 0.001, Significant: true, NBase: 20, NCand: 20}
	}
	for _, c := range []struct {
		r    float64
		want Outcome
	}{
		{1.0501, Win}, {1.05, Match}, {1, Match}, {1 / 1.05, Match}, {1 / 1.0501, Loss}, {0.5, Loss},
	} {
		if v := Judge(sig(c.r), o); v.Outcome != c.want || !v.Significant {
			t.Errorf("ratio %v: %+v, want %s", c.r, v, c.want)
		}
	}
	if v := Judge(Speedup{Ratio: 3, Valid: true, P: 0.2, NBase: 20, NCand: 20}, o); v.Outcome != Match || v.Significant || v.Label != LabelMatchNS {
		t.Errorf("not significant: %+v", v)
	}
	if v := Judge(Speedup{Ratio: 3, Valid: true, P: 0.05, Significant: true, NBase: 20, NCand: 20}, o); v.Outcome != Win {
		t.Errorf("p == alpha is significant (benchstat rule): %+v", v)
	}
	// CompareSpeedup itself applies p <= alpha: separated samples of 2
	// and 3 give exactly p = 2/C(5,2) = 0.2 in floating point too.
	oa := DefaultOptions()
	oa.Alpha = 0.2
	if sp := CompareSpeedup([]float64{4, 5}, []float64{1, 2, 3}, oa); sp.P != 0.2 || !sp.Significant {
		t.Errorf("p == alpha in CompareSpeedup: %+v", sp)
	}
	if v := Judge(Speedup{P: 0.001, Significant: true}, o); v.Outcome != Inconclusive || !strings.Contains(v.Reason, "not computable") {
		t.Errorf("invalid speedup: %+v", v)
	}
	o.Band = 0.5
	if v := Judge(sig(1.4), o); v.Outcome != Match || v.Label != "match (within ±50%)" {
		t.Errorf("band 0.5, ratio 1.4: %+v", v)
	}
}

// TestJudgeTooFewRounds is the case of issue 12: rounds 3, a human commit
// 4.2x faster than the baseline, a noop agent (its candidate is the
// baseline). Agent/human is 0.24x with a tight CI, but 3 samples per arm
// cannot reach p <= 0.05 (the smallest p is 2/C(6,3) = 0.1): the verdict
// must be inconclusive, never match.
func TestJudgeTooFewRounds(t *testing.T) {
	o := DefaultOptions()
	base := []float64{4.20, 4.25, 4.22}
	human := []float64{1.00, 1.01, 1.005}
	agent := []float64{4.21, 4.24, 4.23}
	tw := Analyze(base, human, agent, o)
	ah := tw.AgentOverHuman
	if !ah.Valid || ah.Ratio > 0.25 || ah.Ratio < 0.23 || ah.Significant {
		t.Fatalf("agent/human: %+v, want ~0.24, not significant", ah)
	}
	v := tw.Verdict
	if v.Outcome != Inconclusive || v.Label != LabelTooFew || math.Abs(v.MinP-0.1) > 1e-9 ||
		!strings.Contains(v.Reason, "smallest possible p is 0.1") {
		t.Errorf("rounds 3: %+v, want inconclusive (n too small) with min p 0.1", v)
	}
	if got := VerdictText(v.Outcome, v.Significant, v.Label); got != LabelTooFew {
		t.Errorf("printed %q", got)
	}

	// With enough rounds the same loss is a loss.
	rng := rand.New(rand.NewPCG(3, 3))
	tw = Analyze(noisy(rng, 12, 4.2, 0.01), noisy(rng, 12, 1, 0.01), noisy(rng, 12, 4.2, 0.01), o)
	if tw.Verdict.Outcome != Loss {
		t.Errorf("rounds 12: %+v, want loss", tw.Verdict)
	}
}

func TestMinPValue(t *testing.T) {
	for _, c := range []struct {
		m, n int
		want float64
	}{
		{3, 3, 0.1}, {4, 4, 2.0 / 70}, {2, 3, 0.2}, {0, 3, 1},
	} {
		if got := MinPValue(c.m, c.n); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("MinPValue(%d, %d) = %v, want %v", c.m, c.n, got, c.want)
		}
	}
	if got := MinRounds(0.05); got != 4 {
		t.Errorf("MinRounds(0.05) = %d, want 4", got)
	}
}

// TestJudgeDisagreement: the CI and the test disagreeing is inconclusive.
func TestJudgeDisagreement(t *testing.T) {
	o := DefaultOptions()
	sigHasOne := Speedup{Ratio: 1.3, Valid: true, P: 0.01, Significant: true, Lo: 0.9, Hi: 1.6, CIValid: true, NBase: 20, NCand: 20}
	if v := Judge(sigHasOne, o); v.Outcome != Inconclusive || v.Label != LabelDisagree {
		t.Errorf("significant, CI contains 1: %+v", v)
	}
	nsExcludesOne := Speedup{Ratio: 0.5, Valid: true, P: 0.2, Lo: 0.4, Hi: 0.6, CIValid: true, NBase: 20, NCand: 20}
	if v := Judge(nsExcludesOne, o); v.Outcome != Inconclusive || v.Label != LabelDisagree {
		t.Errorf("not significant, CI excludes 1: %+v", v)
	}
	// Identical code (a replay of the human patch): the CI may just miss 1
	// without the test agreeing, but wholly inside the band it is a match.
	nsInBand := Speedup{Ratio: 1.004, Valid: true, P: 0.3, Lo: 1.001, Hi: 1.009, CIValid: true, NBase: 20, NCand: 20}
	if v := Judge(nsInBand, o); v.Outcome != Match {
		t.Errorf("not significant, CI excludes 1 but inside the band: %+v", v)
	}
	sigInBand := Speedup{Ratio: 1.01, Valid: true, P: 0.01, Significant: true, Lo: 0.999, Hi: 1.02, CIValid: true, NBase: 20, NCand: 20}
	if v := Judge(sigInBand, o); v.Outcome != Match {
		t.Errorf("significant, CI contains 1 but inside the band: %+v", v)
	}
}

func TestOptFlags(t *testing.T) {
	sp := func(r float64) Speedup { return Speedup{Ratio: r, Valid: true} }
	for _, c := range []struct {
		agent, human     float64
		optBase, optComm bool
	}{
		{1.2, 1.2, true, true},
		{1.1999, 1.0, false, false},
		{12.0 / 10.0, 1.0, true, true},
		{1.9, 2.0, true, true},   // 1.9 = 0.95 × 2.0
		{1.89, 2.0, true, false}, // below 0.95 × human
		{3.0, 2.0, true, true},
		{1.1, 1.0, false, false},
	} {
		b, cm := OptFlags(sp(c.agent), sp(c.human))
		if b != c.optBase || cm != c.optComm {
			t.Errorf("agent %v human %v: opt_base=%v opt_commit=%v, want %v %v", c.agent, c.human, b, cm, c.optBase, c.optComm)
		}
	}
	if b, cm := OptFlags(sp(2), Speedup{}); !b || cm {
		t.Errorf("invalid human speedup: %v %v", b, cm)
	}
	if b, cm := OptFlags(Speedup{Ratio: 2}, sp(1)); b || cm {
		t.Errorf("invalid agent speedup: %v %v", b, cm)
	}
	// End to end with exact values: base 12, agent 10 → 1.2.
	rep := func(v float64) []float64 { return []float64{v, v, v, v, v, v, v, v, v, v} }
	tw := Analyze(rep(12), rep(11), rep(10), DefaultOptions())
	if tw.AgentOverBase.Ratio != 1.2 || !tw.OptBase || !tw.OptCommit {
		t.Errorf("exact 1.2: %+v", tw)
	}
}

func TestNoiseFlag(t *testing.T) {
	o := DefaultOptions()
	quiet := Summarize([]float64{9.5, 10.5}, o) // CV 0.0707
	loud := Summarize([]float64{9, 11}, o)      // CV 0.1414
	if quiet.Noisy || !quiet.CVValid || !near(quiet.CV, math.Sqrt(0.5)/10) {
		t.Errorf("quiet: %+v", quiet)
	}
	if !loud.Noisy || !near(loud.CV, math.Sqrt(2)/10) {
		t.Errorf("loud: %+v", loud)
	}
	o.CVThreshold = 0.2
	if s := Summarize([]float64{9, 11}, o); s.Noisy {
		t.Errorf("threshold 0.2: %+v", s)
	}
	tw := Analyze([]float64{10, 10, 10}, []float64{8, 12, 10}, []float64{5, 5, 5}, DefaultOptions())
	if !tw.Noisy || tw.Base.Noisy || !tw.Human.Noisy {
		t.Errorf("three-way noise: %v %v %v", tw.Noisy, tw.Base.Noisy, tw.Human.Noisy)
	}
}

func TestHigherIsBetter(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	// Odd n: the median of 1/x is exactly 1/median(x).
	base, human, agent := noisy(rng, 11, 10, 0.02), noisy(rng, 11, 8, 0.02), noisy(rng, 11, 5, 0.02)
	inv := func(xs []float64) []float64 {
		out := make([]float64, len(xs))
		for i, x := range xs {
			out[i] = 1 / x
		}
		return out
	}
	o := DefaultOptions()
	tw := Analyze(base, human, agent, o)
	o.Better = HigherIsBetter
	tp := Analyze(inv(base), inv(human), inv(agent), o)
	if !near(tw.AgentOverHuman.Ratio, tp.AgentOverHuman.Ratio) || tw.Verdict.Outcome != tp.Verdict.Outcome ||
		tw.AgentOverBase.P != tp.AgentOverBase.P || tw.OptCommit != tp.OptCommit {
		t.Errorf("time vs throughput: %+v vs %+v", tw.AgentOverHuman, tp.AgentOverHuman)
	}
	for _, pair := range [][2]Speedup{{tw.AgentOverHuman, tp.AgentOverHuman}, {tw.AgentOverBase, tp.AgentOverBase}} {
		a, b := pair[0], pair[1]
		if !near(a.Lo, b.Lo) || !near(a.Hi, b.Hi) || !near(a.Alt.Lo, b.Alt.Lo) || !near(a.Alt.Hi, b.Alt.Hi) || !near(a.Alt.Estimate, b.Alt.Estimate) {
			t.Errorf("time vs throughput intervals: %+v vs %+v", a, b)
		}
	}
	if tp.AgentOverHuman.Ratio <= 1 || tp.Verdict.Outcome != Win {
		t.Errorf("throughput: %+v", tp.Verdict)
	}
}

// jsonFinite marshals v (which fails on NaN/Inf) and checks the text.
func jsonFinite(t *testing.T, name string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: marshal: %v", name, err)
	}
	for _, bad := range []string{"NaN", "Inf"} {
		if strings.Contains(string(b), bad) {
			t.Fatalf("%s: %s in %s", name, bad, b)
		}
	}
}

func TestDegenerateInputs(t *testing.T) {
	inputs := map[string][]float64{
		"nil":      nil,
		"empty":    {},
		"single":   {5},
		"two":      {5, 6},
		"equal":    {3, 3, 3, 3, 3, 3, 3, 3},
		"zeros":    {0, 0, 0, 0, 0, 0},
		"somezero": {0, 1, 2, 3, 4, 5, 6},
		"negative": {-1, -2, -3, -4, -5, -6},
		"nan":      {math.NaN(), math.NaN()},
		"mixed":    {1, math.NaN(), math.Inf(1), 2, math.Inf(-1), 3},
		"huge":     {1e308, 1.7e308, 1.5e308, 1.6e308, 1.2e308, 1.1e308},
		"tiny":     {5e-324, 1e-323, 2e-323, 5e-324, 1e-323, 3e-323},
		"normal":   {10, 11, 10.5, 9.8, 10.2, 10.1},
	}
	names := make([]string, 0, len(inputs))
	for k := range inputs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, method := range []string{MethodBootstrap, MethodHodgesLehmann} {
		o := DefaultOptions()
		o.Method = method
		for _, a := range names {
			s := Summarize(inputs[a], o)
			jsonFinite(t, "summary "+a, s)
			for _, b := range names {
				for _, c := range []string{"normal", "single", a} {
					tw := Analyze(inputs[a], inputs[b], inputs[c], o)
					jsonFinite(t, a+"/"+b+"/"+c, tw)
				}
			}
		}
	}
	// Specific expectations.
	e := Analyze(nil, nil, nil, DefaultOptions())
	if e.Verdict.Outcome != Inconclusive || e.Verdict.Significant || e.AgentOverHuman.Valid || e.OptBase || e.Base.N != 0 {
		t.Errorf("empty: %+v", e)
	}
	one := Summarize([]float64{5}, DefaultOptions())
	if one.Median != 5 || one.CIValid || one.CVValid || one.Noisy || one.Mean != 5 {
		t.Errorf("single: %+v", one)
	}
	z := CompareSpeedup([]float64{0, 0, 0}, []float64{0, 0, 0}, DefaultOptions())
	if z.Valid || z.CIValid || z.Ratio != 0 || z.Significant {
		t.Errorf("zeros: %+v", z)
	}
	eq := CompareSpeedup(inputs["equal"], inputs["equal"], DefaultOptions())
	if !eq.Valid || eq.Ratio != 1 || !eq.CIValid || eq.Lo != 1 || eq.Hi != 1 || eq.Significant {
		t.Errorf("equal: %+v", eq)
	}
	m := Summarize(inputs["mixed"], DefaultOptions())
	if m.N != 3 || m.Dropped != 3 || m.Median != 2 {
		t.Errorf("mixed: %+v", m)
	}
}

func TestPassAtK(t *testing.T) {
	for _, c := range []struct {
		n, c, k int
		want    float64
	}{
		{10, 3, 1, 0.3},
		{10, 3, 10, 1},
		{10, 0, 1, 0},
		{10, 0, 10, 0},
		{10, 10, 1, 1},
		{10, 10, 5, 1},
		{5, 1, 2, 0.4},          // 1 - C(4,2)/C(5,2) = 1 - 6/10
		{10, 3, 2, 1 - 21.0/45}, // 1 - C(7,2)/C(10,2)
		{4, 2, 3, 1},            // n-c < k
		{200, 1, 100, 0.5},      // 1 - C(199,100)/C(200,100) = 1 - 100/200
		{1, 1, 1, 1}, {1, 0, 1, 0},
	} {
		got, err := PassAtK(c.n, c.c, c.k)
		if err != nil || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("PassAtK(%d,%d,%d) = %v, %v; want %v", c.n, c.c, c.k, got, err, c.want)
		}
	}
	// Against exact big-integer binomials.
	for n := 1; n <= 40; n++ {
		for c := 0; c <= n; c++ {
			for k := 1; k <= n; k++ {
				num := new(big.Int).Binomial(int64(n-c), int64(k))
				den := new(big.Int).Binomial(int64(n), int64(k))
				q, _ := new(big.Rat).SetFrac(num, den).Float64()
				got, _ := PassAtK(n, c, k)
				if math.Abs(got-(1-q)) > 1e-12 {
					t.Fatalf("PassAtK(%d,%d,%d) = %v, want %v", n, c, k, got, 1-q)
				}
			}
		}
	}
	for _, bad := range [][3]int{{0, 0, 1}, {5, 6, 1}, {5, -1, 1}, {5, 2, 0}, {5, 2, 6}} {
		if _, err := PassAtK(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("PassAtK%v: no error", bad)
		}
	}
	mean, err := MeanAtK([]Count{{10, 3}, {10, 0}, {10, 10}}, 1)
	if err != nil || math.Abs(mean-1.3/3) > 1e-12 {
		t.Errorf("MeanAtK = %v, %v", mean, err)
	}
	if _, err := MeanAtK([]Count{{10, 3}, {2, 1}}, 3); err == nil || !strings.Contains(err.Error(), "item 1") {
		t.Errorf("MeanAtK with k > n: %v", err)
	}
	if _, err := MeanAtK(nil, 1); err == nil {
		t.Error("MeanAtK(nil): no error")
	}
}

func TestOptions(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Options{}).Validate(); err != nil {
		t.Fatal(err)
	}
	if (Options{}).normalize() != DefaultOptions() {
		t.Errorf("zero options do not normalize to the defaults: %+v", (Options{}).normalize())
	}
	for _, bad := range []Options{{Alpha: 1.5}, {Confidence: -1}, {Band: 2}, {CVThreshold: -0.1}, {Better: 7}, {Method: "jackknife"}, {Bootstrap: -1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	b, err := json.Marshal(DefaultOptions())
	if err != nil || !strings.Contains(string(b), `"better":"lower"`) {
		t.Fatalf("%s %v", b, err)
	}
	var o Options
	if err := json.Unmarshal([]byte(`{"better":"higher"}`), &o); err != nil || o.Better != HigherIsBetter {
		t.Errorf("unmarshal: %+v %v", o, err)
	}
	if err := json.Unmarshal([]byte(`{"better":"sideways"}`), &o); err == nil {
		t.Error("bad better accepted")
	}
}

func BenchmarkAnalyze(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	base, human, agent := noisy(rng, 20, 100, 0.03), noisy(rng, 20, 80, 0.03), noisy(rng, 20, 60, 0.03)
	o := DefaultOptions()
	for b.Loop() {
		Analyze(base, human, agent, o)
	}
}

func TestCountedMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for trial := 0; trial < 500; trial++ {
		n := 1 + rng.IntN(25)
		xs := noisy(rng, n, 1, 1)
		if trial%3 == 0 { // with ties
			for i := range xs {
				xs[i] = math.Round(xs[i] * 4)
			}
		}
		sorted, rank := Ranks(xs)
		if !slices.IsSorted(sorted) {
			t.Fatal("ranks: not sorted")
		}
		counts := make([]int, n)
		var sample []float64
		for range n + rng.IntN(3) {
			j := rng.IntN(n)
			counts[rank[j]]++
			sample = append(sample, xs[j])
		}
		slices.Sort(sample)
		m := len(sample)
		want := sample[m/2]
		if m%2 == 0 {
			want = sample[m/2-1]/2 + sample[m/2]/2
		}
		if got := CountedMedian(sorted, counts); got != want {
			t.Fatalf("countedMedian = %v, want %v (sample %v)", got, want, sample)
		}
	}
}
