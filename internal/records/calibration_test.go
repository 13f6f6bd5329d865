package records

import (
	"testing"

	"github.com/perfbench/perfbench/internal/stats"
)

// An entry analysed with another band or alpha than the evaluation's is
// stale (its samples stay valid: calibrate re-analyses them); one for
// other hashes or partial is none; otherwise its class.
func TestCalibrationClassFor(t *testing.T) {
	c := &Calibration{Items: []CalibrationItem{
		{ItemID: "a", PlanItemHash: "p", ConfigHash: "c", Band: 0.05, Alpha: 0.05, Class: stats.ClassStable},
		{ItemID: "b", PlanItemHash: "p", ConfigHash: "c", Band: 0.05, Alpha: 0.05, Class: stats.ClassUnstable, Partial: true},
	}}
	for _, tc := range []struct {
		id, plan, config string
		band, alpha      float64
		want             stats.Class
	}{
		{"a", "p", "c", 0.05, 0.05, stats.ClassStable},
		{"a", "p", "c", 0.1, 0.05, CalibrationStale},
		{"a", "p", "c", 0.05, 0.01, CalibrationStale},
		{"a", "p", "other", 0.05, 0.05, ""},
		{"a", "other", "c", 0.05, 0.05, ""},
		{"b", "p", "c", 0.05, 0.05, ""},
		{"nosuch", "p", "c", 0.05, 0.05, ""},
	} {
		got, it := c.ClassFor(tc.id, tc.plan, tc.config, tc.band, tc.alpha)
		if got != tc.want || (it == nil) != (got == "") {
			t.Errorf("ClassFor(%s, %s, %s, %g, %g) = %q, %v; want %q", tc.id, tc.plan, tc.config, tc.band, tc.alpha, got, it, tc.want)
		}
	}
	var none *Calibration
	if got, _ := none.ClassFor("a", "p", "c", 0.05, 0.05); got != "" {
		t.Errorf("nil calibration: %q", got)
	}
}
