package journal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// Shards updating the same calibration.json at once each keep the
// others' items: the read-modify-write happens under the lock.
func TestUpdateCalibrationShardsMerge(t *testing.T) {
	path := filepath.Join(t.TempDir(), journal.CalibrationFile)
	const shards, perShard = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, shards*perShard)
	for s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perShard {
				_, err := journal.UpdateCalibration(context.Background(), path, func(c *records.Calibration) error {
					journal.PutCalibrationItem(c, records.CalibrationItem{ItemID: fmt.Sprintf("t-%02d-%02d", s, i), PlanItemHash: "h", ConfigHash: "c", Class: stats.ClassStable})
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c, err := journal.ReadCalibration(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.SchemaVersion != records.CalibrationSchemaVersion || len(c.Items) != shards*perShard {
		t.Fatalf("schema %d, %d items, want %d", c.SchemaVersion, len(c.Items), shards*perShard)
	}
	for i := 1; i < len(c.Items); i++ {
		if c.Items[i-1].ItemID >= c.Items[i].ItemID {
			t.Fatalf("items not sorted: %s before %s", c.Items[i-1].ItemID, c.Items[i].ItemID)
		}
	}
}

// An entry counts only for the hashes it was calibrated with: a changed
// item or evaluation section is not calibrated, and putting the item
// again replaces its stale entry.
func TestCalibrationLookupInvalidation(t *testing.T) {
	c := &records.Calibration{}
	journal.PutCalibrationItem(c, records.CalibrationItem{ItemID: "a", PlanItemHash: "p1", ConfigHash: "c1", Class: stats.ClassStable})
	if it := c.Lookup("a", "p1", "c1"); it == nil || !it.Stable() {
		t.Fatalf("lookup p1/c1 = %+v", it)
	}
	if c.Lookup("a", "p1", "c2") != nil || c.Lookup("a", "p2", "c1") != nil {
		t.Fatal("a changed plan item or config hash still matches")
	}
	journal.PutCalibrationItem(c, records.CalibrationItem{ItemID: "a", PlanItemHash: "p1", ConfigHash: "c2", Class: stats.ClassNoSpeedup})
	if len(c.Items) != 1 || c.Lookup("a", "p1", "c1") != nil || c.Lookup("a", "p1", "c2").Class != stats.ClassNoSpeedup {
		t.Fatalf("put did not replace the stale entry: %+v", c.Items)
	}
	c.Items[0].Partial = true
	if c.Lookup("a", "p1", "c2") != nil {
		t.Fatal("a partial entry (an interrupted calibration) matched")
	}
	var nilCal *records.Calibration
	if nilCal.Lookup("a", "p1", "c1") != nil {
		t.Fatal("nil calibration matched")
	}
}

// A calibration.json of another schema is an error naming the file; the
// update leaves it as it was.
func TestUpdateCalibrationBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), journal.CalibrationFile)
	bad := []byte(`{"schema_version": 99, "items": []}`)
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := journal.UpdateCalibration(context.Background(), path, func(*records.Calibration) error { return nil })
	if err == nil {
		t.Fatal("no error for schema 99")
	}
	if got, _ := os.ReadFile(path); string(got) != string(bad) {
		t.Fatalf("file changed: %s", got)
	}
}
