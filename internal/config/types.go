package config

import (
	"slices"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/records"
)

// Pos is a position in a configuration file, 1-based.
type Pos struct {
	File string
	Line int
	Col  int
}

// Task is one task file (tasks/*.yaml): a repository, the commits in which a
// human made it faster, and what the agent is told and measured on.
type Task struct {
	// Path is the file the task was loaded from; Dir its directory, against
	// which relative paths in the task (prompt_template, evaluation.files)
	// are resolved.
	Path string `yaml:"-" json:"-"`
	Dir  string `yaml:"-" json:"-"`

	ID          string `yaml:"id" json:"id"`
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description,omitempty"`
	Repo        Repo   `yaml:"repo" json:"repo"`
	// Workload is the command whose runtime the agent must improve; it is
	// shown to the agent.
	Workload             string               `yaml:"workload" json:"workload,omitempty"`
	OptimizationContract OptimizationContract `yaml:"optimization_contract" json:"optimization_contract"`
	Scoring              Scoring              `yaml:"scoring" json:"scoring"`
	Hints                Hints                `yaml:"hints" json:"hints"`
	// PromptTemplate is a path (relative to the task file) to a Go
	// text/template that replaces the default task.txt layout.
	PromptTemplate string `yaml:"prompt_template" json:"prompt_template,omitempty"`
	// OptimizationTechniques replaces the default list of techniques shown
	// in task.txt when non-empty.
	OptimizationTechniques []string `yaml:"optimization_techniques" json:"optimization_techniques,omitempty"`
	// Instructions are extra instructions appended to the default ones.
	Instructions []string `yaml:"instructions" json:"instructions,omitempty"`

	Evaluation  Evaluation  `yaml:"evaluation" json:"evaluation"`
	Environment Environment `yaml:"environment" json:"environment"`
	// Patch configures patch capture.
	Patch PatchCapture `yaml:"patch" json:"patch,omitzero"`

	// Runner is a seed field perfbench accepts but does not use.
	Runner any `yaml:"runner,ignored" json:"-"`
	// EnvBuild says how the task's environment image is built (package
	// envbuild builds it).
	EnvBuild EnvBuild `yaml:"env_build" json:"env_build,omitzero"`
	// Seed fields perfbench accepts but does not use.
	Testpack any `yaml:"testpack,ignored" json:"-"`
	Metrics  any `yaml:"metrics,ignored" json:"-"`
	Agents   any `yaml:"agents,ignored" json:"-"`

	// Ignored lists the ignored seed fields present in the file, in file
	// order, as dotted paths ("runner", "testpack").
	Ignored []string `yaml:"-" json:"-"`
}

// Repo names the repository and the commit pairs of a task.
type Repo struct {
	URL string `yaml:"url" json:"url"`
	// URLPos is where url is set, for checks made after loading.
	URLPos      Pos    `yaml:"-" json:"-"`
	HumanCommit string `yaml:"human_commit" json:"human_commit,omitempty"`
	PreCommit   string `yaml:"pre_commit" json:"pre_commit,omitempty"`
	// PreParentIndex selects which parent of the human commit is "pre"
	// (1-based, default 1) when PreCommit is empty.
	PreParentIndex int    `yaml:"pre_parent_index" json:"pre_parent_index,omitempty"`
	Pairs          []Pair `yaml:"pairs" json:"pairs,omitempty"`
}

// Pair is one entry of repo.pairs; empty fields fall back to the task's.
type Pair struct {
	Human          string   `yaml:"human" json:"human"`
	Pre            string   `yaml:"pre" json:"pre,omitempty"`
	PreParentIndex int      `yaml:"pre_parent_index" json:"pre_parent_index,omitempty"`
	Workload       string   `yaml:"workload" json:"workload,omitempty"`
	TargetFiles    []string `yaml:"target_files" json:"target_files,omitempty"`
	// Evaluation overrides fields of the task's evaluation section for
	// this item only.
	Evaluation *Evaluation `yaml:"evaluation" json:"evaluation,omitempty"`
	Pos        Pos         `yaml:"-" json:"-"`
}

// OptimizationContract says what the agent may change.
type OptimizationContract struct {
	// StrictTargets turns a change outside TargetFiles into the status
	// target_violation.
	StrictTargets bool `yaml:"strict_targets" json:"strict_targets"`
	// TargetFiles are paths or globs (path.Match syntax, plus "dir/**")
	// relative to the repository root.
	TargetFiles []string `yaml:"target_files" json:"target_files,omitempty"`
	Constraints []string `yaml:"constraints" json:"constraints,omitempty"`
}

// DefaultPatchExclude are the build and cache artefacts patch capture
// leaves out unless a task's patch.exclude removes them (gitignore
// patterns): running Python writes them next to the sources, and they are
// never a change an agent meant to make.
var DefaultPatchExclude = []string{
	"__pycache__/",
	"*.py[co]",
	".pytest_cache/",
	".mypy_cache/",
	".ruff_cache/",
	"*.egg-info/",
}

// PatchCapture is a task's patch section.
type PatchCapture struct {
	// Exclude adds gitignore patterns of untracked files that are never
	// part of the patch to DefaultPatchExclude; "!P" removes the default
	// P instead.
	Exclude []string `yaml:"exclude" json:"exclude,omitempty"`
}

// Excludes returns the patterns patch capture leaves out: the defaults
// without those removed with "!", then the task's own, in order.
func (p PatchCapture) Excludes() []string {
	var removed, added []string
	for _, e := range p.Exclude {
		if d, ok := strings.CutPrefix(e, "!"); ok {
			removed = append(removed, d)
		} else {
			added = append(added, e)
		}
	}
	out := make([]string, 0, len(DefaultPatchExclude)+len(added))
	for _, d := range DefaultPatchExclude {
		if !slices.Contains(removed, d) {
			out = append(out, d)
		}
	}
	for _, a := range added {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Scoring is carried into reports.
type Scoring struct {
	Primary    string `yaml:"primary" json:"primary,omitempty"`
	TieBreaker string `yaml:"tie_breaker" json:"tie_breaker,omitempty"`
}

// Hints opts a task in to showing material derived from the human commit.
// All are false by default: nothing of the human commit reaches the agent.
type Hints struct {
	CommitMessage bool `yaml:"commit_message" json:"commit_message"`
	Diffstat      bool `yaml:"diffstat" json:"diffstat"`
	Diff          bool `yaml:"diff" json:"diff"`
	TargetFiles   bool `yaml:"target_files" json:"target_files"`
}

// Any reports whether any hint is enabled.
func (h Hints) Any() bool { return h.CommitMessage || h.Diffstat || h.Diff || h.TargetFiles }

// Evaluation configures three-way timing. Pointers and zero values
// mean "not set", so that a pair can override single fields.
type Evaluation struct {
	Setup    []string `yaml:"setup" json:"setup,omitempty"`
	Workload string   `yaml:"workload" json:"workload,omitempty"`
	Metric   *Metric  `yaml:"metric" json:"metric,omitempty"`
	// SecondaryMetrics are recorded beside Metric (wall, cpu,
	// instructions); SecondaryMetricsSet is set when the key is written
	// (an empty list turns the default cpu off).
	SecondaryMetrics    []string         `yaml:"secondary_metrics" json:"secondary_metrics,omitempty"`
	SecondaryMetricsSet bool             `yaml:"-" json:"-"`
	SecondaryMetricsPos Pos              `yaml:"-" json:"-"`
	Correctness         []string         `yaml:"correctness" json:"correctness,omitempty"`
	Equivalence         *Equivalence     `yaml:"equivalence" json:"equivalence,omitempty"`
	Files               []string         `yaml:"files" json:"files,omitempty"`
	Rounds              int              `yaml:"rounds" json:"rounds,omitempty"`
	Warmup              *int             `yaml:"warmup" json:"warmup,omitempty"`
	Timeout             records.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Band is the relative band (default 0.05) inside which agent vs human
	// is a match even when significant.
	Band  float64 `yaml:"band" json:"band,omitempty"`
	Alpha float64 `yaml:"alpha" json:"alpha,omitempty"`
	// Recheck runs the correctness commands again after the last timed
	// round (nil: on when correctness is set).
	Recheck *bool `yaml:"recheck" json:"recheck,omitempty"`
	// RejectFlags are reward-hack rules (package forensics) whose finding
	// on a candidate's patch makes it correctness_failed.
	RejectFlags []string `yaml:"reject_flags" json:"reject_flags,omitempty"`
	Pos         Pos      `yaml:"-" json:"-"`
	// RoundsPos is where rounds is set (for validate's warning).
	RoundsPos Pos `yaml:"-" json:"-"`
}

// Metric is "wall", "cpu" or "instructions" (the scalar forms) or a
// regex/json extraction.
type Metric struct {
	Kind   string `yaml:"-" json:"kind"` // wall | cpu | instructions | regex | json
	Regex  string `yaml:"regex" json:"regex,omitempty"`
	JSON   string `yaml:"json" json:"json,omitempty"`
	Unit   string `yaml:"unit" json:"unit,omitempty"`
	Better string `yaml:"better" json:"better,omitempty"` // lower | higher
}

// Equivalence is "exact" or "numeric" (the scalar forms) or
// {mode: exact|numeric, tolerance: x}; tolerance (≥ 0) applies to numeric.
type Equivalence struct {
	Mode      string  `yaml:"mode" json:"mode"` // exact | numeric
	Tolerance float64 `yaml:"tolerance" json:"tolerance,omitempty"`
}

// Environment is where evaluation commands run.
type Environment struct {
	Image string `yaml:"image" json:"image,omitempty"`
	// RequireImage makes evaluate refuse to run the task on the host when
	// image is empty (say, a ${VAR} that is not set): the agent's patched
	// code would run unsandboxed.
	RequireImage bool `yaml:"require_image" json:"require_image,omitempty"`
	// RequireImagePos is where require_image is set, for the refusal.
	RequireImagePos Pos `yaml:"-" json:"-"`
}

// Bench is bench.yaml: where state lives, the container sandbox and the
// agents.
type Bench struct {
	// Path is the file loaded ("" when no bench.yaml exists and defaults
	// apply); Dir is the directory relative paths are resolved against.
	Path string `yaml:"-" json:"-"`
	Dir  string `yaml:"-" json:"-"`

	Paths      Paths      `yaml:"paths" json:"paths"`
	Container  Container  `yaml:"container" json:"container"`
	Agents     Agents     `yaml:"agents" json:"agents"`
	Experiment Experiment `yaml:"experiment" json:"experiment"`
	// Prices maps a model name to its USD price per million tokens, for
	// agents that report tokens but no cost.
	Prices map[string]Price `yaml:"prices" json:"prices,omitempty"`
	// MaxTotalBudgetUSD caps the spend of a whole run.
	MaxTotalBudgetUSD float64 `yaml:"max_total_budget_usd" json:"max_total_budget_usd,omitempty"`
	// AllowUnisolated lets `bench slurm submit` run agents that are
	// neither in a container nor under run_as: off one machine such an
	// agent can read the shared state root and the mirror's history. The
	// run records it (records.Run) and every report shows it.
	AllowUnisolated bool `yaml:"allow_unisolated" json:"allow_unisolated,omitempty"`
	// ShardBudgetUSD caps the spend of each shard of a run (prepare
	// --shard I/N, across the shard's processes); 0: max_total_budget_usd
	// split evenly, cap/N.
	ShardBudgetUSD float64 `yaml:"shard_budget_usd" json:"shard_budget_usd,omitempty"`
	// Secrets names extra environment variables whose values are scrubbed
	// from every captured log, on top of names containing KEY, TOKEN,
	// SECRET or PASSWORD.
	Secrets []string `yaml:"secrets" json:"secrets,omitempty"`
	// LogCapBytes caps each captured stdout/stderr log (tail kept);
	// default 10 MiB.
	LogCapBytes int64 `yaml:"log_cap_bytes" json:"log_cap_bytes,omitempty"`
	// MaxPatchBytes bounds an agent's change and its patch; a larger one
	// ends the item as agent_error. Default 20 MiB.
	MaxPatchBytes int64 `yaml:"max_patch_bytes" json:"max_patch_bytes,omitempty"`
	// MaxOutBytes bounds the bytes copied from an agent's output folder
	// into the item directory (files over it are left out and listed in
	// the journal); default 256 MiB.
	MaxOutBytes int64 `yaml:"max_out_bytes" json:"max_out_bytes,omitempty"`
	// Retry configures retries of infrastructure failures.
	Retry Retry `yaml:"retry" json:"retry"`

	Metrics any `yaml:"metrics,ignored" json:"-"`

	// Ignored lists ignored seed fields present in the file, in order.
	Ignored []string `yaml:"-" json:"-"`
	// Env is the .env content found next to bench.yaml and in the current
	// directory (the process environment is not included). The caller
	// fills it; LoadBench does not.
	Env map[string]string `yaml:"-" json:"-"`

	// env is the lookup LoadBench used, kept for the $LLM_MODEL default of
	// the agents Agent synthesizes; kinds the agent types it was given.
	env   Vars
	kinds agentKinds
}

// Paths are resolved against the directory of bench.yaml.
type Paths struct {
	StateRoot string `yaml:"state_root" json:"state_root"`
	WorkRoot  string `yaml:"work_root" json:"work_root"`
	// RolloutRoot holds the agents' private workspaces; default the system
	// temporary directory. Never inside state_root or work_root.
	RolloutRoot string `yaml:"rollout_root" json:"rollout_root,omitempty"`
	ReportsRoot any    `yaml:"reports_root,ignored" json:"-"`
}

// Container is the container sandbox shared by agents and evaluation.
type Container struct {
	Engine   string `yaml:"engine" json:"engine"` // docker | podman
	Platform string `yaml:"platform" json:"platform,omitempty"`
	// CPUs as docker --cpus; 0 means unlimited.
	CPUs      float64 `yaml:"cpus" json:"cpus,omitempty"`
	Memory    string  `yaml:"memory" json:"memory,omitempty"`
	PidsLimit int     `yaml:"pids_limit" json:"pids_limit,omitempty"`
	// Network is bridge (default), none or host. NetworkPolicy is the
	// seed's spelling: off = none, on = bridge, on_for_prepare = bridge
	// for rollouts and none for evaluation. Setting both is an error.
	Network       string `yaml:"network" json:"network"`
	NetworkPolicy string `yaml:"network_policy" json:"network_policy,omitempty"`
	// EvalNetwork is the network used during evaluation.
	EvalNetwork string `yaml:"-" json:"eval_network"`
	GPUs        string `yaml:"gpus" json:"gpus,omitempty"` // "none" or docker --gpus value
	// CapAdd adds back capabilities after --cap-drop ALL.
	CapAdd []string `yaml:"cap_add" json:"cap_add,omitempty"`
}

// Experiment holds the seed's experiment switches.
type Experiment struct {
	// PreflightEnabled false turns off prepare's preflight checks.
	PreflightEnabled *bool `yaml:"preflight_enabled" json:"preflight_enabled,omitempty"`
	// HintsEnabled false forbids every task hint globally.
	HintsEnabled *bool `yaml:"hints_enabled" json:"hints_enabled,omitempty"`
}

// Price is USD per million tokens. A zero CachedInput prices cache reads
// as input; a zero CacheWrite prices cache writes at Anthropic's premium
// for its models, else as input (see CacheWriteRate).
type Price struct {
	Input       float64 `yaml:"input" json:"input"`
	Output      float64 `yaml:"output" json:"output"`
	CachedInput float64 `yaml:"cached_input" json:"cached_input,omitempty"`
	CacheWrite  float64 `yaml:"cache_write" json:"cache_write,omitempty"`
}

// AnthropicCacheWriteFactor is what Anthropic charges for writing a
// prompt cache (five-minute cache), relative to the input rate.
const AnthropicCacheWriteFactor = 1.25

// CacheWriteRate is the price of a cache write token of model (the name
// as configured or reported): cache_write when set, else 1.25 × input
// for Anthropic's models ("anthropic/…", "claude-…"), else input.
func (p Price) CacheWriteRate(model string) float64 {
	if p.CacheWrite > 0 {
		return p.CacheWrite
	}
	bare := model[strings.LastIndex(model, "/")+1:]
	if strings.HasPrefix(model, "anthropic/") || strings.HasPrefix(bare, "claude-") {
		return AnthropicCacheWriteFactor * p.Input
	}
	return p.Input
}

// Retry of infrastructure failures.
type Retry struct {
	// Attempts is the total number of attempts for rate-limited rollouts
	// (default 3).
	Attempts int `yaml:"attempts" json:"attempts,omitempty"`
	// Backoff is the first delay, doubled at each attempt (default 30s).
	Backoff records.Duration `yaml:"backoff" json:"backoff,omitempty"`
	// MaxConsecutiveAuthFailures stops a run early (default 3).
	MaxConsecutiveAuthFailures int `yaml:"max_consecutive_auth_failures" json:"max_consecutive_auth_failures,omitempty"`
}

// Agents is the agents: mapping: a "default" name plus named entries.
type Agents struct {
	Default string `json:"default,omitempty"`
	// Entries in file order.
	Entries []*Agent `json:"entries,omitempty"`
}

// Lookup returns the entry with the given name, or nil.
func (a Agents) Lookup(name string) *Agent {
	for _, e := range a.Entries {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// Agent is one agents.<name> entry. Limits and their seed aliases (also
// inside args:) are folded into Limits by the loader.
type Agent struct {
	Name string `json:"name"`
	// Type defaults to the entry's name; an alias (the seed's codex_cli) is
	// normalised to its type.
	Type string `json:"type"`
	// CLI is the executable; default the agent's usual command on PATH.
	CLI string `json:"cli,omitempty"`
	// Model is passed to the agent's model flag and names the run; alias
	// args.model; default $LLM_MODEL.
	Model string `json:"model,omitempty"`
	// Command is the argv of a command agent, with {workspace},
	// {task_file} and {out_dir} placeholders.
	Command []string       `json:"command,omitempty"`
	Limits  records.Limits `json:"limits"`
	// Env is extra environment for the agent; ${VAR} references in its
	// values are expanded by the loader, like every string.
	Env map[string]string `json:"env,omitempty"`
	// HomeFiles are files copied from the invoking user's HOME into the
	// rollout's fresh HOME (e.g. .claude/.credentials.json).
	HomeFiles []string `json:"home_files,omitempty"`
	// Runtime is host (default) or container.
	Runtime string `json:"runtime,omitempty"`
	// RunAs is the user a host-runtime agent runs as when bench is root
	// (run_as: UID[:GID]); nil: bench's own user. It is part of the agent
	// configuration's hash (it changes what the agent can read), and
	// absent from the JSON of an entry without it, so their hashes stay.
	RunAs *RunAs `json:"run_as,omitempty"`
	// Image is the image for runtime: container.
	Image string `json:"image,omitempty"`
	// ExtraArgs are appended to the agent's argv.
	ExtraArgs []string `json:"extra_args,omitempty"`
	// Install are the Dockerfile lines of the entry's agent image (bench
	// build --agent), replacing its type's recipe; InstallContext is the
	// directory (relative to bench.yaml, as written) whose files they
	// COPY.
	Install        []string `json:"install,omitempty"`
	InstallContext string   `json:"install_context,omitempty"`

	// Options are the keys only the entry's type reads (OpenHands'
	// sandbox_runtime, codex's profile, ...): a pointer to the struct its
	// AgentKind.NewOptions returns, which the adapter type-asserts; nil
	// for a type without keys of its own. In JSON they are inlined after
	// the common keys (see MarshalJSON); read back from run.json they are
	// the raw JSON object (json.RawMessage).
	Options any `json:"-"`

	// Pos is where the entry starts.
	Pos Pos `json:"-"`
}

// DefaultKillGrace is the grace between SIGTERM and SIGKILL.
const DefaultKillGrace = 10 * time.Second
