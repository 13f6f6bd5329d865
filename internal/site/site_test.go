package site_test

import (
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/site"
	"github.com/perfbench/perfbench/internal/site/sitetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var testdataDir = func() string { d, _ := filepath.Abs("testdata"); return d }()

// writeFixture writes the fixture's state root and site into a fresh
// directory (the working directory, so paths in pages are relative) and
// returns the site's directory.
func writeFixture(t *testing.T, edit func(root string)) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := sitetest.StateRoot("state"); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit("state")
	}
	b, err := sitetest.Board("state")
	if err != nil {
		t.Fatal(err)
	}
	b.FillSubjects(sitetest.Subject)
	if err := site.Write("site", b); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "site")
}

// pages are the site's HTML files, by path relative to its root.
func pages(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIndexGolden(t *testing.T) {
	root := writeFixture(t, nil)
	got, err := os.ReadFile(filepath.Join(root, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join(testdataDir, "index.html")
	if *update {
		if err := os.MkdirAll(testdataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("index.html differs from %s (rerun with -update to accept)", golden)
	}
}

// The site has the pages it promises: the index, one page per run and
// one per item and sample, and the run pages link to the item pages.
func TestPagesWritten(t *testing.T) {
	ps := pages(t, writeFixture(t, nil))
	for _, run := range []string{"demo-replay", "demo-noop", "demo-breaker"} {
		if _, ok := ps["runs/"+run+"/index.html"]; !ok {
			t.Errorf("no page for run %s", run)
		}
		for _, it := range sitetest.Items {
			if _, ok := ps["runs/"+run+"/"+it+".html"]; !ok {
				t.Errorf("no page for item %s of %s", it, run)
			}
		}
	}
	for _, it := range sitetest.Items {
		for k := range 3 {
			if _, ok := ps[fmt.Sprintf("runs/demo-items/%s.s%d.html", it, k)]; !ok {
				t.Errorf("no page for sample %d of item %s of the item-layout run", k, it)
			}
		}
	}
	if len(ps) != 1+4+3*6+3*6 {
		t.Errorf("%d pages, want 41", len(ps))
	}
	run := ps["runs/demo-replay/index.html"]
	if !strings.Contains(run, `<a href="c1.html"><code>c1</code></a>`) || !strings.Contains(run, `<a href="../../index.html">`) {
		t.Error("the run page does not link to its items and the index")
	}
	item := ps["runs/demo-replay/c1.html"]
	for _, want := range []string{sitetest.HumanSHA(0), "perf: make c1 faster", "Make the workload of c1 faster.", `<span class="da">&#43;var x = 1`,
		"working on c1", `id="strip"`, "few_rounds", "median CI", "Mann–Whitney p", "limits hit", "P(opt_base), P(opt_commit)"} {
		if !strings.Contains(item, want) {
			t.Errorf("item page lacks %q", want)
		}
	}
	infra := ps["runs/demo-replay/c5.html"]
	if !strings.Contains(infra, "rate_limit") || !strings.Contains(infra, "retried") {
		t.Error("the infra_error item does not show its retries")
	}
}

var nonRelative = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*:|/|\\)`)

// Every href and src of every page is relative and resolves to a file of
// the site; a fragment names an id of its page.
func TestLinksResolve(t *testing.T) {
	root := writeFixture(t, nil)
	ps := pages(t, root)
	ids := map[string]map[string]bool{}
	links := map[string][]string{}
	for name, page := range ps {
		ids[name], links[name] = parsePage(t, name, page)
	}
	checked := 0
	for name, ls := range links {
		for _, l := range ls {
			checked++
			if nonRelative.MatchString(l) || strings.HasPrefix(l, "//") {
				t.Errorf("%s: link %q is not relative", name, l)
				continue
			}
			u, err := url.Parse(l)
			if err != nil {
				t.Errorf("%s: link %q: %v", name, l, err)
				continue
			}
			target := name
			if u.Path != "" {
				target = path.Join(path.Dir(name), u.Path)
				if strings.HasPrefix(target, "../") {
					t.Errorf("%s: link %q leaves the site", name, l)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(target))); err != nil {
					t.Errorf("%s: link %q: %v", name, l, err)
					continue
				}
			}
			if u.Fragment != "" {
				if targetIDs, ok := ids[target]; !ok || !targetIDs[u.Fragment] {
					t.Errorf("%s: link %q: no id %q in %s", name, l, u.Fragment, target)
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d links checked", checked)
	}
}

// parsePage parses a page as (non-strict) XML with HTML's void elements
// and entities: the site writes pages that parse so. It returns the ids
// and the href and src values.
func parsePage(t *testing.T, name, page string) (map[string]bool, []string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	ids := map[string]bool{}
	var links []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s does not parse: %v", name, err)
		}
		if e, ok := tok.(xml.StartElement); ok {
			for _, a := range e.Attr {
				switch a.Name.Local {
				case "id":
					if ids[a.Value] {
						t.Errorf("%s: duplicate id %q", name, a.Value)
					}
					ids[a.Value] = true
				case "href", "src":
					links = append(links, a.Value)
				}
			}
		}
	}
	return ids, links
}

// A patch, a log, a reason and a subject holding markup are shown as text.
func TestHostileTextInert(t *testing.T) {
	ps := pages(t, writeFixture(t, nil))
	escaped := "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
	scripts := regexp.MustCompile(`(?i)<script`)
	external := regexp.MustCompile(`(?i)<link|<iframe|<img|<object|<embed|\bsrc\s*=|url\(|@import|https?:`)
	for name, page := range ps {
		if strings.Contains(page, sitetest.Hostile) || strings.Contains(page, "</pre><b>") {
			t.Errorf("%s: hostile text not escaped", name)
		}
		if m := external.FindString(page); m != "" {
			t.Errorf("%s: external resource %q", name, m)
		}
		want := 0
		if name == "index.html" {
			want = 1 // the sorting and filtering script
		}
		if n := len(scripts.FindAllString(page, -1)); n != want {
			t.Errorf("%s: %d script elements, want %d", name, n, want)
		}
	}
	for _, name := range []string{"index.html", "runs/demo-replay/c1.html", "runs/demo-replay/c3.html", "runs/demo-breaker/c1.html", "runs/demo-replay/c5.html"} {
		if !strings.Contains(ps[name], escaped) {
			t.Errorf("%s: the hostile text is not shown escaped", name)
		}
	}
}

func TestSVGWellFormed(t *testing.T) {
	ps := pages(t, writeFixture(t, nil))
	svg := regexp.MustCompile(`(?s)<svg .*?</svg>`)
	total := 0
	for name, page := range ps {
		for i, s := range svg.FindAllString(page, -1) {
			total++
			d := xml.NewDecoder(strings.NewReader(s))
			d.Strict = true
			for {
				tok, err := d.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s svg %d is not well-formed XML: %v\n%s", name, i, err, s)
				}
				if e, ok := tok.(xml.StartElement); ok {
					for _, a := range e.Attr {
						if a.Value == "" || strings.Contains(a.Value, "NaN") || strings.Contains(a.Value, "Inf") {
							t.Errorf("%s svg %d: <%s %s=%q>", name, i, e.Name.Local, a.Name.Local, a.Value)
						}
					}
				}
			}
		}
	}
	if !strings.Contains(ps["index.html"], `id="pareto-1"`) || !strings.Contains(ps["index.html"], `id="curves-1"`) || !strings.Contains(ps["index.html"], `class="frontier"`) {
		t.Error("the index lacks the Pareto chart, its frontier or the threshold curves")
	}
	if total < 10 {
		t.Errorf("only %d svg elements", total)
	}
}

// A second site replaces the first whole; a directory that is not a site
// is left alone.
func TestReplace(t *testing.T) {
	root := writeFixture(t, nil)
	stale := filepath.Join(root, "runs", "gone", "index.html")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := sitetest.Board("state")
	if err != nil {
		t.Fatal(err)
	}
	if err := site.Write(root, b); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a stale page survived the re-run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "index.html")); err != nil {
		t.Error(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(root))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".site-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}

	mine := filepath.Join(t.TempDir(), "notes")
	if err := os.MkdirAll(mine, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mine, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = site.Write(mine, b)
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "not a site written by bench compare") {
		t.Errorf("want bad input refusing to replace a directory of other files, got %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(mine, "keep.txt")); err != nil || string(data) != "mine" {
		t.Errorf("the user's file was touched: %q %v", data, err)
	}
}

// A huge patch and log are cut, with a note, and the page stays small.
func TestBoundedReads(t *testing.T) {
	root := writeFixture(t, func(state string) {
		item := filepath.Join(state, "runs", "demo-replay", "c2")
		huge := "diff --git a/b.go b/b.go\n" + strings.Repeat("+x\n", 200_000)
		if err := os.WriteFile(filepath.Join(item, "model_patch.diff"), []byte(huge), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(item, "command_stdout.txt"), []byte(strings.Repeat("line of output\n", 200_000)+"the last line\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// A link planted by an agent is not followed.
		if err := os.Remove(filepath.Join(item, "command_stderr.txt")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/etc/passwd", filepath.Join(item, "command_stderr.txt")); err != nil {
			t.Fatal(err)
		}
	})
	page, err := os.ReadFile(filepath.Join(root, "runs", "demo-replay", "c2.html"))
	if err != nil {
		t.Fatal(err)
	}
	p := string(page)
	if len(page) > 600<<10 {
		t.Errorf("page of %d bytes", len(page))
	}
	for _, want := range []string{"truncated: the first", "more lines not shown", "of 3000014 bytes", "the last line"} {
		if !strings.Contains(p, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(p, "root:") {
		t.Error("a symbolic link was followed")
	}
}

// With samples, a cell is compare's aggregate of an item's samples (the
// worst one's status, how many were correct) and each sample has its
// page, linked to the others.
func TestSamples(t *testing.T) {
	ps := pages(t, writeFixture(t, func(state string) {
		if err := sitetest.SampledRun(state); err != nil {
			t.Fatal(err)
		}
	}))
	index := ps["index.html"]
	if !strings.Contains(index, `<td class="c-correctness_failed"><a href="runs/demo-sampled/c1.s0.html">correctness_failed</a> <small>1/2 correct</small></td>`) {
		t.Error("the sampled run's cell does not aggregate its samples")
	}
	s1 := ps["runs/demo-sampled/c1.s1.html"]
	if !strings.Contains(s1, `<a href="c1.s0.html">sample 0</a>`) || !strings.Contains(s1, "<b>sample 1</b>") || !strings.Contains(s1, "correctness_failed over the 2 samples (1 correct)") {
		t.Error("a sample's page does not link to the other samples")
	}
}

// The item layout (one eval.json per item holding the K candidates): the
// cell aggregates the candidates, each sample's page shows its own
// candidate against the item's one baseline and human.
func TestItemLayoutPages(t *testing.T) {
	ps := pages(t, writeFixture(t, nil))
	index := ps["index.html"]
	if !strings.Contains(index, `<td class="c-correctness_failed"><a href="runs/demo-items/c1.s0.html">correctness_failed</a> <small>1/3 correct</small></td>`) {
		t.Error("the item-layout run's cell does not aggregate its candidates")
	}
	if !strings.Contains(index, `<a href="runs/demo-items/c6.s0.html">not_evaluated</a>`) {
		t.Error("c6 of the item-layout run is not shown as not evaluated")
	}
	s0, s1, s2 := ps["runs/demo-items/c1.s0.html"], ps["runs/demo-items/c1.s1.html"], ps["runs/demo-items/c1.s2.html"]
	if !strings.Contains(s0, "Raw samples per arm") || !strings.Contains(s0, "<b>sample 0</b>") {
		t.Error("sample 0's page lacks its raw samples")
	}
	if !strings.Contains(s1, "correctness command exited with status 1") || strings.Contains(s1, "<script>alert") {
		t.Error("sample 1's page lacks its own failure (escaped)")
	}
	if !strings.Contains(s2, "empty_patch") {
		t.Error("sample 2's page does not say its patch was empty")
	}
}

// report-all's page gets the same leaderboard, linking nowhere (it is one
// file).
func TestLeaderboardEmbed(t *testing.T) {
	writeFixture(t, nil)
	b, err := sitetest.Board("state")
	if err != nil {
		t.Fatal(err)
	}
	e, err := site.Leaderboard(b)
	if err != nil {
		t.Fatal(err)
	}
	h := string(e.HTML)
	if !strings.Contains(h, "<code>demo-replay</code>") || !strings.Contains(h, "ΔOpt@1") || strings.Contains(h, "href=") {
		t.Errorf("leaderboard fragment: %s", h)
	}
	if e.CSS == "" || e.JS == "" {
		t.Error("the fragment lacks its style or script")
	}
}
