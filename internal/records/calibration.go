package records

import (
	"time"

	"github.com/perfbench/perfbench/internal/stats"
)

// CalibrationSchemaVersion of calibration.json.
const CalibrationSchemaVersion = 1

// Calibration is calibration.json, written by `bench calibrate` next to
// the plan: for each plan item, the raw samples of its separate sessions
// (baseline, A/A arm, human commit) and what they say about the item.
// Readers (evaluate's report, compare) match an entry to an eval.json by
// the plan item's hash and the evaluation config's hash, so a changed item
// or a changed evaluation section is not calibrated.
type Calibration struct {
	SchemaVersion int    `json:"schema_version"`
	TaskID        string `json:"task_id"`
	// Items are sorted by ID; one entry per item ID.
	Items     []CalibrationItem `json:"items"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// CalibrationItem is one plan item's calibration.
type CalibrationItem struct {
	ItemID       string `json:"item_id"`
	PlanItemHash string `json:"plan_item_hash"`
	// ConfigHash is the evaluation config's hash (eval.json's config_hash,
	// at the task's configured rounds).
	ConfigHash string `json:"config_hash"`
	// Rounds are the timed rounds of each session (--rounds, else the
	// configured ones); ConfiguredRounds the evaluation's, at which the MDE
	// is computed.
	Rounds           int `json:"rounds"`
	ConfiguredRounds int `json:"configured_rounds"`
	// Metric is the evaluation's metric kind (wall, regex, json); Band,
	// Alpha and Better the statistics' settings of the analysis.
	Metric   string               `json:"metric"`
	Band     float64              `json:"band"`
	Alpha    float64              `json:"alpha"`
	Better   string               `json:"better"`
	Sessions []CalibrationSession `json:"sessions"`
	// Partial is set while sessions are missing (calibrate was
	// interrupted: the next one continues from the sessions stored);
	// readers ignore a partial entry.
	Partial  bool                 `json:"partial,omitempty"`
	Analysis *CalibrationAnalysis `json:"analysis,omitempty"`
	Class    stats.Class          `json:"class"`
	Reason   string               `json:"reason"`
}

// CalibrationStale is the class readers give an entry whose analysis used
// another band or alpha than the evaluation it is matched to: its raw
// samples are still those of this evaluation (band and alpha change no
// measurement, so they are not in the key), but its class was decided by
// another rule. `bench calibrate` re-analyses the stored samples with the
// current settings without timing anything; until then the item counts
// as not calibrated (kept by --stable-only) and is flagged stale.
const CalibrationStale stats.Class = "stale"

// AnalysedWith says whether the entry's class was decided with this band
// and alpha (the evaluation's, eval.json's config).
func (c *CalibrationItem) AnalysedWith(band, alpha float64) bool {
	return c.Band == band && c.Alpha == alpha
}

// Stable says whether the item is calibrated stable.
func (c *CalibrationItem) Stable() bool { return c.Class == stats.ClassStable }

// CalibrationSession is one session: one evaluation of the item in fresh
// workspaces, with the A/A arm (a second workspace of the pre tree) as its
// candidate.
type CalibrationSession struct {
	Session   int        `json:"session"`
	StartedAt time.Time  `json:"started_at"`
	Seconds   float64    `json:"seconds"`
	Status    EvalStatus `json:"status"`
	Reason    string     `json:"reason,omitempty"`
	// Samples are the session's raw samples (warm-ups included): arm base,
	// human, and agent for the A/A arm.
	Samples []Sample `json:"samples"`
	// Probes are the session's probe runs of the baseline (metric
	// run_queue): traced for the whole tree's run-queue delay and time on
	// a CPU, for the metric advice; none in files of older harnesses or
	// where the launcher could not trace.
	Probes      []Sample    `json:"probes,omitempty"`
	Environment Environment `json:"environment"`
	// Harness is the process that evaluated the session (each session is
	// its own when the binary can re-execute itself).
	Harness Harness `json:"harness,omitzero"`
}

// CalibrationAnalysis is what the sessions' samples say, recomputed from
// them whenever calibrate runs.
type CalibrationAnalysis struct {
	// Human is the human-over-base speedup of each session; Pooled of all
	// sessions' samples together.
	Human  []stats.Speedup `json:"human"`
	Pooled stats.Speedup   `json:"pooled"`
	// AA is the A/A-arm-over-base speedup of each session.
	AA             []stats.Speedup      `json:"aa"`
	Classification stats.Classification `json:"classification"`
	// MDE is computed from the base and A/A samples of every session, each
	// scaled by its session's baseline median (a drift between sessions is
	// not noise within one evaluation), at ConfiguredRounds.
	MDE stats.MDE `json:"mde"`
	// Caveats say when the MDE says little: nothing can be significant at
	// the configured rounds, or too few A/A samples for the simulation.
	Caveats []string            `json:"caveats,omitempty"`
	Metric  *stats.MetricAdvice `json:"metric,omitempty"`
	// Band and Alpha are the settings this analysis used (the entry's,
	// the evaluation's when calibrate last ran): readers compare them
	// with their eval.json's (CalibrationItem.AnalysedWith).
	Band  float64 `json:"band"`
	Alpha float64 `json:"alpha"`
}

// Lookup is the entry calibrated for the item with these hashes; nil when
// there is none, it is stale or partial.
func (c *Calibration) Lookup(itemID, planItemHash, configHash string) *CalibrationItem {
	if c == nil {
		return nil
	}
	for i := range c.Items {
		it := &c.Items[i]
		if it.ItemID == itemID && it.PlanItemHash == planItemHash && it.ConfigHash == configHash && !it.Partial {
			return it
		}
	}
	return nil
}

// ClassFor is the class of the item as an evaluation with these hashes,
// band and alpha should see it: the entry's class, CalibrationStale when
// the entry was analysed with another band or alpha, "" when there is no
// entry (see Lookup). The entry is returned with it (nil for "").
func (c *Calibration) ClassFor(itemID, planItemHash, configHash string, band, alpha float64) (stats.Class, *CalibrationItem) {
	it := c.Lookup(itemID, planItemHash, configHash)
	switch {
	case it == nil:
		return "", nil
	case !it.AnalysedWith(band, alpha):
		return CalibrationStale, it
	}
	return it.Class, it
}
