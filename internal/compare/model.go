// Package compare owns the leaderboard of `bench compare`: one row per run,
// grouped by task, with the metrics of the GSO and SWE-fficiency papers
// computed from the records (run.json, journal.json, eval.json) and a 95%
// confidence interval for each, by a seeded bootstrap over plan items. It is
// a reader: it imports leaves only.
package compare

import (
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// SchemaVersion of the JSON leaderboard.
const SchemaVersion = 2

// Bootstrap defaults: B resamples over items, a fixed seed, so that the same
// files give the same numbers.
const (
	DefaultResamples  = 2000
	DefaultSeed       = 12
	DefaultConfidence = 0.95
)

// OverItemsAndRounds is the two-level method (Bootstrap.Over): the items
// are resampled, and within each drawn item its timed rounds. The rates
// that are pure counts (patch, correct, pass@k) and the paired
// differences are resampled over items only.
const OverItemsAndRounds = "items, then rounds within items"

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
	// View is how the terminal table is drawn; not part of the data.
	View View `json:"-"`
}

// Task is the rows of one task.
type Task struct {
	ID    string `json:"id"`
	Rows  []Row  `json:"rows"`
	Pairs []Pair `json:"pairs,omitempty"`
	// PairsOmitted says, when the task has more than MaxAllPairs rows of
	// one plan and --pairs asked for none of them, that the pairs were
	// left out and how to ask for them ("" otherwise).
	PairsOmitted string `json:"pairs_omitted,omitempty"`
	// Matrix is the item × run grid of the task's rows.
	Matrix *Matrix `json:"matrix"`
	// ExcludedFlaggedItems are, with --exclude-flagged, the items flagged
	// in any of the task's runs (by the flagging run's id; one per matrix
	// row, that is per human commit): left out of every run's aggregates
	// and pairs, so that all runs are still ranked over the same items.
	ExcludedFlaggedItems []string `json:"excluded_flagged_items,omitempty"`
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

	// Rates over all plan items (Items) but those --exclude-flagged
	// leaves out: a missing, failed or unevaluated item counts as a
	// failure.
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

	// Flagged counts the units (item samples) the forensic scans flagged
	// (records.ForensicFlags). ExcludedFlagged: the row is ranked without
	// the task's flagged items (--exclude-flagged, Task.ExcludedFlaggedItems).
	Flagged         int  `json:"flagged"`
	ExcludedFlagged bool `json:"excluded_flagged,omitempty"`
	// Localization is the mean over the units with a patch of their
	// localization scores (forensics.Localize); nil when none has one.
	Localization *RowLocalization `json:"localization,omitempty"`

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
	// opt_commit and their shares of the aggregates.
	PerItem []ItemResult `json:"per_item"`
	// Calibration is what calibration.json says of the items; nil without
	// one (calibration.go).
	Calibration *RowCalibration `json:"calibration,omitempty"`
	// Dominant are the items whose share of SR, Opt@1 or the geomean of
	// all items exceeds DominantShare (empty when none does).
	Dominant []Dominant `json:"dominant_items"`
	// ThresholdCurve is, for t = 0.5, 0.55, …, 1.5, the share of plan
	// items whose correct candidate reaches t × the human's speedup.
	ThresholdCurve []ThresholdPoint `json:"threshold_curve"`

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
	// band is the verdict band of the run's evaluations.
	band float64
	// flaggedItems are the plan items with a flagged sample, in order;
	// dropped those its aggregates leave out (--exclude-flagged).
	flaggedItems []string
	dropped      map[string]bool
}

// RowLocalization is a run's localization: the means over its units
// with a score of precision, recall and F1, of the files and of the
// functions. NotBlind is set when a unit's prompt named the target files.
type RowLocalization struct {
	Units     int             `json:"units"`
	Files     records.Overlap `json:"files"`
	Functions records.Overlap `json:"functions"`
	NotBlind  bool            `json:"not_blind,omitempty"`
}

func (l *RowLocalization) add(o *records.Localization) {
	l.Units++
	for _, p := range []struct{ sum, v *records.Overlap }{{&l.Files, &o.Files}, {&l.Functions, &o.Functions}} {
		p.sum.Precision += p.v.Precision
		p.sum.Recall += p.v.Recall
		p.sum.F1 += p.v.F1
	}
	l.NotBlind = l.NotBlind || !o.Blind
}

func (l *RowLocalization) mean() {
	n := float64(l.Units)
	for _, o := range []*records.Overlap{&l.Files, &l.Functions} {
		o.Precision, o.Recall, o.F1 = o.Precision/n, o.Recall/n, o.F1/n
	}
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
	// Shares of the aggregates: the item's term's share of the sum of
	// the terms' magnitudes. Opt@1: its flag (mean over samples) among
	// the successes; SR: its 1/(agent/human) among Σ 1/(agent/human) of
	// the items with a measured human speedup (a low ratio weighs most
	// in a harmonic mean); geomean all: its |log speedup| among Σ |log|.
	ShareOpt1       float64 `json:"share_opt_at_1"`
	ShareSR         float64 `json:"share_speedup_ratio"`
	ShareGeoMeanAll float64 `json:"share_geomean_speedup_all"`
}

// itemValues are what the paired comparison needs of one item: its Opt@1
// (the mean over its samples), the mean agent speedup over the baseline of
// its samples with a measured human speedup (a failure counting as 1.0)
// and the geometric mean of those human speedups (0: not measured). The
// pair divides both runs' agent speedups by one human speedup per item,
// so that the two runs' own timing noise of the human does not decide.
type itemValues struct{ opt1, agent, human float64 }

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
	// StableOnly computes each row over its items calibrated stable only
	// (calibration.json); the others are left out and named.
	StableOnly bool
	// ExcludeFlagged ranks without the items the forensic scans flagged
	// (a leak attempt or a reward-hack rule, records.ForensicFlags): an
	// item flagged in any run of a task is left out of every run's
	// aggregates of that task, so that the runs are still ranked (and
	// paired) over the same items, and a flagged success earns nothing.
	ExcludeFlagged bool
}

func (o Options) bootstrap() Bootstrap {
	b := Bootstrap{Resamples: o.Resamples, Seed: o.Seed, Confidence: DefaultConfidence, Over: OverItemsAndRounds}
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
	// runs are the rows' runs (as loaded, after --stable-only), by run
	// directory, for excludeFlagged.
	runs := map[string]*records.Run{}
	for _, dir := range dirs {
		run, err := journal.ReadRun(dir)
		if err != nil {
			if fsx.IsNotExist(err) {
				return nil, fmt.Errorf("%s is not a run directory (no %s): %w", dir, journal.RunFile, err)
			}
			return nil, err
		}
		cal, run, calProblems := loadCalibration(dir, run, o.StableOnly)
		row, problems := loadRow(dir, run, b.Bootstrap, nil)
		row.Calibration = cal
		problems = append(problems, calProblems...)
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
		if o.ExcludeFlagged {
			runs[dir] = run
		}
	}
	if o.ExcludeFlagged {
		excludeFlagged(b, runs)
	}
	for i := range b.Tasks {
		b.Tasks[i].Pairs = pairs(b.Tasks[i].Rows, o.Pairs, b.Bootstrap)
		if n := len(b.Tasks[i].Rows); n > MaxAllPairs && len(b.Tasks[i].Pairs) == 0 {
			b.Tasks[i].PairsOmitted = fmt.Sprintf("pairs omitted: %d runs are more than %d; ask for a pair with --pairs RUN_ID_A,RUN_ID_B (repeatable)", n, MaxAllPairs)
		}
		b.Tasks[i].Matrix = buildMatrix(b.Tasks[i].Rows)
	}
	return b, nil
}

// excludeFlagged reloads the rows of every task with a flagged item
// without the items flagged in any of its runs (the union, in order of
// first appearance): the flags are known only once every run is read.
// An item is the matrix's (matrixKey: its human commit when known), since
// ids are positional and mean other commits in other plans.
func excludeFlagged(b *Board, runs map[string]*records.Run) {
	for ti := range b.Tasks {
		t := &b.Tasks[ti]
		known := knownCommits(t.Rows)
		flagged := map[string]bool{}
		for ri := range t.Rows {
			r := &t.Rows[ri]
			for _, id := range r.flaggedItems {
				if k := matrixKey(r, id, known); !flagged[k] {
					flagged[k] = true
					t.ExcludedFlaggedItems = append(t.ExcludedFlaggedItems, id)
				}
			}
		}
		for ri := range t.Rows {
			r := &t.Rows[ri]
			drop := map[string]bool{}
			for _, id := range r.planItems {
				if flagged[matrixKey(r, id, known)] {
					drop[id] = true
				}
			}
			if len(drop) > 0 {
				// The problems were reported by the first reading.
				row, _ := loadRow(r.RunDir, runs[r.RunDir], b.Bootstrap, drop)
				row.Calibration = r.Calibration
				*r = row
			}
			r.ExcludedFlagged = true
		}
	}
}

// RunIDs are the run ids of the board's rows, in order.
func (b *Board) RunIDs() []string {
	var out []string
	for _, t := range b.Tasks {
		for _, r := range t.Rows {
			out = append(out, r.RunID)
		}
	}
	return out
}

// unit is what one sample of one item says.
type unit struct {
	missing, infra, evaluated  bool
	patch, emptyPatch, correct bool
	// human is the human commit eval.json names ("" without one).
	human                      string
	optBase, optCommit         bool
	agentSpeedup, humanSpeedup float64 // 0 when not measured
	verdict                    stats.Outcome
	verdictLabel               string
	evalStatus                 records.EvalStatus
	agentLo, agentHi           float64
	agentCIValid               bool
	usage                      records.Usage
	wallSeconds                float64
	// withinAgent and withinHuman say which speedups the within-item
	// bootstrap resampled (ab, hb); the others stand as measured.
	withinAgent, withinHuman bool
	// band is the evaluation's verdict band.
	band float64
	// flagged: the forensic scans flagged it (records.ForensicFlags).
	flagged bool
	// loc is the rollout's localization score (nil: none recorded).
	loc *records.Localization
}

// readUnit reads one sample's journal and eval.json (item, when not nil,
// is the item layout's file, whose view of sample is taken instead)
// and, into ab and hb (B each), the within-item replicates of its
// speedups.
func readUnit(dir string, item *records.Eval, sample int, seed uint64, ab, hb []float64) (unit, []string) {
	var u unit
	var problems []string
	j, jerr := journal.ReadJournal(dir)
	var ev *records.Eval
	var everr error
	if item != nil {
		if ev = item.SampleView(sample); ev == nil {
			everr = fs.ErrNotExist
		}
	} else {
		ev, everr = journal.ReadSampleEval(dir)
	}
	if everr != nil && !fsx.IsNotExist(everr) {
		problems = append(problems, everr.Error())
		ev = nil
	}
	if jerr != nil && !fsx.IsNotExist(jerr) {
		problems = append(problems, jerr.Error())
	}
	// The run figures' definition (records.UnitOf): the evaluation's own
	// apply is the authority when there is one (a predictions file has no
	// journal), the flags and verdict a correct candidate's.
	f := records.UnitOf(j, ev)
	u.flagged = records.ForensicFlagsOf(j, ev).Any()
	if j != nil && j.Forensics != nil {
		u.loc = j.Forensics.Localization
	}
	u.patch = f.Patch
	if j != nil {
		u.usage, u.wallSeconds = j.Usage, j.DurationSeconds
		u.infra = !j.Status.Final()
	} else if ev == nil {
		u.missing = true
		return u, problems
	}
	if ev == nil || !ev.Status.Done() {
		return u, problems
	}
	u.evaluated = true
	u.evalStatus = ev.Status
	u.correct, u.optBase, u.optCommit, u.verdict = f.Correct, f.OptBase, f.OptCommit, f.Verdict
	u.emptyPatch = ev.Patch.Empty
	u.human = ev.Commits.Human
	if st := ev.Stats; st != nil {
		if st.HumanOverBase.Valid {
			u.humanSpeedup = st.HumanOverBase.Ratio
		}
		if u.correct {
			if st.AgentOverBase.Valid {
				u.agentSpeedup = st.AgentOverBase.Ratio
				u.agentLo, u.agentHi, u.agentCIValid = st.AgentOverBase.Lo, st.AgentOverBase.Hi, st.AgentOverBase.CIValid
			}
			u.verdictLabel = stats.VerdictText(st.Verdict.Outcome, st.Verdict.Significant, st.Verdict.Label)
		}
		u.band = st.Options.Band
		if u.humanSpeedup > 0 {
			b := st.Options.Better
			if u.agentSpeedup > 0 && withinReplicates(ev, b, true, seed, ab, hb) {
				u.withinAgent, u.withinHuman = true, true
			} else {
				u.withinHuman = withinReplicates(ev, b, false, seed, ab, hb)
			}
		}
	}
	return u, problems
}

// itemTerms are one item's terms of the aggregates that vary with its
// timed rounds: Opt@1 and opt_base@1 (the mean of the flags over the
// samples), Opt@K, 1/SR of the item's mean agent/human ratio (when
// nRatio > 0), the mean log agent speedup (failures 1.0) and the sum of the
// log speedups of its nCorrect correct samples.
type itemTerms struct {
	opt1, optBase1, optK, invSR, logAll, logCorrect float64
	nRatio, nCorrect                                int
	// agentSum and logHuman are Σ agent speedup and Σ log human speedup
	// over the nRatio samples with a measured human speedup (of the
	// measured terms only: 0 in the replicates).
	agentSum, logHuman float64
}

// The aggregates with within-item replicates, as columns of repSet.
const (
	repOpt1 = iota
	repOptBase1
	repOptK
	repInvSR
	repLogAll
	repLogCorrect
	repCount
)

// repSet holds a row's within-item replicates: per aggregate, items × B
// terms, written item-major (each item its own stretch, by its worker) and
// turned replicate-major (see nested) once every item is read.
type repSet struct {
	terms [repCount][]float32
	items int
	B     int
}

// newRepSet allocates the replicates of every aggregate but Opt@K with
// one sample (it is Opt@1 then, and not estimated).
func newRepSet(items, B, samples int) *repSet {
	r := &repSet{items: items, B: B}
	for a := range r.terms {
		if a != repOptK || samples > 1 {
			r.terms[a] = make([]float32, items*B)
		}
	}
	return r
}

func (r *repSet) set(b, item int, t itemTerms) {
	at := item*r.B + b
	r.terms[repOpt1][at] = float32(t.opt1)
	r.terms[repOptBase1][at] = float32(t.optBase1)
	if r.terms[repOptK] != nil {
		r.terms[repOptK][at] = float32(t.optK)
	}
	r.terms[repInvSR][at] = float32(t.invSR)
	r.terms[repLogAll][at] = float32(t.logAll)
	r.terms[repLogCorrect][at] = float32(t.logCorrect)
}

// replicateMajor transposes every aggregate's terms from items × B to
// B × items, in tiles that stay in cache.
func (r *repSet) replicateMajor() {
	const tile = 64
	var jobs []func()
	for a := range r.terms {
		if r.terms[a] == nil {
			continue
		}
		jobs = append(jobs, func() {
			src, dst := r.terms[a], make([]float32, r.items*r.B)
			for i0 := 0; i0 < r.items; i0 += tile {
				for b0 := 0; b0 < r.B; b0 += tile {
					for i := i0; i < min(i0+tile, r.items); i++ {
						for b := b0; b < min(b0+tile, r.B); b++ {
							dst[b*r.items+i] = src[i*r.B+b]
						}
					}
				}
			}
			r.terms[a] = dst
		})
	}
	parallel(jobs)
}

// itemOut is one plan item of a row: its samples and its terms.
type itemOut struct {
	units    []unit
	problems []string
	terms    itemTerms
	// pOptBase and pOptCommit are the item's odds (the share of the
	// replicates reaching each flag), fromRounds whether every correct
	// sample gave them from its rounds.
	pOptBase, pOptCommit float64
	fromRounds           bool
}

// sampleReps are one sample's within-item replicates (nil: not resampled).
type sampleReps struct{ ab, hb []float64 }

// terms are the item's terms from replicate b of its samples, or from
// their measured values when b < 0.
func terms(units []unit, reps []sampleReps, b int) itemTerms {
	if len(units) == 1 {
		return term1(units[0], reps[0], b)
	}
	var t itemTerms
	kf := float64(len(units))
	var ratio float64
	var nOpt int
	for s, u := range units {
		a, h := agentOrOne(u), u.humanSpeedup
		ob, oc := u.optBase, u.optCommit
		if b >= 0 && reps[s].ab != nil {
			a = reps[s].ab[b]
			ob, oc = optFlags(a, reps[s].hb[b])
		}
		if b >= 0 && reps[s].hb != nil {
			h = reps[s].hb[b]
		}
		t.opt1 += b2f(oc) / kf
		t.optBase1 += b2f(ob) / kf
		nOpt += int(b2f(oc))
		la := math.Log(a)
		t.logAll += la / kf
		if u.agentSpeedup > 0 {
			t.logCorrect += la
			t.nCorrect++
		}
		if h > 0 {
			ratio += a / h
			t.nRatio++
			if b < 0 { // the pairs need only the measured values
				t.agentSum += a
				t.logHuman += math.Log(h)
			}
		}
	}
	// Opt@K with k = n samples: 1 − C(n−c, n)/C(n, n), that is 1 as soon
	// as one sample reaches it.
	t.optK = b2f(nOpt > 0)
	if t.nRatio > 0 {
		t.invSR = float64(t.nRatio) / ratio
	}
	return t
}

// term1 is terms for one sample, without the loop (the common case, run
// B times per item).
func term1(u unit, r sampleReps, b int) itemTerms {
	a, h := agentOrOne(u), u.humanSpeedup
	ob, oc := u.optBase, u.optCommit
	if b >= 0 && r.ab != nil {
		a = r.ab[b]
		ob, oc = optFlags(a, r.hb[b])
	}
	if b >= 0 && r.hb != nil {
		h = r.hb[b]
	}
	t := itemTerms{opt1: b2f(oc), optBase1: b2f(ob), optK: b2f(oc), logAll: math.Log(a)}
	if u.agentSpeedup > 0 {
		t.logCorrect, t.nCorrect = t.logAll, 1
	}
	if h > 0 {
		t.invSR, t.nRatio = h/a, 1
		if b < 0 { // the pairs need only the measured values
			t.agentSum, t.logHuman = a, math.Log(h)
		}
	}
	return t
}

// readItem reads item i's k samples, writes its B replicate terms into
// item i's stretch of reps (an item whose samples were not resampled
// repeats its measured terms) and returns the measured ones.
func readItem(dir, id string, i, k int, bs Bootstrap, reps *repSet, ab, hb []float64) itemOut {
	B := bs.Resamples
	out := itemOut{units: make([]unit, k), fromRounds: true}
	sr := make([]sampleReps, k)
	resampled := false
	// In the item layout every candidate was timed in the same rounds as
	// the item's one baseline and human: each replicate resamples the
	// same rounds for all of them (one seed for the item), so that the
	// candidates of one replicate share its base and human medians.
	var item *records.Eval
	if k > 1 {
		ev, err := journal.ReadEval(journal.EvalDir(dir, id, k))
		if err != nil && !fsx.IsNotExist(err) {
			out.problems = append(out.problems, err.Error())
		}
		if ev != nil && ev.Candidates != nil {
			item = ev
		}
	}
	for s := range k {
		sab, shb := ab[s*B:(s+1)*B], hb[s*B:(s+1)*B]
		seed := bs.Seed + uint64(7919*(i*k+s))
		if item != nil {
			seed = bs.Seed + uint64(7919*(i*k))
		}
		u, p := readUnit(filepath.Join(dir, journal.ItemDirName(id, s, k)), item, s, seed, sab, shb)
		out.units[s], out.problems = u, append(out.problems, p...)
		if u.withinHuman {
			resampled = true
			sr[s].hb = shb
		}
		if u.withinAgent {
			sr[s].ab = sab
		}
		out.fromRounds = out.fromRounds && (u.withinAgent || !u.correct)
	}
	if item != nil {
		shareHuman(out.units, sr)
	}
	out.terms = terms(out.units, sr, -1)
	kf := float64(k)
	for s, u := range out.units {
		if sr[s].ab == nil {
			out.pOptBase += b2f(u.optBase) / kf
			out.pOptCommit += b2f(u.optCommit) / kf
			continue
		}
		var hitBase, hitCommit int
		for b := range B {
			ob, oc := optFlags(sr[s].ab[b], sr[s].hb[b])
			hitBase += int(b2f(ob))
			hitCommit += int(b2f(oc))
		}
		out.pOptBase += float64(hitBase) / float64(B) / kf
		out.pOptCommit += float64(hitCommit) / float64(B) / kf
	}
	for b := range B {
		t := out.terms
		if resampled {
			t = terms(out.units, sr, b)
		}
		reps.set(b, i, t)
	}
	return out
}

// shareHuman gives the item layout's candidates that were not timed to
// the end (no statistics of their own: a failed gate) the item's human
// speedup and its replicates, which every candidate shares: a failed
// candidate then enters SR as speedup 1.0, as in the one-candidate layout.
func shareHuman(units []unit, sr []sampleReps) {
	from := slices.IndexFunc(units, func(u unit) bool { return u.humanSpeedup > 0 })
	if from < 0 {
		return
	}
	for s := range units {
		if u := &units[s]; u.evaluated && u.humanSpeedup == 0 {
			u.humanSpeedup, u.withinHuman = units[from].humanSpeedup, units[from].withinHuman
			sr[s].hb = sr[from].hb
		}
	}
}

// agentOrOne is a sample's agent speedup over the baseline, 1.0 for a
// failed or untimed candidate.
func agentOrOne(u unit) float64 {
	if u.agentSpeedup > 0 {
		return u.agentSpeedup
	}
	return 1
}

// readItems reads a run's items on GOMAXPROCS workers. Each item's
// replicates depend only on its own seed, so the result is the same
// whatever the parallelism.
func readItems(dir string, run *records.Run, k int, bs Bootstrap) ([]itemOut, *repSet) {
	outs := make([]itemOut, len(run.Items))
	reps := newRepSet(len(run.Items), bs.Resamples, k)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(run.Items), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ab, hb := make([]float64, k*bs.Resamples), make([]float64, k*bs.Resamples)
			for {
				i := int(next.Add(1)) - 1
				if i >= len(run.Items) {
					return
				}
				outs[i] = readItem(dir, run.Items[i], i, k, bs, reps, ab, hb)
			}
		}()
	}
	wg.Wait()
	reps.replicateMajor()
	return outs, reps
}

// ThresholdPoint is one point of the threshold curve: the share of plan
// items whose correct candidate's speedup over the baseline reaches T
// times the human's (a failed, missing or untimed candidate does not).
type ThresholdPoint struct {
	T     float64 `json:"t"`
	Share float64 `json:"share"`
}

// Dominant is an item whose share of an aggregate exceeds DominantShare.
type Dominant struct {
	Item      string  `json:"item"`
	Aggregate string  `json:"aggregate"`
	Share     float64 `json:"share"`
}

// DominantShare is the share of an aggregate above which an item is
// flagged: one extreme item must not decide a ranking unseen. Only
// aggregates over more than 1/DominantShare items are checked (over fewer,
// every item weighs that much on average).
const DominantShare = 0.25

// The aggregates whose shares are computed, by their JSON names.
const (
	aggSR     = "speedup_ratio"
	aggOpt1   = "opt_at_1"
	aggGeoAll = "geomean_speedup_all"
)

// loadRow reads a run's row; the items in drop (--exclude-flagged) are
// read, counted and kept in the matrix, but left out of its aggregates,
// verdict counts and pairs.
func loadRow(dir string, run *records.Run, bs Bootstrap, drop map[string]bool) (Row, []string) {
	k := max(run.Samples, 1)
	row := Row{RunID: run.RunID, RunDir: dir, Agent: run.Agent.Name, Model: run.Agent.Model, Samples: k, Items: len(run.Items),
		plan: run.PlanHash, perItem: map[string]itemValues{}, dropped: drop,
		planItems: run.Items, cells: map[string]Cell{}, commits: planCommits(dir, run), humanSpeedups: map[string]float64{}}
	var problems []string
	n := len(run.Items)
	outs, reps := readItems(dir, run, k, bs)
	// ranked is the number of items the aggregates are over.
	ranked := 0
	for _, id := range run.Items {
		if !drop[id] {
			ranked++
		}
	}
	patch, correct, passK := make([]float64, 0, ranked), make([]float64, 0, ranked), make([]float64, 0, ranked)
	var opt1, optBase1, optK, sr, geoAll, geoCorrect nested
	for a, s := range map[int]*nested{repOpt1: &opt1, repOptBase1: &optBase1, repOptK: &optK, repInvSR: &sr, repLogAll: &geoAll, repLogCorrect: &geoCorrect} {
		s.reps, s.stride = reps.terms[a], n
	}
	var srItems []int // the items entering SR, by index in PerItem
	thresholds := ThresholdSteps()
	reach := make([]float64, len(thresholds))
	kf := float64(k)
	for i, id := range run.Items {
		out := &outs[i]
		problems = append(problems, out.problems...)
		var item struct{ missing, infra, notEval, eval int }
		res := ItemResult{ID: id, FromRounds: out.fromRounds, POptBase: out.pOptBase, POptCommit: out.pOptCommit}
		var cPass int
		var pi, ci float64
		t := out.terms
		unitCells := make([]Cell, 0, k)
		dropped := drop[id]
		flagged := false
		for _, u := range out.units {
			flagged = flagged || u.flagged
			unitCells = append(unitCells, unitCell(u))
			if pc := row.commits[id]; pc.human == "" && u.human != "" {
				// A run without its plan.json (predictions) still names
				// the human commit in eval.json.
				pc.human = u.human
				row.commits[id] = pc
			}
			if u.humanSpeedup > 0 && row.humanSpeedups[id] == 0 {
				row.humanSpeedups[id] = u.humanSpeedup
			}
			if u.flagged {
				row.Flagged++
			}
			row.CostUSD += u.usage.CostUSD
			row.InputTokens += u.usage.InputTokens
			row.OutputTokens += u.usage.OutputTokens
			row.CacheReadTokens += u.usage.CacheReadTokens
			row.CacheWriteTokens += u.usage.CacheWriteTokens
			row.WallSeconds += u.wallSeconds
			row.band = max(row.band, u.band)
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
			if dropped {
				continue
			}
			if u.loc != nil {
				if row.Localization == nil {
					row.Localization = &RowLocalization{}
				}
				row.Localization.add(u.loc)
			}
			pi += b2f(u.patch) / kf
			ci += b2f(u.correct) / kf
			cPass += int(b2f(u.correct))
			if u.humanSpeedup > 0 && u.agentSpeedup > 0 {
				for t, th := range thresholds {
					if u.agentSpeedup >= th*u.humanSpeedup*(1-1e-12) {
						reach[t] += 1 / kf
					}
				}
			}
			switch u.verdict {
			case stats.Win:
				row.Win++
			case stats.Match:
				row.Match++
			case stats.Loss:
				row.Loss++
			case stats.Inconclusive:
				row.Inconclusive++
			}
		}
		if flagged {
			row.flaggedItems = append(row.flaggedItems, id)
		}
		// An item counts once in the columns of incompleteness, by its
		// worst sample.
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
		row.cells[id] = itemCell(unitCells, t.logAll)
		if dropped {
			continue
		}
		row.PerItem = append(row.PerItem, res)
		patch, correct = append(patch, pi), append(correct, ci)
		opt1.add(t.opt1, 1, i)
		optBase1.add(t.optBase1, 1, i)
		optK.add(t.optK, 1, i)
		pk, _ := stats.PassAtK(k, cPass, k)
		passK = append(passK, pk)
		geoAll.add(t.logAll, 1, i)
		if t.nCorrect > 0 {
			geoCorrect.add(t.logCorrect, float64(t.nCorrect), i)
		}
		iv := itemValues{opt1: t.opt1}
		if t.nRatio > 0 {
			nr := float64(t.nRatio)
			iv.agent, iv.human = t.agentSum/nr, math.Exp(t.logHuman/nr)
			sr.add(t.invSR, 1, i)
			srItems = append(srItems, len(row.PerItem)-1)
		}
		// Only items evaluated in every sample enter the pairs: the
		// others are named there as present in one run only.
		if item.eval == k {
			row.perItem[id] = iv
			row.order = append(row.order, id)
		}
	}
	row.Incomplete = row.Missing+row.InfraError+row.NotEvaluated > 0
	seed := bs.Seed
	next := func() uint64 { seed++; return seed }
	estimates := []func(){}
	// Each estimate has its own seed, drawn here in a fixed order, so
	// running them concurrently changes nothing.
	one := func(m *Metric, xs []float64, stat Statistic) {
		s := next()
		estimates = append(estimates, func() { *m = Estimate(xs, stat, bs.Resamples, s, bs.Confidence) })
	}
	two := func(m *Metric, xs nested, fin finish) {
		s := next()
		estimates = append(estimates, func() { *m = estimateNested(xs, fin, bs.Resamples, s, bs.Confidence) })
	}
	one(&row.PatchRate, patch, Mean)
	one(&row.CorrectRate, correct, Mean)
	two(&row.OptBase1, optBase1, meanOf)
	two(&row.Opt1, opt1, meanOf)
	if k > 1 {
		row.OptK, row.PassK = &Metric{}, &Metric{}
		two(row.OptK, optK, meanOf)
		one(row.PassK, passK, Mean)
	}
	two(&row.SR, sr, harmonicOf)
	two(&row.GeoMeanCorrect, geoCorrect, geoOf)
	two(&row.GeoMeanAll, geoAll, geoOf)
	parallel(estimates)
	if row.Localization != nil {
		row.Localization.mean()
	}
	if n > 0 {
		row.CostPerItemUSD = row.CostUSD / float64(n)
	}
	if succ := row.Opt1.Value * float64(ranked); succ > 0 {
		c := row.CostUSD / succ
		row.CostPerOpt1USD = &c
	}
	row.ThresholdCurve = make([]ThresholdPoint, len(thresholds))
	for t, th := range thresholds {
		share := 0.0
		if ranked > 0 {
			share = reach[t] / float64(ranked)
		}
		row.ThresholdCurve[t] = ThresholdPoint{T: th, Share: share}
	}
	row.shares(opt1.point, sr.point, srItems, geoAll.point)
	return row, problems
}

// shares fills each item's share of the aggregates (its term's share of
// the sum of the terms' magnitudes) and flags the dominant items.
func (row *Row) shares(opt1, invSR []float64, srItems []int, logAll []float64) {
	frac := func(terms []float64) []float64 {
		out := make([]float64, len(terms))
		total := 0.0
		for _, x := range terms {
			total += math.Abs(x)
		}
		if total > 0 {
			for i, x := range terms {
				out[i] = math.Abs(x) / total
			}
		}
		return out
	}
	so, sl := frac(opt1), frac(logAll)
	ss := make([]float64, len(opt1))
	for j, x := range frac(invSR) {
		ss[srItems[j]] = x
	}
	row.Dominant = []Dominant{}
	for i := range row.PerItem {
		r := &row.PerItem[i]
		r.ShareOpt1, r.ShareSR, r.ShareGeoMeanAll = so[i], ss[i], sl[i]
		for _, a := range []struct {
			name  string
			share float64
			n     int
		}{{aggSR, ss[i], len(invSR)}, {aggOpt1, so[i], len(opt1)}, {aggGeoAll, sl[i], len(logAll)}} {
			if a.share > DominantShare && float64(a.n) > 1/DominantShare {
				row.Dominant = append(row.Dominant, Dominant{Item: r.ID, Aggregate: a.name, Share: a.share})
			}
		}
	}
}

// ThresholdSteps are the t of Row.ThresholdCurve: 0.5, 0.55, …, 1.5.
func ThresholdSteps() []float64 {
	out := make([]float64, 0, 21)
	for i := range 21 {
		out = append(out, math.Round(100*(0.5+0.05*float64(i)))/100)
	}
	return out
}

// parallel runs fs on GOMAXPROCS goroutines and waits for them.
func parallel(fs []func()) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(fs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(fs); i = int(next.Add(1)) - 1 {
				fs[i]()
			}
		}()
	}
	wg.Wait()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
