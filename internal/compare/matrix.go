package compare

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// Matrix is the item × run grid of one task: one row per human commit (the
// union of the task's runs' plan items, in order of first appearance; an
// item whose commit is unknown is keyed by its plan and id), one
// column per run (Task.Rows' order). The terminal table and the HTML site
// render the same data.
type Matrix struct {
	// Runs are the columns: the run ids, in Task.Rows' order.
	Runs  []string     `json:"runs"`
	Items []MatrixItem `json:"items"`
}

// MatrixItem is one plan item: the human commit it measures and one cell
// per run.
type MatrixItem struct {
	ID string `json:"id"`
	// Human is the human commit's full sha, HumanShort its first 10
	// characters: from the run's plan.json, else from an eval.json of the
	// item. Subject is its message's first line: from plan.json when it
	// records one, else what Board.FillSubjects found ("" when unknown).
	Human      string `json:"human,omitempty"`
	HumanShort string `json:"human_short,omitempty"`
	Subject    string `json:"subject,omitempty"`
	// HumanSpeedup is the human commit's speedup over the baseline: the
	// median over the runs that measured it (0: none did). HumanMin and
	// HumanMax are the range of those runs' measurements, given only when
	// they differ by more than the verdict band (each run times the
	// human itself; their noise differs).
	HumanSpeedup float64 `json:"human_speedup,omitempty"`
	// Calibration is the item's class in calibration.json ("" when not
	// calibrated); the table marks an item that is not stable.
	Calibration stats.Class `json:"calibration,omitempty"`
	HumanMin    float64     `json:"human_speedup_min,omitempty"`
	HumanMax    float64     `json:"human_speedup_max,omitempty"`
	// ExcludedFlagged: --exclude-flagged left the item out of every
	// run's aggregates (a run flagged it); its cells stay as they are.
	ExcludedFlagged bool `json:"excluded_flagged,omitempty"`
	// Cells are one per run, aligned with Matrix.Runs.
	Cells []Cell `json:"cells"`
}

// Cell states besides the evaluation's own failure statuses
// (records.EvalStatus: patch_failed, correctness_failed, …).
const (
	// CellOK: a correct candidate, timed; Speedup is its agent/base.
	CellOK = "ok"
	// CellNoPatch: evaluated, but the patch is empty (speedup 1.0).
	CellNoPatch = "no_patch"
	// CellMissing: no rollout record.
	CellMissing = "missing"
	// CellInfraError: the rollout ended in infra_error or never finished.
	CellInfraError = "infra_error"
	// CellNotEvaluated: a final rollout without eval.json.
	CellNotEvaluated = "not_evaluated"
	// CellNotInPlan: the run's plan has no such item.
	CellNotInPlan = "not_in_plan"
)

// Cell is one run's result on one item. With samples, Status is the worst
// sample's (in the order of the constants above, an evaluation failure
// between no_patch and missing), Speedup the geometric mean over the
// samples (a failure counting as 1.0), given only when every sample is ok
// or no_patch, and the interval is left out; Correct says how many passed.
type Cell struct {
	Status string `json:"status"`
	// Item is the run's own id of the plan item, when it is not the
	// matrix row's ID (another plan's item on the same human commit).
	Item string `json:"item,omitempty"`
	// Speedup is the agent's speedup over the baseline (Status ok), with
	// its interval from eval.json when CIValid; 0 when not timed.
	Speedup float64 `json:"speedup,omitempty"`
	Lo      float64 `json:"lo,omitempty"`
	Hi      float64 `json:"hi,omitempty"`
	CIValid bool    `json:"ci_valid"`
	// Verdict is the agent-versus-human outcome (win, match, loss,
	// inconclusive) and VerdictLabel its printed words; "" when not judged.
	Verdict      string `json:"verdict,omitempty"`
	VerdictLabel string `json:"verdict_label,omitempty"`
	// OptCommit says the item reached Opt@1 (with samples: at least half
	// of them did).
	OptCommit bool `json:"opt_commit"`
	// Correct is how many of the item's samples are correct (a
	// non-empty patch that passed the gate): 0 or 1 with one sample.
	Correct int `json:"correct"`
	// Flagged: the forensic scans flagged a sample of the item (a leak
	// attempt or a reward-hack rule); marked "!" in the terminal matrix.
	Flagged bool `json:"flagged,omitempty"`
}

// cellRank orders the states from best to worst, to take an item's
// worst sample.
func cellRank(s string) int {
	switch s {
	case CellOK:
		return 0
	case CellNoPatch:
		return 1
	case CellMissing:
		return 3
	case CellInfraError:
		return 4
	case CellNotEvaluated:
		return 5
	case CellNotInPlan:
		return 6
	}
	return 2 // an evaluation failure status
}

// unitCell is one sample's cell.
func unitCell(u unit) Cell {
	c := unitCellOf(u)
	c.Flagged = u.flagged
	return c
}

func unitCellOf(u unit) Cell {
	switch {
	case u.missing:
		return Cell{Status: CellMissing}
	case u.infra:
		return Cell{Status: CellInfraError}
	case !u.evaluated:
		return Cell{Status: CellNotEvaluated}
	case u.emptyPatch:
		return Cell{Status: CellNoPatch}
	case !u.correct:
		// A patch that did not apply is the evaluation's patch_failed,
		// not an empty patch.
		return Cell{Status: string(u.evalStatus)}
	}
	c := Cell{Status: CellOK, OptCommit: u.optCommit, Verdict: string(u.verdict), VerdictLabel: u.verdictLabel, Correct: 1}
	if u.agentSpeedup > 0 {
		c.Speedup, c.Lo, c.Hi, c.CIValid = u.agentSpeedup, u.agentLo, u.agentHi, u.agentCIValid
	}
	return c
}

// itemCell folds an item's samples into one cell.
func itemCell(samples []Cell, logSpeedup float64) Cell {
	if len(samples) == 1 {
		return samples[0]
	}
	c := samples[0]
	opt, correct := 0, 0
	for _, s := range samples {
		correct += s.Correct
		if cellRank(s.Status) > cellRank(c.Status) {
			c.Status = s.Status
		}
		if s.Verdict != c.Verdict {
			c.Verdict, c.VerdictLabel = "", ""
		}
		if s.OptCommit {
			opt++
		}
		c.Flagged = c.Flagged || s.Flagged
	}
	c.OptCommit = 2*opt >= len(samples)
	c.Correct = correct
	c.Lo, c.Hi, c.CIValid = 0, 0, false
	c.Speedup = expOrZero(logSpeedup, c.Status)
	return c
}

func expOrZero(logSpeedup float64, status string) float64 {
	if status != CellOK && status != CellNoPatch {
		return 0
	}
	return math.Exp(logSpeedup)
}

// planCommits are the human commits of a run's plan items, read from the
// plan.json the run recorded: run.json's plan_path, the run directory's
// copy, or the state root's (the places evaluate looks). Only the fields
// the matrix needs are read, so a reader does not depend on the plan
// stage.
func planCommits(runDir string, run *records.Run) map[string]planCommit {
	for _, path := range []string{run.PlanPath, filepath.Join(runDir, "plan.json"), filepath.Join(filepath.Dir(filepath.Dir(filepath.Clean(runDir))), "plan.json")} {
		if path == "" {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var p struct {
			Hash  string `json:"plan_hash"`
			Items []struct {
				ID      string `json:"id"`
				Human   string `json:"human"`
				Subject string `json:"subject"`
			} `json:"items"`
		}
		if json.Unmarshal(data, &p) != nil || (run.PlanHash != "" && p.Hash != run.PlanHash) {
			continue
		}
		out := map[string]planCommit{}
		for _, it := range p.Items {
			out[it.ID] = planCommit{human: it.Human, subject: it.Subject}
		}
		return out
	}
	return map[string]planCommit{}
}

type planCommit struct{ human, subject string }

// FillSubjects gives every matrix item whose human commit is known and
// whose plan recorded no subject the subject subject(sha) returns ("":
// unknown). The CLI looks them up in the mirrors prepare left; the board
// itself reads records only.
func (b *Board) FillSubjects(subject func(sha string) string) {
	if subject == nil {
		return
	}
	for _, t := range b.Tasks {
		if t.Matrix == nil {
			continue
		}
		for i := range t.Matrix.Items {
			if it := &t.Matrix.Items[i]; it.Subject == "" && it.Human != "" {
				it.Subject = subject(it.Human)
			}
		}
	}
}

// shortSHA is the first 10 characters of a commit id.
func shortSHA(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}

// matrixKey is the matrix row of item id of row r: its human commit
// when known (two plans' items are one row only when they measure the
// same commit; ids are positional, <task>-NNNN, and mean different commits
// in different plans), else the plan and the id. known are the commits of
// the task's (plan, id) pairs that some run knows: a run that never
// evaluated an item (missing, infra_error) shares the row of one that did.
func matrixKey(r *Row, id string, known map[[2]string]string) string {
	if h := known[[2]string{r.plan, id}]; h != "" {
		return "commit " + h
	}
	return "plan " + r.plan + " item " + id
}

// knownCommits are the human commits of a task's (plan, id) pairs that
// some run knows (see matrixKey).
func knownCommits(rows []Row) map[[2]string]string {
	known := map[[2]string]string{}
	for col := range rows {
		for id, pc := range rows[col].commits {
			if pc.human != "" {
				known[[2]string{rows[col].plan, id}] = pc.human
			}
		}
	}
	return known
}

// buildMatrix lays out a task's rows as the item × run grid; the items a
// row's aggregates leave out (--exclude-flagged) are marked.
func buildMatrix(rows []Row) *Matrix {
	m := &Matrix{Runs: make([]string, len(rows)), Items: []MatrixItem{}}
	index := map[string]int{}
	// keys[col][i] is the plan item of rows[col] in matrix row i.
	keys := make([]map[int]string, len(rows))
	humans := map[int][]float64{}
	band := 0.0
	known := knownCommits(rows)
	for col := range rows {
		r := &rows[col]
		keys[col] = map[int]string{}
		band = max(band, r.band)
		for _, id := range r.planItems {
			k := matrixKey(r, id, known)
			i, ok := index[k]
			if _, taken := keys[col][i]; ok && taken {
				// Two items of one plan on the same commit: their own rows.
				k = "plan " + r.plan + " item " + id
				i, ok = index[k]
			}
			if !ok {
				i = len(m.Items)
				index[k] = i
				m.Items = append(m.Items, MatrixItem{ID: id})
			}
			keys[col][i] = id
		}
	}
	for i := range m.Items {
		m.Items[i].Cells = make([]Cell, len(rows))
	}
	for i := range m.Items {
		m.Items[i].Calibration = matrixCalibration(rows, m.Items[i].ID)
	}
	for col := range rows {
		r := &rows[col]
		m.Runs[col] = r.RunID
		for i := range m.Items {
			it := &m.Items[i]
			id, ok := keys[col][i]
			if !ok {
				it.Cells[col] = Cell{Status: CellNotInPlan}
				continue
			}
			it.Cells[col] = r.cells[id]
			if r.dropped[id] {
				it.ExcludedFlagged = true
			}
			if id != it.ID {
				it.Cells[col].Item = id
			}
			if pc, ok := r.commits[id]; ok && pc.human != "" && it.Human == "" {
				it.Human, it.HumanShort, it.Subject = pc.human, shortSHA(pc.human), pc.subject
			}
			if h := r.humanSpeedups[id]; h > 0 {
				humans[i] = append(humans[i], h)
			}
		}
	}
	for i, hs := range humans {
		it := &m.Items[i]
		slices.Sort(hs)
		it.HumanSpeedup = medianSorted(hs)
		if lo, hi := hs[0], hs[len(hs)-1]; hi > lo*(1+band) {
			it.HumanMin, it.HumanMax = lo, hi
		}
	}
	return m
}

// medianSorted is the median of sorted, non-empty xs.
func medianSorted(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return xs[n/2-1]/2 + xs[n/2]/2
}

// verdictShort is a cell's verdict in a few letters for the terminal.
func verdictShort(c Cell) string {
	switch stats.Outcome(c.Verdict) {
	case stats.Win:
		return "win"
	case stats.Loss:
		return "loss"
	case stats.Match:
		return "match"
	case stats.Inconclusive:
		return "inconcl."
	}
	return ""
}

// ItemID is the run's id of the plan item of cell c in matrix row it.
func (it MatrixItem) ItemID(c Cell) string {
	if c.Item != "" {
		return c.Item
	}
	return it.ID
}
