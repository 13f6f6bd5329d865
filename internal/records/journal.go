package records

import (
	"time"

	"github.com/perfbench/perfbench/internal/fsx"
)

// RolloutStatus is the single final state of an item's rollout: a
// journal's status.
type RolloutStatus string

// Rollout statuses. Running is only ever seen on disk after a crash; it counts as
// not done.
const (
	RolloutSuccess         RolloutStatus = "success"
	RolloutNoPatch         RolloutStatus = "no_patch"
	RolloutTimeout         RolloutStatus = "timeout"
	RolloutAgentError      RolloutStatus = "agent_error"
	RolloutTargetViolation RolloutStatus = "target_violation"
	RolloutBudgetExceeded  RolloutStatus = "budget_exceeded"
	RolloutInfraError      RolloutStatus = "infra_error"
	RolloutInterrupted     RolloutStatus = "interrupted"
	RolloutRunning         RolloutStatus = "running"
)

// RolloutStatuses lists the final statuses in report order.
var RolloutStatuses = []RolloutStatus{RolloutSuccess, RolloutNoPatch, RolloutTimeout, RolloutAgentError, RolloutTargetViolation, RolloutBudgetExceeded, RolloutInfraError, RolloutInterrupted}

// Final reports whether an item with this status is finished: agent
// failures are results; infrastructure failures, interruptions and crashes
// are redone on resume.
func (s RolloutStatus) Final() bool {
	switch s {
	case RolloutInfraError, RolloutInterrupted, RolloutRunning, "":
		return false
	}
	return true
}

// Journal is an item's journal.json.
type Journal struct {
	SchemaVersion int    `json:"schema_version"`
	RunID         string `json:"run_id"`
	ItemID        string `json:"item_id"`
	Sample        int    `json:"sample"`
	// PlanItemHash ties the result to the plan item it was produced for.
	PlanItemHash string        `json:"plan_item_hash"`
	Status       RolloutStatus `json:"status"`
	Reason       string        `json:"reason,omitempty"`

	Agent RunAgentRef `json:"agent"`
	// Harness is the process that produced this journal.
	Harness Harness `json:"harness,omitzero"`
	// Shard is that process's part of the run ("I/N", prepare --shard;
	// empty unsharded): merge tells which partitions prepared a run.
	Shard     string   `json:"shard,omitempty"`
	Limits    Limits   `json:"limits"`
	LimitsHit []string `json:"limits_hit,omitempty"`

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
	// Forensics are the leak-attempt and reward-hack findings on the
	// rollout (package forensics); they never change Status.
	Forensics *Forensics `json:"forensics,omitempty"`
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
