package layers_test

import (
	"fmt"
	"maps"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/perfbench/perfbench/"

// The rule, also in docs/design.md ("Packages and layers"). Paths are
// relative to the module; "*" matches one path element, and an exact
// path wins over a pattern.
var (
	// leaves may be imported by every package and import only leaves:
	// the records and their storage, the statistics, the file system
	// helpers, the secret set, the bad-input mark, small text, the
	// forensic scans (pure: config validates reject_flags against their
	// rules, prepare and evaluate run them).
	leaves = []string{
		"internal/records",
		"internal/journal",
		"internal/stats",
		"internal/fsx",
		"internal/secrets",
		"internal/badinput",
		"internal/textx",
		"internal/procfs",
		"internal/shard",
		"internal/forensics",
	}
	// stages in the order data flows: a stage imports leaves and earlier
	// stages only. The tools (git, processes) come first; the rollout is
	// prompt → container → agent → the adapters → their list → prepare; doctor
	// checks what the rollout and the evaluation will use.
	stages = []string{
		"internal/gitx",
		"internal/proc",
		"internal/config",
		"internal/plan",
		"internal/workspace",
		"internal/prompt",
		"internal/container",
		"internal/envbuild",
		"internal/agent",
		"internal/agent/*",
		"internal/agent/all",
		"internal/doctor",
		"internal/prepare",
		"internal/evaluate",
		"internal/calibrate",
		"internal/k8s",
		"internal/slurm",
	}
	// readers read the records, whatever stage wrote the files: they
	// import leaves and earlier readers only (like stages, in order). The
	// site composes the two views before it: report's run pages and
	// compare's leaderboard.
	readers = []string{
		"internal/progress",
		"internal/report",
		"internal/compare",
		"internal/export",
		"internal/site",
	}
	// top packages may import everything, and no leaf, stage or reader
	// imports them: the CLI, its example, and the test support (stand-in
	// agents, fixtures, the testscript driver, the browser check).
	top = []string{
		"cmd/*",
		"internal/cli",
		"internal/demo",
		"internal/scripttest",
		"internal/agent/*/standin",
		"internal/evaluate/evaltest",
		"internal/envbuild/envtest",
		"internal/workspace/workspacetest",
		"internal/browsertest",
		"internal/site/sitetest",
		"internal/export/atiftest",
		"internal/slurm/slurmtest",
		"internal/layers",
	}
)

type class int

const (
	undeclared class = iota
	leaf
	stage
	reader
	topClass
)

// rule places packages: the class and, for a stage, its rank.
type rule struct {
	exact    map[string]place
	patterns []patternPlace
}

type place struct {
	class class
	rank  int
	entry string
}

type patternPlace struct {
	pattern string
	place
}

func newRule(leaves, stages, readers, top []string) *rule {
	r := &rule{exact: map[string]place{}}
	add := func(entry string, p place) {
		if strings.Contains(entry, "*") {
			r.patterns = append(r.patterns, patternPlace{entry, p})
		} else {
			r.exact[entry] = p
		}
	}
	for _, e := range leaves {
		add(e, place{class: leaf})
	}
	for i, e := range stages {
		add(e, place{class: stage, rank: i, entry: e})
	}
	for i, e := range readers {
		add(e, place{class: reader, rank: i, entry: e})
	}
	for _, e := range top {
		add(e, place{class: topClass})
	}
	return r
}

func (r *rule) place(pkg string) place {
	if p, ok := r.exact[pkg]; ok {
		return p
	}
	for _, p := range r.patterns {
		if ok, _ := path.Match(p.pattern, pkg); ok {
			return p.place
		}
	}
	return place{}
}

// violations checks a graph: each package of the module (relative path)
// with the packages of the module it imports.
func (r *rule) violations(graph map[string][]string) []string {
	var out []string
	for _, pkg := range slices.Sorted(maps.Keys(graph)) {
		from := r.place(pkg)
		if from.class == undeclared {
			out = append(out, fmt.Sprintf("%s is neither a leaf, a stage, a reader nor a top package: declare it in internal/layers and docs/design.md", pkg))
			continue
		}
		for _, imp := range graph[pkg] {
			to := r.place(imp)
			ok := false
			switch from.class {
			case topClass:
				ok = true
			case leaf:
				ok = to.class == leaf
			case reader:
				ok = to.class == leaf || to.class == reader && to.rank < from.rank
			case stage:
				ok = to.class == leaf || to.class == stage && to.rank < from.rank
			}
			if !ok {
				out = append(out, fmt.Sprintf("%s (%s) imports %s (%s)", pkg, describe(from), imp, describe(to)))
			}
		}
	}
	for e := range r.exact {
		if _, ok := graph[e]; !ok {
			out = append(out, fmt.Sprintf("%s is declared but is no package of the module", e))
		}
	}
	slices.Sort(out)
	return out
}

func describe(p place) string {
	switch p.class {
	case leaf:
		return "a leaf"
	case stage:
		return fmt.Sprintf("stage %d, %s", p.rank, p.entry)
	case reader:
		return fmt.Sprintf("reader %d, %s", p.rank, p.entry)
	case topClass:
		return "a top package"
	}
	return "undeclared"
}

// moduleGraph lists the module's packages and their imports inside the
// module (not those of test files: a test may use any package).
func moduleGraph(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, ok := strings.CutPrefix(f[0], module)
		if !ok {
			t.Fatalf("go list: %s is outside %s", f[0], module)
		}
		graph[pkg] = []string{}
		for _, imp := range f[1:] {
			if rel, ok := strings.CutPrefix(imp, module); ok {
				graph[pkg] = append(graph[pkg], rel)
			}
		}
	}
	return graph
}

// TestImportDirection: data flows one way (docs/design.md); storage and
// reports import no engine.
func TestImportDirection(t *testing.T) {
	graph := moduleGraph(t)
	if len(graph) < 20 {
		t.Fatalf("go list found %d packages; expected the whole module", len(graph))
	}
	for _, v := range newRule(leaves, stages, readers, top).violations(graph) {
		t.Error(v)
	}
}

// TestRuleCatchesViolations: the checker reports each kind of breach.
func TestRuleCatchesViolations(t *testing.T) {
	r := newRule([]string{"internal/records", "internal/journal"},
		[]string{"internal/config", "internal/agent", "internal/agent/*", "internal/prepare", "internal/evaluate"},
		[]string{"internal/report", "internal/compare"},
		[]string{"internal/cli", "internal/agent/*/standin"})
	ok := map[string][]string{
		"internal/records":         {},
		"internal/journal":         {"internal/records"},
		"internal/config":          {"internal/records"},
		"internal/agent":           {"internal/config", "internal/records"},
		"internal/agent/x":         {"internal/agent", "internal/config"},
		"internal/agent/x/standin": {"internal/cli"},
		"internal/prepare":         {"internal/agent/x", "internal/journal"},
		"internal/evaluate":        {"internal/journal", "internal/config"},
		"internal/report":          {"internal/journal", "internal/records"},
		"internal/compare":         {"internal/report", "internal/records"},
		"internal/cli":             {"internal/report", "internal/evaluate", "internal/prepare"},
	}
	if v := r.violations(ok); len(v) > 0 {
		t.Fatalf("a graph that keeps the rule: %q", v)
	}
	for _, tc := range []struct {
		name string
		edit func(g map[string][]string)
		want string
	}{
		{"reader imports a stage", func(g map[string][]string) { g["internal/report"] = append(g["internal/report"], "internal/evaluate") },
			"internal/report (reader 0, internal/report) imports internal/evaluate (stage 4"},
		{"reader imports a later reader", func(g map[string][]string) { g["internal/report"] = append(g["internal/report"], "internal/compare") },
			"internal/report (reader 0, internal/report) imports internal/compare (reader 1"},
		{"leaf imports a stage", func(g map[string][]string) { g["internal/journal"] = append(g["internal/journal"], "internal/agent") },
			"internal/journal (a leaf) imports internal/agent (stage 1"},
		{"stage imports a later stage", func(g map[string][]string) { g["internal/config"] = append(g["internal/config"], "internal/prepare") },
			"internal/config (stage 0, internal/config) imports internal/prepare"},
		{"stage imports itself through a pattern", func(g map[string][]string) { g["internal/agent/y"] = []string{"internal/agent/x"} },
			"internal/agent/y (stage 2, internal/agent/*) imports internal/agent/x"},
		{"stage imports a top package", func(g map[string][]string) {
			g["internal/agent/x"] = append(g["internal/agent/x"], "internal/agent/x/standin")
		},
			"imports internal/agent/x/standin (a top package)"},
		{"undeclared package", func(g map[string][]string) { g["internal/newthing"] = nil },
			"internal/newthing is neither a leaf"},
		{"declared package gone", func(g map[string][]string) { delete(g, "internal/evaluate"); g["internal/cli"] = nil },
			"internal/evaluate is declared but is no package"},
	} {
		g := map[string][]string{}
		for k, v := range ok {
			g[k] = slices.Clone(v)
		}
		tc.edit(g)
		v := r.violations(g)
		if len(v) != 1 || !strings.Contains(v[0], tc.want) {
			t.Errorf("%s: violations %q, want one containing %q", tc.name, v, tc.want)
		}
	}
}
