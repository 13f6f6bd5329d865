package atiftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/export"
	"github.com/perfbench/perfbench/internal/records"
)

// CheckExport exports tr as `bench export` would and reports, on t, each
// rule the document breaks. A trajectory with steps must give a
// document; one without gives none, and nothing is checked.
func CheckExport(t testing.TB, tr *records.Trajectory) {
	t.Helper()
	doc := export.ToATIF(tr, export.Item{RunID: "r", Dir: "i"})
	if doc == nil {
		if len(tr.Steps) > 0 {
			t.Fatal("no document for a trajectory with steps")
		}
		return
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range Validate(data) {
		t.Error(err)
	}
}

// CheckConverted checks what an adapter's trajectory converter made of
// any input: it stays within the records' bounds (fatal otherwise: the
// journal would refuse it) and, stamped with the schema version the
// journal writes, exports to valid ATIF. The adapters' tests and fuzz
// targets share it so that each checks its converter the same way.
func CheckConverted(t testing.TB, tr *records.Trajectory) {
	t.Helper()
	if err := tr.CheckBounds(); err != nil {
		t.Fatal(err)
	}
	tr.SchemaVersion = records.TrajectorySchemaVersion
	CheckExport(t, tr)
}

// StepKinds lists tr's steps as "kind:tool", space-separated: how the
// converters' tests state the steps they expect.
func StepKinds(tr *records.Trajectory) string {
	out := make([]string, len(tr.Steps))
	for i, s := range tr.Steps {
		out[i] = string(s.Kind) + ":" + s.Tool
	}
	return strings.Join(out, " ")
}

// SeedLines adds to f's corpus each line of each file (a JSONL
// converter's unit of input) and each file whole (a sequence of them).
func SeedLines(f *testing.F, paths ...string) {
	f.Helper()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.Add(sc.Bytes())
		}
		f.Add(data)
	}
}
