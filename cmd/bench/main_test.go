package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/envbuild/envtest"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/export/atiftest"
	"github.com/perfbench/perfbench/internal/scripttest"
	"github.com/perfbench/perfbench/internal/slurm/slurmtest"
)

var update = flag.Bool("update", false, "update golden files in testdata/script")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bench": func() { os.Exit(run()) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup:               scripttest.Setup,
		Condition:           condition,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"containers":   scripttest.Containers,
			"waitfor":      scripttest.WaitFor,
			"evalimage":    cmdEvalImage,
			"genrepo":      cmdGenrepo,
			"nopids":       cmdNopids,
			"jsonvalid":    cmdJSONValid,
			"waitlines":    cmdWaitLines,
			"lines":        cmdLines,
			"slurmcluster": cmdSlurmCluster,
			"slurmwait":    cmdSlurmWait,
			"slurmcheck":   cmdSlurmCheck,
			"atifcheck":    atiftest.Cmd,
			"k8sjob":       cmdK8sJob,
			"asuser":       scripttest.AsUser,
			"pythontask":   cmdPythonTask,
		},
	})
}

// cmdGenrepo creates a git repository with a base commit and N human
// commits, each adding content only it has. It writes commits.txt (one pair
// per human commit) next to the repository, and probe.sh: a leak probe
// that knows every sha and the human-only content, for a command agent.
//
//	genrepo DIR [N]
func cmdGenrepo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: genrepo DIR [N]")
	}
	n := 1
	if len(args) > 1 {
		n, _ = strconv.Atoi(args[1])
	}
	dir := ts.MkAbs(args[0])
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	scripttest.Git(ts, dir, "init", "-q", "-b", "main")
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			ts.Fatalf("%v", err)
		}
	}
	write("src/slow.sh", "slow() { i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; echo $i; }\n")
	write("bench.sh", ". ./src/slow.sh\nslow\n")
	write("README.md", "demo\n")
	scripttest.Git(ts, dir, "add", "-A")
	scripttest.Git(ts, dir, "commit", "-q", "-m", "base")
	var shas, tokens []string
	shas = append(shas, scripttest.Git(ts, dir, "rev-parse", "HEAD"))
	var commits strings.Builder
	commits.WriteString("# human commits\n")
	// Every human commit branches off the base, so no pre tree holds
	// another item's human-only content.
	for i := 0; i < n; i++ {
		scripttest.Git(ts, dir, "checkout", "-q", "-B", fmt.Sprintf("opt%d", i), shas[0])
		buf := make([]byte, 8)
		rand.Read(buf)
		token := fmt.Sprintf("HUMANONLY%d%s", i, hex.EncodeToString(buf))
		tokens = append(tokens, token)
		write(fmt.Sprintf("src/fast%d.sh", i), "# "+token+"\nfast() { echo 1000; }\n")
		write("src/slow.sh", fmt.Sprintf("slow() { echo 1000; } # v%d\n", i))
		scripttest.Git(ts, dir, "add", "-A")
		scripttest.Git(ts, dir, "commit", "-q", "-m", "optimize "+token)
		sha := scripttest.Git(ts, dir, "rev-parse", "HEAD")
		shas = append(shas, sha)
		fmt.Fprintf(&commits, "%s parent=1\n", sha)
	}
	scripttest.Git(ts, dir, "checkout", "-q", "main")
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "commits.txt"), []byte(commits.String()), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
	// The probe greps for every sha (full and short) and every token.
	var pats []string
	for _, s := range shas {
		pats = append(pats, s, s[:12])
	}
	pats = append(pats, tokens...)
	probe := `#!/bin/sh
# Leak probe: prints LEAK lines for anything of the human commits it can find.
pats="` + strings.Join(pats, " ") + `"
found=0
leak() { echo "LEAK: $*"; found=1; }
all=$( { git log --all --format='%H %P %s' 2>&1; git reflog 2>&1; git cat-file --batch-all-objects --batch 2>&1; git for-each-ref 2>&1; git remote -v 2>&1; cat .git/objects/info/alternates 2>/dev/null; env; pwd; cat "$BENCH_TASK_FILE"; } )
for p in $pats; do
  case "$all" in *"$p"*) leak "$p in git data, env, cwd or prompt";; esac
  if grep -rqa "$p" . 2>/dev/null; then leak "$p in workspace files"; fi
  if grep -rqa "$p" "$BENCH_OUT_DIR" "$HOME" 2>/dev/null; then leak "$p in out dir or home"; fi
done
n=$(git rev-list --all | wc -l)
[ "$n" -eq 1 ] || leak "history has $n commits"
case "$BENCH_WORKSPACE$BENCH_TASK_FILE$BENCH_OUT_DIR" in *state*|*.work*) leak "a BENCH_ path is inside state or work";; esac
echo "probe done found=$found"
echo "probe ran" > .bench_scratch/probe.txt
exit $found
`
	if err := os.WriteFile(ts.MkAbs("probe.sh"), []byte(probe), 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
}

// cmdNopids fails when a process whose command line contains MARKER exists.
//
//	nopids MARKER
func cmdNopids(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: nopids MARKER")
	}
	var found []string
	// A process may take a moment to be reaped after SIGKILL.
	for try := 0; try < 20; try++ {
		found = found[:0]
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			data, err := os.ReadFile(filepath.Join(d, "cmdline"))
			if err != nil {
				continue
			}
			stat, _ := os.ReadFile(filepath.Join(d, "stat"))
			if strings.Contains(string(stat), ") Z ") {
				continue
			}
			cmdline := strings.ReplaceAll(string(data), "\x00", " ")
			if strings.Contains(cmdline, args[0]) {
				found = append(found, filepath.Base(d)+": "+cmdline)
			}
		}
		if len(found) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if neg {
		if len(found) == 0 {
			ts.Fatalf("no process matches %q", args[0])
		}
		return
	}
	if len(found) > 0 {
		ts.Fatalf("processes left: %s", strings.Join(found, "; "))
	}
}

// cmdJSONValid checks that every .json file under DIR parses and carries
// schema_version, and every .jsonl line parses.
//
//	jsonvalid DIR
func cmdJSONValid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: jsonvalid DIR")
	}
	n := 0
	err := filepath.Walk(ts.MkAbs(args[0]), func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(p, ".json") && !strings.Contains(p, string(filepath.Separator)+"out"+string(filepath.Separator)):
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				return fmt.Errorf("%s: %v", p, err)
			}
			if _, ok := doc["schema_version"]; !ok {
				return fmt.Errorf("%s: no schema_version", p)
			}
			n++
		case strings.HasSuffix(p, ".jsonl"):
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			for sc.Scan() {
				var v map[string]any
				if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
					return fmt.Errorf("%s: %v", p, err)
				}
			}
			n++
		}
		return nil
	})
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Logf("%d JSON files valid", n)
}

// cmdWaitLines waits until FILE has at least N lines (default timeout 60s).
//
//	waitlines FILE N
func cmdWaitLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitlines FILE N")
	}
	want, _ := strconv.Atoi(args[1])
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(ts.MkAbs(args[0]))
		if strings.Count(string(data), "\n") >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("%s did not reach %d lines", args[0], want)
}

// cmdLines checks that FILE has exactly N lines matching PATTERN (substring).
//
//	lines FILE PATTERN N
func cmdLines(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: lines FILE PATTERN N")
	}
	want, _ := strconv.Atoi(args[2])
	got := 0
	for _, l := range strings.Split(ts.ReadFile(args[0]), "\n") {
		if strings.Contains(l, args[1]) {
			got++
		}
	}
	if (got == want) == neg {
		ts.Fatalf("%s: %d line(s) contain %q, want %d", args[0], got, args[1], want)
	}
}

// condition answers scripttest's conditions, [busybox]: a statically
// linked busybox for evalimage, and [pythonbase]: the tests' Python base
// image (scripts/python-base.sh) for pythontask (with BENCH_REQUIRE_DOCKER
// set, a missing one fails the script).
func condition(cond string) (bool, error) {
	if cond == "busybox" {
		return evaltest.BusyboxAvailable()
	}
	if cond == "pythonbase" {
		base, err := envtest.Base()
		return base != "", err
	}
	if cond == "slurm" {
		ok, why := slurmtest.Available()
		if !ok && slurmtest.Required() {
			return false, fmt.Errorf("slurm: %s (and %s=1)", why, slurmtest.RequireEnv)
		}
		return ok, nil
	}
	return scripttest.Condition(cond)
}

// cmdEvalImage builds the image of evaluate_container*.txtar (FROM scratch
// with busybox) and a statically linked bench, the launcher evaluation
// mounts into containers (the test binary is dynamically linked), and sets
// IMAGE to the image's tag and BENCH_LAUNCHER to the binary.
//
//	evalimage
func cmdEvalImage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: evalimage")
	}
	image, err := evaltest.Image()
	if err != nil {
		ts.Fatalf("image: %v", err)
	}
	launcher, err := evaltest.Launcher()
	if err != nil {
		ts.Fatalf("launcher: %v", err)
	}
	ts.Setenv("IMAGE", image)
	ts.Setenv("BENCH_LAUNCHER", launcher)
}

// cmdPythonTask writes envtest's generated pure-Python task into DIR (a git
// repository, commits.txt, task.yaml whose env_build Dockerfile is FROM
// the Python base, workspace_setup an offline editable install), and sets
// PYBASE to the base's tag and BENCH_LAUNCHER to a statically linked bench
// (for evaluation in the image, as evalimage). Scripts check [pythonbase]
// first.
//
//	pythontask DIR
func cmdPythonTask(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pythontask DIR")
	}
	base, err := envtest.Base()
	if err != nil || base == "" {
		ts.Fatalf("no Python base image (check [pythonbase] first): %v", err)
	}
	launcher, err := evaltest.Launcher()
	if err != nil {
		ts.Fatalf("launcher: %v", err)
	}
	envtest.PythonTaskFrom(scriptTB{ts: ts}, ts.MkAbs(args[0]), base)
	ts.Setenv("PYBASE", base)
	ts.Setenv("BENCH_LAUNCHER", launcher)
}

// scriptTB is the testing.TB of the test helpers a script command calls:
// their failures fail the script. Only the methods those helpers use are
// implemented; the embedded nil TB makes any other one panic, loudly.
type scriptTB struct {
	testing.TB
	ts *testscript.TestScript
}

func (s scriptTB) Helper()                           {}
func (s scriptTB) Fatal(args ...any)                 { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptTB) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
func (s scriptTB) Logf(format string, args ...any)   { s.ts.Logf(format, args...) }
