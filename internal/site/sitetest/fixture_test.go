package sitetest

import (
	"os"
	"strings"
	"testing"
)

// WriteSite gives the browser test three pages that exist.
func TestWriteSite(t *testing.T) {
	p, err := WriteSite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p.Index, p.Run, p.Item} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}

// WriteLargeIndex writes an index of every kind of cell (at scale in the
// browser test; the size at 1,000 × 20 is site's TestIndexSize).
func TestWriteLargeIndex(t *testing.T) {
	index, err := WriteLargeIndex(t.TempDir(), 3, 20)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"c-win", "c-match", "c-loss", "c-inconclusive", "c-missing", "c-infra_error", "c-correctness_failed", "large-0019"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("index lacks %q", want)
		}
	}
}
