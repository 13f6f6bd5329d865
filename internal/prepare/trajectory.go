package prepare

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

// writeTrajectory writes the item's trajectory.json from the outcome:
// the adapter's conversion, or, when it gives none (a command agent),
// an unstructured trajectory holding an excerpt of the captured stdout,
// which tells the scans to read the raw logs. Secrets are scrubbed once
// more (the adapter scrubbed what went through Append; this covers what
// it set directly). Without an outcome (a harness failure) no
// trajectory of an earlier attempt is left behind.
func (it *itemRun) writeTrajectory(out *agent.Outcome, stdoutName string) error {
	path := filepath.Join(it.u.dir, journal.TrajectoryFile)
	if out == nil {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("trajectory: %w", err)
		}
		return nil
	}
	t := out.Trajectory
	if t == nil {
		t = &records.Trajectory{Structured: false, Source: stdoutName}
	}
	if !t.Structured && len(t.Steps) == 0 {
		// An adapter that could not read its agent's files says why
		// (Warnings); the stdout excerpt is what there is.
		t.SetScrub(it.secrets.ScrubString)
		t.Source = stdoutName
		if text, err := logExcerpt(filepath.Join(it.u.dir, stdoutName)); err != nil && !os.IsNotExist(err) {
			t.Warn("reading %s: %v", stdoutName, err)
		} else if text != "" {
			t.Append(records.Step{Kind: records.StepMessage, Role: records.RoleAgent, Text: text})
		}
	}
	t.Agent = it.j.Agent
	u := it.j.Usage
	t.Usage = &u
	t.Scrub(it.secrets.ScrubString)
	if err := journal.WriteTrajectory(it.u.dir, t); err != nil {
		return fmt.Errorf("trajectory: %w", err)
	}
	return nil
}

// logExcerpt is the head and the tail of a captured log, as much as a
// step's text holds: the log may be large, and only its ends are read.
func logExcerpt(path string) (string, error) {
	f, err := fsx.OpenNoFollow(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	// Room for the marker, and for a rune cut at either end becoming
	// U+FFFD, so that Excerpt need not cut the marker away.
	const slack = 128
	headN, tailN := int64(records.MaxStepTextBytes*2/3-slack), int64(records.MaxStepTextBytes/3-slack)
	if fi.Size() <= headN+tailN {
		b, err := io.ReadAll(io.LimitReader(f, headN+tailN))
		text, _ := records.Excerpt(string(b), records.MaxStepTextBytes)
		return text, err
	}
	head := make([]byte, headN)
	if _, err := io.ReadFull(f, head); err != nil {
		return "", err
	}
	tail := make([]byte, tailN)
	if _, err := f.ReadAt(tail, fi.Size()-tailN); err != nil && err != io.EOF {
		return "", err
	}
	text := string(head) + fmt.Sprintf("\n[... %d bytes of %s not read ...]\n", fi.Size()-headN-tailN, filepath.Base(path)) + string(tail)
	text, _ = records.Excerpt(text, records.MaxStepTextBytes)
	return text, nil
}
