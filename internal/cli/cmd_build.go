package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/openhands"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/envbuild"
)

type buildOptions struct {
	benchCfg string
	agent    string
	noCache  bool
	print    bool
	prune    bool
}

func newBuildCmd(env *System) *cobra.Command {
	o := &buildOptions{}
	c := &cobra.Command{
		Use:   "build TASK.yaml [--bench-cfg FILE] [--no-cache] [--print] [--prune] [--agent NAME]",
		Short: "Build the task's environment image from its env_build",
		Long: `Build the environment image of a task from its env_build section (its
Dockerfile, or the Dockerfile the requirements strategy generates) on the
local engine, as perfbench-env/<task>:<hash>. The hash covers the
Dockerfile and .dockerignore, every file of the build context that
.dockerignore keeps (path, mode, symlink target, content), the build args,
container.platform and the ids of the base images; an image with that tag
already on the engine is reused (no build runs). perfbench never pulls: a
base image that is not on the engine is an error naming it. Every build and
reuse is logged in <state_root>/images.json. Prints the image's tag and id,
and "reused" when no build ran.

With --print, prints the Dockerfile that would be built and what the hash
covers, and builds nothing. With --prune, removes the images perfbench
built for this state root that no run pins (their perfbench tags only: one
also tagged otherwise stays, as does one other images are built on), and
builds nothing. On a
terminal the build's progress is condensed to one line per step; else the
engine's output goes to stderr as it comes. A failed build prints the
failing step and its last lines.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runBuildCmd(c.Context(), env, o, args[0]) },
	}
	c.Flags().StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	c.Flags().StringVar(&o.agent, "agent", "", "also build the agent image of this bench.yaml entry FROM the environment image")
	c.Flags().BoolVar(&o.noCache, "no-cache", false, "build even when the tag exists, without the engine's layer cache")
	c.Flags().BoolVar(&o.print, "print", false, "print the Dockerfile and the hash inputs; build nothing")
	c.Flags().BoolVar(&o.prune, "prune", false, "remove this state root's unpinned images; build nothing")
	return c
}

func (e *System) engine(b *config.Bench) *container.Engine {
	eng := container.NewEngine(b.Container.Engine)
	eng.Env = e.Environ()
	return eng
}

func runBuildCmd(ctx context.Context, env *System, o *buildOptions, taskPath string) error {
	cfg, err := env.loadBench(o.benchCfg)
	if err != nil {
		return err
	}
	task, err := env.loadTask(cfg, taskPath)
	if err != nil {
		return err
	}
	b := cfg.bench
	eng := env.engine(b)
	if o.prune {
		p, err := envbuild.PruneImages(ctx, eng, b.Paths.StateRoot)
		if err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		for _, ref := range p.Removed {
			fmt.Fprintf(env.Stdout, "removed %s\n", ref)
		}
		// Every image's fate on stdout, one line each: what stays is as
		// much the result as what went.
		for _, sk := range p.Skipped {
			fmt.Fprintf(env.Stdout, "kept %s: %s\n", sk.Ref, sk.Reason)
		}
		for _, k := range p.Kept {
			fmt.Fprintf(env.Stdout, "kept %s: %s\n", k.ID, k.Reason())
		}
		if len(p.Removed) == 0 {
			fmt.Fprintln(env.Stdout, "nothing to prune")
		}
		if p.Pinned > 0 {
			fmt.Fprintf(env.Stdout, "kept %d image(s) a run pins\n", p.Pinned)
		}
		return nil
	}
	spec, err := envbuild.FromTask(task)
	if err != nil {
		return err
	}
	if spec == nil {
		hint := "set env_build.dockerfile (or the seed's params.dockerfile_path / params.requirements_file)"
		if task.Environment.Image != "" {
			hint = "environment.image names a ready image (" + task.Environment.Image + "); " + hint + " to build one instead"
		}
		return badinput.Errorf("%s: env_build names no file to build: %s", taskPath, hint)
	}
	var recipe *envbuild.Recipe
	if o.agent != "" {
		a, err := b.Agent(o.agent)
		if err != nil {
			return err
		}
		if a.Type == "openhands" {
			if err := openhands.AgentImageAllowed(a); err != nil {
				return err
			}
		}
		var kind *agent.Kind
		if k, ok := agent.Find(env.kinds(), a.Type); ok {
			kind = &k
		}
		r, err := agent.RecipeFor(a, b, kind)
		if err != nil {
			return err
		}
		recipe = &r
	}
	if o.print {
		if err := printBuild(ctx, env, spec, eng, b.Container.Platform); err != nil || recipe == nil {
			return err
		}
		// The agent image's Dockerfile, FROM the environment image's id
		// when it is built (its tag otherwise).
		from := ""
		if cur, err := envbuild.Current(ctx, spec, eng, b.Container.Platform); err == nil {
			from = cur.ID
			if from == "" {
				from = cur.Tag
			}
		}
		if from == "" {
			from = "<environment image>"
		}
		fmt.Fprintf(env.Stdout, "# agent image Dockerfile: %s %s\n", recipe.Agent, recipe.Version)
		env.Stdout.Write(envbuild.AgentDockerfile(from, *recipe))
		return nil
	}
	opts := envbuild.BuildOptions{
		Engine: eng, StateRoot: b.Paths.StateRoot, NoCache: o.noCache, Platform: b.Container.Platform,
		Progress: env.Stderr, Terminal: env.StderrTTY, Now: env.Now,
	}
	built, err := envbuild.Build(ctx, spec, opts)
	if err := buildFailed(env, err); err != nil {
		return err
	}
	printBuilt(env, built)
	if recipe == nil {
		return nil
	}
	a, err := envbuild.BuildAgent(ctx, built.Image, *recipe, opts)
	if err := buildFailed(env, err); err != nil {
		return err
	}
	printBuilt(env, a)
	return nil
}

// buildFailed maps a failed build to exit 1 with its failing step and
// last lines on stderr; other errors pass as they are.
func buildFailed(env *System, err error) error {
	var be *envbuild.BuildError
	if errors.As(err, &be) {
		if r := be.Report(); r != "" {
			fmt.Fprintf(env.Stderr, "%s\n", r)
		}
		return &exitError{code: ExitFailure, err: err}
	}
	return err
}

func printBuilt(env *System, built *envbuild.Built) {
	reused := ""
	if built.Reused {
		reused = " reused"
	}
	fmt.Fprintf(env.Stdout, "%s %s%s\n", built.Image.Tag, built.Image.ID, reused)
}

// printBuild prints the Dockerfile and the hash inputs. A base missing on
// the engine (or an engine that does not answer) is shown, not an error:
// --print is for looking before building.
func printBuild(ctx context.Context, env *System, spec *envbuild.Spec, eng *container.Engine, platform string) error {
	df, err := spec.DockerfileBytes()
	if err != nil {
		return err
	}
	source := spec.Dockerfile
	if spec.Strategy == envbuild.StrategyRequirements {
		source = "generated from " + spec.Requirements + " (requirements strategy)"
	}
	fmt.Fprintf(env.Stdout, "# Dockerfile: %s\n", source)
	env.Stdout.Write(df)
	if len(df) > 0 && df[len(df)-1] != '\n' {
		fmt.Fprintln(env.Stdout)
	}
	tolerant := &tolerantInspector{eng: eng}
	in, err := spec.Inputs(ctx, tolerant, platform)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "# hash inputs\ncontext: %s\n", spec.Context)
	for _, line := range strings.Split(strings.TrimRight(in.Summary(), "\n"), "\n") {
		fmt.Fprintln(env.Stdout, line)
	}
	if tolerant.missing != nil {
		fmt.Fprintf(env.Stdout, "hash: unknown until every base is on the engine (%s)\n", strings.Join(tolerant.missing, ", "))
		return nil
	}
	hash := in.Hash()
	fmt.Fprintf(env.Stdout, "hash: %s\ntag: %s\n", hash, envbuild.Tag(spec.TaskID, hash))
	return nil
}

// tolerantInspector answers for a missing base instead of failing.
type tolerantInspector struct {
	eng     *container.Engine
	missing []string
}

func (t *tolerantInspector) InspectImage(ctx context.Context, ref string) (*container.Image, error) {
	img, err := t.eng.InspectImage(ctx, ref)
	if err == nil {
		return img, nil
	}
	t.missing = append(t.missing, ref)
	why := "(not on the engine: perfbench never pulls)"
	if !errors.Is(err, container.ErrNoImage) {
		why = "(engine: " + err.Error() + ")"
	}
	return &container.Image{Ref: ref, ID: why}, nil
}
