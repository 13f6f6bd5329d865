package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/records"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// DefaultBenchConfig is read when --bench-cfg is not given and it exists.
const DefaultBenchConfig = "bench.yaml"

// configs is the loaded configuration of a command.
type configs struct {
	bench *config.Bench
	env   config.Vars
}

// loadBench loads bench.yaml (the flag's file, else ./bench.yaml when it
// exists, else defaults) with .env from its directory and the current one,
// and notes ignored seed fields once.
func (e *System) loadBench(path string) (*configs, error) {
	explicit := path != ""
	if !explicit {
		if _, err := os.Stat(e.path(DefaultBenchConfig)); err == nil {
			path = DefaultBenchConfig
		}
	}
	path = e.path(path)
	if explicit {
		if _, err := os.Stat(path); err != nil {
			return nil, badinput.Wrap(fmt.Errorf("--bench-cfg: %w", err))
		}
	}
	cwd, err := e.wd()
	if err != nil {
		return nil, err
	}
	dirs := []string{cwd}
	if path != "" {
		dirs = []string{filepath.Dir(absIn(cwd, path)), cwd}
	}
	dot, err := config.LoadDotEnv(dirs...)
	if err != nil {
		return nil, err
	}
	env := config.Vars{Process: e.LookupEnv, Dot: dot}
	var b *config.Bench
	if path == "" {
		b, err = config.DefaultBench(cwd, env, agent.ConfigKinds(e.kinds()))
	} else {
		b, err = config.LoadBench(path, env, agent.ConfigKinds(e.kinds()))
	}
	if err != nil {
		return nil, err
	}
	b.Env = dot
	e.noteIgnored(path, b.Ignored)
	return &configs{bench: b, env: env}, nil
}

func (e *System) loadTask(c *configs, path string) (*config.Task, error) {
	t, err := config.LoadTask(e.path(path), c.env)
	if err != nil {
		return nil, err
	}
	e.noteIgnored(path, t.Ignored)
	// A relative local repository is relative to the task file, and the
	// plan records it absolute so later stages work from any directory.
	if config.IsLocalRepo(t.Repo.URL) && !filepath.IsAbs(t.Repo.URL) {
		t.Repo.URL = filepath.Join(t.Dir, t.Repo.URL)
	}
	return t, nil
}

func (e *System) noteIgnored(path string, fields []string) {
	if len(fields) == 0 {
		return
	}
	fmt.Fprintf(e.Stderr, "note: %s: ignoring seed fields perfbench does not use: %s\n", path, strings.Join(fields, ", "))
}

// path is a path of an argument as the command opens it: relative to Dir.
// With Dir "" it is left to the system, which resolves it in the
// process's directory, so messages show it as typed.
func (e *System) path(p string) string {
	if e.Dir == "" || p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, p)
}

// wd is the working directory, absolute.
func (e *System) wd() (string, error) {
	if e.Dir != "" {
		return e.Dir, nil
	}
	// Dir "" means the process's own directory: the one place it is read.
	return os.Getwd()
}

// absIn is p made absolute against the working directory cwd.
func absIn(cwd, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(cwd, p)
}

// envImages is prepare's, evaluate's and calibrate's view of a task's
// environment image: envbuild's FromTask, then Current on bench.yaml's
// engine and platform.
type envImages struct {
	eng      *container.Engine
	platform string
	kinds    []agent.Kind
	bench    *config.Bench
}

// envImagesOf is the environment images of bench.yaml's engine, with
// the client environment of this process.
func (e *System) envImagesOf(b *config.Bench) envImages {
	return envImages{eng: e.engine(b), platform: b.Container.Platform, kinds: e.kinds(), bench: b}
}

// Current resolves the task's env_build (nil when it names no file) and
// the image of its current hash (ID "" when not built).
func (ei envImages) Current(ctx context.Context, t *config.Task) (*envbuild.Spec, records.EnvImage, error) {
	s, err := envbuild.FromTask(t)
	if err != nil || s == nil {
		return nil, records.EnvImage{}, err
	}
	img, err := envbuild.Current(ctx, s, ei.eng, ei.platform)
	return s, img, err
}

// InspectImage looks an image up on the engine: prepare checks, under the
// runs lock, that the ids a new run pins are still there.
func (ei envImages) InspectImage(ctx context.Context, ref string) (*container.Image, error) {
	return ei.eng.InspectImage(ctx, ref)
}

// AgentImage is the agent image built for entry a FROM env (bench build
// --agent): the one its install recipe (the entry's install:, else its
// kind's) gives, when it is on the engine. An entry with an image of its
// own, on the host, or whose kind has no recipe has none: it runs in the
// environment image (or its own).
func (ei envImages) AgentImage(ctx context.Context, env records.EnvImage, a *config.Agent) (records.EnvImage, bool, error) {
	if env.ID == "" || a == nil {
		return records.EnvImage{}, false, nil
	}
	k, ok := agent.Find(ei.kinds, a.Type)
	if !ok || (!k.ChoosesRuntime && (a.Runtime != agent.RuntimeContainer || a.Image != "")) {
		return records.EnvImage{}, false, nil
	}
	if k.Recipe == nil && len(a.Install) == 0 {
		return records.EnvImage{}, false, nil
	}
	r, err := agent.RecipeFor(a, ei.bench, &k)
	if err != nil {
		return records.EnvImage{}, false, err
	}
	img, err := envbuild.CurrentAgent(ctx, env, r, ei.eng, ei.platform)
	if err != nil || img.ID == "" {
		return records.EnvImage{}, false, err
	}
	return img, true, nil
}

// hasEnvBuild reports whether the task's env_build names a file (an image
// is built for it), without looking at the engine.
func hasEnvBuild(t *config.Task) (bool, error) {
	s, err := envbuild.FromTask(t)
	return s != nil, err
}
