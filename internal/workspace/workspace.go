package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/gitx"
)

// ScratchDir is the folder at the top of a workspace where an agent may
// keep notes and scripts; it is git-ignored and never part of a patch.
const ScratchDir = ".bench_scratch"

// The base commit carries nothing of the original repository: a fixed
// identity, date and message, so its sha depends only on the tree and can be
// rebuilt anywhere (CapturePatch does) without reading the workspace.
const (
	baseName    = "perfbench"
	baseEmail   = "perfbench@localhost"
	baseDate    = "946684800 +0000" // 2000-01-01T00:00:00Z
	baseMessage = "perfbench baseline\n"
)

// The identity an agent commits with, if it commits: neutral, so nothing of
// the user's global config reaches the workspace.
const (
	agentName  = "perfbench agent"
	agentEmail = "agent@perfbench.invalid"
)

var baseEnv = []string{
	"GIT_AUTHOR_NAME=" + baseName,
	"GIT_AUTHOR_EMAIL=" + baseEmail,
	"GIT_AUTHOR_DATE=" + baseDate,
	"GIT_COMMITTER_NAME=" + baseName,
	"GIT_COMMITTER_EMAIL=" + baseEmail,
	"GIT_COMMITTER_DATE=" + baseDate,
}

// Workspace is a fresh one-commit repository holding a tree.
type Workspace struct {
	Dir  string // absolute path
	Base string // sha of its single commit: the diff base
	// SetupBase, set by Snapshot, is the commit of the tree as
	// workspace_setup left it (a child of Base): CapturePatch diffs
	// against it instead. setupObjects holds its objects.
	SetupBase    string
	setupObjects string
}

// Create makes dir (which must not exist or be empty) a fresh git repository
// whose only commit holds the tree of pre, checked out, on branch main.
//
// Only the objects of pre's tree are copied: `pack-objects --revs`, fed
// the tree, writes one pack and its index straight into the new repository
// (the mirror is trusted, so index-pack's re-hashing is skipped), while
// `read-tree --reset -u <tree>` checks the tree out at the same time; both
// read the mirror's objects through GIT_ALTERNATE_OBJECT_DIRECTORIES, so no
// alternates file is ever written. The commit has a fixed identity, date
// and message; no reflog is written for it; the repository has no remote,
// no alternates, no hooks, no description and no ref but refs/heads/main.
// Its config has a neutral user.name/user.email so the agent can commit,
// and ScratchDir exists and is listed in .git/info/exclude. Submodules stay
// gitlinks (empty directories).
//
// On failure the half-made directory is removed (emptied if it existed),
// and a full disk stays detectable with gitx.IsDiskFull.
func Create(ctx context.Context, m *Mirror, pre, dir string) (_ *Workspace, err error) {
	sha, err := m.Resolve(ctx, pre)
	if err != nil {
		return nil, fmt.Errorf("workspace create: %w", err)
	}
	out, err := m.git().Run(ctx, "rev-parse", "--verify", sha+"^{tree}")
	if err != nil {
		return nil, fmt.Errorf("workspace create: %w", err)
	}
	tree := strings.TrimSpace(string(out))
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("workspace create: %w", err)
	}
	existed, err := claimDir(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace create: %w", err)
	}
	defer func() {
		if err == nil {
			return
		}
		err = noteDiskFull(err, dir) // before the clean-up frees space
		var cerr error
		if existed {
			cerr = emptyDir(dir)
		} else {
			cerr = fsx.RemoveAll(dir)
		}
		if cerr != nil {
			err = errors.Join(err, fmt.Errorf("workspace create: clean up %s: %w", dir, cerr))
		}
	}()
	base, err := populate(ctx, m, tree, dir)
	if err != nil {
		return nil, fmt.Errorf("workspace create: %w", err)
	}
	return &Workspace{Dir: dir, Base: base}, nil
}

func populate(ctx context.Context, m *Mirror, tree, dir string) (string, error) {
	// An empty template: no sample hooks, no description, nothing that
	// depends on the installed git's share directory.
	if _, err := (&gitx.Git{}).Run(ctx, "init", "--quiet", "--template=", "--initial-branch=main", "--", dir); err != nil {
		return "", err
	}
	gitDir := filepath.Join(dir, ".git")
	if err := appendFile(filepath.Join(gitDir, "config"),
		"[user]\n\tname = "+agentName+"\n\temail = "+agentEmail+"\n"); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(gitDir, "info"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(gitDir, "info", "exclude"), []byte(excludeLine), 0o644); err != nil {
		return "", err
	}
	// Copying the objects and checking out the tree are independent, and
	// each costs about as much as `git worktree add`: run them side by side,
	// the checkout reading the mirror's objects like the copy does.
	err := both(ctx,
		func(ctx context.Context) error { return copyTree(ctx, m, tree, dir) },
		func(ctx context.Context) error { return checkout(ctx, m, tree, dir) })
	if err != nil {
		return "", err
	}
	// commit-tree also checks that the copied pack holds the tree.
	g := &gitx.Git{Dir: dir}
	base, err := baseCommit(ctx, g, tree)
	if err != nil {
		return "", err
	}
	// No reflog: the only entry would be ours, and an empty reflog is the
	// simplest thing to check for leaks.
	if _, err := g.Run(ctx, "-c", "core.logAllRefUpdates=false", "update-ref", "--no-deref", "refs/heads/main", base, ""); err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(dir, ScratchDir), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	return base, nil
}

const excludeLine = "/" + ScratchDir + "/\n"

// alternatesEnv lets a git command in a workspace read the mirror's objects
// through the environment only: no objects/info/alternates file is written.
func alternatesEnv(m *Mirror) []string {
	return []string{"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + filepath.Join(m.Dir, "objects")}
}

// copyTree writes one pack holding exactly the objects reachable from tree
// into the repository at dir. pack-objects runs in that repository (with
// the mirror's objects as alternates), so its temporary files live on the
// workspace's file system, the final rename stays there, and a full disk is
// reported by the command that hit it. The mirror is trusted, so writing the
// pack and index directly skips index-pack's re-hashing. Objects are copied
// as stored in the mirror when they can be (whole, or deltas whose base is
// in the tree); the rest (about a third of a real tree: deltas against
// older versions) must be rebuilt. --window=0 skips the delta search for
// them and pack.compression=0 stores them uncompressed: zlib was 70% of
// the copy's CPU, and the pack grows by only ~40% (45 to 64 MB for a
// 100 MB tree of 10,000 files).
func copyTree(ctx context.Context, m *Mirror, tree, dir string) error {
	g := &gitx.Git{Dir: dir, Env: alternatesEnv(m)}
	_, err := g.RunInput(ctx, strings.NewReader(tree+"\n"),
		"-c", "pack.compression=0",
		"pack-objects", "--revs", "--quiet", "--delta-base-offset", "--window=0",
		filepath.Join(dir, ".git", "objects", "pack", "pack"))
	return err
}

// checkoutWorkers is git's checkout.workers for Create: 0 is one worker per
// CPU, which halves the checkout on file systems where creating files is
// expensive (measured: 2 s instead of 6 s for 10,000 files on ext4).
const checkoutWorkers = 0

// checkout fills the index and work tree of the repository at dir with tree.
func checkout(ctx context.Context, m *Mirror, tree, dir string) error {
	g := &gitx.Git{Dir: dir, Env: alternatesEnv(m)}
	_, err := g.Run(ctx, "-c", "checkout.workers="+strconv.Itoa(checkoutWorkers), "read-tree", "--reset", "-u", tree)
	return err
}

// both runs f and g concurrently. When one fails the other is cancelled,
// and the error is the failure that was not caused by that cancellation.
func both(ctx context.Context, f, g func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		i   int
		err error
	}
	ch := make(chan result, 2)
	go func() { ch <- result{0, f(ctx)} }()
	go func() { ch <- result{1, g(ctx)} }()
	var errs []error
	for range 2 {
		r := <-ch
		if r.err == nil {
			continue
		}
		// The second failure is usually our cancellation of it; keep it
		// only when it failed on its own.
		if len(errs) == 0 || !errors.Is(r.err, context.Canceled) {
			errs = append(errs, r.err)
		}
		cancel()
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("%w; %w", errs[0], errs[1])
}

// baseCommit writes the deterministic base commit for tree with g.
func baseCommit(ctx context.Context, g *gitx.Git, tree string) (string, error) {
	cg := *g
	cg.Env = append(append([]string(nil), g.Env...), baseEnv...)
	out, err := cg.RunInput(ctx, strings.NewReader(baseMessage), "commit-tree", "--no-gpg-sign", tree)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// noteDiskFull adds syscall.ENOSPC to err's chain when the file system
// holding path is full. Git reports some failed writes without the errno
// (a checkout says only "unable to write file x"), and callers must still
// tell a full disk (an infrastructure failure) from a broken repository.
// Call it before cleaning up, which frees space.
func noteDiskFull(err error, path string) error {
	if err == nil || gitx.IsDiskFull(err) {
		return err
	}
	var st syscall.Statfs_t
	if syscall.Statfs(path, &st) != nil {
		return err
	}
	if uint64(st.Bavail)*uint64(st.Bsize) < 1<<20 || st.Files > 0 && st.Ffree == 0 {
		return fmt.Errorf("%w (%w: the file system of %s is full)", err, syscall.ENOSPC, path)
	}
	return err
}

// claimDir checks that dir is absent or empty and creates it; existed says
// whether it was there before.
func claimDir(dir string) (existed bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return false, err
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			return false, err
		}
		return false, nil
	case err != nil:
		return false, err
	case len(entries) > 0:
		return false, fmt.Errorf("%s is not empty", dir)
	}
	return true, nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Apply applies patch to the workspace's working tree (`git apply`), falling
// back to `git apply --3way` (which also updates the index and may leave
// conflict markers behind when it fails: discard the workspace then).
// Meant for workspaces the harness made, not ones an agent has used.
func (w *Workspace) Apply(ctx context.Context, patch []byte) error {
	if len(bytes.TrimSpace(patch)) == 0 {
		return nil
	}
	g := &gitx.Git{Dir: w.Dir}
	_, err := g.RunInput(ctx, bytes.NewReader(patch), "apply", "--binary", "--whitespace=nowarn", "-")
	if err == nil {
		return nil
	}
	if _, err3 := g.RunInput(ctx, bytes.NewReader(patch), "apply", "--3way", "--binary", "--whitespace=nowarn", "-"); err3 != nil {
		return fmt.Errorf("apply patch in %s: %w; with --3way: %w", w.Dir, err, err3)
	}
	return nil
}

// Remove deletes the workspace, including files and directories the agent
// made read-only.
func (w *Workspace) Remove() error {
	if err := fsx.RemoveAll(w.Dir); err != nil {
		return fmt.Errorf("workspace remove: %w", err)
	}
	return nil
}

// emptyDir removes everything inside dir.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, fsx.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}
