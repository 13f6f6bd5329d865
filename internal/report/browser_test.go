package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/browsertest"
)

// TestHTMLInBrowser opens the golden tests' pages (a run with every kind
// of row, a run before evaluate, report-all) and the same pages with long
// unbreakable text in every free-text field in headless Chromium at
// 1400 px: no console error or exception, nothing wider than the window,
// not a blank page. It skips without a browser unless
// BENCH_REQUIRE_BROWSER is set.
func TestHTMLInBrowser(t *testing.T) {
	browsertest.Require(t)
	dir := t.TempDir()
	pages := map[string]string{
		"report.html":       renderHTML(t, fixedReport()),
		"report_plain.html": renderHTML(t, plainReport()),
		"all.html":          renderAllHTML(t, fixedAll()),
		"report_long.html":  renderHTML(t, longReport()),
		"all_long.html":     renderAllHTML(t, longAll()),
	}
	var paths []string
	for name, html := range pages {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	browsertest.Check(t, paths, browsertest.Width)
}

// long is text with no break opportunity, wider than any window.
var long = strings.Repeat("x", 300)

// longReport is fixedReport with long unbreakable names, reasons and
// problems: the page must wrap or scroll them, not widen.
func longReport() *Report {
	r := fixedReport()
	r.RunID = "task_" + long + "__agent__model__20261125T184117Z"
	r.Task, r.Agent, r.Model = "task_"+long, "agent_"+long, "bedrock/"+long
	r.Stopped = "stopped_" + long
	r.Missing = []string{"missing_" + long, "demo-0007-s0"}
	r.Problems = append(r.Problems, "state/runs/"+long+"/journal.json:unexpected_"+long)
	for i := range r.Items {
		it := &r.Items[i]
		it.ID, it.Dir = "item_"+long, "item_"+long+"-s0"
		it.Reason = "reason_" + long
		if it.Eval != nil {
			it.Eval.Reason = "eval_reason_" + long
			it.Eval.Flags = append(it.Eval.Flags, "flag_"+long)
		}
	}
	return r
}

func longAll() *All {
	a := fixedAll()
	a.StateRoot = "/srv/" + long + "/state"
	for i := range a.Runs {
		a.Runs[i].RunID = "run_" + long
		a.Runs[i].Model = "model_" + long
	}
	a.Problems = append(a.Problems, "state/runs/"+long+":"+long)
	return a
}
