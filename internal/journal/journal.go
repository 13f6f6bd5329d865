// Package journal owns the files of a run under state/runs/<run_id>/: the
// run manifest (run.json), each item's journal.json, diff_targets.json and
// predictions.jsonl, the per-process spend ledgers, the claims and locks
// that keep two processes off one item, the run-id format, and the rules
// that decide which items a resumed run still has to do. Every document carries
// schema_version and is written atomically.
package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
)

// SchemaVersion of run.json and journal.json.
const SchemaVersion = 1

// Status is the single final state of an item's rollout.
type Status string

// Statuses. Running is only ever seen on disk after a crash; it counts as
// not done.
const (
	StatusSuccess         Status = "success"
	StatusNoPatch         Status = "no_patch"
	StatusTimeout         Status = "timeout"
	StatusAgentError      Status = "agent_error"
	StatusTargetViolation Status = "target_violation"
	StatusBudgetExceeded  Status = "budget_exceeded"
	StatusInfraError      Status = "infra_error"
	StatusInterrupted     Status = "interrupted"
	StatusRunning         Status = "running"
)

// Statuses lists the final statuses in report order.
var Statuses = []Status{StatusSuccess, StatusNoPatch, StatusTimeout, StatusAgentError, StatusTargetViolation, StatusBudgetExceeded, StatusInfraError, StatusInterrupted}

// Final reports whether an item with this status is finished: agent
// failures are results; infrastructure failures, interruptions and crashes
// are redone on resume.
func (s Status) Final() bool {
	switch s {
	case StatusInfraError, StatusInterrupted, StatusRunning, "":
		return false
	}
	return true
}

// Run is run.json, the manifest of a run.
type Run struct {
	SchemaVersion int       `json:"schema_version"`
	RunID         string    `json:"run_id"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	Task          RunTask   `json:"task"`
	Agent         RunAgent  `json:"agent"`
	PlanHash      string    `json:"plan_hash"`
	PlanPath      string    `json:"plan_path,omitempty"`
	// Items are the plan's item ids in order.
	Items   []string `json:"items"`
	Samples int      `json:"samples"`
	// Limits in force for every item.
	Limits     config.Limits `json:"limits"`
	Provenance Provenance    `json:"provenance"`
	// Images maps a role ("agent", "runtime") to the image id used.
	Images map[string]string `json:"images,omitempty"`
	// Runtime is where the rollouts ran: "container" when the agent's
	// actions were sandboxed in a container (runtime: container, OpenHands
	// in docker mode or with sandbox_runtime: docker) in any session of
	// the run, else "host"; "" in runs that predate it. Evaluate warns
	// when a container run is evaluated on the host.
	Runtime string `json:"runtime,omitempty"`
	// SpentUSD is only read: the spend of a run.json written before
	// ledgers, counted as one more ledger. The run's spend is Spent();
	// MaxTotalBudgetUSD caps it (0 = none).
	SpentUSD          float64 `json:"spent_usd,omitempty"`
	MaxTotalBudgetUSD float64 `json:"max_total_budget_usd,omitempty"`
	// Stopped says why the last session stopped early (the run budget, a
	// series of authentication failures); "" when it did not.
	Stopped string `json:"stopped,omitempty"`
}

// RunTask identifies the task of a run.
type RunTask struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	RepoURL string `json:"repo_url"`
}

// RunAgent identifies the agent of a run. Config is the entry with secrets
// redacted; ConfigHash is computed from it.
type RunAgent struct {
	Name       string        `json:"name"`
	Type       string        `json:"type"`
	Model      string        `json:"model"`
	ConfigHash string        `json:"config_hash"`
	Config     *config.Agent `json:"config"`
	Version    string        `json:"version,omitempty"`
}

// Provenance records what produced a run.
type Provenance struct {
	BenchVersion string `json:"bench_version"`
	GoVersion    string `json:"go_version"`
	GitVersion   string `json:"git_version,omitempty"`
	OS           string `json:"os"`
	Hostname     string `json:"hostname,omitempty"`
}

// Journal is an item's journal.json.
type Journal struct {
	SchemaVersion int    `json:"schema_version"`
	RunID         string `json:"run_id"`
	ItemID        string `json:"item_id"`
	Sample        int    `json:"sample"`
	// PlanItemHash ties the result to the plan item it was produced for.
	PlanItemHash string `json:"plan_item_hash"`
	Status       Status `json:"status"`
	Reason       string `json:"reason,omitempty"`

	Agent RunAgentRef `json:"agent"`
	// Harness is the process that produced this journal.
	Harness   Harness       `json:"harness,omitzero"`
	Limits    config.Limits `json:"limits"`
	LimitsHit []string      `json:"limits_hit,omitempty"`

	StartedAt       time.Time          `json:"started_at"`
	EndedAt         time.Time          `json:"ended_at,omitzero"`
	DurationSeconds float64            `json:"duration_seconds"`
	Phases          map[string]float64 `json:"phases_seconds,omitempty"`
	// Attempts counts the rollouts made (more than 1 after rate-limit
	// retries); Retries says why each earlier attempt was retried.
	Attempts int     `json:"attempts,omitempty"`
	Retries  []Retry `json:"retries,omitempty"`
	// InfraKind classifies an infra_error (auth, rate_limit,
	// model_not_found, infra).
	InfraKind string `json:"infra_kind,omitempty"`

	// SecretInPatch names the secrets found in the agent's patch; they
	// were replaced by [REDACTED:NAME] in model_patch.diff and predictions.
	SecretInPatch []string `json:"secret_in_patch,omitempty"`

	Process   *Process   `json:"process,omitempty"`
	Patch     *PatchInfo `json:"patch,omitempty"`
	Targets   *Targets   `json:"targets,omitempty"`
	DiffBase  string     `json:"diff_base,omitempty"`
	Hints     HintsShown `json:"hints_shown"`
	Logs      Logs       `json:"logs"`
	Usage     Usage      `json:"usage"`
	Workspace string     `json:"workspace,omitempty"`
	// OutSkipped lists what of the agent's output folder was not copied
	// into out/ (over max_out_bytes or the per-file limit, not a regular
	// file, directory or link, changed while being copied), and why.
	OutSkipped []fsx.Skipped `json:"out_skipped,omitempty"`
	// Agent-specific facts (e.g. OpenHands' final agent state).
	Details map[string]any `json:"details,omitempty"`
}

// Retry is one attempt that was retried.
type Retry struct {
	Reason       string  `json:"reason"`
	CostUSD      float64 `json:"cost_usd,omitempty"`
	DelaySeconds float64 `json:"delay_seconds"`
}

// RunAgentRef names the agent in a journal.
type RunAgentRef struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Model string `json:"model"`
}

// Process is how the agent's process ended.
type Process struct {
	// Command is the argv with secrets redacted.
	Command  []string `json:"command,omitempty"`
	ExitCode int      `json:"exit_code"`
	Signal   string   `json:"signal,omitempty"`
	TimedOut bool     `json:"timed_out"`
	Stopped  bool     `json:"stopped"`
	Killed   bool     `json:"killed"`
	// EndedByItself is true when neither the timeout nor the harness
	// stopped the process.
	EndedByItself bool `json:"ended_by_itself"`
}

// PatchInfo summarises model_patch.diff.
type PatchInfo struct {
	Bytes      int      `json:"bytes"`
	Files      []string `json:"files"`
	Added      int      `json:"lines_added"`
	Removed    int      `json:"lines_removed"`
	Binary     bool     `json:"binary,omitempty"`
	Applies    bool     `json:"applies"`
	ApplyError string   `json:"apply_error,omitempty"`
	// TooLarge is the size of a change larger than max_patch_bytes
	// (Limit): nothing of it was kept.
	TooLarge int64 `json:"too_large_bytes,omitempty"`
	Limit    int64 `json:"max_patch_bytes,omitempty"`
	// Excluded lists untracked files left out as build or cache artefacts
	// (patch.exclude), at most 100 of ExcludedCount.
	Excluded      []string `json:"excluded,omitempty"`
	ExcludedCount int      `json:"excluded_count,omitempty"`
}

// Targets is diff_targets.json.
type Targets struct {
	SchemaVersion int      `json:"schema_version"`
	Changed       []string `json:"changed"`
	Allowed       []string `json:"allowed"`
	Disallowed    []string `json:"disallowed"`
	OK            bool     `json:"ok"`
	Strict        bool     `json:"strict"`
}

// HintsShown records what of the human commit reached the agent.
type HintsShown struct {
	CommitMessage bool `json:"commit_message"`
	Diffstat      bool `json:"diffstat"`
	Diff          bool `json:"diff"`
	TargetFiles   bool `json:"target_files"`
}

// Logs describes the captured output files.
type Logs struct {
	Stdout *LogFile `json:"stdout,omitempty"`
	Stderr *LogFile `json:"stderr,omitempty"`
}

// LogFile is one capped log.
type LogFile struct {
	File      string `json:"file"`
	Bytes     int64  `json:"bytes"`
	Kept      int64  `json:"kept"`
	Cap       int64  `json:"cap"`
	Truncated bool   `json:"truncated"`
}

// Usage is what the agent spent, as reported by it (or priced by us).
type Usage = agent.Usage

// File names inside an item directory.
const (
	RunFile         = "run.json"
	JournalFile     = "journal.json"
	TaskFile        = "task.txt"
	PromptFile      = "prompt.json"
	PatchFile       = "model_patch.diff"
	TargetsFile     = "diff_targets.json"
	PredictionsFile = "predictions.jsonl"
	OutDirName      = "out"
)

// RunsDir is state_root/runs.
func RunsDir(stateRoot string) string { return filepath.Join(stateRoot, "runs") }

// ItemDirName is the directory of one sample of an item: "<item>" when the
// run has one sample, "<item>.s<k>" when it has several.
func ItemDirName(itemID string, sample, samples int) string {
	if samples <= 1 {
		return itemID
	}
	return fmt.Sprintf("%s.s%d", itemID, sample)
}

// NewRunID formats "<task>__<agent>__<model>__<YYYYMMDDTHHMMSSZ>", each part
// reduced to [a-z0-9._-].
func NewRunID(task, agent, model string, t time.Time) string {
	if model == "" {
		model = "none"
	}
	return strings.Join([]string{Sanitize(task), Sanitize(agent), Sanitize(model), t.UTC().Format("20060102T150405Z")}, "__")
}

// Sanitize lower-cases s and replaces every character outside [a-z0-9._-]
// with '-' ("anthropic/claude-x" → "anthropic-claude-x").
func Sanitize(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), ".")
	if out == "" {
		out = "x"
	}
	// "__" separates the parts of a run id; keep it unambiguous.
	for strings.Contains(out, "__") {
		out = strings.ReplaceAll(out, "__", "_")
	}
	return out
}

// ValidRunID reports whether id is one safe path component: the parts are
// [a-z0-9._-] and the timestamp's T and Z are upper case, as docs/design.md's "Contracts"
// format shows, so upper-case letters are accepted too.
func ValidRunID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 255 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// ReadRun loads run.json from a run directory.
func ReadRun(runDir string) (*Run, error) {
	var r Run
	if err := fsx.ReadJSON(filepath.Join(runDir, RunFile), &r); err != nil {
		return nil, fmt.Errorf("run %s: %w", runDir, err)
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("run %s: schema_version %d, expected %d", runDir, r.SchemaVersion, SchemaVersion)
	}
	return &r, nil
}

// WriteRun stores run.json atomically.
func WriteRun(runDir string, r *Run) error {
	r.SchemaVersion = SchemaVersion
	return fsx.WriteJSON(filepath.Join(runDir, RunFile), r)
}

// ReadJournal loads an item's journal.json.
func ReadJournal(itemDir string) (*Journal, error) {
	var j Journal
	if err := fsx.ReadJSON(filepath.Join(itemDir, JournalFile), &j); err != nil {
		return nil, err
	}
	if j.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("journal %s: schema_version %d, expected %d", itemDir, j.SchemaVersion, SchemaVersion)
	}
	return &j, nil
}

// WriteJournal stores journal.json atomically.
func WriteJournal(itemDir string, j *Journal) error {
	j.SchemaVersion = SchemaVersion
	return fsx.WriteJSON(filepath.Join(itemDir, JournalFile), j)
}

// Done reports whether the item directory holds a final result produced for
// an item with this plan hash.
func Done(itemDir, itemHash string) bool {
	j, err := ReadJournal(itemDir)
	if err != nil {
		return false
	}
	return j.PlanItemHash == itemHash && j.Status.Final()
}

// RunKey is what a run must match to be resumed.
type RunKey struct {
	TaskID, AgentName, Model, PlanHash, AgentConfigHash string
	Samples                                             int
}

// Matches reports whether r has this key.
func (k RunKey) Matches(r *Run) bool {
	samples := r.Samples
	if samples == 0 {
		samples = 1
	}
	return r.Task.ID == k.TaskID && r.Agent.Name == k.AgentName && r.Agent.Model == k.Model &&
		r.PlanHash == k.PlanHash && r.Agent.ConfigHash == k.AgentConfigHash && samples == k.Samples
}

// ListRuns returns the run directories under state_root/runs that hold a
// readable run.json, newest first. Unreadable ones are returned in bad.
func ListRuns(stateRoot string) (runs []*Run, bad []error, err error) {
	dir := RunsDir(stateRoot)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("list runs: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := ReadRun(filepath.Join(dir, e.Name()))
		if err != nil {
			bad = append(bad, err)
			continue
		}
		runs = append(runs, r)
	}
	sortRunsNewestFirst(runs)
	return runs, bad, nil
}

func sortRunsNewestFirst(runs []*Run) {
	for i := 1; i < len(runs); i++ {
		for j := i; j > 0 && newer(runs[j], runs[j-1]); j-- {
			runs[j], runs[j-1] = runs[j-1], runs[j]
		}
	}
}

func newer(a, b *Run) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.RunID > b.RunID
}

// FindResumable returns the newest run matching key, or nil.
func FindResumable(stateRoot string, key RunKey) (*Run, error) {
	runs, _, err := ListRuns(stateRoot)
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		if key.Matches(r) {
			return r, nil
		}
	}
	return nil, nil
}
