package prepare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/renameio/v2"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/forensics"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/gitx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/prompt"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/workspace"
)

// cleanupTimeout bounds work done after an interruption (patch capture,
// final journal): it runs under context.WithoutCancel.
const cleanupTimeout = 2 * time.Minute

// maxOutFile is the largest file copied from the agent's output folder,
// maxOutEntries the most entries (files, directories, links).
const (
	maxOutFile    = 256 << 20
	maxOutEntries = 100_000
)

// WorkspaceMapper is implemented by adapters that show the agent the
// workspace at another path (a container mount).
type WorkspaceMapper interface {
	AgentWorkspace(hostPath string) string
}

// itemRun carries one unit through its phases.
type itemRun struct {
	*runner
	u       unit
	j       *records.Journal
	start   time.Time
	phases  map[string]float64
	private string // rollout root of this unit
	// harness holds the harness's own temporary files (never mounted
	// into an agent's container).
	harness string

	// Set while the agent runs; guarded by usageMu.
	usageMu       sync.Mutex
	observed      records.Usage
	cancelRollout context.CancelCauseFunc
	// infraKind classifies an infra_error ending.
	infraKind agent.InfraKind
	// priorCost is what earlier attempts of this item spent (retries,
	// earlier sessions): max_budget_usd caps the item, not an attempt.
	priorCost float64

	// cutAttempts are the leak attempts in the trajectory's steps that
	// its bounds cut, scanned whole while the adapter converted them
	// (observeStep); guarded by cutMu: adapters convert as lines come.
	cutMu       sync.Mutex
	cutAttempts []records.LeakAttempt

	// prompt is the rendered task file.
	prompt string
	// patchRefused is the reason when no patch was kept: the change
	// exceeded max_patch_bytes, or a binary file held a secret.
	patchRefused string
}

// do runs one unit and always leaves a journal. A rate-limited attempt is
// retried with exponential backoff (retry.attempts, retry.backoff). It
// returns an error only when the harness cannot record results (the run
// must stop).
func (r *runner) do(ctx context.Context, u unit) error {
	if ctx.Err() != nil {
		return nil
	}
	// Other processes may have spent meanwhile.
	if r.spend.refresh(true); r.spend.Reached() {
		// Never started: it stays missing, and the next prepare does it.
		return nil
	}
	name := filepath.Base(u.dir)
	claim, err := journal.ClaimItem(u.dir, "prepare", r.opts.Now())
	var held *journal.HeldError
	if errors.As(err, &held) {
		r.noteHeld(name, held.Holder)
		return nil
	}
	if err != nil {
		return fmt.Errorf("item %s: %w", u.item.ID, err)
	}
	defer claim.Release()
	if journal.Done(u.dir, u.item.Hash()) {
		// Another process finished it after this one made its list.
		r.opts.Progress.Skip(name, "finished by another process")
		return nil
	}
	start := r.opts.Now()
	r.opts.Progress.Begin(name)
	var retries []records.Retry
	prior := 0.0
	if old, err := journal.ReadJournal(u.dir); err == nil && old.PlanItemHash == u.item.Hash() {
		// Redone after an infra_error or a crash: what it spent counts
		// against its max_budget_usd.
		prior = old.Usage.CostUSD
		for _, rt := range old.Retries {
			prior += rt.CostUSD
		}
	}
	for attempt := 1; ; attempt++ {
		it := &itemRun{runner: r, u: u, start: r.opts.Now(), phases: map[string]float64{}, priorCost: prior}
		it.j = &records.Journal{
			RunID:        r.run.RunID,
			ItemID:       u.item.ID,
			Sample:       u.sample,
			PlanItemHash: u.item.Hash(),
			Status:       records.RolloutRunning,
			Agent:        records.RunAgentRef{Name: r.opts.Agent.Name, Type: r.opts.Agent.Type, Model: r.opts.Agent.Model},
			Harness:      r.ledger.Harness,
			Shard:        r.opts.Shard.String(),
			Limits:       r.limits,
			StartedAt:    start.UTC(),
			Attempts:     attempt,
			Retries:      retries,
		}
		if err := journal.WriteJournal(u.dir, it.j); err != nil {
			return fmt.Errorf("item %s: %w", u.item.ID, err)
		}
		status, reason := it.execute(ctx)
		// A reason may quote what the agent made (a path named after a key
		// in a git error): it is scrubbed like the logs before it is shown
		// or stored.
		reason = r.secrets.ScrubString(reason)
		if len(it.j.SecretInPatch) > 0 && it.patchRefused == "" {
			reason = strings.TrimPrefix(reason+"; "+secretNote(it.j.SecretInPatch), "; ")
		}
		it.j.Status, it.j.Reason = status, reason
		if status == records.RolloutInfraError && it.infraKind != "" {
			it.j.InfraKind = string(it.infraKind)
		}
		end := r.opts.Now()
		it.j.EndedAt = end.UTC()
		it.j.DurationSeconds = end.Sub(start).Seconds()
		it.j.Phases = it.phases
		// What the agent reported last counts even when the rollout
		// ended without an outcome.
		cost := max(it.j.Usage.CostUSD, it.observedCost())
		mine := r.spend.settle(it, cost)
		if err := journal.WriteJournal(u.dir, it.j); err != nil {
			return fmt.Errorf("item %s: %w", u.item.ID, err)
		}
		r.writeLedger(mine, true)
		prior += cost
		capLeft := it.limits.MaxBudgetUSD <= 0 || prior < it.limits.MaxBudgetUSD
		if status == records.RolloutInfraError && it.infraKind.Retried() && attempt < r.retry.Attempts && ctx.Err() == nil && !r.spend.Reached() && capLeft {
			delay := backoff(r.retry.Backoff.D(), attempt)
			retries = append(retries, records.Retry{Reason: reason, CostUSD: cost, DelaySeconds: delay.Seconds()})
			fmt.Fprintf(r.log, "%s: %s; retrying in %s (attempt %d of %d)\n", name, reason, delay, attempt+1, r.retry.Attempts)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			if ctx.Err() == nil {
				continue
			}
		}
		r.count(status)
		r.noteAuth(name, status, it.infraKind, reason)
		r.opts.Progress.End(name, status, reason, end.Sub(start))
		return nil
	}
}

// noteHeld records a unit skipped because another process holds it, and
// says so.
func (r *runner) noteHeld(name string, h *journal.Holder) {
	r.mu.Lock()
	if r.held == nil {
		r.held = map[string]string{}
	}
	r.held[name] = h.Who()
	r.mu.Unlock()
	r.opts.Progress.Skip(name, "held by "+h.String())
}

// maxBackoff bounds one retry delay.
const maxBackoff = 10 * time.Minute

// backoff is the delay before attempt+1: base doubled per attempt, at
// most maxBackoff, with ±20% jitter so that workers hit by the same rate
// limit do not retry in lockstep.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())).Round(time.Millisecond)
}

func (it *itemRun) observedCost() float64 {
	it.usageMu.Lock()
	defer it.usageMu.Unlock()
	return it.observed.CostUSD
}

func (it *itemRun) phase(name string, since time.Time) {
	it.phases[name] += it.opts.Now().Sub(since).Seconds()
}

// execute performs the unit and returns its status and reason: setup,
// run, capture, then decide from the facts gathered.
func (it *itemRun) execute(ctx context.Context) (records.RolloutStatus, string) {
	if ctx.Err() != nil {
		return records.RolloutInterrupted, "interrupted before start"
	}
	a := &attempt{}
	defer it.cleanup(a)
	if v := it.setup(ctx, a); v != nil {
		return it.end(*v)
	}
	f := it.runAgent(ctx, a)
	// Capture even after an interruption: the partial work is evidence.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	it.captureAll(cctx, a, &f)
	it.scanForensics(cctx, a)
	if ctx.Err() != nil {
		f.interrupted = context.Cause(ctx)
	}
	return it.end(decide(f))
}

// end records what a verdict adds to the journal (a limit hit, the kind
// of an infra_error) and returns its status and reason.
func (it *itemRun) end(v verdict) (records.RolloutStatus, string) {
	if v.limitHit != "" {
		it.j.LimitsHit = appendOnce(it.j.LimitsHit, v.limitHit)
	}
	it.infraKind = v.infraKind
	return v.status, v.reason
}

// attempt is what setup made for one attempt of a unit.
type attempt struct {
	ws             *workspace.Workspace
	outDir         string
	stdout, stderr *logFile
	ro             *agent.Rollout
	// closeSetup closes setup.log.
	closeSetup func()
	// keep is set when the private directory outlives the attempt
	// (--keep-workspaces).
	keep bool
}

// cleanup removes the attempt's private directories (the rollout's
// unless kept).
func (it *itemRun) cleanup(a *attempt) {
	if a.closeSetup != nil {
		a.closeSetup()
	}
	if it.harness != "" {
		if err := fsx.RemoveOwned(it.harness); err != nil {
			fmt.Fprintf(it.log, "warning: %s: remove %s: %v\n", it.u.item.ID, it.harness, err)
		}
	}
	if it.private != "" && !a.keep {
		if err := fsx.RemoveOwned(it.private); err != nil {
			fmt.Fprintf(it.log, "warning: %s: remove %s: %v\n", it.u.item.ID, it.private, err)
		}
	}
}

// setup makes the attempt's private directories, workspace, task file,
// HOME and logs, and the rollout handed to the adapter. It returns the
// attempt's ending when it ends there, nil otherwise.
func (it *itemRun) setup(ctx context.Context, a *attempt) *verdict {
	o := it.opts
	private, err := fsx.MkdirOwned(it.rollRoot, "perfbench-")
	if err != nil {
		return stopAt("rollout directory", err)
	}
	it.private = private
	// The harness's own temporary files (a container's cid file) live in a
	// directory of their own: the rollout directory is mounted into an
	// agent's container, where the agent could rewrite them.
	harness, err := fsx.MkdirOwned(it.rollRoot, harnessPrefix)
	if err != nil {
		return stopAt("rollout directory", err)
	}
	it.harness = harness
	paths := privatePaths(it.private, harness)
	a.outDir = paths.outDir
	for _, d := range []string{paths.outDir, paths.home, filepath.Join(it.private, "tmp")} {
		if err := agent.MkdirPrivate(d); err != nil {
			return stopAt("rollout directory", err)
		}
	}

	t0 := o.Now()
	ws, err := workspace.Create(ctx, it.mirror, it.u.item.Pre, paths.workspace)
	it.phase("workspace", t0)
	if err != nil {
		if ctx.Err() != nil {
			return &verdict{status: records.RolloutInterrupted, reason: "interrupted while creating the workspace"}
		}
		return stopAt("workspace", err)
	}
	a.ws = ws
	it.j.DiffBase = ws.Base

	if err := it.writeTask(ctx, paths); err != nil {
		return stopAt("task file", err)
	}
	if err := copyHomeFiles(o.Agent.HomeFiles, agent.Host{Env: o.ProcessEnv}.Home(), paths.home); err != nil {
		return stopAt("home files", err)
	}

	typ := o.Agent.Type
	if a.stdout, err = it.openLog(agent.StdoutName(typ)); err != nil {
		return stopAt("logs", err)
	}
	if a.stderr, err = it.openLog(agent.StderrName(typ)); err != nil {
		a.stdout.Close()
		return stopAt("logs", err)
	}
	a.ro = it.newRollout(it.run.RunID, it.u, paths)
	it.cutMu.Lock()
	it.cutAttempts = nil
	it.cutMu.Unlock()
	a.ro.ObserveTrajectory = it.observeStep
	a.ro.Prompt, a.ro.Stdout, a.ro.Stderr = it.prompt, a.stdout, a.stderr
	a.ro.HumanDiff = func(ctx context.Context) ([]byte, error) {
		return it.mirror.Diff(ctx, it.u.item.Pre, it.u.item.Human)
	}
	if a.ro.Setup, a.closeSetup, err = it.newSetup(a); err != nil {
		a.stdout.Close()
		a.stderr.Close()
		return stopAt("setup log", err)
	}
	if it.spend.refresh(true); it.spend.Reached() {
		// The run's budget ran out while this item was being set up.
		a.stdout.Close()
		a.stderr.Close()
		return &verdict{status: records.RolloutInterrupted, limitHit: records.LimitMaxTotalBudgetUSD,
			reason: fmt.Sprintf("not started: %s of %s is reached", budgetName(it.budgetName), usd(it.budget))}
	}
	return nil
}

// stopAt is the ending of an attempt whose setup failed.
func stopAt(what string, err error) *verdict {
	v := infraVerdict(what, err)
	return &v
}

// writeTask renders the task file into the item directory (task.txt,
// prompt.json) and the rollout's copy.
func (it *itemRun) writeTask(ctx context.Context, paths rolloutPaths) error {
	shown, text, err := it.renderTask(ctx, paths.workspace)
	if err != nil {
		return err
	}
	it.j.Hints = records.HintsShown(shown.HintsShown)
	if err := fsx.WriteFile(filepath.Join(it.u.dir, journal.TaskFile), []byte(text), 0o644); err != nil {
		return err
	}
	if err := fsx.WriteJSON(filepath.Join(it.u.dir, journal.PromptFile), shown); err != nil {
		return err
	}
	if err := os.WriteFile(paths.taskFile, []byte(text), 0o644); err != nil {
		return err
	}
	it.prompt = text
	return nil
}

// runAgent runs the agent and records its outcome; the facts it returns are
// the run's part of what decide judges.
func (it *itemRun) runAgent(ctx context.Context, a *attempt) facts {
	o := it.opts
	a.ro.Observe = it.observeUsage
	rctx, cancelRollout := context.WithCancelCause(ctx)
	it.usageMu.Lock()
	it.cancelRollout = cancelRollout
	it.usageMu.Unlock()
	t0 := o.Now()
	out, runErr := it.runWithSetup(rctx, a.ro)
	it.phase("agent", t0)
	f := facts{runErr: runErr, out: out}
	// Why the harness stopped the rollout, if it did (a budget cap).
	if rctx.Err() != nil && ctx.Err() == nil && out != nil && out.Process != nil && out.Process.Stopped {
		f.stopped = context.Cause(rctx)
	}
	cancelRollout(nil)
	f.logErr = errors.Join(a.stdout.Close(), a.stderr.Close())
	it.j.Logs = records.Logs{Stdout: a.stdout.info(), Stderr: a.stderr.info()}
	if out != nil {
		it.fillUsage(out)
		it.classify(out)
		it.recordOutcome(out)
	}
	if err := it.writeTrajectory(out, a.stdout.name); err != nil {
		f.logErr = errors.Join(f.logErr, err)
	}
	return f
}

// captureAll captures the patch and the output folder, keeps the
// workspace when asked, and completes the facts.
func (it *itemRun) captureAll(ctx context.Context, a *attempt, f *facts) {
	o := it.opts
	t0 := o.Now()
	f.patchOK, f.patchReason, f.captureErr = it.capture(ctx, a.ws)
	it.phase("capture", t0)
	if err := it.copyOut(a.outDir); err != nil {
		f.captureErr = errors.Join(f.captureErr, err)
	}
	if o.KeepWorkspaces {
		// Without the owner file no later run sweeps it away.
		a.keep = fsx.DisownDir(it.private)
		it.j.Workspace = a.ro.Workspace
	}
	f.patchRefused = it.patchRefused
	f.limitsHit = it.j.LimitsHit
	f.patch = it.j.Patch
	f.targets = it.j.Targets
	f.costUSD = it.j.Usage.CostUSD
	f.priorCost = it.priorCost
	f.limits = it.limits
	f.maxTotalBudgetUSD, f.budgetName = it.budget, it.budgetName
	if f.out != nil && noPatch(f.patch) && !f.out.ResultRead {
		f.noPatchInfra = it.logInfra(false)
	}
}

// copyOut copies the agent's output folder into the item's out/, which
// then holds this attempt's output and nothing of an earlier one: the copy
// goes into a new directory next to out/ (never following a link of the
// agent's, at most max_out_bytes), is scrubbed there, and replaces out/ in
// one rename. A fresh directory rather than out/attempt-<n>/: the item
// directory describes its last attempt (its logs, patch and journal do),
// and paths such as out/openhands/trajectory.json stay where tools look.
func (it *itemRun) copyOut(outDir string) error {
	dst := filepath.Join(it.u.dir, journal.OutDirName)
	// Left by a harness killed mid-copy.
	stale, _ := filepath.Glob(filepath.Join(it.u.dir, "."+journal.OutDirName+"-*"))
	for _, d := range stale {
		fsx.RemoveAll(d)
	}
	fresh, err := os.MkdirTemp(it.u.dir, "."+journal.OutDirName+"-")
	if err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	// Scrubbed while copied, so that not even the fresh copy (left behind
	// by a kill) holds a secret; names and link targets holding one are
	// left out.
	skipped, err := fsx.CopyTree(outDir, fresh, fsx.CopyLimits{
		MaxFile: maxOutFile, MaxTotal: it.opts.Bench.MaxOutBytes, MaxEntries: maxOutEntries,
		Filter: it.secrets.Writer,
		Reject: func(s string) bool { return it.secrets.ScrubString(s) != s },
	})
	for _, sk := range skipped {
		// The paths are the agent's: a directory's name could be a secret.
		it.j.OutSkipped = append(it.j.OutSkipped, fsx.Skipped{Path: it.secrets.ScrubString(sk.Path), Reason: it.secrets.ScrubString(sk.Reason)})
	}
	if err == nil {
		err = fsx.ReplaceDir(fresh, dst)
	}
	if err != nil {
		// Neither a partial, unscrubbed copy nor an earlier attempt's.
		fsx.RemoveAll(fresh)
		fsx.RemoveAll(dst)
		return fmt.Errorf("output folder: %w", err)
	}
	return nil
}

// stoppedAtIterations reports whether the agent ended at max_iterations:
// it stopped there itself (Claude Code exits 1 after error_max_turns), or
// its adapter stopped it (an agent without an iteration flag). Either way
// the item is judged by its patch, as when OpenHands reaches its limit.
func stoppedAtIterations(out *agent.Outcome) bool {
	return out.Process != nil && slices.Contains(out.LimitsHit, records.LimitMaxIterations)
}

func appendOnce(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// fillUsage keeps the usage the agent streamed when its adapter could not
// read final totals (the agent was killed mid-stream): spend is never
// lost.
func (it *itemRun) fillUsage(out *agent.Outcome) {
	it.usageMu.Lock()
	obs := it.observed
	it.usageMu.Unlock()
	// Final totals the agent reported win over anything streamed before.
	final := out.Usage != (records.Usage{}) && !out.Usage.Partial
	if !final && (obs.CostUSD > out.Usage.CostUSD || (out.Usage == (records.Usage{}) && obs != (records.Usage{}))) {
		endedByItself := out.Process != nil && !out.Process.TimedOut && !out.Process.Stopped
		obs.Partial = obs.Partial || !endedByItself
		if obs.Source == "" {
			obs.Source = "stream"
		}
		out.Usage = obs
	}
}

// classifyLines is how many final lines of each log the failure
// classification reads: the error an agent died of is at the end.
const classifyLines = 40

// classify names the infrastructure failure behind a failed rollout from
// the ends of its logs (auth, billing, rate limit, model not found), when
// the adapter did not.
func (it *itemRun) classify(out *agent.Outcome) {
	// An agent that ended at one of its limits did not fail for the
	// infrastructure; one whose adapter read its final result already
	// knows (its stdout may be a whole conversation mentioning "401").
	if out.Infra != nil || out.ResultRead || len(out.LimitsHit) > 0 {
		return
	}
	p := out.Process
	failed := out.Failed || (p != nil && (p.ExitCode != 0 || p.Signal != "") && !p.TimedOut && !p.Stopped)
	if !failed {
		return
	}
	if ie := it.logInfra(true); ie != nil {
		out.Infra = ie
	} else if ie := agent.Classify(out.Reason); ie != nil {
		ie.Msg = it.secrets.ScrubString(ie.Msg)
		out.Infra = ie
	}
}

// logInfra classifies the last lines of stderr, then (unless stderrOnly)
// of stdout.
func (it *itemRun) logInfra(withStdout bool) *agent.InfraError {
	names := []string{agent.StderrName(it.opts.Agent.Type)}
	if withStdout {
		names = append(names, agent.StdoutName(it.opts.Agent.Type))
	}
	for _, name := range names {
		if ie := agent.Classify(lastLines(readTail(filepath.Join(it.u.dir, name), 64<<10), classifyLines)); ie != nil {
			ie.Msg = it.secrets.ScrubString(ie.Msg)
			return ie
		}
	}
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" || n <= 0 {
		return ""
	}
	i := len(s)
	for ; n > 0 && i > 0; n-- {
		i = strings.LastIndexByte(s[:i], '\n')
		if i < 0 {
			return s
		}
	}
	return s[i+1:]
}

func readTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(st.Size()-n, io.SeekStart)
	}
	data, _ := io.ReadAll(io.LimitReader(f, n))
	return string(data)
}

func exitReason(p *proc.Result) string {
	if p.Signal != "" {
		return "agent killed by signal " + p.Signal
	}
	return "agent exited with status " + strconv.Itoa(p.ExitCode)
}

func infra(what string, err error) (records.RolloutStatus, string) {
	if gitx.IsDiskFull(err) {
		return records.RolloutInfraError, fmt.Sprintf("disk full during %s: %v", what, err)
	}
	return records.RolloutInfraError, fmt.Sprintf("%s: %v", what, err)
}

func (it *itemRun) recordOutcome(out *agent.Outcome) {
	j := it.j
	if out.Process != nil {
		p := out.Process
		j.Process = &records.Process{
			Command: out.Command, ExitCode: p.ExitCode, Signal: p.Signal,
			TimedOut: p.TimedOut, Stopped: p.Stopped, Killed: p.Killed,
			EndedByItself: !p.TimedOut && !p.Stopped,
		}
	}
	j.Usage = out.Usage
	j.LimitsHit = append(j.LimitsHit, out.LimitsHit...)
	if len(out.Details) > 0 {
		j.Details = out.Details
	}
}

// capture writes model_patch.diff and diff_targets.json and fills the
// journal. It reports whether the patch applies to the pre tree. The patch
// is streamed from git through the secret scrubber into the file, never
// held whole in memory; a change larger than max_patch_bytes leaves no
// patch at all and sets it.patchTooLarge.
func (it *itemRun) capture(ctx context.Context, ws *workspace.Workspace) (bool, string, error) {
	path := filepath.Join(it.u.dir, journal.PatchFile)
	// Streamed into the harness's own private directory first (not the
	// rollout's, which an agent's container can write): a kill -9
	// meanwhile leaves nothing in the state directory (the sweep removes
	// it), and nothing larger than max_patch_bytes ever reaches it.
	tmp := filepath.Join(it.harness, journal.PatchFile)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, "", err
	}
	defer f.Close()
	var sc *secrets.Scrubber
	var binaries []*binaryScan
	p, err := ws.CapturePatch(ctx, it.mirror, it.u.item.Pre, workspace.CaptureOptions{
		Private:  it.harness,
		Out:      f,
		MaxBytes: it.opts.Bench.PatchLimit(),
		Exclude:  it.opts.Task.Patch.Excludes(),
		Filter: func(w io.Writer) io.WriteCloser {
			sc = it.secrets.Scrubber(w)
			return sc
		},
		ScanBinary: func(path string) io.WriteCloser {
			return &binaryScan{Scrubber: it.secrets.Scrubber(io.Discard), path: path, into: &binaries}
		},
	})
	// Nothing of an earlier attempt may stand for a patch refused.
	refuse := func(info *records.PatchInfo, reason string) (bool, string, error) {
		for _, f := range []string{path, filepath.Join(it.u.dir, journal.TargetsFile)} {
			if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, "", err
			}
		}
		it.j.Patch = info
		it.patchRefused = reason
		return false, reason, nil
	}
	var overlap *workspace.SetupOverlapError
	if errors.As(err, &overlap) {
		return refuse(&records.PatchInfo{Files: []string{}}, overlap.Error())
	}
	var tooLarge *workspace.TooLargeError
	if errors.As(err, &tooLarge) {
		what := ""
		if tooLarge.Files {
			what = " of new and modified files"
		}
		return refuse(&records.PatchInfo{Files: []string{}, TooLarge: tooLarge.Size, Limit: tooLarge.Limit},
			fmt.Sprintf("patch too large (%d bytes%s > %d, max_patch_bytes)", tooLarge.Size, what, tooLarge.Limit))
	}
	if err != nil {
		return false, "", err
	}
	// git writes binary files as compressed base85, where no scrubber can
	// see a value: a binary file holding one refuses the whole patch.
	if found, files := secretsInBinaries(binaries); len(found) > 0 {
		it.j.SecretInPatch = found
		return refuse(&records.PatchInfo{Files: []string{}},
			fmt.Sprintf("binary files of the patch hold secret values (%s), which cannot be redacted: %s; nothing of the patch is kept",
				strings.Join(found, ", "), it.secrets.ScrubString(strings.Join(files, ", "))))
	}
	if err := storePatch(f, path); err != nil {
		return false, "", err
	}
	if sc != nil {
		it.j.SecretInPatch = sc.Found()
	}
	// Paths are part of the patch too.
	scrub := func(list []string) []string {
		out := make([]string, len(list))
		for i, f := range list {
			out[i] = it.secrets.ScrubString(f)
		}
		return out
	}
	files := scrub(p.Files)
	info := &records.PatchInfo{Bytes: int(p.Bytes), Files: files, Added: p.Added, Removed: p.Removed, Binary: p.Binary,
		ExcludedCount: p.ExcludedCount}
	if p.ExcludedCount > 0 {
		info.Excluded = scrub(p.Excluded)
	}
	it.j.Patch = info
	allowed := it.u.item.TargetFiles
	if len(allowed) == 0 {
		allowed = it.opts.Task.OptimizationContract.TargetFiles
	}
	t := CheckTargets(files, allowed, it.opts.Task.OptimizationContract.StrictTargets)
	it.j.Targets = t
	if err := fsx.WriteJSON(filepath.Join(it.u.dir, journal.TargetsFile), t); err != nil {
		return false, "", err
	}
	if p.Bytes == 0 {
		return true, "", nil
	}
	// The stored (redacted) patch is the one checked and evaluated.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, "", err
	}
	if err := workspace.CheckApply(ctx, it.mirror, it.u.item.Pre, it.harness, f); err != nil {
		if ctx.Err() != nil {
			return false, "", err
		}
		msg := it.secrets.ScrubString(err.Error())
		info.ApplyError = msg
		return false, "the patch does not apply cleanly to the pre tree: " + msg, nil
	}
	info.Applies = true
	return true, "", nil
}

// binaryScan scans the stored content of one binary file of the patch.
type binaryScan struct {
	*secrets.Scrubber
	path string
	into *[]*binaryScan
}

func (b *binaryScan) Close() error {
	err := b.Scrubber.Close()
	*b.into = append(*b.into, b)
	return err
}

// secretsInBinaries is what the scans found: the secrets' names and the
// files holding them.
func secretsInBinaries(scans []*binaryScan) (found, holding []string) {
	for _, b := range scans {
		if n := b.Found(); len(n) > 0 {
			found = append(found, n...)
			holding = append(holding, b.path)
		}
	}
	slices.Sort(found)
	return slices.Compact(found), holding
}

// storePatch copies the patch in f (from its start) to path atomically.
func storePatch(f *os.File, path string) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o644))
	if err != nil {
		return err
	}
	defer pf.Cleanup()
	if _, err := io.Copy(pf, f); err != nil {
		return err
	}
	return pf.CloseAtomicallyReplace()
}

// secretNote is what an item's reason says when its patch held secrets.
func secretNote(names []string) string {
	return "the patch contained secret values (" + strings.Join(names, ", ") + "); they are replaced by [REDACTED:NAME] in model_patch.diff and predictions"
}

func (it *itemRun) renderTask(ctx context.Context, wsDir string) (*prompt.Prompt, string, error) {
	o := it.opts
	shown := wsDir
	if m, ok := it.adapter.(WorkspaceMapper); ok {
		shown = m.AgentWorkspace(wsDir)
	}
	hints := o.Task.Hints
	if !o.Bench.HintsAllowed() {
		hints = config.Hints{}
	}
	var ref prompt.Reference
	var err error
	item := it.u.item
	if hints.CommitMessage {
		if ref.CommitMessage, err = it.mirror.CommitMessage(ctx, item.Human); err != nil {
			return nil, "", err
		}
	}
	if hints.Diffstat {
		if ref.Diffstat, err = it.mirror.Diffstat(ctx, item.Pre, item.Human); err != nil {
			return nil, "", err
		}
	}
	if hints.Diff {
		d, err := it.mirror.Diff(ctx, item.Pre, item.Human)
		if err != nil {
			return nil, "", err
		}
		ref.Diff = string(d)
	}
	if hints.TargetFiles {
		if ref.TargetFiles, err = it.mirror.ChangedFiles(ctx, item.Pre, item.Human); err != nil {
			return nil, "", err
		}
	}
	targets := item.TargetFiles
	if len(targets) == 0 {
		targets = o.Task.OptimizationContract.TargetFiles
	}
	p := prompt.Build(prompt.Input{
		Task: o.Task, ItemID: item.ID, Workspace: shown, Workload: item.Workload,
		TargetFiles: targets, Hints: hints, Reference: ref, Headless: true,
	})
	text, err := prompt.Render(p, o.Task)
	if err != nil {
		return nil, "", err
	}
	return p, text, nil
}

// logFile is a capped, scrubbed log in the item directory, scanned for
// leak attempts as it is written (scan: the cap may drop the evidence).
type logFile struct {
	io.WriteCloser
	tail *proc.TailFile
	scan *forensics.LineScanner
	name string
}

func (it *itemRun) openLog(name string) (*logFile, error) {
	tf, err := proc.NewTailFile(filepath.Join(it.u.dir, name), it.opts.Bench.LogCapBytes)
	if err != nil {
		return nil, err
	}
	// Behind the scrubber: the findings quote the output.
	scan := forensics.NewLineScanner(name, it.leakContext())
	tf.Observe(scan)
	return &logFile{WriteCloser: it.secrets.Writer(tf), tail: tf, scan: scan, name: name}, nil
}

func (l *logFile) info() *records.LogFile {
	s := l.tail.Stats()
	return &records.LogFile{File: l.name, Bytes: s.Bytes, Kept: s.Kept, Cap: s.Cap, Truncated: s.Truncated}
}

// copyHomeFiles copies the listed files (relative to userHome, the
// invoking user's HOME) into the rollout's fresh home; nothing else of
// userHome is visible.
func copyHomeFiles(files []string, userHome, home string) error {
	if len(files) == 0 {
		return nil
	}
	if userHome == "" {
		return errors.New("$HOME is not defined")
	}
	for _, f := range files {
		src := f
		if !filepath.IsAbs(src) {
			src = filepath.Join(userHome, f)
		}
		rel, err := filepath.Rel(userHome, src)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = filepath.Base(src)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("home_files: %w", err)
		}
		dst := filepath.Join(home, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// harnessPrefix names the directory of a rollout's harness-only files.
const harnessPrefix = "perfbench-harness-"

// sweepStaleRollouts removes rollout directories whose owning harness is
// gone (killed with -9). Directories kept with --keep-workspaces carry no
// owner file and are never touched.
func sweepStaleRollouts(root string, log io.Writer) {
	for _, st := range fsx.SweepOwned(root, "perfbench-*") {
		fmt.Fprintf(log, "removed stale rollout directory %s (harness pid %d is gone)\n", st.Dir, st.PID)
	}
}

// runWithSetup runs the adapter after the task's workspace_setup. An
// adapter's process runs it (agent.RunProcess: in the agent's own
// container, or in the workspace on the host); for an agent that starts
// none (noop) it runs on its own first. A rollout whose setup failed ends
// there, infra_error (infra_kind: setup).
func (it *itemRun) runWithSetup(ctx context.Context, ro *agent.Rollout) (*agent.Outcome, error) {
	if ro.Setup == nil {
		return it.adapter.Run(ctx, ro)
	}
	if argv, err := it.adapter.Command(ro); err == nil && argv == nil {
		out, err := agent.RunSetup(ctx, ro)
		if err != nil || out.Infra != nil || (out.Process != nil && out.Process.Stopped) {
			return out, err
		}
		if out.Failed {
			return &agent.Outcome{Infra: &agent.InfraError{Kind: agent.InfraSetup, Msg: "workspace_setup: " + out.Reason}}, nil
		}
	}
	out, err := it.adapter.Run(ctx, ro)
	if ran, _ := ro.Setup.Ran(); !ran && err == nil && ctx.Err() == nil {
		// Its work would be judged against a tree the task never has.
		return &agent.Outcome{Infra: &agent.InfraError{Kind: agent.InfraSetup,
			Msg: fmt.Sprintf("workspace_setup did not run: the %s adapter started its agent without agent.RunProcess", it.opts.Agent.Type)}}, nil
	}
	return out, err
}
