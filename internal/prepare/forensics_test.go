package prepare

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/forensics"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/workspace"
)

// An attempt followed by more output than the log's cap keeps is still
// recorded: the capture path scans the stream before the cap drops it,
// and the secret in the command is scrubbed before it is scanned.
func TestLeakAttemptSurvivesLogFlood(t *testing.T) {
	const secret = "sekrit-flood-0123456789"
	dir := t.TempDir()
	it := &itemRun{
		runner: &runner{
			opts: Options{
				Task: &config.Task{}, Agent: &config.Agent{Type: "command"},
				Bench: &config.Bench{LogCapBytes: 10 << 20}, Plan: &plan.Plan{RepoURL: "https://github.com/acme/fastlib"},
			},
			mirror:  &workspace.Mirror{Dir: filepath.Join(dir, "mirror")},
			secrets: secrets.FromEnv([]string{"FX_TOKEN=" + secret}, nil),
			log:     io.Discard,
		},
		u: unit{dir: dir},
		j: &records.Journal{},
	}
	l, err := it.openLog("command_stdout.txt")
	if err != nil {
		t.Fatal(err)
	}
	e, err := it.openLog("command_stderr.txt")
	if err != nil {
		t.Fatal(err)
	}
	// The secret split across writes, as a pipe may deliver it.
	for _, s := range []string{"$ git log --all\n", "$ git clone https://u:" + secret[:6], secret[6:] + "@example.com/x.git\n"} {
		if _, err := io.WriteString(l, s); err != nil {
			t.Fatal(err)
		}
	}
	filler := bytes.Repeat([]byte(strings.Repeat("x", 99)+"\n"), 1<<10)
	for written := 0; written <= 11<<20; written += len(filler) {
		if _, err := l.Write(filler); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if !l.info().Truncated {
		t.Fatalf("log not truncated: %+v", l.info())
	}
	kept, err := os.ReadFile(filepath.Join(dir, "command_stdout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(kept, []byte("git log")) {
		t.Fatal("the log still holds the attempt: the flood did not push it out")
	}

	it.j.Logs = records.Logs{Stdout: l.info(), Stderr: e.info()}
	it.scanForensics(context.Background(), &attempt{stdout: l, stderr: e})
	f := it.j.Forensics
	if f == nil || f.Source != forensics.SourceLogs {
		t.Fatalf("forensics = %+v", f)
	}
	want := map[string]string{
		forensics.LeakGitHistory: "git log --all",
		forensics.LeakGitRemote:  "git clone https://u:[REDACTED:FX_TOKEN]@example.com/x.git",
	}
	for _, a := range f.LeakAttempts {
		if strings.Contains(a.Command+a.Excerpt, secret) {
			t.Errorf("secret in %+v", a)
		}
		if cmd, ok := want[a.Rule]; ok && a.Command == cmd && a.Source == "command_stdout.txt" {
			if a.Rule == forensics.LeakGitHistory && a.Step != 1 {
				t.Errorf("git_history at line %d, want 1 (the stream's numbering)", a.Step)
			}
			delete(want, a.Rule)
		}
	}
	if len(want) > 0 || len(f.LeakAttempts) != 2 {
		t.Errorf("leak attempts = %+v, missing %v", f.LeakAttempts, want)
	}
}
