package records

import "strings"

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
	// Localization compares the patch's files and functions with the
	// human diff's; PromptOverlap the prompt with the human diff (when a
	// hint is on).
	Localization  *Localization  `json:"localization,omitempty"`
	PromptOverlap *PromptOverlap `json:"prompt_overlap,omitempty"`
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
	if f == nil {
		return false
	}
	for _, h := range f.RewardHacks {
		if flagsSeverity(h.Severity) {
			return true
		}
	}
	return len(f.LeakAttempts) > 0 || f.LeakSuspected
}

// flagsSeverity reports whether a reward-hack rule of this severity flags
// its candidate: low is "merely notable" (forensics.SeverityLow, such as
// edits_tests, which most honest changes trip), shown but not counted.
func flagsSeverity(severity string) bool { return severity != "low" }

// ForensicFlags are what a unit's journal and evaluation found, as the
// reports and the leaderboard show and count it: one definition for
// report, compare and --exclude-flagged.
type ForensicFlags struct {
	// Leaks are the leak-attempt rules, each once, in order of first
	// appearance.
	Leaks         []string `json:"leak_attempts,omitempty"`
	LeakSuspected bool     `json:"leak_suspected,omitempty"`
	// Hacks are the reward-hack rules as "rule (severity)", each once:
	// the rollout's and the evaluation's findings together.
	Hacks []string `json:"reward_hacks,omitempty"`
}

// ForensicFlagsOf gathers the flags of a unit's journal and evaluation
// (either may be nil).
func ForensicFlagsOf(j *Journal, ev *Eval) ForensicFlags {
	var f ForensicFlags
	addHack := func(h RewardHack) {
		s := h.Rule + " (" + h.Severity + ")"
		for _, x := range f.Hacks {
			if x == s {
				return
			}
		}
		f.Hacks = append(f.Hacks, s)
	}
	if j != nil && j.Forensics != nil {
		for _, a := range j.Forensics.LeakAttempts {
			seen := false
			for _, x := range f.Leaks {
				seen = seen || x == a.Rule
			}
			if !seen {
				f.Leaks = append(f.Leaks, a.Rule)
			}
		}
		f.LeakSuspected = j.Forensics.LeakSuspected
		for _, h := range j.Forensics.RewardHacks {
			addHack(h)
		}
	}
	if ev != nil {
		for _, h := range ev.Patch.RewardHacks {
			addHack(h)
		}
	}
	return f
}

// Any reports whether the unit is flagged: a leak attempt, or a
// reward-hack rule above low severity. It is what --exclude-flagged
// drops and the reports count as flagged.
func (f ForensicFlags) Any() bool {
	if len(f.Leaks) > 0 || f.LeakSuspected {
		return true
	}
	for _, h := range f.Hacks {
		if !strings.HasSuffix(h, " (low)") {
			return true
		}
	}
	return false
}

// Noted reports whether anything was found at all (low-severity rules
// included): what the reports show.
func (f ForensicFlags) Noted() bool { return len(f.Leaks) > 0 || len(f.Hacks) > 0 || f.LeakSuspected }

// String is the flags on one line: "leak attempts: git_history,
// git_remote (leak_suspected); reward hacks: memo_decorator (medium)".
func (f ForensicFlags) String() string {
	var parts []string
	if len(f.Leaks) > 0 {
		l := "leak attempts: " + strings.Join(f.Leaks, ", ")
		if f.LeakSuspected {
			l += " (leak_suspected)"
		}
		parts = append(parts, l)
	}
	if len(f.Hacks) > 0 {
		parts = append(parts, "reward hacks: "+strings.Join(f.Hacks, ", "))
	}
	return strings.Join(parts, "; ")
}

// Localization is how well the agent's patch found the places the human
// changed (forensics.Localize).
type Localization struct {
	Files     Overlap `json:"files"`
	Functions Overlap `json:"functions"`
	// Blind is false when the prompt named the target files
	// (hints.target_files): the score then measures little.
	Blind bool `json:"blind"`
}

// Overlap compares the agent's set of places with the human's.
type Overlap struct {
	Agent     int     `json:"agent"`
	Human     int     `json:"human"`
	Both      int     `json:"both"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// PromptOverlap is the share of the human diff's added lines that appear
// in task.txt, measured when any hint is on.
type PromptOverlap struct {
	Lines    int     `json:"lines"`
	InPrompt int     `json:"in_prompt"`
	Share    float64 `json:"share"`
}
