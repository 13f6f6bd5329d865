package records

import "time"

// Limits is the common limits vocabulary of an agent entry, as configured
// and as recorded in run.json and journal.json (docs/design.md,
// "Contracts"; README "Configuration reference").
type Limits struct {
	// Timeout is the wall clock (alias time_budget_minutes); 0 = none.
	Timeout Duration `json:"timeout,omitempty"`
	// MaxIterations (aliases iterations, max_steps, max_turns); 0 = the
	// agent's default.
	MaxIterations int `json:"max_iterations,omitempty"`
	// MaxBudgetUSD (alias max_budget_per_task); 0 = none.
	MaxBudgetUSD float64 `json:"max_budget_usd,omitempty"`
	// KillGrace is the SIGTERM → SIGKILL grace; default 10s.
	KillGrace Duration `json:"kill_grace,omitempty"`
}

// Limit names: the keys of Limits in JSON and YAML, the values of a
// journal's limits_hit, and how messages name a limit.
const (
	LimitTimeout       = "timeout"
	LimitMaxIterations = "max_iterations"
	LimitMaxBudgetUSD  = "max_budget_usd"
	LimitKillGrace     = "kill_grace"
	// LimitMaxTotalBudgetUSD is bench.yaml's cap on a whole run's spend.
	LimitMaxTotalBudgetUSD = "max_total_budget_usd"
	// LimitMemory is the container's memory limit (an OOM kill).
	LimitMemory = "memory"
)

// Duration is a time.Duration written as a Go duration string ("90s"), in
// JSON records and in YAML configuration alike.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
