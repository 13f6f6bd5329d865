package prepare

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/textx"
)

// EnvImages is what prepare needs of a task's environment image (the
// CLI's adapter over envbuild: FromTask, then Current): the env_build
// resolved (nil when it names no file: nothing is built) and the image
// of its current hash, whose ID is "" when that image is not built.
type EnvImages interface {
	Current(ctx context.Context, t *config.Task) (*envbuild.Spec, records.EnvImage, error)
}

// AgentImages is implemented by an EnvImages that knows the agent images
// built FROM an environment image (bench build --agent): the one of
// entry a, ok false when none is built. Prepare pins it in run.json
// (AgentImage) at the run's first prepare, and a container entry without
// image: then runs in it rather than in the environment image.
type AgentImages interface {
	AgentImage(ctx context.Context, env records.EnvImage, a *config.Agent) (img records.EnvImage, ok bool, err error)
}

// SetupLog is workspace_setup's log in the item directory.
const SetupLog = "setup.log"

// envState is the environment image of this prepare: the env_build
// resolved and the image of its current hash.
type envState struct {
	spec    *envbuild.Spec
	current records.EnvImage
	// agent is the agent image built for the entry, when there is one.
	agent *records.EnvImage
}

// resolveEnv asks o.EnvImages for the task's environment image; nil when
// the task builds none (or no EnvImages is given). An image that is not
// built is bad input naming `bench build`, unless allowUnbuilt (a dry run
// says so instead).
func resolveEnv(ctx context.Context, o *Options, allowUnbuilt bool) (*envState, error) {
	if o.EnvImages == nil {
		return nil, nil
	}
	spec, cur, err := o.EnvImages.Current(ctx, o.Task)
	if err != nil {
		return nil, fmt.Errorf("environment image: %w", err)
	}
	if spec == nil {
		return nil, nil
	}
	st := &envState{spec: spec, current: cur}
	if cur.ID == "" {
		if allowUnbuilt {
			return st, nil
		}
		return nil, badinput.Errorf("%s: the environment image %s (env_build's current hash) is not built: run `bench build %s` first", o.Task.Path, cur.Tag, o.Task.Path)
	}
	if ai, ok := o.EnvImages.(AgentImages); ok {
		img, found, err := ai.AgentImage(ctx, cur, o.Agent)
		if err != nil {
			return nil, fmt.Errorf("agent image: %w", err)
		}
		if found {
			st.agent = &img
		}
	}
	return st, nil
}

// checkPinned refuses to resume a run whose pinned environment image is
// not the task's current one: its rollouts ran in another environment.
func checkPinned(run *records.Run, env *envState, taskPath string) error {
	if env == nil {
		if run.EnvImage != nil {
			return badinput.Errorf("run %s pinned the environment image %s (%s), but %s builds none now: start a fresh run with --new", run.RunID, run.EnvImage.Tag, shortImageID(run.EnvImage.ID), taskPath)
		}
		return nil
	}
	switch {
	case run.EnvImage == nil:
		return badinput.Errorf("run %s has no pinned environment image, but %s's env_build builds %s now: start a fresh run with --new", run.RunID, taskPath, env.current.Tag)
	case run.EnvImage.Hash != env.current.Hash:
		return badinput.Errorf("run %s pinned the environment image %s (hash %s), but %s's env_build now hashes to %s: start a fresh run with --new (or restore the context the run was built from)", run.RunID, run.EnvImage.Tag, run.EnvImage.Hash, taskPath, env.current.Hash)
	}
	return nil
}

// stillThere checks, under the runs lock, that the images a new run is
// about to pin are on the engine by id: resolveEnv looked before the
// lock, and a prune (which holds that lock while it reads the pins and
// removes) in between may have removed them. Only an EnvImages that can
// inspect (envbuild.Inspector: the CLI's) is asked.
func (env *envState) stillThere(ctx context.Context, o *Options) error {
	if env == nil {
		return nil
	}
	insp, ok := o.EnvImages.(envbuild.Inspector)
	if !ok {
		return nil
	}
	for _, c := range []struct {
		img   *records.EnvImage
		build string
	}{
		{&env.current, o.Task.Path},
		{env.agent, o.Task.Path + " --agent " + o.Agent.Name},
	} {
		if c.img == nil || c.img.ID == "" {
			continue
		}
		_, err := insp.InspectImage(ctx, c.img.ID)
		switch {
		case errors.Is(err, container.ErrNoImage):
			return badinput.Errorf("the image %s (%s) was removed meanwhile (a prune?): run `bench build %s`", c.img.Tag, shortImageID(c.img.ID), c.build)
		case err != nil:
			return fmt.Errorf("image %s: %w", c.img.Tag, err)
		}
	}
	return nil
}

// pin is what a new run records of its images.
func (env *envState) pin(run *records.Run) {
	if env == nil {
		return
	}
	img := env.current
	run.EnvImage = &img
	if env.agent != nil {
		a := *env.agent
		run.AgentImage = &a
	}
}

// DefaultImage is the image a container entry without image: runs in:
// the agent image pinned for it, else the environment image pinned, by
// id; "" when the run pins neither (environment.image, set on the entry
// by ResolveAgentEnv, is the fallback then).
func DefaultImage(run *records.Run) string {
	switch {
	case run.AgentImage != nil && run.AgentImage.ID != "":
		return run.AgentImage.ID
	case run.EnvImage != nil:
		return run.EnvImage.ID
	}
	return ""
}

// rolloutAgent is the entry the rollouts run: with runtime: container,
// its image by the engine's id — the run's pinned image for an entry
// without image:, else the id of the image it names (environment.image
// or its own), inspected now — so that a tag moved meanwhile changes no
// rollout. The entry as configured (and hashed) is left unchanged.
func (r *runner) rolloutAgent(ctx context.Context) (*config.Agent, error) {
	a := r.opts.Agent
	kind, _ := agent.Find(r.opts.Kinds, a.Type)
	if kind.ChoosesRuntime {
		// OpenHands: the agent image pinned for the entry becomes its
		// sandbox's container_image when unset (local sandbox mode only;
		// the kind's hook refuses the docker mode).
		if r.run.AgentImage != nil && r.run.AgentImage.ID != "" && kind.UseAgentImage != nil {
			c := *a
			if _, err := kind.UseAgentImage(&c, r.run.AgentImage.ID); err != nil {
				return nil, err
			}
			return &c, nil
		}
		return a, nil
	}
	if a.Runtime != agent.RuntimeContainer {
		return a, nil
	}
	c := *a
	eng := container.NewEngine(r.opts.Bench.Container.Engine)
	if c.Image == "" {
		c.Image = DefaultImage(r.run)
		if c.Image == "" {
			return nil, badinput.Errorf("agents.%s: runtime: container needs image: (an image with the agent installed), the task's environment.image, or an env_build image", a.Name)
		}
		// The run's rollouts all start this id: one gone from the engine
		// (removed by hand, another machine's) cannot be rebuilt as such.
		if _, err := eng.InspectImage(ctx, c.Image); errors.Is(err, container.ErrNoImage) {
			return nil, badinput.Errorf("run %s pins the image %s, which is not on this engine (%s): start a fresh run with --new after `bench build %s`", r.run.RunID, c.Image, eng.Bin, r.opts.Task.Path)
		}
		return &c, nil
	}
	img, err := eng.InspectImage(ctx, c.Image)
	if err != nil {
		// The rollout reports a missing image as its infra_error, as
		// before: nothing to pin.
		fmt.Fprintf(r.log, "warning: agent image: %v\n", err)
		return a, nil
	}
	c.Image = img.ID
	return &c, nil
}

// newSetup is the attempt's workspace_setup, logged to <item>/setup.log
// (scrubbed), its tree snapshotted as the patch's base; nil when the
// task has none. It is the task's, not the built image's: an env_build
// that names no file (a ready environment.image, an entry's image, the
// host) still sets the workspace up.
func (it *itemRun) newSetup(a *attempt) (*agent.Setup, func(), error) {
	eb := &it.opts.Task.EnvBuild
	if len(eb.WorkspaceSetup) == 0 {
		return nil, func() {}, nil
	}
	// Capped like the agent's logs: a pip install can say a lot.
	tf, err := proc.NewTailFile(filepath.Join(it.u.dir, SetupLog), it.opts.Bench.LogCapBytes)
	if err != nil {
		return nil, nil, err
	}
	w := it.secrets.Writer(tf)
	s := &agent.Setup{
		Commands: eb.WorkspaceSetup, Timeout: setupTimeout(eb), Log: w,
		Snapshot: func(ctx context.Context) error {
			return a.ws.Snapshot(ctx, it.mirror, it.u.item.Pre, it.harness, it.opts.Task.Patch.Excludes())
		},
	}
	return s, func() { w.Close() }, nil
}

// setupTimeout is workspace_setup's effective limit.
func setupTimeout(eb *config.EnvBuild) time.Duration {
	if t := time.Duration(eb.SetupTimeout); t > 0 {
		return t
	}
	return envbuild.DefaultSetupTimeout
}

// setupRecord is what run.json records of the task's workspace_setup,
// nil when it has none: the commands with secrets scrubbed (a value
// expanded into one is never written; a rotated one still matches) and
// the effective timeout.
func setupRecord(t *config.Task, s *secrets.Set) *records.WorkspaceSetup {
	eb := &t.EnvBuild
	if len(eb.WorkspaceSetup) == 0 {
		return nil
	}
	cmds := make([]string, len(eb.WorkspaceSetup))
	for i, c := range eb.WorkspaceSetup {
		cmds[i] = s.ScrubString(c)
	}
	return &records.WorkspaceSetup{Commands: cmds, Timeout: records.Duration(setupTimeout(eb))}
}

// checkSetup refuses to resume (or shard) a run whose rollouts ran
// another workspace_setup than the task's now: its earlier items were set
// up another way, and nothing else in run.json would say so. A run that
// predates the record counts as one without a setup.
func checkSetup(run *records.Run, want *records.WorkspaceSetup, taskPath string) error {
	have := run.WorkspaceSetup
	if have.Hash() == want.Hash() {
		return nil
	}
	const fix = "start a fresh run with --new (or restore the setup the run was made with)"
	switch {
	case have == nil:
		return badinput.Errorf("run %s ran no env_build.workspace_setup (or predates its record in run.json), but %s has %s now: %s", run.RunID, taskPath, describeSetup(want), fix)
	case want == nil:
		return badinput.Errorf("run %s ran env_build.workspace_setup %s, but %s has none now: %s", run.RunID, describeSetup(have), taskPath, fix)
	}
	return badinput.Errorf("run %s ran env_build.workspace_setup %s, but %s has %s now: %s", run.RunID, describeSetup(have), taskPath, describeSetup(want), fix)
}

// describeSetup is a setup on one bounded line: its commands quoted and
// its timeout.
func describeSetup(w *records.WorkspaceSetup) string {
	q := make([]string, len(w.Commands))
	for i, c := range w.Commands {
		q[i] = strconv.Quote(textx.Brief(c, 80))
	}
	return textx.Truncate("["+strings.Join(q, ", ")+"]", 400) + " (setup_timeout " + w.Timeout.String() + ")"
}

// shortImageID is "sha256:0123456789ab".
func shortImageID(id string) string {
	if len(id) > 19 {
		return id[:19]
	}
	return id
}

// envImageNote is how a dry run shows the environment image.
func envImageNote(env *envState) string {
	if env == nil {
		return ""
	}
	if env.current.ID == "" {
		return fmt.Sprintf("%s (not built: run `bench build`)", env.current.Tag)
	}
	return fmt.Sprintf("%s (%s)", env.current.Tag, env.current.ID)
}
