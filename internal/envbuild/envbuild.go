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
const DefaultSetupTimeout = config.DefaultSetupTimeout

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

// Inspector is what the hash and the build need of the engine.
type Inspector interface {
	InspectImage(ctx context.Context, ref string) (*container.Image, error)
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
	// Now stamps images.json entries; nil is time.Now.
	Now func() time.Time
}

// Built is an image Build or BuildAgent made or found.
type Built struct {
	Image records.EnvImage
	// Reused says the tag was already on the engine: no build ran.
	Reused bool
}
