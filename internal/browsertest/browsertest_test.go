package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const fine = `<!doctype html><html><head><meta charset="utf-8"><title>fine</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td{border:1px solid #999;padding:4px}</style></head>
<body><h1>A fine page</h1><table><tr><td>a</td><td>b</td></tr></table>
<script>console.log("a log line is not an error"); console.warn("nor is a warning")</script></body></html>`

// TestInspectDetects proves each check can fail: every bad page is caught
// for its own reason, and the fine one passes.
func TestInspectDetects(t *testing.T) {
	browser := Require(t)
	dir := t.TempDir()
	pages := map[string]string{
		"fine.html":      fine,
		"console.html":   `<!doctype html><html><body><h1>x</h1><script>console.error("boom from the page")</script></body></html>`,
		"exception.html": `<!doctype html><html><body><h1>x</h1><script>undefinedFunction()</script></body></html>`,
		"rejection.html": `<!doctype html><html><body><h1>x</h1><script>Promise.reject(new Error("nobody caught me"))</script></body></html>`,
		"wide.html":      `<!doctype html><html><body style="margin:0"><h1>x</h1><div style="width:1600px;height:10px;background:#333"></div></body></html>`,
		"longtext.html":  `<!doctype html><html><body><h1>x</h1><p>` + strings.Repeat("y", 400) + `</p></body></html>`,
		"scrolled.html":  `<!doctype html><html><body><h1>x</h1><div style="overflow-x:auto"><div style="width:3000px;height:10px;background:#333"></div></div></body></html>`,
		"white.html":     `<!doctype html><html><body style="background:#fff"><p style="color:#fff">invisible</p></body></html>`,
		"image.html":     `<!doctype html><html><body><h1>x</h1><img src="missing.png" alt=""></body></html>`,
		"external.html":  `<!doctype html><html><body><h1>x</h1><img src="https://example.com/logo.png" alt=""></body></html>`,
		"blocked.html":   `<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="script-src 'none'"></head><body><h1>x</h1><script>document.title = "ran"</script></body></html>`,
		"sheet.html":     `<!doctype html><html><head><link rel="stylesheet" href="missing.css"></head><body><h1>x</h1></body></html>`,
	}
	var paths []string
	for name, html := range pages {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	paths = append(paths, filepath.Join(dir, "absent.html"))

	problems, err := Inspect(context.Background(), browser, paths, Width)
	if err != nil {
		t.Fatal(err)
	}
	byPage := map[string][]Problem{}
	for _, p := range problems {
		t.Log(p)
		byPage[filepath.Base(p.Page)] = append(byPage[filepath.Base(p.Page)], p)
	}
	want := map[string]struct{ kind, detail string }{
		"console.html":   {KindConsole, "boom from the page"},
		"exception.html": {KindException, "undefinedFunction"},
		"rejection.html": {KindException, "nobody caught me"},
		"wide.html":      {KindOverflow, "1600 px wide in a 1400 px window"},
		"longtext.html":  {KindOverflow, "p's text"},
		"white.html":     {KindBlank, ""},
		"image.html":     {KindResource, "missing.png"},
		"external.html":  {KindResource, "https://example.com/logo.png: net::ERR_NAME_NOT_RESOLVED"},
		"blocked.html":   {KindConsole, "security: Executing inline script violates"},
		"sheet.html":     {KindResource, "missing.css"},
		"absent.html":    {KindLoad, "absent.html"},
	}
	for page, w := range want {
		if !slices.ContainsFunc(byPage[page], func(p Problem) bool {
			return p.Kind == w.kind && strings.Contains(p.Detail, w.detail)
		}) {
			t.Errorf("%s: want a %q problem mentioning %q, got %v", page, w.kind, w.detail, byPage[page])
		}
	}
	// A wide box inside a scrolling one does not widen the document.
	for _, page := range []string{"fine.html", "scrolled.html"} {
		if got := byPage[page]; len(got) != 0 {
			t.Errorf("%s: want no problem, got %v", page, got)
		}
	}
	// Each bad page is bad for its own reason only: the overflow page is
	// not also blank, the blank one not also wide.
	for _, page := range []string{"wide.html", "white.html", "console.html"} {
		for _, p := range byPage[page] {
			if p.Kind != want[page].kind {
				t.Errorf("%s: unexpected %v", page, p)
			}
		}
	}
}

// recorder is a testing.TB that records the errors Check reports instead
// of failing the test that runs it.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Error(args ...any) { r.errors = append(r.errors, fmt.Sprint(args...)) }

func TestCheckFailsOnlyBadPages(t *testing.T) {
	Require(t)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "fine.html"), filepath.Join(dir, "bad.html")
	if err := os.WriteFile(good, []byte(fine), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`<!doctype html><h1>x</h1><script>console.error("bad")</script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	Check(r, []string{good, bad}, Width)
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "bad.html: console error") {
		t.Errorf("Check reported %q; want one console error on bad.html", r.errors)
	}
}

func TestMissingBrowserSkipsOrFails(t *testing.T) {
	if _, ok, err := decide("", false); ok || err != nil {
		t.Errorf("no browser, not required: ok=%v err=%v; want a skip", ok, err)
	}
	if _, ok, err := decide("", true); ok || err == nil || !strings.Contains(err.Error(), RequireEnv) {
		t.Errorf("no browser, required: ok=%v err=%v; want an error naming %s", ok, err, RequireEnv)
	}
	if p, ok, err := decide("/usr/bin/chromium", true); !ok || err != nil || p != "/usr/bin/chromium" {
		t.Errorf("a browser: %q ok=%v err=%v; want it used", p, ok, err)
	}
}
