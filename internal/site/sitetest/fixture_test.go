package sitetest

import (
	"os"
	"testing"
)

func TestWriteSite(t *testing.T) {
	dir := t.TempDir()
	if d := os.Getenv("SITE_KEEP"); d != "" {
		dir = d
	}
	p, err := WriteSite(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p.Index, p.Run, p.Item} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}
