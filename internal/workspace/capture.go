package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/gitx"
)

// MaxExcludedListed bounds Patch.Excluded: an agent may leave thousands
// of cache files behind, and the journal needs only a sample.
const MaxExcludedListed = 100

// Patch is a change to a tree, as git apply reads it.
type Patch struct {
	// Diff is the patch (git diff --binary --full-index) when it was
	// collected in memory (Mirror.Patch, CapturePatch without Out).
	Diff           []byte
	Bytes          int64    // size of the patch written; 0 when nothing changed
	Files          []string // changed paths, git's order
	Added, Removed int      // changed lines of text files
	Binary         bool     // whether some changed file is binary
	BinaryFiles    []string // the changed files git diffs as binary
	// Excluded lists untracked paths left out by the exclude patterns
	// (at most MaxExcludedListed); ExcludedCount counts all of them.
	Excluded      []string
	ExcludedCount int
}

// Empty reports whether the patch changes nothing.
func (p *Patch) Empty() bool { return p.Bytes == 0 && len(p.Diff) == 0 }

// addNumstat fills Files, Added, Removed and Binary from
// `git diff --numstat -z --no-renames` output.
func (p *Patch) addNumstat(out []byte) error {
	for _, rec := range strings.Split(string(out), "\x00") {
		if rec == "" {
			continue
		}
		parts := strings.SplitN(rec, "\t", 3)
		if len(parts) != 3 {
			return fmt.Errorf("unexpected numstat record %q", rec)
		}
		p.Files = append(p.Files, parts[2])
		if parts[0] == "-" {
			p.Binary = true
			p.BinaryFiles = append(p.BinaryFiles, parts[2])
			continue
		}
		a, err1 := strconv.Atoi(parts[0])
		r, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("unexpected numstat record %q", rec)
		}
		p.Added += a
		p.Removed += r
	}
	return nil
}

// TooLargeError is a change larger than CaptureOptions.MaxBytes.
type TooLargeError struct {
	Size, Limit int64
	// Files is true when the size is that of the changed files, measured
	// before anything was added to git; false when it is the patch's.
	Files bool
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("patch too large (%d bytes > %d)", e.Size, e.Limit)
}

// CaptureOptions configure CapturePatch.
type CaptureOptions struct {
	// Private is an existing directory of the caller's (an owner-marked
	// private directory, swept when its owner dies) in which the private
	// git directory and index are made and removed again. Required.
	Private string
	// Out receives the patch as it is produced; nil collects it in
	// Patch.Diff.
	Out io.Writer
	// Filter, when set, wraps the writer the patch goes to (a secret
	// scrubber); its Close flushes. MaxBytes counts what it writes.
	Filter func(io.Writer) io.WriteCloser
	// MaxBytes bounds the change: the new and modified files before they
	// are added to git, and the patch written to Out. 0 means no limit.
	// Beyond it CapturePatch returns a *TooLargeError and Out has
	// received at most MaxBytes bytes.
	MaxBytes int64
	// Exclude are gitignore patterns for untracked files to leave out
	// (config.DefaultPatchExclude and a task's patch.exclude).
	Exclude []string
	// ScanBinary, when set, receives the content git stored of each
	// changed file the patch carries as binary (base85, where a filter
	// sees nothing): the blob itself, not the workspace file, which a
	// process still running could have changed since.
	ScanBinary func(path string) io.WriteCloser
}

// CapturePatch returns the diff of the working tree against the workspace's
// base: modified, deleted, new (respecting .gitignore files in the tree),
// binary and mode changes, excluding ScratchDir and untracked files
// matching o.Exclude.
//
// It never runs git on the workspace's .git: the agent may have committed,
// reset, staged, deleted .git, or written a config whose hooks, filters or
// fsmonitor would run its code in the harness. Instead a private git
// directory in o.Private, borrowing the mirror's objects through
// GIT_ALTERNATE_OBJECT_DIRECTORIES (environment only, nothing written),
// rebuilds the deterministic base commit of pre's tree, reads it into a
// private index, measures the new and modified files (refusing more than
// o.MaxBytes before git stores any of them), `add -A`s the work tree and
// streams the diff of the index against the base to o.Out. Only the
// user's .gitignore files in the tree, o.Exclude and ScratchDir decide
// what is ignored: neither the workspace's info/exclude nor any global
// excludes file count.
//
// pre must be the revision the workspace was created from; when w.Base is
// set and the rebuilt base differs, CapturePatch fails rather than diff
// against the wrong tree.
func (w *Workspace) CapturePatch(ctx context.Context, m *Mirror, pre string, o CaptureOptions) (*Patch, error) {
	p, err := w.capture(ctx, m, pre, o)
	if err != nil {
		return nil, fmt.Errorf("capture patch: %w", err)
	}
	return p, nil
}

func (w *Workspace) capture(ctx context.Context, m *Mirror, pre string, o CaptureOptions) (*Patch, error) {
	if o.Private == "" {
		return nil, errors.New("no private directory")
	}
	sha, err := m.Resolve(ctx, pre)
	if err != nil {
		return nil, err
	}
	out, err := m.git().Run(ctx, "rev-parse", "--verify", sha+"^{tree}")
	if err != nil {
		return nil, err
	}
	tree := strings.TrimSpace(string(out))
	priv, err := os.MkdirTemp(o.Private, "capture-")
	if err != nil {
		return nil, err
	}
	defer fsx.RemoveAll(priv)
	p, err := w.capturePriv(ctx, m, pre, tree, priv, o)
	return p, noteDiskFull(err, priv)
}

// capturePriv does the work of capture in the private directory priv.
func (w *Workspace) capturePriv(ctx context.Context, m *Mirror, pre, tree, priv string, o CaptureOptions) (*Patch, error) {
	gitDir := filepath.Join(priv, "git")
	if _, err := (&gitx.Git{}).Run(ctx, "init", "--quiet", "--bare", "--template=", "--", gitDir); err != nil {
		return nil, err
	}
	excludeFile := filepath.Join(priv, "exclude")
	if err := os.WriteFile(excludeFile, []byte(strings.Join(o.Exclude, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	alternates := filepath.Join(m.Dir, "objects")
	if w.setupObjects != "" {
		alternates += string(filepath.ListSeparator) + w.setupObjects
	}
	g := &gitx.Git{Dir: w.Dir, Env: []string{
		"GIT_DIR=" + gitDir,
		"GIT_WORK_TREE=" + w.Dir,
		"GIT_INDEX_FILE=" + filepath.Join(priv, "index"),
		"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + alternates,
	}}
	base, err := baseCommit(ctx, g, tree)
	if err != nil {
		return nil, err
	}
	if w.Base != "" && base != w.Base {
		return nil, fmt.Errorf("workspace %s was not created from %s (base %s, expected %s)", w.Dir, pre, w.Base, base)
	}
	pre0 := base
	if w.SetupBase != "" {
		// The tree as workspace_setup left it: its changes are not the
		// agent's.
		base = w.SetupBase
	}
	// Pinned so the result does not depend on the file system probe git
	// init made for the private directory. core.excludesFile names ours,
	// which also keeps the default global one ($XDG_CONFIG_HOME/git/ignore)
	// out.
	cfg := []string{"-c", "core.bare=false", "-c", "core.fileMode=true", "-c", "core.symlinks=true",
		"-c", "core.autocrlf=false", "-c", "core.safecrlf=false", "-c", "core.ignoreCase=false",
		"-c", "core.excludesFile=" + excludeFile}
	run := func(args ...string) ([]byte, error) { return g.Run(ctx, append(cfg, args...)...) }
	if _, err := run("read-tree", base); err != nil {
		return nil, err
	}
	p := &Patch{}
	if err := w.measure(ctx, g, cfg, excludeFile, p, o.MaxBytes); err != nil {
		return nil, err
	}
	if _, err := run("add", "--all", "--no-warn-embedded-repo", "--", ".", ":(exclude,top)"+ScratchDir); err != nil {
		return nil, err
	}
	if w.SetupBase != "" {
		// The agent's changes (the tree less the one setup left) onto the
		// pre tree: the patch applies where evaluation applies it, and
		// never carries setup's edits, even next to the agent's.
		if err := rebaseOnPre(ctx, g, cfg, w.SetupBase, pre0); err != nil {
			return nil, err
		}
		base = pre0
	}
	var buf bytes.Buffer
	dst := o.Out
	if dst == nil {
		dst = &buf
	}
	lw := &limitWriter{w: dst, max: o.MaxBytes}
	var sink io.Writer = lw
	var filter io.WriteCloser
	if o.Filter != nil {
		filter = o.Filter(lw)
		sink = filter
	}
	diffErr := g.RunPipe(ctx, sink, slices.Concat(cfg, []string{"diff", "--cached"}, diffFlags, []string{"--binary", "--full-index", base, "--"})...)
	if filter != nil {
		// Close flushes what the filter held back.
		if err := filter.Close(); err != nil && diffErr == nil {
			diffErr = err
		}
	}
	if lw.n > o.MaxBytes && o.MaxBytes > 0 {
		return nil, &TooLargeError{Size: lw.n, Limit: o.MaxBytes}
	}
	if diffErr != nil {
		return nil, diffErr
	}
	p.Bytes, p.Diff = lw.n, buf.Bytes()
	if o.Out != nil {
		p.Diff = nil
	}
	num, err := run(slices.Concat([]string{"diff", "--cached"}, diffFlags, []string{"--numstat", "-z", base, "--"})...)
	if err != nil {
		return nil, err
	}
	if err := p.addNumstat(num); err != nil {
		return nil, err
	}
	if o.ScanBinary != nil {
		for _, f := range p.BinaryFiles {
			if _, err := run("cat-file", "-e", ":"+f); err != nil {
				continue // deleted: nothing stored
			}
			sw := o.ScanBinary(f)
			err := g.RunPipe(ctx, sw, append(slices.Clone(cfg), "cat-file", "blob", ":"+f)...)
			if cerr := sw.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// measure lists what `git add --all` would store: modified tracked files
// and untracked files not ignored. It records the untracked ones that only
// the exclude patterns leave out in p, and fails with a *TooLargeError when
// the files to store add up to more than max bytes (0: no limit), before
// git has written a single blob of them.
func (w *Workspace) measure(ctx context.Context, g *gitx.Git, cfg []string, excludeFile string, p *Patch, max int64) error {
	run := func(stdin io.Reader, args ...string) ([]byte, error) {
		return g.RunInput(ctx, stdin, append(cfg, args...)...)
	}
	scratch := ":(exclude,top)" + ScratchDir
	// Fresh stat data, so that -m lists files whose content changed, not
	// every file (read-tree left the stat data empty). It hashes files but
	// stores nothing; exit status 1 only says some file needs updating.
	if _, err := run(nil, "update-index", "-q", "--refresh"); err != nil && !exitStatus(err, 1) {
		return err
	}
	modified, err := run(nil, "ls-files", "-z", "--modified", "--", ".", scratch)
	if err != nil {
		return err
	}
	// Untracked files under the tree's own .gitignore files only.
	untracked, err := (&gitx.Git{Dir: g.Dir, Env: g.Env}).Run(ctx, slices.Concat(cfg,
		[]string{"-c", "core.excludesFile=" + os.DevNull, "ls-files", "-z", "--others", "--exclude-standard", "--", ".", scratch})...)
	if err != nil {
		return err
	}
	// Of those, the ones our patterns leave out (a .gitignore in the
	// tree can still bring one back with a "!" pattern).
	ignored, err := run(bytes.NewReader(untracked), "check-ignore", "-z", "--stdin")
	if err != nil && !exitStatus(err, 1) { // 1: none is ignored
		return err
	}
	excluded := map[string]bool{}
	for _, f := range splitZ(ignored) {
		excluded[f] = true
		p.ExcludedCount++
		if len(p.Excluded) < MaxExcludedListed {
			p.Excluded = append(p.Excluded, f)
		}
	}
	if err := excludeNested(excludeFile, untracked, excluded, p); err != nil {
		return err
	}
	if max <= 0 {
		return nil
	}
	var size int64
	for _, list := range [][]byte{modified, untracked} {
		for _, f := range splitZ(list) {
			if excluded[f] {
				continue
			}
			fi, err := os.Lstat(filepath.Join(w.Dir, f))
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted: git stores nothing
			}
			if err != nil {
				return err
			}
			if fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0 {
				size += fi.Size()
			}
			if size > max {
				// Report the whole change, not where counting stopped.
				return &TooLargeError{Size: size + restSize(w.Dir, list, f, excluded), Limit: max, Files: true}
			}
		}
	}
	return nil
}

// restSize adds up the sizes of the files listed in list after the entry
// after, and of nothing else: what measure had not counted yet.
func restSize(dir string, list []byte, after string, skip map[string]bool) int64 {
	files := splitZ(list)
	i := slices.Index(files, after)
	var n int64
	for _, f := range files[i+1:] {
		if skip[f] {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(dir, f)); err == nil && (fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0) {
			n += fi.Size()
		}
	}
	return n
}

func exitStatus(err error, code int) bool {
	var ge *gitx.GitError
	return errors.As(err, &ge) && ge.ExitCode == code
}

// limitWriter passes at most max bytes (0: any) to w and counts
// everything offered. Past the limit it discards rather than fails, so the
// count is the patch's true size (a few seconds of git's time at most: the
// files were measured before).
type limitWriter struct {
	w      io.Writer
	n, max int64
}

func (l *limitWriter) Write(b []byte) (int, error) {
	l.n += int64(len(b))
	if l.max > 0 && l.n > l.max {
		return len(b), nil
	}
	return l.w.Write(b)
}

// CheckApply reports whether patch applies cleanly to the tree of pre: nil
// when it does, an error carrying git's message otherwise. It runs
// `git apply --cached --check` in the mirror against a temporary index,
// made in a directory inside private (the caller's owner-marked private
// directory), holding pre's tree; no working tree is touched and nothing
// is written to the mirror. An empty patch is an error.
func CheckApply(ctx context.Context, m *Mirror, pre, private string, patch io.Reader) error {
	sha, err := m.Resolve(ctx, pre)
	if err != nil {
		return fmt.Errorf("check apply: %w", err)
	}
	if private == "" {
		return errors.New("check apply: no private directory")
	}
	priv, err := os.MkdirTemp(private, "apply-")
	if err != nil {
		return fmt.Errorf("check apply: %w", err)
	}
	defer fsx.RemoveAll(priv)
	g := &gitx.Git{Dir: m.Dir, Env: []string{"GIT_INDEX_FILE=" + filepath.Join(priv, "index")}}
	if _, err := g.Run(ctx, "read-tree", sha+"^{tree}"); err != nil {
		return fmt.Errorf("check apply: %w", err)
	}
	// git apply refuses an input without any patch ("No valid patches in
	// input"), so an empty patch fails here.
	if _, err := g.RunInput(ctx, patch, "apply", "--cached", "--check", "--whitespace=nowarn", "-"); err != nil {
		return fmt.Errorf("check apply: patch does not apply to %s: %w", pre, err)
	}
	return nil
}

// excludeNested leaves out the git repositories an agent made inside the
// workspace (git lists each untracked one as "dir/"), like artefacts: git
// cannot add one without a commit (capture would fail), and one with a
// commit would become a gitlink to an object that exists nowhere else.
// They are appended to the private exclude file and listed as excluded.
func excludeNested(excludeFile string, untracked []byte, excluded map[string]bool, p *Patch) error {
	var lines strings.Builder
	for _, f := range splitZ(untracked) {
		if !strings.HasSuffix(f, "/") || excluded[f] || strings.ContainsAny(f, "\n\r") {
			continue
		}
		lines.WriteString("/" + gitignoreEscape(f) + "\n")
		excluded[f] = true
		p.ExcludedCount++
		if len(p.Excluded) < MaxExcludedListed {
			p.Excluded = append(p.Excluded, f)
		}
	}
	if lines.Len() == 0 {
		return nil
	}
	f, err := os.OpenFile(excludeFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(lines.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// gitignoreEscape makes a path match itself literally as a gitignore
// pattern.
func gitignoreEscape(path string) string {
	var b strings.Builder
	for i, r := range path {
		switch {
		case r == '\\' || r == '*' || r == '?' || r == '[':
			b.WriteByte('\\')
		case r == ' ' && strings.TrimRight(path[i:], " /") == "":
			b.WriteByte('\\') // trailing spaces are otherwise dropped
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Snapshot records the work tree as it is now (after workspace_setup) as
// the base CapturePatch diffs against, so that what the setup changed —
// tracked files it edited, untracked files it made that no .gitignore
// hides — never counts as the agent's. Like CapturePatch it never runs
// git on the workspace's .git: the tree is stored in a git directory of
// its own in private (the caller's owner-marked directory, which must
// outlive the capture), borrowing the mirror's objects, with the same
// rules of what is ignored (ScratchDir, exclude, the tree's .gitignore
// files).
func (w *Workspace) Snapshot(ctx context.Context, m *Mirror, pre, private string, exclude []string) error {
	if err := w.snapshot(ctx, m, pre, private, exclude); err != nil {
		return fmt.Errorf("snapshot the workspace: %w", noteDiskFull(err, private))
	}
	return nil
}

func (w *Workspace) snapshot(ctx context.Context, m *Mirror, pre, private string, exclude []string) error {
	sha, err := m.Resolve(ctx, pre)
	if err != nil {
		return err
	}
	out, err := m.git().Run(ctx, "rev-parse", "--verify", sha+"^{tree}")
	if err != nil {
		return err
	}
	tree := strings.TrimSpace(string(out))
	priv, err := os.MkdirTemp(private, "setup-base-")
	if err != nil {
		return err
	}
	gitDir := filepath.Join(priv, "git")
	if _, err := (&gitx.Git{}).Run(ctx, "init", "--quiet", "--bare", "--template=", "--", gitDir); err != nil {
		return err
	}
	excludeFile := filepath.Join(priv, "exclude")
	if err := os.WriteFile(excludeFile, []byte(strings.Join(exclude, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	g := &gitx.Git{Dir: w.Dir, Env: []string{
		"GIT_DIR=" + gitDir,
		"GIT_WORK_TREE=" + w.Dir,
		"GIT_INDEX_FILE=" + filepath.Join(priv, "index"),
		"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + filepath.Join(m.Dir, "objects"),
	}}
	base, err := baseCommit(ctx, g, tree)
	if err != nil {
		return err
	}
	if w.Base != "" && base != w.Base {
		return fmt.Errorf("workspace %s was not created from %s (base %s, expected %s)", w.Dir, pre, w.Base, base)
	}
	cfg := []string{"-c", "core.bare=false", "-c", "core.fileMode=true", "-c", "core.symlinks=true",
		"-c", "core.autocrlf=false", "-c", "core.safecrlf=false", "-c", "core.ignoreCase=false",
		"-c", "core.excludesFile=" + excludeFile}
	run := func(args ...string) ([]byte, error) { return g.Run(ctx, append(cfg, args...)...) }
	if _, err := run("read-tree", base); err != nil {
		return err
	}
	if _, err := run("add", "--all", "--no-warn-embedded-repo", "--", ".", ":(exclude,top)"+ScratchDir); err != nil {
		return err
	}
	out, err = run("write-tree")
	if err != nil {
		return err
	}
	cg := *g
	cg.Env = append(append([]string(nil), g.Env...), baseEnv...)
	out, err = cg.RunInput(ctx, strings.NewReader("perfbench: the tree workspace_setup left\n"), "commit-tree", "--no-gpg-sign", "-p", base, strings.TrimSpace(string(out)))
	if err != nil {
		return err
	}
	w.SetupBase = strings.TrimSpace(string(out))
	w.setupObjects = filepath.Join(gitDir, "objects")
	return nil
}

// SetupOverlapError is a capture whose agent changes touch the lines
// workspace_setup changed in tracked files: they cannot be told apart from
// setup's, so no patch of the agent's alone exists.
type SetupOverlapError struct {
	Files []string
}

func (e *SetupOverlapError) Error() string {
	return fmt.Sprintf("the agent's changes overlap workspace_setup's edits in %s: no patch of the agent's alone applies to the pre tree", strings.Join(e.Files, ", "))
}

// rebaseOnPre replaces the index (the workspace's tree, F) by the pre
// tree plus the changes from setupBase (the tree workspace_setup left, S)
// to F: a three-way merge with S as the base, the pre tree as one side
// and F as the other, done by `git merge-tree --write-tree` on commits
// made for it (S as the root, F and pre as its children). A conflict is a
// *SetupOverlapError naming the files.
func rebaseOnPre(ctx context.Context, g *gitx.Git, cfg []string, setupBase, pre string) error {
	run := func(stdin string, args ...string) (string, error) {
		cg := *g
		cg.Env = append(append([]string(nil), g.Env...), baseEnv...)
		out, err := cg.RunInput(ctx, strings.NewReader(stdin), append(slices.Clone(cfg), args...)...)
		return strings.TrimSpace(string(out)), err
	}
	fTree, err := run("", "write-tree")
	if err != nil {
		return err
	}
	sTree, err := run("", "rev-parse", "--verify", setupBase+"^{tree}")
	if err != nil {
		return err
	}
	bTree, err := run("", "rev-parse", "--verify", pre+"^{tree}")
	if err != nil {
		return err
	}
	cS, err := run("perfbench: setup\n", "commit-tree", "--no-gpg-sign", sTree)
	if err != nil {
		return err
	}
	cF, err := run("perfbench: agent\n", "commit-tree", "--no-gpg-sign", "-p", cS, fTree)
	if err != nil {
		return err
	}
	cB, err := run("perfbench: pre\n", "commit-tree", "--no-gpg-sign", "-p", cS, bTree)
	if err != nil {
		return err
	}
	out, err := run("", "merge-tree", "--write-tree", "--name-only", "--no-messages", cB, cF)
	if err != nil {
		if exitStatus(err, 1) {
			lines := strings.Split(out, "\n")
			var files []string
			for _, f := range lines[1:] {
				if f = strings.TrimSpace(f); f != "" && !slices.Contains(files, f) {
					files = append(files, f)
				}
			}
			return &SetupOverlapError{Files: files}
		}
		return fmt.Errorf("merge the agent's changes onto the pre tree: %w", err)
	}
	tree, _, _ := strings.Cut(out, "\n")
	if _, err := run("", "read-tree", tree); err != nil {
		return err
	}
	return nil
}
