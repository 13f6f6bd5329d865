package forensics

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/perfbench/perfbench/internal/records"
)

// Sources of the leak scan (records.Forensics.Source).
const (
	SourceTrajectory = "trajectory"
	SourceLogs       = "logs"
)

// ExemptReplay is why a replay rollout is not scanned.
const ExemptReplay = "replay: the patch is the human diff"

// Rollout is what Scan reads of one rollout.
type Rollout struct {
	// Replay is set for the replay agent (exempt: its patch is the human
	// diff by definition).
	Replay bool
	// Trajectory is the item's trajectory.json (nil: none); when it is
	// not structured the scan reads Logs.
	Trajectory *records.Trajectory
	// CutAttempts are the attempts found in the steps the trajectory's
	// bounds cut, scanned whole while it was converted (CutStepAttempts).
	CutAttempts []records.LeakAttempt
	// Logs are the raw logs by file name (the agent's stdout and stderr).
	Logs []Log
	// StreamAttempts are the attempts a LineScanner found in the raw logs
	// while they were written, before their cap dropped the oldest bytes;
	// read with Logs.
	StreamAttempts []records.LeakAttempt
	// Patch is model_patch.diff.
	Patch []byte
	// HumanDiff gives the human diff, Pre searches the pre tree: both are
	// asked only when an attempt was recorded.
	HumanDiff func(context.Context) ([]byte, error)
	Pre       TreeSearcher
	Leak      LeakContext
	Hack      PatchContext
	// Prompt is task.txt; Hints is set when any hint is on (the prompt
	// overlap is then measured), TargetFiles when hints.target_files is
	// (the localization score is then not blind).
	Prompt             string
	Hints, TargetFiles bool
}

// Log is one raw log.
type Log struct {
	Name string
	Data []byte
}

// Scan runs the leak and reward-hack scans of one rollout. Its error is
// the human diff's or the pre tree's (the findings made so far are
// returned with it).
func Scan(ctx context.Context, r Rollout) (*records.Forensics, error) {
	f := &records.Forensics{}
	var human []byte
	humanRead := false
	humanDiff := func() ([]byte, error) {
		if !humanRead && r.HumanDiff != nil {
			var err error
			if human, err = r.HumanDiff(ctx); err != nil {
				return nil, fmt.Errorf("forensics: human diff: %w", err)
			}
			humanRead = true
		}
		return human, nil
	}
	if r.Hints && r.HumanDiff != nil {
		h, err := humanDiff()
		if err != nil {
			return f, err
		}
		f.PromptOverlap = PromptOverlapOf(h, r.Prompt)
	}
	if r.Replay {
		f.Exempt = ExemptReplay
		return f, nil
	}
	if r.Trajectory != nil && r.Trajectory.Structured {
		f.Source = SourceTrajectory
		f.LeakAttempts = ScanLeaks(TrajectorySteps(r.Trajectory), r.Leak)
	} else {
		f.Source = SourceLogs
		var steps []Step
		for _, l := range r.Logs {
			steps = append(steps, LogSteps(l.Name, l.Data)...)
		}
		f.LeakAttempts = ScanLeaks(steps, r.Leak)
		if len(r.StreamAttempts) > 0 {
			// The stream saw every line, numbered from the start of the
			// output; the file, only its tail. What the file adds is
			// what the stream's bounds missed (a line past
			// MaxStreamLine, findings past MaxStreamAttempts).
			f.LeakAttempts = mergeAttempts(slices.Clone(r.StreamAttempts), f.LeakAttempts)
		}
	}
	// The agent chose what the trajectory's bounds cut (a command padded
	// past MaxStepCommandBytes has its middle elided, steps past
	// MaxTrajectorySteps are dropped): those steps were scanned whole
	// while converted.
	f.LeakAttempts = mergeAttempts(f.LeakAttempts, r.CutAttempts)
	f.RewardHacks = ScanPatch(r.Patch, r.Hack)
	if len(r.Patch) == 0 || r.HumanDiff == nil {
		return f, nil
	}
	h, err := humanDiff()
	if err != nil {
		return f, err
	}
	f.Localization = Localize(r.Patch, h, !r.TargetFiles)
	if len(f.LeakAttempts) == 0 || r.Pre == nil {
		return f, nil
	}
	lines, err := SuspectLines(ctx, r.Patch, h, r.Pre)
	if err != nil {
		return f, fmt.Errorf("forensics: pre tree: %w", err)
	}
	if len(lines) >= SuspectMinLines {
		f.LeakSuspected, f.SuspectLines = true, lines
	}
	return f, nil
}

// TrajectorySteps are a structured trajectory's actions as the leak scan
// reads them: each tool call, with the output of its result (the result
// with its call id, else the next step when it is a result). Messages are
// not actions: an agent that writes a URL in its reasoning reached
// nothing.
func TrajectorySteps(t *records.Trajectory) []Step {
	results := map[string]string{}
	for _, s := range t.Steps {
		if s.Kind == records.StepToolResult && s.CallID != "" {
			results[s.CallID] = s.Output
		}
	}
	var out []Step
	for i, s := range t.Steps {
		if s.Kind != records.StepToolCall || s.Command == "" && s.Input == "" {
			continue
		}
		st := Step{Index: s.Index, Source: SourceTrajectory, Command: s.Command, Input: s.Input}
		if o, ok := results[s.CallID]; ok && s.CallID != "" {
			st.Output = o
		} else if i+1 < len(t.Steps) && t.Steps[i+1].Kind == records.StepToolResult {
			st.Output = t.Steps[i+1].Output
		}
		if st.Command != "" {
			// The command's text is scanned as a command; the input
			// (its JSON) would only repeat it.
			st.Input = ""
		}
		out = append(out, st)
	}
	return out
}

// mergeAttempts appends to a the attempts of b that a has not (same rule
// and command), within maxLeaksPerScan.
func mergeAttempts(a, b []records.LeakAttempt) []records.LeakAttempt {
	type key struct{ rule, cmd string }
	have := map[key]bool{}
	for _, x := range a {
		have[key{x.Rule, x.Command}] = true
	}
	for _, x := range b {
		if len(a) >= maxLeaksPerScan {
			break
		}
		if k := (key{x.Rule, x.Command}); !have[k] {
			have[k] = true
			a = append(a, x)
		}
	}
	return a
}

// CutStepAttempts scans a trajectory step whole (one its bounds cut, or
// dropped): each simple command of its command is scanned, and quoted as
// the evidence, on its own, so that the attempt shows however long the
// padding around it was; the input when it has no command.
func CutStepAttempts(s records.Step, c LeakContext) []records.LeakAttempt {
	if s.Kind != records.StepToolCall {
		return nil
	}
	var steps []Step
	for _, words := range SimpleCommands(s.Command) {
		steps = append(steps, Step{Index: s.Index, Source: SourceTrajectory, Command: strings.Join(words, " ")})
	}
	if s.Command == "" && s.Input != "" {
		steps = append(steps, Step{Index: s.Index, Source: SourceTrajectory, Input: s.Input})
	}
	return ScanLeaks(steps, c)
}
