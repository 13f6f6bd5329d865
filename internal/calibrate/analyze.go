package calibrate

import (
	"fmt"
	"slices"

	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// TargetSpeedup is the speedup for which the rounds needed are reported.
const TargetSpeedup = stats.DefaultMDETarget

// Analyze recomputes an entry's analysis and class from its sessions'
// samples and settings: the human speedup per session and pooled, the
// class (stats.Classify), the A/A minimum detectable effect at the
// configured rounds and the rounds a 10% speedup needs, and the metric to
// use. Seeded: the same samples give the same figures.
func Analyze(it *records.CalibrationItem) {
	o := stats.DefaultOptions()
	o.Band, o.Alpha = it.Band, it.Alpha
	if it.Better == "higher" {
		o.Better = stats.HigherIsBetter
	}
	a := &records.CalibrationAnalysis{Band: it.Band, Alpha: it.Alpha}
	broken, reason := false, ""
	var allBase, allHuman, baseWall, baseCPU, allBaseCPU, allHumanCPU []float64
	cpuKnown := it.Metric == "wall"
	var aaSeries [][]float64
	for _, s := range it.Sessions {
		if s.Status != records.EvalSuccess {
			if !broken {
				broken, reason = true, fmt.Sprintf("session %d: %s", s.Session, s.Status)
				if s.Reason != "" {
					reason += ": " + s.Reason
				}
			}
			continue
		}
		base := evaluate.Timed(s.Samples, records.ArmBase)
		human := evaluate.Timed(s.Samples, records.ArmHuman)
		aa := evaluate.Timed(s.Samples, records.ArmAgent)
		a.Human = append(a.Human, stats.CompareSpeedup(base, human, o))
		a.AA = append(a.AA, stats.CompareSpeedup(base, aa, o))
		allBase, allHuman = append(allBase, base...), append(allHuman, human...)
		if m := median(base); m > 0 {
			aaSeries = append(aaSeries, scaled(base, m), scaled(aa, m))
		}
		for _, x := range s.Samples {
			if x.Warmup || (x.Arm != records.ArmBase && x.Arm != records.ArmHuman) {
				continue
			}
			if !x.CPUTimes {
				cpuKnown = false
			}
			cpu := x.UserSeconds + x.SysSeconds
			if x.Arm == records.ArmBase {
				baseWall, baseCPU = append(baseWall, x.WallSeconds), append(baseCPU, cpu)
				allBaseCPU = append(allBaseCPU, cpu)
			} else {
				allHumanCPU = append(allHumanCPU, cpu)
			}
		}
	}
	a.Pooled = stats.CompareSpeedup(allBase, allHuman, o)
	a.Classification = stats.Classify(a.Human, a.Pooled, broken, reason, o)
	a.MDE = stats.MinDetectableEffect(aaSeries, stats.MDEConfig{Rounds: it.ConfiguredRounds, Target: TargetSpeedup}, o)
	if cpuKnown && len(baseWall) > 0 && !broken {
		cpuOpts := o
		cpuOpts.Better = stats.LowerIsBetter
		m := stats.RecommendMetric(baseWall, baseCPU, a.Pooled, stats.CompareSpeedup(allBaseCPU, allHumanCPU, cpuOpts), o)
		a.Metric = &m
	}
	it.Analysis = a
	it.Class, it.Reason = a.Classification.Class, a.Classification.Reason
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func scaled(xs []float64, by float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x / by
	}
	return out
}
