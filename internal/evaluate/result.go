package evaluate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/stats"
)

// SchemaVersion of eval.json.
const SchemaVersion = 1

// FileName is the evaluation result in an item directory.
const FileName = "eval.json"

// Status is the single outcome of an item's evaluation.
type Status string

// Statuses.
const (
	// StatusSuccess: the three arms passed setup, correctness and
	// equivalence and were timed; Stats holds the comparison.
	StatusSuccess Status = "success"
	// StatusBaseFailed: setup, correctness or the workload failed on the
	// baseline (a problem of the task or the machine).
	StatusBaseFailed Status = "base_failed"
	// StatusHumanFailed: the same on the human commit.
	StatusHumanFailed Status = "human_failed"
	// StatusPatchFailed: the agent's patch does not apply to the pre tree.
	StatusPatchFailed Status = "patch_failed"
	// StatusCorrectnessFailed: setup, correctness or the workload failed
	// on the agent's candidate.
	StatusCorrectnessFailed Status = "correctness_failed"
	// StatusEquivalenceFailed: the agent's workload output differs from
	// the baseline's.
	StatusEquivalenceFailed Status = "equivalence_failed"
	// StatusTimeout: a command of the agent's candidate hit the timeout.
	StatusTimeout Status = "timeout"
)

// Statuses in report order.
var Statuses = []Status{StatusSuccess, StatusPatchFailed, StatusCorrectnessFailed, StatusEquivalenceFailed, StatusTimeout, StatusBaseFailed, StatusHumanFailed}

// Done reports whether an item with this status needs no new evaluation:
// base_failed and human_failed are problems of the task or the machine and
// are evaluated again.
func (s Status) Done() bool {
	switch s {
	case StatusBaseFailed, StatusHumanFailed, "":
		return false
	}
	return true
}

// AgentGate reports whether the agent's candidate passed the correctness
// gate (patch applied, setup and correctness passed, output equivalent,
// timed without failure); ok is false when the gate was not reached
// because the baseline or the human arm failed.
func (s Status) AgentGate() (passed, reached bool) {
	switch s {
	case StatusSuccess:
		return true, true
	case StatusBaseFailed, StatusHumanFailed, "":
		return false, false
	}
	return false, true
}

// Flags of an item.
const (
	// FlagEmptyPatch: the patch was empty; the agent arm is the baseline.
	FlagEmptyPatch = "empty_patch"
	// FlagThreeWay: the patch applied only with git apply --3way.
	FlagThreeWay = "applied_3way"
	// FlagNotPinned: some timed run was not pinned to a CPU.
	FlagNotPinned = "not_pinned"
	// FlagNoisy: an arm's coefficient of variation is above 10%.
	FlagNoisy = "noisy"
	// FlagFewRounds: fewer than 10 timed rounds.
	FlagFewRounds = "few_rounds"
	// FlagContended: the workload's main process waited for its CPU more
	// than ContendedShare of the timed wall time (other tasks ran there).
	FlagContended = "contended"
)

// ContendedShare is the run-queue delay, as a share of the timed wall
// time, above which an item is flagged contended.
const ContendedShare = 0.05

// Contention returns the run-queue delay of the timed samples as a share
// of their wall time; ok is false when it was not measured.
func Contention(samples []Sample) (share float64, ok bool) {
	var delay, wall float64
	for _, s := range samples {
		if s.Warmup {
			continue
		}
		if !s.RunDelayKnown {
			return 0, false
		}
		delay += s.RunDelaySeconds
		wall += s.WallSeconds
	}
	if wall <= 0 {
		return 0, false
	}
	return delay / wall, true
}

// Result is eval.json.
type Result struct {
	SchemaVersion int    `json:"schema_version"`
	RunID         string `json:"run_id,omitempty"`
	ItemID        string `json:"item_id"`
	Sample        int    `json:"sample"`
	// PlanItemHash, PatchHash and ConfigHash tie the result to what was
	// evaluated; resume redoes an item when one of them changed.
	PlanItemHash string `json:"plan_item_hash"`
	PatchHash    string `json:"patch_hash"`
	ConfigHash   string `json:"config_hash"`

	Status Status   `json:"status"`
	Reason string   `json:"reason,omitempty"`
	Flags  []string `json:"flags,omitempty"`

	Config  Spec    `json:"config"`
	Commits Commits `json:"commits"`
	Patch   Patch   `json:"patch"`

	Environment Environment `json:"environment"`
	// Harness is the process that evaluated the item.
	Harness journal.Harness `json:"harness,omitzero"`
	// Commands are the setup and correctness commands of every arm.
	Commands    []CommandLog       `json:"commands"`
	Equivalence *EquivalenceResult `json:"equivalence,omitempty"`
	// Samples are every run of the workload, warm-up included, in the
	// order they ran.
	Samples []Sample `json:"samples"`
	// Stats compares the timed samples; nil when the item was not timed.
	Stats *stats.ThreeWay `json:"stats,omitempty"`

	StartedAt       time.Time `json:"started_at"`
	EndedAt         time.Time `json:"ended_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	RegradedAt      time.Time `json:"regraded_at,omitzero"`
}

// Commits names the trees of the arms.
type Commits struct {
	Pre   string `json:"pre"`
	Human string `json:"human"`
}

// Patch describes the agent's patch.
type Patch struct {
	Bytes   int  `json:"bytes"`
	Empty   bool `json:"empty"`
	Applied bool `json:"applied"`
	// ThreeWay is set when only git apply --3way applied it.
	ThreeWay bool `json:"three_way,omitempty"`
	// FailingHunks are the hunks git could not apply.
	FailingHunks []Hunk `json:"failing_hunks,omitempty"`
	ApplyError   string `json:"apply_error,omitempty"`
}

// Hunk is one failing hunk of a patch.
type Hunk struct {
	File string `json:"file"`
	// Line is the line of the pre file where git expected the hunk.
	Line int `json:"line,omitempty"`
	// Header is the hunk's "@@ -a,b +c,d @@" line and Text its body
	// (capped), when the hunk could be found in the patch.
	Header string `json:"header,omitempty"`
	Text   string `json:"text,omitempty"`
}

// CommandLog is one setup or correctness command run on one arm.
type CommandLog struct {
	Arm   Arm    `json:"arm"`
	Phase string `json:"phase"` // files | setup | correctness
	// Command is the command as written in the task ({workspace} not
	// expanded), with secret-looking values redacted.
	Command         string  `json:"command"`
	ExitCode        int     `json:"exit_code"`
	Signal          string  `json:"signal,omitempty"`
	TimedOut        bool    `json:"timed_out,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
	OK              bool    `json:"ok"`
	// Output is the tail of stdout and stderr, capped, secrets scrubbed.
	Output          string `json:"output,omitempty"`
	OutputBytes     int64  `json:"output_bytes"`
	OutputTruncated bool   `json:"output_truncated,omitempty"`
	Error           string `json:"error,omitempty"`
}

// EquivalenceResult compares the first run's output of each candidate
// with the baseline's.
type EquivalenceResult struct {
	Mode      string  `json:"mode"`
	Tolerance float64 `json:"tolerance,omitempty"`
	HumanOK   bool    `json:"human_ok"`
	AgentOK   bool    `json:"agent_ok"`
	Detail    string  `json:"detail,omitempty"`
	// BaseOutputSHA256 identifies the baseline's output.
	BaseOutputSHA256 string `json:"base_output_sha256"`
}

// Sample is one run of the workload.
type Sample struct {
	Arm Arm `json:"arm"`
	// Round is 0-based over all rounds, warm-up rounds first; Position is
	// the arm's place in the round's order (0, 1, 2).
	Round    int  `json:"round"`
	Position int  `json:"position"`
	Warmup   bool `json:"warmup"`
	// Value is the metric (seconds for wall).
	Value       float64 `json:"value"`
	WallSeconds float64 `json:"wall_seconds"`
	// UserSeconds and SysSeconds are the CPU times of the process tree;
	// CPUTimes is false when they could not be attributed to this run.
	UserSeconds float64 `json:"user_seconds"`
	SysSeconds  float64 `json:"sys_seconds"`
	CPUTimes    bool    `json:"cpu_times"`
	// RunDelaySeconds is how long the workload's main process waited for
	// its CPU while runnable (/proc/<pid>/schedstat; descendants not
	// counted): time another task took from it. RunDelayKnown says whether
	// it was measured.
	RunDelaySeconds float64 `json:"run_delay_seconds"`
	RunDelayKnown   bool    `json:"run_delay_known"`
	Pinned          bool    `json:"pinned"`
	ExitCode        int     `json:"exit_code"`
	// OffsetSeconds is when the run started, from the first run.
	OffsetSeconds float64 `json:"offset_seconds"`
}

// Timed returns the values of the arm's timed samples in round order.
func Timed(samples []Sample, arm Arm) []float64 {
	var out []float64
	for _, s := range samples {
		if s.Arm == arm && !s.Warmup {
			out = append(out, s.Value)
		}
	}
	return out
}

// Analyze computes the statistics of the timed samples with the spec's
// options.
func Analyze(samples []Sample, spec *Spec) stats.ThreeWay {
	return stats.Analyze(Timed(samples, Base), Timed(samples, Human), Timed(samples, Agent), spec.Options())
}

// PatchHash identifies a patch's bytes.
func PatchHash(patch []byte) string {
	sum := sha256.Sum256(patch)
	return hex.EncodeToString(sum[:8])
}

// Read loads dir/eval.json.
func Read(dir string) (*Result, error) {
	var r Result
	if err := fsx.ReadJSON(filepath.Join(dir, FileName), &r); err != nil {
		return nil, err
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%s: schema_version %d, expected %d", filepath.Join(dir, FileName), r.SchemaVersion, SchemaVersion)
	}
	return &r, nil
}

// Write stores dir/eval.json atomically.
func Write(dir string, r *Result) error {
	r.SchemaVersion = SchemaVersion
	return fsx.WriteJSON(filepath.Join(dir, FileName), r)
}

// failure is why an arm stopped.
type failure struct {
	arm Arm
	// kind is "files", "setup", "correctness", "workload", "metric" or
	// "equivalence".
	kind     string
	timedOut bool
	reason   string
}

// statusOf decides the status from the first failure (nil: success).
// The baseline and the human arm failing are problems of the task or the
// machine; the agent's candidate failing is the agent's result: timeout
// when the limit stopped it, equivalence_failed when its output differs,
// correctness_failed otherwise.
func statusOf(f *failure) Status {
	if f == nil {
		return StatusSuccess
	}
	switch f.arm {
	case Base:
		return StatusBaseFailed
	case Human:
		return StatusHumanFailed
	}
	switch {
	case f.kind == "patch":
		return StatusPatchFailed
	case f.timedOut:
		return StatusTimeout
	case f.kind == "equivalence":
		return StatusEquivalenceFailed
	}
	return StatusCorrectnessFailed
}
