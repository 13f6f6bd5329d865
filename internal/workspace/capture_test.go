package workspace_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/workspace"
	wt "github.com/perfbench/perfbench/internal/workspace/workspacetest"
)

// pythonArtefacts writes what running Python and its tools leaves behind.
func pythonArtefacts(t *testing.T, dir string) {
	wt.WriteFile(t, dir, "src/__pycache__/slow.cpython-312.pyc", "\x00\x01pyc", 0o644)
	wt.WriteFile(t, dir, "src/util/helper.pyc", "\x00\x02pyc", 0o644)
	wt.WriteFile(t, dir, "top.pyo", "\x00\x03pyo", 0o644)
	wt.WriteFile(t, dir, ".pytest_cache/v/cache/lastfailed", "{}\n", 0o644)
	wt.WriteFile(t, dir, ".mypy_cache/3.12/x.json", "{}\n", 0o644)
	wt.WriteFile(t, dir, ".ruff_cache/0.1/y", "z\n", 0o644)
	wt.WriteFile(t, dir, "pkg.egg-info/PKG-INFO", "Name: pkg\n", 0o644)
}

func TestCaptureExcludesArtefacts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	w := f.create(t)
	pythonArtefacts(t, w.Dir)
	p, err := w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir(), Exclude: config.DefaultPatchExclude})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() || len(p.Files) != 0 {
		t.Errorf("artefacts only: patch not empty: files %q\n%s", p.Files, p.Diff)
	}
	if p.ExcludedCount != 7 || len(p.Excluded) != 7 || !slices.Contains(p.Excluded, "src/__pycache__/slow.cpython-312.pyc") {
		t.Errorf("excluded = %d %q, want the 7 artefacts", p.ExcludedCount, p.Excluded)
	}

	w = f.create(t)
	pythonArtefacts(t, w.Dir)
	wt.WriteFile(t, w.Dir, "README.md", "faster\n", 0o644)
	p, err = w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir(), Exclude: config.DefaultPatchExclude})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Files, []string{"README.md"}) || bytes.Contains(p.Diff, []byte("pyc")) {
		t.Errorf("files = %q, want only README.md\n%s", p.Files, p.Diff)
	}

	// A task that removes *.py[co] from the list and adds its own.
	w = f.create(t)
	pythonArtefacts(t, w.Dir)
	wt.WriteFile(t, w.Dir, "out/gen.txt", "generated\n", 0o644)
	ex := slices.DeleteFunc(slices.Clone(config.DefaultPatchExclude), func(s string) bool { return s == "*.py[co]" })
	p, err = w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir(), Exclude: append(ex, "out/")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Files, []string{"src/util/helper.pyc", "top.pyo"}) {
		t.Errorf("files = %q, want the two .py[co] outside __pycache__", p.Files)
	}
	if !slices.Contains(p.Excluded, "out/gen.txt") {
		t.Errorf("excluded = %q, want out/gen.txt", p.Excluded)
	}

	// A tracked file matching a pattern is still a change: patterns only
	// concern untracked files, as in .gitignore.
	w = f.create(t)
	wt.WriteFile(t, w.Dir, "README.md", "\x00binary now", 0o644)
	p, err = w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir(), Exclude: []string{"README.md"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Files, []string{"README.md"}) {
		t.Errorf("files = %q, want README.md", p.Files)
	}
}

// Repositories an agent makes inside the workspace (cargo new, git init)
// are left out: without a commit git cannot add one (capture used to fail
// as an infrastructure error), with one it would be a gitlink to an object
// nobody else has.
func TestCaptureLeavesOutNestedRepositories(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	w := f.create(t)
	for _, d := range []string{"empty repo", "crate[1]"} {
		wt.WriteFile(t, w.Dir, d+"/src/lib.rs", "fn x() {}\n", 0o644)
		if out, err := exec.Command("git", "-C", filepath.Join(w.Dir, d), "init", "-q").CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	commit := exec.Command("sh", "-c", `git add -A && git -c user.name=a -c user.email=a@a commit -qm c`)
	commit.Dir = filepath.Join(w.Dir, "crate[1]")
	if out, err := commit.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	wt.WriteFile(t, w.Dir, "README.md", "faster\n", 0o644)
	p, err := w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir(), Exclude: config.DefaultPatchExclude, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Files, []string{"README.md"}) || bytes.Contains(p.Diff, []byte("Subproject")) {
		t.Errorf("files = %q, want only README.md\n%s", p.Files, p.Diff)
	}
	if !slices.Equal(p.Excluded, []string{"crate[1]/", "empty repo/"}) {
		t.Errorf("excluded = %q, want both nested repositories", p.Excluded)
	}
}

func TestCaptureTooLarge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	// The files are measured before git stores them.
	w := f.create(t)
	wt.WriteFile(t, w.Dir, "big.txt", strings.Repeat("x", 5000)+"\n", 0o644)
	wt.WriteFile(t, w.Dir, "also.txt", strings.Repeat("y", 999)+"\n", 0o644)
	wt.WriteFile(t, w.Dir, "src/__pycache__/huge.pyc", strings.Repeat("z", 100000), 0o644)
	var out bytes.Buffer
	priv := t.TempDir()
	_, err := w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: priv, Out: &out, MaxBytes: 4096, Exclude: config.DefaultPatchExclude})
	var tl *workspace.TooLargeError
	if !errors.As(err, &tl) || !tl.Files || tl.Size != 6001 || tl.Limit != 4096 {
		t.Fatalf("err = %v (%+v), want files of 6001 bytes > 4096", err, tl)
	}
	if !strings.Contains(err.Error(), "patch too large (6001 bytes > 4096)") {
		t.Errorf("message %q", err)
	}
	if out.Len() != 0 {
		t.Errorf("%d bytes written past the limit", out.Len())
	}
	if entries, _ := os.ReadDir(priv); len(entries) != 0 {
		t.Errorf("private directory not cleaned: %v", entries)
	}

	// A patch larger than its files (a deletion) is cut at the limit but
	// measured whole.
	w = f.create(t)
	if err := os.Remove(filepath.Join(w.Dir, wt.BinaryFile)); err != nil {
		t.Fatal(err)
	}
	whole, err := w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	limit := whole.Bytes / 2
	_, err = w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir(), Out: &out, MaxBytes: limit})
	if !errors.As(err, &tl) || tl.Files || tl.Size != whole.Bytes {
		t.Fatalf("err = %v (%+v), want a patch of %d bytes", err, tl, whole.Bytes)
	}
	if int64(out.Len()) > limit {
		t.Errorf("%d bytes written, limit %d", out.Len(), limit)
	}
	// At the limit exactly it is captured.
	out.Reset()
	p, err := w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir(), Out: &out, MaxBytes: whole.Bytes})
	if err != nil || p.Bytes != whole.Bytes || !bytes.Equal(out.Bytes(), whole.Diff) || p.Diff != nil {
		t.Fatalf("at the limit: %v, %d bytes", err, out.Len())
	}
}

// upper is a filter that upper-cases what passes, holding nothing back.
type upper struct{ w io.Writer }

func (u upper) Write(b []byte) (int, error) { return u.w.Write(bytes.ToUpper(b)) }
func (u upper) Close() error                { return nil }

func TestCaptureFilterAndPrivate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	w := f.create(t)
	wt.WriteFile(t, w.Dir, "README.md", "faster\n", 0o644)
	priv := t.TempDir()
	// Nothing goes to the temp dir: a kill -9 would leave it there for
	// good, while the private directory is swept once its owner is dead.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out bytes.Buffer
	var during []string
	p, err := w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{
		Private: priv, Out: &out, Filter: func(w io.Writer) io.WriteCloser {
			for _, d := range []string{priv, tmp} {
				entries, _ := os.ReadDir(d)
				for _, e := range entries {
					during = append(during, filepath.Join(filepath.Base(d), e.Name()))
				}
			}
			return upper{w}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(during) != 1 || !strings.HasPrefix(during[0], filepath.Join(filepath.Base(priv), "capture-")) {
		t.Errorf("while capturing: %q, want only a capture directory in the private one", during)
	}
	if !strings.Contains(out.String(), "+FASTER") || p.Bytes != int64(out.Len()) {
		t.Errorf("filter not applied or size wrong (%d):\n%s", p.Bytes, out.String())
	}
	diff := strings.Replace(out.String(), "+FASTER", "+faster", 1)
	if err := workspace.CheckApply(ctx, f.m, f.pre, priv, strings.NewReader(diff)); err == nil {
		t.Error("an upper-cased patch applies")
	}
	if entries, _ := os.ReadDir(priv); len(entries) != 0 {
		t.Errorf("private directory not cleaned: %v", entries)
	}
	if _, err := w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{}); err == nil {
		t.Error("capture without a private directory succeeded")
	}
}

// ScanBinary gets what git stored of each binary file, and nothing for a
// deleted one.
func TestCaptureScanBinary(t *testing.T) {
	f := newFixture(t)
	w := f.create(t)
	wt.WriteFile(t, w.Dir, "new.bin", "\x00stored\x00", 0o644)
	if err := os.Remove(filepath.Join(w.Dir, wt.BinaryFile)); err != nil {
		t.Fatal(err)
	}
	got := map[string]*bytes.Buffer{}
	_, err := w.CapturePatch(context.Background(), f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir(),
		ScanBinary: func(path string) io.WriteCloser {
			got[path] = &bytes.Buffer{}
			return nopCloser{got[path]}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["new.bin"] == nil || got["new.bin"].String() != "\x00stored\x00" {
		t.Errorf("scanned %q", got)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
