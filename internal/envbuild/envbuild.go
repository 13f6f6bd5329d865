// Package envbuild owns a task's environment image: the env_build section
// resolved against the task file ([Spec]), the Dockerfile it builds (the
// task's own, or one generated for the requirements strategy), the
// content hash that names the image ([Spec.Hash], [Tag]), the build on the
// local engine with its per-hash lock and its log <state_root>/images.json,
// the agent images derived from an environment image by an adapter's
// install recipe ([Recipe], [AgentDockerfile]), and the pruning of images
// no run pins. perfbench never pulls: a base that is not on the engine is
// an error naming it.
package envbuild

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/records"
)

// Strategies of env_build.
const (
	StrategyDockerfile   = "dockerfile"
	StrategyRequirements = "requirements"
)

// DefaultSetupTimeout bounds workspace_setup when env_build.setup_timeout
// is unset.
const DefaultSetupTimeout = 30 * time.Minute

// Spec is a task's env_build resolved against the task file: absolute
// paths, the strategy chosen.
type Spec struct {
	TaskID   string
	TaskPath string
	// Strategy is StrategyDockerfile or StrategyRequirements.
	Strategy string
	// Dockerfile is the task's Dockerfile (absolute); "" for the
	// requirements strategy, whose Dockerfile is generated.
	Dockerfile string
	// Context is the build context directory (absolute).
	Context string
	// Args are the build args (--build-arg), never secret-looking names.
	Args map[string]string
	// BaseImage is the requirements strategy's FROM.
	BaseImage string
	// Requirements is the requirements file (absolute), inside Context.
	Requirements string
	// WorkspaceSetup runs in the rollout's container (or the workspace on
	// the host) before the agent, under SetupTimeout.
	WorkspaceSetup []string
	SetupTimeout   time.Duration
}

// ErrNotImplemented marks the parts of this package still being built.
var ErrNotImplemented = errors.New("envbuild: not implemented")

// FromTask resolves the task's env_build; nil (and no error) when it
// names no file, so nothing is built.
func FromTask(t *config.Task) (*Spec, error) { return nil, ErrNotImplemented }

// DockerfileBytes returns the Dockerfile the build uses: the task's, or
// the generated one of the requirements strategy.
func (s *Spec) DockerfileBytes() ([]byte, error) { return nil, ErrNotImplemented }

// Inspector is what the hash and the build need of the engine.
type Inspector interface {
	InspectImage(ctx context.Context, ref string) (*container.Image, error)
}

// Hash is the content hash of the build: the Dockerfile and .dockerignore,
// every file of the context .dockerignore keeps (path, mode, symlink
// target, content), the args, the platform, and the ids of local FROM
// bases. A missing base is an error naming it (wrapping
// container.ErrNoImage).
func (s *Spec) Hash(ctx context.Context, eng Inspector, platform string) (string, error) {
	return "", ErrNotImplemented
}

// Tag is the environment image's name, perfbench-env/<task>:<hash>, the
// task id lower-cased and normalised to a valid repository name.
func Tag(taskID, hash string) string { return "" }

// Current is the environment image for the task's current hash: its tag,
// hash, and the id on the engine ("" when it is not built).
func Current(ctx context.Context, s *Spec, eng Inspector, platform string) (records.EnvImage, error) {
	return records.EnvImage{}, ErrNotImplemented
}

// Recipe is an agent's install recipe: Dockerfile lines after the FROM of
// the environment image, installing the agent into its own Prefix (the
// environment's python and PATH unchanged), and the files those lines
// COPY from the build context.
type Recipe struct {
	// Agent is the adapter's type; Version the one exact upstream version
	// it installs.
	Agent   string
	Version string
	Prefix  string
	Lines   []string
	// Files maps a context-relative path to its content and mode.
	Files map[string]File
}

// File is one file of a recipe's build context.
type File struct {
	Data []byte
	Mode uint32
}

// Labels every image perfbench builds carries; Prune removes only images
// with LabelStateRoot equal to its state root.
const (
	// LabelKind is "env" or "agent".
	LabelKind      = "perfbench.image"
	LabelTask      = "perfbench.task"
	LabelHash      = "perfbench.hash"
	LabelStateRoot = "perfbench.state_root"
	// LabelAgent is the agent type of an agent image, LabelAgentVersion
	// the version its recipe installs.
	LabelAgent        = "perfbench.agent"
	LabelAgentVersion = "perfbench.agent_version"
)

// BuildOptions configure Build and BuildAgent.
type BuildOptions struct {
	Engine *container.Engine
	// StateRoot is bench.yaml's state root (absolute): images.json and the
	// per-hash locks live there, and the images carry it as a label.
	StateRoot string
	NoCache   bool
	Platform  string
	// Progress receives the build's output: condensed to one line per
	// step when Terminal ([Condenser]), else as the engine prints it.
	Progress io.Writer
	Terminal bool
}

// Built is an image Build or BuildAgent made or found.
type Built struct {
	Image records.EnvImage
	// Reused says the tag was already on the engine: no build ran.
	Reused bool
}

// Build builds the environment image of s unless its tag is on the
// engine, under a lock per hash, and logs it in images.json.
func Build(ctx context.Context, s *Spec, o BuildOptions) (*Built, error) {
	return nil, ErrNotImplemented
}

// BuildAgent builds the agent image FROM env (by id) with the recipe.
func BuildAgent(ctx context.Context, env records.EnvImage, r Recipe, o BuildOptions) (*Built, error) {
	return nil, ErrNotImplemented
}

// Prune removes the images labelled with stateRoot that no run.json under
// it pins (records.Run.EnvImage, AgentImage), never with force; it
// returns the refs removed.
func Prune(ctx context.Context, eng *container.Engine, stateRoot string) ([]string, error) {
	return nil, ErrNotImplemented
}

// Condenser turns an engine's build output (the legacy builder's, BuildKit's
// plain progress, podman's) into one line per step on a terminal, and
// keeps what a failure report needs.
type Condenser struct {
	w io.Writer
}

// NewCondenser writes condensed progress to w.
func NewCondenser(w io.Writer) *Condenser { return &Condenser{w: w} }

// Write takes the engine's output in any chunks.
func (c *Condenser) Write(p []byte) (int, error) { return len(p), nil }

// Close flushes a last partial line.
func (c *Condenser) Close() error { return nil }

// Failure is the failing step and its last lines, "" when none failed.
func (c *Condenser) Failure() string { return "" }
