package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"golang.org/x/perf/benchmath"
)

// The minimum detectable effect (MDE) is groundwork for `bench calibrate`:
// it tells, before any agent runs, how large a speedup an item's own noise
// lets the evaluation see.
//
// The rule modelled is the one [Judge] uses for a win, applied to a
// candidate arm against a base arm of R samples each: the two-sided
// Mann–Whitney p of [CompareSpeedup] is <= Alpha, and the ratio of medians
// is above 1+Band (in the faster direction). Judge's third condition (the
// bootstrap CI must not contain 1) is not simulated: it would cost 2000
// resamples per repeat, and when the candidate differs by a clean shift
// the interval and the test rarely disagree, so leaving it out makes the
// MDE at most slightly optimistic.

// Defaults of [MDEConfig].
const (
	DefaultMDEPower     = 0.8
	DefaultMDERepeats   = 1000
	DefaultMDETarget    = 1.10
	DefaultMDEMaxRounds = 500
)

// MDEConfig sets what [MinDetectableEffect] computes. Zero fields mean the
// defaults.
type MDEConfig struct {
	// Rounds is R, the timed rounds per arm of the evaluation.
	Rounds int `json:"rounds"`
	// Power is the share of repeats the rule must call a win (0.8).
	Power float64 `json:"power"`
	// Repeats is the number of simulated evaluations (1000).
	Repeats int `json:"repeats"`
	// Target is the speedup for which the rounds needed are computed
	// (1.10, a 10% speedup).
	Target float64 `json:"target"`
	// MaxRounds caps the search for the rounds needed (500).
	MaxRounds int `json:"max_rounds"`
	// Seed seeds the simulation (Options' DefaultSeed when 0).
	Seed uint64 `json:"seed"`
}

func (c MDEConfig) normalize() MDEConfig {
	if !(c.Power > 0 && c.Power < 1) {
		c.Power = DefaultMDEPower
	}
	if c.Repeats <= 0 {
		c.Repeats = DefaultMDERepeats
	}
	if !(c.Target > 1) || math.IsInf(c.Target, 0) {
		c.Target = DefaultMDETarget
	}
	if c.MaxRounds <= 0 {
		c.MaxRounds = DefaultMDEMaxRounds
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	return c
}

// MDE is the minimum detectable effect of one item, as calibration.json
// would hold it. Speedups are in the package's sense (above 1: the
// candidate is better). A figure that cannot be computed is 0 with its
// validity flag false and a line in Warnings.
type MDE struct {
	// Rounds, Power, Repeats and Target are the normalized configuration.
	Rounds  int     `json:"rounds"`
	Power   float64 `json:"power"`
	Repeats int     `json:"repeats"`
	Target  float64 `json:"target"`
	// N is the number of A/A samples used (finite and positive, all
	// series pooled); CV is their stddev/mean and LogSD the standard
	// deviation of their logarithms.
	N     int     `json:"n"`
	CV    float64 `json:"cv"`
	LogSD float64 `json:"log_sd"`
	// Simulated is the smallest speedup the rule calls a win in Power of
	// the simulated repeats at Rounds rounds.
	Simulated      float64 `json:"simulated"`
	SimulatedValid bool    `json:"simulated_valid"`
	// Normal is the same figure from the normal approximation of
	// [NormalMDE] with CV.
	Normal      float64 `json:"normal"`
	NormalValid bool    `json:"normal_valid"`
	// RoundsForTarget is the smallest number of rounds at which the rule
	// calls a Target speedup a win in Power of the simulated repeats; 0
	// when not reached by MaxRounds (or never: Target <= 1+Band).
	RoundsForTarget int `json:"rounds_for_target"`
	// RoundsForTargetNormal is the same from [NormalRounds].
	RoundsForTargetNormal int `json:"rounds_for_target_normal"`
	// Method describes the simulation.
	Method   string   `json:"method"`
	Warnings []string `json:"warnings,omitempty"`
}

// MethodSmoothedBootstrap names the MDE's simulation.
const MethodSmoothedBootstrap = "smoothed-bootstrap"

// MinDetectableEffect computes the MDE of an item from its A/A samples:
// series of the same tree timed like an evaluation's arms (two workspaces
// of the pre tree, or only the baseline's series). The series are pooled.
// o supplies Alpha, Band and Better.
//
// The simulation. Each of Repeats simulated evaluations draws R base and R
// candidate samples from the pooled A/A samples by a smoothed bootstrap
// in log space (Silverman 1986, §6.4): a pooled log-value picked at random,
// plus h·N(0,1) with Silverman's bandwidth h = 0.9·min(sd, IQR/1.34)·n^(-1/5),
// shrunk towards the mean by 1/sqrt(1+h²/sd²) so that the variance is the
// samples' own. Smoothing keeps the draws continuous: plain resampling with
// replacement would create ties that real timings do not have, and would
// change the Mann–Whitney null distribution benchmath uses. A true speedup
// s divides every candidate sample by s (multiplies, for a higher-is-better
// metric). With the draws fixed, the rule's outcome is monotone in s, so
// every repeat has a threshold t: the rule calls a win exactly when s > t,
// where t is the larger of (1+Band)·median(cand)/median(base) (the band)
// and the k-th smallest of the R² ratios cand_j/base_i, k being the
// smallest U with benchmath's p <= Alpha (the test). The MDE is the
// ceil(Power·Repeats)-th smallest t: exact for the draws, with no grid of
// speedups. The rounds for Target are found by doubling from
// [MinRounds] and bisecting, evaluating the rule at s = Target with Repeats
// fresh draws per number of rounds (power is nearly, not exactly,
// monotone in R because the critical U is discrete).
//
// The same seed gives the same result, bit for bit.
func MinDetectableEffect(series [][]float64, cfg MDEConfig, o Options) MDE {
	o = o.normalize()
	cfg = cfg.normalize()
	m := MDE{Rounds: cfg.Rounds, Power: cfg.Power, Repeats: cfg.Repeats, Target: cfg.Target, Method: MethodSmoothedBootstrap}
	var pooled []float64
	dropped := 0
	for _, s := range series {
		for _, x := range s {
			if x > 0 && !math.IsInf(x, 0) {
				pooled = append(pooled, x)
			} else {
				dropped++
			}
		}
	}
	if dropped > 0 {
		m.Warnings = append(m.Warnings, fmt.Sprintf("%d non-positive or non-finite samples ignored", dropped))
	}
	m.N = len(pooled)
	if m.N < 2 {
		m.Warnings = append(m.Warnings, "need >= 2 positive A/A samples")
		return m
	}
	sum := Summarize(pooled, o)
	m.CV = sum.CV
	gen := newSmoothedBootstrap(pooled)
	m.LogSD = gen.sd

	if v, ok := NormalMDE(m.CV, cfg.Rounds, cfg.Power, o); ok {
		m.Normal, m.NormalValid = v, true
	}
	m.RoundsForTargetNormal = NormalRounds(m.CV, cfg.Target, cfg.Power, cfg.MaxRounds, o)

	minR := MinRounds(o.Alpha)
	switch {
	case cfg.Rounds < minR:
		m.Warnings = append(m.Warnings, fmt.Sprintf("with %d rounds nothing can be significant at alpha %.4g (need %d)", cfg.Rounds, o.Alpha, minR))
	default:
		m.Simulated = gen.mde(cfg.Rounds, cfg, o)
		m.SimulatedValid = m.Simulated > 0
	}
	if cfg.Target <= 1+o.Band {
		m.Warnings = append(m.Warnings, fmt.Sprintf("target %.4g is inside the band: never a win", cfg.Target))
	} else {
		m.RoundsForTarget = gen.roundsFor(cfg.Target, cfg, o)
		if m.RoundsForTarget == 0 {
			m.Warnings = append(m.Warnings, fmt.Sprintf("a %.4g speedup is not detected in %.0f%% of repeats with up to %d rounds", cfg.Target, 100*cfg.Power, cfg.MaxRounds))
		}
	}
	return m
}

// smoothedBootstrap draws samples like the pooled A/A samples (see
// MinDetectableEffect).
type smoothedBootstrap struct {
	logs              []float64
	mean, sd, h, keep float64
}

func newSmoothedBootstrap(xs []float64) *smoothedBootstrap {
	g := &smoothedBootstrap{logs: make([]float64, len(xs))}
	for i, x := range xs {
		g.logs[i] = math.Log(x)
	}
	var m2 float64
	for i, l := range g.logs {
		d := l - g.mean
		g.mean += d / float64(i+1)
		m2 += d * (l - g.mean)
	}
	g.sd = math.Sqrt(m2 / float64(len(xs)-1))
	sorted := slices.Sorted(slices.Values(g.logs))
	iqr := quantileSorted(sorted, 0.75) - quantileSorted(sorted, 0.25)
	spread := math.Min(g.sd, iqr/1.34)
	if !(spread > 0) {
		spread = g.sd
	}
	g.h = 0.9 * spread * math.Pow(float64(len(xs)), -0.2)
	g.keep = 1
	if g.sd > 0 {
		g.keep = 1 / math.Sqrt(1+g.h*g.h/(g.sd*g.sd))
	}
	return g
}

func (g *smoothedBootstrap) draw(rng *rand.Rand, out []float64) {
	for i := range out {
		l := g.logs[rng.IntN(len(g.logs))]
		out[i] = math.Exp(g.mean + (l-g.mean+g.h*rng.NormFloat64())*g.keep)
	}
}

// quantileSorted is the linear-interpolation quantile (type 7) of sorted.
func quantileSorted(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (pos-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// sortedMedian is benchmath's median of a sorted sample (the mean of the
// two middle values for an even size).
func sortedMedian(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return s[n/2-1]/2 + s[n/2]/2
}

// improvement orients a pair: the ratio r such that a speedup s makes the
// candidate beat this base sample exactly when s > r.
func improvement(base, cand float64, better Better) float64 {
	if better == HigherIsBetter {
		return base / cand
	}
	return cand / base
}

// mde is the simulated MDE at R rounds; 0 when the rule cannot reach
// significance.
func (g *smoothedBootstrap) mde(R int, cfg MDEConfig, o Options) float64 {
	k := uCritical(R, R, o.Alpha)
	if k > R*R {
		return 0
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(R)^0x3dc94f2a6b1e5a07))
	b, c := make([]float64, R), make([]float64, R)
	pairs := make([]float64, R*R)
	thresholds := make([]float64, cfg.Repeats)
	for rep := range thresholds {
		g.draw(rng, b)
		g.draw(rng, c)
		thresholds[rep] = winThreshold(b, c, k, pairs, o)
	}
	slices.Sort(thresholds)
	idx := int(math.Ceil(cfg.Power*float64(cfg.Repeats))) - 1
	return thresholds[max(idx, 0)]
}

// winThreshold is the speedup t above which the rule calls a candidate
// whose samples are c/s (c·s for a higher-is-better metric) a win over base
// samples b: the larger of the band's and the test's thresholds, the test's
// being the k-th smallest pair ratio (k = uCritical). It sorts b and c and
// uses pairs (capacity len(b)·len(c)) as scratch.
func winThreshold(b, c []float64, k int, pairs []float64, o Options) float64 {
	slices.Sort(b)
	slices.Sort(c)
	band := (1 + o.Band) * improvement(sortedMedian(b), sortedMedian(c), o.Better)
	// Most often the test is already passed at the band's threshold:
	// counting the pair ratios <= band on the sorted arms (O(R)) then
	// settles it without the O(R²) selection.
	below := 0
	if o.Better == HigherIsBetter {
		i := 0
		for _, y := range c { // b_i/y <= band
			for i < len(b) && b[i] <= band*y {
				i++
			}
			below += i
		}
	} else {
		j := 0
		for _, x := range b { // c_j/x <= band
			for j < len(c) && c[j] <= band*x {
				j++
			}
			below += j
		}
	}
	if below >= k {
		return band
	}
	p := pairs[:0]
	for _, x := range b {
		for _, y := range c {
			if r := improvement(x, y, o.Better); r > band {
				p = append(p, r)
			}
		}
	}
	return selectKth(p, max(k-1-(len(b)*len(c)-len(p)), 0))
}

// reaches reports whether the rule calls a true speedup s a win with R
// rounds in at least cfg.Power of the repeats. It stops as soon as the
// answer is certain (enough wins, or too many misses), which gives the
// answer a full run would give.
func (g *smoothedBootstrap) reaches(R int, s float64, cfg MDEConfig, o Options) bool {
	k := uCritical(R, R, o.Alpha)
	if k > R*R {
		return false
	}
	need := int(math.Ceil(cfg.Power * float64(cfg.Repeats)))
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(R)^0x9e3779b97f4a7c15))
	b, c := make([]float64, R), make([]float64, R)
	wins := 0
	for rep := range cfg.Repeats {
		switch {
		case wins >= need:
			return true
		case rep-wins > cfg.Repeats-need:
			return false
		}
		g.draw(rng, b)
		g.draw(rng, c)
		// The candidate with the speedup applied, as a lower-is-better
		// value compared with b in the same orientation.
		for i := range c {
			if o.Better == HigherIsBetter {
				c[i] *= s
			} else {
				c[i] /= s
			}
		}
		slices.Sort(b)
		slices.Sort(c)
		ratio := 1 / improvement(sortedMedian(b), sortedMedian(c), o.Better)
		if !(ratio > 1+o.Band) {
			continue
		}
		// U = pairs in which the candidate is better than the base.
		u, j := 0, 0
		if o.Better == HigherIsBetter {
			for _, y := range c { // count b_i < y
				for j < R && b[j] < y {
					j++
				}
				u += j
			}
		} else {
			for _, x := range b { // count c_j < x
				for j < R && c[j] < x {
					j++
				}
				u += j
			}
		}
		if u >= k {
			wins++
		}
	}
	return wins >= need
}

// roundsFor is the smallest number of rounds (up to cfg.MaxRounds) with
// which the rule calls a true speedup s a win in cfg.Power of the repeats,
// or 0.
func (g *smoothedBootstrap) roundsFor(s float64, cfg MDEConfig, o Options) int {
	return searchRounds(MinRounds(o.Alpha), cfg.MaxRounds, func(R int) bool { return g.reaches(R, s, cfg, o) })
}

// searchRounds is the smallest R in [lo, hi] with ok(R), found by doubling
// from lo and bisecting (ok is assumed monotone), or 0 when ok(hi) fails.
func searchRounds(lo, hi int, ok func(int) bool) int {
	if lo > hi {
		return 0
	}
	fail, r := lo-1, lo
	for !ok(r) {
		if r == hi {
			return 0
		}
		fail, r = r, min(2*r, hi)
	}
	for r-fail > 1 {
		mid := fail + (r-fail)/2
		if ok(mid) {
			r = mid
		} else {
			fail = mid
		}
	}
	return r
}

// selectKth returns the k-th smallest (0-based) element of xs, reordering
// xs (Hoare's quickselect with a median-of-three pivot).
func selectKth(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		a, b, c := xs[lo], xs[mid], xs[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}

type uCritKey struct {
	m, n  int
	alpha float64
}

var uCritCache sync.Map // uCritKey -> int

// uCritical is the smallest U (pairs in which the first arm's sample is
// the larger) for which benchmath's two-sided Mann–Whitney p of untied arms
// of m and n samples is <= alpha; m·n+1 when no U is. It asks benchmath
// itself (exact distribution up to 50 per arm, normal approximation above),
// so the simulated rule is the evaluation's bit for bit, float round-off
// included.
func uCritical(m, n int, alpha float64) int {
	key := uCritKey{m, n, alpha}
	if k, ok := uCritCache.Load(key); ok {
		return k.(int)
	}
	sig := func(u int) bool { return untiedP(m, n, u) <= alpha }
	mn := m * n
	k := mn + 1
	if sig(mn) {
		// p is non-increasing in U above mn/2: bisect.
		lo, hi := (mn+1)/2-1, mn // sig(hi); lo is below the upper half
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if sig(mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
		k = hi
	}
	uCritCache.Store(key, k)
	return k
}

// untiedP is benchmath's two-sided p for untied arms of m and n samples in
// which exactly u pairs have the first arm's sample larger: the second arm
// is 1..n, and sample i of the first lies just above k_i of them, with the
// k_i summing to u.
func untiedP(m, n, u int) float64 {
	a, b := make([]float64, m), make([]float64, n)
	for j := range b {
		b[j] = float64(j + 1)
	}
	left := u
	for i := range a {
		k := min(left, n)
		left -= k
		a[i] = float64(k) + 0.1 + 0.8*float64(i+1)/float64(m+1)
	}
	th := &benchmath.Thresholds{CompareAlpha: 0.05}
	p := benchmath.AssumeNothing.Compare(benchmath.NewSample(a, th), benchmath.NewSample(b, th)).P
	if !isFinite(p) {
		return 1
	}
	return p
}

// normalQuantile is Φ⁻¹(p).
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// normalCDF is Φ(x).
func normalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// NormalMDE is the minimum detectable effect in closed form, the normal
// approximation of what [MinDetectableEffect] simulates. Assumptions: each
// arm's log-times are independent normal draws with the same standard
// deviation σ = sqrt(ln(1+cv²)) (log-normal times of coefficient of
// variation cv), and a true speedup s shifts the candidate's log-times by
// δ = ln s; R samples per arm. The rule needs both of
//
//   - the test: by Noether's (1987) formula for the Mann–Whitney test,
//     power(δ) = Φ(sqrt(12R²/(2R+1))·(Φ(δ/(σ√2)) − 1/2) − z₁₋α/₂), so
//     power P needs δ₁ = σ√2·Φ⁻¹(1/2 + (z₁₋α/₂ + z_P)/sqrt(12R²/(2R+1)));
//   - the band: the sample median of R normal draws is close to normal
//     with variance πσ²/(2R), so the log of the ratio of medians has mean
//     δ and standard deviation σ·sqrt(π/R), and P(ratio > 1+band) = P
//     needs δ₂ = ln(1+band) + z_P·σ·sqrt(π/R).
//
// The MDE is exp(max(δ₁, δ₂)). Taking the larger treats the two events as
// if one implied the other; they are strongly but not perfectly
// correlated, so where δ₁ ≈ δ₂ the true MDE is a little larger. For large
// R the band term dominates and the MDE tends to 1+band; for a noisy item
// at few rounds the test term dominates. ok is false when R is below
// [MinRounds] or the test cannot reach power P at all in this
// approximation.
func NormalMDE(cv float64, rounds int, power float64, o Options) (mde float64, ok bool) {
	o = o.normalize()
	if !(power > 0 && power < 1) {
		power = DefaultMDEPower
	}
	if rounds < MinRounds(o.Alpha) || !(cv >= 0) || math.IsInf(cv, 0) {
		return 0, false
	}
	sigma := math.Sqrt(math.Log1p(cv * cv))
	zA, zP := normalQuantile(1-o.Alpha/2), normalQuantile(power)
	R := float64(rounds)
	p1 := 0.5 + (zA+zP)/math.Sqrt(12*R*R/(2*R+1))
	if p1 >= 1 {
		return 0, false
	}
	d1 := sigma * math.Sqrt2 * normalQuantile(p1)
	d2 := math.Log1p(o.Band) + zP*sigma*math.Sqrt(math.Pi/R)
	return math.Exp(math.Max(d1, d2)), true
}

// NormalRounds is the smallest number of rounds, up to maxRounds, at
// which [NormalMDE] is at most speedup: the rounds the normal
// approximation says the rule needs to call that speedup a win in power of
// repeats. 0 when maxRounds are not enough or speedup <= 1+band.
func NormalRounds(cv, speedup, power float64, maxRounds int, o Options) int {
	o = o.normalize()
	if !(speedup > 1+o.Band) {
		return 0
	}
	return searchRounds(MinRounds(o.Alpha), maxRounds, func(R int) bool {
		v, ok := NormalMDE(cv, R, power, o)
		return ok && v <= speedup
	})
}

// noetherPower is Noether's approximate power of the two-sided
// Mann–Whitney test at alpha for a shift δ = ln(speedup) of log-normal
// samples with coefficient of variation cv, R per arm (the first bullet of
// [NormalMDE]).
func noetherPower(cv, speedup float64, rounds int, o Options) float64 {
	o = o.normalize()
	sigma := math.Sqrt(math.Log1p(cv * cv))
	if sigma == 0 {
		if speedup > 1 {
			return 1
		}
		return 0
	}
	R := float64(rounds)
	d := math.Log(speedup)
	return normalCDF(math.Sqrt(12*R*R/(2*R+1))*(normalCDF(d/(sigma*math.Sqrt2))-0.5) - normalQuantile(1-o.Alpha/2))
}
