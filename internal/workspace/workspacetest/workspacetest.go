// Package workspacetest builds small git repositories for tests of packages
// that need a task repository: a history with a "pre" commit and a "human"
// commit on top of it that adds a file with unique content.
package workspacetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/gitx"
)

// Paths in the repository NewRepo makes.
const (
	// HumanOnlyFile is added by the human commit; its content holds a
	// random token (see HumanToken) that exists nowhere else.
	HumanOnlyFile = "src/fast.go"
	// HumanModifiedFile is changed by the human commit.
	HumanModifiedFile = "src/main.go"
	// BinaryFile is a binary file (NUL bytes, random content) in pre.
	BinaryFile = "assets/data.bin"
	// ScriptFile is an executable in pre.
	ScriptFile = "scripts/run.sh"
	// IgnoredPattern is a .gitignore pattern in pre ("*.log").
	IgnoredPattern = "*.log"
)

// Git runs git in dir for a test, failing it on error, and returns trimmed
// stdout.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := (&gitx.Git{Dir: dir, Env: []string{
		"GIT_AUTHOR_NAME=Test Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Author", "GIT_COMMITTER_EMAIL=author@example.com",
	}}).Run(context.Background(), args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return strings.TrimSpace(string(out))
}

// WriteFile writes content to dir/rel, making parent directories.
func WriteFile(t testing.TB, dir, rel, content string, perm os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
}

// Commit stages everything in dir and commits it with message; it returns
// the new commit's sha.
func Commit(t testing.TB, dir, message string) string {
	t.Helper()
	Git(t, dir, "add", "-A")
	Git(t, dir, "commit", "-q", "--no-verify", "-m", message)
	return Git(t, dir, "rev-parse", "HEAD")
}

func random(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// NewRepo creates a repository in a fresh t.TempDir() and returns its path,
// the pre commit and the human commit (pre's only child, at HEAD of main).
//
// History: an initial commit with a README, Go sources in a subdirectory, a
// binary file, an executable script and a .gitignore; the pre commit, which
// edits the README and adds docs; the human commit, which adds
// HumanOnlyFile (holding a random token) and modifies HumanModifiedFile.
func NewRepo(t testing.TB) (dir, pre, human string) {
	t.Helper()
	dir = t.TempDir()
	Git(t, dir, "init", "-q", "--template=", "--initial-branch=main")
	WriteFile(t, dir, "README.md", "# demo\n\nA small project.\n", 0o644)
	WriteFile(t, dir, ".gitignore", IgnoredPattern+"\nbuild/\n", 0o644)
	WriteFile(t, dir, HumanModifiedFile, "package main\n\nfunc main() {\n\tprintln(slow())\n}\n", 0o644)
	WriteFile(t, dir, "src/util/slow.go", "package main\n\nfunc slow() int {\n\tn := 0\n\tfor i := 0; i < 1e9; i++ {\n\t\tn += i\n\t}\n\treturn n\n}\n", 0o644)
	bin := append([]byte{0, 1, 2, 0, 'P', 'K', 0}, random(t, 2048)...)
	WriteFile(t, dir, BinaryFile, string(bin), 0o644)
	WriteFile(t, dir, ScriptFile, "#!/bin/sh\nexec go run ./src\n", 0o755)
	Commit(t, dir, "initial import")

	WriteFile(t, dir, "README.md", "# demo\n\nA small project that is slow.\n", 0o644)
	WriteFile(t, dir, "docs/notes.txt", "notes\n", 0o644)
	pre = Commit(t, dir, "docs: describe the project")

	WriteFile(t, dir, HumanOnlyFile, "package main\n\n// "+"HUMAN-ONLY-"+hex.EncodeToString(random(t, 16))+"\nfunc fast() int { return 499999999500000000 }\n", 0o644)
	WriteFile(t, dir, HumanModifiedFile, "package main\n\nfunc main() {\n\tprintln(fast())\n}\n", 0o644)
	human = Commit(t, dir, "perf: compute the sum in closed form")
	return dir, pre, human
}

// HumanToken returns the unique token of HumanOnlyFile in the repository
// NewRepo made: a string that appears in no other file or commit.
func HumanToken(t testing.TB, dir, human string) string {
	t.Helper()
	content := Git(t, dir, "show", human+":"+HumanOnlyFile)
	i := strings.Index(content, "HUMAN-ONLY-")
	if i < 0 {
		t.Fatalf("no token in %s", HumanOnlyFile)
	}
	return content[i : i+len("HUMAN-ONLY-")+32]
}
