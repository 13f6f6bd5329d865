package compare

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Statistic aggregates one value per item.
type Statistic func([]float64) float64

// Mean is the arithmetic mean (a rate, for 0/1 values).
func Mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// HarmonicMean is n / Σ 1/x (SWE-fficiency's aggregate of speedup ratios).
func HarmonicMean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += 1 / x
	}
	return float64(len(xs)) / s
}

// GeoMean is exp(mean(log x)).
func GeoMean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(xs)))
}

// Estimate is stat over xs with its percentile bootstrap interval: B
// resamples of the items with replacement, from a PCG source seeded with
// seed, so the same values give the same interval. No items give an
// invalid Metric.
func Estimate(xs []float64, stat Statistic, B int, seed uint64, confidence float64) Metric {
	resample := make([]float64, len(xs))
	return bootstrap(len(xs), B, seed, confidence, func(pick func() int) float64 {
		if pick == nil {
			return stat(xs)
		}
		for i := range resample {
			resample[i] = xs[pick()]
		}
		return stat(resample)
	})
}

// EstimatePaired is stat(a) − stat(b) with its percentile bootstrap
// interval, resampling the items (a[i], b[i]) together.
func EstimatePaired(a, b []float64, stat Statistic, B int, seed uint64, confidence float64) Metric {
	ra, rb := make([]float64, len(a)), make([]float64, len(a))
	return bootstrap(len(a), B, seed, confidence, func(pick func() int) float64 {
		if pick == nil {
			return stat(a) - stat(b)
		}
		for i := range ra {
			j := pick()
			ra[i], rb[i] = a[j], b[j]
		}
		return stat(ra) - stat(rb)
	})
}

// bootstrap is the percentile bootstrap of n items: estimate(nil) is the
// point estimate, estimate(pick) that of one resample whose items pick
// draws.
func bootstrap(n, B int, seed uint64, confidence float64, estimate func(pick func() int) float64) Metric {
	m := Metric{N: n}
	if n == 0 {
		return m
	}
	m.Value, m.Valid = estimate(nil), true
	pcg := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	// Two draws per 64 random bits, each by Lemire's multiply-shift (a
	// bias below n/2³², far under the bootstrap's own error).
	var spare uint64
	var have bool
	un := uint64(n)
	pick := func() int {
		if have {
			have = false
			return int((spare * un) >> 32)
		}
		x := pcg.Uint64()
		spare, have = x>>32, true
		return int((uint64(uint32(x)) * un) >> 32)
	}
	vals := make([]float64, B)
	for r := range vals {
		vals[r] = estimate(pick)
	}
	slices.Sort(vals)
	tail := int(math.Floor(float64(B) * (1 - confidence) / 2))
	m.Lo, m.Hi = vals[tail], vals[B-1-tail]
	return m
}

// nested is one aggregate's entries for the two-level bootstrap: per entry
// (an item) its term, its weight (nil: 1 each) and the column holding its
// within-item replicates in reps, which is laid out replicate-major (the
// terms of every item for replicate b are reps[b*stride:(b+1)*stride]) so
// that one outer resample reads one short contiguous stretch.
type nested struct {
	point  []float64
	weight []float64
	cols   []int
	reps   []float32
	stride int
}

func (s *nested) add(point, weight float64, col int) {
	s.point = append(s.point, point)
	s.cols = append(s.cols, col)
	if s.weight != nil || weight != 1 {
		for len(s.weight) < len(s.point)-1 {
			s.weight = append(s.weight, 1)
		}
		s.weight = append(s.weight, weight)
	}
}

// finish turns the sum of the drawn entries' terms and of their weights
// into the statistic.
type finish func(sum, weight float64) float64

func meanOf(sum, w float64) float64     { return sum / w }
func harmonicOf(sum, w float64) float64 { return w / sum }
func geoOf(sum, w float64) float64      { return math.Exp(sum / w) }

// estimateNested is the two-level percentile bootstrap: each of B
// resamples draws the entries with replacement (the outer level, over
// items) and takes, for every drawn entry, one of its replicates (the
// inner level, over the item's timed rounds, B of them drawn per item
// beforehand): resample b's first draw of an entry takes replicate b, its
// second draw replicate b+1, and so on (mod B), so that an entry drawn
// twice in one resample gets two independent inner resamples, as a
// two-level bootstrap draws them, while one resample still reads a few
// contiguous stretches of reps.
func estimateNested(s nested, fin finish, B int, seed uint64, confidence float64) Metric {
	n := len(s.point)
	r := -1 // the resample being drawn
	// times[j] is how often entry j was drawn in the current resample.
	times := make([]uint32, n)
	return bootstrap(n, B, seed, confidence, func(pick func() int) float64 {
		var sum, ws float64
		if pick == nil {
			for j, x := range s.point {
				sum += x
				if s.weight != nil {
					ws += s.weight[j]
				}
			}
			if s.weight == nil {
				ws = float64(n)
			}
			return fin(sum, ws)
		}
		r++
		clear(times)
		for range n {
			j := pick()
			// The entry's k-th draw in this resample takes replicate
			// r+k, wrapping (rarely taken: no branch on k itself).
			rep := r + int(times[j])
			for rep >= B {
				rep -= B
			}
			sum += float64(s.reps[rep*s.stride+s.cols[j]])
			times[j]++
			if s.weight != nil {
				ws += s.weight[j]
			}
		}
		if s.weight == nil {
			ws = float64(n)
		}
		return fin(sum, ws)
	})
}
