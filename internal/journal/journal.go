// Package journal owns the files of a run under state/runs/<run_id>/:
// where the run manifest (run.json), each item's journal.json,
// diff_targets.json, eval.json and trajectory.json, and predictions.jsonl
// are, and how they are read and written; the per-process spend ledgers,
// the claims and
// locks that keep two processes off one item, the run-id format, and the
// rules that decide which items a resumed run still has to do. What the
// files say is package records'. Every document carries schema_version
// and is written atomically. Like records, it is a leaf of the import
// graph: the stages that write the files and the reports that read them
// import it, and it imports no stage.
package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
)

// File names inside an item directory.
const (
	RunFile         = "run.json"
	JournalFile     = "journal.json"
	TaskFile        = "task.txt"
	PromptFile      = "prompt.json"
	PatchFile       = "model_patch.diff"
	TargetsFile     = "diff_targets.json"
	PredictionsFile = "predictions.jsonl"
	OutDirName      = "out"
	EvalFile        = "eval.json"
)

// RunsDir is state_root/runs.
func RunsDir(stateRoot string) string { return filepath.Join(stateRoot, "runs") }

// ItemDirName is the directory of one sample of an item: "<item>" when the
// run has one sample, "<item>.s<k>" when it has several.
func ItemDirName(itemID string, sample, samples int) string {
	if samples <= 1 {
		return itemID
	}
	return fmt.Sprintf("%s.s%d", itemID, sample)
}

// NewRunID formats "<task>__<agent>__<model>__<YYYYMMDDTHHMMSSZ>", each part
// reduced to [a-z0-9._-].
func NewRunID(task, agent, model string, t time.Time) string {
	if model == "" {
		model = "none"
	}
	return strings.Join([]string{Sanitize(task), Sanitize(agent), Sanitize(model), t.UTC().Format("20060102T150405Z")}, "__")
}

// FreeRunID is id, or id-2, id-3, ... when a run of that id exists
// under root (call it under LockRuns).
func FreeRunID(root, id string) string {
	free := id
	for n := 2; fsx.Exists(filepath.Join(RunsDir(root), free)); n++ {
		free = fmt.Sprintf("%s-%d", id, n)
	}
	return free
}

// Sanitize lower-cases s and replaces every character outside [a-z0-9._-]
// with '-' ("anthropic/claude-x" → "anthropic-claude-x").
func Sanitize(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), ".")
	if out == "" {
		out = "x"
	}
	// "__" separates the parts of a run id; keep it unambiguous.
	for strings.Contains(out, "__") {
		out = strings.ReplaceAll(out, "__", "_")
	}
	return out
}

// ValidRunID reports whether id is one safe path component: the parts are
// [a-z0-9._-] and the timestamp's T and Z are upper case, as docs/design.md's "Contracts"
// format shows, so upper-case letters are accepted too.
func ValidRunID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 255 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// ReadRun loads run.json from a run directory.
func ReadRun(runDir string) (*records.Run, error) {
	var r records.Run
	if err := fsx.ReadJSON(filepath.Join(runDir, RunFile), &r); err != nil {
		return nil, fmt.Errorf("run %s: %w", runDir, err)
	}
	if r.SchemaVersion != records.SchemaVersion {
		return nil, fmt.Errorf("run %s: schema_version %d, expected %d", runDir, r.SchemaVersion, records.SchemaVersion)
	}
	return &r, nil
}

// WriteRun stores run.json atomically.
func WriteRun(runDir string, r *records.Run) error {
	r.SchemaVersion = records.SchemaVersion
	return fsx.WriteJSON(filepath.Join(runDir, RunFile), r)
}

// ReadJournal loads an item's journal.json.
func ReadJournal(itemDir string) (*records.Journal, error) {
	var j records.Journal
	if err := fsx.ReadJSON(filepath.Join(itemDir, JournalFile), &j); err != nil {
		return nil, err
	}
	if j.SchemaVersion != records.SchemaVersion {
		return nil, fmt.Errorf("journal %s: schema_version %d, expected %d", itemDir, j.SchemaVersion, records.SchemaVersion)
	}
	return &j, nil
}

// WriteJournal stores journal.json atomically.
func WriteJournal(itemDir string, j *records.Journal) error {
	j.SchemaVersion = records.SchemaVersion
	return fsx.WriteJSON(filepath.Join(itemDir, JournalFile), j)
}

// Done reports whether the item directory holds a final result produced for
// an item with this plan hash.
func Done(itemDir, itemHash string) bool {
	j, err := ReadJournal(itemDir)
	if err != nil {
		return false
	}
	return j.PlanItemHash == itemHash && j.Status.Final()
}

// RunKey is what a run must match to be resumed.
type RunKey struct {
	TaskID, AgentName, Model, PlanHash, AgentConfigHash string
	// WorkspaceSetupHash is records.WorkspaceSetup.Hash of the setup the
	// rollouts run, "" for none.
	WorkspaceSetupHash string
	Samples            int
}

// Matches reports whether r has this key.
func (k RunKey) Matches(r *records.Run) bool {
	samples := r.Samples
	if samples == 0 {
		samples = 1
	}
	return r.Task.ID == k.TaskID && r.Agent.Name == k.AgentName && r.Agent.Model == k.Model &&
		r.PlanHash == k.PlanHash && r.Agent.ConfigHash == k.AgentConfigHash && samples == k.Samples &&
		r.WorkspaceSetup.Hash() == k.WorkspaceSetupHash
}

// ListRuns returns the run directories under state_root/runs that hold a
// readable run.json, newest first. Unreadable ones are returned in bad.
func ListRuns(stateRoot string) (runs []*records.Run, bad []error, err error) {
	dir := RunsDir(stateRoot)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("list runs: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := ReadRun(filepath.Join(dir, e.Name()))
		if err != nil {
			bad = append(bad, err)
			continue
		}
		runs = append(runs, r)
	}
	sortRunsNewestFirst(runs)
	return runs, bad, nil
}

func sortRunsNewestFirst(runs []*records.Run) {
	for i := 1; i < len(runs); i++ {
		for j := i; j > 0 && newer(runs[j], runs[j-1]); j-- {
			runs[j], runs[j-1] = runs[j-1], runs[j]
		}
	}
}

func newer(a, b *records.Run) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.RunID > b.RunID
}

// FindResumable returns the newest run matching key, or nil.
func FindResumable(stateRoot string, key RunKey) (*records.Run, error) {
	runs, _, err := ListRuns(stateRoot)
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		if key.Matches(r) {
			return r, nil
		}
	}
	return nil, nil
}

// TrajectoryFile is an item's trajectory.json (records.Trajectory).
const TrajectoryFile = "trajectory.json"

// ReadTrajectory loads an item's trajectory.json. No trajectory (an item
// of a run that predates them, or whose adapter wrote none) is an error
// for which os.IsNotExist holds.
func ReadTrajectory(itemDir string) (*records.Trajectory, error) {
	var t records.Trajectory
	path := filepath.Join(itemDir, TrajectoryFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("%s: %s", path, jsonErrorAt(data, err))
	}
	if t.SchemaVersion != records.TrajectorySchemaVersion {
		return nil, fmt.Errorf("%s: schema_version %d, expected %d", path, t.SchemaVersion, records.TrajectorySchemaVersion)
	}
	return &t, nil
}

// WriteTrajectory stores an item's trajectory.json atomically.
func WriteTrajectory(itemDir string, t *records.Trajectory) error {
	t.SchemaVersion = records.TrajectorySchemaVersion
	if t.Steps == nil {
		t.Steps = []records.Step{}
	}
	return fsx.WriteJSON(filepath.Join(itemDir, TrajectoryFile), t)
}

// jsonErrorAt says where in data a decoding error is: the line and
// column of a syntax error, the field of a value of the wrong type.
func jsonErrorAt(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := lineCol(data, se.Offset)
		return fmt.Sprintf("line %d, column %d: %v", line, col, se)
	case errors.As(err, &te):
		line, col := lineCol(data, te.Offset)
		return fmt.Sprintf("line %d, column %d: field %s: %s, expected %s", line, col, te.Field, te.Value, te.Type)
	}
	return err.Error()
}

func lineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, max(col, 1)
}
