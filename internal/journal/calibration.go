package journal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
)

// CalibrationFile is the name of `bench calibrate`'s result, next to the
// plan it calibrates.
const CalibrationFile = "calibration.json"

// CalibrationPath is the calibration.json next to plan file planPath.
func CalibrationPath(planPath string) string {
	return filepath.Join(filepath.Dir(planPath), CalibrationFile)
}

// ReadCalibration reads a calibration.json; a missing file is an error
// satisfying errors.Is(err, fs.ErrNotExist).
func ReadCalibration(path string) (*records.Calibration, error) {
	var c records.Calibration
	if err := fsx.ReadJSON(path, &c); err != nil {
		return nil, err
	}
	if c.SchemaVersion != records.CalibrationSchemaVersion {
		return nil, fmt.Errorf("%s: schema_version %d, expected %d", path, c.SchemaVersion, records.CalibrationSchemaVersion)
	}
	return &c, nil
}

// UpdateCalibration changes calibration.json at path under its lock
// (path + ".lock"): it reads the file (an empty calibration when there is
// none), lets change modify it, and writes it back atomically, the items
// sorted by ID. Two processes updating different items (shards) each keep
// the other's: the read happens under the lock.
func UpdateCalibration(ctx context.Context, path string, change func(*records.Calibration) error) (*records.Calibration, error) {
	l, err := fsx.WaitLock(ctx, path+".lock")
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	c, err := ReadCalibration(path)
	if errors.Is(err, fs.ErrNotExist) {
		c, err = &records.Calibration{}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := change(c); err != nil {
		return nil, err
	}
	c.SchemaVersion = records.CalibrationSchemaVersion
	slices.SortFunc(c.Items, func(a, b records.CalibrationItem) int { return strings.Compare(a.ItemID, b.ItemID) })
	if err := fsx.WriteJSON(path, c); err != nil {
		return nil, err
	}
	return c, nil
}

// PutCalibrationItem replaces the entry of it.ItemID in c (whatever its
// hashes: an item has one calibration) or adds it.
func PutCalibrationItem(c *records.Calibration, it records.CalibrationItem) {
	for i := range c.Items {
		if c.Items[i].ItemID == it.ItemID {
			c.Items[i] = it
			return
		}
	}
	c.Items = append(c.Items, it)
}

// RunCalibration is the calibration.json of a run's plan when there is
// one: next to run.json's plan_path, else in the state root (next to the
// default state/plan.json). nil and no error when there is none; a file
// that cannot be read is an error naming it.
func RunCalibration(runDir string, run *records.Run) (*records.Calibration, error) {
	var paths []string
	if run != nil && run.PlanPath != "" && filepath.IsAbs(run.PlanPath) {
		paths = append(paths, CalibrationPath(run.PlanPath))
	}
	paths = append(paths, filepath.Join(filepath.Dir(filepath.Dir(filepath.Clean(runDir))), CalibrationFile))
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		return ReadCalibration(p)
	}
	return nil, nil
}
