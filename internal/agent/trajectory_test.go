package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log.jsonl")
	long := strings.Repeat("x", maxTrajectoryLine+10)
	if err := os.WriteFile(path, []byte("a\r\n"+long+"\nb\nlast"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := ReadLines(path, func(l []byte) { got = append(got, string(l)) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a,b,last" {
		t.Fatalf("lines %q", got)
	}
	// The agent's file: a link is not followed.
	link := filepath.Join(dir, "link")
	os.Symlink(path, link)
	if err := ReadLines(link, func([]byte) {}); err == nil {
		t.Fatal("followed a link")
	}
}

func TestParseTimeAndShellCommand(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2025-06-01T10:00:03.5":     time.Date(2025, 6, 1, 10, 0, 3, 5e8, time.UTC),
		"2026-11-20T10:00:02.100Z":  time.Date(2026, 11, 20, 10, 0, 2, 1e8, time.UTC),
		"2026-11-20T12:00:00+02:00": time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
		"yesterday":                 {},
	} {
		if got := ParseTime(in); !got.Equal(want) {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
	if got := ShellCommand([]string{"/bin/bash", "-lc", "make -j"}); got != "make -j" {
		t.Errorf("bash -lc: %q", got)
	}
	if got := ShellCommand([]string{"python", "-c", "x"}); got != "python -c x" {
		t.Errorf("python -c: %q", got)
	}
}

func TestUnstructured(t *testing.T) {
	tr := (&Rollout{}).NewTrajectory("x.json")
	Unstructured(tr, errors.New("open x.json: no such file"))
	if tr.Structured || len(tr.Warnings) != 1 || tr.Warnings[0] != "x.json: open x.json: no such file" {
		t.Fatalf("structured %v, warnings %q", tr.Structured, tr.Warnings)
	}
}

// An agent's file past MaxAgentFileBytes is refused before it is read (a
// sparse file: no disk used), a link is not followed, a small file read.
func TestReadAgentFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "trajectory.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxAgentFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if data, err := ReadAgentFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadAgentFile(big) = %d bytes, %v", len(data), err)
	}
	small := filepath.Join(dir, "small.json")
	if err := os.WriteFile(small, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadAgentFile(small); err != nil || string(data) != "{}" {
		t.Errorf("ReadAgentFile(small) = %q, %v", data, err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(small, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAgentFile(link); err == nil {
		t.Error("ReadAgentFile followed a link")
	}
}
