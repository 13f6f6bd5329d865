package evaluate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/stats"
	"github.com/perfbench/perfbench/internal/workspace"
)

// Unit is one sample of one plan item to evaluate.
type Unit struct {
	Item   plan.Item
	Sample int
	// Dir is the item directory; eval.json is written there.
	Dir string
	// Name is the directory's base name ("<item>" or "<item>.s<k>").
	Name string
	// Patch is the agent's patch; empty means it changed nothing.
	Patch []byte
	// Samples is the run's number of samples per item (0 or 1: one).
	// With several, the item's units are evaluated together (group).
	Samples int
}

// Options configure an evaluation.
type Options struct {
	RunID string
	Task  *config.Task
	Bench *config.Bench
	// RepoURL is the repository of the plan (plan.RepoURL).
	RepoURL string
	Units   []Unit
	// Regrade recomputes the statistics of every stored eval.json from its
	// samples and runs nothing.
	Regrade bool
	// DelayProbes is how many probe runs of the baseline follow the timed
	// (and counted) rounds of every item, traced for the whole tree's
	// run-queue delay (CounterSched; Eval.SecondarySamples with metric
	// records.MetricRunQueue): calibrate's metric advice. 0: none.
	DelayProbes int
	// MaxParallelSetup is how many items may be in their untimed phases
	// (workspaces, setup, correctness) at once, overlapping another item's
	// timing on the CPUs timing does not use (default 1: one item at a
	// time).
	MaxParallelSetup int
	// TimingSlots is how many evaluations may time at once on this
	// machine, each pinned to its own CPU (default 1).
	TimingSlots int
	// LockDir holds the timing locks (default DefaultLockDir()).
	LockDir string
	// Runner runs the commands (default &Host{}).
	Runner Runner
	// ProcessEnv is the harness's environment; commands get it plus the
	// .env values of bench.yaml, minus the web-search API keys.
	ProcessEnv []string
	Now        func() time.Time
	// Log receives progress lines and diagnostics (stderr).
	Log io.Writer
	// Progress, when set, is told of the items and their rounds (a live
	// bar on a terminal; Log stays the plain lines).
	Progress Progress
	// SharedTmpDirs are the host's temporary directories every arm shares,
	// watched on the host like its HOME (nil: DefaultSharedTmpDirs; an
	// empty list watches none).
	SharedTmpDirs []string
	// Calibration, when set, is the plan's calibration.json: each item's
	// result line says its class (a verdict on an item whose human speedup
	// does not reproduce says little).
	Calibration *records.Calibration
}

// DefaultSharedTmpDirs are the host directories a candidate could keep a
// cache in outside its workspace, HOME and TMPDIR.
var DefaultSharedTmpDirs = []string{"/tmp", "/var/tmp", "/dev/shm"}

// Progress follows an evaluation: Start with the items to evaluate and
// those already done (a resumed run continues its count), Begin when an
// item's work starts (workspaces, setup, correctness), Round before each
// round of an item (warm-up included, 1-based), Done after each item
// whatever its result. An item is a plan item: with samples its
// candidates are timed together.
type Progress interface {
	Start(total, done int)
	Begin(item string)
	Round(item string, r, rounds int)
	Done(item string)
}

// Summary is the outcome of Run.
// Total, Skipped, Evaluated, Regraded and Counts count units (samples).
type Summary struct {
	Total     int
	Skipped   int
	Evaluated int
	Regraded  int
	Counts    map[records.EvalStatus]int
	// Missing are units left without an eval.json that matches.
	Missing []string
	// TaskProblems are "<unit>: <reason>" for units whose baseline or
	// human arm failed: the task or the machine needs fixing.
	TaskProblems []string
	// Failures are "<unit>: <error>" for units the harness could not
	// evaluate (git, disk).
	Failures []string
	// Held are "<unit>: held by <process>" for units another process was
	// evaluating (this one left them alone).
	Held        []string
	Interrupted bool
}

type evaluator struct {
	o           Options
	specs       []*Spec
	groups      []*group
	mirror      *workspace.Mirror
	secrets     *secrets.Set
	baseEnv     []string
	root        string
	lockDir     string
	timingCPUs  []int
	untimedCPUs []int
	// harnessRestricted is set when this process runs on untimedCPUs
	// only (and every command it starts inherits that).
	harnessRestricted bool
	pinErr            error

	mu      sync.Mutex
	summary *Summary
	done    int
	// held are the units another process held (mu).
	held map[string]bool
}

// Run evaluates every unit that has no matching eval.json (or, with
// Regrade, recomputes the statistics of those that have one). Problems of
// the input (no workload, a missing evaluation file, an image) are bad
// input returned before anything runs. An interruption returns the summary
// with Interrupted set and no error; the unit in progress leaves no
// eval.json.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Runner == nil {
		o.Runner = &Host{}
	}
	if o.MaxParallelSetup < 1 {
		o.MaxParallelSetup = 1
	}
	if o.LockDir == "" {
		o.LockDir = DefaultLockDir()
	}
	e := &evaluator{o: o, lockDir: o.LockDir, summary: &Summary{Total: len(o.Units), Counts: map[records.EvalStatus]int{}}}
	for _, u := range o.Units {
		spec, err := ResolveSpec(o.Task, u.Item)
		if err != nil {
			if o.Regrade {
				// Regrade can still use the stored configuration.
				e.specs = append(e.specs, nil)
				continue
			}
			return nil, err
		}
		if spec.Image != "" && !o.Regrade {
			if ir, ok := o.Runner.(interface{ ImageRef() string }); !ok || ir.ImageRef() != spec.Image {
				return nil, badinput.Errorf("item %s: environment.image %s needs the container runner (this evaluation uses %s)", u.Item.ID, spec.Image, o.Runner.Name())
			}
		}
		if spec.hash, err = spec.Hash(); err != nil {
			return nil, badinput.Errorf("item %s: %v", u.Item.ID, err)
		}
		e.specs = append(e.specs, spec)
	}
	e.groups = groupUnits(o.Units, e.specs)
	if o.Regrade {
		return e.regrade()
	}
	return e.run(ctx)
}

func (e *evaluator) run(ctx context.Context) (*Summary, error) {
	o := e.o
	var err error
	e.secrets = secrets.FromEnv(mergedEnv(o.ProcessEnv, o.Bench.Env), o.Bench.Secrets)
	e.baseEnv = secrets.FilterEnv(mergedEnv(o.ProcessEnv, o.Bench.Env), secrets.SearchKeyDenyList)
	if e.root, err = o.Bench.PrivateRoot(); err != nil {
		return nil, err
	}
	sweepStale(e.root, o.Log)
	e.timingCPUs, e.untimedCPUs, e.pinErr = timingCPUs(o.TimingSlots)
	if e.pinErr != nil {
		fmt.Fprintf(o.Log, "warning: timed runs will not be pinned to a CPU: %v\n", e.pinErr)
	}
	if len(e.untimedCPUs) == 0 {
		e.untimedCPUs = nil
	} else if restore, err := restrictProcess(e.untimedCPUs); err == nil {
		// Everything this process starts inherits the mask.
		defer restore()
		e.harnessRestricted = true
	} else {
		fmt.Fprintf(o.Log, "warning: the harness cannot keep off the timing CPU: %v\n", err)
	}

	var todo []*group
	skipped := 0
	for _, g := range e.groups {
		if views := e.stored(g); views != nil {
			skipped++
			e.summary.Skipped += len(views)
			e.count(views)
			continue
		}
		todo = append(todo, g)
	}
	if _, ok := o.Runner.(ItemRunner); !ok && countsInstructions(todo) {
		if err := hostCounter(); err != nil {
			return nil, err
		}
	}
	if ir, ok := o.Runner.(ItemRunner); ok && len(todo) > 0 {
		if err := ir.Prepare(ctx, PrepareInfo{RunID: o.RunID, Env: e.baseEnv, Log: o.Log, Counter: countsInstructions(todo)}); err != nil {
			if ctx.Err() != nil {
				e.summary.Interrupted = true
				return e.finish(), nil
			}
			return nil, err
		}
	}
	if len(todo) > 0 {
		if e.mirror, err = workspace.OpenMirror(ctx, o.Bench.Paths.WorkRoot, o.RepoURL); err != nil {
			if ctx.Err() != nil {
				e.summary.Interrupted = true
				return e.finish(), nil
			}
			return nil, fmt.Errorf("repository %s: %w", o.RepoURL, err)
		}
	}
	fmt.Fprintf(o.Log, "evaluating %d item(s), %d already done\n", len(todo), skipped)
	if o.Progress != nil {
		o.Progress.Start(len(todo)+skipped, skipped)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.MaxParallelSetup)
	for _, gr := range todo {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return e.one(gctx, gr, len(todo)) })
	}
	werr := g.Wait()
	if n := len(e.summary.Held); n > 0 {
		fmt.Fprintf(o.Log, "skipped %d item(s) held by other processes\n", n)
	}
	e.summary.Interrupted = ctx.Err() != nil
	if werr != nil && !errors.Is(werr, context.Canceled) {
		return e.finish(), werr
	}
	return e.finish(), nil
}

// one evaluates a group and records its result. It returns an error only
// when results cannot be written (the run must stop).
func (e *evaluator) one(ctx context.Context, g *group, total int) error {
	if ctx.Err() != nil {
		return nil
	}
	if e.o.Progress != nil {
		defer e.o.Progress.Done(g.name)
	}
	release, ok, err := e.claimGroup(g)
	if !ok {
		return err
	}
	defer release()
	if e.o.Progress != nil {
		e.o.Progress.Begin(g.name)
	}
	if views := e.stored(g); views != nil {
		// Another process evaluated it after this one made its list.
		e.mu.Lock()
		e.summary.Skipped += len(views)
		e.count(views)
		e.mu.Unlock()
		fmt.Fprintf(e.o.Log, "%s: skipped: evaluated by another process\n", g.name)
		return nil
	}
	t0 := e.o.Now()
	res, err := e.evaluate(ctx, g)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		e.mu.Lock()
		e.summary.Failures = append(e.summary.Failures, g.name+": "+err.Error())
		e.mu.Unlock()
		fmt.Fprintf(e.o.Log, "%s: not evaluated: %v\n", g.name, err)
		return nil
	}
	if err := os.MkdirAll(g.dir, 0o755); err != nil {
		return fmt.Errorf("item %s: %w", g.name, err)
	}
	if err := journal.WriteEval(g.dir, res); err != nil {
		return fmt.Errorf("item %s: %w", g.name, err)
	}
	e.dropSuperseded(g)
	views := e.views(g, res)
	e.mu.Lock()
	e.done++
	n := e.done
	e.summary.Evaluated += len(views)
	e.count(views)
	e.mu.Unlock()
	took := e.o.Now().Sub(t0).Round(100 * time.Millisecond)
	if !g.itemLayout {
		fmt.Fprintf(e.o.Log, "[%d/%d] %s %s in %s%s%s\n", n, total, g.name, res.Status, took, describe(res), e.calibrationNote(g, res))
		return nil
	}
	fmt.Fprintf(e.o.Log, "[%d/%d] %s: %d candidate(s) timed together in %s%s\n", n, total, g.name, len(views), took, e.calibrationNote(g, res))
	for j, v := range views {
		fmt.Fprintf(e.o.Log, "  %s %s%s\n", e.o.Units[g.units[j]].Name, v.Status, describe(v))
	}
	return nil
}

// calibrationNote is "; calibration: <class>" for an item that
// calibration.json holds for this version of the item and of its
// evaluation section (matched like the reports match it), else "".
func (e *evaluator) calibrationNote(g *group, res *records.Eval) string {
	class, c := e.o.Calibration.ClassFor(e.o.Units[g.units[0]].Item.ID, res.PlanItemHash, res.ConfigHash, res.Config.Band, res.Config.Alpha)
	switch class {
	case "":
		return ""
	case stats.ClassStable:
		return "; calibration: stable"
	case records.CalibrationStale:
		return fmt.Sprintf("; calibration: stale (analysed at band %g, alpha %g: run bench calibrate again, it re-analyses the stored samples)", c.Band, c.Alpha)
	}
	return "; calibration: " + string(class) + " (not stable: the verdict says little)"
}

// views are a group's result as one evaluation per unit.
func (e *evaluator) views(g *group, res *records.Eval) []*records.Eval {
	if !g.itemLayout {
		return []*records.Eval{res}
	}
	out := make([]*records.Eval, 0, len(g.units))
	for _, i := range g.units {
		if v := res.SampleView(e.o.Units[i].Sample); v != nil {
			out = append(out, v)
		}
	}
	return out
}

// describe is ": human 2.01x, agent 1.98x [1.95, 2.02], match" or
// ": <reason>".
func describe(r *records.Eval) string {
	if r.Stats == nil {
		if r.Reason != "" {
			return ": " + r.Reason
		}
		return ""
	}
	s := r.Stats
	return fmt.Sprintf(": human %s, agent %s %s, %s", ratio(s.HumanOverBase.Ratio, s.HumanOverBase.Valid),
		ratio(s.AgentOverBase.Ratio, s.AgentOverBase.Valid), ci(s.AgentOverBase.Lo, s.AgentOverBase.Hi, s.AgentOverBase.CIValid),
		stats.VerdictText(s.Verdict.Outcome, s.Verdict.Significant, s.Verdict.Label))
}

func ratio(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "x"
}

func ci(lo, hi float64, ok bool) string {
	if !ok {
		return "[-]"
	}
	return fmt.Sprintf("[%.2f, %.2f]", lo, hi)
}

// matches reports whether a stored result is the evaluation of this unit
// with this configuration, and final.
func (e *evaluator) matches(r *records.Eval, u Unit, spec *Spec) bool {
	return r.PlanItemHash == u.Item.Hash() && r.PatchHash == PatchHash(u.Patch) &&
		r.ConfigHash == spec.hash && r.Status.Done()
}

func (e *evaluator) finish() *Summary {
	s := e.summary
	for _, g := range e.groups {
		problem := ""
		for _, i := range g.units {
			u := e.o.Units[i]
			if e.held[u.Name] {
				// The other process's to report.
				continue
			}
			r, err := journal.ReadSampleEval(u.Dir)
			if err != nil {
				s.Missing = append(s.Missing, u.Name)
				continue
			}
			if (r.Status == records.EvalBaseFailed || r.Status == records.EvalHumanFailed) && problem == "" {
				// One problem per item: its candidates share the arm that failed.
				problem = fmt.Sprintf("%s: %s: %s", g.name, r.Status, r.Reason)
				s.TaskProblems = append(s.TaskProblems, problem)
			}
		}
	}
	return s
}

// regrade recomputes the statistics of every stored result, in the
// layout it was written in.
func (e *evaluator) regrade() (*Summary, error) {
	for _, g := range e.groups {
		release, ok, err := e.claimGroup(g)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		err = e.regradeGroup(g)
		release()
		if err != nil {
			return nil, err
		}
	}
	return e.finish(), nil
}

// regradeGroup regrades one group: its item layout's file, or each of its
// units' own (the one-candidate layout, and the per-sample layout of an
// older harness).
func (e *evaluator) regradeGroup(g *group) error {
	s := e.summary
	if g.itemLayout {
		r, err := journal.ReadEval(g.dir)
		if err != nil && !os.IsNotExist(err) {
			return badinput.Wrap(err)
		}
		if r != nil && r.Candidates != nil {
			spec := e.regradeSpec(g.spec, r)
			for i := range r.Candidates {
				c := &r.Candidates[i]
				if c.Status == records.EvalSuccess {
					st := AnalyzeSample(r.Samples, c.Sample, spec)
					records.GateOptFlags(&st, c.Patch)
					c.Stats = &st
					c.Flags = withFlag(c.Flags, records.FlagNoisy, st.Noisy)
					var disagree bool
					c.Secondary, disagree = Secondary(r, c.Sample, &st, spec, r.Environment.InstructionsMethod, storedCountErr(c.Secondary))
					c.Flags = withFlag(c.Flags, records.FlagMetricsDisagree, disagree)
				}
			}
			r.Config.Band, r.Config.Alpha, r.Config.SecondaryMetrics = spec.Band, spec.Alpha, spec.SecondaryMetrics
			r.RegradedAt = e.o.Now().UTC()
			if err := journal.WriteEval(g.dir, r); err != nil {
				return err
			}
			for _, i := range g.units {
				u := e.o.Units[i]
				v := r.SampleView(u.Sample)
				if v == nil {
					s.Missing = append(s.Missing, u.Name)
					continue
				}
				s.Regraded++
				s.Counts[v.Status]++
				fmt.Fprintf(e.o.Log, "%s %s (regraded)%s\n", u.Name, v.Status, describe(v))
			}
			return nil
		}
	}
	for _, i := range g.units {
		u := e.o.Units[i]
		r, err := journal.ReadEval(u.Dir)
		if err != nil {
			if !os.IsNotExist(err) {
				return badinput.Wrap(err)
			}
			s.Missing = append(s.Missing, u.Name)
			continue
		}
		spec := e.regradeSpec(e.specs[i], r)
		if r.Status == records.EvalSuccess {
			st := Analyze(r.Samples, spec)
			records.GateOptFlags(&st, r.Patch)
			r.Stats = &st
			r.Config.Band, r.Config.Alpha, r.Config.SecondaryMetrics = spec.Band, spec.Alpha, spec.SecondaryMetrics
			r.Flags = withFlag(r.Flags, records.FlagNoisy, st.Noisy)
			var disagree bool
			r.Secondary, disagree = Secondary(r, -1, &st, spec, r.Environment.InstructionsMethod, storedCountErr(r.Secondary))
			r.Flags = withFlag(r.Flags, records.FlagMetricsDisagree, disagree)
		}
		r.RegradedAt = e.o.Now().UTC()
		if err := journal.WriteEval(u.Dir, r); err != nil {
			return err
		}
		s.Regraded++
		s.Counts[r.Status]++
		fmt.Fprintf(e.o.Log, "%s %s (regraded)%s\n", u.Name, r.Status, describe(r))
	}
	return nil
}

// regradeSpec is the spec a stored result is regraded with: the
// measurement is what it was; only the statistics' settings come from the
// current configuration (spec, nil when it cannot be resolved now).
func (e *evaluator) regradeSpec(spec *Spec, r *records.Eval) *Spec {
	stored := Spec{EvalSpec: r.Config}
	if spec != nil {
		stored.Band, stored.Alpha = spec.Band, spec.Alpha
		stored.SecondaryMetrics = regradeSecondary(spec.SecondaryMetrics, r.Config.SecondaryMetrics, r.Config.Metric.Kind)
	}
	return &stored
}

func withFlag(flags []string, f string, on bool) []string {
	var out []string
	for _, x := range flags {
		if x != f {
			out = append(out, x)
		}
	}
	if on {
		out = append(out, f)
	}
	return out
}

// env is the environment of a command in workspace dir.
func (e *evaluator) env(dir string) []string {
	return append(append([]string(nil), e.baseEnv...), "BENCH_WORKSPACE="+dir)
}

func mergedEnv(process []string, dot map[string]string) []string {
	out := append([]string(nil), process...)
	for k, v := range dot {
		out = append(out, k+"="+v)
	}
	return out
}

// sweepStale removes evaluation directories whose harness is gone (killed
// with -9).
func sweepStale(root string, log io.Writer) {
	for _, st := range fsx.SweepOwned(root, privatePrefix+"*") {
		fmt.Fprintf(log, "removed stale evaluation directory %s (harness pid %d is gone)\n", st.Dir, st.PID)
	}
}
