// Package prepare owns the rollout stage: for every plan item (and sample)
// it builds a leak-proof workspace at pre, renders the task file, runs the
// agent under the process contract, captures the patch, decides the item's
// status from facts, and records everything under state/runs/<run_id>/.
// It finds the run to resume, skips finished items, and redoes items left
// in infra_error, interrupted or running (a crash).
package prepare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/gitx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/shard"
	"github.com/perfbench/perfbench/internal/workspace"
)

// DefaultTimeout applies when an agent entry sets no timeout: no rollout
// runs unbounded.
const DefaultTimeout = time.Hour

// Progress receives item events; the CLI draws bars or prints lines.
type Progress interface {
	Start(runID string, total, done int)
	Begin(itemID string)
	End(itemID string, status records.RolloutStatus, reason string, d time.Duration)
	// Skip says an item is not this process's to do (another holds or
	// finished it).
	Skip(itemID, why string)
	// Spend shows the run's spend so far (USD) next to the ETA.
	Spend(usd float64)
	Close()
}

// Options configure a prepare run.
type Options struct {
	Task  *config.Task
	Bench *config.Bench
	Agent *config.Agent
	// Kinds are the agent kinds that can build Agent's adapter
	// (internal/agent/all); nil means the built-in ones.
	Kinds []agent.Kind
	// Plan is the plan to prepare; when nil it is PlanPath's (a
	// resolved plan of Task's), else the one built from Commits (a
	// commits file) or the task's own commits.
	Plan     *plan.Plan
	PlanPath string
	Commits  string

	MaxWorkers     int
	Samples        int
	New            bool
	RunID          string
	KeepWorkspaces bool
	// InitRun creates the run RunID (run.json, its plan, everything
	// run-level) and runs no rollout: the shards of the run start after it.
	InitRun bool
	// Shard, when set (N >= 1), is this process's part of the existing run
	// RunID: only its items are prepared, and nothing run-level (run.json,
	// predictions) is written; `bench merge` does that.
	Shard shard.Spec

	// EnvImages, when set, resolves the task's environment image
	// (env_build): the run's first prepare pins it in run.json, a resume
	// must find the same hash, and container entries without image: run
	// in it, by id. Nil: the task builds no image.
	EnvImages EnvImages

	// ProcessEnv is the harness's environment (os.Environ()).
	ProcessEnv   []string
	BenchVersion string
	Now          func() time.Time
	Progress     Progress
	// Log receives diagnostics (stderr).
	Log io.Writer
}

// Summary is the outcome of a run.
type Summary struct {
	RunID       string
	RunDir      string
	Total       int
	Skipped     int
	Counts      map[records.RolloutStatus]int
	Missing     []string
	Interrupted bool
	// SpentUSD is the run's total spend (every process's ledger),
	// SessionUSD this process's part; Stopped says why the run stopped
	// early ("" when it did not).
	SpentUSD   float64
	SessionUSD float64
	Stopped    string
	// Shard is the process's shard ("I/N", "" unsharded): then SpentUSD
	// is the shard's spend (its processes' ledgers), not the run's.
	Shard string
	// Held are the units skipped because another process held them (and
	// had not finished them by the end).
	Held []Held
}

// Held is a unit another process held.
type Held struct {
	Name   string
	Holder string
}

// Failed reports whether an item ended in infra_error.
func (s *Summary) Failed() bool { return s.Counts[records.RolloutInfraError] > 0 }

// unit is one sample of one item.
type unit struct {
	item   plan.Item
	sample int
	dir    string
}

type runner struct {
	opts     Options
	run      *records.Run
	runDir   string
	mirror   *workspace.Mirror
	adapter  agent.Adapter
	secrets  *secrets.Set
	limits   records.Limits
	rollRoot string
	log      io.Writer
	// env is the task's environment image (nil: it builds none).
	env *envState

	mu     sync.Mutex
	counts map[records.RolloutStatus]int

	spend *spend
	// budget is the cap this process enforces (the run's, or its
	// shard's), budgetName its name in messages.
	budget     float64
	budgetName string
	retry      config.Retry
	// stopRun ends the whole run with a cause (consecutive auth failures).
	stopRun context.CancelCauseFunc
	// authFails counts consecutive auth failures (guarded by mu).
	authFails int
	// ledger is this process's spend on the run, and when it was last
	// written (mu).
	ledger        *journal.Ledger
	ledgerWritten time.Time
	// held maps the units another process held to its description (mu).
	held map[string]string
}

// Defaults of bench.yaml's retry: section.
const (
	DefaultRetryAttempts   = 3
	DefaultRetryBackoff    = 30 * time.Second
	DefaultMaxAuthFailures = 3
)

func retryDefaults(r config.Retry) config.Retry {
	if r.Attempts < 1 {
		r.Attempts = DefaultRetryAttempts
	}
	if r.Backoff <= 0 {
		r.Backoff = records.Duration(DefaultRetryBackoff)
	}
	if r.MaxConsecutiveAuthFailures < 1 {
		r.MaxConsecutiveAuthFailures = DefaultMaxAuthFailures
	}
	return r
}

// errAuthStop is the cause of a run stopped by authentication (or
// billing) failures.
type errAuthStop struct {
	n    int
	last string
	kind agent.InfraKind
}

func (e *errAuthStop) Error() string {
	what := "authentication"
	if e.kind == agent.InfraBilling {
		what = "billing (out of credit)"
	}
	return fmt.Sprintf("stopped after %d consecutive %s failures (last: %s); fix the credentials, then run the same prepare command again to resume", e.n, what, e.last)
}

// noteAuth counts consecutive auth failures and stops the run at the
// limit instead of burning through every item.
func (r *runner) noteAuth(name string, status records.RolloutStatus, kind agent.InfraKind, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case status == records.RolloutInfraError && kind.StopsRun():
		r.authFails++
	case status == records.RolloutInterrupted:
		return
	default:
		r.authFails = 0
	}
	if r.authFails >= r.retry.MaxConsecutiveAuthFailures && r.stopRun != nil {
		r.stopRun(&errAuthStop{n: r.authFails, last: name + ": " + reason, kind: kind})
	}
}

// ledgerWriteEvery bounds how often streamed spend is written to the
// ledger.
const ledgerWriteEvery = 2 * time.Second

// writeLedger records this process's spend on the run (in-flight rollouts
// included) in its ledger, so that a harness killed mid-rollout loses no
// spend and other processes count it against the cap. Streamed updates
// are written at most every ledgerWriteEvery; settled attempts (force) at
// once.
func (r *runner) writeLedger(mine float64, force bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if mine <= r.ledger.SpentUSD {
		return
	}
	now := time.Now()
	if !force && now.Sub(r.ledgerWritten) < ledgerWriteEvery {
		return
	}
	r.ledgerWritten = now
	r.ledger.SpentUSD = mine
	r.ledger.UpdatedAt = r.opts.Now().UTC()
	if err := journal.WriteLedger(r.runDir, r.ledger); err != nil {
		fmt.Fprintf(r.log, "warning: %v\n", err)
	}
}

// openLedger starts this process's ledger, empty: what earlier processes
// spent stays in their own ledgers.
func (r *runner) openLedger() {
	r.ledger = journal.NewLedger(r.opts.Now().UTC())
	r.ledger.Shard = r.opts.Shard.String()
}

// otherSpend is the rest of the spend the cap applies to: for a run, the
// other ledgers and a legacy run.json spend; for a shard, the ledgers of
// the shard's other processes (earlier sessions of it), never its sibling
// shards'. With the even split of max_total_budget_usd, a shard also
// bears 1/N of the spend made outside this N's shards (an unsharded
// session, shards of another N, a legacy run.json spend): each share is
// then (max_total_budget_usd - that spend) / N, so the run's total stays
// under the cap however it was split before. shard_budget_usd is a
// shard's own cap, which that spend does not touch.
func (r *runner) otherSpend() float64 {
	ledgers, _ := journal.ReadLedgers(r.runDir)
	own := journal.LedgerPath(r.runDir, r.ledger)
	if !r.opts.sharded() {
		total := r.run.SpentUSD
		for p, l := range ledgers {
			if p != own {
				total += l.SpentUSD
			}
		}
		return total
	}
	mine, outside := 0.0, r.run.SpentUSD
	for p, l := range ledgers {
		switch {
		case p == own:
		case l.Shard == r.ledger.Shard:
			mine += l.SpentUSD
		case siblingShard(l.Shard, r.opts.Shard.N):
		default:
			outside += l.SpentUSD
		}
	}
	if b := r.opts.Bench; b == nil || b.ShardBudgetUSD > 0 || b.MaxTotalBudgetUSD <= 0 {
		return mine
	}
	return mine + outside/float64(r.opts.Shard.N)
}

// siblingShard reports whether a ledger's shard ("I/N") is one of n
// shards, as this process's is.
func siblingShard(s string, n int) bool {
	if s == "" {
		return false
	}
	sp, err := shard.Parse(s)
	return err == nil && sp.N == n
}

// sharded reports whether this process is one shard of a run.
func (o *Options) sharded() bool { return o.Shard.N > 0 }

// items are the plan items this process prepares: its shard's (every
// sample of an item is in the item's shard).
func (r *runner) items() []plan.Item {
	var out []plan.Item
	for _, it := range r.opts.Plan.Items {
		if r.opts.Shard.Has(it.ID) {
			out = append(out, it)
		}
	}
	return out
}

// ShardBudget is the spend cap of one shard of N: bench.yaml's
// shard_budget_usd, else max_total_budget_usd split evenly (0: none).
func ShardBudget(b *config.Bench, n int) float64 {
	if b.ShardBudgetUSD > 0 {
		return b.ShardBudgetUSD
	}
	return b.MaxTotalBudgetUSD / float64(max(n, 1))
}

// budgetCap is the cap this process enforces and its name in messages:
// the run's max_total_budget_usd, or the shard's budget.
func (r *runner) budgetCap() (float64, string) {
	b, o := r.opts.Bench, r.opts
	if !o.sharded() {
		return b.MaxTotalBudgetUSD, "the run's " + records.LimitMaxTotalBudgetUSD
	}
	if b.ShardBudgetUSD > 0 {
		return b.ShardBudgetUSD, "shard " + o.Shard.String() + "'s shard_budget_usd"
	}
	return ShardBudget(b, o.Shard.N), fmt.Sprintf("shard %s's share (1/%d) of %s", o.Shard, o.Shard.N, records.LimitMaxTotalBudgetUSD)
}

// initSummary is the summary of --init-run: the run exists, nothing ran.
func (r *runner) initSummary(ctx context.Context) (*Summary, error) {
	if _, err := journal.UpdateRun(ctx, r.runDir, func(run *records.Run) {
		run.MaxTotalBudgetUSD = r.opts.Bench.MaxTotalBudgetUSD
	}); err != nil {
		return nil, err
	}
	return &Summary{RunID: r.run.RunID, RunDir: r.runDir, Total: len(r.opts.Plan.Items) * r.opts.Samples, Counts: map[records.RolloutStatus]int{}}, nil
}

// Run prepares every unfinished unit of the plan.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Samples < 1 {
		opts.Samples = 1
	}
	if opts.MaxWorkers < 1 {
		opts.MaxWorkers = 1
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Progress == nil {
		opts.Progress = nopProgress{}
	}
	if opts.Kinds == nil {
		opts.Kinds = agent.Builtins()
	}
	if (opts.InitRun || opts.sharded()) && opts.RunID == "" {
		return nil, badinput.Errorf("--init-run and --shard need --run-id")
	}
	if opts.InitRun && opts.sharded() {
		return nil, badinput.Errorf("--init-run and --shard exclude each other (create the run once, then start its shards)")
	}
	if opts.Plan == nil {
		p, err := findPlan(ctx, &opts)
		if err != nil {
			return nil, err
		}
		opts.Plan = p
	}
	adapter, err := agent.NewOn(opts.Kinds, opts.Agent, agent.Host{Env: opts.ProcessEnv})
	if err != nil {
		return nil, err
	}
	env, err := resolveEnv(ctx, &opts, false)
	if err != nil {
		return nil, err
	}
	r := &runner{opts: opts, adapter: adapter, log: opts.Log, counts: map[records.RolloutStatus]int{}, retry: retryDefaults(opts.Bench.Retry), env: env}
	r.limits = EffectiveLimits(opts.Agent.Limits)
	r.secrets = secretSet(&r.opts)
	if r.rollRoot, err = opts.Bench.PrivateRoot(); err != nil {
		return nil, err
	}
	ca, hasContainers := adapter.(ContainerAdapter)
	if !hasContainers && opts.Agent.Runtime == agent.RuntimeContainer {
		ca, hasContainers = agent.ContainerRuntime{Agent: opts.Agent}, true
	}
	if hasContainers {
		ca.RemoveStaleContainers(ctx, opts.Bench, r.log)
	}
	sweepStaleRollouts(r.rollRoot, r.log)

	if err := r.openRun(ctx); err != nil {
		return nil, err
	}
	// The entry the rollouts run: its image by id (the pinned one for an
	// entry without image:).
	ra, err := r.rolloutAgent(ctx)
	if err != nil {
		return nil, err
	}
	if _, own := adapter.(ContainerAdapter); !own && opts.Agent.Runtime == agent.RuntimeContainer && opts.Agent.Image == "" {
		// Recorded as the image the rollouts run: the pinned one.
		ca = agent.ContainerRuntime{Agent: ra}
	}
	r.opts.Agent = ra
	// Where rollouts run and their images are the run's: recorded by the
	// run's creator (or an unsharded session), never by a shard.
	if !opts.sharded() {
		if err := r.recordRuntime(ctx, agent.RolloutRuntime(opts.Agent, adapter)); err != nil {
			return nil, err
		}
		if hasContainers {
			r.recordImages(ctx, ca)
		}
	}
	if opts.InitRun {
		return r.initSummary(ctx)
	}
	mirror, err := workspace.OpenMirror(ctx, opts.Bench.Paths.WorkRoot, opts.Plan.RepoURL)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", opts.Plan.RepoURL, err)
	}
	r.mirror = mirror

	r.openLedger()
	items := r.items()
	var todo []unit
	skipped := 0
	for _, it := range items {
		for s := 0; s < opts.Samples; s++ {
			u := unit{item: it, sample: s, dir: filepath.Join(r.runDir, journal.ItemDirName(it.ID, s, opts.Samples))}
			if journal.Done(u.dir, it.Hash()) {
				skipped++
				continue
			}
			todo = append(todo, u)
		}
	}
	total := len(items) * opts.Samples
	sessionStart := r.ledger.SpentUSD
	r.budget, r.budgetName = r.budgetCap()
	budget, budgetName := r.budget, r.budgetName
	r.spend = newSpend(sessionStart, budget, r.otherSpend, func(total, mine float64) {
		opts.Progress.Spend(total)
		r.writeLedger(mine, false)
	})
	if r.spend.Reached() && len(todo) > 0 {
		fmt.Fprintf(r.log, "%s of %s is already spent (%s): no item starts\n", budgetName, usd(budget), usd(r.spend.Total()))
	}
	opts.Progress.Start(r.run.RunID, total, skipped)
	if spent := r.spend.Total(); spent > 0 {
		opts.Progress.Spend(spent)
	}

	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	r.stopRun = stopRun
	g, gctx := errgroup.WithContext(runCtx)
	g.SetLimit(opts.MaxWorkers)
	for _, u := range todo {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return r.do(gctx, u) })
	}
	werr := g.Wait()
	opts.Progress.Close()

	sum := &Summary{RunID: r.run.RunID, RunDir: r.runDir, Total: total, Skipped: skipped, Counts: map[records.RolloutStatus]int{}, Shard: opts.Shard.String()}
	for _, it := range items {
		for s := 0; s < opts.Samples; s++ {
			dir := filepath.Join(r.runDir, journal.ItemDirName(it.ID, s, opts.Samples))
			name := filepath.Base(dir)
			j, err := journal.ReadJournal(dir)
			ok := err == nil && j.PlanItemHash == it.Hash()
			if holder, held := r.held[name]; held && !(ok && j.Status.Final()) {
				// The other process's to finish and count.
				sum.Held = append(sum.Held, Held{Name: name, Holder: holder})
				continue
			}
			if !ok {
				sum.Missing = append(sum.Missing, name)
				continue
			}
			sum.Counts[j.Status]++
			if !j.Status.Final() {
				sum.Missing = append(sum.Missing, name)
			}
		}
	}
	// Recorded even after an interruption, waiting only so long for
	// another process's hold of the run's lock.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if !opts.sharded() {
		if perr := r.writePredictions(fctx); perr != nil && werr == nil {
			werr = perr
		}
	}
	sum.Interrupted = ctx.Err() != nil
	r.spend.refresh(true)
	sum.SpentUSD = r.spend.Total()
	sum.SessionUSD = sum.SpentUSD - r.spend.Others() - sessionStart
	if cause := context.Cause(runCtx); !sum.Interrupted && cause != nil && !errors.Is(cause, context.Canceled) {
		sum.Stopped = cause.Error()
	} else if r.spend.Reached() && budget > 0 && len(sum.Missing) > 0 {
		sum.Stopped = fmt.Sprintf("%s of %s is reached (spent %s)", budgetName, usd(budget), usd(sum.SpentUSD))
	}
	if !opts.sharded() {
		if _, err := journal.UpdateRun(fctx, r.runDir, func(run *records.Run) {
			run.Stopped = sum.Stopped
			run.MaxTotalBudgetUSD = opts.Bench.MaxTotalBudgetUSD
			run.UpdatedAt = opts.Now().UTC()
		}); err != nil && werr == nil {
			werr = err
		}
	}
	if werr != nil && !errors.Is(werr, context.Canceled) {
		return sum, werr
	}
	return sum, nil
}

// ContainerAdapter is implemented by adapters that run containers. Before
// the first rollout, prepare lets it remove the containers a crashed
// harness left behind, and records the images it runs (role → image id)
// in run.json.
type ContainerAdapter interface {
	RemoveStaleContainers(ctx context.Context, b *config.Bench, log io.Writer)
	Images(ctx context.Context, b *config.Bench) (map[string]string, error)
}

// recordRuntime records in run.json where this session's rollouts run;
// container is kept once any session ran there (evaluate warns about
// those runs on the host).
func (r *runner) recordRuntime(ctx context.Context, rt string) error {
	if r.run.Runtime == rt || r.run.Runtime == agent.RuntimeContainer {
		return nil
	}
	// Under the run's lock, from the file as it is: another process may
	// have written its images or runtime meanwhile.
	run, err := journal.UpdateRun(ctx, r.runDir, func(run *records.Run) {
		if run.Runtime != agent.RuntimeContainer {
			run.Runtime = rt
		}
	})
	if err != nil {
		return err
	}
	r.run = run
	return nil
}

// recordImages writes the adapter's images into run.json; a resumed run
// whose image changed says so.
func (r *runner) recordImages(ctx context.Context, ca ContainerAdapter) {
	imgs, err := ca.Images(ctx, r.opts.Bench)
	if err != nil {
		fmt.Fprintf(r.log, "warning: %v\n", err)
	}
	if len(imgs) == 0 {
		return
	}
	run, err := journal.UpdateRun(ctx, r.runDir, func(run *records.Run) {
		if run.Images == nil {
			run.Images = map[string]string{}
		}
		for k, v := range imgs {
			if old, ok := run.Images[k]; ok && old != v {
				fmt.Fprintf(r.log, "warning: the %s image changed since the run started (%s, now %s)\n", k, old, v)
			}
			run.Images[k] = v
		}
	})
	if err != nil {
		fmt.Fprintf(r.log, "warning: run.json: %v\n", err)
		return
	}
	r.run = run
}

// EffectiveLimits applies defaults: a timeout for every rollout and a kill
// grace.
func EffectiveLimits(l records.Limits) records.Limits {
	if l.Timeout <= 0 {
		l.Timeout = records.Duration(DefaultTimeout)
	}
	if l.KillGrace <= 0 {
		l.KillGrace = records.Duration(config.DefaultKillGrace)
	}
	return l
}

// EnvList turns a map into NAME=value entries.
func EnvList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func mergedEnv(process []string, dot map[string]string) []string {
	out := append([]string(nil), process...)
	for k, v := range dot {
		out = append(out, k+"="+v)
	}
	return out
}

// AgentConfigHash identifies an agent entry's effective configuration
// (secrets redacted before hashing).
func AgentConfigHash(a *config.Agent, s *secrets.Set) (string, *config.Agent) {
	red := RedactAgent(a, s)
	data, _ := json.Marshal(red)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), red
}

// RedactAgent copies an entry with secret env values and secrets inside
// arguments replaced.
func RedactAgent(a *config.Agent, s *secrets.Set) *config.Agent {
	c := *a
	if a.Env != nil {
		c.Env = map[string]string{}
		for k, v := range a.Env {
			if secrets.LooksSecret(k) {
				v = "[REDACTED]"
			}
			c.Env[k] = s.ScrubString(v)
		}
	}
	c.Command = s.RedactArgv(a.Command)
	c.ExtraArgs = s.RedactArgv(a.ExtraArgs)
	return &c
}

// openRun chooses the run to resume or creates a new one, under
// <state_root>/runs/.lock: two fresh prepares never pick the same id, and
// a resume never sees a run half created.
func (r *runner) openRun(ctx context.Context) error {
	o := r.opts
	root := o.Bench.Paths.StateRoot
	lock, err := journal.LockRuns(ctx, root)
	if err != nil {
		return fmt.Errorf("runs: %w", err)
	}
	defer lock.Unlock()
	hash, red := AgentConfigHash(o.Agent, r.secrets)
	setup := setupRecord(o.Task, r.secrets)
	key := journal.RunKey{TaskID: o.Task.ID, AgentName: o.Agent.Name, Model: o.Agent.Model, PlanHash: o.Plan.Hash, AgentConfigHash: hash, WorkspaceSetupHash: setup.Hash(), Samples: o.Samples}
	var existing *records.Run
	switch {
	case o.RunID != "":
		if !journal.ValidRunID(o.RunID) {
			return badinput.Errorf("--run-id %q: expected one path component of [A-Za-z0-9._-]", o.RunID)
		}
		dir := filepath.Join(journal.RunsDir(root), o.RunID)
		if fsx.Exists(filepath.Join(dir, journal.RunFile)) {
			run, err := journal.ReadRun(dir)
			if err != nil {
				return err
			}
			if run.Task.ID != o.Task.ID {
				return badinput.Errorf("--run-id %s belongs to task %s, not %s", o.RunID, run.Task.ID, o.Task.ID)
			}
			if o.InitRun || o.sharded() {
				// Every shard must prepare the run the way it was created.
				if err := sameRun(run, key); err != nil {
					return err
				}
			}
			existing = run
		} else if o.sharded() {
			return badinput.Errorf("--shard: run %s does not exist in %s; create it first with the same prepare command and --init-run instead of --shard", o.RunID, journal.RunsDir(root))
		}
	case !o.New:
		run, err := journal.FindResumable(root, key)
		if err != nil {
			return err
		}
		existing = run
	}
	if existing != nil {
		// An explicit --run-id (a resume, a shard, a repeated --init-run)
		// must run the setup the run's rollouts ran; FindResumable's key
		// holds it already.
		if err := checkSetup(existing, setup, o.Task.Path); err != nil {
			return err
		}
		if o.EnvImages != nil {
			if err := checkPinned(existing, r.env, o.Task.Path); err != nil {
				return err
			}
		}
		r.run = existing
		r.runDir = filepath.Join(journal.RunsDir(root), existing.RunID)
		if o.InitRun {
			fmt.Fprintf(r.log, "run %s exists with this configuration\n", existing.RunID)
		} else {
			fmt.Fprintf(r.log, "resuming run %s\n", existing.RunID)
		}
		if !o.sharded() && !fsx.Exists(filepath.Join(r.runDir, "plan.json")) {
			return r.writeRunPlan()
		}
		return nil
	}
	// Before anything of the new run exists: the images it pins must
	// still be there now that no prune can run.
	if err := r.env.stillThere(ctx, &o); err != nil {
		return err
	}
	now := o.Now().UTC()
	id := o.RunID
	if id == "" {
		id = journal.FreeRunID(root, journal.NewRunID(o.Task.ID, o.Agent.Name, o.Agent.Model, now))
	}
	ids := make([]string, len(o.Plan.Items))
	for i, it := range o.Plan.Items {
		ids[i] = it.ID
	}
	// The entry is recorded as written, without HTML escaping, like
	// every file fsx writes.
	cfg, err := fsx.MarshalJSON(red)
	if err != nil {
		return fmt.Errorf("run.json: %w", err)
	}
	r.run = &records.Run{
		SchemaVersion: records.SchemaVersion,
		RunID:         id,
		CreatedAt:     now,
		UpdatedAt:     now,
		Task:          records.RunTask{ID: o.Task.ID, Name: o.Task.Name, Path: absPath(o.Task.Path), RepoURL: o.Plan.RepoURL},
		Agent:         records.RunAgent{Name: o.Agent.Name, Type: o.Agent.Type, Model: o.Agent.Model, ConfigHash: hash, Config: cfg},
		PlanHash:      o.Plan.Hash,
		PlanPath:      absPath(o.PlanPath),
		Items:         ids,
		Samples:       o.Samples,
		Limits:        r.limits,
		Provenance:    Provenance(ctx, o.BenchVersion),
		// Recorded, so that every report says the run was not leak-proof.
		AllowUnisolated: o.Bench.AllowUnisolated,
		WorkspaceSetup:  setup,
	}
	r.env.pin(r.run)
	r.runDir = filepath.Join(journal.RunsDir(root), id)
	if err := os.MkdirAll(r.runDir, 0o755); err != nil {
		return fmt.Errorf("run dir: %w", err)
	}
	if err := r.writeRunPlan(); err != nil {
		return err
	}
	return journal.WriteRun(r.runDir, r.run)
}

// sameRun refuses a run made with another plan, agent configuration or
// number of samples than key's: a shard, or a repeated --init-run, must
// not mix its rollouts into another configuration's run.
func sameRun(run *records.Run, key journal.RunKey) error {
	for _, d := range []struct{ what, have, want string }{
		{"plan hash", run.PlanHash, key.PlanHash},
		{"agent", run.Agent.Name, key.AgentName},
		{"model", run.Agent.Model, key.Model},
		{"agent configuration hash", run.Agent.ConfigHash, key.AgentConfigHash},
		{"samples", fmt.Sprint(max(run.Samples, 1)), fmt.Sprint(key.Samples)},
	} {
		if d.have != d.want {
			return badinput.Errorf("--run-id %s was created with %s %q, not %q: give the same --from-plan, --agent, --samples and bench.yaml as --init-run", run.RunID, d.what, d.have, d.want)
		}
	}
	return nil
}

// Provenance is what a new run records of the harness and the machine
// that made it.
func Provenance(ctx context.Context, benchVersion string) records.Provenance {
	gitVersion, _ := gitx.Version(ctx)
	host, _ := os.Hostname()
	return records.Provenance{
		BenchVersion: benchVersion, GoVersion: runtime.Version(), GitVersion: gitVersion,
		OS: runtime.GOOS + "/" + runtime.GOARCH, Hostname: host,
	}
}

// writeRunPlan keeps a copy of the plan in the run directory: the run is
// self-contained (evaluate and report need nothing else), even when
// state/plan.json is later replaced by another plan.
func (r *runner) writeRunPlan() error {
	if err := plan.Write(filepath.Join(r.runDir, "plan.json"), r.opts.Plan); err != nil {
		return fmt.Errorf("run dir: %w", err)
	}
	return nil
}

// absPath makes a recorded path usable from any working directory.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// writePredictions rebuilds the predictions files from the journals on
// disk under the run's lock: whichever process writes last writes every
// row finished by then, its own and the others'.
func (r *runner) writePredictions(ctx context.Context) error {
	lock, err := journal.LockRun(ctx, r.runDir)
	if err != nil {
		return fmt.Errorf("predictions: %w", err)
	}
	defer lock.Unlock()
	_, err = writePredictionsLocked(r.runDir, r.opts.Plan.Items, r.opts.Samples, predictionsModel(r.opts.Agent.Model, r.opts.Agent.Name))
	return err
}

// predictionsModel is the model_name_or_path of a run's rows.
func predictionsModel(model, agentName string) string {
	if model == "" {
		return agentName
	}
	return model
}

// writePredictionsLocked writes every sample's predictions file (with
// samples, predictions.jsonl is sample 0's too) from the journals, the
// run's lock held; it returns the finished units.
func writePredictionsLocked(runDir string, items []plan.Item, samples int, name string) (int, error) {
	finished := 0
	for s := 0; s < samples; s++ {
		paths := []string{journal.PredictionsPath(runDir, s, samples)}
		if s == 0 && samples > 1 {
			paths = append(paths, filepath.Join(runDir, journal.PredictionsFile))
		}
		for k, path := range paths {
			n, err := writePredictionsFile(runDir, path, items, s, samples, name)
			if err != nil {
				return finished, err
			}
			if k == 0 {
				finished += n
			}
		}
	}
	return finished, nil
}

// writePredictionsFile writes the predictions of sample s to path, one
// row at a time, each patch streamed from its model_patch.diff; it
// returns the rows written.
func writePredictionsFile(runDir, path string, items []plan.Item, s, samples int, name string) (int, error) {
	w, err := journal.CreatePredictions(path)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	n := 0
	for _, it := range items {
		dir := filepath.Join(runDir, journal.ItemDirName(it.ID, s, samples))
		j, err := journal.ReadJournal(dir)
		if err != nil || !j.Status.Final() || j.PlanItemHash != it.Hash() {
			continue
		}
		if err := addPrediction(w, it.ID, name, filepath.Join(dir, journal.PatchFile)); err != nil {
			return n, err
		}
		n++
	}
	return n, w.Commit()
}

// addPrediction adds one row whose patch is the file at patchPath (empty
// when there is none).
func addPrediction(w *journal.PredictionsWriter, id, name, patchPath string) error {
	f, err := os.Open(patchPath)
	if os.IsNotExist(err) {
		return w.Add(id, name, nil)
	}
	if err != nil {
		return fmt.Errorf("predictions: %w", err)
	}
	defer f.Close()
	return w.Add(id, name, f)
}

func (r *runner) count(s records.RolloutStatus) {
	r.mu.Lock()
	r.counts[s]++
	r.mu.Unlock()
}

type nopProgress struct{}

func (nopProgress) Start(string, int, int)                                   {}
func (nopProgress) Begin(string)                                             {}
func (nopProgress) End(string, records.RolloutStatus, string, time.Duration) {}
func (nopProgress) Close()                                                   {}
func (nopProgress) Skip(string, string)                                      {}
func (nopProgress) Spend(float64)                                            {}
