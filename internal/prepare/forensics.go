package prepare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/perfbench/perfbench/internal/forensics"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/gitx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
)

// maxScannedLog bounds what of one log the leak scan reads.
const maxScannedLog = 64 << 20

// scanForensics records the forensic scans of the rollout just captured
// (package forensics) in the journal. A failure of the scan is a warning:
// the findings are evidence for the reader, never the status.
func (it *itemRun) scanForensics(ctx context.Context, a *attempt) {
	o := it.opts
	r := forensics.Rollout{
		Replay: o.Agent.Type == "replay",
		Patch:  readBounded(filepath.Join(it.u.dir, journal.PatchFile)),
		Leak:   it.leakContext(),
		Hack:   patchContext(o.Task.Evaluation.Workload, o.Task.Workload, it.u.item, o.Task.Evaluation.Setup, o.Task.Evaluation.Correctness, o.Task.Evaluation.Files),
		HumanDiff: func(ctx context.Context) ([]byte, error) {
			return it.mirror.Diff(ctx, it.u.item.Pre, it.u.item.Human)
		},
		Pre:    preTree{g: &gitx.Git{Dir: it.mirror.Dir}, rev: it.u.item.Pre},
		Prompt: it.prompt,
		Hints:  it.j.Hints != (records.HintsShown{}), TargetFiles: it.j.Hints.TargetFiles,
	}
	if t, err := journal.ReadTrajectory(it.u.dir); err == nil {
		r.Trajectory = t
	}
	it.cutMu.Lock()
	r.CutAttempts = append([]records.LeakAttempt(nil), it.cutAttempts...)
	it.cutMu.Unlock()
	for _, lf := range []*records.LogFile{it.j.Logs.Stdout, it.j.Logs.Stderr} {
		if lf != nil {
			r.Logs = append(r.Logs, forensics.Log{Name: lf.File, Data: readBounded(filepath.Join(it.u.dir, filepath.Base(lf.File)))})
		}
	}
	for _, l := range []*logFile{a.stdout, a.stderr} {
		if l != nil && l.scan != nil {
			r.StreamAttempts = append(r.StreamAttempts, l.scan.Attempts()...)
		}
	}
	f, err := forensics.Scan(ctx, r)
	if err != nil {
		fmt.Fprintf(it.log, "warning: %s: %v\n", it.u.item.ID, err)
	}
	// The evidence quotes the agent's commands and output: scrubbed like
	// the logs.
	for i := range f.LeakAttempts {
		a := &f.LeakAttempts[i]
		a.Command, a.Excerpt = it.secrets.ScrubString(a.Command), it.secrets.ScrubString(a.Excerpt)
	}
	for i := range f.SuspectLines {
		f.SuspectLines[i] = it.secrets.ScrubString(f.SuspectLines[i])
	}
	for i := range f.RewardHacks {
		h := &f.RewardHacks[i]
		h.File, h.Hunk, h.Excerpt = it.secrets.ScrubString(h.File), it.secrets.ScrubString(h.Hunk), it.secrets.ScrubString(h.Excerpt)
	}
	it.j.Forensics = f
}

// leakContext is what the leak rules know of the task and the harness.
func (it *itemRun) leakContext() forensics.LeakContext {
	o := it.opts
	return forensics.LeakContext{RepoURL: o.Plan.RepoURL,
		HarnessPaths: []string{absPath(o.Bench.Paths.StateRoot), absPath(o.Bench.Paths.WorkRoot), it.mirror.Dir}}
}

// maxCutAttempts bounds the attempts kept from cut steps.
const maxCutAttempts = 200

// observeStep scans a trajectory step that the bounds cut (or dropped)
// whole, while the adapter converts it: trajectory.json keeps only its
// excerpt, where padding chosen by the agent could hide an attempt.
func (it *itemRun) observeStep(s records.Step) {
	found := forensics.CutStepAttempts(s, it.leakContext())
	if len(found) == 0 {
		return
	}
	it.cutMu.Lock()
	defer it.cutMu.Unlock()
	for _, a := range found {
		if len(it.cutAttempts) < maxCutAttempts {
			it.cutAttempts = append(it.cutAttempts, a)
		}
	}
}

// patchContext is what the reward-hack rules know of an item's
// evaluation: its workload (the item's override, the pair's, the task's),
// its commands and files.
func patchContext(evalWorkload, taskWorkload string, item plan.Item, setup, correctness, files []string) forensics.PatchContext {
	w := evalWorkload
	if e := item.Evaluation; e != nil {
		if e.Workload != "" {
			w = e.Workload
		}
		if len(e.Setup) > 0 {
			setup = e.Setup
		}
		if len(e.Correctness) > 0 {
			correctness = e.Correctness
		}
		if len(e.Files) > 0 {
			files = e.Files
		}
	}
	if w == "" {
		w = item.Workload
	}
	if w == "" {
		w = taskWorkload
	}
	return forensics.PatchContext{Workload: w, Commands: append(append([]string(nil), setup...), correctness...), EvalFiles: files}
}

// readBounded reads at most maxScannedLog bytes of a file the harness
// wrote in the item directory (nil when it is absent).
func readBounded(path string) []byte {
	f, err := fsx.OpenNoFollow(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, maxScannedLog))
	return b
}

// preTree searches the pre commit's tree in the mirror (git grep -F).
type preTree struct {
	g   *gitx.Git
	rev string
}

func (p preTree) ContainsFixed(ctx context.Context, s string) (bool, error) {
	_, err := p.g.Run(ctx, "grep", "-q", "-F", "-e", s, p.rev, "--")
	var ge *gitx.GitError
	if errors.As(err, &ge) && ge.ExitCode == 1 {
		return false, nil
	}
	return err == nil, err
}
