package stats

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"golang.org/x/perf/benchmath"
)

// Interval is a confidence interval for a speedup, with the point estimate
// of the method that produced it.
type Interval struct {
	// Method is MethodBootstrapPaired, MethodBootstrap or
	// MethodHodgesLehmann.
	Method string `json:"method"`
	// Estimate is the method's point estimate: the ratio of medians for
	// the bootstrap, exp(Hodges–Lehmann shift of the logs) otherwise.
	Estimate float64 `json:"estimate"`
	// Lo and Hi bound the interval when Valid, else they are 0.
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Valid bool    `json:"valid"`
	// Note says why the interval is not valid.
	Note string `json:"note,omitempty"`
}

// Speedup is the speedup of a candidate arm over a base arm: above 1 means
// the candidate is better (see the package doc for the definition).
type Speedup struct {
	// Ratio is the ratio of benchmath medians; 0 and Valid false when an
	// arm is empty or a median is not positive.
	Ratio float64 `json:"ratio"`
	Valid bool    `json:"valid"`
	// Lo, Hi and Method are the confidence interval of the method chosen
	// by Options.Method; CIValid says whether it could be computed.
	Lo      float64 `json:"lo"`
	Hi      float64 `json:"hi"`
	CIValid bool    `json:"ci_valid"`
	Method  string  `json:"method"`
	// Alt is the other method's interval, for comparison.
	Alt Interval `json:"alt"`
	// P is the two-sided Mann–Whitney U p-value (benchmath); Significant
	// is P <= Alpha.
	P           float64 `json:"p"`
	Significant bool    `json:"significant"`
	// NBase and NCand are the numbers of finite samples compared.
	NBase int `json:"n_base"`
	NCand int `json:"n_cand"`
	// Warnings lists benchmath's warnings and the reasons for invalid
	// statistics.
	Warnings []string `json:"warnings,omitempty"`
}

// CompareSpeedup computes the speedup of cand over base. Both slices must be
// in round order (sample i of each taken in round i) for the paired
// bootstrap to be meaningful. The slices are not modified.
func CompareSpeedup(base, cand []float64, o Options) Speedup {
	o = o.normalize()
	b, db := finiteValues(base)
	c, dc := finiteValues(cand)
	sp := Speedup{NBase: len(b), NCand: len(c), P: 1}

	// Mann–Whitney U test, exactly as benchstat does it.
	th := &benchmath.Thresholds{CompareAlpha: o.Alpha}
	sb := benchmath.NewSample(slices.Clone(b), th)
	sc := benchmath.NewSample(slices.Clone(c), th)
	if len(b) > 0 && len(c) > 0 {
		cmp := benchmath.AssumeNothing.Compare(sb, sc)
		if isFinite(cmp.P) {
			sp.P = math.Min(math.Max(cmp.P, 0), 1)
		}
		for _, w := range cmp.Warnings {
			sp.Warnings = append(sp.Warnings, "u-test: "+w.Error())
		}
	} else {
		sp.Warnings = append(sp.Warnings, "u-test: an arm has no samples")
	}
	sp.Significant = sp.P <= o.Alpha

	// The ratio's orientation: speedup = median(num)/median(den).
	num, den := b, c
	if o.Better == HigherIsBetter {
		num, den = c, b
	}
	if len(b) > 0 && len(c) > 0 {
		mb := benchmath.AssumeNothing.Summary(sb, o.Confidence).Center
		mc := benchmath.AssumeNothing.Summary(sc, o.Confidence).Center
		mnum, mden := mb, mc
		if o.Better == HigherIsBetter {
			mnum, mden = mc, mb
		}
		r := mnum / mden
		if mnum > 0 && mden > 0 && isFinite(r) && r > 0 {
			sp.Ratio, sp.Valid = r, true
		} else {
			sp.Warnings = append(sp.Warnings, "ratio: medians must be positive")
		}
	} else {
		sp.Warnings = append(sp.Warnings, "ratio: an arm has no samples")
	}

	paired := len(b) == len(c) && db == 0 && dc == 0
	boot := bootstrapCI(num, den, paired, o)
	if boot.Valid {
		// The bootstrap's point estimate is the reported ratio.
		boot.Estimate = sp.Ratio
	}
	hl := hodgesLehmannCI(num, den, o.Confidence)
	chosen, alt := boot, hl
	if o.Method == MethodHodgesLehmann {
		chosen, alt = hl, boot
	}
	sp.Method, sp.Alt = chosen.Method, alt
	if chosen.Valid {
		sp.Lo, sp.Hi, sp.CIValid = chosen.Lo, chosen.Hi, true
	} else {
		sp.Warnings = append(sp.Warnings, chosen.Method+": "+chosen.Note)
	}
	return sp
}

// positiveArms reports why num and den cannot be used by a ratio CI, or "".
func positiveArms(num, den []float64) string {
	if len(num) < 2 || len(den) < 2 {
		return "need >= 2 samples per arm"
	}
	for _, xs := range [2][]float64{num, den} {
		for _, x := range xs {
			if !(x > 0) {
				return "needs strictly positive samples"
			}
		}
	}
	return ""
}

// bootstrapCI is the percentile bootstrap interval of
// median(num)/median(den) with o.Bootstrap resamples. When paired, whole
// rounds (num[i], den[i]) are resampled together.
func bootstrapCI(num, den []float64, paired bool, o Options) Interval {
	iv := Interval{Method: MethodBootstrap}
	if paired {
		iv.Method = MethodBootstrapPaired
	}
	if note := positiveArms(num, den); note != "" {
		iv.Note = note
		return iv
	}
	B := o.Bootstrap
	rng := rand.New(rand.NewPCG(o.Seed, 0xda3e39cb94b95bdb))
	// A resample is kept as counts per order statistic of each arm, so
	// its median is found in O(n) without sorting.
	sn, rn := Ranks(num)
	sd, rd := Ranks(den)
	cn := make([]int, len(num))
	cd := make([]int, len(den))
	ratios := make([]float64, B)
	for r := range ratios {
		clear(cn)
		clear(cd)
		if paired {
			for range num {
				j := rng.IntN(len(num))
				cn[rn[j]]++
				cd[rd[j]]++
			}
		} else {
			for range num {
				cn[rn[rng.IntN(len(num))]]++
			}
			for range den {
				cd[rd[rng.IntN(len(den))]]++
			}
		}
		ratios[r] = CountedMedian(sn, cn) / CountedMedian(sd, cd)
		if !isFinite(ratios[r]) {
			iv.Note = "resampled ratio overflows"
			return iv
		}
	}
	slices.Sort(ratios)
	tail := int(math.Floor(float64(B) * (1 - o.Confidence) / 2))
	iv.Lo, iv.Hi, iv.Valid = ratios[tail], ratios[B-1-tail], true
	return iv
}

// Ranks returns xs sorted and, for each i, the position of xs[i] in it
// (tied values get distinct positions).
func Ranks(xs []float64) (sorted []float64, rank []int) {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(xs[a], xs[b]) })
	sorted = make([]float64, len(xs))
	rank = make([]int, len(xs))
	for pos, i := range idx {
		sorted[pos] = xs[i]
		rank[i] = pos
	}
	return sorted, rank
}

// CountedMedian is the median of the multiset holding counts[i] copies of
// sorted[i] (mean of the two middle values for an even size).
func CountedMedian(sorted []float64, counts []int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	lo, hi := (total-1)/2, total/2 // 0-based middle positions
	var vlo float64
	seen := 0
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if seen <= lo && lo < seen+c {
			vlo = sorted[i]
		}
		if seen <= hi && hi < seen+c {
			if lo == hi {
				return sorted[i]
			}
			return vlo/2 + sorted[i]/2
		}
		seen += c
	}
	return vlo // not reached for total > 0
}

// hodgesLehmannCI is the Hodges–Lehmann estimate of the shift between
// log(num) and log(den), with its distribution-free interval from the
// Mann–Whitney null distribution, both exponentiated into ratios.
func hodgesLehmannCI(num, den []float64, confidence float64) Interval {
	iv := Interval{Method: MethodHodgesLehmann}
	if note := positiveArms(num, den); note != "" {
		iv.Note = note
		return iv
	}
	m, n := len(num), len(den)
	ln := make([]float64, n)
	for j, y := range den {
		ln[j] = math.Log(y)
	}
	d := make([]float64, 0, m*n)
	for _, x := range num {
		lx := math.Log(x)
		for _, ly := range ln {
			d = append(d, lx-ly)
		}
	}
	slices.Sort(d)
	mn := len(d)
	var est float64
	if mn%2 == 1 {
		est = d[mn/2]
	} else {
		est = (d[mn/2-1] + d[mn/2]) / 2
	}
	iv.Estimate = finiteOr0(math.Exp(est))
	k := hlRank(m, n, confidence)
	if k < 1 {
		iv.Note = fmt.Sprintf("too few samples (%d and %d) for a %v interval", m, n, confidence)
		return iv
	}
	lo, hi := math.Exp(d[k-1]), math.Exp(d[mn-k])
	if !isFinite(lo) || !isFinite(hi) || !isFinite(math.Exp(est)) {
		iv.Note = "ratio overflows"
		iv.Estimate = 0
		return iv
	}
	iv.Lo, iv.Hi, iv.Valid = lo, hi, true
	return iv
}

// uExactLimit is the largest arm size for which hlRank uses the exact
// null distribution of U (as go-moremath does for untied samples).
const uExactLimit = 50

var hlRankCache sync.Map // hlKey -> int

type hlKey struct {
	m, n       int
	confidence float64
}

// hlRank returns the largest k such that P(U <= k-1) <= (1-confidence)/2
// under the null distribution of the Mann–Whitney U statistic for arms of m
// and n samples without ties; 0 when no interval is possible. The
// interval [D(k), D(mn+1-k)] of the sorted pairwise differences then has
// coverage >= confidence.
func hlRank(m, n int, confidence float64) int {
	key := hlKey{m, n, confidence}
	if k, ok := hlRankCache.Load(key); ok {
		return k.(int)
	}
	tail := (1 - confidence) / 2
	var k int
	if m <= uExactLimit && n <= uExactLimit {
		counts := uCounts(m, n)
		var total float64
		for _, c := range counts {
			total += c
		}
		// P(U <= k-1) <= tail; the distribution is symmetric so k never
		// exceeds mn/2 for tail < 1/2.
		cum := 0.0
		for k = 0; k < len(counts); k++ {
			if (cum+counts[k])/total > tail {
				break
			}
			cum += counts[k]
		}
	} else {
		// Normal approximation with continuity correction:
		// Φ((k-1+0.5-mn/2)/σ) <= tail.
		mu := float64(m*n) / 2
		sigma := math.Sqrt(float64(m*n) * float64(m+n+1) / 12)
		z := -math.Sqrt2 * math.Erfinv(2*tail-1) // upper tail quantile
		k = int(math.Floor(mu - z*sigma + 0.5))
		k = max(k, 0)
	}
	hlRankCache.Store(key, k)
	return k
}

// uCounts returns counts[u], the number of orderings of m X's and n Y's
// (no ties) in which exactly u (x, y) pairs have x > y, for u in 0..mn.
// The counts sum to C(m+n, m). It uses the recurrence on the largest
// element: N(i, j, u) = N(i-1, j, u-j) + N(i, j-1, u).
func uCounts(m, n int) []float64 {
	size := m*n + 1
	prev := make([][]float64, n+1) // i-1 X's
	cur := make([][]float64, n+1)  // i X's
	for j := range prev {
		prev[j] = make([]float64, size)
		cur[j] = make([]float64, size)
		prev[j][0] = 1 // no X: U = 0
	}
	for i := 1; i <= m; i++ {
		clear(cur[0])
		cur[0][0] = 1 // no Y: U = 0
		for j := 1; j <= n; j++ {
			row, left, up := cur[j], cur[j-1], prev[j]
			for u := 0; u <= i*j; u++ {
				v := left[u]
				if u >= j {
					v += up[u-j]
				}
				row[u] = v
			}
		}
		prev, cur = cur, prev
	}
	return prev[n]
}
