package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
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

const evil = `<script>alert(1)</script>`

func sp(ratio, lo, hi float64, sig bool) *Speedup {
	return &Speedup{Ratio: ratio, Valid: true, Lo: lo, Hi: hi, CIValid: lo > 0, Method: "bootstrap", P: 0.01, Significant: sig}
}

// fixedReport is an evaluated run with every kind of row: timed items with
// each verdict, a failed evaluation, an item that was not evaluated (with
// a hostile reason), an external patch and two samples of one item.
func fixedReport() *Report {
	ok := func(human, agent, lo, hi float64, verdict string, sig bool) *ItemEval {
		return &ItemEval{
			Status: "success", Metric: "wall", Better: "lower", Rounds: 10,
			BaseMedian: 2, HumanMedian: 2 / human, AgentMedian: 2 / agent,
			HumanSpeedup: sp(human, human*0.95, human*1.05, true), AgentSpeedup: sp(agent, lo, hi, sig),
			AgentOverHuman: sp(agent/human, 0, 0, sig), Verdict: verdict, Significant: sig,
			Patched: true, Correct: true, OptBase: agent >= 1.2, OptCommit: agent >= 1.2 && agent >= 0.95*human,
		}
	}
	r := &Report{
		SchemaVersion: SchemaVersion, RunID: "demo__openhands__anthropic-claude-x__20261125T184117Z", RunDir: "state/runs/x",
		Task: "demo", Agent: "openhands", AgentType: "openhands", Model: "anthropic/claude-x", Samples: 2, Total: 8,
		Counts:       map[string]int{"success": 4, "agent_error": 1, "timeout": 1, "external": 1, "weird&status": 1},
		Missing:      []string{"demo-0005-s1"},
		TotalCostUSD: 1.2345, SpentUSD: 1.5, MaxTotalBudgetUSD: 5, Stopped: "max_total_budget_usd reached",
		FinalStates: map[string]int{"finished": 4, "max_iterations": 1},
		LimitsHit:   map[string]int{"timeout": 1, "memory": 1},
		InfraKinds:  map[string]int{"rate_limit": 2},
		OOMKilled:   1, PartialUsage: 1,
		Items: []Item{
			{ID: "demo-0000", Sample: 0, Dir: "demo-0000-s0", Status: "success", DurationSeconds: 61.25, LinesAdded: 12, LinesRemoved: 3, FilesChanged: 2, CostUSD: 0.4, InputTokens: 120000, OutputTokens: 3000, Turns: 17,
				Eval: ok(2.0, 2.4, 2.2, 2.6, "win", true)},
			{ID: "demo-0000", Sample: 1, Dir: "demo-0000-s1", Status: "success", DurationSeconds: 45, LinesAdded: 4, LinesRemoved: 4, FilesChanged: 1, CostUSD: 0.3, Turns: 9,
				Eval: ok(2.0, 1.9, 1.7, 2.1, "match", false)},
			{ID: "demo-0002", Sample: 0, Dir: "demo-0002-s0", Status: "success", DurationSeconds: 30, LinesAdded: 1, FilesChanged: 1, CostUSD: 0.2,
				Eval: ok(8.0, 0.97, 0.9, 1.03, "loss", true)},
			{ID: "demo-0001", Sample: 0, Dir: "demo-0001-s0", Status: "success", DurationSeconds: 12, LinesAdded: 2, FilesChanged: 1, CostUSD: 0.1,
				Eval: &ItemEval{Status: "correctness_failed", Reason: "correctness command exited with status 1", Metric: "wall"}},
			{ID: "demo-0001", Sample: 1, Dir: "demo-0001-s1", Status: "agent_error", Reason: evil + " & more", DurationSeconds: 3, CostUSD: 0.2345},
			{ID: "demo-0003", Sample: 0, Dir: "demo-0003-s0", Status: "timeout", Reason: "wall-clock limit 30m0s", DurationSeconds: 1800,
				Eval: &ItemEval{Status: "success", Flags: []string{"empty_patch", "noisy"}, Metric: "ops/s",
					HumanSpeedup: sp(1.3, 1.2, 1.4, true), AgentSpeedup: sp(1, 0.98, 1.02, false), Verdict: "loss", Significant: true}},
			{ID: "demo-0004", Sample: 0, Dir: "demo-0004-s0", Status: "external", LinesAdded: 7, LinesRemoved: 1, FilesChanged: 1,
				Eval: ok(1.5, 1.6, 1.45, 1.8, "match", true)},
			{ID: "demo-0005", Sample: 0, Dir: "demo-0005-s0", Status: "weird&status", Reason: "\"quoted\" 'single'"},
		},
		Evaluation: &EvalSummary{
			Evaluated: 6, Units: 8, Counts: map[string]int{"success": 5, "correctness_failed": 1},
			PatchRate: 5.0 / 6, Patched: 5, CorrectRate: 4.0 / 6, Correct: 4, GatePassed: 5, GateReached: 6,
			OptAt1: 0.375, OptBaseAt1: 0.5, Win: 1, Match: 2, Loss: 2, MatchSignificant: 1,
			PassAtK: []KValue{{1, 0.75}, {2, 1}}, OptAtK: []KValue{{1, 0.375}, {2, 0.5}}, OptBaseAtK: []KValue{{1, 0.5}, {2, 0.75}},
		},
		Problems: []string{"demo-0006-s0/journal.json: unexpected end of JSON input"},
	}
	r.SampleItems = sampleItems(r.Items, r.Samples)
	return r
}

// plainReport is a run before evaluate, without cost.
func plainReport() *Report {
	return &Report{
		SchemaVersion: SchemaVersion, RunID: "rep__twice__-__20261125T184117Z", Task: "rep", Agent: "twice", AgentType: "command",
		Samples: 1, Total: 2, Counts: map[string]int{"success": 1, "agent_error": 1}, Missing: []string{},
		Items: []Item{
			{ID: "rep-0000", Dir: "rep-0000", Status: "success", DurationSeconds: 0.2, LinesAdded: 2, FilesChanged: 1},
			{ID: "rep-0001", Dir: "rep-0001", Status: "agent_error", Reason: "agent exited with status 3", DurationSeconds: 0.1},
		},
	}
}

func fixedAll() *All {
	return &All{
		SchemaVersion: SchemaVersion, StateRoot: "state",
		Runs: []RunSummary{
			{RunID: "demo__openhands__m__20261125T184117Z", Task: "demo", Agent: "openhands", Model: "m", CreatedAt: "2026-11-25 18:41:17Z",
				Total: 4, Counts: map[string]int{"success": 2, "timeout": 1, "infra_error": 1}, Missing: 1, TotalCostUSD: 0.75},
			{RunID: "demo__noop__-__20261124T100000Z", Task: "demo", Agent: "noop", CreatedAt: "2026-11-24 10:00:00Z",
				Total: 2, Counts: map[string]int{"no_patch": 2}},
		},
		Problems: []string{"state/runs/bad: " + evil},
	}
}

func renderHTML(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func renderAllHTML(t *testing.T, a *All) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteAllHTML(&b, a); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHTMLGolden(t *testing.T) {
	golden(t, "report.html", renderHTML(t, fixedReport()))
	golden(t, "report_plain.html", renderHTML(t, plainReport()))
	golden(t, "all.html", renderAllHTML(t, fixedAll()))
}

func TestHTMLSelfContainedAndEscaped(t *testing.T) {
	pages := map[string]string{
		"report": renderHTML(t, fixedReport()),
		"plain":  renderHTML(t, plainReport()),
		"all":    renderAllHTML(t, fixedAll()),
		"empty":  renderAllHTML(t, &All{StateRoot: "state"}),
	}
	external := regexp.MustCompile(`(?i)<script|<link|<iframe|<img|<object|<embed|\bsrc\s*=|\bhref\s*=|url\(|@import|https?:|//[a-z0-9.-]+\.[a-z]{2,}/`)
	for name, page := range pages {
		if m := external.FindString(page); m != "" {
			t.Errorf("%s: external resource or script: %q", name, m)
		}
		if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "<style>") {
			t.Errorf("%s: not a styled HTML page", name)
		}
	}
	for _, name := range []string{"report", "all"} {
		if !strings.Contains(pages[name], "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the hostile text is not shown escaped", name)
		}
	}
	if strings.Contains(pages["report"], "weird&status") || !strings.Contains(pages["report"], "weird&amp;status") {
		t.Error("an unknown status is not escaped")
	}
}

// svgs returns every <svg>...</svg> of a page.
func svgs(page string) []string {
	return regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
}

func TestHTMLSVGWellFormed(t *testing.T) {
	for name, tc := range map[string]struct {
		page string
		want int
	}{
		"report": {renderHTML(t, fixedReport()), 4}, // spend meter, status, speedup, cost
		"plain":  {renderHTML(t, plainReport()), 1}, // status only
		"all":    {renderAllHTML(t, fixedAll()), 2}, // one bar per run
	} {
		list := svgs(tc.page)
		if len(list) != tc.want {
			t.Errorf("%s: %d svg elements, want %d", name, len(list), tc.want)
		}
		for i, s := range list {
			d := xml.NewDecoder(strings.NewReader(s))
			d.Strict = true
			depth, elems := 0, 0
			for {
				tok, err := d.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s svg %d is not well-formed XML: %v\n%s", name, i, err, s)
				}
				switch e := tok.(type) {
				case xml.StartElement:
					if depth == 0 && e.Name.Local != "svg" {
						t.Errorf("%s svg %d: root %s", name, i, e.Name.Local)
					}
					for _, a := range e.Attr {
						if a.Value == "" || strings.Contains(a.Value, "NaN") || strings.Contains(a.Value, "Inf") {
							t.Errorf("%s svg %d: <%s %s=%q>", name, i, e.Name.Local, a.Name.Local, a.Value)
						}
					}
					depth++
					elems++
				case xml.EndElement:
					depth--
				}
			}
			if depth != 0 || elems < 2 {
				t.Errorf("%s svg %d: depth %d, %d elements", name, i, depth, elems)
			}
		}
	}
}

func TestHTMLSpeedupChart(t *testing.T) {
	page := renderHTML(t, fixedReport())
	chart := ""
	for _, s := range svgs(page) {
		if strings.Contains(s, `id="chart-speedup"`) {
			chart = s
		}
	}
	if chart == "" {
		t.Fatal("no speedup chart")
	}
	// Rows by item id, then sample; gaps labelled; the 1x line; verdicts.
	order := []string{"demo-0000-s0", "demo-0000-s1", "demo-0001-s0", "demo-0001-s1", "demo-0002-s0", "demo-0003-s0", "demo-0004-s0", "demo-0005-s0"}
	last := -1
	for _, id := range order {
		i := strings.Index(chart, ">"+id+"</text>")
		if i < 0 || i < last {
			t.Errorf("row %s missing or out of order", id)
		}
		last = i
	}
	for _, want := range []string{
		"eval correctness_failed: correctness command exited with status 1",
		"not evaluated (rollout agent_error)",
		`class="ref"`, ">1×</text>",
		`class="agent v-win"`, `class="agent v-loss"`, `class="agent v-match"`,
		">match (no significant difference)</text>", ">match (within ±5%)</text>", ">win</text>", ">loss</text>",
		"demo-0000-s0 agent/base 2.40x [2.20, 2.60]",
	} {
		if !strings.Contains(chart, want) {
			t.Errorf("speedup chart lacks %q", want)
		}
	}
	// No evaluation, no cost: neither chart.
	plain := renderHTML(t, plainReport())
	if strings.Contains(plain, "chart-speedup") || strings.Contains(plain, "chart-cost") || !strings.Contains(plain, "chart-status") {
		t.Error("plain report: wrong set of charts")
	}
}

func TestFitLabel(t *testing.T) {
	long := strings.Repeat("x", 50) + "-0001"
	if got := fitLabel(long, maxLabel); got != strings.Repeat("x", 36)+"…" {
		t.Errorf("fitLabel = %q", got)
	}
	if l := label(maxLabel, 10, maxLabel, long); l.Tip != long {
		t.Errorf("a shortened label has no tooltip: %+v", l)
	}
	if l := label(maxLabel, 10, maxLabel, "demo-0001"); l.Text != "demo-0001" || l.Tip != "" {
		t.Errorf("short label: %+v", l)
	}
}

func TestLogTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{1 / 1.2, 1.2, "0.9× 1× 1.1× 1.2×"},
		{0.5, 10, "0.5× 1× 2× 5× 10×"},
		{0.001, 1000, "0.001× 0.01× 0.1× 1× 10× 100× 1000×"},
	} {
		var got []string
		for _, v := range logTicks(tc.lo, tc.hi, 440, 44) {
			got = append(got, tickLabel(v))
		}
		if s := strings.Join(got, " "); s != tc.want {
			t.Errorf("logTicks(%g, %g) = %s, want %s", tc.lo, tc.hi, s, tc.want)
		}
	}
}

// In a site, the run page links back to the index and to each item's
// page; nothing else changes.
func TestHTMLLinked(t *testing.T) {
	var b bytes.Buffer
	err := WriteHTMLLinked(&b, fixedReport(), Links{Up: "../../index.html", Item: func(dir string) string {
		if dir == "demo-0000-s0" {
			return "demo-0000-s0.html"
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<nav><a href="../../index.html">← leaderboard</a></nav>`, `<td><a href="demo-0000-s0.html"><code>demo-0000-s0</code></a></td>`, `<td><code>demo-0000-s1</code></td>`} {
		if !strings.Contains(page, want) {
			t.Errorf("linked page lacks %q", want)
		}
	}
	if strings.Count(page, "href=") != 2 {
		t.Errorf("want 2 links, got %d", strings.Count(page, "href="))
	}
}

// report-all's page embeds the leaderboard another package rendered, with
// its style and script; without it the page has neither.
func TestAllHTMLEmbed(t *testing.T) {
	a := fixedAll()
	a.Leaderboard = &Embed{CSS: ".lb{color:red}", HTML: `<table class="lb"><tr><td>row</td></tr></table>`, JS: "void 0;"}
	page := renderAllHTML(t, a)
	for _, want := range []string{"<style>\n.lb{color:red}</style>", `<section id="leaderboard">`, `<table class="lb"><tr><td>row</td></tr></table>`, "<script>void 0;</script>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if plain := renderAllHTML(t, fixedAll()); strings.Contains(plain, "leaderboard") || strings.Contains(plain, "<script") {
		t.Error("a page without a leaderboard shows one")
	}
}
