package journal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

func TestTrajectoryRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := journal.ReadTrajectory(dir); !os.IsNotExist(err) {
		t.Fatalf("missing trajectory: %v", err)
	}
	tr := &records.Trajectory{Agent: records.RunAgentRef{Name: "a", Type: "command"}}
	if err := journal.WriteTrajectory(dir, tr); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, journal.TrajectoryFile))
	if string(data) == "" {
		t.Fatal("empty file")
	}
	got, err := journal.ReadTrajectory(dir)
	if err != nil || got.SchemaVersion != records.TrajectorySchemaVersion || got.Steps == nil || got.Structured {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, journal.TrajectoryFile), []byte(`{"schema_version":99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := journal.ReadTrajectory(dir); err == nil {
		t.Fatal("schema_version 99 read")
	}
}

func TestReadTrajectorySaysWhere(t *testing.T) {
	dir := t.TempDir()
	for data, want := range map[string]string{
		"{\n  \"schema_version\": 1,\n  \"steps\": [ oops ]\n}":     "line 3, column 14",
		"{\n  \"schema_version\": 1,\n  \"structured\": \"yes\"\n}": "line 3, column 21: field structured: string, expected bool",
	} {
		if err := os.WriteFile(filepath.Join(dir, journal.TrajectoryFile), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := journal.ReadTrajectory(dir)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), journal.TrajectoryFile) {
			t.Errorf("%q: %v, want %q", data, err, want)
		}
	}
}
