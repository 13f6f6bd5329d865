// Package compare owns the leaderboard of `bench compare`: one row per run,
// grouped by task, with the metrics of the GSO and SWE-fficiency papers
// computed from the records (run.json, journal.json, eval.json) and a 95%
// confidence interval for each, by a seeded bootstrap over plan items. It is
// a reader: it imports leaves only.
package compare

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// SchemaVersion of the JSON leaderboard.
const SchemaVersion = 1

// Bootstrap defaults: B resamples over items, a fixed seed, so that the same
// files give the same numbers.
const (
	DefaultResamples  = 2000
	DefaultSeed       = 12
	DefaultConfidence = 0.95
)

// Bootstrap is how the intervals were computed (recorded in the JSON).
type Bootstrap struct {
	Resamples  int     `json:"resamples"`
	Seed       uint64  `json:"seed"`
	Confidence float64 `json:"confidence"`
	Over       string  `json:"over"`
}

// Board is the leaderboard: every run, grouped by task.
type Board struct {
	SchemaVersion int       `json:"schema_version"`
	Bootstrap     Bootstrap `json:"bootstrap"`
	Tasks         []Task    `json:"tasks"`
	// Problems are unreadable files met while loading.
	Problems []string `json:"problems,omitempty"`
}

// Task is the rows of one task.
type Task struct {
	ID    string `json:"id"`
	Rows  []Row  `json:"rows"`
	Pairs []Pair `json:"pairs,omitempty"`
	// Matrix is the item × run grid of the task's rows.
	Matrix *Matrix `json:"matrix"`
}

// Metric is one aggregate with its interval. N is its denominator: the
// number of items it is taken over.
type Metric struct {
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	N     int     `json:"n"`
	// Valid is false when no item enters the aggregate (N = 0).
	Valid bool `json:"valid"`
}

// Row is one run.
type Row struct {
	RunID   string `json:"run_id"`
	RunDir  string `json:"run_dir"`
	Agent   string `json:"agent"`
	Model   string `json:"model"`
	Samples int    `json:"samples"`

	// Items is the plan's items; Evaluated those with every sample's
	// eval.json. Missing have no rollout record, InfraError ended in
	// infra_error (or never finished), NotEvaluated have a final rollout
	// but no eval.json. Incomplete is any of the three being non-zero.
	Items        int  `json:"items"`
	Evaluated    int  `json:"evaluated"`
	Missing      int  `json:"missing"`
	InfraError   int  `json:"infra_error"`
	NotEvaluated int  `json:"not_evaluated"`
	Incomplete   bool `json:"incomplete"`

	// Rates over all plan items (Items): a missing, failed or
	// unevaluated item counts as a failure.
	PatchRate   Metric `json:"patch_rate"`
	CorrectRate Metric `json:"correct_rate"`
	OptBase1    Metric `json:"opt_base_at_1"`
	Opt1        Metric `json:"opt_at_1"`
	// OptK and PassK are the unbiased estimators over the samples (K =
	// Samples); absent with one sample.
	OptK  *Metric `json:"opt_at_k,omitempty"`
	PassK *Metric `json:"pass_at_k,omitempty"`
	// SR is the harmonic mean over items of agent speedup ÷ human speedup,
	// a failed candidate counting as speedup 1.0; over the items whose
	// human speedup was measured.
	SR Metric `json:"speedup_ratio"`
	// GeoMeanCorrect is the geometric mean of the agent's speedup over the
	// baseline on correct candidates; GeoMeanAll over every plan item, a
	// failure counting as 1.0.
	GeoMeanCorrect Metric `json:"geomean_speedup_correct"`
	GeoMeanAll     Metric `json:"geomean_speedup_all"`

	// Verdicts of agent versus human over the evaluated, correct samples.
	Win          int `json:"win"`
	Match        int `json:"match"`
	Loss         int `json:"loss"`
	Inconclusive int `json:"inconclusive"`

	CostUSD          float64  `json:"cost_usd"`
	CostPerItemUSD   float64  `json:"cost_per_item_usd"`
	CostPerOpt1USD   *float64 `json:"cost_per_opt_at_1_usd"`
	InputTokens      int64    `json:"input_tokens"`
	OutputTokens     int64    `json:"output_tokens"`
	CacheReadTokens  int64    `json:"cache_read_tokens"`
	CacheWriteTokens int64    `json:"cache_write_tokens"`
	WallSeconds      float64  `json:"wall_seconds"`

	// PerItem are the plan items' probabilities of opt_base and
	// opt_commit.
	PerItem []ItemResult `json:"per_item"`

	// What the paired comparison needs, per plan item.
	plan    string
	order   []string
	perItem map[string]itemValues
	// What the matrix needs: the plan's items in order, a cell and the
	// human commit and speedup per item.
	planItems     []string
	cells         map[string]Cell
	commits       map[string]planCommit
	humanSpeedups map[string]float64
}

// ItemResult is one plan item of a row: P(opt_base) and P(opt_commit),
// the shares of the bootstrap resamples of its timed rounds (B, seeded)
// that reach GSO's thresholds, averaged over its samples; a failed or
// missing candidate gives 0. FromRounds is false when an item's raw samples
// could not be resampled (fewer than two complete rounds): its flags, 0 or
// 1, stand in.
type ItemResult struct {
	ID         string  `json:"id"`
	POptBase   float64 `json:"p_opt_base"`
	POptCommit float64 `json:"p_opt_commit"`
	FromRounds bool    `json:"from_rounds"`
}

// itemValues are one item's Opt@1 (the mean over its samples) and speedup
// ratio (NaN when the human speedup was not measured).
type itemValues struct{ opt1, sr float64 }

// Options of Load.
type Options struct {
	Resamples int
	Seed      uint64
	// EvaluatedOnly leaves out runs none of whose items has an eval.json
	// (the default set of `bench compare`: every evaluated run).
	EvaluatedOnly bool
	// Pairs are the run ids to compare in pairs when a task has more than
	// MaxAllPairs rows (with fewer, every pair is compared).
	Pairs [][2]string
}

func (o Options) bootstrap() Bootstrap {
	b := Bootstrap{Resamples: o.Resamples, Seed: o.Seed, Confidence: DefaultConfidence, Over: "items"}
	if b.Resamples <= 0 {
		b.Resamples = DefaultResamples
	}
	if b.Seed == 0 {
		b.Seed = DefaultSeed
	}
	return b
}

// StateRunDirs are the run directories under stateRoot, oldest first, and
// the run.json files that could not be read.
func StateRunDirs(stateRoot string) ([]string, []error, error) {
	runs, bad, err := journal.ListRuns(stateRoot)
	if err != nil {
		return nil, nil, err
	}
	dirs := make([]string, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- {
		dirs = append(dirs, filepath.Join(journal.RunsDir(stateRoot), runs[i].RunID))
	}
	return dirs, bad, nil
}

// Load reads the runs and computes the board. Rows keep the order of dirs
// within a task; tasks are in order of first appearance.
func Load(dirs []string, o Options) (*Board, error) {
	b := &Board{SchemaVersion: SchemaVersion, Bootstrap: o.bootstrap(), Tasks: []Task{}}
	for _, dir := range dirs {
		run, err := journal.ReadRun(dir)
		if err != nil {
			if fsx.IsNotExist(err) {
				return nil, fmt.Errorf("%s is not a run directory (no %s): %w", dir, journal.RunFile, err)
			}
			return nil, err
		}
		row, problems := loadRow(dir, run, b.Bootstrap)
		b.Problems = append(b.Problems, problems...)
		if o.EvaluatedOnly && row.Evaluated == 0 {
			continue
		}
		i := slices.IndexFunc(b.Tasks, func(t Task) bool { return t.ID == run.Task.ID })
		if i < 0 {
			b.Tasks = append(b.Tasks, Task{ID: run.Task.ID})
			i = len(b.Tasks) - 1
		}
		b.Tasks[i].Rows = append(b.Tasks[i].Rows, row)
	}
	for i := range b.Tasks {
		b.Tasks[i].Pairs = pairs(b.Tasks[i].Rows, o.Pairs, b.Bootstrap)
		b.Tasks[i].Matrix = buildMatrix(b.Tasks[i].Rows)
	}
	return b, nil
}

// unit is what one sample of one item says.
type unit struct {
	missing, infra, evaluated  bool
	patch, correct             bool
	optBase, optCommit         bool
	agentSpeedup, humanSpeedup float64 // 0 when not measured
	verdict                    stats.Outcome
	verdictLabel               string
	evalStatus                 records.EvalStatus
	agentLo, agentHi           float64
	agentCIValid               bool
	// odds are from the bootstrap of the item's rounds; fromRounds is
	// false when its raw samples could not give them (then the flags).
	odds       itemOdds
	fromRounds bool
}

func readUnit(dir string, row *Row, bs Bootstrap, seed uint64) (unit, []string) {
	var u unit
	var problems []string
	j, jerr := journal.ReadJournal(dir)
	ev, everr := journal.ReadEval(dir)
	if everr != nil && !fsx.IsNotExist(everr) {
		problems = append(problems, everr.Error())
		ev = nil
	}
	if jerr != nil && !fsx.IsNotExist(jerr) {
		problems = append(problems, jerr.Error())
	}
	if j != nil {
		row.CostUSD += j.Usage.CostUSD
		row.InputTokens += j.Usage.InputTokens
		row.OutputTokens += j.Usage.OutputTokens
		row.CacheReadTokens += j.Usage.CacheReadTokens
		row.CacheWriteTokens += j.Usage.CacheWriteTokens
		row.WallSeconds += j.DurationSeconds
		u.infra = !j.Status.Final()
		u.patch = j.Patch != nil && j.Patch.Bytes > 0 && j.Patch.Applies
	} else if ev == nil {
		u.missing = true
		return u, problems
	}
	if ev == nil || !ev.Status.Done() {
		return u, problems
	}
	u.evaluated = true
	u.evalStatus = ev.Status
	// The evaluation's own apply is the authority when there is one (a
	// predictions file has no journal).
	u.patch = !ev.Patch.Empty && ev.Patch.Applied
	passed, _ := ev.Status.AgentGate()
	u.correct = passed && u.patch
	if st := ev.Stats; st != nil {
		if st.HumanOverBase.Valid {
			u.humanSpeedup = st.HumanOverBase.Ratio
		}
		if u.correct {
			u.optBase, u.optCommit = st.OptBase, st.OptCommit
			if st.AgentOverBase.Valid {
				u.agentSpeedup = st.AgentOverBase.Ratio
				u.agentLo, u.agentHi, u.agentCIValid = st.AgentOverBase.Lo, st.AgentOverBase.Hi, st.AgentOverBase.CIValid
			}
			u.verdict = st.Verdict.Outcome
			u.verdictLabel = stats.VerdictText(st.Verdict.Outcome, st.Verdict.Significant, st.Verdict.Label)
			u.odds, u.fromRounds = withinItem(ev, st.Options.Better, bs.Resamples, seed)
		}
	}
	return u, problems
}

func loadRow(dir string, run *records.Run, bs Bootstrap) (Row, []string) {
	k := max(run.Samples, 1)
	row := Row{RunID: run.RunID, RunDir: dir, Agent: run.Agent.Name, Model: run.Agent.Model, Samples: k, Items: len(run.Items),
		plan: run.PlanHash, perItem: map[string]itemValues{},
		planItems: run.Items, cells: map[string]Cell{}, commits: planCommits(dir, run), humanSpeedups: map[string]float64{}}
	var problems []string
	n := len(run.Items)
	patch, correct, optBase, opt1 := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	optK, passK := make([]float64, n), make([]float64, n)
	allSpeed := make([]float64, n)
	var sr, correctSpeed []float64
	for i, id := range run.Items {
		var item struct{ missing, infra, notEval, eval int }
		res := ItemResult{ID: id, FromRounds: true}
		var cOpt, cPass int
		var srSum, allSum float64
		var srN int
		unitCells := make([]Cell, 0, k)
		for s := range k {
			u, p := readUnit(filepath.Join(dir, journal.ItemDirName(id, s, k)), &row, bs, bs.Seed+uint64(7919*(i*k+s)))
			problems = append(problems, p...)
			unitCells = append(unitCells, unitCell(u))
			if u.humanSpeedup > 0 && row.humanSpeedups[id] == 0 {
				row.humanSpeedups[id] = u.humanSpeedup
			}
			switch {
			case u.missing:
				item.missing++
			case u.infra:
				item.infra++
			case !u.evaluated:
				item.notEval++
			default:
				item.eval++
			}
			if !u.fromRounds {
				u.odds = itemOdds{b2f(u.optBase), b2f(u.optCommit)}
			}
			res.POptBase += u.odds.optBase / float64(k)
			res.POptCommit += u.odds.optCommit / float64(k)
			res.FromRounds = res.FromRounds && (u.fromRounds || !u.correct)
			patch[i] += b2f(u.patch) / float64(k)
			correct[i] += b2f(u.correct) / float64(k)
			optBase[i] += b2f(u.optBase) / float64(k)
			opt1[i] += b2f(u.optCommit) / float64(k)
			cOpt += int(b2f(u.optCommit))
			cPass += int(b2f(u.correct))
			agent := 1.0
			if u.agentSpeedup > 0 {
				agent = u.agentSpeedup
				correctSpeed = append(correctSpeed, agent)
			}
			allSum += math.Log(agent)
			if u.humanSpeedup > 0 {
				srSum += agent / u.humanSpeedup
				srN++
			}
			switch u.verdict {
			case stats.Win:
				row.Win++
			case stats.Match:
				row.Match++
			case stats.Loss:
				row.Loss++
			case "inconclusive":
				row.Inconclusive++
			}
		}
		// An item counts once in the columns of incompleteness, by its
		// worst sample.
		row.PerItem = append(row.PerItem, res)
		switch {
		case item.missing > 0:
			row.Missing++
		case item.infra > 0:
			row.InfraError++
		case item.notEval > 0:
			row.NotEvaluated++
		default:
			row.Evaluated++
		}
		allSpeed[i] = math.Exp(allSum / float64(k))
		row.cells[id] = itemCell(unitCells, allSum/float64(k))
		iv := itemValues{opt1: opt1[i], sr: math.NaN()}
		if srN > 0 {
			sr = append(sr, srSum/float64(srN))
			iv.sr = srSum / float64(srN)
		}
		// Only items evaluated in every sample enter the pairs: the
		// others are named there as present in one run only.
		if item.eval == k {
			row.perItem[id] = iv
			row.order = append(row.order, id)
		}
		optK[i], _ = stats.PassAtK(k, cOpt, k)
		passK[i], _ = stats.PassAtK(k, cPass, k)
	}
	row.Incomplete = row.Missing+row.InfraError+row.NotEvaluated > 0
	seed := bs.Seed
	next := func() uint64 { seed++; return seed }
	row.PatchRate = Estimate(patch, Mean, bs.Resamples, next(), bs.Confidence)
	row.CorrectRate = Estimate(correct, Mean, bs.Resamples, next(), bs.Confidence)
	row.OptBase1 = Estimate(optBase, Mean, bs.Resamples, next(), bs.Confidence)
	row.Opt1 = Estimate(opt1, Mean, bs.Resamples, next(), bs.Confidence)
	if k > 1 {
		ok := Estimate(optK, Mean, bs.Resamples, next(), bs.Confidence)
		pk := Estimate(passK, Mean, bs.Resamples, next(), bs.Confidence)
		row.OptK, row.PassK = &ok, &pk
	}
	row.SR = Estimate(sr, HarmonicMean, bs.Resamples, next(), bs.Confidence)
	row.GeoMeanCorrect = Estimate(correctSpeed, GeoMean, bs.Resamples, next(), bs.Confidence)
	row.GeoMeanAll = Estimate(allSpeed, GeoMean, bs.Resamples, next(), bs.Confidence)
	if n > 0 {
		row.CostPerItemUSD = row.CostUSD / float64(n)
	}
	if succ := row.Opt1.Value * float64(n); succ > 0 {
		c := row.CostUSD / succ
		row.CostPerOpt1USD = &c
	}
	return row, problems
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
