package prepare

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

// fakeEnv is a task's environment image as envbuild would give it.
type fakeEnv struct {
	spec *envbuild.Spec
	img  records.EnvImage
}

// Current resolves the task's env_build to f.spec: the task then holds
// the spec's workspace_setup, as a task that envbuild.FromTask resolved
// does (prepare runs the task's).
func (f *fakeEnv) Current(_ context.Context, t *config.Task) (*envbuild.Spec, records.EnvImage, error) {
	if f.spec != nil {
		t.EnvBuild.WorkspaceSetup = f.spec.WorkspaceSetup
		t.EnvBuild.SetupTimeout = records.Duration(f.spec.SetupTimeout)
	}
	return f.spec, f.img, nil
}

func runsIn(t *testing.T, b *config.Bench) []string {
	t.Helper()
	entries, _ := os.ReadDir(journal.RunsDir(b.Paths.StateRoot))
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// The run's first prepare pins the environment image; a resume with the
// same hash goes on; one whose hash changed is refused naming --new and
// changes nothing; an image not built is refused naming bench build,
// before any run exists; --new pins the new image.
func TestPinEnvImage(t *testing.T) {
	b, task, _ := setup(t, "agents:\n  nop:\n    type: noop\n")
	p := buildPlan(t, b, task)
	a, err := b.Agent("nop")
	if err != nil {
		t.Fatal(err)
	}
	env := &fakeEnv{spec: &envbuild.Spec{TaskID: task.ID}, img: records.EnvImage{ID: "sha256:" + strings.Repeat("a", 64), Tag: "perfbench-env/t:h1", Hash: "h1"}}
	opts := Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: env}

	unbuilt := &fakeEnv{spec: env.spec, img: records.EnvImage{Tag: "perfbench-env/t:h1", Hash: "h1"}}
	o := opts
	o.EnvImages = unbuilt
	_, err = Run(context.Background(), o)
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "bench build") {
		t.Fatalf("unbuilt image: %v, want bad input naming bench build", err)
	}
	if ids := runsIn(t, b); len(ids) != 0 {
		t.Fatalf("an unbuilt image created runs %v", ids)
	}

	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	run, err := journal.ReadRun(sum.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	if run.EnvImage == nil || *run.EnvImage != env.img {
		t.Fatalf("run.json env_image %+v, want %+v", run.EnvImage, env.img)
	}

	// Same hash: resumed.
	sum2, err := Run(context.Background(), opts)
	if err != nil || sum2.RunID != sum.RunID {
		t.Fatalf("resume: %v, run %s (want %s)", err, sum2.RunID, sum.RunID)
	}

	before, _ := os.ReadFile(filepath.Join(sum.RunDir, journal.RunFile))
	moved := &fakeEnv{spec: env.spec, img: records.EnvImage{ID: "sha256:" + strings.Repeat("b", 64), Tag: "perfbench-env/t:h2", Hash: "h2"}}
	o = opts
	o.EnvImages = moved
	_, err = Run(context.Background(), o)
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "--new") || !strings.Contains(err.Error(), "h1") || !strings.Contains(err.Error(), "h2") {
		t.Fatalf("changed hash: %v, want bad input naming --new and both hashes", err)
	}
	if after, _ := os.ReadFile(filepath.Join(sum.RunDir, journal.RunFile)); string(after) != string(before) {
		t.Errorf("the refused resume rewrote run.json")
	}

	o.New = true
	sum3, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	run3, _ := journal.ReadRun(sum3.RunDir)
	if sum3.RunID == sum.RunID || run3.EnvImage == nil || run3.EnvImage.Hash != "h2" {
		t.Errorf("--new: run %s pins %+v", sum3.RunID, run3.EnvImage)
	}
}

// A dry run shows the environment image: its tag and id, or that it is
// not built; a container entry without image: names it in its command,
// held at the gate when the task has a workspace_setup.
func TestDryRunShowsEnvImage(t *testing.T) {
	b, task, _ := setup(t, "agents:\n  cmd:\n    type: command\n    runtime: container\n    command: [\"true\"]\n")
	a, err := b.Agent("cmd")
	if err != nil {
		t.Fatal(err)
	}
	spec := &envbuild.Spec{TaskID: task.ID, WorkspaceSetup: []string{"pip install -e ."}}
	id := "sha256:" + strings.Repeat("c", 64)
	for _, tc := range []struct {
		img  records.EnvImage
		want string
	}{
		{records.EnvImage{Tag: "perfbench-env/t:h1", Hash: "h1"}, "perfbench-env/t:h1"},
		{records.EnvImage{ID: id, Tag: "perfbench-env/t:h1", Hash: "h1"}, id},
	} {
		dr, err := DryRun(context.Background(), Options{Task: task, Bench: b, Agent: a, EnvImages: &fakeEnv{spec: spec, img: tc.img}})
		if err != nil {
			t.Fatal(err)
		}
		if dr.EnvImage == nil || *dr.EnvImage != tc.img || len(dr.WorkspaceSetup) != 1 {
			t.Errorf("planned image %+v setup %v", dr.EnvImage, dr.WorkspaceSetup)
		}
		line := strings.Join(dr.Commands[0].Argv, " ")
		if !strings.Contains(line, " "+tc.want+" sh -c ") || !strings.Contains(line, "perfbench-gate true") {
			t.Errorf("command %s: want the image %s and the gate", line, tc.want)
		}
	}
}

// setupImage is the busybox test image and its id (skips without an
// engine).
func setupImage(t *testing.T) (tag, id string) {
	t.Helper()
	tag = evaltest.RequireImage(t)
	img, err := container.NewEngine("docker").InspectImage(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	return tag, img.ID
}

// workspace_setup in a real container: what it writes outside the
// workspace the agent (a command agent, started by the pinned id) sees;
// what it changes in the tree (a tracked file, a new file, an ignored
// build directory) is not the agent's: a noop agent ends no_patch and the
// command agent's patch holds its own file only; a failing setup is
// infra_error (infra_kind: setup) naming the command, logged in
// setup.log, and is redone on resume; a run is not resumed with another
// setup.
func TestWorkspaceSetupInContainer(t *testing.T) {
	_, id := setupImage(t)
	b, task, _ := setup(t, `agents:
  nop:
    type: noop
    runtime: container
  cmd:
    type: command
    runtime: container
    command: ["sh", "-c", "cat /tmp/env-ok > seen.txt"]
`)
	p := buildPlan(t, b, task)
	setupCmds := []string{
		"echo built > /tmp/env-ok",
		"echo setup-was-here >> README.md && mkdir -p build && echo o > build/out.o && echo gen > generated.txt",
	}
	env := &fakeEnv{spec: &envbuild.Spec{TaskID: task.ID, WorkspaceSetup: setupCmds, SetupTimeout: time.Minute},
		img: records.EnvImage{ID: id, Tag: "perfbench-env/t:h1", Hash: "h1"}}
	run := func(name string, e *fakeEnv) (*Summary, *records.Journal) {
		t.Helper()
		a, err := b.Agent(name)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: e})
		if err != nil {
			t.Fatal(err)
		}
		j, err := journal.ReadJournal(filepath.Join(sum.RunDir, p.Items[0].ID))
		if err != nil {
			t.Fatal(err)
		}
		return sum, j
	}

	_, j := run("nop", env)
	if j.Status != records.RolloutNoPatch {
		t.Errorf("noop after a setup that edits the tree: %s (%s), want no_patch", j.Status, j.Reason)
	}

	sum, j := run("cmd", env)
	sum1 := sum
	if j.Status != records.RolloutSuccess {
		t.Fatalf("command agent: %s (%s)", j.Status, j.Reason)
	}
	patch, _ := os.ReadFile(filepath.Join(sum.RunDir, p.Items[0].ID, journal.PatchFile))
	if j.Patch == nil || strings.Join(j.Patch.Files, ",") != "seen.txt" || !strings.Contains(string(patch), "+built") {
		t.Errorf("patch files %v:\n%s", j.Patch, patch)
	}
	runJSON, _ := journal.ReadRun(sum.RunDir)
	if runJSON.Images["agent"] != id {
		t.Errorf("run.json images %v, want the agent's %s", runJSON.Images, id)
	}
	if c := j.Process; c == nil || !strings.Contains(strings.Join(c.Command, " "), " "+id+" sh -c ") {
		t.Errorf("the rollout did not start by the pinned id: %v", j.Process)
	}
	logData, _ := os.ReadFile(filepath.Join(sum.RunDir, p.Items[0].ID, SetupLog))
	if !strings.Contains(string(logData), "$ echo built > /tmp/env-ok") {
		t.Errorf("setup.log:\n%s", logData)
	}

	failing := &fakeEnv{spec: &envbuild.Spec{TaskID: task.ID, WorkspaceSetup: []string{"echo about-to-fail; exit 4"}, SetupTimeout: time.Minute}, img: env.img}
	// Another workspace_setup is another run (it is in the run key).
	a, _ := b.Agent("cmd")
	sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: failing})
	if err != nil {
		t.Fatal(err)
	}
	if sum.RunID == sum1.RunID {
		t.Errorf("another workspace_setup resumed run %s", sum1.RunID)
	}
	j, err = journal.ReadJournal(filepath.Join(sum.RunDir, p.Items[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != records.RolloutInfraError || j.InfraKind != "setup" || !strings.Contains(j.Reason, `"echo about-to-fail; exit 4" exited with status 4: about-to-fail`) {
		t.Errorf("failing setup: %s kind %q reason %q", j.Status, j.InfraKind, j.Reason)
	}
	if journal.Done(filepath.Join(sum.RunDir, p.Items[0].ID), p.Items[0].Hash()) {
		t.Error("an item whose setup failed counts as done")
	}
	// The same run resumed redoes the failed item (with its own setup,
	// which fails again).
	first := j.StartedAt
	if _, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: failing, RunID: sum.RunID}); err != nil {
		t.Fatal(err)
	}
	j, _ = journal.ReadJournal(filepath.Join(sum.RunDir, p.Items[0].ID))
	if j.StartedAt.Equal(first) || j.Status != records.RolloutInfraError || j.InfraKind != "setup" {
		t.Errorf("resumed: %s kind %q started %v (first %v), want the item redone", j.Status, j.InfraKind, j.StartedAt, first)
	}
	// With the setup fixed, the failed run is not resumed: its other
	// items (and this one's first attempt) ran another setup.
	_, err = Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: env, RunID: sum.RunID})
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "--new") {
		t.Errorf("resumed with the setup fixed: %v, want bad input naming --new", err)
	}
}

// On the host workspace_setup runs in the workspace before the agent,
// and its changes are not the agent's either.
func TestWorkspaceSetupOnHost(t *testing.T) {
	b, task, _ := setup(t, `agents:
  cmd:
    type: command
    command: ["sh", "-c", "cat from-setup > seen.txt"]
  nop:
    type: noop
`)
	p := buildPlan(t, b, task)
	env := &fakeEnv{spec: &envbuild.Spec{TaskID: task.ID, WorkspaceSetup: []string{"echo host-setup > from-setup && echo x >> README.md"}},
		img: records.EnvImage{ID: "sha256:" + strings.Repeat("d", 64), Tag: "perfbench-env/t:h1", Hash: "h1"}}
	for _, tc := range []struct {
		agent string
		want  records.RolloutStatus
		files string
	}{{"nop", records.RolloutNoPatch, ""}, {"cmd", records.RolloutSuccess, "seen.txt"}} {
		a, _ := b.Agent(tc.agent)
		sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: env})
		if err != nil {
			t.Fatal(err)
		}
		j, err := journal.ReadJournal(filepath.Join(sum.RunDir, p.Items[0].ID))
		if err != nil {
			t.Fatal(err)
		}
		files := ""
		if j.Patch != nil {
			files = strings.Join(j.Patch.Files, ",")
		}
		if j.Status != tc.want || files != tc.files {
			t.Errorf("%s: %s (%s), files %q; want %s, %q", tc.agent, j.Status, j.Reason, files, tc.want, tc.files)
		}
	}
}

// A pinned image gone from the engine cannot be rebuilt as such: the
// run is refused, naming --new, before any rollout.
func TestPinnedImageGone(t *testing.T) {
	evaltest.RequireEngine(t)
	b, task, _ := setup(t, "agents:\n  nop:\n    type: noop\n    runtime: container\n")
	p := buildPlan(t, b, task)
	a, _ := b.Agent("nop")
	gone := "sha256:" + strings.Repeat("e", 64)
	env := &fakeEnv{spec: &envbuild.Spec{TaskID: task.ID}, img: records.EnvImage{ID: gone, Tag: "perfbench-env/t:h1", Hash: "h1"}}
	sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: env})
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "--new") || !strings.Contains(err.Error(), gone) {
		t.Fatalf("gone image: %v (%+v), want bad input naming it and --new", err, sum)
	}
	for _, id := range runsIn(t, b) {
		if _, err := os.Stat(filepath.Join(journal.RunsDir(b.Paths.StateRoot), id, p.Items[0].ID)); err == nil {
			t.Errorf("run %s started its item", id)
		}
	}
}

// fakeAgentEnv also knows an agent image built for the entry.
type fakeAgentEnv struct {
	fakeEnv
	agent records.EnvImage
}

func (f *fakeAgentEnv) AgentImage(_ context.Context, env records.EnvImage, _ *config.Agent) (records.EnvImage, bool, error) {
	if env != f.img {
		return records.EnvImage{}, false, nil
	}
	return f.agent, true, nil
}

// An agent image built for the entry is pinned with the environment
// image, and is the default image of a container entry without image:.
func TestPinAgentImage(t *testing.T) {
	b, task, _ := setup(t, "agents:\n  nop:\n    type: noop\n")
	p := buildPlan(t, b, task)
	a, _ := b.Agent("nop")
	env := &fakeAgentEnv{
		fakeEnv: fakeEnv{spec: &envbuild.Spec{TaskID: task.ID}, img: records.EnvImage{ID: "sha256:" + strings.Repeat("a", 64), Tag: "perfbench-env/t:h1", Hash: "h1"}},
		agent:   records.EnvImage{ID: "sha256:" + strings.Repeat("f", 64), Tag: "perfbench-agent/t-nop:h9", Hash: "h9"},
	}
	sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: env})
	if err != nil {
		t.Fatal(err)
	}
	run, _ := journal.ReadRun(sum.RunDir)
	if run.AgentImage == nil || *run.AgentImage != env.agent || run.EnvImage == nil || *run.EnvImage != env.img {
		t.Fatalf("pinned env %+v agent %+v", run.EnvImage, run.AgentImage)
	}
	if got := DefaultImage(run); got != env.agent.ID {
		t.Errorf("default image %s, want the agent image's", got)
	}
	run.AgentImage = nil
	if got := DefaultImage(run); got != env.img.ID {
		t.Errorf("default image without an agent image %s, want the environment's", got)
	}
}

// workspace_setup edits a tracked file and the agent edits the same file
// elsewhere: the patch is the agent's edit alone, against the pre tree
// (where evaluation applies it). Edits that touch setup's own lines
// cannot be told apart from them: the patch is refused, saying so.
func TestSetupEditBesideAgentEdit(t *testing.T) {
	for _, tc := range []struct {
		name, agentCmd string
		want           records.RolloutStatus
		reason         string
	}{
		{"apart", "echo agent-line >> README.md", records.RolloutSuccess, ""},
		{"on setup's line", "sed -i 's/^setup-line$/agent-line/' README.md", records.RolloutAgentError, "overlap workspace_setup's edits in README.md"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, task, _ := setup(t, "agents:\n  cmd:\n    type: command\n    command: [\"sh\", \"-c\", \""+tc.agentCmd+"\"]\n")
			p := buildPlan(t, b, task)
			env := &fakeEnv{spec: &envbuild.Spec{TaskID: task.ID, WorkspaceSetup: []string{"sed -i '1i setup-line' README.md"}},
				img: records.EnvImage{ID: "sha256:" + strings.Repeat("d", 64), Tag: "perfbench-env/t:h1", Hash: "h1"}}
			a, _ := b.Agent("cmd")
			sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: env})
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(sum.RunDir, p.Items[0].ID)
			j, err := journal.ReadJournal(dir)
			if err != nil {
				t.Fatal(err)
			}
			if j.Status != tc.want || !strings.Contains(j.Reason, tc.reason) {
				t.Fatalf("status %s (%s), want %s (%q)", j.Status, j.Reason, tc.want, tc.reason)
			}
			if tc.want != records.RolloutSuccess {
				return
			}
			diff, err := os.ReadFile(filepath.Join(dir, "model_patch.diff"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(diff), "+agent-line") || strings.Contains(string(diff), "setup-line") {
				t.Errorf("the patch is not the agent's edit alone:\n%s", diff)
			}
		})
	}
}

// pruningEnv is an engine whose images a prune removes between
// prepare's resolve and its runs lock: after Current answered, hook runs
// (the prune, which must get the runs lock: prepare does not hold it
// yet); InspectImage answers from present and records whether the runs
// lock was held when it was asked.
type pruningEnv struct {
	fakeAgentEnv
	root        string
	present     map[string]bool
	hook        func()
	inspected   []string
	lockedAtAsk []bool
}

func (f *pruningEnv) Current(ctx context.Context, t *config.Task) (*envbuild.Spec, records.EnvImage, error) {
	defer func() {
		if f.hook != nil {
			f.hook()
		}
	}()
	return f.fakeAgentEnv.Current(ctx, t)
}

func (f *pruningEnv) InspectImage(_ context.Context, ref string) (*container.Image, error) {
	f.inspected = append(f.inspected, ref)
	l, err := fsx.TryLock(filepath.Join(journal.RunsDir(f.root), journal.LockFile))
	f.lockedAtAsk = append(f.lockedAtAsk, errors.Is(err, fsx.ErrLocked))
	l.Unlock()
	if !f.present[ref] {
		return nil, fmt.Errorf("%s: %w", ref, container.ErrNoImage)
	}
	return &container.Image{Ref: ref, ID: ref}, nil
}

// A prune between the resolve of the images and the runs lock: the new
// run is refused under the lock, naming bench build (and --agent for the
// agent image), before anything of it exists; with both images there it
// pins them, asked under the lock.
func TestPinnedImageRemovedBeforeLock(t *testing.T) {
	b, task, _ := setup(t, "agents:\n  nop:\n    type: noop\n")
	p := buildPlan(t, b, task)
	a, _ := b.Agent("nop")
	envID, agentID := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("f", 64)
	newEnv := func(remove string) *pruningEnv {
		f := &pruningEnv{
			fakeAgentEnv: fakeAgentEnv{
				fakeEnv: fakeEnv{spec: &envbuild.Spec{TaskID: task.ID}, img: records.EnvImage{ID: envID, Tag: "perfbench-env/t:h1", Hash: "h1"}},
				agent:   records.EnvImage{ID: agentID, Tag: "perfbench-agent/t-nop:h9", Hash: "h9"},
			},
			root:    b.Paths.StateRoot,
			present: map[string]bool{envID: true, agentID: true},
		}
		f.hook = func() {
			// The prune holds the runs lock while it removes.
			l, err := journal.LockRuns(context.Background(), f.root)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Unlock()
			delete(f.present, remove)
		}
		return f
	}
	for _, tc := range []struct {
		name, remove, want string
	}{
		{"env image", envID, "`bench build " + task.Path + "`"},
		{"agent image", agentID, "`bench build " + task.Path + " --agent nop`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(tc.remove)
			_, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: env})
			if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "removed meanwhile (a prune?)") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("image removed before the lock: %v, want bad input naming %s", err, tc.want)
			}
			if ids := runsIn(t, b); len(ids) != 0 {
				t.Errorf("the refused prepare created runs %v", ids)
			}
			if !slices.Contains(env.inspected, tc.remove) || slices.Contains(env.lockedAtAsk, false) {
				t.Errorf("inspected %v, locked %v: want the removed id asked under the runs lock", env.inspected, env.lockedAtAsk)
			}
		})
	}

	env := newEnv("sha256:" + strings.Repeat("0", 64)) // a prune that removes another image
	sum, err := Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, EnvImages: env})
	if err != nil {
		t.Fatal(err)
	}
	run, _ := journal.ReadRun(sum.RunDir)
	if run.EnvImage == nil || run.EnvImage.ID != envID || run.AgentImage == nil || run.AgentImage.ID != agentID {
		t.Errorf("pinned env %+v agent %+v", run.EnvImage, run.AgentImage)
	}
	if !slices.Equal(env.inspected, []string{envID, agentID}) || slices.Contains(env.lockedAtAsk, false) {
		t.Errorf("inspected %v, locked %v: want both ids, under the runs lock", env.inspected, env.lockedAtAsk)
	}
}
