package workspace_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/gitx"
	"github.com/perfbench/perfbench/internal/workspace"
	wt "github.com/perfbench/perfbench/internal/workspace/workspacetest"
)

type fixture struct {
	src, pre, human string
	m               *workspace.Mirror
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	src, pre, human := wt.NewRepo(t)
	m, err := workspace.OpenMirror(context.Background(), t.TempDir(), src)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{src: src, pre: pre, human: human, m: m}
}

func (f *fixture) create(t *testing.T) *workspace.Workspace {
	t.Helper()
	w, err := workspace.Create(context.Background(), f.m, f.pre, filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// treeObjects lists every object (trees and blobs) reachable from rev's tree.
func treeObjects(t *testing.T, dir, rev string) map[string]bool {
	t.Helper()
	objs := map[string]bool{wt.Git(t, dir, "rev-parse", rev+"^{tree}"): true}
	for _, line := range strings.Split(wt.Git(t, dir, "ls-tree", "-r", "-t", "--full-tree", rev), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			objs[f[2]] = true
		}
	}
	return objs
}

func TestCreateLeaksNothing(t *testing.T) {
	f := newFixture(t)
	w := f.create(t)
	token := wt.HumanToken(t, f.src, f.human)

	if got := wt.Git(t, w.Dir, "log", "--all", "--format=%H"); got != w.Base {
		t.Errorf("git log --all = %q, want only the base %s", got, w.Base)
	}
	if got := wt.Git(t, w.Dir, "for-each-ref", "--format=%(refname)"); got != "refs/heads/main" {
		t.Errorf("refs = %q, want only refs/heads/main", got)
	}
	if got := wt.Git(t, w.Dir, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
		t.Errorf("HEAD = %q", got)
	}
	if got := wt.Git(t, w.Dir, "remote"); got != "" {
		t.Errorf("remotes = %q", got)
	}
	reflog := wt.Git(t, w.Dir, "reflog", "--all")
	for _, sha := range []string{f.pre, f.human} {
		if strings.Contains(reflog, sha[:7]) {
			t.Errorf("reflog mentions %s: %q", sha, reflog)
		}
	}
	for _, p := range []string{"objects/info/alternates", "packed-refs", "ORIG_HEAD", "FETCH_HEAD", "shallow"} {
		if _, err := os.Stat(filepath.Join(w.Dir, ".git", p)); err == nil {
			t.Errorf(".git/%s exists", p)
		}
	}
	// The workspace holds exactly pre's tree plus the base commit.
	want := treeObjects(t, f.src, f.pre)
	want[w.Base] = true
	humanOnly := map[string]bool{f.pre: true, f.human: true}
	for o := range treeObjects(t, f.src, f.human) {
		if !want[o] {
			humanOnly[o] = true
		}
	}
	if len(humanOnly) < 4 {
		t.Fatalf("fixture: human commit should add objects, got %v", humanOnly)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(wt.Git(t, w.Dir, "cat-file", "--batch-all-objects", "--batch-check"), "\n") {
		if sha, _, _ := strings.Cut(line, " "); sha != "" {
			got[sha] = true
			if humanOnly[sha] {
				t.Errorf("workspace has object %s of the human commit", sha)
			}
			if !want[sha] {
				t.Errorf("workspace has object %s outside pre's tree", sha)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("workspace has %d objects, want %d", len(got), len(want))
	}
	// Neither sha nor the human-only content anywhere: raw files (config,
	// logs, index, packs, work tree) and decompressed objects.
	needles := []string{f.pre, f.human, f.pre[:12], f.human[:12], token}
	err := filepath.Walk(w.Dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(data, []byte(n)) {
				t.Errorf("%s contains %q", p, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := wt.Git(t, w.Dir, "cat-file", "--batch-all-objects", "--batch")
	for _, n := range needles {
		if strings.Contains(all, n) {
			t.Errorf("an object of the workspace contains %q", n)
		}
	}
}

func TestCreateChecksOutPre(t *testing.T) {
	f := newFixture(t)
	w := f.create(t)
	if got, want := wt.Git(t, w.Dir, "rev-parse", "HEAD^{tree}"), wt.Git(t, f.src, "rev-parse", f.pre+"^{tree}"); got != want {
		t.Errorf("tree = %s, want pre's %s", got, want)
	}
	if got := wt.Git(t, w.Dir, "status", "--porcelain", "--untracked-files=all", "--ignored"); got != "" {
		t.Errorf("status not clean:\n%s", got)
	}
	if st, err := os.Stat(filepath.Join(w.Dir, workspace.ScratchDir)); err != nil || !st.IsDir() {
		t.Errorf("scratch dir: %v", err)
	}
	if st, err := os.Stat(filepath.Join(w.Dir, wt.ScriptFile)); err != nil || st.Mode()&0o100 == 0 {
		t.Errorf("%s lost its executable bit: %v", wt.ScriptFile, err)
	}
	if _, err := os.Stat(filepath.Join(w.Dir, wt.HumanOnlyFile)); err == nil {
		t.Errorf("%s exists in the workspace", wt.HumanOnlyFile)
	}
	// Deterministic and identical for every workspace of the same tree.
	w2 := f.create(t)
	if w2.Base != w.Base {
		t.Errorf("bases differ: %s, %s", w.Base, w2.Base)
	}
	commit := wt.Git(t, w.Dir, "cat-file", "-p", w.Base)
	if !strings.Contains(commit, "author perfbench <perfbench@localhost> 946684800 +0000") || strings.Contains(commit, "parent") {
		t.Errorf("base commit:\n%s", commit)
	}
	// An agent can commit without any identity of its own.
	wt.WriteFile(t, w.Dir, "x.txt", "x\n", 0o644)
	wt.Git(t, w.Dir, "add", "x.txt")
	out, err := (&gitx.Git{Dir: w.Dir}).Run(context.Background(), "commit", "-q", "-m", "agent")
	if err != nil {
		t.Errorf("agent commit: %v (%s)", err, out)
	}
}

func TestCreateRejectsNonEmptyDir(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	wt.WriteFile(t, dir, "keep.txt", "mine\n", 0o644)
	if _, err := workspace.Create(context.Background(), f.m, f.pre, dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v, want not empty", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep.txt")); err != nil {
		t.Errorf("existing file damaged: %v", err)
	}
	// An empty existing directory is fine.
	empty := t.TempDir()
	if _, err := workspace.Create(context.Background(), f.m, f.pre, empty); err != nil {
		t.Fatal(err)
	}
}

func TestCreateUnknownCommitCleansUp(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "ws")
	_, err := workspace.Create(context.Background(), f.m, "0123456789abcdef0123456789abcdef01234567", dir)
	if !errors.Is(err, workspace.ErrCommitNotFound) {
		t.Fatalf("err = %v, want ErrCommitNotFound", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s left behind", dir)
	}
}

func TestCreateDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tiny tmpfs")
	}
	big := make([]byte, 2<<20)
	if _, err := (&xorshift{}).Read(big); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, content string
	}{
		// Fails while writing the pack.
		{"incompressible", string(big)},
		// The pack fits; the checkout does not.
		{"compressible", strings.Repeat("all work and no play\n", 100000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, _, _ := wt.NewRepo(t)
			wt.WriteFile(t, src, "big.bin", c.content, 0o644)
			pre := wt.Commit(t, src, "big")
			m, err := workspace.OpenMirror(context.Background(), t.TempDir(), src)
			if err != nil {
				t.Fatal(err)
			}
			mnt := t.TempDir()
			if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=512k"); err != nil {
				t.Skipf("cannot mount tmpfs: %v", err)
			}
			t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
			dir := filepath.Join(mnt, "ws")
			_, err = workspace.Create(context.Background(), m, pre, dir)
			if err == nil {
				t.Fatal("Create on a full disk succeeded")
			}
			t.Logf("disk full error: %v", err)
			if !gitx.IsDiskFull(err) {
				t.Errorf("IsDiskFull(%v) = false", err)
			}
			if !strings.HasPrefix(err.Error(), "workspace create: ") {
				t.Errorf("err = %v, want workspace create: prefix", err)
			}
			if _, serr := os.Stat(dir); serr == nil {
				t.Errorf("partial workspace %s left behind", dir)
			}
		})
	}
}

// xorshift fills with a xorshift stream: incompressible enough for zlib.
type xorshift struct{ s uint64 }

func (r *xorshift) Read(p []byte) (int, error) {
	if r.s == 0 {
		r.s = 88172645463325252
	}
	for i := range p {
		r.s ^= r.s << 13
		r.s ^= r.s >> 7
		r.s ^= r.s << 17
		p[i] = byte(r.s)
	}
	return len(p), nil
}

// snapshot maps each path of a work tree (outside .git, scratch and
// ignored files) to its mode and content.
func snapshot(t *testing.T, dir string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if info.IsDir() {
			if rel == ".git" || rel == workspace.ScratchDir || slices.Contains(skip, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if slices.Contains(skip, rel) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = info.Mode().String() + ":" + string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// agentEdits makes every kind of change: modify, add, delete, binary,
// mode changes, plus files that must not be captured.
func agentEdits(t *testing.T, dir string) (want []string) {
	wt.WriteFile(t, dir, "README.md", "# demo\n\nNow fast.\n", 0o644)
	wt.WriteFile(t, dir, "src/util/memo.go", "package main\n\nvar memo = map[int]int{}\n", 0o644)
	if err := os.Remove(filepath.Join(dir, "docs/notes.txt")); err != nil {
		t.Fatal(err)
	}
	wt.WriteFile(t, dir, wt.BinaryFile, "\x00\x01\x02changed\x00\xff", 0o644)
	if err := os.Chmod(filepath.Join(dir, wt.ScriptFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "src/util/slow.go"), 0o755); err != nil {
		t.Fatal(err)
	}
	wt.WriteFile(t, dir, workspace.ScratchDir+"/notes.md", "agent notes\n", 0o644)
	wt.WriteFile(t, dir, "run.log", "ignored\n", 0o644)
	wt.WriteFile(t, dir, "build/out.o", "ignored\n", 0o644)
	return []string{"README.md", wt.BinaryFile, "docs/notes.txt", wt.ScriptFile, "src/util/memo.go", "src/util/slow.go"}
}

func TestCapturePatch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		agent func(t *testing.T, dir string) []string
	}{
		{"work tree", agentEdits},
		{"committed", func(t *testing.T, dir string) []string {
			want := agentEdits(t, dir)
			wt.Git(t, dir, "add", "-A")
			wt.Git(t, dir, "commit", "-q", "-m", "agent work")
			return want
		}},
		{"committed then reset hard", func(t *testing.T, dir string) []string {
			want := agentEdits(t, dir)
			wt.Git(t, dir, "add", "-A")
			wt.Git(t, dir, "commit", "-q", "-m", "agent work")
			wt.WriteFile(t, dir, "README.md", "discarded\n", 0o644)
			wt.Git(t, dir, "reset", "-q", "--hard")
			return want
		}},
		{"reset hard to base", func(t *testing.T, dir string) []string {
			agentEdits(t, dir)
			wt.Git(t, dir, "reset", "-q", "--hard", "HEAD")
			// Untracked new files and ignored files survive a reset.
			return []string{"src/util/memo.go"}
		}},
		{"staged deletion of an unchanged file", func(t *testing.T, dir string) []string {
			wt.Git(t, dir, "rm", "-q", "--cached", "README.md")
			return nil
		}},
		{"rm -rf .git", func(t *testing.T, dir string) []string {
			want := agentEdits(t, dir)
			if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
				t.Fatal(err)
			}
			return want
		}},
		{"broken .git", func(t *testing.T, dir string) []string {
			want := agentEdits(t, dir)
			wt.WriteFile(t, dir, ".git/HEAD", "garbage\n", 0o644)
			wt.WriteFile(t, dir, ".git/index", "garbage\n", 0o644)
			return want
		}},
		{"nothing", func(t *testing.T, dir string) []string {
			wt.WriteFile(t, dir, workspace.ScratchDir+"/x", "scratch\n", 0o644)
			wt.WriteFile(t, dir, "debug.log", "ignored\n", 0o644)
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := f.create(t)
			want := c.agent(t, w.Dir)
			p, err := w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(want)
			if !slices.Equal(p.Files, want) {
				t.Errorf("files = %q, want %q", p.Files, want)
			}
			if len(want) == 0 {
				if !p.Empty() || p.Added != 0 || p.Removed != 0 {
					t.Errorf("patch not empty: %+v\n%s", p, p.Diff)
				}
				if err := workspace.CheckApply(ctx, f.m, f.pre, t.TempDir(), bytes.NewReader(p.Diff)); err == nil {
					t.Error("CheckApply of an empty patch succeeded")
				}
				return
			}
			if err := workspace.CheckApply(ctx, f.m, f.pre, t.TempDir(), bytes.NewReader(p.Diff)); err != nil {
				t.Errorf("CheckApply: %v", err)
			}
			for _, bad := range []string{workspace.ScratchDir, "run.log", "build/out.o"} {
				if bytes.Contains(p.Diff, []byte(bad)) {
					t.Errorf("patch contains %s", bad)
				}
			}
			// Replaying the patch on a fresh workspace reproduces the tree.
			w2 := f.create(t)
			if err := w2.Apply(ctx, p.Diff); err != nil {
				t.Fatal(err)
			}
			skip := []string{"run.log", "build", "debug.log"}
			got, exp := snapshot(t, w2.Dir, skip...), snapshot(t, w.Dir, skip...)
			for k, v := range exp {
				if got[k] != v {
					t.Errorf("after apply %s = %.40q, want %.40q", k, got[k], v)
				}
			}
			for k := range got {
				if _, ok := exp[k]; !ok {
					t.Errorf("after apply %s exists, want absent", k)
				}
			}
		})
	}
	t.Run("counts", func(t *testing.T) {
		w := f.create(t)
		agentEdits(t, w.Dir)
		p, err := w.CapturePatch(ctx, f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		// README: 1 line changed (+1 -1), memo.go: +3, notes.txt: -1.
		if !p.Binary || p.Added != 4 || p.Removed != 2 {
			t.Errorf("binary=%v added=%d removed=%d, want true 4 2", p.Binary, p.Added, p.Removed)
		}
		for _, s := range []string{"GIT binary patch", "old mode 100755", "new mode 100644", "deleted file mode", "new file mode"} {
			if !bytes.Contains(p.Diff, []byte(s)) {
				t.Errorf("patch lacks %q", s)
			}
		}
	})
}

// An agent's .git/config must never run code in the harness.
func TestCapturePatchIgnoresAgentConfig(t *testing.T) {
	f := newFixture(t)
	w := f.create(t)
	marker := filepath.Join(t.TempDir(), "pwned")
	script := filepath.Join(t.TempDir(), "evil.sh")
	wt.WriteFile(t, filepath.Dir(script), "evil.sh", "#!/bin/sh\ntouch "+marker+"\ncat\n", 0o755)
	wt.Git(t, w.Dir, "config", "core.fsmonitor", script)
	wt.Git(t, w.Dir, "config", "filter.evil.clean", script)
	wt.Git(t, w.Dir, "config", "diff.external", script)
	wt.Git(t, w.Dir, "config", "core.hooksPath", filepath.Dir(script))
	wt.WriteFile(t, w.Dir, ".gitattributes", "* filter=evil diff=evil\n", 0o644)
	wt.WriteFile(t, w.Dir, "README.md", "changed\n", 0o644)
	p, err := w.CapturePatch(context.Background(), f.m, f.pre, workspace.CaptureOptions{Private: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the agent's git config ran a program")
	}
	if !slices.Equal(p.Files, []string{".gitattributes", "README.md"}) {
		t.Errorf("files = %q", p.Files)
	}
}

func TestCapturePatchWrongPre(t *testing.T) {
	f := newFixture(t)
	w := f.create(t)
	if _, err := w.CapturePatch(context.Background(), f.m, f.human, workspace.CaptureOptions{Private: t.TempDir()}); err == nil {
		t.Error("capture against another commit than the workspace's succeeded")
	}
}

func TestCheckApply(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	diff, err := f.m.Diff(ctx, f.pre, f.human)
	if err != nil {
		t.Fatal(err)
	}
	if err := workspace.CheckApply(ctx, f.m, f.pre, t.TempDir(), bytes.NewReader(diff)); err != nil {
		t.Errorf("human patch: %v", err)
	}
	// Applied on the human commit it conflicts (the file already exists).
	if err := workspace.CheckApply(ctx, f.m, f.human, t.TempDir(), bytes.NewReader(diff)); err == nil {
		t.Error("human patch applies twice")
	}
	garbage := []byte("diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-no such line\n+x\n")
	err = workspace.CheckApply(ctx, f.m, f.pre, t.TempDir(), bytes.NewReader(garbage))
	if err == nil {
		t.Fatal("garbage patch applies")
	}
	if !strings.Contains(err.Error(), "README.md") {
		t.Errorf("error does not carry git's message: %v", err)
	}
	if err := workspace.CheckApply(ctx, f.m, f.pre, t.TempDir(), strings.NewReader("not a patch at all\n")); err == nil {
		t.Error("non-patch applies")
	}
	// The human patch applied in a workspace gives the human tree.
	w := f.create(t)
	if err := w.Apply(ctx, diff); err != nil {
		t.Fatal(err)
	}
	wt.Git(t, w.Dir, "add", "-A")
	if got, want := wt.Git(t, w.Dir, "write-tree"), wt.Git(t, f.src, "rev-parse", f.human+"^{tree}"); got != want {
		t.Errorf("tree after applying the human patch = %s, want %s", got, want)
	}
	if err := w.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.Dir); err == nil {
		t.Error("Remove left the directory")
	}
}

func TestMirrorQueries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if p, err := f.m.Parent(ctx, f.human, 1); err != nil || p != f.pre {
		t.Errorf("Parent = %s, %v; want %s", p, err, f.pre)
	}
	if _, err := f.m.Parent(ctx, f.human, 2); err == nil || !strings.Contains(err.Error(), "no parent 2") {
		t.Errorf("Parent 2 err = %v", err)
	}
	if msg, err := f.m.CommitMessage(ctx, f.human); err != nil || msg != "perf: compute the sum in closed form" {
		t.Errorf("CommitMessage = %q, %v", msg, err)
	}
	files, err := f.m.ChangedFiles(ctx, f.pre, f.human)
	if err != nil || !slices.Equal(files, []string{wt.HumanOnlyFile, wt.HumanModifiedFile}) {
		t.Errorf("ChangedFiles = %q, %v", files, err)
	}
	stat, err := f.m.Diffstat(ctx, f.pre, f.human)
	if err != nil || !strings.Contains(stat, "2 files changed") || !strings.Contains(stat, wt.HumanOnlyFile) {
		t.Errorf("Diffstat = %q, %v", stat, err)
	}
	p, err := f.m.Patch(ctx, f.pre, f.human)
	if err != nil || p.Added != 5 || p.Removed != 1 || p.Binary || len(p.Files) != 2 {
		t.Errorf("Patch = %+v, %v", p, err)
	}
}

func TestResolve(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, rev := range []string{f.pre, f.pre[:7], "main~1", "refs/heads/main^"} {
		if got, err := f.m.Resolve(ctx, rev); err != nil || got != f.pre {
			t.Errorf("Resolve(%s) = %s, %v; want %s", rev, got, err, f.pre)
		}
	}
	for _, rev := range []string{"1234abc", "0123456789abcdef0123456789abcdef01234567"} {
		_, err := f.m.Resolve(ctx, rev)
		want := "commit " + rev + " not found in " + f.src
		if err == nil || err.Error() != want || !errors.Is(err, workspace.ErrCommitNotFound) {
			t.Errorf("Resolve(%s) err = %v, want %q", rev, err, want)
		}
	}
	if _, err := f.m.Resolve(ctx, "--output=/tmp/x"); err == nil {
		t.Error("option-like revision accepted")
	}
}

func TestResolveFetchesNewCommits(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	wt.WriteFile(t, f.src, "later.txt", "later\n", 0o644)
	c1 := wt.Commit(t, f.src, "later")
	wt.WriteFile(t, f.src, "later.txt", "even later\n", 0o644)
	c2 := wt.Commit(t, f.src, "even later")
	wt.Git(t, f.src, "branch", "-q", "side", c2)
	wt.Git(t, f.src, "reset", "-q", "--hard", c1)
	// A full sha (fetched by name) and a short one (needs the full fetch).
	if got, err := f.m.Resolve(ctx, c1); err != nil || got != c1 {
		t.Errorf("Resolve(new %s) = %s, %v", c1, got, err)
	}
	if got, err := f.m.Resolve(ctx, c2[:9]); err != nil || got != c2 {
		t.Errorf("Resolve(new %s) = %s, %v", c2[:9], got, err)
	}
}

func TestOpenMirrorConcurrent(t *testing.T) {
	src, pre, human := wt.NewRepo(t)
	root := t.TempDir()
	ctx := context.Background()
	const n = 8
	errs := make(chan error, n)
	dirs := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() {
			m, err := workspace.OpenMirror(ctx, root, src)
			if err != nil {
				errs <- err
				return
			}
			for _, rev := range []string{pre[:8], human, "main"} {
				if _, err := m.Resolve(ctx, rev); err != nil {
					errs <- err
					return
				}
			}
			// Unknown commits make every goroutine fetch under the lock.
			if _, err := m.Resolve(ctx, "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"); !errors.Is(err, workspace.ErrCommitNotFound) {
				errs <- err
				return
			}
			dirs <- m.Dir
			errs <- nil
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(dirs)
	var first string
	for d := range dirs {
		if first == "" {
			first = d
		} else if d != first {
			t.Errorf("mirror dirs differ: %s, %s", first, d)
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "mirrors"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || filepath.Join(root, "mirrors", names[0]) != first || names[1] != filepath.Base(first)+".lock" {
		t.Errorf("mirrors/ holds %q, want the mirror and its lock", names)
	}
	base := filepath.Base(first)
	if !strings.HasPrefix(base, filepath.Base(src)) || strings.Contains(base, pre[:7]) || strings.Contains(base, human[:7]) {
		t.Errorf("mirror name %q: want the repository's name and no commit sha", base)
	}
	// The same repository through another spelling of its path.
	rel, err := filepath.Rel(mustGetwd(t), src)
	if err != nil {
		t.Fatal(err)
	}
	m, err := workspace.OpenMirror(ctx, root, rel)
	if err != nil || m.Dir != first {
		t.Errorf("OpenMirror(%s) = %v, %v; want %s", rel, m, err, first)
	}
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestOpenMirrorBadURL(t *testing.T) {
	notRepo := t.TempDir()
	for name, url := range map[string]string{
		"missing": filepath.Join(t.TempDir(), "missing"),
		"not git": notRepo,
		"option":  "--upload-pack=touch /tmp/x",
		"ext":     "ext::sh -c touch% /tmp/x",
		"fd":      "fd::3",
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			_, err := workspace.OpenMirror(context.Background(), root, url)
			if err == nil || !badinput.Is(err) {
				t.Fatalf("OpenMirror(%q) = %v, want bad input", url, err)
			}
			if ents, _ := os.ReadDir(root); len(ents) > 0 {
				t.Errorf("work root holds %v after a bad url", ents)
			}
		})
	}
}

// A clone that fails leaves no temporary clone and no lock file: no failed
// plan leaves anything under work_root/mirrors.
func TestOpenMirrorFailedCloneLeavesNothing(t *testing.T) {
	broken := t.TempDir() // looks like a bare repository to CheckLocalRepo, not to git
	for _, d := range []string{"objects", "refs"} {
		if err := os.Mkdir(filepath.Join(broken, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(broken, "HEAD"), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	_, err := workspace.OpenMirror(context.Background(), root, broken)
	var ge *gitx.GitError
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v, want a GitError in the chain", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "mirrors")); len(ents) > 0 {
		t.Errorf("mirrors/ holds %v after a failed clone", ents)
	}
}

// What a clone killed with -9 leaves (its temporary directory and the lock
// file) is removed by the next open of any repository; a mirror and its
// lock stay.
func TestOpenMirrorSweepsDeadClones(t *testing.T) {
	src, _, _ := wt.NewRepo(t)
	root := t.TempDir()
	mirrors := filepath.Join(root, "mirrors")
	dead := filepath.Join(mirrors, "gone-0123456789ab.git")
	if err := os.MkdirAll(dead+".tmp-123", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dead+".tmp-123", "objects"), []byte("half a clone"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dead+".lock", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mirrors, "other-0123456789ab.git.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := workspace.OpenMirror(context.Background(), root, src)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ents, _ := os.ReadDir(mirrors)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{filepath.Base(m.Dir), filepath.Base(m.Dir) + ".lock"}; !slices.Equal(names, want) {
		t.Errorf("mirrors/ holds %q, want %q", names, want)
	}
}

// Submodules stay gitlinks: Create needs no submodule objects and an
// untouched gitlink is no change.
func TestCreateKeepsGitlinks(t *testing.T) {
	src, _, _ := wt.NewRepo(t)
	const sub = "0123456789abcdef0123456789abcdef01234567"
	wt.Git(t, src, "update-index", "--add", "--cacheinfo", "160000,"+sub+",vendor/lib")
	wt.Git(t, src, "commit", "-q", "-m", "add submodule")
	pre := wt.Git(t, src, "rev-parse", "HEAD")
	m, err := workspace.OpenMirror(context.Background(), t.TempDir(), src)
	if err != nil {
		t.Fatal(err)
	}
	w, err := workspace.Create(context.Background(), m, pre, filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	if got := wt.Git(t, w.Dir, "ls-tree", "HEAD", "vendor/lib"); !strings.HasPrefix(got, "160000 commit "+sub) {
		t.Errorf("gitlink = %q", got)
	}
	p, err := w.CapturePatch(context.Background(), m, pre, workspace.CaptureOptions{Private: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Errorf("untouched gitlink captured:\n%s", p.Diff)
	}
}

// A revision that is a refspec or a revision expression is never fetched
// by name: "main:evil" would create refs/heads/evil in the shared mirror.
// An option-like revision is bad input.
func TestResolveNeverFetchesRefspecs(t *testing.T) {
	src, _, _ := wt.NewRepo(t)
	m, err := workspace.OpenMirror(context.Background(), t.TempDir(), src)
	if err != nil {
		t.Fatal(err)
	}
	before := wt.Git(t, m.Dir, "for-each-ref")
	for _, rev := range []string{"main:evil", "+main:refs/heads/evil2", "HEAD:README.md"} {
		if _, err := m.Resolve(context.Background(), rev); err == nil || !badinput.Is(err) {
			t.Errorf("Resolve(%q) = %v, want a bad-input error", rev, err)
		}
	}
	if after := wt.Git(t, m.Dir, "for-each-ref"); after != before {
		t.Errorf("the mirror's refs changed:\n%s\nwas:\n%s", after, before)
	}
	if _, err := m.Resolve(context.Background(), "--output=x"); err == nil || !badinput.Is(err) {
		t.Errorf("Resolve(--output=x) = %v, want bad input", err)
	}
}
