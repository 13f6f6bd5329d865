package prompt

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

func input(h config.Hints) Input {
	return Input{
		Task: &config.Task{
			ID: "demo", Name: "Faster demo", Description: "Make it fast.",
			OptimizationContract: config.OptimizationContract{StrictTargets: true, TargetFiles: []string{"lib/*.sh"}, Constraints: []string{"Keep the output"}},
		},
		ItemID: "demo-0000", Workspace: "/workspace", Workload: "sh bench.sh",
		TargetFiles: []string{"lib/*.sh"}, Hints: h, Headless: true,
		Reference: Reference{
			CommitMessage: "Use the closed form SECRETMSG",
			Diffstat:      " lib/sumsq.sh | 9 ++------- SECRETSTAT",
			Diff:          "--- a/lib/sumsq.sh\n+++ b/lib/sumsq.sh\n@@ SECRETDIFF",
			TargetFiles:   []string{"lib/sumsq.sh"},
		},
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
	}
}

func TestDefaultLayoutGolden(t *testing.T) {
	p := Build(input(config.Hints{}))
	golden(t, "default.md", Markdown(p))
	p = Build(input(config.Hints{CommitMessage: true, Diffstat: true, Diff: true, TargetFiles: true}))
	golden(t, "hints.md", Markdown(p))
}

func TestNothingOfTheHumanCommitWithoutHints(t *testing.T) {
	p := Build(input(config.Hints{}))
	text := Markdown(p)
	for _, s := range []string{"SECRETMSG", "SECRETSTAT", "SECRETDIFF", "lib/sumsq.sh"} {
		if strings.Contains(text, s) {
			t.Errorf("task text contains %q without hints", s)
		}
	}
	if p.Reference != nil || p.HintsShown != (HintsUsed{}) {
		t.Errorf("hints recorded as shown: %+v", p.HintsShown)
	}
	for _, id := range []string{"objective", "workspace", "workload", "instructions", "techniques", "constraints", "target_files", "reference", "success_criteria", "final_steps"} {
		if p.Section(id) == nil {
			t.Errorf("section %s missing", id)
		}
	}
}

func TestEachHintAlone(t *testing.T) {
	for _, tc := range []struct {
		h    config.Hints
		want string
	}{
		{config.Hints{CommitMessage: true}, "SECRETMSG"},
		{config.Hints{Diffstat: true}, "SECRETSTAT"},
		{config.Hints{Diff: true}, "SECRETDIFF"},
		{config.Hints{TargetFiles: true}, "lib/sumsq.sh"},
	} {
		p := Build(input(tc.h))
		text := Markdown(p)
		if !strings.Contains(text, tc.want) {
			t.Errorf("%+v: %q not shown", tc.h, tc.want)
		}
		n := 0
		for _, s := range []string{"SECRETMSG", "SECRETSTAT", "SECRETDIFF"} {
			if strings.Contains(text, s) {
				n++
			}
		}
		if tc.h.TargetFiles && n != 0 || !tc.h.TargetFiles && n != 1 {
			t.Errorf("%+v: %d hint materials shown", tc.h, n)
		}
	}
}

func TestPromptTemplate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.tmpl"), []byte("{{.Title}} / {{(.Section \"workload\").Code}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := input(config.Hints{})
	in.Task.Dir, in.Task.PromptTemplate = dir, "t.tmpl"
	got, err := Render(Build(in), in.Task)
	if err != nil {
		t.Fatal(err)
	}
	if got != "Faster demo / sh bench.sh" {
		t.Errorf("got %q", got)
	}
	in.Task.PromptTemplate = "missing.tmpl"
	if _, err := Render(Build(in), in.Task); err == nil {
		t.Error("missing template accepted")
	}
}
