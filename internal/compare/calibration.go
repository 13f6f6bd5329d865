package compare

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// RowCalibration is what calibration.json (`bench calibrate`) says of a
// run's items: an item counts as calibrated when the file has an entry
// for its plan item's and evaluation config's hashes (those of its
// eval.json).
type RowCalibration struct {
	// Calibrated items of the run's plan, and Unstable those of them that
	// are not stable (unstable, no_speedup or broken).
	Calibrated int `json:"calibrated_items"`
	Unstable   int `json:"unstable_items"`
	// Stale items have an entry analysed with another band or alpha than
	// their evaluation's (records.CalibrationStale): not counted as
	// calibrated, kept by StableOnly, until calibrate re-analyses them.
	Stale int `json:"stale_items,omitempty"`
	// Classes are the calibrated items' classes, by item id.
	Classes map[string]stats.Class `json:"classes,omitempty"`
	// StableOnly: the row's aggregates are over the stable items only
	// (compare --stable-only); LeftOut are the items left out.
	StableOnly bool     `json:"stable_only,omitempty"`
	LeftOut    []string `json:"left_out,omitempty"`
}

// loadCalibration reads the calibration of a run's items; nil when the
// run's plan has no calibration.json. With stableOnly, the run returned
// keeps only its stable items (the aggregates are computed over them);
// otherwise it is run itself.
func loadCalibration(dir string, run *records.Run, stableOnly bool) (*RowCalibration, *records.Run, []string) {
	cal, err := journal.RunCalibration(dir, run)
	if err != nil {
		return nil, run, []string{err.Error()}
	}
	if cal == nil {
		return nil, run, nil
	}
	rc := &RowCalibration{Classes: map[string]stats.Class{}, StableOnly: stableOnly}
	k := max(run.Samples, 1)
	var stable []string
	for _, id := range run.Items {
		ev, err := journal.ReadSampleEval(filepath.Join(dir, journal.ItemDirName(id, 0, k)))
		var class stats.Class
		if err == nil {
			class, _ = cal.ClassFor(id, ev.PlanItemHash, ev.ConfigHash, ev.Config.Band, ev.Config.Alpha)
		}
		if class == "" || class == records.CalibrationStale {
			// Not evaluated, or evaluated with another item or evaluation
			// section than the one calibrated: unknown, kept. Stale (the
			// class of another band or alpha): unknown too, but named.
			if class != "" {
				rc.Stale++
				rc.Classes[id] = class
			}
			stable = append(stable, id)
			continue
		}
		rc.Calibrated++
		rc.Classes[id] = class
		if class == stats.ClassStable {
			stable = append(stable, id)
			continue
		}
		rc.Unstable++
		rc.LeftOut = append(rc.LeftOut, id)
	}
	if !stableOnly {
		rc.LeftOut = nil
		return rc, run, nil
	}
	filtered := *run
	filtered.Items = stable
	return rc, &filtered, nil
}

// calibrationLines are the table's notes of a task's rows: how many
// calibrated items are not stable, or which were left out.
func writeCalibrationLines(w io.Writer, t Task) {
	for _, r := range t.Rows {
		c := r.Calibration
		if c != nil && c.Stale > 0 {
			fmt.Fprintf(w, "%s: %d item(s) calibrated with another band or alpha than evaluated: stale, counted as not calibrated (run bench calibrate again: it re-analyses the stored samples, timing nothing)\n", r.RunID, c.Stale)
		}
		if c == nil || c.Calibrated == 0 {
			continue
		}
		if c.StableOnly {
			fmt.Fprintf(w, "%s: stable only: %d of %d item(s) (left out, not calibrated stable: %d)\n", r.RunID, r.Items, r.Items+len(c.LeftOut), len(c.LeftOut))
			continue
		}
		if c.Unstable > 0 {
			fmt.Fprintf(w, "%s: %d of %d calibrated item(s) not stable (bench calibrate); --stable-only ranks over the others\n", r.RunID, c.Unstable, c.Calibrated)
		}
	}
}

// calibrationMark is a matrix item's mark: its class when not stable,
// and excluded_flagged when --exclude-flagged left it out.
func calibrationMark(it MatrixItem) string {
	s := it.ID
	if it.Calibration != "" && it.Calibration != stats.ClassStable {
		s = fmt.Sprintf("%s (%s)", it.ID, it.Calibration)
	}
	if it.ExcludedFlagged {
		s += " (" + ExcludedFlaggedMark + ")"
	}
	return s
}

// matrixCalibration is an item's class in the first row that has one.
func matrixCalibration(rows []Row, id string) stats.Class {
	for _, r := range rows {
		if r.Calibration != nil {
			if c, ok := r.Calibration.Classes[id]; ok {
				return c
			}
		}
	}
	return ""
}
