package records_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// filler sets every field written to JSON to a non-zero value derived
// from its JSON path, so that a field renamed, dropped or retyped shows in
// the output, whatever the Go types around it.
type filler struct{}

func (f filler) fill(v reflect.Value, path string) {
	h := fnv.New32a()
	h.Write([]byte(path))
	n := int(h.Sum32() % 1000)
	if v.Type() == reflect.TypeFor[json.RawMessage]() {
		return // set by the test
	}
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, n, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(path[strings.LastIndex(path, ".")+1:] + "-" + strconv.Itoa(n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(n))
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(uint64(n))
	case reflect.Float64:
		v.SetFloat(float64(n) + 0.25)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem(), path)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		f.fill(s.Index(0), path+"[0]")
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		f.fill(k, path+"[key]")
		e := reflect.New(v.Type().Elem()).Elem()
		f.fill(e, path+"[value]")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			switch {
			case !sf.IsExported() || name == "-":
			case sf.Anonymous && name == "":
				f.fill(v.Field(i), path)
			default:
				if name == "" {
					name = sf.Name
				}
				f.fill(v.Field(i), path+"."+name)
			}
		}
	case reflect.Interface:
		// Set by the test.
	default:
		panic("filler: " + v.Kind().String())
	}
}

// golden compares v, written as journal writes it, with testdata/name, and
// reads the file back with read: an old file reads into the same value.
func golden[T any](t *testing.T, name string, v *T, read func(dir string) (*T, error)) {
	t.Helper()
	got, err := fsx.MarshalJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed:\n%s", name, got)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), want, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := read(dir)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	again, err := fsx.MarshalJSON(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, want) {
		t.Errorf("%s read and written again differs:\n%s", name, again)
	}
}

// TestGolden: run.json, journal.json and eval.json keep the shape they had
// when the types lived in journal and evaluate, field for field.
func TestGolden(t *testing.T) {
	f := filler{}
	var run records.Run
	f.fill(reflect.ValueOf(&run).Elem(), "run")
	// What prepare records: the redacted entry as fsx writes it.
	cfg, err := fsx.MarshalJSON(&config.Agent{Name: "agent-name", Type: "claude_code", Model: "a/m<&>", Limits: run.Limits, Env: map[string]string{"K": "[REDACTED]"}})
	if err != nil {
		t.Fatal(err)
	}
	run.Agent.Config = cfg
	run.SchemaVersion = records.SchemaVersion
	golden(t, journal.RunFile, &run, journal.ReadRun)

	var j records.Journal
	f.fill(reflect.ValueOf(&j).Elem(), "journal")
	j.Details = map[string]any{"stopped": "max_iterations", "n": 3.0}
	j.SchemaVersion = records.SchemaVersion
	golden(t, journal.JournalFile, &j, journal.ReadJournal)

	var r records.Eval
	f.fill(reflect.ValueOf(&r).Elem(), "eval")
	r.SchemaVersion = records.EvalSchemaVersion
	golden(t, journal.EvalFile, &r, journal.ReadEval)
}

// TestGoldenEvalPerSample: an eval.json of version 1 (the per-sample
// layout, before the item layout of samples) still reads, into the same
// fields, and is its own sample's view.
func TestGoldenEvalPerSample(t *testing.T) {
	dir := t.TempDir()
	old, err := os.ReadFile(filepath.Join("testdata", "eval.v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, journal.EvalFile), old, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := journal.ReadEval(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.SchemaVersion != records.EvalSchemaVersionPerSample || r.Candidates != nil {
		t.Fatalf("schema_version %d, candidates %v", r.SchemaVersion, r.Candidates)
	}
	again, err := fsx.MarshalJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, old) {
		t.Errorf("eval.v1.json read and written again differs:\n%s", again)
	}
	if v := r.SampleView(r.Sample); v != r {
		t.Errorf("the view of its own sample is not the file")
	}
}
