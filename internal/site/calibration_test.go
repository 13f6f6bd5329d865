package site_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/site/sitetest"
	"github.com/perfbench/perfbench/internal/stats"
)

// With calibration.json in the state root, the index matrix marks the
// items that are not stable beside their ids (as compare --matrix does)
// and each item page says the item's class; a stable item has no mark.
func TestCalibrationMarks(t *testing.T) {
	unstable, stable := sitetest.Items[0], sitetest.Items[1]
	root := writeFixture(t, func(state string) {
		_, err := journal.UpdateCalibration(context.Background(), filepath.Join(state, journal.CalibrationFile), func(c *records.Calibration) error {
			// The fixture's eval.json files have empty hashes.
			journal.PutCalibrationItem(c, records.CalibrationItem{ItemID: unstable, Class: stats.ClassUnstable})
			journal.PutCalibrationItem(c, records.CalibrationItem{ItemID: stable, Class: stats.ClassStable})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	ps := pages(t, root)
	index := ps["index.html"]
	if !regexp.MustCompile(`<code>` + unstable + `</code> <small class="calibration"[^>]*><a href="#def-calibration">\(unstable\)</a></small>`).MatchString(index) {
		t.Errorf("index: no calibration mark on %s", unstable)
	}
	if regexp.MustCompile(`<code>` + stable + `</code> <small class="calibration"`).MatchString(index) {
		t.Errorf("index: a stable item (%s) is marked", stable)
	}
	if !strings.Contains(index, `id="def-calibration"`) {
		t.Error("index: calibration is not defined")
	}
	for _, run := range []string{"demo-replay", "demo-noop"} {
		page := ps["runs/"+run+"/"+unstable+".html"]
		if !regexp.MustCompile(`<td>calibration</td><td>unstable — not stable \(bench calibrate\)`).MatchString(page) {
			t.Errorf("%s's page of %s: no calibration fact", run, unstable)
		}
		if page := ps["runs/"+run+"/"+stable+".html"]; !strings.Contains(page, "<td>calibration</td><td>stable</td>") {
			t.Errorf("%s's page of %s: no stable calibration fact", run, stable)
		}
	}
	// Without calibration.json: no mark, no fact.
	for p, html := range pages(t, writeFixture(t, nil)) {
		if strings.Contains(html, `class="calibration"`) || strings.Contains(html, "<td>calibration</td>") {
			t.Errorf("%s: a calibration mark without calibration.json", p)
		}
	}
}
