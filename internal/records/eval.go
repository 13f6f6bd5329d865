package records

import (
	"time"

	"github.com/perfbench/perfbench/internal/stats"
)

// EvalSchemaVersion of eval.json. Version 2 added the item layout of a
// run with samples (Candidates, Sample.Sample, CommandLog.Sample); a file
// without candidates is, field for field, version 1's, which is still
// read (EvalSchemaVersionPerSample).
const EvalSchemaVersion = 2

// EvalSchemaVersionPerSample is the version of the per-sample layout:
// one eval.json in every sample's directory, each sample timed with its
// own baseline and human rounds. It is read, never written.
const EvalSchemaVersionPerSample = 1

// EvalStatus is the single outcome of an item's evaluation: eval.json's
// status.
type EvalStatus string

// Evaluation statuses.
const (
	// EvalSuccess: the three arms passed setup, correctness and
	// equivalence and were timed; Stats holds the comparison.
	EvalSuccess EvalStatus = "success"
	// EvalBaseFailed: setup, correctness or the workload failed on the
	// baseline (a problem of the task or the machine).
	EvalBaseFailed EvalStatus = "base_failed"
	// EvalHumanFailed: the same on the human commit.
	EvalHumanFailed EvalStatus = "human_failed"
	// EvalPatchFailed: the agent's patch does not apply to the pre tree.
	EvalPatchFailed EvalStatus = "patch_failed"
	// EvalCorrectnessFailed: setup, correctness or the workload failed
	// on the agent's candidate.
	EvalCorrectnessFailed EvalStatus = "correctness_failed"
	// EvalEquivalenceFailed: the agent's workload output differs from
	// the baseline's.
	EvalEquivalenceFailed EvalStatus = "equivalence_failed"
	// EvalTimeout: a command of the agent's candidate hit the timeout.
	EvalTimeout EvalStatus = "timeout"
)

// EvalStatuses in report order.
var EvalStatuses = []EvalStatus{EvalSuccess, EvalPatchFailed, EvalCorrectnessFailed, EvalEquivalenceFailed, EvalTimeout, EvalBaseFailed, EvalHumanFailed}

// Done reports whether an item with this status needs no new evaluation:
// base_failed and human_failed are problems of the task or the machine and
// are evaluated again.
func (s EvalStatus) Done() bool {
	switch s {
	case EvalBaseFailed, EvalHumanFailed, "":
		return false
	}
	return true
}

// AgentGate reports whether the agent's candidate passed the correctness
// gate (patch applied, setup and correctness passed, output equivalent,
// timed without failure); ok is false when the gate was not reached
// because the baseline or the human arm failed.
func (s EvalStatus) AgentGate() (passed, reached bool) {
	switch s {
	case EvalSuccess:
		return true, true
	case EvalBaseFailed, EvalHumanFailed, "":
		return false, false
	}
	return false, true
}

// FewRounds is the number of timed rounds below which an evaluation is
// flagged few_rounds and validate warns: the rank test then has little
// power, and below 4 per arm it cannot reach p <= 0.05 at all.
const FewRounds = 10

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
	// FlagFewRounds: fewer than FewRounds timed rounds.
	FlagFewRounds = "few_rounds"
	// FlagContended: the workload's main process waited for its CPU more
	// than evaluate.ContendedShare of the timed wall time (other tasks ran there).
	FlagContended = "contended"
	// FlagMetricsDisagree: the metric and a secondary metric (wall and
	// CPU time, or either and instructions) disagree on the candidate:
	// one says faster, the other slower, both significant; or, between
	// wall and CPU time, the metric finds a significant gain beyond the
	// band and the other a gain smaller by more than the band (or none),
	// their confidence intervals apart.
	FlagMetricsDisagree = "metrics_disagree"
	// FlagWritesDuringTiming: the candidate's timed runs created or changed
	// files (workspace, HOME, TMPDIR) that the baseline's did not: a cache
	// it builds for itself across runs (ProtocolChecks.TimingWrites).
	FlagWritesDuringTiming = "writes_during_timing"
	// FlagWarmCache: the candidate's first run was slower than its timed
	// median by a factor more than twice the baseline's same factor.
	FlagWarmCache = "warm_cache_suspected"
	// FlagSetupGrew: the candidate's setup took more than twice the
	// baseline's and at least a second longer (work moved into setup).
	FlagSetupGrew = "setup_grew"
	// FlagWatchTruncated: a manifest of a watched directory stopped at its
	// entry cap, so writes past it were not seen (ProtocolChecks.Watched).
	FlagWatchTruncated = "watch_truncated"
)

// Metric kinds beside regex and json: the workload's wall time, the user
// + system CPU time of its process tree, and the instructions its process
// tree retired.
const (
	MetricWall         = "wall"
	MetricCPU          = "cpu"
	MetricInstructions = "instructions"
	// MetricRunQueue names the probe runs of calibrate's metric advice in
	// Eval.SecondarySamples (never a configured metric): the baseline's
	// workload traced for its whole tree's run-queue delay (Value, and
	// RunDelaySeconds) and time on a CPU (RunCPUSeconds).
	MetricRunQueue = "run_queue"
)

// Instruction counters (Environment.InstructionsMethod).
const (
	CounterPerf       = "perf"
	CounterCachegrind = "cachegrind"
)

// ProtocolChecks are what the timing protocol's checks measured on one
// candidate (docs/evaluation.md, "A timing protocol an agent cannot
// game"): the figures behind writes_during_timing, warm_cache_suspected
// and setup_grew.
type ProtocolChecks struct {
	// SetupSeconds is the candidate's setup time (its setup commands),
	// BaseSetupSeconds the baseline's.
	SetupSeconds     float64 `json:"setup_seconds"`
	BaseSetupSeconds float64 `json:"base_setup_seconds"`
	// FirstRunFactor is the candidate's first run (its first warm-up)
	// over its timed median, in the metric's direction (above 1: the
	// first run was slower); BaseFirstRunFactor the baseline's. 0 when
	// not computable.
	FirstRunFactor     float64 `json:"first_run_factor,omitempty"`
	BaseFirstRunFactor float64 `json:"base_first_run_factor,omitempty"`
	// FirstRunExcess is the candidate's first run minus its timed median,
	// in the metric's unit and direction (above 0: the first run was
	// slower); BaseFirstRunExcess the baseline's.
	FirstRunExcess     float64 `json:"first_run_excess,omitempty"`
	BaseFirstRunExcess float64 `json:"base_first_run_excess,omitempty"`
	// TimingWrites are the files ("workspace/…", "home/…", "tmp/…") that
	// the candidate's timed runs created or changed and the baseline's did
	// not, the first MaxTimingWrites of TimingWritesTotal.
	TimingWrites      []string `json:"timing_writes,omitempty"`
	TimingWritesTotal int      `json:"timing_writes_total,omitempty"`
	// InformationalWrites are such files that do not flag the candidate:
	// Python's bytecode cache (__pycache__/*.pyc), which the interpreter
	// writes for any module the candidate adds; the first MaxTimingWrites.
	InformationalWrites []string `json:"informational_writes,omitempty"`
	// Watched are the directories whose manifests were compared; a
	// manifest cut at its entry cap is marked truncated.
	Watched []WatchedDir `json:"watched,omitempty"`
}

// MaxTimingWrites caps ProtocolChecks.TimingWrites.
const MaxTimingWrites = 20

// WatchedDir is one directory whose manifests were taken.
type WatchedDir struct {
	// Name is workspace, home or tmp, or the path of a host temporary
	// directory every arm shares (/tmp, /var/tmp, /dev/shm).
	Name string `json:"name"`
	// Shared is set for a directory all arms write (the host's HOME):
	// its changes are attributed to the arm whose run was being timed.
	Shared    bool `json:"shared,omitempty"`
	Truncated bool `json:"truncated,omitempty"`
	// UnattributedRuns counts the timed runs whose changes to a shared
	// directory were attributed to no arm: other commands of the harness
	// (another item's setup) ran at the same time.
	UnattributedRuns int `json:"unattributed_runs,omitempty"`
}

// Eval is eval.json. It has two layouts:
//
//   - one candidate (a run without samples, or a file of the per-sample
//     layout of version 1): the top-level fields are the evaluation of
//     that candidate, and Candidates is nil;
//   - the item layout (a run with samples, K > 1): one file per item, in
//     its sample-0 directory, whose baseline and human were timed once in
//     the same rounds as every candidate. Candidates holds each
//     candidate's patch, status and statistics; the top-level Status is
//     the item's own (success, or base_failed / human_failed), PatchHash,
//     Patch and Stats are empty, and the agent samples and commands carry
//     the candidate's sample number.
//
// journal.ReadSampleEval turns either into the one-candidate view.
type Eval struct {
	SchemaVersion int    `json:"schema_version"`
	RunID         string `json:"run_id,omitempty"`
	ItemID        string `json:"item_id"`
	Sample        int    `json:"sample"`
	// PlanItemHash, PatchHash and ConfigHash tie the result to what was
	// evaluated; resume redoes an item when one of them changed.
	// PatchHash and Patch are empty in the item layout (each candidate
	// has its own).
	PlanItemHash string `json:"plan_item_hash"`
	PatchHash    string `json:"patch_hash,omitempty"`
	ConfigHash   string `json:"config_hash"`

	Status EvalStatus `json:"status"`
	Reason string     `json:"reason,omitempty"`
	Flags  []string   `json:"flags,omitempty"`

	Config  EvalSpec  `json:"config"`
	Commits Commits   `json:"commits"`
	Patch   EvalPatch `json:"patch,omitzero"`

	Environment Environment `json:"environment"`
	// Harness is the process that evaluated the item.
	Harness Harness `json:"harness,omitzero"`
	// Commands are the setup and correctness commands of every arm.
	Commands    []CommandLog       `json:"commands"`
	Equivalence *EquivalenceResult `json:"equivalence,omitempty"`
	// Samples are every run of the workload, warm-up included, in the
	// order they ran.
	Samples []Sample `json:"samples"`
	// Stats compares the timed samples; nil when the item was not timed.
	Stats *stats.ThreeWay `json:"stats,omitempty"`
	// Secondary are the statistics of config.secondary_metrics in the
	// one-candidate layout (each candidate has its own in the item
	// layout); the verdict is Stats', never these.
	Secondary []SecondaryStats `json:"secondary,omitempty"`
	// SecondarySamples are the runs made for a secondary metric that
	// needs runs of its own (instructions: every run is under the
	// counter), in the order they ran; Value is the metric.
	SecondarySamples []Sample `json:"secondary_samples,omitempty"`
	// Candidates are the agent's candidates of an item evaluated in the
	// item layout, by sample; nil in the one-candidate layout.
	Candidates []EvalCandidate `json:"candidates,omitempty"`
	// Protocol is the timing protocol's findings on the candidate (the
	// one-candidate layout; in the item layout each candidate has its own).
	Protocol *ProtocolChecks `json:"protocol,omitempty"`
	// RoundSeeds are the {seed} of every round (warm-up rounds first),
	// when the commands use {round} or {seed}; setup and correctness had
	// round 0's.
	RoundSeeds []int64 `json:"round_seeds,omitempty"`

	StartedAt       time.Time `json:"started_at"`
	EndedAt         time.Time `json:"ended_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	RegradedAt      time.Time `json:"regraded_at,omitzero"`
}

// EvalCandidate is one sample's candidate in the item layout.
type EvalCandidate struct {
	Sample    int    `json:"sample"`
	PatchHash string `json:"patch_hash"`
	// Status is the candidate's outcome (success: it passed the gate and
	// was timed to the end); a candidate that fails leaves the rounds and
	// the others continue. One that did not fail by itself when the
	// baseline or the human did has the item's status.
	Status EvalStatus `json:"status"`
	Reason string     `json:"reason,omitempty"`
	// Flags are the candidate's own (empty_patch, applied_3way, noisy);
	// the item's (not_pinned, few_rounds, contended) are at the top.
	Flags []string  `json:"flags,omitempty"`
	Patch EvalPatch `json:"patch"`
	// EquivalenceOK and EquivalenceDetail are its output's comparison
	// with the baseline's (when the item has equivalence).
	EquivalenceOK     bool   `json:"equivalence_ok,omitempty"`
	EquivalenceDetail string `json:"equivalence_detail,omitempty"`
	// Stats compares its timed samples with the item's baseline and
	// human; nil when it was not timed to the end.
	Stats *stats.ThreeWay `json:"stats,omitempty"`
	// Secondary are its statistics on the secondary metrics.
	Secondary []SecondaryStats `json:"secondary,omitempty"`
	// Protocol is the timing protocol's findings on it.
	Protocol *ProtocolChecks `json:"protocol,omitempty"`
}

// SecondaryStats are the statistics of one secondary metric, computed
// like the metric's: from the same samples for wall and cpu, from
// SecondarySamples for instructions.
type SecondaryStats struct {
	// Metric is wall, cpu or instructions.
	Metric string `json:"metric"`
	// Method is the instruction counter (perf, cachegrind).
	Method string `json:"method,omitempty"`
	// Stats is nil when the metric could not be measured; Error says why.
	Stats *stats.ThreeWay `json:"stats,omitempty"`
	Error string          `json:"error,omitempty"`
	// Disagrees is set when this metric and the item's metric both find
	// the candidate significantly different from the baseline, in
	// opposite directions, or (wall vs CPU time) when this metric falls
	// short of the item's metric's significant gain beyond the band (see
	// FlagMetricsDisagree).
	Disagrees bool `json:"disagrees,omitempty"`
}

// Candidate returns the candidate of sample k, or nil.
func (r *Eval) Candidate(k int) *EvalCandidate {
	for i := range r.Candidates {
		if r.Candidates[i].Sample == k {
			return &r.Candidates[i]
		}
	}
	return nil
}

// Commits names the trees of the arms.
type Commits struct {
	Pre   string `json:"pre"`
	Human string `json:"human"`
}

// EvalPatch describes the agent's patch as evaluate applied it.
type EvalPatch struct {
	Bytes   int  `json:"bytes"`
	Empty   bool `json:"empty"`
	Applied bool `json:"applied"`
	// ThreeWay is set when only git apply --3way applied it.
	ThreeWay bool `json:"three_way,omitempty"`
	// FailingHunks are the hunks git could not apply.
	FailingHunks []Hunk `json:"failing_hunks,omitempty"`
	ApplyError   string `json:"apply_error,omitempty"`
	// RewardHacks are the reward-hack rules that matched the applied
	// patch (package forensics): shown, never changing the status unless
	// the task's evaluation.reject_flags names them.
	RewardHacks []RewardHack `json:"reward_hacks,omitempty"`
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
	Arm Arm `json:"arm"`
	// Sample is the candidate's sample of an agent command in the item
	// layout.
	Sample int    `json:"sample,omitempty"`
	Phase  string `json:"phase"` // files | setup | correctness | recheck
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
	// Sample is the candidate's sample of an agent run in the item layout.
	Sample int `json:"sample,omitempty"`
	// Round is 0-based over all rounds, warm-up rounds first; Position is
	// the arm's place in the round's order (0, 1, 2; up to K+1 with K
	// candidates).
	Round    int  `json:"round"`
	Position int  `json:"position"`
	Warmup   bool `json:"warmup"`
	// Value is the metric (seconds for wall and cpu, a count for
	// instructions).
	Value float64 `json:"value"`
	// Metric names what Value is in Eval.SecondarySamples
	// (instructions); empty in Samples, whose Value is config.metric.
	Metric      string  `json:"metric,omitempty"`
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
	// RunCPUSeconds is the main process's own time on a CPU (schedstat,
	// its descendants not counted), measured with RunDelaySeconds: the
	// two scale the delay to the whole tree (stats.TreeRunDelay). 0 in
	// files of older harnesses.
	RunCPUSeconds float64 `json:"run_cpu_seconds,omitempty"`
	Pinned        bool    `json:"pinned"`
	ExitCode      int     `json:"exit_code"`
	// OffsetSeconds is when the run started, from the first run.
	OffsetSeconds float64 `json:"offset_seconds"`
}

// Arm is one of the three kinds of arms of an item; with samples there
// is one agent arm per candidate, told apart by Sample.Sample.
type Arm string

// The arms, in the order of the first round.
const (
	ArmBase  Arm = "base"
	ArmHuman Arm = "human"
	ArmAgent Arm = "agent"
)

// Arms lists the arms in the order of the first round: B H A.
var Arms = []Arm{ArmBase, ArmHuman, ArmAgent}

// EvalSpec is the effective evaluation of one item, eval.json's config:
// the task's evaluation section, overridden field by field by the plan
// item's, with defaults.
type EvalSpec struct {
	Setup       []string     `json:"setup,omitempty"`
	Workload    string       `json:"workload"`
	Metric      Metric       `json:"metric"`
	Correctness []string     `json:"correctness,omitempty"`
	Equivalence *Equivalence `json:"equivalence,omitempty"`
	// Files are the evaluation files as written in the task.
	Files   []string `json:"files,omitempty"`
	Rounds  int      `json:"rounds"`
	Warmup  int      `json:"warmup"`
	Timeout Duration `json:"timeout"`
	Band    float64  `json:"band"`
	Alpha   float64  `json:"alpha"`
	// Image is environment.image ("" = the host).
	Image string `json:"image,omitempty"`
	// SecondaryMetrics are recorded beside Metric (wall, cpu,
	// instructions); absent in files of older harnesses.
	SecondaryMetrics []string `json:"secondary_metrics,omitempty"`
	// Recheck runs correctness again after the last timed round.
	Recheck bool `json:"recheck,omitempty"`
	// RejectFlags are the reward-hack rules that fail a candidate.
	RejectFlags []string `json:"reject_flags,omitempty"`
}

// Metric is what is measured: "wall" or a regex/json extraction (the
// fields of config.Metric).
type Metric struct {
	Kind   string `json:"kind"` // wall | regex | json
	Regex  string `json:"regex,omitempty"`
	JSON   string `json:"json,omitempty"`
	Unit   string `json:"unit,omitempty"`
	Better string `json:"better,omitempty"` // lower | higher
}

// Equivalence is how outputs are compared: mode exact or numeric, with a
// tolerance for numeric (the fields of config.Equivalence).
type Equivalence struct {
	Mode      string  `json:"mode"` // exact | numeric
	Tolerance float64 `json:"tolerance,omitempty"`
}

// Environment describes the machine an item was timed on.
type Environment struct {
	// Runner is "host" or the container runtime's name.
	Runner   string `json:"runner"`
	Hostname string `json:"hostname,omitempty"`
	OS       string `json:"os"`
	Kernel   string `json:"kernel,omitempty"`
	CPUModel string `json:"cpu_model,omitempty"`
	// Cores is the number of logical CPUs of the machine; AllowedCPUs those
	// this process may use.
	Cores       int   `json:"cores"`
	AllowedCPUs []int `json:"allowed_cpus,omitempty"`
	// Governor is the cpufreq governor of the timing CPU, "" when not
	// readable (virtual machines often have none).
	Governor string `json:"governor,omitempty"`
	// LoadAvg is /proc/loadavg (1, 5, 15 minutes) before and after timing.
	LoadAvgBefore []float64 `json:"load_avg_before,omitempty"`
	LoadAvgAfter  []float64 `json:"load_avg_after,omitempty"`
	Pinning       Pinning   `json:"pinning"`
	// TimingLock is the lock file held while timing.
	TimingLock string `json:"timing_lock,omitempty"`
	// HarnessCPUs are the CPUs the harness, setup and correctness were
	// restricted to, off the timing CPU.
	HarnessCPUs []int  `json:"harness_cpus,omitempty"`
	GoVersion   string `json:"go_version"`
	// Container describes the containers the commands ran in (runner
	// "container", evaluation.environment.image); nil on the host.
	Container *ContainerInfo `json:"container,omitempty"`
	// InstructionsMethod is how instructions were counted (perf or
	// cachegrind), when they were.
	InstructionsMethod string `json:"instructions_method,omitempty"`
	// Slurm is the Slurm job the evaluation ran in (bench slurm submit),
	// nil outside one.
	Slurm *SlurmJob `json:"slurm,omitempty"`
}

// SlurmJob names a Slurm job and, in a job array, its task: the
// variables Slurm sets in the job's environment.
type SlurmJob struct {
	JobID       string `json:"job_id"`                  // SLURM_JOB_ID
	ArrayJobID  string `json:"array_job_id,omitempty"`  // SLURM_ARRAY_JOB_ID
	ArrayTaskID string `json:"array_task_id,omitempty"` // SLURM_ARRAY_TASK_ID
}

// ContainerInfo is the container environment of an item: the same image
// and limits for every arm.
type ContainerInfo struct {
	// Image is environment.image as written; ImageID the id of the image
	// the containers ran (they are started by id, so a tag moved meanwhile
	// changes nothing); RepoDigests its registry digests, if any.
	Image       string   `json:"image"`
	ImageID     string   `json:"image_id"`
	RepoDigests []string `json:"repo_digests,omitempty"`
	// Engine is the client (docker or podman) and EngineVersion the
	// server's version.
	Engine        string `json:"engine"`
	EngineVersion string `json:"engine_version,omitempty"`
	// User is the --user of every command (the invoking uid:gid).
	User string `json:"user"`
	// Workspace is where each arm's workspace is mounted.
	Workspace string `json:"workspace"`
	Network   string `json:"network,omitempty"`
	// The limits of bench.yaml's container section (0/"" = none).
	CPUs      float64 `json:"cpus,omitempty"`
	Memory    string  `json:"memory,omitempty"`
	PidsLimit int     `json:"pids_limit,omitempty"`
	// SetupCPUSet is the containers' cpuset during setup and correctness
	// (the harness's CPUs), TimingCPUSet during the timed rounds (the
	// timing CPU); "" means no cpuset.
	SetupCPUSet  string `json:"setup_cpuset,omitempty"`
	TimingCPUSet string `json:"timing_cpuset,omitempty"`
}

// Pinning says whether the timed processes ran on one CPU.
type Pinning struct {
	// Requested is false when no CPU could be reserved for timing.
	Requested bool `json:"requested"`
	// Applied is true when every timed run was pinned to CPU.
	Applied bool `json:"applied"`
	CPU     int  `json:"cpu"`
	// PinnedRuns counts the runs that were pinned, out of Runs.
	PinnedRuns int `json:"pinned_runs"`
	Runs       int `json:"runs"`
	// Method is how: "sched_setaffinity" (the launcher pins itself), or
	// "cpuset+sched_setaffinity" in containers (the containers' cgroup
	// cpuset is the timing CPU alone, and the launcher pins itself too).
	Method string `json:"method,omitempty"`
	Error  string `json:"error,omitempty"`
}

// SampleView is the one-candidate evaluation of sample k of an item
// evaluated in the item layout: the item's baseline and human samples and
// commands with candidate k's as the agent arm, its patch, status, flags
// and statistics, as a per-sample eval.json would say. It returns r itself
// for a file of the one-candidate layout whose sample is k, and nil when
// the file has no candidate k.
func (r *Eval) SampleView(k int) *Eval {
	if r.Candidates == nil {
		if r.Sample != k {
			return nil
		}
		return r
	}
	c := r.Candidate(k)
	if c == nil {
		return nil
	}
	v := *r
	v.Candidates = nil
	// A candidate that did not fail by itself has the item's status
	// (base_failed, human_failed) as its own.
	v.Sample, v.PatchHash, v.Patch, v.Stats, v.Secondary, v.Protocol = k, c.PatchHash, c.Patch, c.Stats, c.Secondary, c.Protocol
	v.Status, v.Reason = c.Status, c.Reason
	v.Flags = append([]string(nil), c.Flags...)
	if v.Status == EvalSuccess {
		v.Flags = append(v.Flags, r.Flags...)
	}
	v.Commands = make([]CommandLog, 0, len(r.Commands))
	for _, l := range r.Commands {
		if l.Arm != ArmAgent || l.Sample == k {
			l.Sample = 0
			v.Commands = append(v.Commands, l)
		}
	}
	v.Samples = make([]Sample, 0, len(r.Samples))
	for _, s := range r.Samples {
		if s.Arm != ArmAgent || s.Sample == k {
			s.Sample = 0
			v.Samples = append(v.Samples, s)
		}
	}
	if r.SecondarySamples != nil {
		v.SecondarySamples = make([]Sample, 0, len(r.SecondarySamples))
		for _, s := range r.SecondarySamples {
			if s.Arm != ArmAgent || s.Sample == k {
				s.Sample = 0
				v.SecondarySamples = append(v.SecondarySamples, s)
			}
		}
	}
	if r.Equivalence != nil {
		q := *r.Equivalence
		q.AgentOK = c.EquivalenceOK
		if q.HumanOK {
			q.Detail = c.EquivalenceDetail
		}
		v.Equivalence = &q
	}
	return &v
}
