package report

import (
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

// A run created with allow_unisolated says so in every format; a run
// without it says nothing of it.
func TestAllowUnisolatedInEveryFormat(t *testing.T) {
	for _, allow := range []bool{true, false} {
		dir := t.TempDir()
		if err := journal.WriteRun(dir, &records.Run{RunID: "r", AllowUnisolated: allow}); err != nil {
			t.Fatal(err)
		}
		r, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range RunFormats.Names() {
			w, _ := RunFormats.Lookup(name)
			out := render(t, w, r)
			says := strings.Contains(out, "allow_unisolated")
			if says != allow {
				t.Errorf("allow_unisolated %v: format %s mentions it: %v", allow, name, says)
			}
		}
	}
}
