package compare

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// With calibration.json next to the plan, every row counts its items that
// are not stable and the matrix marks them; StableOnly computes the rows
// over the stable items only and names the others.
func TestCalibrationFlagsAndStableOnly(t *testing.T) {
	root := fixture(t)
	_, err := journal.UpdateCalibration(context.Background(), filepath.Join(root, journal.CalibrationFile), func(c *records.Calibration) error {
		for i, id := range fixtureItems {
			class := stats.ClassStable
			if i == 0 {
				class = stats.ClassNoSpeedup
			}
			// The fixture's eval.json files have empty hashes.
			journal.PutCalibrationItem(c, records.CalibrationItem{ItemID: id, Class: class})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	dirs, _, err := StateRunDirs(".")
	if err != nil {
		t.Fatal(err)
	}
	all, err := Load(dirs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	only, err := Load(dirs, Options{StableOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range all.Tasks[0].Rows {
		c := r.Calibration
		if c == nil || c.Unstable != 1 || c.Classes[fixtureItems[0]] != stats.ClassNoSpeedup || c.StableOnly {
			t.Fatalf("row %s: calibration %+v", r.RunID, c)
		}
		if c.Calibrated != r.Evaluated {
			t.Fatalf("row %s: %d calibrated, %d evaluated (an item without eval.json is not)", r.RunID, c.Calibrated, r.Evaluated)
		}
		s := only.Tasks[0].Rows[i]
		if s.Items != r.Items-1 || !s.Calibration.StableOnly || !slices.Equal(s.Calibration.LeftOut, fixtureItems[:1]) {
			t.Fatalf("stable-only row %s: %d items, %+v", s.RunID, s.Items, s.Calibration)
		}
	}
	if got := all.Tasks[0].Matrix.Items[0].Calibration; got != stats.ClassNoSpeedup {
		t.Fatalf("matrix item %s: calibration %q", fixtureItems[0], got)
	}
	if slices.ContainsFunc(only.Tasks[0].Matrix.Items, func(it MatrixItem) bool { return it.ID == fixtureItems[0] }) {
		t.Fatal("stable-only matrix keeps the left-out item")
	}
	all.View.Matrix = true
	var buf bytes.Buffer
	if err := WriteTable(&buf, all); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "1 of ") || !strings.Contains(buf.String(), fixtureItems[0]+" (no_speedup)") {
		t.Fatalf("table without the calibration notes:\n%s", buf.String())
	}
}
