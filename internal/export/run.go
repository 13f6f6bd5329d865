package export

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
)

// ATIFDirName is the default output directory inside the run directory.
const ATIFDirName = "atif"

// Summary counts what ExportATIF did.
type Summary struct {
	Written, Skipped int
}

// ExportATIF writes the ATIF document of every item of the run in runDir
// (each sample's, in plan order) to outDir/<item dir>.json, and one line
// per item to log: the file written, or why the item has none (no
// trajectory.json, in a run not done or done before trajectories were
// recorded; a trajectory without steps). A trajectory.json that cannot
// be read is bad input, and then nothing is written: every item is
// converted once before the first document is written (and again while
// writing, so that only one document is in memory at a time), each
// atomically.
func ExportATIF(ctx context.Context, runDir, outDir string, log io.Writer) (Summary, error) {
	var sum Summary
	run, err := journal.ReadRun(runDir)
	if err != nil {
		return sum, badinput.Wrap(fmt.Errorf("export atif: %w", err))
	}
	samples := max(run.Samples, 1)
	var dirs []string
	for _, id := range run.Items {
		for k := range samples {
			dirs = append(dirs, journal.ItemDirName(id, k, samples))
		}
	}
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		if _, _, err := convertItem(runDir, run.RunID, dir); err != nil {
			return sum, err
		}
	}
	made := false
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		data, skip, err := convertItem(runDir, run.RunID, dir)
		if err != nil {
			return sum, err
		}
		if skip != "" {
			fmt.Fprintf(log, "skipped %s: %s\n", dir, skip)
			sum.Skipped++
			continue
		}
		if !made {
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return sum, fmt.Errorf("export atif: %w", err)
			}
			made = true
		}
		path := filepath.Join(outDir, dir+".json")
		if err := fsx.WriteFile(path, data, 0o644); err != nil {
			return sum, fmt.Errorf("export atif: %w", err)
		}
		fmt.Fprintf(log, "wrote %s\n", path)
		sum.Written++
	}
	return sum, nil
}

// convertItem is the ATIF document of one item directory, or why it has
// none.
func convertItem(runDir, runID, dir string) (data []byte, skip string, err error) {
	t, err := journal.ReadTrajectory(filepath.Join(runDir, dir))
	if os.IsNotExist(err) {
		return nil, "no " + journal.TrajectoryFile + " (not run yet, or run before trajectories were recorded)", nil
	}
	if err != nil {
		return nil, "", badinput.Wrap(fmt.Errorf("export atif: %w", err))
	}
	a := ToATIF(t, Item{RunID: runID, Dir: dir})
	if a == nil {
		return nil, fmt.Sprintf("the trajectory has no steps (structured: %v)", t.Structured), nil
	}
	data, err = json.MarshalIndent(a, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("export atif: %s: %w", dir, err)
	}
	return append(data, '\n'), "", nil
}
