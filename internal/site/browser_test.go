package site_test

import (
	"os"
	"testing"

	"github.com/perfbench/perfbench/internal/browsertest"
	"github.com/perfbench/perfbench/internal/site/sitetest"
)

// TestSiteInBrowser opens the fixture site's index, a run page, an item
// page and a sample page of the item layout, and the index of 1,000 items × 20 runs, in headless Chromium at
// 1400 px: no console error or exception, no failed resource, nothing wider
// than the window, not a blank page. It skips without a browser unless
// BENCH_REQUIRE_BROWSER is set.
func TestSiteInBrowser(t *testing.T) {
	browsertest.Require(t)
	p, err := sitetest.WriteSite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	large, err := sitetest.WriteLargeIndex(t.TempDir(), 20, 1000)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(large)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 5<<20 {
		t.Errorf("index of 1,000 items × 20 runs is %d bytes, want under 5 MB", st.Size())
	}
	browsertest.Check(t, []string{p.Index, p.Run, p.Item, p.Sample, large}, browsertest.Width)
}
