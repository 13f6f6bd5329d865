package stats

import (
	"fmt"
	"math"

	"golang.org/x/perf/benchmath"
)

// Outcome is the verdict of agent versus human.
type Outcome string

// Outcomes of [Judge].
const (
	Win   Outcome = "win"
	Match Outcome = "match"
	Loss  Outcome = "loss"
	// Inconclusive means the samples cannot decide: with so few rounds
	// that no difference could reach significance, when the confidence
	// interval and the test disagree, or when the speedup is not
	// computable. It is never reported as a match, because a match claims
	// something (no difference beyond the band) that such samples cannot
	// support.
	Inconclusive Outcome = "inconclusive"
)

// Verdict is the classification of an agent-over-human speedup.
type Verdict struct {
	// Outcome is win, match, loss or inconclusive.
	Outcome Outcome `json:"outcome"`
	// Significant is the Mann–Whitney result (p <= alpha), reported for
	// every outcome.
	Significant bool `json:"significant"`
	// MinP is the smallest p-value the test could give with these sample
	// counts (perfectly separated arms); above alpha, nothing can be
	// significant. 0 when the counts are unknown.
	MinP float64 `json:"min_p,omitempty"`
	// Label is how the verdict is printed (see [Judge]): words chosen so
	// that a match cannot be read as "significantly equal".
	Label string `json:"label,omitempty"`
	// Reason is one line explaining the outcome.
	Reason string `json:"reason"`
}

// Labels of the verdicts, as printed by the evaluation summary and the
// reports. The match label with the band is built by [Judge].
const (
	LabelMatchNS         = "match (no significant difference)"
	LabelTooFew          = "inconclusive (n too small)"
	LabelDisagree        = "inconclusive (CI and test disagree)"
	LabelNotComputable   = "inconclusive (no speedup)"
	labelMatchBandFormat = "match (within ±%.4g%%)"
)

// VerdictText is the printed form of a verdict read from a record: its
// Label when the record has one, else the wording derived from the outcome
// and significance (for eval.json files written before labels existed).
func VerdictText(o Outcome, significant bool, label string) string {
	switch {
	case label != "":
		return label
	case o == Inconclusive:
		return "inconclusive"
	case o != Match:
		return string(o)
	case significant:
		return fmt.Sprintf(labelMatchBandFormat, 100*DefaultOptions().Band)
	}
	return LabelMatchNS
}

// Legend is the one line explaining the verdict words under a table.
func Legend(o Options) string {
	o = o.normalize()
	return fmt.Sprintf("verdict (agent vs human): win/loss = significant (Mann–Whitney p ≤ %.4g) and beyond ±%.4g%%; "+
		"match = within ±%.4g%% or no significant difference; inconclusive = the samples cannot decide (too few rounds, or the CI and the test disagree and the CI leaves the band)",
		o.Alpha, 100*o.Band, 100*o.Band)
}

// MinPValue is the smallest two-sided Mann–Whitney p-value the test used
// by [CompareSpeedup] can give with m and n samples: the p of two
// perfectly separated arms. With 3 samples per arm it is 0.1, so nothing
// can be significant at alpha 0.05.
func MinPValue(m, n int) float64 {
	if m <= 0 || n <= 0 {
		return 1
	}
	a, b := make([]float64, m), make([]float64, n)
	for i := range a {
		a[i] = float64(i + 1)
	}
	for i := range b {
		b[i] = float64(m + i + 1)
	}
	th := &benchmath.Thresholds{CompareAlpha: 0.05}
	p := benchmath.AssumeNothing.Compare(benchmath.NewSample(a, th), benchmath.NewSample(b, th)).P
	if !isFinite(p) {
		return 1
	}
	return math.Min(math.Max(p, 0), 1)
}

// MinRounds is the smallest number of samples per arm with which the
// rank test can reach p <= alpha (for equal arms).
func MinRounds(alpha float64) int {
	for n := 2; n < 64; n++ {
		if MinPValue(n, n) <= alpha {
			return n
		}
	}
	return 64
}

// Judge classifies agentOverHuman (the speedup of the agent over the human
// arm). Significance is agentOverHuman.Significant, as computed by
// [CompareSpeedup] with its Options.Alpha; o supplies the band.
//   - inconclusive when the ratio is not Valid, when the sample counts
//     cannot reach p <= alpha at all, or when the confidence interval (when
//     valid) and the test disagree — significant but the CI contains 1, or
//     not significant but the CI excludes 1 — unless the CI lies wholly
//     inside the band (then it is a match either way);
//   - win when significant and Ratio > 1+Band, loss when significant and
//     Ratio < 1/(1+Band);
//   - match otherwise: significant but within the band, or no significant
//     difference with a test that could have found one.
func Judge(agentOverHuman Speedup, o Options) Verdict {
	o = o.normalize()
	s := agentOverHuman
	v := Verdict{Outcome: Match, Significant: s.Significant}
	hiBand, loBand := 1+o.Band, 1/(1+o.Band)
	if s.NBase > 0 && s.NCand > 0 {
		v.MinP = MinPValue(s.NBase, s.NCand)
	}
	ciHasOne := s.CIValid && s.Lo <= 1 && 1 <= s.Hi
	ciExcludesOne := s.CIValid && !ciHasOne
	// A CI wholly inside the band is a match whatever the test says: the
	// disagreement could not change the verdict.
	ciInBand := s.CIValid && s.Lo >= loBand && s.Hi <= hiBand
	switch {
	case !s.Valid:
		v.Outcome, v.Label = Inconclusive, LabelNotComputable
		v.Reason = "speedup not computable"
	case v.MinP > o.Alpha:
		v.Outcome, v.Label = Inconclusive, LabelTooFew
		v.Reason = fmt.Sprintf("n too small: with %d and %d samples the smallest possible p is %.4g > alpha %.4g (need %d rounds)",
			s.NBase, s.NCand, v.MinP, o.Alpha, MinRounds(o.Alpha))
	case s.Significant && ciHasOne && !ciInBand:
		v.Outcome, v.Label = Inconclusive, LabelDisagree
		v.Reason = fmt.Sprintf("significant (p=%.4g) but the CI [%.4g, %.4g] contains 1", s.P, s.Lo, s.Hi)
	case !s.Significant && ciExcludesOne && !ciInBand:
		v.Outcome, v.Label = Inconclusive, LabelDisagree
		v.Reason = fmt.Sprintf("not significant (p=%.4g) but the CI [%.4g, %.4g] excludes 1", s.P, s.Lo, s.Hi)
	case !s.Significant:
		v.Label = LabelMatchNS
		v.Reason = fmt.Sprintf("not significant (p=%.4g)", s.P)
	case s.Ratio > hiBand:
		v.Outcome, v.Label = Win, string(Win)
		v.Reason = fmt.Sprintf("significant (p=%.4g) and speedup %.4g > %.4g", s.P, s.Ratio, hiBand)
	case s.Ratio < loBand:
		v.Outcome, v.Label = Loss, string(Loss)
		v.Reason = fmt.Sprintf("significant (p=%.4g) and speedup %.4g < %.4g", s.P, s.Ratio, loBand)
	default:
		v.Label = fmt.Sprintf(labelMatchBandFormat, 100*o.Band)
		v.Reason = fmt.Sprintf("significant (p=%.4g) but speedup %.4g within [%.4g, %.4g]", s.P, s.Ratio, loBand, hiBand)
	}
	return v
}

// GSO thresholds.
const (
	// OptBaseSpeedup is the agent/base speedup needed for opt_base.
	OptBaseSpeedup = 1.2
	// OptCommitFraction is the fraction of the human/base speedup the
	// agent/base speedup must reach for opt_commit.
	OptCommitFraction = 0.95
)

// atLeast is x >= y with a 1e-12 relative tolerance for round-off.
func atLeast(x, y float64) bool { return x >= y*(1-1e-12) }

// OptFlags returns the GSO flags from the agent/base and human/base
// speedups: optBase is agent/base >= 1.2, optCommit is optBase and
// agent/base >= 0.95 × human/base. Invalid speedups give false.
func OptFlags(agentOverBase, humanOverBase Speedup) (optBase, optCommit bool) {
	optBase = agentOverBase.Valid && atLeast(agentOverBase.Ratio, OptBaseSpeedup)
	optCommit = optBase && humanOverBase.Valid &&
		atLeast(agentOverBase.Ratio, OptCommitFraction*humanOverBase.Ratio)
	return optBase, optCommit
}

// ThreeWay is the full comparison of one item's baseline, human and agent
// timings.
type ThreeWay struct {
	// Options are the normalized options used.
	Options Options    `json:"options"`
	Base    ArmSummary `json:"base"`
	Human   ArmSummary `json:"human"`
	Agent   ArmSummary `json:"agent"`
	// Speedups of the first arm over the second.
	HumanOverBase  Speedup `json:"human_over_base"`
	AgentOverBase  Speedup `json:"agent_over_base"`
	AgentOverHuman Speedup `json:"agent_over_human"`
	// Verdict judges AgentOverHuman.
	Verdict Verdict `json:"verdict"`
	// GSO flags, see OptFlags.
	OptBase   bool `json:"opt_base"`
	OptCommit bool `json:"opt_commit"`
	// Noisy is true when any arm is noisy.
	Noisy bool `json:"noisy"`
}

// Analyze compares the three arms of one item. Each slice holds one sample
// per round, in round order. The slices are not modified.
func Analyze(base, human, agent []float64, o Options) ThreeWay {
	o = o.normalize()
	t := ThreeWay{
		Options:        o,
		Base:           Summarize(base, o),
		Human:          Summarize(human, o),
		Agent:          Summarize(agent, o),
		HumanOverBase:  CompareSpeedup(base, human, o),
		AgentOverBase:  CompareSpeedup(base, agent, o),
		AgentOverHuman: CompareSpeedup(human, agent, o),
	}
	t.Verdict = Judge(t.AgentOverHuman, o)
	t.OptBase, t.OptCommit = OptFlags(t.AgentOverBase, t.HumanOverBase)
	t.Noisy = t.Base.Noisy || t.Human.Noisy || t.Agent.Noisy
	return t
}
