package prepare

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

// TestDryRunIsWhatRuns: the command a dry run shows is the one a run
// records, placeholders aside, secrets redacted in both.
func TestDryRunIsWhatRuns(t *testing.T) {
	const key = "sk-dryrun-secret-0123456789"
	b, task, _ := setup(t, `agents:
  cmd:
    type: command
    timeout: 2m
    max_iterations: 7
    command: ["sh", "-c", "echo changed >> README.md", "{workspace}", "{task_file}", "{out_dir}", "--api-key", "`+key+`"]
`)
	a, err := b.Agent("cmd")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Task: task, Bench: b, Agent: a, RunID: "r1", ProcessEnv: []string{"OPENAI_API_KEY=" + key}}
	dr, err := DryRun(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if dr.RunID != "r1" || dr.Items != 1 || len(dr.Commands) != 1 || dr.Limits.MaxIterations != 7 || dr.Limits.KillGrace <= 0 {
		t.Fatalf("dry run = %+v", dr)
	}
	planned := dr.Commands[0]
	if strings.Contains(strings.Join(planned.Argv, " "), key) {
		t.Errorf("the dry run shows the secret: %q", planned.Argv)
	}

	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[records.RolloutSuccess] != 1 {
		t.Fatalf("counts %v, want one success", sum.Counts)
	}
	j, err := journal.ReadJournal(filepath.Join(sum.RunDir, planned.ItemID))
	if err != nil {
		t.Fatal(err)
	}
	if sum.RunID != "r1" || j.Process == nil {
		t.Fatalf("run %s, journal %+v", sum.RunID, j)
	}
	ran := j.Process.Command
	// The private directory is the parent of the workspace the agent got.
	ws := ran[3]
	private := filepath.Dir(ws)
	rep := strings.NewReplacer(filepath.Join(private, "workspace"), "<workspace>", filepath.Join(private, journal.TaskFile), "<task_file>", filepath.Join(private, journal.OutDirName), "<out_dir>")
	var got []string
	for _, s := range ran {
		got = append(got, rep.Replace(s))
	}
	if !slices.Equal(got, planned.Argv) {
		t.Errorf("ran %q,\ndry run showed %q", got, planned.Argv)
	}
}
