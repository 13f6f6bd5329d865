package stats

import (
	"fmt"
	"math"

	"golang.org/x/perf/benchmath"
)

// Better says which direction of a metric is an improvement.
type Better int

const (
	// LowerIsBetter is for times and other costs (the default).
	LowerIsBetter Better = iota
	// HigherIsBetter is for throughputs and other rates.
	HigherIsBetter
)

// String returns "lower" or "higher".
func (b Better) String() string {
	if b == HigherIsBetter {
		return "higher"
	}
	return "lower"
}

// MarshalText encodes b as "lower" or "higher".
func (b Better) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText accepts "lower" or "higher".
func (b *Better) UnmarshalText(text []byte) error {
	switch string(text) {
	case "lower":
		*b = LowerIsBetter
	case "higher":
		*b = HigherIsBetter
	default:
		return fmt.Errorf("better: want \"lower\" or \"higher\", got %q", text)
	}
	return nil
}

// CI methods for [Options].Method.
const (
	MethodBootstrap     = "bootstrap"      // percentile bootstrap of the ratio of medians (default)
	MethodHodgesLehmann = "hodges-lehmann" // Hodges–Lehmann on log values
)

// Method names that appear in [Speedup].Method and [Interval].Method.
const (
	MethodBootstrapPaired = "bootstrap-paired" // bootstrap over whole rounds
)

// DefaultSeed seeds the bootstrap when [Options].Seed is 0.
const DefaultSeed uint64 = 0x5eed

// Options tunes the analysis. The zero value of a field means its default
// (see [DefaultOptions]); out-of-range values are also replaced by the
// default (use [Options.Validate] to reject them instead).
type Options struct {
	// Alpha is the significance level of the Mann–Whitney test (0.05).
	Alpha float64 `json:"alpha"`
	// Confidence is the level of every confidence interval (0.95).
	Confidence float64 `json:"confidence"`
	// Band is the relative margin a significant speedup must exceed to be
	// a win or loss (0.05: win above 1.05, loss below 1/1.05).
	Band float64 `json:"band"`
	// CVThreshold flags an arm as noisy above this stddev/mean (0.10).
	CVThreshold float64 `json:"cv_threshold"`
	// Better is the metric's direction (LowerIsBetter).
	Better Better `json:"better"`
	// Method picks the CI reported in Speedup.Lo/Hi: MethodBootstrap
	// (default) or MethodHodgesLehmann; the other goes to Speedup.Alt.
	Method string `json:"method"`
	// Bootstrap is the number of bootstrap resamples (2000).
	Bootstrap int `json:"bootstrap"`
	// Seed seeds the bootstrap's PCG generator (DefaultSeed). Keep it
	// below 2^53 if the JSON is read by JavaScript.
	Seed uint64 `json:"seed"`
}

// DefaultOptions returns the defaults: alpha 0.05, 95% intervals, band 5%,
// noise above 10% CV, lower is better, bootstrap with 2000 resamples and
// DefaultSeed.
func DefaultOptions() Options {
	return Options{
		Alpha:       0.05,
		Confidence:  0.95,
		Band:        0.05,
		CVThreshold: 0.10,
		Better:      LowerIsBetter,
		Method:      MethodBootstrap,
		Bootstrap:   2000,
		Seed:        DefaultSeed,
	}
}

// Validate reports the first field out of range. Zero fields are valid
// (they mean the default).
func (o Options) Validate() error {
	switch {
	case o.Alpha != 0 && !(o.Alpha > 0 && o.Alpha < 1):
		return fmt.Errorf("alpha: want a number in (0, 1), got %v", o.Alpha)
	case o.Confidence != 0 && !(o.Confidence > 0 && o.Confidence < 1):
		return fmt.Errorf("confidence: want a number in (0, 1), got %v", o.Confidence)
	case o.Band != 0 && !(o.Band > 0 && o.Band < 1):
		return fmt.Errorf("band: want a number in (0, 1), got %v", o.Band)
	case o.CVThreshold != 0 && !(o.CVThreshold > 0 && !math.IsInf(o.CVThreshold, 0)):
		return fmt.Errorf("cv_threshold: want a positive number, got %v", o.CVThreshold)
	case o.Better != LowerIsBetter && o.Better != HigherIsBetter:
		return fmt.Errorf("better: want lower or higher, got %d", int(o.Better))
	case o.Method != "" && o.Method != MethodBootstrap && o.Method != MethodHodgesLehmann:
		return fmt.Errorf("method: want %q or %q, got %q", MethodBootstrap, MethodHodgesLehmann, o.Method)
	case o.Bootstrap < 0 || o.Bootstrap > 1_000_000:
		return fmt.Errorf("bootstrap: want 0..1000000 resamples, got %d", o.Bootstrap)
	}
	return nil
}

// normalize replaces zero and out-of-range fields by their defaults.
func (o Options) normalize() Options {
	d := DefaultOptions()
	if !(o.Alpha > 0 && o.Alpha < 1) {
		o.Alpha = d.Alpha
	}
	if !(o.Confidence > 0 && o.Confidence < 1) {
		o.Confidence = d.Confidence
	}
	if !(o.Band > 0 && o.Band < 1) {
		o.Band = d.Band
	}
	if !(o.CVThreshold > 0 && !math.IsInf(o.CVThreshold, 0)) {
		o.CVThreshold = d.CVThreshold
	}
	if o.Better != HigherIsBetter {
		o.Better = LowerIsBetter
	}
	if o.Method != MethodHodgesLehmann {
		o.Method = MethodBootstrap
	}
	if o.Bootstrap <= 0 || o.Bootstrap > 1_000_000 {
		o.Bootstrap = d.Bootstrap
	}
	if o.Seed == 0 {
		o.Seed = d.Seed
	}
	return o
}

// ArmSummary describes the samples of one arm.
type ArmSummary struct {
	// N is the number of finite samples used; Dropped counts NaN/±Inf
	// samples that were ignored.
	N       int `json:"n"`
	Dropped int `json:"dropped,omitempty"`
	// Median is benchmath's sample median; Lo and Hi bound its
	// distribution-free confidence interval when CIValid, else they are 0.
	// CILevel is the interval's actual confidence (>= the requested one).
	Median  float64 `json:"median"`
	Lo      float64 `json:"lo"`
	Hi      float64 `json:"hi"`
	CIValid bool    `json:"ci_valid"`
	CILevel float64 `json:"ci_level"`
	// Mean, StdDev (n-1 denominator), CV = StdDev/|Mean|. CV is 0 and
	// CVValid false when n < 2 or the mean is 0.
	Mean    float64 `json:"mean"`
	StdDev  float64 `json:"stddev"`
	CV      float64 `json:"cv"`
	CVValid bool    `json:"cv_valid"`
	// Noisy is CVValid && CV > Options.CVThreshold.
	Noisy bool    `json:"noisy"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	// Warnings explains every invalid statistic.
	Warnings []string `json:"warnings,omitempty"`
}

// finiteValues returns a copy of the finite values of xs and the number
// of values dropped.
func finiteValues(xs []float64) ([]float64, int) {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out, len(xs) - len(out)
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// finiteOr0 maps NaN and ±Inf to 0.
func finiteOr0(x float64) float64 {
	if isFinite(x) {
		return x
	}
	return 0
}

// Summarize summarizes one arm. samples is not modified.
func Summarize(samples []float64, o Options) ArmSummary {
	o = o.normalize()
	xs, dropped := finiteValues(samples)
	s := ArmSummary{N: len(xs), Dropped: dropped}
	if dropped > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d non-finite samples ignored", dropped))
	}
	if len(xs) == 0 {
		s.Warnings = append(s.Warnings, "no samples")
		return s
	}

	// benchmath sorts the slice it is given; xs is already a copy.
	sum := benchmath.AssumeNothing.Summary(benchmath.NewSample(xs, &benchmath.DefaultThresholds), o.Confidence)
	s.Median = finiteOr0(sum.Center)
	s.Min, s.Max = xs[0], xs[len(xs)-1]
	if isFinite(sum.Lo) && isFinite(sum.Hi) {
		s.Lo, s.Hi, s.CIValid, s.CILevel = sum.Lo, sum.Hi, true, finiteOr0(sum.Confidence)
	}
	for _, w := range sum.Warnings {
		s.Warnings = append(s.Warnings, "median CI: "+w.Error())
	}
	if !s.CIValid && len(sum.Warnings) == 0 {
		s.Warnings = append(s.Warnings, "median CI: not computable")
	}

	// Mean and variance with Welford's update (no overflow of a plain sum
	// for large values).
	var mean, m2 float64
	for i, x := range xs {
		d := x - mean
		mean += d / float64(i+1)
		m2 += d * (x - mean)
	}
	if !isFinite(mean) {
		s.Warnings = append(s.Warnings, "mean: overflow")
		return s
	}
	s.Mean = mean
	if len(xs) < 2 {
		s.Warnings = append(s.Warnings, "cv: need >= 2 samples")
		return s
	}
	sd := math.Sqrt(m2 / float64(len(xs)-1))
	if !isFinite(sd) {
		s.Warnings = append(s.Warnings, "stddev: overflow")
		return s
	}
	s.StdDev = sd
	if mean == 0 {
		s.Warnings = append(s.Warnings, "cv: mean is 0")
		return s
	}
	cv := sd / math.Abs(mean)
	if !isFinite(cv) {
		s.Warnings = append(s.Warnings, "cv: overflow")
		return s
	}
	s.CV, s.CVValid = cv, true
	s.Noisy = cv > o.CVThreshold
	return s
}
