// Package workspace owns the git repositories perfbench reads and the ones
// it hands to agents.
//
// A Mirror is a bare `git clone --mirror` of a task's repository under
// work_root/mirrors/, shared by every worker and run on the machine and
// guarded by a file lock. A Workspace is a fresh repository whose single
// commit holds the tree of the pre-commit: no upstream history, refs,
// reflog, remotes, alternates or objects reachable from the human commit
// (docs/design.md, "Rollouts"). CapturePatch turns whatever the
// agent left in a workspace into a patch against that tree without trusting
// anything the agent could have changed in its .git.
package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/gitx"
)

// ErrCommitNotFound is matched (errors.Is) by the error Resolve returns for
// a revision the repository does not have even after fetching.
var ErrCommitNotFound = errors.New("commit not found")

// NotFoundError is the error for a revision missing from a repository.
type NotFoundError struct {
	Rev string
	URL string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("commit %s not found in %s", e.Rev, gitx.Redact(e.URL))
}

// Is makes errors.Is(err, ErrCommitNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrCommitNotFound }

// BadInput marks an unknown commit as the user's input error (see package
// badinput).
func (e *NotFoundError) BadInput() bool { return true }

// Mirror is a bare mirror of a task's repository under work_root, shared by
// workers and runs.
type Mirror struct {
	Dir string // absolute path of the bare repository
	URL string // the URL it mirrors; local paths are made absolute
}

// mirrorConfig is written into every mirror's local config, where it wins
// over the user's global config (which clone and fetch read, for
// credentials):
//   - no automatic gc or maintenance: objects fetched by sha are reachable
//     from no ref and must not be pruned, and nothing may repack while
//     workers read the mirror without the lock;
//   - no pruning on fetch: a task's commit stays even if upstream deletes
//     its branch;
//   - no submodule recursion.
var mirrorConfig = []string{
	"gc.auto=0",
	"maintenance.auto=false",
	"fetch.prune=false",
	"fetch.pruneTags=false",
	"fetch.recurseSubmodules=false",
	"fetch.writeCommitGraph=false",
	"core.hooksPath=/dev/null",
}

// OpenMirror returns the mirror of url under workRoot/mirrors/, cloning it on
// first use (`git clone --mirror`; for a local path too), under a file lock
// (syscall.Flock on a .lock file next to it) so concurrent workers and
// processes share it safely. The directory name is a sanitized basename of
// the URL plus a short sha256 of it, never anything derived from a commit.
//
// A clone is made in a temporary directory and renamed into place, so a
// crash mid-clone never leaves a half mirror that later looks complete.
func OpenMirror(ctx context.Context, workRoot, url string) (*Mirror, error) {
	norm, err := normalizeURL(url)
	if err != nil {
		return nil, badinput.Wrap(fmt.Errorf("open mirror: %w", err))
	}
	root, err := filepath.Abs(filepath.Join(workRoot, "mirrors"))
	if err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	sweepStaleClones(root)
	m := &Mirror{Dir: filepath.Join(root, mirrorName(norm)), URL: norm}
	if isMirror(m.Dir) {
		return m, nil
	}
	if config.IsLocalRepo(norm) {
		// Said before anything is created under work_root.
		if err := CheckLocalRepo(norm); err != nil {
			return nil, badinput.Wrap(fmt.Errorf("open mirror: %w", err))
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	l, err := lockFile(ctx, m.Dir+".lock", true)
	if err != nil {
		return nil, fmt.Errorf("open mirror %s: %w", gitx.Redact(norm), err)
	}
	if isMirror(m.Dir) { // another worker cloned it while we waited
		l.unlock()
		return m, nil
	}
	if err := m.clone(ctx); err != nil {
		// No mirror, so no lock file either: a failed plan leaves nothing.
		l.remove()
		return nil, fmt.Errorf("open mirror %s: %w", gitx.Redact(norm), err)
	}
	l.unlock()
	return m, nil
}

// FindMirror returns the mirror of url under workRoot/mirrors/ when one
// exists, and never clones: for readers that only look commits up (the
// subjects on bench compare's HTML site).
func FindMirror(workRoot, url string) (*Mirror, bool) {
	norm, err := normalizeURL(url)
	if err != nil {
		return nil, false
	}
	root, err := filepath.Abs(filepath.Join(workRoot, "mirrors"))
	if err != nil {
		return nil, false
	}
	m := &Mirror{Dir: filepath.Join(root, mirrorName(norm)), URL: norm}
	return m, isMirror(m.Dir)
}

// CheckLocalRepo checks that path holds a repository git can clone, the way
// git looks for one (path, path/.git, path.git; a file may be a bundle),
// without running git.
func CheckLocalRepo(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if fi, err := os.Stat(path + ".git"); err == nil && fi.IsDir() && isGitDir(path+".git") {
				return nil
			}
			return fmt.Errorf("local repository %s does not exist", path)
		}
		return fmt.Errorf("local repository: %w", err)
	}
	if !fi.IsDir() {
		return nil // a bundle, or nothing git can read: git says which
	}
	if isGitDir(path) || isGitDir(filepath.Join(path, ".git")) {
		return nil
	}
	if fi, err := os.Lstat(filepath.Join(path, ".git")); err == nil && fi.Mode().IsRegular() {
		return nil // a gitlink file (a worktree or a submodule)
	}
	return fmt.Errorf("local repository %s is not a git repository", path)
}

// isGitDir is git's own test of a repository directory: HEAD, objects/
// and refs/.
func isGitDir(dir string) bool {
	head, err := os.Stat(filepath.Join(dir, "HEAD"))
	if err != nil || !head.Mode().IsRegular() {
		return false
	}
	for _, sub := range []string{"objects", "refs"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// sweepStaleClones removes the temporary directories of clones whose
// harness died (kill -9 skips every cleanup), of any repository, and the
// lock files that guard no mirror: a clone is live only while its mirror's
// lock is held.
func sweepStaleClones(root string) {
	tmps, _ := filepath.Glob(filepath.Join(root, "*.git.tmp-*"))
	locks, _ := filepath.Glob(filepath.Join(root, "*.git.lock"))
	for _, p := range append(tmps, locks...) {
		dir := strings.TrimSuffix(p, ".lock")
		if i := strings.LastIndex(p, ".tmp-"); i >= 0 {
			dir = p[:i]
		} else if isMirror(dir) {
			continue
		}
		l, err := lockFile(context.Background(), dir+".lock", false)
		if err != nil || l == nil {
			continue // held: a clone or a fetch is running
		}
		if p != l.path {
			_ = fsx.RemoveAll(p)
		}
		if isMirror(dir) {
			l.unlock()
		} else {
			l.remove()
		}
	}
}

func (m *Mirror) clone(ctx context.Context) error {
	// Leftovers of a crashed clone; we hold the lock, so they are not live.
	stale, _ := filepath.Glob(m.Dir + ".tmp-*")
	for _, s := range stale {
		_ = fsx.RemoveAll(s)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(m.Dir), filepath.Base(m.Dir)+".tmp-")
	if err != nil {
		return err
	}
	args := []string{"clone", "--mirror", "--quiet", "--template=", "--origin", "origin"}
	for _, c := range mirrorConfig {
		args = append(args, "--config", c)
	}
	args = append(args, "--", m.URL, tmp)
	g := &gitx.Git{GlobalConfig: true}
	if _, err := g.Run(ctx, args...); err != nil {
		_ = fsx.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, m.Dir); err != nil {
		_ = fsx.RemoveAll(tmp)
		return err
	}
	return nil
}

// isMirror reports whether dir holds a finished mirror (clones are renamed
// into place only when complete).
func isMirror(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "HEAD"))
	return err == nil && st.Mode().IsRegular()
}

// fileLock is a held flock on a lock file.
type fileLock struct {
	f    *os.File
	path string
}

// lockFile takes the exclusive flock of path (created when missing),
// polling so that ctx can cancel the wait; with wait false it returns nil
// when another process holds it. A lock file is removed only by its holder
// (fileLock.remove), so a lock taken on a file that is no longer at path
// excludes nobody: it is dropped and taken again on the new file.
func lockFile(ctx context.Context, path string, wait bool) (*fileLock, error) {
	delay := 5 * time.Millisecond
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if samePath(f, path) {
				return &fileLock{f: f, path: path}, nil
			}
			f.Close()
			continue
		}
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !wait {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// samePath reports whether f is still the file at path.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

func (l *fileLock) unlock() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}

// remove deletes the lock file, then unlocks: whoever waits on it retries
// on a new file.
func (l *fileLock) remove() {
	_ = os.Remove(l.path)
	l.unlock()
}

// normalizeURL makes a local path absolute (so "repo" and "./repo" share a
// mirror) and leaves URLs and scp-like "host:path" addresses as they are,
// following git's own rule: a colon before the first slash means ssh.
func normalizeURL(url string) (string, error) {
	if url == "" {
		return "", errors.New("empty repository url")
	}
	if err := config.CheckRepoURL(url); err != nil {
		return "", fmt.Errorf("repository url: %w", err)
	}
	if !config.IsLocalRepo(url) {
		return url, nil
	}
	abs, err := filepath.Abs(url)
	if err != nil {
		return "", err
	}
	return abs, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// mirrorName is "<basename>-<12 hex of sha256(url)>.git".
func mirrorName(url string) string {
	base := strings.TrimRight(url, "/")
	if i := strings.LastIndexAny(base, "/:"); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(base, ".git")
	base = strings.Trim(unsafeName.ReplaceAllString(base, "_"), "._-")
	if len(base) > 40 {
		base = base[:40]
	}
	if base == "" {
		base = "repo"
	}
	sum := sha256.Sum256([]byte(url))
	return base + "-" + hex.EncodeToString(sum[:])[:12] + ".git"
}

func (m *Mirror) git() *gitx.Git { return &gitx.Git{Dir: m.Dir} }

// remote is for commands that talk to the origin: they may use the user's
// credential helpers (see package gitx).
func (m *Mirror) remote() *gitx.Git { return &gitx.Git{Dir: m.Dir, GlobalConfig: true} }

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$|^[0-9a-f]{64}$`)

// Resolve returns the full sha of rev (a sha, short sha or ref). When the
// mirror lacks it, Resolve takes the lock, runs `git fetch origin <rev>`
// (which servers allow for full shas and ref names) and then a full fetch,
// and tries again. A revision still missing is a *NotFoundError
// (`commit 1234abc not found in <url>`); a failed fetch is returned as
// such, so an unreachable remote is not mistaken for a bad commit.
//
// A ref name that already resolves is not refreshed: tasks name commits,
// and a run must not see a branch move under it.
func (m *Mirror) Resolve(ctx context.Context, rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") || strings.ContainsAny(rev, " \t\n\x00") {
		return "", badinput.Errorf("resolve: invalid revision %q", rev)
	}
	if sha, ok, err := m.revParse(ctx, rev); err != nil || ok {
		return sha, err
	}
	l, err := lockFile(ctx, m.Dir+".lock", true)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", rev, err)
	}
	defer l.unlock()
	if sha, ok, err := m.revParse(ctx, rev); err != nil || ok {
		return sha, err
	}
	// Fetching a single object first is cheap and also reaches commits that
	// no ref advertises (allowed by GitHub for reachable shas); a short sha
	// cannot be fetched by name, so only the full fetch can bring it.
	if fullSHA.MatchString(rev) || (!isHex(rev) && plainRefName(rev)) {
		_, _ = m.remote().Run(ctx, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "origin", "--", rev)
		if sha, ok, err := m.revParse(ctx, rev); err != nil || ok {
			return sha, err
		}
	}
	if _, err := m.remote().Run(ctx, "fetch", "--quiet", "origin"); err != nil {
		return "", fmt.Errorf("resolve %s: fetch %s: %w", rev, gitx.Redact(m.URL), err)
	}
	if sha, ok, err := m.revParse(ctx, rev); err != nil || ok {
		return sha, err
	}
	return "", &NotFoundError{Rev: rev, URL: m.URL}
}

// plainRefName reports whether rev can be fetched by name as it is: a ref
// name without the characters of refspecs and revision expressions
// ("main:x" would create a ref in the mirror, "+main" forces), which only
// the full fetch and rev-parse may see.
func plainRefName(rev string) bool {
	if strings.HasPrefix(rev, "+") || strings.Contains(rev, "..") || strings.Contains(rev, "@{") {
		return false
	}
	for _, c := range rev {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(":^~?*[\\", c) {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return s != ""
}

// revParse resolves rev to a commit; ok is false when it does not exist.
func (m *Mirror) revParse(ctx context.Context, rev string) (sha string, ok bool, err error) {
	out, err := m.git().Run(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		var ge *gitx.GitError
		if errors.As(err, &ge) && ge.ExitCode == 1 {
			return "", false, nil
		}
		return "", false, fmt.Errorf("resolve %s: %w", rev, err)
	}
	return strings.TrimSpace(string(out)), true, nil
}

// Parent returns the n-th parent (1-based) of sha; it is an error if sha has
// fewer parents.
func (m *Mirror) Parent(ctx context.Context, sha string, n int) (string, error) {
	if n < 1 {
		return "", fmt.Errorf("parent %d of %s: n must be at least 1", n, sha)
	}
	c, err := m.Resolve(ctx, sha)
	if err != nil {
		return "", err
	}
	p, ok, err := m.revParse(ctx, c+"^"+strconv.Itoa(n))
	if err != nil {
		return "", err
	}
	if !ok {
		return "", badinput.Errorf("commit %s has no parent %d", sha, n)
	}
	return p, nil
}

// CommitMessage returns the raw message of sha (subject and body), without
// trailing newlines.
func (m *Mirror) CommitMessage(ctx context.Context, sha string) (string, error) {
	out, err := m.git().Run(ctx, "show", "-s", "--format=%B", "--end-of-options", sha+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("commit message of %s: %w", sha, err)
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// diffFlags make every diff perfbench produces the same whatever the
// repository's attributes: no external diff or textconv programs, no color,
// no rename detection (so both paths of a move are listed and counted).
var diffFlags = []string{"--no-color", "--no-ext-diff", "--no-textconv", "--no-renames"}

func diffArgs(extra []string, pre, human string) []string {
	args := append([]string{"diff"}, diffFlags...)
	args = append(args, extra...)
	return append(args, "--end-of-options", pre, human, "--")
}

// Diffstat returns `git diff --stat` from pre to human, for people.
func (m *Mirror) Diffstat(ctx context.Context, pre, human string) (string, error) {
	out, err := m.git().Run(ctx, diffArgs([]string{"--stat=200"}, pre, human)...)
	if err != nil {
		return "", fmt.Errorf("diffstat %s..%s: %w", pre, human, err)
	}
	return string(out), nil
}

// Diff returns the patch from pre to human (`git diff --binary --full-index`),
// which git apply accepts on the pre tree.
func (m *Mirror) Diff(ctx context.Context, pre, human string) ([]byte, error) {
	out, err := m.git().Run(ctx, diffArgs([]string{"--binary", "--full-index"}, pre, human)...)
	if err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", pre, human, err)
	}
	return out, nil
}

// ChangedFiles returns the paths that differ between pre and human, sorted
// as git sorts them; a moved file appears under both names.
func (m *Mirror) ChangedFiles(ctx context.Context, pre, human string) ([]string, error) {
	out, err := m.git().Run(ctx, diffArgs([]string{"--name-only", "-z"}, pre, human)...)
	if err != nil {
		return nil, fmt.Errorf("changed files %s..%s: %w", pre, human, err)
	}
	return splitZ(out), nil
}

// Patch returns the human patch from pre to human with its statistics, in
// the same shape as Workspace.CapturePatch.
func (m *Mirror) Patch(ctx context.Context, pre, human string) (*Patch, error) {
	diff, err := m.Diff(ctx, pre, human)
	if err != nil {
		return nil, err
	}
	num, err := m.git().Run(ctx, diffArgs([]string{"--numstat", "-z"}, pre, human)...)
	if err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", pre, human, err)
	}
	p := &Patch{Diff: diff, Bytes: int64(len(diff))}
	if err := p.addNumstat(num); err != nil {
		return nil, fmt.Errorf("diff %s..%s: %w", pre, human, err)
	}
	return p, nil
}

func splitZ(out []byte) []string {
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}
