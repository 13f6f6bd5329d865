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
	"syscall"
	"time"

	"github.com/google/renameio/v2"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/gitx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/taskfile"
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

	noPatchChecked bool
	noPatchErr     *agent.InfraError
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
		if status == records.RolloutInfraError && it.infraKind == agent.InfraRateLimit && attempt < r.retry.Attempts && ctx.Err() == nil && !r.spend.Reached() && capLeft {
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

// execute performs the unit and returns its status and reason.
func (it *itemRun) execute(ctx context.Context) (records.RolloutStatus, string) {
	if ctx.Err() != nil {
		return records.RolloutInterrupted, "interrupted before start"
	}
	o := it.opts
	var err error
	it.private, err = fsx.MkdirOwned(it.rollRoot, "perfbench-")
	if err != nil {
		return infra("rollout directory", err)
	}
	keep := false
	defer func() {
		if keep {
			return
		}
		if err := fsx.RemoveOwned(it.private); err != nil {
			fmt.Fprintf(it.log, "warning: %s: remove %s: %v\n", it.u.item.ID, it.private, err)
		}
	}()
	// The harness's own temporary files (a container's cid file) live in a
	// directory of their own: the rollout directory is mounted into an
	// agent's container, where the agent could rewrite them.
	harness, err := fsx.MkdirOwned(it.rollRoot, harnessPrefix)
	if err != nil {
		return infra("rollout directory", err)
	}
	it.harness = harness
	defer func() {
		if err := fsx.RemoveOwned(harness); err != nil {
			fmt.Fprintf(it.log, "warning: %s: remove %s: %v\n", it.u.item.ID, harness, err)
		}
	}()
	wsDir := filepath.Join(it.private, "workspace")
	taskCopy := filepath.Join(it.private, journal.TaskFile)
	outDir := filepath.Join(it.private, journal.OutDirName)
	home := filepath.Join(it.private, "home")
	for _, d := range []string{outDir, home, filepath.Join(it.private, "tmp")} {
		if err := agent.MkdirPrivate(d); err != nil {
			return infra("rollout directory", err)
		}
	}

	t0 := o.Now()
	ws, err := workspace.Create(ctx, it.mirror, it.u.item.Pre, wsDir)
	it.phase("workspace", t0)
	if err != nil {
		if ctx.Err() != nil {
			return records.RolloutInterrupted, "interrupted while creating the workspace"
		}
		return infra("workspace", err)
	}
	it.j.DiffBase = ws.Base

	prompt, text, err := it.renderTask(ctx, wsDir)
	if err != nil {
		return infra("task file", err)
	}
	it.j.Hints = records.HintsShown(prompt.HintsShown)
	if err := fsx.WriteFile(filepath.Join(it.u.dir, journal.TaskFile), []byte(text), 0o644); err != nil {
		return infra("task file", err)
	}
	if err := fsx.WriteJSON(filepath.Join(it.u.dir, journal.PromptFile), prompt); err != nil {
		return infra("task file", err)
	}
	if err := os.WriteFile(taskCopy, []byte(text), 0o644); err != nil {
		return infra("task file", err)
	}
	if err := copyHomeFiles(o.Agent.HomeFiles, agent.Host{Env: o.ProcessEnv}.Home(), home); err != nil {
		return infra("home files", err)
	}

	typ := o.Agent.Type
	stdout, err := it.openLog(agent.StdoutName(typ))
	if err != nil {
		return infra("logs", err)
	}
	stderr, err := it.openLog(agent.StderrName(typ))
	if err != nil {
		stdout.Close()
		return infra("logs", err)
	}
	ro := &agent.Rollout{
		RunID: it.run.RunID, ItemID: it.u.item.ID, Sample: it.u.sample,
		Agent: o.Agent, Bench: o.Bench, Limits: it.limits,
		Workspace: wsDir, TaskFile: taskCopy, OutDir: outDir, Home: home, HarnessDir: harness, Host: agent.Host{Env: o.ProcessEnv},
		Prompt: text, Stdout: stdout, Stderr: stderr, Secrets: it.secrets,
		HumanDiff: func(ctx context.Context) ([]byte, error) {
			return it.mirror.Diff(ctx, it.u.item.Pre, it.u.item.Human)
		},
	}
	ro.Env = agent.BaseEnv(agent.EnvInput{
		Process: o.ProcessEnv, Dot: o.Bench.Env, Extra: o.Agent.Env,
		Workspace: wsDir, TaskFile: taskCopy, OutDir: outDir, Home: home,
	})
	if it.spend.refresh(true); it.spend.Reached() {
		// The run's budget ran out while this item was being set up.
		it.j.LimitsHit = appendOnce(it.j.LimitsHit, records.LimitMaxTotalBudgetUSD)
		stdout.Close()
		stderr.Close()
		return records.RolloutInterrupted, fmt.Sprintf("not started: the run's %s of %s is reached", records.LimitMaxTotalBudgetUSD, usd(it.opts.Bench.MaxTotalBudgetUSD))
	}
	ro.Observe = it.observeUsage
	rctx, cancelRollout := context.WithCancelCause(ctx)
	it.usageMu.Lock()
	it.cancelRollout = cancelRollout
	it.usageMu.Unlock()
	t0 = o.Now()
	out, runErr := it.adapter.Run(rctx, ro)
	it.phase("agent", t0)
	// Why the harness stopped the rollout, if it did (a budget cap).
	var stopped error
	if rctx.Err() != nil && ctx.Err() == nil && out != nil && out.Process != nil && out.Process.Stopped {
		stopped = context.Cause(rctx)
	}
	cancelRollout(nil)
	logErr := errors.Join(stdout.Close(), stderr.Close())
	it.j.Logs = records.Logs{Stdout: stdout.info(), Stderr: stderr.info()}
	if out != nil {
		it.fillUsage(out)
		it.classify(out)
		it.recordOutcome(out)
	}

	// Capture even after an interruption: the partial work is evidence.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	t0 = o.Now()
	patchOK, patchReason, capErr := it.capture(cctx, ws)
	it.phase("capture", t0)
	if err := it.copyOut(outDir); err != nil {
		capErr = errors.Join(capErr, err)
	}
	if o.KeepWorkspaces {
		// Without the owner file no later run sweeps it away.
		keep = fsx.DisownDir(it.private)
		it.j.Workspace = wsDir
	}

	switch {
	case ctx.Err() != nil:
		return records.RolloutInterrupted, "interrupted: " + context.Cause(ctx).Error()
	case runErr != nil:
		return infra("agent", runErr)
	case out.Infra != nil:
		it.infraKind = agent.InfraOther
		if ie, ok := out.Infra.(*agent.InfraError); ok {
			it.infraKind = ie.Kind
		}
		return records.RolloutInfraError, out.Infra.Error()
	case capErr != nil:
		return infra("patch capture", capErr)
	case logErr != nil:
		return infra("logs", logErr)
	case it.patchRefused != "":
		return records.RolloutAgentError, it.patchRefused
	case errors.Is(stopped, errItemBudget):
		it.j.LimitsHit = appendOnce(it.j.LimitsHit, records.LimitMaxBudgetUSD)
		spent := "spent " + usd(it.j.Usage.CostUSD)
		if it.priorCost > 0 {
			spent += fmt.Sprintf(", %s with earlier attempts", usd(it.priorCost+it.j.Usage.CostUSD))
		}
		return records.RolloutBudgetExceeded, fmt.Sprintf("%s of %s reached (%s); the harness stopped the agent", records.LimitMaxBudgetUSD, usd(it.limits.MaxBudgetUSD), spent)
	case errors.Is(stopped, errRunBudget):
		// Not the agent's failure: the harness cut it short. It stays
		// to do, for a resume with a larger budget.
		it.j.LimitsHit = appendOnce(it.j.LimitsHit, records.LimitMaxTotalBudgetUSD)
		return records.RolloutInterrupted, fmt.Sprintf("stopped: the run's %s of %s is reached", records.LimitMaxTotalBudgetUSD, usd(it.opts.Bench.MaxTotalBudgetUSD))
	case slices.Contains(it.j.LimitsHit, records.LimitMaxBudgetUSD):
		return records.RolloutBudgetExceeded, fmt.Sprintf("the agent stopped at its budget (spent %s)", usd(it.j.Usage.CostUSD))
	case out.Process != nil && out.Process.TimedOut:
		return records.RolloutTimeout, fmt.Sprintf("wall-clock limit of %s reached", it.limits.Timeout)
	case out.Failed:
		return records.RolloutAgentError, out.Reason
	case out.Process != nil && (out.Process.ExitCode != 0 || out.Process.Signal != "") && !stoppedAtIterations(out):
		return records.RolloutAgentError, exitReason(out.Process)
	case (it.j.Patch == nil || it.j.Patch.Bytes == 0) && !out.ResultRead && it.noPatchInfra() != nil:
		// An agent that gave up on a provider error and exited 0 did
		// not get to try: redo it, do not count it as a result.
		ie := it.noPatchInfra()
		it.infraKind = ie.Kind
		return records.RolloutInfraError, ie.Error()
	case it.j.Patch == nil || it.j.Patch.Bytes == 0:
		return records.RolloutNoPatch, "the agent changed nothing"
	case !patchOK:
		return records.RolloutAgentError, patchReason
	case it.j.Targets != nil && it.j.Targets.Strict && !it.j.Targets.OK:
		return records.RolloutTargetViolation, "changed files outside the targets: " + strings.Join(it.j.Targets.Disallowed, ", ")
	}
	return records.RolloutSuccess, ""
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

// noPatchInfra is the provider error on the end of stderr of a rollout
// that changed nothing, once looked up.
func (it *itemRun) noPatchInfra() *agent.InfraError {
	if !it.noPatchChecked {
		it.noPatchChecked = true
		it.noPatchErr = it.logInfra(false)
	}
	return it.noPatchErr
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
	p, err := ws.CapturePatch(ctx, it.mirror, it.u.item.Pre, workspace.CaptureOptions{
		Private:  it.harness,
		Out:      f,
		MaxBytes: it.opts.Bench.PatchLimit(),
		Exclude:  it.opts.Task.Patch.Excludes(),
		Filter: func(w io.Writer) io.WriteCloser {
			sc = it.secrets.Scrubber(w)
			return sc
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
	if found, files := it.secretsInFiles(ws.Dir, p.BinaryFiles); len(found) > 0 {
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

// secretsInFiles scans the files (relative to dir; symlinks are not
// followed) for secret values: the names found and the files holding them.
func (it *itemRun) secretsInFiles(dir string, files []string) (found, holding []string) {
	for _, name := range files {
		// Non-blocking: a process that outlived the agent may have put a
		// FIFO in the file's place.
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue // deleted: its content is the pre tree's
		}
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		sc := it.secrets.Scrubber(io.Discard)
		_, err = io.Copy(sc, f)
		f.Close()
		sc.Close()
		if n := sc.Found(); len(n) > 0 || err != nil {
			if err != nil {
				n = append(n, secrets.Unnamed) // unreadable: assume the worst
			}
			found = append(found, n...)
			holding = append(holding, name)
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

func (it *itemRun) renderTask(ctx context.Context, wsDir string) (*taskfile.Prompt, string, error) {
	o := it.opts
	shown := wsDir
	if m, ok := it.adapter.(WorkspaceMapper); ok {
		shown = m.AgentWorkspace(wsDir)
	}
	hints := o.Task.Hints
	if !o.Bench.HintsAllowed() {
		hints = config.Hints{}
	}
	var ref taskfile.Reference
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
	p := taskfile.Build(taskfile.Input{
		Task: o.Task, ItemID: item.ID, Workspace: shown, Workload: item.Workload,
		TargetFiles: targets, Hints: hints, Reference: ref, Headless: true,
	})
	text, err := taskfile.Render(p, o.Task)
	if err != nil {
		return nil, "", err
	}
	return p, text, nil
}

// logFile is a capped, scrubbed log in the item directory.
type logFile struct {
	io.WriteCloser
	tail *proc.TailFile
	name string
}

func (it *itemRun) openLog(name string) (*logFile, error) {
	tf, err := proc.NewTailFile(filepath.Join(it.u.dir, name), it.opts.Bench.LogCapBytes)
	if err != nil {
		return nil, err
	}
	return &logFile{WriteCloser: it.secrets.Writer(tf), tail: tf, name: name}, nil
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
