package calibrate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// TargetSpeedup is the speedup for which the rounds needed are reported.
const TargetSpeedup = stats.DefaultMDETarget

// MinAASamples is the fewest pooled A/A samples (and at least two arms of
// the configured rounds) below which the MDE gets a caveat: the smoothed
// bootstrap draws from the samples' spread, which a handful of runs
// estimates poorly.
const MinAASamples = 10

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
	var allBase, allHuman []float64
	// The wall and CPU times of the base and human runs, whatever the
	// metric (the launcher records both for every run): the metric
	// advice is computed for every task.
	var baseWall, baseCPU, baseDelay, humanWall, humanCPU []float64
	cpuKnown := true
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
			if !x.CPUTimes || x.WallSeconds <= 0 {
				cpuKnown = false
			}
			cpu := x.UserSeconds + x.SysSeconds
			if x.Arm == records.ArmBase {
				baseWall, baseCPU = append(baseWall, x.WallSeconds), append(baseCPU, cpu)
				delay := 0.0 // unknown: no discount
				if x.RunDelayKnown {
					delay = stats.TreeRunDelay(x.RunDelaySeconds, x.RunCPUSeconds, cpu)
				}
				baseDelay = append(baseDelay, delay)
			} else {
				humanWall, humanCPU = append(humanWall, x.WallSeconds), append(humanCPU, cpu)
			}
		}
	}
	a.Pooled = stats.CompareSpeedup(allBase, allHuman, o)
	a.Classification = stats.Classify(a.Human, a.Pooled, broken, reason, o)
	a.MDE = stats.MinDetectableEffect(aaSeries, stats.MDEConfig{Rounds: it.ConfiguredRounds, Target: TargetSpeedup}, o)
	if n := stats.MinRounds(o.Alpha); it.ConfiguredRounds < n {
		a.Caveats = append(a.Caveats, fmt.Sprintf("nothing can be significant at the configured %d rounds: the Mann–Whitney test needs at least %d per arm for p <= %g (raise evaluation.rounds)", it.ConfiguredRounds, n, o.Alpha))
	}
	for _, w := range a.MDE.Warnings {
		// The simulation's own (samples dropped, a target in the band);
		// its rounds warning is the caveat above.
		if it.ConfiguredRounds >= stats.MinRounds(o.Alpha) || !strings.Contains(w, "nothing can be significant") {
			a.Caveats = append(a.Caveats, "MDE: "+w)
		}
	}
	if need := max(MinAASamples, 2*it.ConfiguredRounds); a.MDE.N < need {
		a.Caveats = append(a.Caveats, fmt.Sprintf("only %d A/A samples (fewer than %d: two arms of the configured rounds, at least %d): the simulated MDE rests on a rough spread (more sessions or --rounds)", a.MDE.N, need, MinAASamples))
	}
	if cpuKnown && len(baseWall) > 0 && len(humanWall) > 0 && !broken {
		timeOpts := o
		timeOpts.Better = stats.LowerIsBetter
		// The speedups are the timed runs'. The ratio is the probe runs'
		// when there are some (they measured the whole tree's waits; the
		// timed runs' delay is scaled from the main process's), but their
		// times never enter a speedup: the stops slow them.
		hw, hc := stats.CompareSpeedup(baseWall, humanWall, timeOpts), stats.CompareSpeedup(baseCPU, humanCPU, timeOpts)
		if pw, pc, pd := probeTimes(it.Sessions); len(pw) > 0 {
			baseWall, baseCPU, baseDelay = pw, pc, pd
		}
		m := stats.RecommendMetric(baseWall, baseCPU, baseDelay, hw, hc, o)
		m.For(it.Metric)
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

// probeTimes are the wall times, CPU times and run-queue delays of the
// sessions' successful probe runs (records.MetricRunQueue).
func probeTimes(sessions []records.CalibrationSession) (wall, cpu, delay []float64) {
	for _, s := range sessions {
		if s.Status != records.EvalSuccess {
			continue
		}
		for _, x := range s.Probes {
			c := x.RunCPUSeconds
			if c <= 0 {
				c = x.UserSeconds + x.SysSeconds
			}
			if x.WallSeconds <= 0 || c <= 0 || !x.RunDelayKnown {
				continue
			}
			wall, cpu, delay = append(wall, x.WallSeconds), append(cpu, c), append(delay, x.RunDelaySeconds)
		}
	}
	return wall, cpu, delay
}
