package report

import (
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// applyCalibration sets each evaluated item's calibration class from the
// calibration.json of the run's plan (`bench calibrate`), matched by the
// plan item's and the evaluation config's hashes: an entry for another
// version of the item or of the evaluation section does not count, and
// one analysed with another band or alpha is "stale".
func applyCalibration(r *Report, runDir string, run *records.Run) {
	cal, err := journal.RunCalibration(runDir, run)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return
	}
	if cal == nil {
		return
	}
	for i := range r.Items {
		ev := r.Items[i].Eval
		if ev == nil {
			continue
		}
		if c, _ := cal.ClassFor(r.Items[i].ID, ev.planItemHash, ev.configHash, ev.band, ev.alpha); c != "" {
			ev.Calibration = string(c)
		}
	}
}

// calibrationFlag is the flag of an item calibrated as anything but
// stable: its human speedup cannot be measured reproducibly, so its
// verdict says little. First among the flags: the table cuts the end.
func calibrationFlag(ev *ItemEval) []string {
	if ev.Calibration == "" || ev.Calibration == string(stats.ClassStable) {
		return nil
	}
	return []string{"calibration: " + ev.Calibration}
}
