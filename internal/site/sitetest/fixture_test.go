package sitetest

import (
	"os"
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
