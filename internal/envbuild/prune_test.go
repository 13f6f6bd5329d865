package envbuild

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

// pruneFixture builds tiny FROM-scratch images, each with labels of its
// own (so each has an id of its own), all marked with the test's label
// and removed when the test ends.
type pruneFixture struct {
	t     *testing.T
	eng   *container.Engine
	ctx   context.Context
	dir   string
	mark  string
	refs  []string
	ctrs  []string
	count int
}

func newPruneFixture(t *testing.T) *pruneFixture {
	evaltest.RequireEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY f /f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("prune test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &pruneFixture{t: t, eng: evaltest.Engine(), ctx: ctx, dir: dir,
		mark: fmt.Sprintf("perfbench-test-prune-%d-%d", os.Getpid(), time.Now().UnixNano())}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if len(f.ctrs) > 0 {
			exec.CommandContext(ctx, f.eng.Bin, append([]string{"rm", "-f"}, f.ctrs...)...).Run()
		}
		// The test's own images, by their unique names: force is for
		// this cleanup only, never Prune's.
		for _, r := range f.refs {
			exec.CommandContext(ctx, f.eng.Bin, "rmi", "-f", r).Run()
		}
	})
	return f
}

// build builds an image with labels and tags (full names: the test's own,
// made by own or user) and returns its id.
func (f *pruneFixture) build(labels map[string]string, tags ...string) string {
	f.t.Helper()
	f.count++
	args := []string{"build", "-q", "--label", "perfbench.test=" + f.mark, "--label", fmt.Sprintf("perfbench.test.n=%d", f.count)}
	for k, v := range labels {
		args = append(args, "--label", k+"="+v)
	}
	for _, tag := range tags {
		args = append(args, "-t", tag)
	}
	out, err := exec.CommandContext(f.ctx, f.eng.Bin, append(args, f.dir)...).CombinedOutput()
	if err != nil {
		f.t.Fatalf("docker build: %v\n%s", err, out)
	}
	id := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(id, '\n'); i >= 0 {
		id = id[i+1:]
	}
	if !strings.HasPrefix(id, "sha256:") {
		f.t.Fatalf("docker build -q printed %q", out)
	}
	f.refs = append(f.refs, id)
	f.refs = append(f.refs, tags...)
	return id
}

// own is a tag in perfbench's environment repository, unique to the test.
func (f *pruneFixture) own(name string) string { return EnvRepo + "/" + f.mark + "-" + name }

// ownAgent is one in perfbench's agent repository.
func (f *pruneFixture) ownAgent(name string) string { return AgentRepo + "/" + f.mark + "-" + name }

// user is a tag of the user's (not a perfbench repository).
func (f *pruneFixture) user(name string) string { return f.mark + "/" + name }

func (f *pruneFixture) present(ref string) bool {
	f.t.Helper()
	_, err := f.eng.InspectImage(f.ctx, ref)
	if err != nil && !errors.Is(err, container.ErrNoImage) {
		f.t.Fatal(err)
	}
	return err == nil
}

// TestPrune: of the images labelled with this state root, only those no
// run.json pins go; images without the label, with another state root's,
// or not of a perfbench kind stay; one a container uses is reported and
// stays; of an unpinned image only perfbench's own tags go, one the user
// also tagged stays with its tag (reported as kept); an unreadable
// run.json stops the prune before it removes anything.
func TestPrune(t *testing.T) {
	f := newPruneFixture(t)
	root := t.TempDir()
	other := t.TempDir()
	ours := func(kind string) map[string]string {
		return map[string]string{LabelStateRoot: root, LabelKind: kind, LabelTask: "demo", LabelHash: "0123456789ab"}
	}
	f.build(ours("env"), f.own("unpinned:a"), f.own("unpinned:b")) // two tags: both go
	pinnedEnv := f.build(ours("env"), f.own("pinned-env:1"))
	pinnedAgent := f.build(ours("agent"), f.ownAgent("pinned-agent:1"))
	oldEnv := f.build(ours("env")) // untagged (a rebuild took its tag): by id
	userTagged := f.build(ours("env"), f.own("user-tagged:1"), f.user("mine:latest"))
	onlyUser := f.build(ours("agent"), f.user("only-mine:1")) // its own tag moved to a rebuild
	f.build(nil, f.own("unlabelled:1"))
	f.build(map[string]string{LabelStateRoot: other, LabelKind: "env"}, f.own("other-root:1"))
	f.build(map[string]string{LabelStateRoot: root, LabelKind: "something-else"}, f.own("other-kind:1"))
	f.build(map[string]string{LabelStateRoot: root}, f.own("no-kind:1"))
	f.build(ours("agent"), f.ownAgent("in-use:1"))
	ctr := f.mark + "-ctr"
	if out, err := exec.CommandContext(f.ctx, f.eng.Bin, "create", "--name", ctr, f.ownAgent("in-use:1"), "/f").CombinedOutput(); err != nil {
		t.Fatalf("docker create: %v\n%s", err, out)
	}
	f.ctrs = append(f.ctrs, ctr)

	run := func(id string, env, agent *records.EnvImage) {
		dir := filepath.Join(journal.RunsDir(root), id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := journal.WriteRun(dir, &records.Run{RunID: id, EnvImage: env, AgentImage: agent}); err != nil {
			t.Fatal(err)
		}
	}
	run("r1", &records.EnvImage{ID: pinnedEnv, Tag: f.own("pinned-env:1"), Hash: "0123456789ab"}, nil)
	run("r2", &records.EnvImage{ID: pinnedEnv}, &records.EnvImage{ID: pinnedAgent, Tag: f.ownAgent("pinned-agent:1")})
	run("r3", nil, nil) // a run on the host pins nothing

	bad := filepath.Join(journal.RunsDir(root), "broken", journal.RunFile)
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"schema_version": `), 0o644); err != nil {
		t.Fatal(err)
	}
	removed, err := Prune(f.ctx, f.eng, root)
	if err == nil || !strings.Contains(err.Error(), "broken") || len(removed) != 0 {
		t.Fatalf("with an unreadable run.json: removed %v, err %v; want nothing removed and an error naming it", removed, err)
	}
	if !f.present(f.own("unpinned:a")) || !f.present(oldEnv) {
		t.Fatal("an image was removed though a run.json could not be read")
	}
	if err := os.RemoveAll(filepath.Dir(bad)); err != nil {
		t.Fatal(err)
	}

	p, err := PruneImages(f.ctx, f.eng, root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{f.own("unpinned:a"), f.own("unpinned:b"), oldEnv, f.own("user-tagged:1")}
	slices.Sort(want)
	got := slices.Clone(p.Removed)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	if len(p.Skipped) != 1 || p.Skipped[0].Ref != f.ownAgent("in-use:1") || !strings.Contains(p.Skipped[0].Reason, "container") {
		t.Errorf("skipped %+v, want %s with the engine's reason", p.Skipped, f.ownAgent("in-use:1"))
	}
	if p.Pinned != 2 {
		t.Errorf("pinned %d, want 2", p.Pinned)
	}
	wantKept := []PruneKept{{ID: userTagged, Tags: []string{f.user("mine:latest")}}, {ID: onlyUser, Tags: []string{f.user("only-mine:1")}}}
	slices.SortFunc(wantKept, func(a, b PruneKept) int { return strings.Compare(a.Tags[0], b.Tags[0]) })
	if len(p.Kept) != 2 || !slices.EqualFunc(p.Kept, wantKept, func(a, b PruneKept) bool { return a.ID == b.ID && slices.Equal(a.Tags, b.Tags) }) {
		t.Errorf("kept %+v, want %+v", p.Kept, wantKept)
	}
	for _, ref := range want {
		if f.present(ref) {
			t.Errorf("%s is still there", ref)
		}
	}
	for _, ref := range []string{f.own("pinned-env:1"), f.ownAgent("pinned-agent:1"), f.own("unlabelled:1"), f.own("other-root:1"),
		f.own("other-kind:1"), f.own("no-kind:1"), f.ownAgent("in-use:1"), f.user("mine:latest"), f.user("only-mine:1")} {
		if !f.present(ref) {
			t.Errorf("%s was removed", ref)
		}
	}
	if !f.present(userTagged) || !f.present(onlyUser) {
		t.Error("an image the user tagged was removed")
	}

	// Nothing left to remove: a second prune removes nothing, skips the
	// image in use again and keeps the user's.
	p, err = PruneImages(f.ctx, f.eng, root)
	if err != nil || len(p.Removed) != 0 || len(p.Skipped) != 1 || len(p.Kept) != 2 {
		t.Errorf("second prune: %+v, %v", p, err)
	}
}

// Only the repositories perfbench tags are its own, podman's localhost/
// spelling too.
func TestOwnRef(t *testing.T) {
	for ref, want := range map[string]bool{
		"perfbench-env/t:0123456789abcdef":           true,
		"perfbench-agent/codex:0123456789abcdef":     true,
		"localhost/perfbench-env/t:1":                true,
		"mine:latest":                                false,
		"perfbench-env:latest":                       false,
		"registry.example/perfbench-env/t:1":         false,
		"perfbench-environment/t:1":                  false,
		"docker.io/library/perfbench-agent-x:latest": false,
	} {
		if got := ownRef(ref); got != want {
			t.Errorf("ownRef(%q) = %v, want %v", ref, got, want)
		}
	}
}

// buildFrom builds an image FROM parent (by id) with tags: the legacy
// builder makes parent the child's ancestor, and the child inherits its
// labels.
func (f *pruneFixture) buildFrom(parent string, tags ...string) string {
	f.t.Helper()
	dir := f.t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+parent+"\nLABEL perfbench.test.child=1\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
	args := []string{"build", "-q"}
	for _, tag := range tags {
		args = append(args, "-t", tag)
	}
	out, err := exec.CommandContext(f.ctx, f.eng.Bin, append(args, dir)...).CombinedOutput()
	if err != nil {
		f.t.Fatalf("docker build: %v\n%s", err, out)
	}
	id := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(id, '\n'); i >= 0 {
		id = id[i+1:]
	}
	// The child first: the cleanup removes refs in order.
	f.refs = append(append(append([]string{}, tags...), id), f.refs...)
	return id
}

// An image other images are built on loses its last tag to `rmi` (exit
// 0) but stays: it is reported as kept, untagged, not as removed.
func TestPruneKeepsAParent(t *testing.T) {
	f := newPruneFixture(t)
	root := t.TempDir()
	parent := f.build(map[string]string{LabelStateRoot: root, LabelKind: "env", LabelTask: "demo", LabelHash: "0123456789ab"}, f.own("parent:1"))
	child := f.buildFrom(parent, f.user("child:1")) // the user's, on it
	p, err := PruneImages(f.ctx, f.eng, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Removed) != 0 {
		t.Errorf("removed %v, want nothing: the parent stays", p.Removed)
	}
	// In the listing's order, by ref: perfbench-env/… first.
	want := []PruneKept{{ID: parent, Untagged: []string{f.own("parent:1")}}, {ID: child, Tags: []string{f.user("child:1")}}}
	if !slices.EqualFunc(p.Kept, want, func(a, b PruneKept) bool {
		return a.ID == b.ID && slices.Equal(a.Tags, b.Tags) && slices.Equal(a.Untagged, b.Untagged)
	}) {
		t.Errorf("kept %+v, want %+v", p.Kept, want)
	}
	if !f.present(parent) || f.present(f.own("parent:1")) || !f.present(child) {
		t.Errorf("parent %t (tag %t), child %t: want the parent untagged and kept", f.present(parent), f.present(f.own("parent:1")), f.present(child))
	}
	if len(p.Kept) == 2 && p.Kept[0].Reason() != "untagged "+f.own("parent:1")+"; kept while images are built on it" {
		t.Errorf("reason %q", p.Kept[0].Reason())
	}
}
