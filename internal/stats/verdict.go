package stats

import "fmt"

// Outcome is the verdict of agent versus human.
type Outcome string

// Outcomes of [Judge].
const (
	Win   Outcome = "win"
	Match Outcome = "match"
	Loss  Outcome = "loss"
)

// Verdict is the classification of an agent-over-human speedup.
type Verdict struct {
	// Outcome is win, match or loss.
	Outcome Outcome `json:"outcome"`
	// Significant is the Mann–Whitney result (p <= alpha), reported for
	// every outcome.
	Significant bool `json:"significant"`
	// Reason is one line explaining the outcome.
	Reason string `json:"reason"`
}

// VerdictText is "win", "loss", "match (significant)" or "match (n.s.)":
// how the evaluation summary and the reports print a verdict.
func VerdictText(o Outcome, significant bool) string {
	if o != Match {
		return string(o)
	}
	if significant {
		return "match (significant)"
	}
	return "match (n.s.)"
}

// Judge classifies agentOverHuman (the speedup of the agent over the human
// arm): win when significant and Ratio > 1+Band, loss when significant and
// Ratio < 1/(1+Band), match otherwise (including when Ratio is not Valid).
// Significance is agentOverHuman.Significant, as computed by
// [CompareSpeedup] with its Options.Alpha; o supplies the band.
func Judge(agentOverHuman Speedup, o Options) Verdict {
	o = o.normalize()
	s := agentOverHuman
	v := Verdict{Outcome: Match, Significant: s.Significant}
	hiBand, loBand := 1+o.Band, 1/(1+o.Band)
	switch {
	case !s.Valid:
		v.Reason = "speedup not computable"
	case !s.Significant:
		v.Reason = fmt.Sprintf("not significant (p=%.4g)", s.P)
	case s.Ratio > hiBand:
		v.Outcome = Win
		v.Reason = fmt.Sprintf("significant (p=%.4g) and speedup %.4g > %.4g", s.P, s.Ratio, hiBand)
	case s.Ratio < loBand:
		v.Outcome = Loss
		v.Reason = fmt.Sprintf("significant (p=%.4g) and speedup %.4g < %.4g", s.P, s.Ratio, loBand)
	default:
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
