package miniswe_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line runs
// mini_swe_agent rollouts against the stand-in (standin.Main, on PATH as "mini"),
// which checks its argv and writes mini's real trajectories and step lines.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent/miniswe/standin"
	"github.com/perfbench/perfbench/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bench": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := cli.Main(ctx, os.Args[1:], cli.OSEnv())
			stop()
			os.Exit(code)
		},
		"mini": func() { os.Exit(standin.Main(os.Args[1:])) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
			env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			env.Setenv("NO_COLOR", "1")
			env.Setenv("LLM_MODEL", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"genrepo": cmdGenrepo,
		},
	})
}

func git(ts *testscript.TestScript, dir string, args ...string) string {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Human", "GIT_AUTHOR_EMAIL=human@example.com",
		"GIT_COMMITTER_NAME=Human", "GIT_COMMITTER_EMAIL=human@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		ts.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// cmdGenrepo creates a repository with a base commit and N human commits
// (default 1), each branching off the base and making src/slow.sh faster,
// and commits.txt next to it.
//
//	genrepo DIR [N]
func cmdGenrepo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: genrepo DIR [N]")
	}
	n := 1
	if len(args) == 2 {
		var err error
		if n, err = strconv.Atoi(args[1]); err != nil {
			ts.Fatalf("%v", err)
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
	git(ts, dir, "init", "-q", "-b", "main")
	write("src/slow.sh", "slow() { i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; echo $i; }\n")
	write("bench.sh", ". ./src/slow.sh\nslow\n")
	git(ts, dir, "add", "-A")
	git(ts, dir, "commit", "-q", "-m", "base")
	base := git(ts, dir, "rev-parse", "HEAD")
	var commits strings.Builder
	for i := 0; i < n; i++ {
		git(ts, dir, "checkout", "-q", "-B", fmt.Sprintf("opt%d", i), base)
		write("src/slow.sh", fmt.Sprintf("slow() { echo 1000; } # v%d\n", i))
		git(ts, dir, "commit", "-q", "-am", fmt.Sprintf("make it fast %d", i))
		fmt.Fprintf(&commits, "%s parent=1\n", git(ts, dir, "rev-parse", "HEAD"))
	}
	git(ts, dir, "checkout", "-q", "main")
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "commits.txt"), []byte(commits.String()), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}
