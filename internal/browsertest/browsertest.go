// Package browsertest opens rendered pages in a real headless Chromium,
// driven over the DevTools protocol (chromedp), and reports what a reader
// would see go wrong: a console error, an uncaught exception, a resource
// that failed to load (a broken <img> or stylesheet), a document wider
// than the window, or a screenshot that is all white.
//
// Use it from a test:
//
//	browsertest.Check(t, []string{dir + "/index.html", dir + "/run.html"}, 1400)
//
// Check skips the test when no Chromium is installed (chromium,
// chromium-browser, google-chrome or google-chrome-stable on PATH), unless
// BENCH_REQUIRE_BROWSER is set, in which case it fails (CI sets it, so the
// browser tests cannot pass by skipping). Inspect is the same check
// returning the problems instead of failing a test: the package's own
// tests use it to prove each problem is detected.
//
// One browser serves all pages of a call, one tab per page, in turn. No
// network is used: pages are local files or file:// URLs, no host name
// resolves, so a page that needs anything from outside fails the check
// (the reports must work offline). Links are not followed; each page to
// check is named.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// RequireEnv names the variable that turns a missing browser from a skip
// into a failure.
const RequireEnv = "BENCH_REQUIRE_BROWSER"

// Width is the window width the report pages are checked at.
const Width = 1400

const (
	// windowHeight is the viewport's height; the screenshot covers the
	// whole document regardless.
	windowHeight = 900
	// pageTimeout bounds one page: load, settle, measure, screenshot.
	pageTimeout = 30 * time.Second
	// startTimeout bounds the browser's start.
	startTimeout = 30 * time.Second
	// maxShotHeight caps the screenshot: a very long page (an index of
	// thousands of rows) is judged on its first screens, which is where an
	// all-white page shows, without a PNG of hundreds of megapixels.
	maxShotHeight = 8000
	// nearWhite is the channel value (of 255) above which a pixel counts
	// as white: anti-aliasing and a pale background are not content.
	nearWhite = 240
)

// Kinds of problem.
const (
	KindConsole   = "console error"
	KindException = "uncaught exception"
	KindResource  = "failed resource"
	KindOverflow  = "wider than the window"
	KindBlank     = "all white"
	// KindOutOfView: an element marked data-headline is past the
	// window's right edge (hidden behind a sideways scroll).
	KindOutOfView = "headline out of view"
	KindLoad      = "not loaded"
)

// A Problem is one thing wrong with one page.
type Problem struct {
	Page   string // the page as given
	Kind   string // one of the Kind constants
	Detail string
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Page, p.Kind, p.Detail) }

var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

var (
	findOnce sync.Once
	found    string
)

// Browser returns the path of an installed Chromium, or "" when there is
// none.
func Browser() string {
	findOnce.Do(func() {
		for _, name := range candidates {
			if p, err := exec.LookPath(name); err == nil {
				found = p
				return
			}
		}
	})
	return found
}

// Available reports the browser's path and whether the test may run.
// With BENCH_REQUIRE_BROWSER set, a missing browser is an error.
func Available() (string, bool, error) {
	return decide(Browser(), os.Getenv(RequireEnv) != "")
}

// decide is Available's rule: run with a browser; without one, skip, or
// fail when one is required.
func decide(browser string, required bool) (string, bool, error) {
	switch {
	case browser != "":
		return browser, true, nil
	case required:
		return "", false, fmt.Errorf("%s is set but no browser is installed (looked for %s; apt-get install chromium)",
			RequireEnv, strings.Join(candidates, ", "))
	}
	return "", false, nil
}

// Require skips t (or fails it, with BENCH_REQUIRE_BROWSER) when no
// browser is installed, and returns the browser's path.
func Require(t testing.TB) string {
	t.Helper()
	p, ok, err := Available()
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skipf("no browser installed (apt-get install chromium; set %s=1 to fail instead)", RequireEnv)
	}
	return p
}

// Check opens every page (a file path or a URL) in one headless browser at
// width pixels wide and fails t with one error per problem. It skips t
// when no browser is installed, as Require does.
func Check(t testing.TB, pages []string, width int) {
	t.Helper()
	browser := Require(t)
	problems, err := Inspect(context.Background(), browser, pages, width)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// Inspect opens every page in a headless browser started from the binary
// at browser, one tab per page in turn, at width pixels wide, and returns
// what is wrong with them. An error means the check itself could not run
// (the browser did not start); a page that does not load is a problem.
func Inspect(ctx context.Context, browser string, pages []string, width int) ([]Problem, error) {
	if width <= 0 {
		width = Width
	}
	dataDir, err := os.MkdirTemp("", "browsertest-")
	if err != nil {
		return nil, fmt.Errorf("creating the browser's profile directory: %w", err)
	}
	defer os.RemoveAll(dataDir)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.UserDataDir(dataDir),
		chromedp.DisableGPU,
		chromedp.WindowSize(width, windowHeight),
		// Pages are local files: nothing reaches out (no name resolves), and
		// a page that tries fails its resource check at once instead of
		// waiting on a network.
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := startBrowser(browserCtx, cancelAlloc); err != nil {
		return nil, fmt.Errorf("starting %s: %w", browser, err)
	}

	var problems []Problem
	for _, pg := range pages {
		problems = append(problems, inspectPage(browserCtx, pg, width)...)
	}
	return problems, nil
}

// startBrowser starts the browser with the context it will live in (the
// first action binds its life to that context, so it cannot carry the
// timeout) and gives up after startTimeout.
func startBrowser(browserCtx context.Context, cancel context.CancelFunc) error {
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(browserCtx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(startTimeout):
		cancel()
		<-done
		return fmt.Errorf("no answer within %v", startTimeout)
	}
}

// pageURL turns a file path into a file:// URL and leaves a URL alone.
func pageURL(pg string) (string, error) {
	if strings.Contains(pg, "://") {
		return pg, nil
	}
	abs, err := filepath.Abs(pg)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}

// collector gathers a tab's problems from its events; the tab's loop calls
// it, so it only records.
type collector struct {
	mu       sync.Mutex
	page     string
	requests map[network.RequestID]string
	problems []Problem
}

func (c *collector) add(kind, detail string) {
	c.problems = append(c.problems, Problem{Page: c.page, Kind: kind, Detail: detail})
}

func (c *collector) listen(ev any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			c.add(KindConsole, "console."+string(ev.Type)+": "+argsText(ev.Args))
		}
	case *runtime.EventExceptionThrown:
		c.add(KindException, exceptionText(ev.ExceptionDetails))
	case *network.EventRequestWillBeSent:
		if ev.Request != nil {
			c.requests[ev.RequestID] = ev.Request.URL
		}
	case *network.EventLoadingFailed:
		if ev.Canceled {
			return // a navigation away, not a broken page
		}
		u := c.requests[ev.RequestID]
		if u == "" {
			u = string(ev.Type)
		}
		c.add(KindResource, u+": "+ev.ErrorText)
	case *cdplog.EventEntryAdded:
		// The browser's own errors (a blocked script, a bad stylesheet);
		// failed requests are reported once, above, by their URL.
		if e := ev.Entry; e != nil && e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork && e.NetworkRequestID == "" {
			c.add(KindConsole, string(e.Source)+": "+e.Text)
		}
	}
}

func (c *collector) taken() []Problem {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Problem(nil), c.problems...)
}

func argsText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		switch {
		case a == nil:
		case len(a.Value) > 0:
			parts = append(parts, strings.Trim(string(a.Value), `"`))
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		// The description's first line is the message; the stack follows.
		first, _, _ := strings.Cut(d.Exception.Description, "\n")
		text += " " + first
	}
	return fmt.Sprintf("%s (%s:%d:%d)", strings.TrimSpace(text), d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

// measures is what the page says of itself after load.
type measures struct {
	ScrollWidth  int64    `json:"scrollWidth"`
	InnerWidth   int64    `json:"innerWidth"`
	ScrollHeight int64    `json:"scrollHeight"`
	BrokenImages []string `json:"brokenImages"`
	Widest       string   `json:"widest"`
	// OutOfView are the elements marked data-headline (what must be on
	// the first screen) whose right edge is past the window's.
	OutOfView []string `json:"outOfView"`
}

// measureJS waits two frames (so layout and late scripts have run), then
// measures. widest names the element reaching furthest right past the
// window's edge outside any scrolling box, to say what overflows.
const measureJS = `new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => {
  const de = document.documentElement, limit = window.innerWidth;
  const clipped = el => {
    for (let a = el.parentElement; a && a !== de; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible") return true;
    }
    return false;
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "");
  let widest = "", right = limit;
  const consider = (el, r, what) => {
    if (r > right && !clipped(el)) { right = r; widest = name(el) + what + " (right edge " + Math.round(r) + " px)"; }
  };
  if (de.scrollWidth > limit && document.body) {
    for (const el of document.body.querySelectorAll("*")) consider(el, el.getBoundingClientRect().right, "");
    // Text that does not wrap overflows its element's box, not the box.
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), range = document.createRange();
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      range.selectNodeContents(n);
      consider(n.parentElement, range.getBoundingClientRect().right, "'s text");
    }
  }
  resolve({
    scrollWidth: de.scrollWidth,
    innerWidth: limit,
    scrollHeight: Math.max(de.scrollHeight, document.body ? document.body.scrollHeight : 0),
    brokenImages: [...document.images].filter(i => i.complete && i.naturalWidth === 0).map(i => i.getAttribute("src") || "(no src)"),
    widest: widest || "(not found)",
    outOfView: [...document.querySelectorAll("[data-headline]")].filter(el => el.getBoundingClientRect().right > limit).map(el => name(el) + " " + JSON.stringify(el.textContent.trim().slice(0, 40)) + " (right edge " + Math.round(el.getBoundingClientRect().right) + " px)"),
  });
})))`

func inspectPage(browserCtx context.Context, pg string, width int) []Problem {
	c := &collector{page: pg, requests: map[network.RequestID]string{}}
	u, err := pageURL(pg)
	if err != nil {
		c.add(KindLoad, err.Error())
		return c.problems
	}
	tabCtx, cancelTab := chromedp.NewContext(browserCtx, chromedp.WithListener(c.listen))
	defer cancelTab()
	ctx, cancel := context.WithTimeout(tabCtx, pageTimeout)
	defer cancel()

	m, shot, err := load(ctx, u, width)
	problems := c.taken()
	if err != nil {
		return append(problems, Problem{Page: pg, Kind: KindLoad, Detail: err.Error()})
	}
	for _, src := range m.BrokenImages {
		problems = append(problems, Problem{Page: pg, Kind: KindResource, Detail: "broken image " + src})
	}
	if m.ScrollWidth > m.InnerWidth {
		problems = append(problems, Problem{Page: pg, Kind: KindOverflow,
			Detail: fmt.Sprintf("document is %d px wide in a %d px window; widest: %s", m.ScrollWidth, m.InnerWidth, m.Widest)})
	}
	for _, el := range m.OutOfView {
		problems = append(problems, Problem{Page: pg, Kind: KindOutOfView, Detail: el})
	}
	if blank, err := allWhite(shot); err != nil {
		problems = append(problems, Problem{Page: pg, Kind: KindLoad, Detail: "screenshot: " + err.Error()})
	} else if blank {
		problems = append(problems, Problem{Page: pg, Kind: KindBlank, Detail: "no pixel of the screenshot is darker than near-white"})
	}
	return problems
}

// load opens u in the tab at the given viewport width, waits for it to
// settle, measures it and takes its screenshot.
func load(ctx context.Context, u string, width int) (measures, []byte, error) {
	var m measures
	// A new tab does not always take the window size of the flags, so the
	// viewport is set on each.
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(int64(width), windowHeight),
		chromedp.Navigate(u),
	); err != nil {
		return m, nil, fmt.Errorf("loading %s: %w", u, err)
	}
	m, err := chromedp.Run(ctx, chromedp.Evaluate[measures](measureJS, chromedp.EvalAwaitPromise))
	if err != nil {
		return m, nil, fmt.Errorf("measuring %s: %w", u, err)
	}
	height := min(max(m.ScrollHeight, 1), maxShotHeight)
	shot, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			CaptureBeyondViewport: ptr(true),
			FromSurface:           ptr(true),
			Clip:                  &page.Viewport{X: 0, Y: 0, Width: float64(width), Height: float64(height), Scale: 1},
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	})
	if err != nil {
		return m, nil, fmt.Errorf("screenshot of %s: %w", u, err)
	}
	return m, shot, nil
}

func ptr[T any](v T) *T { return &v }

// allWhite reports whether no pixel of the PNG is darker than near-white
// in any channel. A transparent pixel shows the white page beneath.
func allWhite(pngData []byte) (bool, error) {
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return false, err
	}
	b := img.Bounds()
	if b.Empty() {
		return false, errors.New("empty image")
	}
	const limit = nearWhite * 0x101 // 16-bit channels
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if a == 0 {
				continue
			}
			// Composite over white: premultiplied colour plus the white
			// that shows through.
			white := 0xffff - a
			if r+white < limit || g+white < limit || bl+white < limit {
				return false, nil
			}
		}
	}
	return true, nil
}
