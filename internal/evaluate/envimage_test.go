package evaluate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/workspace"
)

// fakeEnv is a task's environment image as envbuild would give it.
type fakeEnv struct {
	spec *envbuild.Spec
	img  records.EnvImage
}

func (f *fakeEnv) Current(context.Context, *config.Task) (*envbuild.Spec, records.EnvImage, error) {
	return f.spec, f.img, nil
}

// envRun is a prepared run of the fixture's one item (its patch
// written, its journal final) whose run.json pins pinned.
func envRun(t *testing.T, f *fixture, pinned *records.EnvImage) (string, *plan.Plan) {
	t.Helper()
	ctx := context.Background()
	f.task.Repo.HumanCommit = f.human
	if err := os.WriteFile(f.task.Path, []byte("id: fx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := workspace.OpenMirror(ctx, f.bench.Paths.WorkRoot, f.repo)
	if err != nil {
		t.Fatal(err)
	}
	entries, source, err := plan.Entries(f.task)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(ctx, f.task, source, entries, m, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(journal.RunsDir(f.bench.Paths.StateRoot), "r1")
	it := p.Items[0]
	itemDir := filepath.Join(runDir, it.ID)
	if err := os.MkdirAll(itemDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := plan.Write(filepath.Join(runDir, "plan.json"), p); err != nil {
		t.Fatal(err)
	}
	run := &records.Run{SchemaVersion: records.SchemaVersion, RunID: "r1", Task: records.RunTask{ID: "fx", Path: f.task.Path, RepoURL: f.repo},
		PlanHash: p.Hash, Items: []string{it.ID}, Samples: 1, EnvImage: pinned}
	if err := journal.WriteRun(runDir, run); err != nil {
		t.Fatal(err)
	}
	patch := f.patch(t, func(dir string) { writeFile(t, dir, "agent.txt", "agent\n") })
	if err := os.WriteFile(filepath.Join(itemDir, journal.PatchFile), patch, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := journal.WriteJournal(itemDir, &records.Journal{RunID: "r1", ItemID: it.ID, PlanItemHash: it.Hash(), Status: records.RolloutSuccess}); err != nil {
		t.Fatal(err)
	}
	return runDir, p
}

func (f *fixture) inputOptions(env *fakeEnv) InputOptions {
	o := InputOptions{Bench: f.bench, LoadTask: func(string) (*config.Task, error) { return f.task, nil }}
	if env != nil {
		o.EnvImages = env
	}
	return o
}

// A run directory is evaluated in the image its run.json pins, by id,
// whatever the task's current hash is; without a pin in the current
// hash's image, which must be built (never the host); a predictions file
// pins the current image in the run it creates.
func TestOpenEnvImage(t *testing.T) {
	f := newFixture(t)
	pinned := &records.EnvImage{ID: "sha256:" + strings.Repeat("a", 64), Tag: "perfbench-env/fx:h1", Hash: "h1"}
	runDir, p := envRun(t, f, pinned)
	spec := &envbuild.Spec{TaskID: "fx"}
	moved := &fakeEnv{spec: spec, img: records.EnvImage{ID: "sha256:" + strings.Repeat("b", 64), Tag: "perfbench-env/fx:h2", Hash: "h2"}}
	o := f.inputOptions(moved)
	o.RunDir = runDir
	in, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if in.EnvImage == nil || *in.EnvImage != *pinned {
		t.Errorf("run dir: image %+v, want the pinned %+v", in.EnvImage, pinned)
	}

	// No pin: the current image; unbuilt, refused naming bench build.
	runDir2, _ := envRun(t, newFixture(t), nil)
	o.RunDir = runDir2
	if in, err = Open(context.Background(), o); err != nil || in.EnvImage == nil || in.EnvImage.Hash != "h2" {
		t.Errorf("no pin: %v, image %+v, want the current one", err, in)
	}
	o.EnvImages = &fakeEnv{spec: spec, img: records.EnvImage{Tag: "perfbench-env/fx:h2", Hash: "h2"}}
	if _, err = Open(context.Background(), o); err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "bench build") {
		t.Errorf("unbuilt: %v, want bad input naming bench build", err)
	}

	// Predictions without a run: the current image, pinned in the run
	// made for them; unbuilt, nothing is created.
	preds := filepath.Join(t.TempDir(), "preds.jsonl")
	patch, _ := os.ReadFile(filepath.Join(runDir, p.Items[0].ID, journal.PatchFile))
	if err := journal.WritePredictions(preds, []records.Prediction{{InstanceID: p.Items[0].ID, ModelPatch: string(patch), ModelNameOrPath: "m"}}); err != nil {
		t.Fatal(err)
	}
	planPath := filepath.Join(runDir, "plan.json")
	po := f.inputOptions(&fakeEnv{spec: spec, img: records.EnvImage{Tag: "perfbench-env/fx:h2", Hash: "h2"}})
	po.Predictions, po.PlanPath, po.TaskPath = preds, planPath, f.task.Path
	po.Out = filepath.Join(t.TempDir(), "out")
	if _, err := Open(context.Background(), po); err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "bench build") {
		t.Errorf("predictions, unbuilt: %v", err)
	}
	if _, err := os.Stat(po.Out); err == nil {
		t.Errorf("an unbuilt image left %s", po.Out)
	}
	po.EnvImages = moved
	in, err = Open(context.Background(), po)
	if err != nil {
		t.Fatal(err)
	}
	run, _ := journal.ReadRun(in.RunDir)
	if in.EnvImage == nil || in.EnvImage.Hash != "h2" || run.EnvImage == nil || *run.EnvImage != moved.img {
		t.Errorf("predictions: image %+v, run.json pins %+v", in.EnvImage, run.EnvImage)
	}
}

// buildVariant builds a one-layer image FROM base holding /which = name,
// tagged tag; it returns its id and removes it at the end of the test.
func buildVariant(t *testing.T, base, tag, name string) string {
	t.Helper()
	dir := t.TempDir()
	df := fmt.Sprintf("FROM %s\nLABEL perfbench.test=envpin\nRUN echo %s > /which\n", base, name)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "build", "-q", "-t", tag, dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker build: %v\n%s%s", err, out, stderr.String())
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 || !strings.HasPrefix(fields[len(fields)-1], "sha256:") {
		t.Fatalf("docker build -q printed %q", out)
	}
	id := fields[len(fields)-1]
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", id).Run() })
	return id
}

// After the tag moved to a rebuilt image, the run is still evaluated in
// the image it pinned: the evaluation runner starts that id.
func TestEvaluateUsesPinnedImage(t *testing.T) {
	base, launcher := evaltest.Require(t)
	tag := fmt.Sprintf("perfbench-test/envpin-%d:h1", os.Getpid())
	idA := buildVariant(t, base, tag, "A")
	idB := buildVariant(t, base, tag, "B")
	if idA == idB {
		t.Fatal("the two images have one id")
	}
	f := newFixture(t)
	runDir, _ := envRun(t, f, &records.EnvImage{ID: idA, Tag: tag, Hash: "h1"})
	o := f.inputOptions(&fakeEnv{spec: &envbuild.Spec{TaskID: "fx"}, img: records.EnvImage{ID: idB, Tag: tag, Hash: "h1"}})
	o.RunDir = runDir
	in, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	f.task.Evaluation.Setup = []string{"cat /which"}
	c := NewContainer(&config.Bench{Container: config.Container{Engine: "docker", Network: "none", EvalNetwork: "none"}}, in.EnvImage.ID, launcher)
	run := fmt.Sprintf("envpin-%d-%d", os.Getpid(), time.Now().UnixNano())
	sum, _, err := f.runAs(t, context.Background(), run, in.Units, c)
	if err != nil || sum.Counts[records.EvalSuccess] != 1 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	r, err := journal.ReadEval(in.Units[0].Dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Environment.Container == nil || r.Environment.Container.ImageID != idA {
		t.Errorf("evaluated in %+v, want %s", r.Environment.Container, idA)
	}
	n := 0
	for _, cl := range r.Commands {
		if cl.Phase == "setup" {
			n++
			if cl.Output != "A\n" {
				t.Errorf("setup on the %s saw /which %q, want the pinned image's A", cl.Arm, cl.Output)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d setup commands recorded, want one per arm", n)
	}
	noContainersLeft(t, run)
}
