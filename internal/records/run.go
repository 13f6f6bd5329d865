package records

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// SchemaVersion of run.json, journal.json, diff_targets.json and the
// journal's own files (ledgers, claims).
const SchemaVersion = 1

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
	Limits     Limits     `json:"limits"`
	Provenance Provenance `json:"provenance"`
	// Images maps a role ("agent", "runtime") to the image id used.
	Images map[string]string `json:"images,omitempty"`
	// EnvImage is the environment image built from the task's env_build,
	// pinned at the run's first prepare: rollouts, evaluate and calibrate
	// start containers by its id. AgentImage is the agent image derived
	// from it (bench build --agent), when the entry's rollouts used one.
	EnvImage   *EnvImage `json:"env_image,omitempty"`
	AgentImage *EnvImage `json:"agent_image,omitempty"`
	// WorkspaceSetup is the task's env_build.workspace_setup that the
	// run's rollouts ran, recorded at its first prepare; nil when the
	// task had none, and in runs that predate the field. It is part of
	// the run's identity (journal.RunKey): no image hash covers it (an
	// env_build naming no file builds none), and a resume with another
	// setup would mix rollouts set up two ways.
	WorkspaceSetup *WorkspaceSetup `json:"workspace_setup,omitempty"`
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
	// AllowUnisolated is bench.yaml's allow_unisolated when the run was
	// created: agents on a cluster's hosts without a container or run_as,
	// which could read the shared state root. Reports show it.
	AllowUnisolated bool `json:"allow_unisolated,omitempty"`
}

// RunTask identifies the task of a run.
type RunTask struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	RepoURL string `json:"repo_url"`
}

// RunAgent identifies the agent of a run. Config is the agent's entry as
// prepare recorded it (secrets redacted), kept as JSON: its shape is
// config's (and the adapter's), not a record's; ConfigHash is computed from
// it.
type RunAgent struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Model      string          `json:"model"`
	ConfigHash string          `json:"config_hash"`
	Config     json.RawMessage `json:"config"`
	Version    string          `json:"version,omitempty"`
}

// Provenance records what produced a run.
type Provenance struct {
	BenchVersion string `json:"bench_version"`
	GoVersion    string `json:"go_version"`
	GitVersion   string `json:"git_version,omitempty"`
	OS           string `json:"os"`
	Hostname     string `json:"hostname,omitempty"`
}

// Harness names a harness process: host and pid.
type Harness struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
}

func (h Harness) String() string { return fmt.Sprintf("pid %d@%s", h.PID, h.Host) }

// EnvImage is an image a run pins: the environment image built from the
// task's env_build (or an agent image derived from it), by the engine's
// id, with the tag and content hash it was built under.
type EnvImage struct {
	ID   string `json:"id"`
	Tag  string `json:"tag"`
	Hash string `json:"hash"`
}

// WorkspaceSetup is the workspace_setup a run's rollouts ran: the
// commands as the task file gave them (secrets scrubbed: run.json is
// shown) and the effective setup_timeout.
type WorkspaceSetup struct {
	Commands []string `json:"commands"`
	Timeout  Duration `json:"setup_timeout"`
}

// Hash identifies the setup in a run key: "" for none (nil), so that a
// run that predates the field and a task without workspace_setup match.
func (w *WorkspaceSetup) Hash() string {
	if w == nil {
		return ""
	}
	data, _ := json.Marshal(w)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
