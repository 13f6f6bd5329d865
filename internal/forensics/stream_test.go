package forensics

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/records"
)

const streamLog = "I will look at history with git log --all\n$ git log --all\n+ git fetch /data/repos/proj\nsome output git reflog\n" +
	`{"type":"tool_use","input":{"command":"git reflog"}}` + "\n" + `{"cmd":["bash","-lc","git pull"]}` + "\n$ cat /proc/1/environ"

// scanStream writes data to a LineScanner in pieces of n bytes.
func scanStream(c LeakContext, data []byte, n int) []records.LeakAttempt {
	ls := NewLineScanner("command_stdout.txt", c)
	for len(data) > 0 {
		k := min(n, len(data))
		ls.Write(data[:k])
		data = data[k:]
	}
	ls.Close()
	return ls.Attempts()
}

// The stream gives what the raw-log fallback gives for the whole log,
// however the writes split it (the last line has no newline).
func TestLineScannerIsTheRawLogRule(t *testing.T) {
	c := LeakContext{RepoURL: "/data/repos/proj"}
	want := ScanLeaks(LogSteps("command_stdout.txt", []byte(streamLog)), c)
	if len(want) < 5 {
		t.Fatalf("fallback found %+v", want)
	}
	for _, n := range []int{1, 7, len(streamLog)} {
		if got := scanStream(c, []byte(streamLog), n); !reflect.DeepEqual(got, want) {
			t.Errorf("writes of %d bytes: %+v, want %+v", n, got, want)
		}
	}
}

// A line longer than MaxStreamLine is scanned by its start and not held
// whole; the lines after it keep their numbers.
func TestLineScannerLongLine(t *testing.T) {
	ls := NewLineScanner("s.txt", leakCtx)
	ls.Write([]byte("$ git log --all " + strings.Repeat("y", 1<<20)))
	ls.Write([]byte(strings.Repeat("y", 1<<20) + "\nok\n$ git reflog\n"))
	if cap(ls.line) > 2*MaxStreamLine {
		t.Errorf("holds %d bytes of a long line", cap(ls.line))
	}
	ls.Close()
	got := ls.Attempts()
	if len(got) != 2 || got[0].Step != 1 || got[0].Rule != LeakGitHistory || got[1].Step != 3 || got[1].Command != "git reflog" {
		t.Fatalf("attempts = %+v", got)
	}
	if len(got[0].Command) > maxCommand+len("…") {
		t.Errorf("command not capped: %d bytes", len(got[0].Command))
	}
}

// The first MaxStreamAttempts findings are kept; prose and output are not
// actions; writes after Close are ignored.
func TestLineScannerBounds(t *testing.T) {
	got := scanStream(leakCtx, bytes.Repeat([]byte("the docs say to run git log --all\n$ git reflog\n"), 2*MaxStreamAttempts), 4096)
	if len(got) != MaxStreamAttempts || got[0].Step != 2 || got[MaxStreamAttempts-1].Step != 2*MaxStreamAttempts {
		t.Fatalf("%d attempts, first %+v", len(got), got[0])
	}
	ls := NewLineScanner("s.txt", leakCtx)
	ls.Close()
	if n, err := ls.Write([]byte("$ git reflog\n")); n != 13 || err != nil || len(ls.Attempts()) != 0 {
		t.Errorf("write after close: %d, %v, %+v", n, err, ls.Attempts())
	}
}

// Scan merges the stream's findings with the file's: the stream's first
// (its line numbers count from the start of the output), then what only
// the file has, each (rule, command) once.
func TestScanMergesStreamAttempts(t *testing.T) {
	stream := scanStream(leakCtx, []byte("$ git log --all\n"+strings.Repeat("x\n", 1000)+"$ git reflog\n"), 512)
	tail := []byte("[perfbench: 2000 earlier bytes dropped, cap 100 bytes]\n$ git reflog\n$ git fetch origin\n")
	f, err := Scan(context.Background(), Rollout{Trajectory: &records.Trajectory{}, Leak: leakCtx,
		Logs: []Log{{Name: "command_stdout.txt", Data: tail}}, StreamAttempts: stream})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range f.LeakAttempts {
		got = append(got, fmt.Sprintf("%s@%d", a.Command, a.Step))
	}
	want := []string{"git log --all@1", "git reflog@1002", "git fetch origin@3"}
	if f.Source != SourceLogs || !reflect.DeepEqual(got, want) {
		t.Errorf("attempts = %+v, want %q", f.LeakAttempts, want)
	}
	// A structured trajectory is what is scanned then, not the logs.
	tr := &records.Trajectory{Structured: true}
	if f, _ := Scan(context.Background(), Rollout{Trajectory: tr, Leak: leakCtx, StreamAttempts: stream}); len(f.LeakAttempts) != 0 {
		t.Errorf("structured: %+v", f.LeakAttempts)
	}
}

func FuzzLineScanner(f *testing.F) {
	f.Add([]byte(streamLog), 3)
	f.Add([]byte("$ git log --all\r\n\n\n{\"command\":\"git fetch x\"}"), 1)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		n = max(1, n%64+1)
		got := scanStream(leakCtx, data, n)
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(line) > MaxStreamLine {
				return
			}
		}
		want := ScanLeaks(LogSteps("command_stdout.txt", data), leakCtx)
		if len(want) > MaxStreamAttempts {
			want = want[:MaxStreamAttempts]
		}
		if len(got) != len(want) || len(got) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("stream %+v, fallback %+v", got, want)
		}
	})
}
