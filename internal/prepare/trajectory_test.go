package prepare

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/records"
)

// A large log is read only at its ends, and the excerpt is bounded.
func TestLogExcerpt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "command_stdout.txt")
	big := "git log --all\n" + strings.Repeat("noise\n", 1<<20) + "git fetch upstream\n"
	if err := os.WriteFile(path, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	text, err := logExcerpt(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(text) > records.MaxStepTextBytes || !strings.HasPrefix(text, "git log --all\n") || !strings.HasSuffix(text, "git fetch upstream\n") || !strings.Contains(text, "not read") {
		t.Fatalf("%d bytes: %q ... %q", len(text), text[:40], text[len(text)-40:])
	}
	small := filepath.Join(dir, "small.txt")
	os.WriteFile(small, []byte("hello\n"), 0o644)
	if text, err := logExcerpt(small); err != nil || text != "hello\n" {
		t.Fatalf("%q %v", text, err)
	}
	if _, err := logExcerpt(filepath.Join(dir, "none")); !os.IsNotExist(err) {
		t.Fatalf("missing log: %v", err)
	}
}
