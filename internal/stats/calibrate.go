package stats

import (
	"fmt"
	"math"
	"slices"
)

// Calibration classes and the recommended metric are groundwork for
// `bench calibrate`, which times each item's human commit against its
// baseline in several separate sessions: pure functions over the
// speedups those sessions produce (see [Classify] and [RecommendMetric]).

// Class says whether an item's human speedup can be measured reproducibly.
type Class string

// Calibration classes, in the order [Classify] tests them.
const (
	// ClassBroken: setup, correctness or the workload failed (an input of
	// Classify), or a session produced no computable speedup.
	ClassBroken Class = "broken"
	// ClassUnstable: the sessions disagree — one finds the human commit
	// faster and another slower, or some session finds it faster beyond
	// the band while another does not, or the pooled interval straddles
	// the band's edge.
	ClassUnstable Class = "unstable"
	// ClassNoSpeedup: the human commit is not measurably faster beyond the
	// band: no session finds it faster by more than the band and the
	// pooled interval lies below 1+band (an A/A-like item, a speedup too
	// small for the band, or a slowdown).
	ClassNoSpeedup Class = "no_speedup"
	// ClassStable: every session's interval lies above 1 and the pooled
	// interval above 1+band: the speedup reproduces and can be scored.
	ClassStable Class = "stable"
)

// SessionSide is what one session's human-over-base speedup says.
type SessionSide string

// Sides of a session.
const (
	// SideFaster: the CI lies above 1.
	SideFaster SessionSide = "faster"
	// SideSlower: the CI lies below 1.
	SideSlower SessionSide = "slower"
	// SideUnclear: the CI contains 1 or could not be computed.
	SideUnclear SessionSide = "unclear"
)

// sideOf is the side of a speedup's confidence interval.
func sideOf(s Speedup) SessionSide {
	switch {
	case s.CIValid && s.Lo > 1:
		return SideFaster
	case s.CIValid && s.Hi < 1:
		return SideSlower
	}
	return SideUnclear
}

// Classification is the calibration class of one item with the facts it
// rests on, as calibration.json would hold it.
type Classification struct {
	Class Class `json:"class"`
	// Reason is one line explaining the class.
	Reason string `json:"reason"`
	// Sides is each session's side, in session order.
	Sides []SessionSide `json:"sides"`
	// Agree is the "sessions agree": every session's CI excludes 1
	// on the same side and the pooled CI excludes the band
	// [1/(1+band), 1+band]. A stable item always agrees; an item that is
	// consistently slower agrees too (and is no_speedup).
	Agree bool `json:"agree"`
	// Band is the band used (Options.Band).
	Band float64 `json:"band"`
}

// Classify classifies an item from its sessions' human-over-base speedups
// (one per session, each computed by [CompareSpeedup] from that session's
// samples), the pooled speedup (from all sessions' samples together) and
// broken, set when setup, correctness or the workload failed in any
// session (reason says which). o supplies the band. A session "shows a
// speedup" when its CI lies above 1 and its ratio above 1+band. In order:
//
//   - broken: broken is set, there is no session, or a session's or the
//     pooled speedup is not computable (not Valid);
//   - unstable: one session is faster and another slower;
//   - no_speedup: no session shows a speedup and the pooled CI is valid
//     and lies at or below 1+band;
//   - unstable: every session is faster and the pooled CI lies above
//     1+band, but some session's Mann–Whitney test is not significant
//     (Speedup.Significant, at o's alpha): the verdict rule needs both;
//   - stable: every session is faster, significant, and the pooled CI
//     lies above 1+band;
//   - unstable otherwise: some session shows a speedup that another does
//     not confirm, the pooled CI straddles 1+band, or the pooled CI could
//     not be computed.
func Classify(sessions []Speedup, pooled Speedup, broken bool, reason string, o Options) Classification {
	o = o.normalize()
	hiBand, loBand := 1+o.Band, 1/(1+o.Band)
	c := Classification{Band: o.Band, Sides: make([]SessionSide, len(sessions))}
	faster, slower, showing, significant := 0, 0, 0, 0
	invalid := -1
	for i, s := range sessions {
		c.Sides[i] = sideOf(s)
		switch c.Sides[i] {
		case SideFaster:
			faster++
			if s.Ratio > hiBand {
				showing++
			}
			if s.Significant {
				significant++
			}
		case SideSlower:
			slower++
		}
		if !s.Valid && invalid < 0 {
			invalid = i
		}
	}
	pooledOut := pooled.CIValid && (pooled.Lo > hiBand || pooled.Hi < loBand)
	c.Agree = len(sessions) > 0 && (faster == len(sessions) || slower == len(sessions)) && pooledOut
	iv := func(s Speedup) string {
		if !s.CIValid {
			return fmt.Sprintf("%.4g (no CI)", s.Ratio)
		}
		return fmt.Sprintf("%.4g [%.4g, %.4g]", s.Ratio, s.Lo, s.Hi)
	}
	n := len(sessions)
	switch {
	case broken:
		c.Class, c.Reason = ClassBroken, reason
		if c.Reason == "" {
			c.Reason = "setup, correctness or the workload failed"
		}
	case n == 0:
		c.Class, c.Reason = ClassBroken, "no timed session"
	case invalid >= 0:
		c.Class, c.Reason = ClassBroken, fmt.Sprintf("session %d: speedup not computable", invalid+1)
	case !pooled.Valid:
		c.Class, c.Reason = ClassBroken, "pooled speedup not computable"
	case faster > 0 && slower > 0:
		c.Class = ClassUnstable
		c.Reason = fmt.Sprintf("sessions disagree: faster in %d, slower in %d of %d", faster, slower, n)
	case showing == 0 && pooled.CIValid && pooled.Hi <= hiBand:
		c.Class = ClassNoSpeedup
		c.Reason = fmt.Sprintf("no session faster beyond %.4g; pooled %s", hiBand, iv(pooled))
	case faster == n && significant < n && pooled.CIValid && pooled.Lo > hiBand:
		// The verdict rule calls a win only when the test is significant
		// too: a CI above 1 without it (too few rounds) is not a win.
		c.Class = ClassUnstable
		c.Reason = fmt.Sprintf("faster in %d of %d sessions, but the Mann–Whitney test is significant (p <= %g) in only %d; pooled %s", n, n, o.Alpha, significant, iv(pooled))
	case faster == n && pooled.CIValid && pooled.Lo > hiBand:
		c.Class = ClassStable
		c.Reason = fmt.Sprintf("faster in %d of %d sessions; pooled %s above %.4g", n, n, iv(pooled), hiBand)
	case !pooled.CIValid:
		c.Class, c.Reason = ClassUnstable, "pooled CI not computable"
	case faster < n:
		c.Class = ClassUnstable
		c.Reason = fmt.Sprintf("faster in %d of %d sessions (beyond the band in %d); pooled %s", faster, n, showing, iv(pooled))
	default:
		c.Class = ClassUnstable
		c.Reason = fmt.Sprintf("faster in every session (beyond the band in %d), but the pooled %s is not above %.4g", showing, iv(pooled), hiBand)
	}
	return c
}

// Bounds of the CPU-over-wall ratio within which a workload counts as
// single-threaded and never waiting (CPU time ≈ wall time).
const (
	CPUWallLow  = 0.9
	CPUWallHigh = 1.1
)

// Metric names [RecommendMetric] chooses between, and instructions, which
// [MetricAdvice.For] advises on as well.
const (
	MetricWall         = "wall"
	MetricCPU          = "cpu"
	MetricInstructions = "instructions"
)

// MetricAdvice is the metric recommended for an item, as calibration.json
// would hold it.
type MetricAdvice struct {
	// Metric is MetricCPU or MetricWall.
	Metric string `json:"metric"`
	// CPUOverWall is the 90th percentile of the baseline's per-run
	// (user+system)/(wall − run-queue delay) ratios; 0 when unknown.
	CPUOverWall float64 `json:"cpu_over_wall"`
	// SingleThreaded is CPUOverWall within [CPUWallLow, CPUWallHigh].
	SingleThreaded bool `json:"single_threaded"`
	// Agree says the wall and CPU human-over-base speedups agree: not
	// significant in opposite directions, and within the band of each
	// other (|ln(cpu/wall)| <= ln(1+band)).
	Agree  bool   `json:"agree"`
	Reason string `json:"reason"`
	// Configured is the task's metric and Use the one advised for it
	// ([MetricAdvice.For]); empty in files of older harnesses.
	Configured string `json:"configured,omitempty"`
	Use        string `json:"use,omitempty"`
}

// For sets the advice for a task whose metric is configured: for wall or
// CPU time, Metric (CPU time only when the baseline is single-threaded
// and both metrics agree on the human commit). Instruction counts stand
// in for CPU time (they see what CPU time sees, without its noise): kept
// when Metric is CPU time, else wall time — work that is parallel or
// waits is as wrong for instructions as for CPU time. A metric the
// workload reports itself (regex, json) is kept: it is the task's own
// figure, and Metric says only which time metric would suit the runs.
func (a *MetricAdvice) For(configured string) {
	a.Configured, a.Use = configured, a.Metric
	switch configured {
	case MetricWall, MetricCPU:
	case MetricInstructions:
		if a.Metric == MetricCPU {
			a.Use = MetricInstructions
		}
	default:
		a.Use = configured
	}
}

// MinMainCPUShare is the share of a process tree's CPU time its main
// process must have used for [TreeRunDelay] to scale the main process's
// run delay to the tree.
const MinMainCPUShare = 0.25

// TreeRunDelay estimates how long a workload's whole process tree waited
// for a CPU while runnable, from what the launcher can read: delay and
// mainCPU, its main process's run delay and own time on a CPU
// (/proc/<pid>/schedstat, read before the reap; a descendant's is gone by
// then), and treeCPU, the tree's user + system time. The descendants ran
// on the same CPU (the launcher pins the tree) against the same
// competitors, so they are taken to have waited in the same proportion to
// the CPU they used — when the main process did at least MinMainCPUShare
// of the tree's work (a shell that execs the workload did all of it; one
// that forks a child and waits did next to none, and its few wake-ups say
// little about the child's waits). Otherwise, and when mainCPU is unknown
// (0), it is the main process's delay alone: a lower bound, which errs
// towards wall time in [RecommendMetric].
func TreeRunDelay(delay, mainCPU, treeCPU float64) float64 {
	if delay <= 0 || mainCPU <= 0 || treeCPU <= mainCPU || mainCPU < MinMainCPUShare*treeCPU {
		return max(delay, 0)
	}
	return delay * treeCPU / mainCPU
}

// RecommendMetric recommends the metric of an item: CPU time (user +
// system of the workload's process tree) only when the baseline is
// single-threaded — its CPU time is close to its wall time — and both
// metrics agree on the human commit; wall time otherwise. CPU time is
// wrong for a patch that gains by parallelism (more CPU, less wall) or by
// waiting less (I/O, sleeps): the two checks catch those, the first on the
// baseline, the second on the human commit.
//
// baseWall and baseCPU are the baseline's timed runs, in the same order
// (run i's wall and user+system seconds), baseDelay their estimated
// run-queue delays ([TreeRunDelay]; nil when not measured); humanWall and
// humanCPU are the human-over-base speedups on each metric. A run's ratio
// is its CPU time over its wall time less the delay: on a loaded machine a
// CPU-bound workload waits for a CPU another task holds, which inflates
// its wall time without being I/O or a sleep — the ratio the workload
// would show alone (at most 1: a delay summed over tasks that waited at
// once can exceed the time the tree did not run; a ratio above 1 —
// parallel work — is read from the raw one). The ratio used is the 90th percentile of the runs',
// not their median: some runs wait more than the delay shows (a
// descendant's own waits, when they cannot be scaled), and the
// least-disturbed runs show the workload's own ratio.
//
// The metrics agree on the human commit when they are not significant in
// opposite directions and the CPU speedup is within the band of the wall
// one, or inside the wall speedup's confidence interval on the same side of 1:
// under load wall time spreads, and a CPU speedup wall time cannot tell
// apart from its own is no disagreement (one in the other direction is).
func RecommendMetric(baseWall, baseCPU, baseDelay []float64, humanWall, humanCPU Speedup, o Options) MetricAdvice {
	o = o.normalize()
	a := MetricAdvice{Metric: MetricWall}
	var ratios []float64
	if len(baseWall) == len(baseCPU) {
		for i, w := range baseWall {
			r := baseCPU[i] / w
			if len(baseDelay) == len(baseWall) && baseDelay[i] > 0 && r <= 1 {
				// The delay is a sum over the tree's tasks: two that
				// waited at once count twice, so it can exceed the time
				// the tree did not run; without it the ratio is at most 1.
				if rest := w - baseDelay[i]; rest > baseCPU[i] {
					r = baseCPU[i] / rest
				} else {
					r = 1
				}
			}
			if w > 0 && baseCPU[i] > 0 && isFinite(r) {
				ratios = append(ratios, r)
			}
		}
	}
	if len(ratios) == 0 {
		a.Reason = "no CPU times for the baseline's runs"
		return a
	}
	slices.Sort(ratios)
	a.CPUOverWall = quantileSorted(ratios, 0.9)
	a.SingleThreaded = a.CPUOverWall >= CPUWallLow && a.CPUOverWall <= CPUWallHigh
	opposite := humanWall.Significant && humanCPU.Significant && (humanWall.Ratio > 1) != (humanCPU.Ratio > 1)
	withinBand := math.Abs(math.Log(humanCPU.Ratio/humanWall.Ratio)) <= math.Log1p(o.Band)
	sameSide := (humanWall.Ratio >= 1) == (humanCPU.Ratio >= 1)
	withinCI := humanWall.CIValid && sameSide && humanCPU.Ratio >= humanWall.Lo && humanCPU.Ratio <= humanWall.Hi
	a.Agree = humanWall.Valid && humanCPU.Valid && !opposite && (withinBand || withinCI)
	switch {
	case a.CPUOverWall > CPUWallHigh:
		a.Reason = fmt.Sprintf("baseline uses more CPU than wall time (cpu/wall %.3g > %.3g): parallel", a.CPUOverWall, CPUWallHigh)
	case a.CPUOverWall < CPUWallLow:
		a.Reason = fmt.Sprintf("baseline waits (cpu/wall %.3g < %.3g): I/O, sleeps or children not counted", a.CPUOverWall, CPUWallLow)
	case !humanWall.Valid || !humanCPU.Valid:
		a.Reason = "human speedup not computable on both metrics"
	case !a.Agree:
		a.Reason = fmt.Sprintf("wall and CPU disagree on the human commit (%.4g vs %.4g)", humanWall.Ratio, humanCPU.Ratio)
	default:
		a.Metric = MetricCPU
		a.Reason = fmt.Sprintf("single-threaded baseline (cpu/wall %.3g) and both metrics agree on the human commit (%.4g vs %.4g)",
			a.CPUOverWall, humanWall.Ratio, humanCPU.Ratio)
	}
	return a
}
