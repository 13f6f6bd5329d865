package records

// Forensics is what the harness found in a rollout's trajectory and patch
// (package forensics): attempts to reach the answer and reward-hack
// heuristics. Findings never change a status by themselves; a task's
// evaluation.reject_flags turns chosen reward-hack rules into
// correctness_failed at evaluation.
type Forensics struct {
	// Source is where the leak scan read the agent's actions: trajectory
	// (a structured trajectory.json) or logs (the raw stdout/stderr logs).
	Source       string        `json:"source,omitempty"`
	LeakAttempts []LeakAttempt `json:"leak_attempts,omitempty"`
	// LeakSuspected: an attempt was recorded and the patch has at least
	// forensics.SuspectLines long added lines of the human diff that
	// appear nowhere in the pre tree (SuspectLines holds them, capped).
	LeakSuspected bool     `json:"leak_suspected,omitempty"`
	SuspectLines  []string `json:"suspect_lines,omitempty"`
	// Exempt says why the scans were not made (replay: its patch is the
	// human diff).
	Exempt      string       `json:"exempt,omitempty"`
	RewardHacks []RewardHack `json:"reward_hacks,omitempty"`
}

// LeakAttempt is one action of the agent that tried to reach the answer:
// its rule, why the rule exists, and the evidence.
type LeakAttempt struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	// Step is the trajectory step's index, or the 1-based line of the log
	// named by Source.
	Step    int    `json:"step"`
	Source  string `json:"source,omitempty"`
	Command string `json:"command"`
	Excerpt string `json:"excerpt,omitempty"`
}

// RewardHack is one reward-hack heuristic that matched the patch, with
// the hunk as evidence.
type RewardHack struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Reason   string `json:"reason"`
	File     string `json:"file"`
	// Hunk is the hunk's header line, Excerpt the matching lines with
	// their neighbours (capped).
	Hunk    string `json:"hunk,omitempty"`
	Excerpt string `json:"excerpt,omitempty"`
}

// Flagged reports whether the forensics found anything a leaderboard
// excludes with --exclude-flagged: a leak attempt or a reward hack.
func (f *Forensics) Flagged() bool {
	return f != nil && (len(f.LeakAttempts) > 0 || len(f.RewardHacks) > 0)
}
