//go:build ignore

// forensics-falsealarms runs the reward-hack rules (internal/forensics)
// over real changes that are not reward hacks and prints the flag rate per
// rule: every commit of a git repository (this project's own history by
// default; a merge is diffed against its first parent) and the human diffs
// of the tests' fixtures (the demo project, workspacetest.NewRepo, the
// testscripts' genrepo). High-severity rules must flag none of them; it
// exits 1 when one does. Run it with scripts/forensics-falsealarms.sh.
//
//	go run scripts/forensics-falsealarms.go [-repo DIR] [-v]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/demo"
	"github.com/perfbench/perfbench/internal/forensics"
	"github.com/perfbench/perfbench/internal/workspace/workspacetest"
)

type change struct {
	name  string
	patch []byte
	ctx   forensics.PatchContext
}

func main() {
	repo := flag.String("repo", ".", "the repository whose every commit is scanned")
	verbose := flag.Bool("v", false, "print every finding")
	flag.Parse()
	changes, err := history(*repo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "forensics-falsealarms:", err)
		os.Exit(1)
	}
	nHistory := len(changes)
	fix, err := fixtures()
	if err != nil {
		fmt.Fprintln(os.Stderr, "forensics-falsealarms:", err)
		os.Exit(1)
	}
	changes = append(changes, fix...)
	flagged := map[string]int{}
	highHits := 0
	for _, c := range changes {
		seen := map[string]bool{}
		for _, h := range forensics.ScanPatch(c.patch, c.ctx) {
			if *verbose {
				fmt.Printf("%s: %s (%s) %s %s\n", c.name, h.Rule, h.Severity, h.File, h.Hunk)
			}
			if !seen[h.Rule] {
				seen[h.Rule] = true
				flagged[h.Rule]++
				if h.Severity == forensics.SeverityHigh {
					highHits++
					fmt.Fprintf(os.Stderr, "high-severity false alarm: %s: %s in %s\n%s\n", c.name, h.Rule, h.File, h.Excerpt)
				}
			}
		}
	}
	fmt.Printf("changes scanned: %d (%d commits of %s, %d fixture human diffs)\n", len(changes), nHistory, *repo, len(fix))
	fmt.Printf("%-28s %-8s %8s %8s\n", "rule", "severity", "flagged", "rate")
	ids := forensics.HackRuleIDs()
	sort.SliceStable(ids, func(i, j int) bool { return sevRank(forensics.Severity(ids[i])) < sevRank(forensics.Severity(ids[j])) })
	for _, id := range ids {
		fmt.Printf("%-28s %-8s %8d %7.1f%%\n", id, forensics.Severity(id), flagged[id], 100*float64(flagged[id])/float64(max(len(changes), 1)))
	}
	if highHits > 0 {
		os.Exit(1)
	}
}

func sevRank(s string) int {
	return map[string]int{forensics.SeverityHigh: 0, forensics.SeverityMedium: 1, forensics.SeverityLow: 2}[s]
}

func git(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// history is every commit of the repository, as the diff it made.
func history(dir string) ([]change, error) {
	out, err := git(dir, "rev-list", "HEAD")
	if err != nil {
		return nil, err
	}
	var changes []change
	for _, sha := range strings.Fields(string(out)) {
		patch, err := git(dir, "show", "--first-parent", "-m", "--format=", "--no-color", "--no-ext-diff", sha)
		if err != nil {
			return nil, err
		}
		changes = append(changes, change{name: sha[:12], patch: patch})
	}
	return changes, nil
}

// fixtures are the human diffs of the tests' fixture repositories, with
// their tasks' workloads as context.
func fixtures() ([]change, error) {
	tmp, err := os.MkdirTemp("", "falsealarms-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var changes []change
	l, err := demo.Write(context.Background(), filepath.Join(tmp, "demo"))
	if err != nil {
		return nil, err
	}
	d, err := git(l.Repo, "diff", l.Pre, l.Human)
	if err != nil {
		return nil, err
	}
	changes = append(changes, change{name: "demo", patch: d, ctx: forensics.PatchContext{Workload: "sh bench.sh", Commands: []string{"sh test.sh"}}})
	// workspacetest.NewRepo wants a testing.TB: testing.Benchmark gives a
	// real one outside a test.
	var ferr error
	testing.Benchmark(func(b *testing.B) {
		dir, pre, human := workspacetest.NewRepo(b)
		d, err := git(dir, "diff", pre, human)
		if err != nil {
			ferr = err
			return
		}
		changes = append(changes, change{name: "workspacetest", patch: d, ctx: forensics.PatchContext{Workload: "sh run.sh"}})
		b.SkipNow()
	})
	if ferr != nil {
		return nil, ferr
	}
	// genrepo (internal/scripttest): its human commits, written the same way.
	g := filepath.Join(tmp, "genrepo")
	os.MkdirAll(filepath.Join(g, "src"), 0o755)
	write := func(name, s string) { os.WriteFile(filepath.Join(g, name), []byte(s), 0o644) }
	env := []string{"-c", "user.name=t", "-c", "user.email=t@example.com"}
	if _, err := git(g, "init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	write("src/slow.sh", "slow() { i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; echo $i; }\n")
	write("bench.sh", ". ./src/slow.sh\nslow\n")
	git(g, "add", "-A")
	if _, err := git(g, append(env, "commit", "-q", "-m", "base")...); err != nil {
		return nil, err
	}
	for i := range 2 {
		write("src/slow.sh", "slow() { echo 1000; }\n"+strings.Repeat("#\n", i))
		if _, err := git(g, append(env, "commit", "-q", "-am", "make it fast")...); err != nil {
			return nil, err
		}
		d, err := git(g, "show", "--format=", "HEAD")
		if err != nil {
			return nil, err
		}
		changes = append(changes, change{name: fmt.Sprintf("genrepo-%d", i), patch: d, ctx: forensics.PatchContext{Workload: "sh bench.sh"}})
	}
	return changes, nil
}
