// Package calibrate is `bench calibrate`: before any agent runs, it times
// each plan item's baseline against itself (A/A: a second workspace of
// the pre tree) and its human commit against the baseline, in several
// separate sessions, with the evaluation's own protocol (evaluate.Run:
// setup, correctness, pinned interleaved rounds), and says which items
// can be measured (stable), which cannot be reproduced (unstable), which
// show no speedup, and which are broken — with each item's noise, its
// minimum detectable effect and the rounds a 10% speedup needs. The
// result is calibration.json next to the plan; evaluate's report and
// compare read it.
package calibrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/shard"
	"github.com/perfbench/perfbench/internal/stats"
)

// DefaultSessions is the number of sessions without --sessions.
const DefaultSessions = 3

// ProbeRuns is how many probe runs of the baseline each session makes
// after its timed rounds, traced for the run-queue delay of the whole
// process tree (evaluate.Options.DelayProbes): the metric advice's ratio
// of CPU time to wall time without the waits for a CPU another task held.
const ProbeRuns = 5

// Options configure a calibration.
type Options struct {
	Task  *config.Task
	Bench *config.Bench
	Plan  *plan.Plan
	// Path is calibration.json (journal.CalibrationPath of the plan).
	Path string
	// Sessions per item (DefaultSessions when 0) and the timed rounds of
	// each (the configured rounds when 0).
	Sessions int
	Rounds   int
	// Shard is the part of the plan this calibration times (--shard:
	// the items whose id hashes to it, as prepare --shard takes them).
	Shard shard.Spec
	// Runner, ProcessEnv, LockDir and MaxParallelSetup are evaluate's.
	Runner           evaluate.Runner
	ProcessEnv       []string
	LockDir          string
	MaxParallelSetup int
	Now              func() time.Time
	Log              io.Writer
	// Exec, when set, runs each session in its own process: this
	// binary's argv up to and including the calibrate command, the task
	// and the flags every session shares (bench.yaml, lock dir); the
	// session's own flags are appended (RunSession is the child's side).
	Exec []string
	// ExecDir is the child's working directory (default: this process's).
	ExecDir string
	// Progress, when set, gives the live progress of one session (a bar
	// on a terminal) and the writer its log lines go to while it runs;
	// done closes it.
	Progress func(session, sessions int) (p evaluate.Progress, log io.Writer, done func())
}

// Result is what Run calibrated: the shard's items, in plan order, and
// how many were timed now (the others were calibrated already).
type Result struct {
	Items []records.CalibrationItem
	Timed int
	// Calibration is the whole file as written (every shard's items).
	Calibration *records.Calibration
}

// todo is one item to calibrate.
type todo struct {
	item  plan.Item
	entry records.CalibrationItem
	// run is the item as timed: its rounds set to the calibration's.
	run plan.Item
}

// Run calibrates the shard's items that calibration.json does not hold
// for their current hashes, rounds and sessions, then analyses and writes
// every item of the shard. Sessions run one after the other, each a fresh
// evaluation (evaluate.Run) of all the items still to time, in fresh
// workspaces and, with o.Exec, in its own process: what one session's
// state (caches, a warm page cache of its own workspaces, the process's
// memory layout, the machine's mood) does to the timing, the next one does
// not inherit from it. Every item is timed in every session before the
// next session starts, so the sessions of an item are spread over the
// whole calibration.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Sessions == 0 {
		o.Sessions = DefaultSessions
	}
	if o.Sessions < 1 {
		return nil, badinput.Errorf("--sessions must be at least 1, got %d", o.Sessions)
	}
	if o.Rounds < 0 {
		return nil, badinput.Errorf("--rounds must be at least 1, got %d", o.Rounds)
	}
	old, err := journal.ReadCalibration(o.Path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, badinput.Wrap(err)
	}
	var all []*todo
	var timing []*todo
	for _, it := range o.Plan.Items {
		if !o.Shard.Has(it.ID) {
			continue
		}
		t, err := newTodo(o, it)
		if err != nil {
			return nil, err
		}
		all = append(all, t)
		if prev := stored(old, t.entry); prev != nil {
			// Calibrated already, or interrupted after some sessions: those
			// count (the first o.Sessions of them).
			t.entry.Sessions = prev.Sessions[:min(len(prev.Sessions), o.Sessions)]
		}
		if len(t.entry.Sessions) < o.Sessions {
			timing = append(timing, t)
		}
	}
	if len(all) == 0 {
		return nil, badinput.Errorf("shard %s of plan %s has no item", o.Shard, o.Plan.TaskID)
	}
	sweepSessions(o)
	fmt.Fprintf(o.Log, "calibrating %d item(s) in %d session(s), %d already calibrated\n", len(timing), o.Sessions, len(all)-len(timing))
	for s := 1; s <= o.Sessions; s++ {
		var due []*todo
		for _, t := range timing {
			if len(t.entry.Sessions) < s {
				due = append(due, t)
			}
		}
		if len(due) == 0 {
			continue
		}
		if err := session(ctx, o, s, due); err != nil {
			return nil, err
		}
		if s < o.Sessions {
			// Kept as partial entries: an interrupted calibration
			// continues from here.
			if _, err := write(ctx, o, due); err != nil {
				return nil, err
			}
		}
	}
	res := &Result{Timed: len(timing)}
	if res.Calibration, err = write(ctx, o, all); err != nil {
		return nil, err
	}
	for _, t := range all {
		res.Items = append(res.Items, t.entry)
	}
	return res, nil
}

// stored is calibration.json's entry for an item with the entry's hashes
// and rounds, partial or not; nil when there is none.
func stored(c *records.Calibration, e records.CalibrationItem) *records.CalibrationItem {
	if c == nil {
		return nil
	}
	for i := range c.Items {
		it := &c.Items[i]
		if it.ItemID == e.ItemID && it.PlanItemHash == e.PlanItemHash && it.ConfigHash == e.ConfigHash && it.Rounds == e.Rounds {
			return it
		}
	}
	return nil
}

// write analyses the items and merges them into calibration.json under
// its lock; an item with fewer than o.Sessions sessions is partial.
func write(ctx context.Context, o Options, ts []*todo) (*records.Calibration, error) {
	for _, t := range ts {
		t.entry.Partial = len(t.entry.Sessions) < o.Sessions
		Analyze(&t.entry)
	}
	c, err := journal.UpdateCalibration(ctx, o.Path, func(c *records.Calibration) error {
		c.TaskID = o.Plan.TaskID
		c.UpdatedAt = o.Now().UTC()
		for _, t := range ts {
			journal.PutCalibrationItem(c, t.entry)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", o.Path, err)
	}
	return c, nil
}

// newTodo is an item's key and settings: the hashes are those its
// evaluation will have (the configured rounds), the timing uses o.Rounds.
func newTodo(o Options, it plan.Item) (*todo, error) {
	spec, err := evaluate.ResolveSpec(o.Task, it)
	if err != nil {
		return nil, err
	}
	hash, err := spec.Hash()
	if err != nil {
		return nil, badinput.Errorf("item %s: %v", it.ID, err)
	}
	t := &todo{item: it, run: it}
	rounds := spec.Rounds
	if o.Rounds > 0 && o.Rounds != spec.Rounds {
		rounds = o.Rounds
		ev := config.Evaluation{}
		if it.Evaluation != nil {
			ev = *it.Evaluation
		}
		ev.Rounds = rounds
		t.run.Evaluation = &ev
	}
	so := spec.Options()
	if need := stats.MinRounds(so.Alpha); rounds < need {
		// The verdict rule needs the Mann–Whitney test significant: with
		// fewer rounds no session can show a speedup, whatever it is.
		return nil, badinput.Errorf("item %s: %d rounds can never reach p <= %g in the Mann–Whitney test; calibrate needs at least %d (--rounds or evaluation.rounds)", it.ID, rounds, so.Alpha, need)
	}
	t.entry = records.CalibrationItem{
		ItemID: it.ID, PlanItemHash: it.Hash(), ConfigHash: hash,
		Rounds: rounds, ConfiguredRounds: spec.Rounds,
		Metric: spec.Metric.Kind, Band: so.Band, Alpha: so.Alpha, Better: spec.Metric.Better,
	}
	return t, nil
}

// session times every item of ts once, as one evaluation in a fresh
// directory (in a separate process when o.Exec is set), and appends the
// session to each item's entry.
func session(ctx context.Context, o Options, s int, ts []*todo) error {
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o755); err != nil {
		return err
	}
	// Owner-marked, so that a later calibrate sweeps what one killed with
	// -9 left (sweepSessions).
	dir, err := fsx.MkdirOwned(filepath.Dir(o.Path), sessionPrefix)
	if err != nil {
		return fmt.Errorf("session %d: %w", s, err)
	}
	defer func() { _ = fsx.RemoveOwned(dir) }()
	fmt.Fprintf(o.Log, "session %d/%d\n", s, o.Sessions)
	start := o.Now()
	var sum *evaluate.Summary
	if len(o.Exec) > 0 {
		err = execSession(ctx, o, s, dir, ts)
	} else {
		sum, err = evaluateSession(ctx, o, s, dir, ts)
	}
	if err != nil {
		return err
	}
	for _, t := range ts {
		cs := records.CalibrationSession{Session: s, StartedAt: start.UTC()}
		r, err := journal.ReadEval(filepath.Join(dir, t.item.ID))
		switch {
		case err != nil:
			cs.Status, cs.Reason = records.EvalBaseFailed, "not evaluated: "+harnessFailure(sum, t.item.ID)
		default:
			cs.Status, cs.Reason = r.Status, r.Reason
			cs.Samples, cs.Environment = r.Samples, r.Environment
			for _, x := range r.SecondarySamples {
				if x.Metric == records.MetricRunQueue {
					cs.Probes = append(cs.Probes, x)
				}
			}
			cs.Seconds, cs.Harness = r.DurationSeconds, r.Harness
		}
		t.entry.Sessions = append(t.entry.Sessions, cs)
	}
	return nil
}

// evaluateSession is one session's evaluation, in this process: each item
// of ts evaluated into dir/<item id>/eval.json.
func evaluateSession(ctx context.Context, o Options, s int, dir string, ts []*todo) (*evaluate.Summary, error) {
	units := make([]evaluate.Unit, len(ts))
	for i, t := range ts {
		// The candidate is the A/A arm: an empty patch, timed in its own
		// workspace of the pre tree like any candidate.
		units[i] = evaluate.Unit{Item: t.run, Dir: filepath.Join(dir, t.item.ID), Name: t.item.ID}
	}
	eo := evaluate.Options{
		RunID: fmt.Sprintf("calibrate-%s-s%d", o.Plan.TaskID, s), Task: o.Task, Bench: o.Bench, RepoURL: o.Plan.RepoURL,
		Units: units, MaxParallelSetup: o.MaxParallelSetup, LockDir: o.LockDir, Runner: o.Runner,
		ProcessEnv: o.ProcessEnv, Now: o.Now, Log: o.Log, DelayProbes: ProbeRuns,
	}
	done := func() {}
	if o.Progress != nil {
		eo.Progress, eo.Log, done = o.Progress(s, o.Sessions)
	}
	sum, err := evaluate.Run(ctx, eo)
	done()
	if err != nil {
		return nil, fmt.Errorf("session %d: %w", s, err)
	}
	if sum.Interrupted || ctx.Err() != nil {
		return nil, context.Canceled
	}
	return sum, nil
}

// execSession runs one session in a child process: o.Exec with the
// session's flags (see [RunSession]), the plan written into the session's
// directory. Its output goes to o.Log (the terminal itself when o.Log is
// one, so the child draws its own progress). An interruption is passed on
// as SIGINT, so the child stops its workloads and cleans up.
func execSession(ctx context.Context, o Options, s int, dir string, ts []*todo) error {
	planPath := filepath.Join(dir, "plan.json")
	if err := plan.Write(planPath, o.Plan); err != nil {
		return fmt.Errorf("session %d: %w", s, err)
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.item.ID
	}
	args := append(slices.Clone(o.Exec[1:]),
		"--from-plan", planPath, "--session", strconv.Itoa(s), "--sessions", strconv.Itoa(o.Sessions),
		"--session-dir", dir, "--items", strings.Join(ids, ","))
	if o.Rounds > 0 {
		args = append(args, "--rounds", strconv.Itoa(o.Rounds))
	}
	cmd := exec.CommandContext(ctx, o.Exec[0], args...)
	cmd.Env, cmd.Dir = o.ProcessEnv, o.ExecDir
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	err := cmd.Run()
	if ctx.Err() != nil {
		return context.Canceled
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		// The child said why (its log is ours); bad input stays bad
		// input (exit status 2), e.g. an image that is not present.
		return badinput.Errorf("session %d: stopped on bad input (above)", s)
	}
	if err != nil {
		return fmt.Errorf("session %d: %s: %w", s, o.Exec[0], err)
	}
	return nil
}

// RunSession is the child's side of a session run in its own process:
// it evaluates the items named (by id, with o's rounds) into dir, where
// the parent reads their eval.json. o.Sessions is the parent's, for the
// progress.
func RunSession(ctx context.Context, o Options, s int, dir string, ids []string) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	var ts []*todo
	for _, id := range ids {
		i := slices.IndexFunc(o.Plan.Items, func(it plan.Item) bool { return it.ID == id })
		if i < 0 {
			return badinput.Errorf("--items: %s is not an item of plan %s", id, o.Plan.TaskID)
		}
		t, err := newTodo(o, o.Plan.Items[i])
		if err != nil {
			return err
		}
		ts = append(ts, t)
	}
	sum, err := evaluateSession(ctx, o, s, dir, ts)
	if err != nil {
		return err
	}
	for _, f := range sum.Failures {
		fmt.Fprintf(o.Log, "not evaluated: %s\n", f)
	}
	return nil
}

// harnessFailure is evaluate's reason for not evaluating an item (sum is
// nil when the session ran in another process: its log said why).
func harnessFailure(sum *evaluate.Summary, id string) string {
	if sum == nil {
		return "no eval.json (see the session's log)"
	}
	for _, f := range sum.Failures {
		if strings.HasPrefix(f, id+": ") {
			return strings.TrimPrefix(f, id+": ")
		}
	}
	return "no eval.json"
}

// sessionPrefix names a session's directory next to calibration.json.
const sessionPrefix = ".calibrate-"

// sweepSessions removes the session directories of calibrations that
// died (kill -9): their owner is gone and holds no lock.
func sweepSessions(o Options) {
	for _, st := range fsx.SweepOwned(filepath.Dir(o.Path), sessionPrefix+"*") {
		fmt.Fprintf(o.Log, "removed a stale session directory of pid %d: %s\n", st.PID, st.Dir)
	}
}
