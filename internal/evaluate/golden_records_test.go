package evaluate_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// filler sets every exported field of a value to a distinct non-zero
// value, so that a field renamed, dropped or retyped shows in the JSON.
type filler struct{ n int }

func (f *filler) fill(v reflect.Value, name string) {
	f.n++
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, f.n, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(name + "-" + strconv.Itoa(f.n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(f.n))
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(uint64(f.n))
	case reflect.Float64:
		v.SetFloat(float64(f.n) + 0.25)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem(), name)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		f.fill(s.Index(0), name)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		f.fill(k, name+"Key")
		e := reflect.New(v.Type().Elem()).Elem()
		f.fill(e, name)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i), v.Type().Field(i).Name)
			}
		}
	case reflect.Interface:
		// Set by the test.
	default:
		panic("filler: " + v.Kind().String())
	}
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := fsx.MarshalJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "records", "testdata", name)
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
}

func TestRecordsGolden(t *testing.T) {
	var f filler
	var run journal.Run
	f.fill(reflect.ValueOf(&run).Elem(), "Run")
	run.Agent.Config = &config.Agent{Name: "agent-name", Type: "claude_code", Model: "a/m<&>", Limits: run.Limits, Env: map[string]string{"K": "[REDACTED]"}}
	run.SchemaVersion = journal.SchemaVersion
	golden(t, "run.json", &run)

	var j journal.Journal
	f.fill(reflect.ValueOf(&j).Elem(), "Journal")
	j.Details = map[string]any{"stopped": "max_iterations", "n": 3}
	j.SchemaVersion = journal.SchemaVersion
	golden(t, "journal.json", &j)

	var r evaluate.Result
	f.fill(reflect.ValueOf(&r).Elem(), "Result")
	r.SchemaVersion = evaluate.SchemaVersion
	golden(t, "eval.json", &r)
}
