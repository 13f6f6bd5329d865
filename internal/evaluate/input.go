package evaluate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/prepare"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/shard"
	"github.com/perfbench/perfbench/internal/workspace"
)

// PredictionsAgent names the agent of a run made from a predictions file.
const PredictionsAgent = "predictions"

// InputOptions say what to evaluate: a run directory made by prepare
// (RunDir), or a predictions file with its plan (Predictions, PlanPath,
// and Out, the run directory of the results).
type InputOptions struct {
	Bench *config.Bench
	// LoadTask loads a task file (the CLI's loader, which notes ignored
	// fields and makes a relative local repository absolute).
	LoadTask func(path string) (*config.Task, error)

	RunDir      string
	Predictions string
	PlanPath    string
	Out         string
	// TaskPath is --task: default, the run's (or the plan's) task file.
	TaskPath string
	// Commits is the commits file a run's plan is rebuilt from.
	Commits string
	Regrade bool
	// Shard, when set, is the part of the run this process evaluates
	// (evaluate --shard I/N): the units of the items in it, by the item's
	// id as prepare's shards take them.
	Shard shard.Spec

	// EnvImages resolves the task's environment image (env_build) when
	// the run pins none: a run's pinned image is used whatever the task's
	// hash is now; without a pin, the current hash's (bad input when not
	// built). Nil: the task builds no image.
	EnvImages prepare.EnvImages

	BenchVersion string
	Now          func() time.Time
	// Log receives what is chosen or created ("resuming run ...").
	Log io.Writer
}

// Input is what an evaluation works on.
type Input struct {
	RunID  string
	RunDir string
	// Runtime is where the rollouts ran (run.json); "" when unknown.
	Runtime string
	Task    *config.Task
	Plan    *plan.Plan
	Units   []Unit
	// Skipped are the units left out, each with why.
	Skipped []string
	// EnvImage is the environment image the evaluation runs in, by its
	// ID: the run's pinned one, else the task's current one; nil when the
	// task builds none (environment.image, or the host).
	EnvImage *records.EnvImage
}

// Open finds what to evaluate: the units of a run directory (its task
// file and plan found as the run recorded them), or those of a
// predictions file, whose run directory it chooses or creates under
// <state_root>/runs/.lock. Bad input is refused before anything is
// created.
func Open(ctx context.Context, o InputOptions) (*Input, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Predictions != "" {
		if o.Shard.N > 0 {
			// It would create the run directory: run-level, not a shard's.
			return nil, badinput.Errorf("--shard goes with RUN_DIR, not --predictions")
		}
		return openPredictions(ctx, &o)
	}
	return openRunDir(ctx, &o)
}

// openRunDir reads a run directory made by prepare.
func openRunDir(ctx context.Context, o *InputOptions) (*Input, error) {
	runDir := o.RunDir
	run, err := journal.ReadRun(runDir)
	if err != nil {
		if fsx.IsNotExist(err) {
			return nil, badinput.Errorf("%s is not a run directory (no %s)", runDir, journal.RunFile)
		}
		return nil, badinput.Wrap(err)
	}
	taskPath := o.TaskPath
	if taskPath == "" {
		taskPath = run.Task.Path
	}
	if taskPath == "" || !fsx.Exists(taskPath) {
		return nil, badinput.Errorf("run %s: task file %q not found (pass --task TASK.yaml)", run.RunID, taskPath)
	}
	task, err := o.LoadTask(taskPath)
	if err != nil {
		return nil, err
	}
	if task.ID != run.Task.ID {
		return nil, badinput.Errorf("task %s has id %s, but run %s is of task %s", taskPath, task.ID, run.RunID, run.Task.ID)
	}
	envImage, err := runEnvImage(ctx, o, run, task)
	if err != nil {
		return nil, err
	}
	if err := requireImage(o, task, envImage); err != nil {
		return nil, err
	}
	p, err := findPlan(ctx, o, run, runDir, task)
	if err != nil {
		return nil, err
	}
	items := map[string]plan.Item{}
	for _, it := range p.Items {
		items[it.ID] = it
	}
	samples := max(run.Samples, 1)
	in := &Input{RunID: run.RunID, RunDir: runDir, Runtime: run.Runtime, Task: task, Plan: p, EnvImage: envImage}
	for _, id := range run.Items {
		it, ok := items[id]
		if !ok {
			return nil, badinput.Errorf("run %s lists item %s, which its plan does not have", run.RunID, id)
		}
		if !o.Shard.Has(id) {
			continue
		}
		for s := 0; s < samples; s++ {
			name := journal.ItemDirName(id, s, samples)
			dir := filepath.Join(runDir, name)
			if !o.Regrade {
				j, err := journal.ReadJournal(dir)
				switch {
				case err != nil:
					in.Skipped = append(in.Skipped, name+": not prepared yet (run prepare to finish the run)")
					continue
				case !j.Status.Final():
					in.Skipped = append(in.Skipped, fmt.Sprintf("%s: its rollout ended in %s (run prepare to redo it)", name, j.Status))
					continue
				case j.PlanItemHash != it.Hash():
					in.Skipped = append(in.Skipped, name+": prepared for another version of the plan item")
					continue
				}
			}
			patch, err := readPatch(filepath.Join(dir, journal.PatchFile), o.Bench.PatchLimit())
			if err != nil {
				return nil, fmt.Errorf("item %s: %w", name, err)
			}
			in.Units = append(in.Units, Unit{Item: it, Sample: s, Dir: dir, Name: name, Patch: patch, Samples: samples})
		}
	}
	return in, nil
}

// readPatch reads a model_patch.diff (none: empty) of at most limit bytes:
// prepare never stores a larger one, and evaluate holds patches in memory.
func readPatch(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if fsx.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patch, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(patch)) > limit {
		return nil, badinput.Errorf("%s is larger than max_patch_bytes (%d)", path, limit)
	}
	return patch, nil
}

// findPlan finds the plan a run was prepared from: --plan, run.json's
// plan_path, <state_root>/plan.json next to the run's runs/ directory, or
// the task's own commits; its hash must be the run's.
func findPlan(ctx context.Context, o *InputOptions, run *records.Run, runDir string, task *config.Task) (*plan.Plan, error) {
	var tried []string
	try := func(path string) (*plan.Plan, error) {
		if path == "" || !fsx.Exists(path) {
			return nil, nil
		}
		p, err := plan.ReadResolved(path)
		if err != nil {
			return nil, err
		}
		if p.Hash != run.PlanHash {
			tried = append(tried, fmt.Sprintf("%s (plan hash %s)", path, p.Hash))
			return nil, nil
		}
		return p, nil
	}
	if o.PlanPath != "" {
		p, err := plan.ReadResolved(o.PlanPath)
		if err != nil {
			return nil, err
		}
		if p.Hash != run.PlanHash {
			return nil, badinput.Errorf("--plan %s is not the plan of run %s (plan hash %s, the run's is %s)", o.PlanPath, run.RunID, p.Hash, run.PlanHash)
		}
		return p, nil
	}
	for _, path := range []string{run.PlanPath, filepath.Join(runDir, "plan.json"), filepath.Join(filepath.Dir(filepath.Dir(filepath.Clean(runDir))), "plan.json")} {
		p, err := try(path)
		if err != nil {
			return nil, err
		}
		if p != nil {
			return p, nil
		}
	}
	// The commits file or the task's own commits, as prepare builds the
	// plan without --from-plan.
	entries, source, err := plan.EntriesFrom(task, o.Commits)
	if err != nil && o.Commits != "" {
		return nil, err
	}
	if err == nil {
		m, err := workspace.OpenMirror(ctx, o.Bench.Paths.WorkRoot, task.Repo.URL)
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", task.Repo.URL, err)
		}
		p, err := plan.Build(ctx, task, source, entries, m, o.Now())
		if err != nil {
			return nil, err
		}
		if p.Hash == run.PlanHash {
			return p, nil
		}
		tried = append(tried, fmt.Sprintf("the plan of %s (plan hash %s)", source, p.Hash))
	}
	msg := "none found"
	if len(tried) > 0 {
		msg = "tried " + strings.Join(tried, ", ")
	}
	return nil, badinput.Errorf("run %s was prepared from plan hash %s: %s; pass --plan PLAN.json", run.RunID, run.PlanHash, msg)
}

// openPredictions turns a predictions file into a run directory: run.json
// (agent "predictions"), one item directory per prediction holding its
// model_patch.diff, and predictions.jsonl.
func openPredictions(ctx context.Context, o *InputOptions) (*Input, error) {
	preds, err := journal.ReadPredictions(o.Predictions, o.Bench.PatchLimit())
	if err != nil {
		return nil, err
	}
	if len(preds) == 0 {
		return nil, badinput.Errorf("%s: no predictions", o.Predictions)
	}
	p, err := plan.ReadResolved(o.PlanPath)
	if err != nil {
		return nil, err
	}
	taskPath := o.TaskPath
	if taskPath == "" {
		taskPath = p.TaskPath
	}
	if taskPath == "" || !fsx.Exists(taskPath) {
		return nil, badinput.Errorf("plan %s: task file %q not found (pass --task TASK.yaml)", o.PlanPath, taskPath)
	}
	task, err := o.LoadTask(taskPath)
	if err != nil {
		return nil, err
	}
	if task.ID != p.TaskID {
		return nil, badinput.Errorf("task %s has id %s, but plan %s is of task %s", taskPath, task.ID, o.PlanPath, p.TaskID)
	}
	// Checked before anything is created; a run found below may pin
	// another image, which it keeps.
	envImage, err := runEnvImage(ctx, o, &records.Run{}, task)
	if err != nil {
		return nil, err
	}
	if err := requireImage(o, task, envImage); err != nil {
		return nil, err
	}
	byID := map[string]records.Prediction{}
	models := map[string]bool{}
	for _, pr := range preds {
		byID[pr.InstanceID] = pr
		models[pr.ModelNameOrPath] = true
	}
	var ids []string
	var items []plan.Item
	known := map[string]bool{}
	for _, it := range p.Items {
		known[it.ID] = true
		if _, ok := byID[it.ID]; ok {
			ids = append(ids, it.ID)
			items = append(items, it)
		}
	}
	for _, pr := range preds {
		if !known[pr.InstanceID] {
			return nil, badinput.Errorf("%s: instance_id %q is not an item of plan %s (its ids look like %s)", o.Predictions, pr.InstanceID, o.PlanPath, p.Items[0].ID)
		}
	}
	model := ""
	if len(models) == 1 {
		for m := range models {
			model = m
		}
	} else {
		model = "mixed"
	}
	data, err := os.ReadFile(o.Predictions)
	if err != nil {
		return nil, badinput.Wrap(err)
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:8])
	root := o.Bench.Paths.StateRoot
	// Choosing or creating the run happens under runs/.lock, as in
	// prepare: two evaluations of one file end in one run.
	lock, err := journal.LockRuns(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	defer lock.Unlock()
	runDir := o.Out
	var run *records.Run
	if runDir != "" {
		if fsx.Exists(filepath.Join(runDir, journal.RunFile)) {
			if run, err = journal.ReadRun(runDir); err != nil {
				return nil, badinput.Wrap(err)
			}
			if run.Agent.Type != PredictionsAgent || run.PlanHash != p.Hash || run.Agent.ConfigHash != hash {
				return nil, badinput.Errorf("--out %s holds run %s, not the evaluation of %s with plan %s", runDir, run.RunID, o.Predictions, o.PlanPath)
			}
		}
	} else {
		key := journal.RunKey{TaskID: task.ID, AgentName: PredictionsAgent, Model: model, PlanHash: p.Hash, AgentConfigHash: hash, Samples: 1}
		if run, err = journal.FindResumable(root, key); err != nil {
			return nil, err
		}
		if run != nil {
			runDir = filepath.Join(journal.RunsDir(root), run.RunID)
		}
	}
	if run == nil && o.Regrade {
		return nil, badinput.Errorf("--regrade: no evaluation of %s with plan %s to regrade", o.Predictions, o.PlanPath)
	}
	if run != nil {
		fmt.Fprintf(o.Log, "resuming run %s\n", run.RunID)
	} else {
		now := o.Now().UTC()
		id := journal.NewRunID(task.ID, PredictionsAgent, model, now)
		if runDir == "" {
			id = journal.FreeRunID(root, id)
			runDir = filepath.Join(journal.RunsDir(root), id)
		} else {
			id = journal.Sanitize(filepath.Base(runDir))
		}
		absPlan, _ := filepath.Abs(o.PlanPath)
		run = &records.Run{
			RunID: id, CreatedAt: now, UpdatedAt: now,
			Task:     records.RunTask{ID: task.ID, Name: task.Name, Path: task.Path, RepoURL: p.RepoURL},
			Agent:    records.RunAgent{Name: PredictionsAgent, Type: PredictionsAgent, Model: model, ConfigHash: hash},
			PlanHash: p.Hash, PlanPath: absPlan, Items: ids, Samples: 1,
			Provenance: prepare.Provenance(ctx, o.BenchVersion),
			// Pinned: evaluating the file again uses the same image.
			EnvImage: envImage,
		}
		if err := os.MkdirAll(runDir, 0o755); err != nil {
			return nil, err
		}
		if err := journal.WriteRun(runDir, run); err != nil {
			return nil, err
		}
		var kept []records.Prediction
		for _, id := range ids {
			kept = append(kept, byID[id])
		}
		if err := journal.WritePredictions(filepath.Join(runDir, journal.PredictionsFile), kept); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Log, "run %s: %d prediction(s) from %s\n", run.RunID, len(ids), o.Predictions)
	}
	if run.EnvImage != nil {
		envImage = run.EnvImage
	}
	in := &Input{RunID: run.RunID, RunDir: runDir, Task: task, Plan: p, EnvImage: envImage}
	for _, it := range items {
		dir := filepath.Join(runDir, it.ID)
		patch := []byte(byID[it.ID].ModelPatch)
		if old, err := os.ReadFile(filepath.Join(dir, journal.PatchFile)); !o.Regrade && (err != nil || string(old) != string(patch)) {
			if err := fsx.WriteFile(filepath.Join(dir, journal.PatchFile), patch, 0o644); err != nil {
				return nil, err
			}
		}
		in.Units = append(in.Units, Unit{Item: it, Dir: dir, Name: it.ID, Patch: patch})
	}
	return in, nil
}

// requireImage refuses, before anything is created, to evaluate on the
// host a task that sets environment.require_image (--regrade runs
// nothing).
func requireImage(o *InputOptions, task *config.Task, env *records.EnvImage) error {
	if o.Regrade || task.Environment.Image != "" || env != nil || !task.Environment.RequireImage {
		return nil
	}
	return &config.Error{Pos: task.Environment.RequireImagePos, Field: "environment.require_image",
		Msg: "true, but environment.image is empty: evaluating on the host would run the agent's patched code unsandboxed"}
}

// runEnvImage is the environment image an evaluation of run runs in: the
// one the run pinned, else the task's current one (o.EnvImages), which
// must be built: with an env_build, evaluation never falls back to the
// host. Nil when neither applies.
func runEnvImage(ctx context.Context, o *InputOptions, run *records.Run, task *config.Task) (*records.EnvImage, error) {
	if run.EnvImage != nil {
		if run.EnvImage.ID == "" {
			return nil, badinput.Errorf("run %s: run.json pins the environment image %s without an id", run.RunID, run.EnvImage.Tag)
		}
		return run.EnvImage, nil
	}
	if o.EnvImages == nil {
		return nil, nil
	}
	spec, cur, err := o.EnvImages.Current(ctx, task)
	if err != nil {
		return nil, fmt.Errorf("environment image: %w", err)
	}
	if spec == nil {
		return nil, nil
	}
	if cur.ID == "" && !o.Regrade {
		return nil, badinput.Errorf("%s: the environment image %s (env_build's current hash) is not built: run `bench build %s` first", task.Path, cur.Tag, task.Path)
	}
	return &cur, nil
}
