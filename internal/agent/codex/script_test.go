package codex_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line
// runs Codex rollouts whose codex is the stand-in (package standin): the
// test binary, on PATH under the name codex.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent/codex/standin"
	"github.com/perfbench/perfbench/internal/scripttest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bench":      scripttest.Bench,
		standin.Name: standin.Main,
	})
}

func TestScripts(t *testing.T) {
	cmds := scripttest.Cmds()
	cmds["genrepo"] = cmdGenrepo
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               scripttest.Setup,
		Condition:           scripttest.Condition,
		Cmds:                cmds,
	})
}

// cmdGenrepo creates a repository with a base commit and N human commits
// (default 1) that each make src/slow.sh faster, and commits.txt next to
// it (one item per commit).
//
//	genrepo DIR [N]
func cmdGenrepo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: genrepo DIR [N]")
	}
	n := 1
	if len(args) == 2 {
		var err error
		if n, err = strconv.Atoi(args[1]); err != nil || n < 1 {
			ts.Fatalf("genrepo: bad N %q", args[1])
		}
	}
	dir := ts.MkAbs(args[0])
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			ts.Fatalf("%v", err)
		}
	}
	scripttest.Git(ts, dir, "init", "-q", "-b", "main")
	write("src/slow.sh", "slow() { i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; echo $i; }\n")
	write("bench.sh", ". ./src/slow.sh\nslow\n")
	scripttest.Git(ts, dir, "add", "-A")
	scripttest.Git(ts, dir, "commit", "-q", "-m", "base")
	var commits strings.Builder
	for i := range n {
		write("src/slow.sh", "slow() { echo 1000; }\n"+strings.Repeat("#\n", i))
		scripttest.Git(ts, dir, "commit", "-q", "-am", "make it fast")
		commits.WriteString(scripttest.Git(ts, dir, "rev-parse", "HEAD") + " parent=1\n")
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "commits.txt"), []byte(commits.String()), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}
