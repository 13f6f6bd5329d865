package evaluate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
	"github.com/perfbench/perfbench/internal/textx"
)

// InstructionRounds is how many rounds of counted runs a secondary
// instructions metric gets (fewer when the evaluation has fewer rounds):
// one run per arm per round, in the rotated order, after the timed
// rounds. Counts vary by well under 1% between runs, so 5 rounds find a
// 5% change, while valgrind slows each run ~50×.
const InstructionRounds = 5

// countFor is the CommandSpec.Count of a run measuring metric: the
// counter of the item once a run picked it, so that every count of an
// item comes from one method.
func (it *itemRun) countFor(metric string) string {
	if metric != records.MetricInstructions {
		return ""
	}
	if it.counter == "" {
		return CounterAuto
	}
	return it.counter
}

// noteCounter keeps the counter a counted run used.
func (it *itemRun) noteCounter(cr CommandResult, env *records.Environment) {
	if cr.CountMethod != "" && cr.CountError == "" && cr.OK() {
		it.counter = cr.CountMethod
		env.InstructionsMethod = cr.CountMethod
	}
}

// secondaryRounds counts the instructions of every arm still in, in runs
// of their own, when secondary_metrics has instructions. A failed count
// does not fail the arm (the verdict is the metric's): it ends the
// counted rounds, and the secondary statistics say why.
func (it *itemRun) secondaryRounds(ctx context.Context, env *records.Environment, pin []int) error {
	s := it.spec
	if !slices.Contains(s.SecondaryMetrics, records.MetricInstructions) || it.over() {
		return nil
	}
	n := min(InstructionRounds, s.Rounds)
	for r := 0; r < n; r++ {
		for pos, a := range Rotate(it.live(), r) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			dir := it.path(a)
			t0 := time.Now()
			cr, err := it.runner.Run(ctx, CommandSpec{
				Script: it.expandCmd(s.Workload, dir, r), Arm: a.id, Dir: dir, Env: it.armEnv(a, dir),
				Timeout: s.Timeout.D(), CPUs: pin, Timed: true, TempDir: it.priv,
				Count: it.countFor(records.MetricInstructions),
			})
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				return fmt.Errorf("counted workload on the %s: %w", a.name, err)
			}
			it.noteCounter(cr, env)
			v, verr := instructionsOf(cr)
			if !cr.OK() {
				verr = fmt.Errorf("the workload failed under the counter on the %s: %s", a.name, cr.Describe(s.Timeout.D()))
			}
			if verr != nil {
				it.countErr = textx.Truncate(it.e.secrets.ScrubString(fmt.Sprintf("round %d: %v", r, verr)), 300)
				return nil
			}
			it.res.SecondarySamples = append(it.res.SecondarySamples, records.Sample{
				Arm: a.kind, Sample: it.sampleOf(a), Round: r, Position: pos, Metric: records.MetricInstructions,
				Value: v, WallSeconds: cr.Wall.Seconds(), UserSeconds: cr.User.Seconds(), SysSeconds: cr.Sys.Seconds(),
				CPUTimes: cr.CPUTimes, Pinned: cr.Pinned, ExitCode: cr.ExitCode, OffsetSeconds: time.Since(t0).Seconds(),
			})
		}
	}
	return nil
}

// Secondary computes the statistics of spec's secondary metrics for
// candidate k (k < 0: the one-candidate layout, whose agent samples are
// all the candidate's) like the metric's, and whether one disagrees with
// primary, the metric's statistics. method and countErr describe the
// instruction counts (the environment's method, why they are missing).
func Secondary(r *records.Eval, k int, primary *stats.ThreeWay, spec *Spec, method, countErr string) (out []records.SecondaryStats, disagree bool) {
	o := spec.Options()
	// Times and counts are all lower-is-better, whatever the metric is.
	o.Better = stats.LowerIsBetter
	for _, m := range spec.SecondaryMetrics {
		ss := records.SecondaryStats{Metric: m}
		samples, value := r.Samples, func(s records.Sample) (float64, bool) { return s.WallSeconds, true }
		switch m {
		case records.MetricCPU:
			value = func(s records.Sample) (float64, bool) { return s.UserSeconds + s.SysSeconds, s.CPUTimes }
		case records.MetricInstructions:
			ss.Method = method
			samples, value = r.SecondarySamples, func(s records.Sample) (float64, bool) { return s.Value, s.Metric == m }
		}
		base, okB := armValues(samples, records.ArmBase, -1, value)
		human, okH := armValues(samples, records.ArmHuman, -1, value)
		agent, okA := armValues(samples, records.ArmAgent, k, value)
		switch {
		case m == records.MetricInstructions && countErr != "":
			ss.Error = countErr
		case !okB || !okH || !okA:
			ss.Error = m + " not measured for every run"
		case len(base) == 0 || len(agent) == 0:
			ss.Error = "no runs"
		default:
			st := stats.Analyze(base, human, agent, o)
			ss.Stats = &st
			ss.Disagrees = primary != nil && disagrees(spec.Metric.Kind, m, primary.AgentOverBase, st.AgentOverBase, o.Band)
			disagree = disagree || ss.Disagrees
		}
		out = append(out, ss)
	}
	return out, disagree
}

// disagrees reports whether secondary metric m's speedup s contradicts
// the speedup p of the item's metric (of kind metric): both significant
// and on opposite sides of 1 (any two metrics), or — between wall and CPU
// time, which come from the same runs — p a significant gain beyond the
// band that s does not bear out (see unconfirmed).
func disagrees(metric, m string, p, s stats.Speedup, band float64) bool {
	if opposite(p, s) {
		return true
	}
	wallCPU := (metric == records.MetricWall && m == records.MetricCPU) || (metric == records.MetricCPU && m == records.MetricWall)
	return wallCPU && unconfirmed(p, s, band)
}

// unconfirmed reports whether p is a significant gain beyond the band
// (ratio above 1+band) that s falls short of by more than the band (its
// ratio below p's / (1+band): no gain, a gain within the band, or a much
// smaller one) with the two confidence intervals apart (s's wholly below
// p's). The disjoint intervals keep noise from firing it: an honest
// candidate that is simply faster has about the same ratio on both
// metrics, and two ratios a band apart are often just noise with few
// rounds; a gain by parallelism or by waiting less (wall faster, CPU time
// not), or by work CPU time does not see (a server started in setup),
// leaves s far below p.
func unconfirmed(p, s stats.Speedup, band float64) bool {
	hi := 1 + band
	if !p.Valid || !p.Significant || p.Ratio <= hi || !p.CIValid || !s.Valid || !s.CIValid {
		return false
	}
	return s.Ratio*hi < p.Ratio && s.Hi < p.Lo
}

// opposite reports whether two speedups are both significant and on
// opposite sides of 1.
func opposite(a, b stats.Speedup) bool {
	return a.Valid && b.Valid && a.Significant && b.Significant && (a.Ratio-1)*(b.Ratio-1) < 0
}

// armValues are the values of an arm's timed samples (k ≥ 0: the agent
// samples of candidate k only); ok is false when one has none.
func armValues(samples []records.Sample, arm records.Arm, k int, value func(records.Sample) (float64, bool)) (vals []float64, ok bool) {
	for _, s := range samples {
		if s.Arm != arm || s.Warmup || (k >= 0 && s.Sample != k) {
			continue
		}
		v, has := value(s)
		if !has {
			return nil, false
		}
		vals = append(vals, v)
	}
	return vals, true
}

// regradeSecondary are the secondary metrics a regrade computes: the
// configuration's wall and cpu (the stored samples have both, also in a
// file of an older harness) and instructions only when they were counted
// (they need runs of their own), never the stored metric itself, and
// nothing beside a stored instructions metric (its runs were counted).
func regradeSecondary(now, stored []string, metric string) []string {
	var out []string
	for _, m := range now {
		if m == metric || metric == records.MetricInstructions {
			continue
		}
		if m != records.MetricInstructions || slices.Contains(stored, m) {
			out = append(out, m)
		}
	}
	return out
}

// storedCountErr is why a stored result has no instruction counts, for
// a regrade.
func storedCountErr(prev []records.SecondaryStats) string {
	for _, s := range prev {
		if s.Metric == records.MetricInstructions {
			return s.Error
		}
	}
	return ""
}

// countsInstructions reports whether a group of todo counts instructions.
func countsInstructions(todo []*group) bool {
	for _, g := range todo {
		if g.spec != nil && (g.spec.Metric.Kind == records.MetricInstructions || slices.Contains(g.spec.SecondaryMetrics, records.MetricInstructions)) {
			return true
		}
	}
	return false
}

// HostCounter says how this machine counts instructions: perf when the
// kernel exposes the counter, else cachegrind when valgrind is installed;
// ok is false when neither, and detail says why (or what was found).
func HostCounter() (method, detail string, ok bool) {
	dir, err := os.MkdirTemp("", "perfbench-perf-probe-")
	if err != nil {
		return "", err.Error(), false
	}
	defer os.RemoveAll(dir)
	perfOK, why := probePerf(dir)
	if perfOK {
		return records.CounterPerf, "perf stat counts the instructions counter", true
	}
	if p, err := exec.LookPath("valgrind"); err == nil {
		return records.CounterCachegrind, fmt.Sprintf("valgrind (%s) with cachegrind; perf: %s", p, why), true
	}
	return "", fmt.Sprintf("no valgrind in PATH, and perf: %s (apt-get install valgrind)", why), false
}

// hostCounter checks that this machine can count instructions.
func hostCounter() error {
	if _, detail, ok := HostCounter(); !ok {
		return badinput.Errorf("the instructions metric needs perf with the kernel's instructions counter or valgrind: %s", detail)
	}
	return nil
}

// delayProbes runs the baseline's workload it.e.o.DelayProbes times
// after the other rounds, traced (CounterSched) for the run-queue delay
// and CPU time of its whole tree: what calibrate's metric advice needs to
// tell a workload that waits for a CPU another task holds from one that
// waits for I/O. A probe that cannot trace (no ptrace in a container,
// say) ends the probes without failing the item; the advice then falls
// back on the timed runs' main-process delays.
func (it *itemRun) delayProbes(ctx context.Context, pin []int) error {
	n := it.e.o.DelayProbes
	if n <= 0 || it.over() {
		return nil
	}
	var base *arm
	for _, a := range it.live() {
		if a.kind == records.ArmBase {
			base = a
		}
	}
	if base == nil {
		return nil
	}
	s := it.spec
	dir := it.path(base)
	for r := 0; r < n; r++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		cr, err := it.runner.Run(ctx, CommandSpec{
			Script: it.expandCmd(s.Workload, dir, r), Arm: base.id, Dir: dir, Env: it.armEnv(base, dir),
			Timeout: s.Timeout.D(), CPUs: pin, Timed: true, TempDir: it.priv, Count: CounterSched,
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil || !cr.OK() || cr.CountError != "" || !cr.TreeKnown {
			return nil
		}
		it.res.SecondarySamples = append(it.res.SecondarySamples, records.Sample{
			Arm: base.kind, Round: r, Metric: records.MetricRunQueue, Value: cr.TreeDelay.Seconds(),
			WallSeconds: cr.Wall.Seconds(), UserSeconds: cr.User.Seconds(), SysSeconds: cr.Sys.Seconds(), CPUTimes: cr.CPUTimes,
			RunDelaySeconds: cr.TreeDelay.Seconds(), RunDelayKnown: true, RunCPUSeconds: cr.TreeCPU.Seconds(),
			Pinned: cr.Pinned, ExitCode: cr.ExitCode, OffsetSeconds: time.Since(t0).Seconds(),
		})
	}
	return nil
}
