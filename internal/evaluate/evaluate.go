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
}

// Progress follows an evaluation: Start with the items to evaluate and
// those already done (a resumed run continues its count), Round before
// each round of an item (warm-up included, 1-based), Done after each item
// whatever its result.
type Progress interface {
	Start(total, done int)
	Round(item string, r, rounds int)
	Done(item string)
}

// Summary is the outcome of Run.
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

	var todo []int
	for i, u := range o.Units {
		if r, err := journal.ReadEval(u.Dir); err == nil && e.matches(r, u, e.specs[i]) {
			e.summary.Skipped++
			e.summary.Counts[r.Status]++
			continue
		}
		todo = append(todo, i)
	}
	if ir, ok := o.Runner.(ItemRunner); ok && len(todo) > 0 {
		if err := ir.Prepare(ctx, PrepareInfo{RunID: o.RunID, Env: e.baseEnv, Log: o.Log}); err != nil {
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
	fmt.Fprintf(o.Log, "evaluating %d item(s), %d already done\n", len(todo), e.summary.Skipped)
	if o.Progress != nil {
		o.Progress.Start(len(todo)+e.summary.Skipped, e.summary.Skipped)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.MaxParallelSetup)
	for _, i := range todo {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return e.one(gctx, i, len(todo)) })
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

// one evaluates unit i and records its result. It returns an error only
// when results cannot be written (the run must stop).
func (e *evaluator) one(ctx context.Context, i, total int) error {
	u, spec := e.o.Units[i], e.specs[i]
	if ctx.Err() != nil {
		return nil
	}
	if e.o.Progress != nil {
		defer e.o.Progress.Done(u.Name)
	}
	claim, ok, err := e.claim(u)
	if !ok {
		return err
	}
	defer claim.Release()
	if r, err := journal.ReadEval(u.Dir); err == nil && e.matches(r, u, spec) {
		// Another process evaluated it after this one made its list.
		e.mu.Lock()
		e.summary.Skipped++
		e.summary.Counts[r.Status]++
		e.mu.Unlock()
		fmt.Fprintf(e.o.Log, "%s: skipped: evaluated by another process\n", u.Name)
		return nil
	}
	t0 := e.o.Now()
	res, err := e.evaluate(ctx, u, spec)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		e.mu.Lock()
		e.summary.Failures = append(e.summary.Failures, u.Name+": "+err.Error())
		e.mu.Unlock()
		fmt.Fprintf(e.o.Log, "%s: not evaluated: %v\n", u.Name, err)
		return nil
	}
	if err := os.MkdirAll(u.Dir, 0o755); err != nil {
		return fmt.Errorf("item %s: %w", u.Name, err)
	}
	if err := journal.WriteEval(u.Dir, res); err != nil {
		return fmt.Errorf("item %s: %w", u.Name, err)
	}
	e.mu.Lock()
	e.done++
	n := e.done
	e.summary.Evaluated++
	e.summary.Counts[res.Status]++
	e.mu.Unlock()
	fmt.Fprintf(e.o.Log, "[%d/%d] %s %s in %s%s\n", n, total, u.Name, res.Status,
		e.o.Now().Sub(t0).Round(100*time.Millisecond), describe(res))
	return nil
}

// claim claims a unit's directory before any work in it. ok is false
// when the unit is not this process's to do: another holds it (said on
// the log and recorded in the summary), or err says why it cannot be
// claimed.
func (e *evaluator) claim(u Unit) (c *journal.Claim, ok bool, err error) {
	c, err = journal.ClaimItem(u.Dir, "evaluate", e.o.Now())
	var held *journal.HeldError
	if errors.As(err, &held) {
		e.mu.Lock()
		if e.held == nil {
			e.held = map[string]bool{}
		}
		e.held[u.Name] = true
		e.summary.Held = append(e.summary.Held, u.Name+": held by "+held.Holder.Who())
		e.mu.Unlock()
		fmt.Fprintf(e.o.Log, "%s: skipped: held by %s\n", u.Name, held.Holder)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("item %s: %w", u.Name, err)
	}
	return c, true, nil
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
	for _, u := range e.o.Units {
		if e.held[u.Name] {
			// The other process's to report.
			continue
		}
		r, err := journal.ReadEval(u.Dir)
		if err != nil {
			s.Missing = append(s.Missing, u.Name)
			continue
		}
		if r.Status == records.EvalBaseFailed || r.Status == records.EvalHumanFailed {
			s.TaskProblems = append(s.TaskProblems, fmt.Sprintf("%s: %s: %s", u.Name, r.Status, r.Reason))
		}
	}
	return s
}

// regrade recomputes the statistics of every stored result.
func (e *evaluator) regrade() (*Summary, error) {
	s := e.summary
	for i, u := range e.o.Units {
		claim, ok, err := e.claim(u)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		r, err := journal.ReadEval(u.Dir)
		if err != nil {
			claim.Release()
			if !os.IsNotExist(err) {
				return nil, badinput.Wrap(err)
			}
			s.Missing = append(s.Missing, u.Name)
			continue
		}
		spec := e.specs[i]
		if spec == nil {
			spec = &Spec{EvalSpec: r.Config}
		} else {
			// The measurement is what it was; only the statistics'
			// settings come from the current configuration.
			stored := Spec{EvalSpec: r.Config}
			stored.Band, stored.Alpha = spec.Band, spec.Alpha
			spec = &stored
		}
		if r.Status == records.EvalSuccess {
			st := Analyze(r.Samples, spec)
			r.Stats = &st
			r.Config.Band, r.Config.Alpha = spec.Band, spec.Alpha
			r.Flags = withFlag(r.Flags, records.FlagNoisy, st.Noisy)
		}
		r.RegradedAt = e.o.Now().UTC()
		err = journal.WriteEval(u.Dir, r)
		claim.Release()
		if err != nil {
			return nil, err
		}
		s.Regraded++
		s.Counts[r.Status]++
		fmt.Fprintf(e.o.Log, "%s %s (regraded)%s\n", u.Name, r.Status, describe(r))
	}
	return e.finish(), nil
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
