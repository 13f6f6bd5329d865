package stats

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// The simulated threshold is the evaluation's own rule: a candidate just
// above it is a win by CompareSpeedup (significant and beyond the band),
// just below it is not. R = 60 exercises benchmath's normal approximation.
func TestWinThresholdIsTheEvaluationRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 1))
	o := DefaultOptions()
	o.Bootstrap = 50 // the CI is not part of the rule checked here
	for _, better := range []Better{LowerIsBetter, HigherIsBetter} {
		o.Better = better
		for _, R := range []int{5, 10, 20, 60} {
			k := uCritical(R, R, o.Alpha)
			for trial := 0; trial < 40; trial++ {
				cv := []float64{0.01, 0.05, 0.2}[trial%3]
				b, c := noisy(rng, R, 1, cv), noisy(rng, R, 1, cv)
				th := winThreshold(append([]float64(nil), b...), append([]float64(nil), c...), k, make([]float64, R*R), o)
				win := func(s float64) bool {
					cs := make([]float64, R)
					for i, y := range c {
						if better == HigherIsBetter {
							cs[i] = y * s
						} else {
							cs[i] = y / s
						}
					}
					sp := CompareSpeedup(b, cs, o)
					return sp.Significant && sp.Ratio > 1+o.Band
				}
				if !win(th*(1+1e-9)) || win(th*(1-1e-9)) {
					t.Fatalf("better=%v R=%d trial %d: threshold %v is not where the rule turns to a win (above %v, below %v)",
						better, R, trial, th, win(th*(1+1e-9)), win(th*(1-1e-9)))
				}
			}
		}
	}
}

func TestUCritical(t *testing.T) {
	// 3 vs 3: the smallest two-sided p is 0.1 > 0.05: never significant.
	if k := uCritical(3, 3, 0.05); k != 10 {
		t.Errorf("uCritical(3,3) = %d, want 10 (none)", k)
	}
	// 4 vs 4 fully separated: p = 2/70 ≈ 0.029; U = 15 gives 4/70 > 0.05.
	if k := uCritical(4, 4, 0.05); k != 16 {
		t.Errorf("uCritical(4,4) = %d, want 16", k)
	}
	// Against the exact distribution: smallest u with 2·P(U >= u) <= alpha.
	for _, n := range []int{5, 10, 20} {
		k := uCritical(n, n, 0.05)
		upper := 1 - uCDF(n, n, float64(k-1)) // P(U >= k)
		below := 1 - uCDF(n, n, float64(k-2)) // P(U >= k-1)
		if !(2*upper <= 0.05+1e-12) || !(2*below > 0.05) {
			t.Errorf("n=%d: uCritical %d, 2P(U>=k)=%v, 2P(U>=k-1)=%v", n, k, 2*upper, 2*below)
		}
	}
}

// On synthetic log-normal samples the simulation and the closed form
// agree: for R >= 20 and CV up to 10%, the effect sizes (MDE − 1) within
// 10% of each other, and the rounds for a 10% speedup within 25% (or 2
// rounds).
func TestMDEAgreesWithNormalApproximation(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	o := DefaultOptions()
	for _, cv := range []float64{0.01, 0.03, 0.05, 0.1} {
		aa := noisy(rng, 2000, 1, math.Sqrt(math.Log1p(cv*cv)))
		for _, R := range []int{20, 50, 100} {
			m := MinDetectableEffect([][]float64{aa}, MDEConfig{Rounds: R}, o)
			if !m.SimulatedValid || !m.NormalValid {
				t.Fatalf("cv %v R %d: not valid: %+v", cv, R, m)
			}
			if d := math.Abs(m.Simulated-m.Normal) / (m.Normal - 1); d > 0.10 {
				t.Errorf("cv %v R %d: simulated %.4f vs normal %.4f: effects differ by %.0f%%", cv, R, m.Simulated, m.Normal, 100*d)
			}
			if math.Abs(m.CV-cv) > 0.1*cv {
				t.Errorf("cv %v: measured %v", cv, m.CV)
			}
			if R == 20 && cv >= 0.05 {
				sim, nor := float64(m.RoundsForTarget), float64(m.RoundsForTargetNormal)
				if math.Abs(sim-nor) > math.Max(2, 0.25*nor) {
					t.Errorf("cv %v: rounds for 10%%: simulated %v, normal %v", cv, sim, nor)
				}
			}
		}
	}
}

func TestMDEMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	o := DefaultOptions()
	base := make([]float64, 200)
	for i := range base {
		base[i] = rng.NormFloat64()
	}
	scaled := func(sd float64) []float64 {
		xs := make([]float64, len(base))
		for i, z := range base {
			xs[i] = math.Exp(sd * z)
		}
		return xs
	}
	prevCV := map[int]float64{}
	for _, sd := range []float64{0.01, 0.03, 0.06, 0.12} {
		aa := scaled(sd)
		prevR, prevN, prevTarget := math.Inf(1), math.Inf(1), 0
		for _, R := range []int{8, 12, 20, 40, 80} {
			m := MinDetectableEffect([][]float64{aa[:100], aa[100:]}, MDEConfig{Rounds: R}, o)
			if !(m.Simulated < prevR) || !(m.Normal < prevN) {
				t.Errorf("sd %v R %d: MDE %v / %v not below %v / %v at fewer rounds", sd, R, m.Simulated, m.Normal, prevR, prevN)
			}
			if !(m.Simulated > prevCV[R]) {
				t.Errorf("sd %v R %d: MDE %v not above %v at a smaller CV", sd, R, m.Simulated, prevCV[R])
			}
			if m.Simulated <= 1+o.Band {
				t.Errorf("sd %v R %d: MDE %v inside the band", sd, R, m.Simulated)
			}
			prevR, prevN, prevCV[R] = m.Simulated, m.Normal, m.Simulated
			if m.RoundsForTarget < prevTarget {
				t.Errorf("sd %v: rounds for 10%% %d below %d at a smaller CV", sd, m.RoundsForTarget, prevTarget)
			}
			prevTarget = m.RoundsForTarget
		}
	}
}

func TestMDEDeterministicAndDegenerate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	aa := [][]float64{noisy(rng, 20, 2, 0.04), noisy(rng, 20, 2, 0.04)}
	o := DefaultOptions()
	a := MinDetectableEffect(aa, MDEConfig{Rounds: 20}, o)
	b := MinDetectableEffect(aa, MDEConfig{Rounds: 20}, o)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("not deterministic:\n%+v\n%+v", a, b)
	}
	c := MinDetectableEffect(aa, MDEConfig{Rounds: 20, Seed: 99}, o)
	if c.Simulated == a.Simulated || math.Abs(c.Simulated-a.Simulated) > 0.01 {
		t.Errorf("another seed: %v vs %v (want close, not equal)", c.Simulated, a.Simulated)
	}
	jsonFinite(t, "mde", a)

	// A noise-free item: every speedup beyond the band is found.
	flat := MinDetectableEffect([][]float64{{1, 1, 1, 1, 1, 1, 1, 1}}, MDEConfig{Rounds: 10}, o)
	if !flat.SimulatedValid || math.Abs(flat.Simulated-(1+o.Band)) > 1e-12 || math.Abs(flat.Normal-(1+o.Band)) > 1e-12 {
		t.Errorf("noise-free: %+v", flat)
	}
	// Too few rounds for any significance.
	few := MinDetectableEffect(aa, MDEConfig{Rounds: 3}, o)
	if few.SimulatedValid || few.NormalValid || len(few.Warnings) == 0 {
		t.Errorf("3 rounds: %+v", few)
	}
	// No usable samples.
	none := MinDetectableEffect([][]float64{{0, -1, math.NaN()}}, MDEConfig{Rounds: 20}, o)
	if none.SimulatedValid || none.NormalValid || none.N != 0 || len(none.Warnings) != 2 {
		t.Errorf("no samples: %+v", none)
	}
	jsonFinite(t, "none", none)
	// A target inside the band is never a win.
	in := MinDetectableEffect(aa, MDEConfig{Rounds: 20, Target: 1.03}, o)
	if in.RoundsForTarget != 0 || in.RoundsForTargetNormal != 0 {
		t.Errorf("target in the band: %+v", in)
	}
}

// A throughput metric (higher is better) with samples 1/x has the MDE of
// the time metric x, up to the simulation's own error (the smoothing noise
// enters with the opposite sign, so the draws are not the same).
func TestMDEHigherIsBetter(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	xs := noisy(rng, 41, 1, 0.05)
	inv := make([]float64, len(xs))
	for i, x := range xs {
		inv[i] = 1 / x
	}
	o := DefaultOptions()
	lower := MinDetectableEffect([][]float64{xs}, MDEConfig{Rounds: 15}, o)
	o.Better = HigherIsBetter
	higher := MinDetectableEffect([][]float64{inv}, MDEConfig{Rounds: 15}, o)
	if math.Abs(lower.Simulated-higher.Simulated) > 0.05*(lower.Simulated-1) || math.Abs(float64(lower.RoundsForTarget-higher.RoundsForTarget)) > 1 {
		t.Errorf("lower %+v\nhigher %+v", lower, higher)
	}
}

func TestNoetherPower(t *testing.T) {
	o := DefaultOptions()
	// At the test's δ₁ the approximate power is exactly the target power.
	for _, R := range []int{10, 20, 50} {
		cv := 0.2 // large enough for the test term to dominate
		m, ok := NormalMDE(cv, R, 0.8, o)
		if !ok {
			t.Fatal("not ok")
		}
		if p := noetherPower(cv, m, R, o); math.Abs(p-0.8) > 1e-9 {
			t.Errorf("R %d: power at the MDE %v, want 0.8", R, p)
		}
	}
}

func TestSelectKth(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for trial := 0; trial < 300; trial++ {
		n := 1 + rng.IntN(60)
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(rng.IntN(10)) // many ties
		}
		sorted := append([]float64(nil), xs...)
		slices.Sort(sorted)
		k := rng.IntN(n)
		if got := selectKth(xs, k); got != sorted[k] {
			t.Fatalf("selectKth(%v, %d) = %v, want %v", sorted, k, got, sorted[k])
		}
	}
}

func TestSearchRounds(t *testing.T) {
	for _, want := range []int{4, 5, 7, 33, 500} {
		if got := searchRounds(4, 500, func(r int) bool { return r >= want }); got != want {
			t.Errorf("searchRounds = %d, want %d", got, want)
		}
	}
	if got := searchRounds(4, 500, func(int) bool { return false }); got != 0 {
		t.Errorf("never: %d", got)
	}
}

// BenchmarkMinDetectableEffect1000Items is calibrate's cost for a plan of
// 1000 items: two A/A series of 20 rounds each, CV 1–8%, default
// configuration.
func BenchmarkMinDetectableEffect1000Items(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	items := make([][][]float64, 1000)
	for i := range items {
		cv := 0.01 + 0.07*float64(i)/1000
		items[i] = [][]float64{noisy(rng, 20, 1, cv), noisy(rng, 20, 1, cv)}
	}
	o := DefaultOptions()
	for b.Loop() {
		for _, aa := range items {
			MinDetectableEffect(aa, MDEConfig{Rounds: 20}, o)
		}
	}
}
