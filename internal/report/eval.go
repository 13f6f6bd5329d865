package report

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
	"github.com/perfbench/perfbench/internal/textx"
)

// ItemEval is one item's evaluation, from its eval.json.
type ItemEval struct {
	Status string   `json:"status"`
	Reason string   `json:"reason,omitempty"`
	Flags  []string `json:"flags,omitempty"`
	// Metric is "wall" or the extracted metric's unit; Better is lower or
	// higher.
	Metric string `json:"metric"`
	Better string `json:"better"`
	Rounds int    `json:"rounds"`
	// Patched is evaluate's view of the candidate: a non-empty patch that
	// applied to the pre tree; Correct one that also passed the gate
	// (records.Eval.Correct).
	Patched bool `json:"patched"`
	Correct bool `json:"correct"`
	// Medians of the timed samples of each arm (when timed).
	BaseMedian  float64 `json:"base_median,omitempty"`
	HumanMedian float64 `json:"human_median,omitempty"`
	AgentMedian float64 `json:"agent_median,omitempty"`
	// Speedups (above 1: the first arm is better); nil when not timed.
	HumanSpeedup   *Speedup `json:"human_speedup,omitempty"`
	AgentSpeedup   *Speedup `json:"agent_speedup,omitempty"`
	AgentOverHuman *Speedup `json:"agent_over_human,omitempty"`
	// Verdict of agent vs human: win, match, loss or inconclusive (""
	// when not timed); VerdictLabel is its printed form.
	Verdict      string `json:"verdict,omitempty"`
	VerdictLabel string `json:"verdict_label,omitempty"`
	Significant  bool   `json:"significant"`
	// OptBase and OptCommit are the flags as the figures count them: a
	// correct candidate's (records.Eval.CountsOpt).
	OptBase   bool `json:"opt_base"`
	OptCommit bool `json:"opt_commit"`
	Noisy     bool `json:"noisy"`
	Pinned    bool `json:"pinned"`
	// NoisyArms are the arms whose CV is above the threshold, with it.
	NoisyArms []NoisyArm `json:"noisy_arms,omitempty"`
	// Alpha and Band are the verdict's significance level and band.
	Alpha float64 `json:"alpha,omitempty"`
	Band  float64 `json:"band,omitempty"`
	// SetupSeconds and BaseSetupSeconds are the candidate's and the
	// baseline's setup times; TimingWrites the files the candidate's timed
	// runs wrote and the baseline's did not (eval.json's protocol).
	SetupSeconds     float64  `json:"setup_seconds,omitempty"`
	BaseSetupSeconds float64  `json:"base_setup_seconds,omitempty"`
	TimingWrites     []string `json:"timing_writes,omitempty"`
	// Secondary are the item's statistics on its secondary metrics (CPU
	// time beside wall time by default, instructions), each with whether
	// it disagrees with the metric; MetricsDisagree is the item's
	// metrics_disagree flag.
	Secondary       []SecondaryEval `json:"secondary,omitempty"`
	MetricsDisagree bool            `json:"metrics_disagree,omitempty"`
	// Calibration is the item's class in calibration.json (stable,
	// unstable, no_speedup, broken; stale when it was analysed with
	// another band or alpha); "" when not calibrated.
	Calibration string `json:"calibration,omitempty"`

	planItemHash, configHash string
	// band and alpha of the evaluation's statistics, to match a
	// calibration analysed with the same.
	band, alpha float64
}

// SecondaryEval is an item's figures on one secondary metric
// (eval.json's secondary): the speedups over the baseline on that
// metric, or why it could not be measured.
type SecondaryEval struct {
	Metric string `json:"metric"`
	// Method is the instruction counter (perf, cachegrind).
	Method         string   `json:"method,omitempty"`
	HumanSpeedup   *Speedup `json:"human_speedup,omitempty"`
	AgentSpeedup   *Speedup `json:"agent_speedup,omitempty"`
	AgentOverHuman *Speedup `json:"agent_over_human,omitempty"`
	Error          string   `json:"error,omitempty"`
	// Disagrees: this metric and the item's disagree (metrics_disagree).
	Disagrees bool `json:"disagrees,omitempty"`
}

// NoisyArm is one noisy arm: base, human or agent, and its coefficient of
// variation.
type NoisyArm struct {
	Arm string  `json:"arm"`
	CV  float64 `json:"cv"`
}

// Speedup is a ratio with its confidence interval and Mann–Whitney p.
type Speedup struct {
	Ratio       float64 `json:"ratio"`
	Valid       bool    `json:"valid"`
	Lo          float64 `json:"lo"`
	Hi          float64 `json:"hi"`
	CIValid     bool    `json:"ci_valid"`
	Method      string  `json:"method"`
	P           float64 `json:"p"`
	Significant bool    `json:"significant"`
	// NBase and NCand are the samples compared.
	NBase int `json:"n_base"`
	NCand int `json:"n_cand"`
}

func speedupOf(s stats.Speedup) *Speedup {
	return &Speedup{Ratio: s.Ratio, Valid: s.Valid, Lo: s.Lo, Hi: s.Hi, CIValid: s.CIValid, Method: s.Method, P: s.P, Significant: s.Significant,
		NBase: s.NBase, NCand: s.NCand}
}

// verdictText is the verdict as printed ("" when not timed).
func (ev *ItemEval) verdictText() string {
	if ev.Verdict == "" {
		return ""
	}
	return stats.VerdictText(stats.Outcome(ev.Verdict), ev.Significant, ev.VerdictLabel)
}

// loadEval reads a unit's evaluation: the row's view, and the record it
// came from (nil, nil when not evaluated).
func loadEval(dir string) (*ItemEval, *records.Eval, error) {
	r, err := journal.ReadSampleEval(dir)
	if err != nil {
		if fsx.IsNotExist(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	ev := &ItemEval{
		Status: string(r.Status), Reason: r.Reason, Flags: r.Flags,
		Metric: r.Config.Metric.Kind, Better: r.Config.Metric.Better, Rounds: r.Config.Rounds,
		Pinned:  r.Environment.Pinning.Applied,
		Patched: r.Patched(), Correct: r.Correct(),
		planItemHash: r.PlanItemHash, configHash: r.ConfigHash,
		band: r.Config.Band, alpha: r.Config.Alpha,
	}
	if p := r.Protocol; p != nil {
		ev.SetupSeconds, ev.BaseSetupSeconds, ev.TimingWrites = p.SetupSeconds, p.BaseSetupSeconds, p.TimingWrites
	}
	ev.MetricsDisagree = slices.Contains(r.Flags, records.FlagMetricsDisagree)
	for _, sec := range r.Secondary {
		se := SecondaryEval{Metric: sec.Metric, Method: sec.Method, Error: sec.Error, Disagrees: sec.Disagrees}
		if st := sec.Stats; st != nil {
			se.HumanSpeedup, se.AgentSpeedup, se.AgentOverHuman = speedupOf(st.HumanOverBase), speedupOf(st.AgentOverBase), speedupOf(st.AgentOverHuman)
		}
		ev.Secondary = append(ev.Secondary, se)
	}
	if r.Config.Metric.Kind != "wall" && r.Config.Metric.Unit != "" {
		ev.Metric = r.Config.Metric.Unit
	}
	if s := r.Stats; s != nil {
		ev.BaseMedian, ev.HumanMedian, ev.AgentMedian = s.Base.Median, s.Human.Median, s.Agent.Median
		ev.HumanSpeedup = speedupOf(s.HumanOverBase)
		ev.AgentSpeedup = speedupOf(s.AgentOverBase)
		ev.AgentOverHuman = speedupOf(s.AgentOverHuman)
		ev.Verdict, ev.Significant = string(s.Verdict.Outcome), s.Verdict.Significant
		ev.VerdictLabel = stats.VerdictText(s.Verdict.Outcome, s.Verdict.Significant, s.Verdict.Label)
		ev.Noisy = s.Noisy
		ev.OptBase, ev.OptCommit = r.CountsOpt()
		ev.Alpha, ev.Band = s.Options.Alpha, s.Options.Band
		for _, a := range []struct {
			name string
			sum  stats.ArmSummary
		}{{"base", s.Base}, {"human", s.Human}, {"agent", s.Agent}} {
			if a.sum.Noisy {
				ev.NoisyArms = append(ev.NoisyArms, NoisyArm{Arm: a.name, CV: a.sum.CV})
			}
		}
	}
	return ev, r, nil
}

// EvalSummary is the run-level view of the evaluation. Its figures are
// records.RunFigures', the ones `bench compare` and the site show: rates
// over every unit of the plan (items × samples: Units), a unit without
// eval.json, missing or not evaluated counting as a failure; the flags
// and verdicts of correct candidates only. An evaluation that finished is
// not a success.
type EvalSummary struct {
	// Evaluated counts the units with an eval.json, out of Units (every
	// unit of the plan, missing ones included).
	Evaluated int            `json:"evaluated"`
	Units     int            `json:"units"`
	Counts    map[string]int `json:"counts"`
	// PatchRate is Patched / Units: candidates whose patch is non-empty
	// and applies (as evaluate applied it; the rollout's view for a unit
	// not evaluated).
	PatchRate float64 `json:"patch_rate"`
	Patched   int     `json:"patched"`
	// CorrectRate is Correct / Units: candidates with a non-empty patch
	// that passed the correctness gate (setup, correctness and, when set,
	// equivalence). An empty patch is never correct.
	CorrectRate float64 `json:"correct_rate"`
	Correct     int     `json:"correct"`
	// GatePassed counts the candidates that passed the gate (an empty
	// patch included) among the GateReached whose gate was reached
	// (baseline and human fine).
	GatePassed  int `json:"gate_passed"`
	GateReached int `json:"gate_reached"`
	// OptAt1 is Opt@1 over plan items (opt_commit of a correct candidate:
	// agent/base >= 1.2 and >= 0.95 of human/base, as in GSO), the mean of
	// each item's share of samples with the flag; OptBaseAt1 the same with
	// opt_base.
	OptAt1     float64 `json:"opt_at_1"`
	OptBaseAt1 float64 `json:"opt_base_at_1"`
	// Verdicts of agent vs human of the correct candidates.
	Win   int `json:"win"`
	Match int `json:"match"`
	Loss  int `json:"loss"`
	// Inconclusive counts the correct candidates whose samples could not
	// decide (too few rounds, CI and test disagreeing, no speedup).
	Inconclusive     int `json:"inconclusive"`
	MatchSignificant int `json:"match_significant"`
	// With several samples per item: pass@k (a sample passes when it is
	// correct: a non-empty patch past the gate), Opt@K and opt_base@K, by
	// the unbiased estimator over the plan's samples (a missing one a
	// failure), for k = 1 .. the samples per item.
	PassAtK    []KValue `json:"pass_at_k,omitempty"`
	OptAtK     []KValue `json:"opt_at_k,omitempty"`
	OptBaseAtK []KValue `json:"opt_base_at_k,omitempty"`
}

// KValue is an estimate at k.
type KValue struct {
	K     int     `json:"k"`
	Value float64 `json:"value"`
}

// summarize is the run-level view: the status counts and gate of the rows
// with an evaluation, and the run figures f of every unit of the plan
// (units of them); nil when nothing is evaluated.
func summarize(items []Item, units int, f records.Figures) *EvalSummary {
	s := &EvalSummary{Units: units, Counts: map[string]int{}}
	for _, it := range items {
		ev := it.Eval
		if ev == nil {
			continue
		}
		s.Evaluated++
		s.Counts[ev.Status]++
		ok, reached := records.EvalStatus(ev.Status).AgentGate()
		if reached {
			s.GateReached++
			if ok {
				s.GatePassed++
			}
		}
	}
	if s.Evaluated == 0 {
		return nil
	}
	s.Patched, s.Correct, s.PatchRate, s.CorrectRate = f.Patched, f.Correct, f.PatchRate, f.CorrectRate
	s.OptAt1, s.OptBaseAt1 = f.OptAt1, f.OptBaseAt1
	s.Win, s.Match, s.MatchSignificant, s.Loss, s.Inconclusive = f.Win, f.Match, f.MatchSignificant, f.Loss, f.Inconclusive
	kv := func(v []float64) []KValue {
		var out []KValue
		for i, x := range v {
			out = append(out, KValue{i + 1, x})
		}
		return out
	}
	s.PassAtK, s.OptAtK, s.OptBaseAtK = kv(f.PassAtK), kv(f.OptAtK), kv(f.OptBaseAtK)
	return s
}

// evalCountsLine is "success 2, patch_failed 1" in evaluate's order.
func evalCountsLine(counts map[string]int) string {
	var parts []string
	seen := map[string]bool{}
	for _, st := range records.EvalStatuses {
		seen[string(st)] = true
		if n := counts[string(st)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	var rest []string
	for st := range counts {
		if !seen[st] {
			rest = append(rest, st)
		}
	}
	sort.Strings(rest)
	for _, st := range rest {
		parts = append(parts, fmt.Sprintf("%s %d", st, counts[st]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func pct(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }

// evalLines are the run-level evaluation lines of the table and Markdown.
func evalLines(e *EvalSummary) []string {
	if e == nil {
		return nil
	}
	lines := []string{
		fmt.Sprintf("evaluated %d of %d: %s", e.Evaluated, e.Units, evalCountsLine(e.Counts)),
		fmt.Sprintf("patch rate %s (%d of %d), correct rate %s (%d of %d: non-empty patch past the gate); gate passed %d of %d reached", pct(e.PatchRate), e.Patched, e.Units, pct(e.CorrectRate), e.Correct, e.Units, e.GatePassed, e.GateReached),
		fmt.Sprintf("agent vs human, of correct candidates: win %d, match %d (%d within the band), loss %d, inconclusive %d; Opt@1 %s, opt_base@1 %s", e.Win, e.Match, e.MatchSignificant, e.Loss, e.Inconclusive, pct(e.OptAt1), pct(e.OptBaseAt1)),
	}
	if len(e.PassAtK) > 0 {
		lines = append(lines, "pass@k "+kvs(e.PassAtK)+"; Opt@K "+kvs(e.OptAtK)+"; opt_base@K "+kvs(e.OptBaseAtK))
	}
	return lines
}

func kvs(v []KValue) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprintf("k=%d %.2f", x.K, x.Value))
	}
	return strings.Join(parts, ", ")
}

// evalCells are the evaluation columns of a row: status, human speedup,
// agent speedup with its CI, verdict.
func evalCells(ev *ItemEval) (status, human, agent, verdict string) {
	if ev == nil {
		return "-", "-", "-", "-"
	}
	status, human, agent, verdict = ev.Status, "-", "-", "-"
	if ev.HumanSpeedup != nil {
		human = ratioText(ev.HumanSpeedup) + ciText(ev.HumanSpeedup)
	}
	if ev.AgentSpeedup != nil {
		agent = ratioText(ev.AgentSpeedup) + ciText(ev.AgentSpeedup)
	}
	if ev.Verdict != "" {
		verdict = ev.verdictText()
	}
	return status, human, agent, verdict
}

// secondaryCell is the secondary metrics' column of a row: per metric
// the agent's speedup over the baseline on it, with its CI ("cpu 1.50x
// [1.45, 1.56]"), marked when it disagrees with the metric; "-" when
// there is none.
func secondaryCell(ev *ItemEval) string {
	if ev == nil || len(ev.Secondary) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(ev.Secondary))
	for _, s := range ev.Secondary {
		t := s.Metric + " -"
		if s.AgentSpeedup != nil {
			t = s.Metric + " " + ratioText(s.AgentSpeedup) + ciText(s.AgentSpeedup)
		}
		if s.Disagrees {
			t += " (disagrees)"
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, "; ")
}

// hasSecondary says whether some item of r has secondary metrics: the
// tables get their column then.
func hasSecondary(r *Report) bool {
	return slices.ContainsFunc(r.Items, func(it Item) bool { return it.Eval != nil && len(it.Eval.Secondary) > 0 })
}

// ciText is " [lo, hi]" when the interval is valid, else "".
func ciText(s *Speedup) string {
	if s == nil || !s.CIValid {
		return ""
	}
	return fmt.Sprintf(" [%s, %s]", num(s.Lo), num(s.Hi))
}

// longCells are the --long columns of a row: the absolute medians, the
// human speedup with its CI, agent/human with its CI, its p and the
// samples per arm.
func longCells(ev *ItemEval) []string {
	if ev == nil || ev.HumanSpeedup == nil {
		return []string{"-", "-", "-", "-", "-", "-", "-"}
	}
	ah, p, n := "-", "-", "-"
	if s := ev.AgentOverHuman; s != nil {
		ah = ratioText(s) + ciText(s)
		p = fmt.Sprintf("%.3g", s.P)
		n = fmt.Sprintf("%d/%d", s.NBase, s.NCand)
	}
	return []string{median(ev.BaseMedian, ev), median(ev.HumanMedian, ev), median(ev.AgentMedian, ev),
		ratioText(ev.HumanSpeedup) + ciText(ev.HumanSpeedup), ah, p, n}
}

// agentOverHuman is the agent/human ratio cell, with its CI: a loss at
// 0.28× must not look like one at 0.97×.
func agentOverHuman(ev *ItemEval) string {
	if ev == nil || ev.AgentOverHuman == nil {
		return "-"
	}
	return ratioText(ev.AgentOverHuman) + ciText(ev.AgentOverHuman)
}

// legend is the line under a table with verdicts, from the first
// evaluated item's alpha and band.
func legend(items []Item) string {
	o := stats.DefaultOptions()
	for _, it := range items {
		if it.Eval != nil && it.Eval.Alpha > 0 {
			o.Alpha, o.Band = it.Eval.Alpha, it.Eval.Band
			break
		}
	}
	l := stats.Legend(o) + "; counts of win/match/loss/inconclusive are " + records.VerdictCountsOver
	for _, it := range items {
		if it.Eval != nil && slices.ContainsFunc(it.Eval.Flags, func(f string) bool { return slices.Contains(protocolFlags, f) }) {
			return l + "\n" + protocolLegend
		}
	}
	return l
}

// protocolFlags are the timing protocol's flags, which the legend
// explains when an item has one.
var protocolFlags = []string{records.FlagWritesDuringTiming, records.FlagWarmCache, records.FlagSetupGrew, records.FlagMetricsDisagree, records.FlagWatchTruncated}

const protocolLegend = "flags: writes_during_timing = the agent's timed runs wrote files the baseline's did not (a cache across runs); " +
	"warm_cache_suspected = its first run was slower than its median by more than twice the baseline's factor (floored at 1) and by more than twice the baseline's excess in time; " +
	"setup_grew = its setup took more than twice the baseline's and at least 1 s longer (baseline → agent); " +
	"metrics_disagree = wall and CPU time (or instructions) disagree: significantly faster on one and slower on the other, " +
	"or the metric's significant gain beyond the band is larger than wall/CPU time's by more than the band, their CIs apart; " +
	"watch_truncated = a watched directory's listing stopped at 20,000 entries: writes beyond it were not seen"

func ratioText(s *Speedup) string {
	if !s.Valid {
		return "-"
	}
	return num(s.Ratio) + "x"
}

// num prints a speedup with 3 significant digits (2.01, 25.3, 0.998).
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func hasEval(r *Report) bool { return r.Evaluation != nil }

// WriteThreeWay renders the three-way comparison of several runs (e.g. the
// demo's replay and noop runs): one row per evaluated item.
func WriteThreeWay(w io.Writer, runs []*Report) error {
	w = textx.ControlFree(w)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tITEM\tEVAL\tBASE\tHUMAN\tAGENT\tHUMAN/BASE [95% CI]\tAGENT/BASE [95% CI]\tAGENT/HUMAN [95% CI]\tVERDICT")
	for _, r := range runs {
		for _, it := range r.Items {
			ev := it.Eval
			if ev == nil {
				continue
			}
			status, human, agent, verdict := evalCells(ev)
			ah := "-"
			if ev.AgentOverHuman != nil {
				ah = ratioText(ev.AgentOverHuman) + ciText(ev.AgentOverHuman)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Agent, it.Dir, status,
				median(ev.BaseMedian, ev), median(ev.HumanMedian, ev), median(ev.AgentMedian, ev),
				human, agent, ah, verdict)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var items []Item
	for _, r := range runs {
		items = append(items, r.Items...)
	}
	_, err := fmt.Fprintf(w, "\n%s\n", legend(items))
	return err
}

func median(v float64, ev *ItemEval) string {
	if ev.HumanSpeedup == nil {
		return "-"
	}
	if ev.Metric == "wall" {
		switch {
		case v >= 1:
			return fmt.Sprintf("%.3gs", v)
		case v >= 1e-3:
			return fmt.Sprintf("%.3gms", v*1e3)
		}
		return fmt.Sprintf("%.3gµs", v*1e6)
	}
	return fmt.Sprintf("%.4g %s", v, ev.Metric)
}

// patchStats counts the changed lines and files of a patch file (for items
// without a journal, whose patch came from a predictions file).
func patchStats(path string) (added, removed, files int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0
	}
	inHunk := false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "diff --git "):
			files++
			inHunk = false
		case strings.HasPrefix(l, "@@"):
			inHunk = true
		case inHunk && strings.HasPrefix(l, "+"):
			added++
		case inHunk && strings.HasPrefix(l, "-"):
			removed++
		}
	}
	return added, removed, files
}
