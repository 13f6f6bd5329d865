// Package openhands runs OpenHands headless, the way its documentation
// describes, under perfbench's process contract:
//
//	python -m openhands.core.main -d <workspace> -f <task file> -i <iterations> [-b <USD>]
//	    [-c <agent class>] --config-file <toml> [-l <llm config>]
//
// in one of three modes, chosen by Resolve:
//
//   - docker (recommended): `docker run ... <container_image> python -m
//     openhands.core.main -d /workspace -f /task.txt ...` in a locked-down
//     container (internal/container): the invoking user's uid:gid, no
//     capabilities, no-new-privileges, the limits and network of
//     bench.yaml's container section, the workspace at /workspace, the task
//     file read-only, the private output folder for the trajectory and
//     event store, ~/.openhands for configuration, and the docker socket
//     only with sandbox_runtime: docker;
//   - uvx: `uvx --python 3.12 --from openhands-ai python -m
//     openhands.core.main ...` on the host;
//   - python: `<cli> -m openhands.core.main ...` with a Python that has
//     openhands installed.
//
// OpenHands is configured through its environment (LLM_*, SANDBOX_*,
// AGENT_* and core variables such as RUNTIME): the adapter always sets
// LOG_ALL_EVENTS=true, SANDBOX_USER_ID, SANDBOX_VOLUMES (the workspace at
// /workspace), MAX_ITERATIONS, MAX_BUDGET_PER_TASK, RUNTIME,
// SAVE_TRAJECTORY_PATH and FILE_STORE=local + FILE_STORE_PATH (both in
// openhands/ of the rollout's private output folder),
// SANDBOX_RUNTIME_CONTAINER_IMAGE, AGENT_ENABLE_BROWSING=false and
// ENABLE_BROWSER=false unless the entry sets allow_browsing: true, and
// SANDBOX_LOCAL_RUNTIME_URL=http://localhost with sandbox_runtime: local.
// --config-file is always the entry's config_file or an empty file of the
// harness's (OpenHands' default is config.toml in the workspace).
// Credentials reach a container by name only (`-e LLM_API_KEY`).
//
// sandbox_runtime: local needs tmux in the image, which the app image
// lacks: LocalDockerfile is the recipe of a derived image (`bench
// openhands dockerfile`), and doctor checks the image for tmux.
//
// After the run, Parse reads the trajectory (SAVE_TRAJECTORY_PATH: a JSON
// list of serialized events) and the event store (FILE_STORE_PATH/sessions/
// <sid>/events/<n>.json, one event each, written as they happen, so they
// survive a killed run): the iterations used, llm_metrics.accumulated_cost
// and accumulated_token_usage, and the final agent state from the last
// AgentStateChangedObservation (observation "agent_state_changed",
// extras.agent_state and extras.reason), classified as finished, error,
// max_iterations, budget_exceeded, stuck, ... (see FinalStates).
//
// References (OpenHands V0 headless mode, which this adapter targets):
//
//   - Headless mode: https://docs.all-hands.dev/modules/usage/how-to/headless-mode
//   - Docker runtime, SANDBOX_VOLUMES, SANDBOX_USER_ID: https://docs.all-hands.dev/modules/usage/runtimes/docker
//   - Configuration options (config.toml, RUNTIME, save_trajectory_path, file_store):
//     https://docs.openhands.dev/openhands/usage/v0/advanced/V0_configuration-options
//   - Environment variables: https://docs.openhands.dev/openhands/usage/environment-variables
//   - Headless flags (-d -f -t -i -b -c -l -n --config-file --no-auto-continue):
//     https://github.com/OpenHands/OpenHands/blob/main/openhands/core/config/arg_utils.py
//   - The run loop, trajectory saving, SIGINT shutdown:
//     https://github.com/OpenHands/OpenHands/blob/main/openhands/core/main.py
//   - SANDBOX_VOLUMES handling: finalize_config in
//     https://github.com/OpenHands/OpenHands/blob/main/openhands/core/config/utils.py
//   - Event JSON (llm_metrics, extras): https://github.com/OpenHands/OpenHands/blob/main/openhands/events/serialization/event.py
//   - Agent states: https://github.com/OpenHands/OpenHands/blob/main/openhands/core/schema/agent.py
//   - Limit errors ("Agent reached maximum iteration", "... maximum budget"):
//     https://github.com/OpenHands/OpenHands/blob/main/openhands/controller/state/control_flags.py
//   - Stuck detection (AgentStuckInLoopError): https://github.com/OpenHands/OpenHands/blob/main/openhands/controller/stuck.py
//   - The app image's entrypoint (root-only setup, NO_SETUP, SANDBOX_USER_ID):
//     https://github.com/OpenHands/OpenHands/blob/main/containers/app/entrypoint.sh
//   - The app image (SANDBOX_LOCAL_RUNTIME_URL, no tmux in its final stage):
//     https://github.com/OpenHands/OpenHands/blob/main/containers/app/Dockerfile
//   - LocalRuntime (its tmux and browser checks, {local_runtime_url}:{port}):
//     https://github.com/OpenHands/OpenHands/blob/main/openhands/runtime/impl/local/local_runtime.py
//   - Provider errors (STATUS$ERROR_LLM_*): _react_to_exception in
//     https://github.com/OpenHands/OpenHands/blob/main/openhands/controller/agent_controller.py
package openhands

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
)

// Kind is OpenHands' descriptor, listed in internal/agent/all. Its
// modes have their own doctor checks (see checks.go).
var Kind = agent.Kind{
	AgentKind: config.AgentKind{
		Type:       "openhands",
		NewOptions: func() any { return new(Options) },
		Check: func(c *config.EntryCheck) error {
			if s := agent.OptionsOf[Options](c.Agent).SandboxRuntime; s != "" {
				return c.OneOf("sandbox_runtime", s, sandboxRuntimes)
			}
			return nil
		},
		Defaults: func(a *config.Agent) {
			if o, ok := a.Options.(*Options); ok && o.SandboxRuntime == "" {
				o.SandboxRuntime = "local"
			}
		},
	},
	New:            func(a *config.Agent, h agent.Host) (agent.Adapter, error) { return NewOn(a, h) },
	ChoosesRuntime: true,
	Checks:         checks,
	Checked:        agent.Versions{Min: "0.54.0", Max: "0.62.0", Probe: versionProbe},
	Recipe:         Recipe,
	UseAgentImage:  UseAgentImage,
}

var sandboxRuntimes = []string{"local", "docker"}

// Options are the keys of an openhands entry besides the common ones, in
// the order run.json has always had them.
type Options struct {
	// ContainerImage selects docker mode: OpenHands runs in this image.
	ContainerImage string `yaml:"container_image" json:"container_image,omitempty"`
	// RuntimeImage is SANDBOX_RUNTIME_CONTAINER_IMAGE.
	RuntimeImage string `yaml:"runtime_image" json:"runtime_image,omitempty"`
	// ConfigFile is OpenHands' config.toml.
	agent.ConfigFileOption
	LLMConfig string `yaml:"llm_config" json:"llm_config,omitempty"`
	AgentCls  string `yaml:"agent_cls" json:"agent_cls,omitempty"`
	// SandboxRuntime is local (default) or docker.
	SandboxRuntime string `yaml:"sandbox_runtime" json:"sandbox_runtime,omitempty"`
	// OpenHandsHome is mounted as ~/.openhands; "" uses ~/.openhands,
	// "off" disables the mount.
	OpenHandsHome string `yaml:"openhands_home" json:"openhands_home,omitempty"`
	// AllowBrowsing leaves OpenHands' browser on (AGENT_ENABLE_BROWSING,
	// ENABLE_BROWSER); off by default, since with it the agent can fetch
	// the upstream repository's later commits.
	AllowBrowsing bool `yaml:"allow_browsing" json:"allow_browsing,omitempty"`
	// ContainerPython is the Python that runs OpenHands in
	// container_image ("" is python on the image's PATH); not a key of
	// bench.yaml: UseAgentImage sets it to the agent image's own.
	ContainerPython string `yaml:"-" json:"container_python,omitempty"`
}

// Mode is how OpenHands is started.
type Mode string

// Modes.
const (
	ModeDocker Mode = "docker"
	ModeUVX    Mode = "uvx"
	ModePython Mode = "python"
)

// DefaultIterations is OpenHands' -i when the entry sets no max_iterations
// (the seed's `iterations`).
const DefaultIterations = 30

// Paths inside the container.
const (
	ContainerWorkspace = "/workspace"
	ContainerTaskFile  = "/task.txt"
	containerRoot      = "/perfbench"
	ContainerOutDir    = containerRoot + "/out"
	ContainerHome      = containerRoot + "/home"
	containerConfig    = containerRoot + "/config.toml"
	containerSocket    = "/var/run/docker.sock"
)

// OutSubdir is the folder of the private output folder (copied to
// <item>/out/openhands/) that holds the trajectory and the event store.
const OutSubdir = "openhands"

// Settings are an entry's resolved OpenHands settings.
type Settings struct {
	Mode Mode
	// Image is the OpenHands image (docker mode).
	Image string
	// Python runs OpenHands in Image ("" is python on its PATH).
	Python string
	// CLI is the executable of the host modes ("uvx" or a Python).
	CLI string
	// RuntimeImage is SANDBOX_RUNTIME_CONTAINER_IMAGE ("" leaves
	// OpenHands' default).
	RuntimeImage string
	// SandboxRuntime is local (actions run where OpenHands runs) or docker
	// (OpenHands starts runtime containers through the docker socket).
	SandboxRuntime string
}

// Resolve decides how an entry runs. lookup reads the environment (the
// process's, the entry's env:). The variables OPENHANDS_CONTAINER_IMAGE
// and OPENHANDS_CLI select the mode too and take precedence over
// bench.yaml, so that the seed's bench.yaml (which sets both cli and
// container_image) runs in either mode:
//
//  1. OPENHANDS_CONTAINER_IMAGE set: docker mode with that image;
//  2. OPENHANDS_CLI set: uvx mode when it is "uvx", python mode otherwise;
//  3. container_image set: docker mode;
//  4. cli set: uvx or python mode as above.
//
// runtime_image is OPENHANDS_RUNTIME_IMAGE when set, else the entry's.
func Resolve(a *config.Agent, lookup func(string) (string, bool)) (Settings, error) {
	get := func(name string) string {
		if v, ok := a.Env[name]; ok {
			return strings.TrimSpace(v)
		}
		if lookup != nil {
			if v, ok := lookup(name); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	o := agent.OptionsOf[Options](a)
	s := Settings{SandboxRuntime: o.SandboxRuntime, RuntimeImage: o.RuntimeImage}
	if s.SandboxRuntime == "" {
		s.SandboxRuntime = "local"
	}
	if v := get("OPENHANDS_RUNTIME_IMAGE"); v != "" {
		s.RuntimeImage = v
	}
	host := func(cli string) Settings {
		s.CLI = cli
		s.Mode = ModePython
		if filepath.Base(cli) == "uvx" {
			s.Mode = ModeUVX
		}
		return s
	}
	switch {
	case get("OPENHANDS_CONTAINER_IMAGE") != "":
		s.Mode, s.Image = ModeDocker, get("OPENHANDS_CONTAINER_IMAGE")
	case get("OPENHANDS_CLI") != "":
		s = host(get("OPENHANDS_CLI"))
	case o.ContainerImage != "":
		s.Mode, s.Image, s.Python = ModeDocker, o.ContainerImage, o.ContainerPython
	case a.CLI != "":
		s = host(a.CLI)
	default:
		return s, badinput.Errorf("agent %s (openhands): set container_image (docker mode, recommended), cli: uvx, or cli: /path/to/python with openhands installed (or OPENHANDS_CONTAINER_IMAGE / OPENHANDS_CLI)", a.Name)
	}
	return s, nil
}

// Adapter runs OpenHands for one agent entry.
type Adapter struct {
	a *config.Agent
	s Settings
	// host is the harness's environment: the invoking user's home (uv's
	// cache, ~/.openhands, ~/.docker) is read from it.
	host agent.Host

	mu     sync.Mutex
	images map[string]*container.Image // by ref, filled by Images
}

// New is NewOn for a harness in this process's environment.
func New(a *config.Agent) (*Adapter, error) { return NewOn(a, agent.Host{Env: os.Environ()}) }

// NewOn returns the adapter of an openhands entry for a harness running on
// host: its mode switches are read from host's environment and the entry's
// env:.
func NewOn(a *config.Agent, host agent.Host) (*Adapter, error) {
	s, err := Resolve(a, host.LookupEnv)
	if err != nil {
		return nil, err
	}
	return &Adapter{a: a, s: s, host: host, images: map[string]*container.Image{}}, nil
}

// Settings returns the resolved settings.
func (ad *Adapter) Settings() Settings { return ad.s }

// Sandboxed reports whether the agent's actions run in a container: in
// docker mode, or in the runtime containers of sandbox_runtime: docker.
func (ad *Adapter) Sandboxed() bool {
	return ad.s.Mode == ModeDocker || ad.s.SandboxRuntime == "docker"
}

// AgentWorkspace is where the agent sees the workspace (the task file
// names it): /workspace in a container, the host path otherwise.
func (ad *Adapter) AgentWorkspace(host string) string {
	if ad.s.Mode == ModeDocker {
		return ContainerWorkspace
	}
	return host
}

// iterations is -i: the entry's max_iterations, default 30.
func iterations(l records.Limits) int {
	if l.MaxIterations > 0 {
		return l.MaxIterations
	}
	return DefaultIterations
}

func formatUSD(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// headlessArgs are the arguments after "python": -m openhands.core.main and
// the headless flags, then the entry's extra_args.
func (ad *Adapter) headlessArgs(l records.Limits, workspace, taskFile, configFile string) []string {
	args := []string{"-m", "openhands.core.main", "-d", workspace, "-f", taskFile, "-i", strconv.Itoa(iterations(l))}
	if l.MaxBudgetUSD > 0 {
		args = append(args, "-b", formatUSD(l.MaxBudgetUSD))
	}
	o := agent.OptionsOf[Options](ad.a)
	if o.AgentCls != "" {
		args = append(args, "-c", o.AgentCls)
	}
	args = append(args, "--config-file", configFile)
	if o.LLMConfig != "" {
		args = append(args, "-l", o.LLMConfig)
	}
	return append(args, ad.a.ExtraArgs...)
}

// ConfigFile returns config_file as an absolute path (relative to
// bench.yaml's directory); "" when not set.
func (ad *Adapter) ConfigFile(b *config.Bench) string {
	return agent.BenchPath(b, agent.ConfigFile(ad.a))
}

// EmptyConfigName is the harness's own config.toml, empty, in the
// rollout's harness directory: --config-file is always passed, because
// OpenHands' default is config.toml in its working directory, the
// workspace, where a repository's own config.toml would be loaded.
const EmptyConfigName = "openhands-config.toml"

// emptyConfig is what the harness's config.toml says.
const emptyConfig = "# perfbench: OpenHands is configured through its environment; this file\n# stands in for config.toml in the workspace, which must not be read.\n"

// configPath is the host path given to --config-file: the entry's
// config_file, else the harness's empty one (under "<harness>" in a dry
// run, which has no harness directory).
func (ad *Adapter) configPath(r *agent.Rollout) string {
	if f := ad.ConfigFile(r.Bench); f != "" {
		return f
	}
	dir := r.HarnessDir
	if dir == "" {
		dir = "<harness>"
	}
	return filepath.Join(dir, EmptyConfigName)
}

// writeEmptyConfig writes the harness's empty config.toml when the entry
// has no config_file.
func (ad *Adapter) writeEmptyConfig(r *agent.Rollout) error {
	if ad.ConfigFile(r.Bench) != "" {
		return nil
	}
	if r.HarnessDir == "" {
		return errors.New("openhands: no harness directory for the empty config.toml")
	}
	if err := fsx.WriteFile(ad.configPath(r), []byte(emptyConfig), 0o644); err != nil {
		return fmt.Errorf("openhands: %w", err)
	}
	return nil
}

// Command returns the argv of a rollout: the `docker run` line in docker
// mode (what --dry-run prints), the host command otherwise.
func (ad *Adapter) Command(r *agent.Rollout) ([]string, error) {
	if ad.s.Mode == ModeDocker {
		spec, err := ad.Spec(r)
		if err != nil {
			return nil, err
		}
		return spec.RunArgv(), nil
	}
	return ad.hostArgv(r), nil
}

func (ad *Adapter) hostArgv(r *agent.Rollout) []string {
	args := ad.headlessArgs(r.Limits, r.Workspace, r.TaskFile, ad.configPath(r))
	if ad.s.Mode == ModeUVX {
		return append([]string{ad.s.CLI, "--python", "3.12", "--from", "openhands-ai", "python"}, args...)
	}
	return append([]string{ad.s.CLI}, args...)
}

// engine is the container engine of bench.yaml.
func engineOf(b *config.Bench) *container.Engine {
	if b == nil {
		return container.NewEngine("")
	}
	return container.NewEngine(b.Container.Engine)
}

// Run performs one rollout.
func (ad *Adapter) Run(ctx context.Context, r *agent.Rollout) (*agent.Outcome, error) {
	ohDir := filepath.Join(r.OutDir, OutSubdir)
	if err := os.MkdirAll(filepath.Join(ohDir, "file_store"), 0o755); err != nil {
		return nil, fmt.Errorf("openhands: %w", err)
	}
	if err := ad.writeEmptyConfig(r); err != nil {
		return nil, err
	}
	var out *agent.Outcome
	var err error
	start := time.Now()
	done := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		watchEvents(r, ohDir, done)
	}()
	if ad.s.Mode == ModeDocker {
		out, err = ad.runDocker(ctx, r)
	} else {
		out, err = ad.runHost(ctx, r)
	}
	close(done)
	<-polled
	if err != nil {
		return nil, err
	}
	if ad.s.SandboxRuntime == "docker" {
		// Runtime containers OpenHands started through the socket carry
		// our labels (SANDBOX_DOCKER_RUNTIME_KWARGS); none may outlive
		// the rollout.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		names, rerr := engineOf(r.Bench).RemoveLabeled(cctx, container.LabelRun+"="+r.RunID, container.LabelItem+"="+agent.ItemLabel(r))
		cancel()
		if rerr != nil {
			fmt.Fprintf(r.Stderr, "perfbench: removing runtime containers: %v\n", rerr)
		} else if len(names) > 0 {
			out.SetDetail("runtime_containers_removed", len(names))
		}
	}
	ad.finish(r, out, ohDir, start)
	return out, nil
}

// finish reads the trajectory and events into the outcome.
func (ad *Adapter) finish(r *agent.Rollout, out *agent.Outcome, ohDir string, start time.Time) {
	sum, perr := Parse(ohDir)
	if perr != nil {
		fmt.Fprintf(r.Stderr, "perfbench: reading OpenHands output: %v\n", perr)
		out.SetDetail("parse_error", r.Secrets.ScrubString(perr.Error()))
	}
	endedByItself := out.Process != nil && !out.Process.TimedOut && !out.Process.Stopped
	out.Usage = sum.Usage(!endedByItself)
	for k, v := range sum.Details(r.Secrets.ScrubString) {
		out.SetDetail(k, v)
	}
	out.Trajectory = ConvertEvents(ohDir, r.NewTrajectory(TrajectorySource))
	out.SetDetail("mode", string(ad.s.Mode))
	out.SetDetail("sandbox_runtime", ad.s.SandboxRuntime)
	out.SetDetail("allow_browsing", agent.OptionsOf[Options](ad.a).AllowBrowsing)
	switch sum.FinalState {
	case StateMaxIterations:
		out.LimitsHit = append(out.LimitsHit, records.LimitMaxIterations)
	case StateBudgetExceeded:
		out.LimitsHit = append(out.LimitsHit, records.LimitMaxBudgetUSD)
	}
	if out.Infra == nil && endedByItself {
		if ie := sum.Infra(); ie != nil {
			ie.Msg = r.Secrets.ScrubString(ie.Msg)
			out.Infra = ie
		}
	}
}

// runHost runs the uvx or python mode under the process contract.
func (ad *Adapter) runHost(ctx context.Context, r *agent.Rollout) (*agent.Outcome, error) {
	rr := *r
	rr.Env = ad.hostEnv(r)
	out, err := agent.RunProcess(ctx, &rr, ad.hostArgv(r), nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Spec is the container of a docker-mode rollout.
func (ad *Adapter) Spec(r *agent.Rollout) (*container.Spec, error) {
	if r.Bench == nil {
		return nil, errors.New("openhands: no bench configuration")
	}
	c := r.Bench.Container
	spec := container.FromConfig(c, "")
	spec.Name = container.Name(r.RunID, r.ItemID, r.Sample)
	spec.Labels = container.OwnerLabels(r.RunID, agent.ItemLabel(r))
	spec.Image = ad.s.Image
	uid, gid := os.Getuid(), os.Getgid()
	spec.User = fmt.Sprintf("%d:%d", uid, gid)
	if engineOf(r.Bench).Podman() && uid != 0 {
		// Rootless podman: keep the invoking user's id inside.
		spec.KeepUserNS = true
	}
	spec.Workdir = ContainerWorkspace
	spec.Mounts = []container.Mount{
		{Source: r.Workspace, Target: ContainerWorkspace},
		{Source: r.TaskFile, Target: ContainerTaskFile, ReadOnly: true},
		{Source: r.OutDir, Target: ContainerOutDir},
		{Source: r.Home, Target: ContainerHome},
	}
	if home := ad.OpenHandsHome(r.Bench); home != "" {
		spec.Mounts = append(spec.Mounts, container.Mount{Source: home, Target: ContainerHome + "/.openhands"})
	}
	spec.Mounts = append(spec.Mounts, container.Mount{Source: ad.configPath(r), Target: containerConfig, ReadOnly: true})
	if ad.s.SandboxRuntime == "docker" {
		sock := SocketPath(r.Env, r.Bench.Container.Engine)
		spec.Mounts = append(spec.Mounts, container.Mount{Source: sock, Target: containerSocket})
		if g, ok := socketGroup(sock); ok && g != gid {
			spec.GroupAdd = append(spec.GroupAdd, strconv.Itoa(g))
		}
		if c.Network != "host" {
			// OpenHands reaches its runtime containers through ports
			// published on the host.
			spec.AddHosts = append(spec.AddHosts, "host.docker.internal:host-gateway")
		}
	}
	spec.Env = ad.containerEnv(r)
	spec.Cmd = append([]string{cmp.Or(ad.s.Python, "python")}, ad.headlessArgs(r.Limits, ContainerWorkspace, ContainerTaskFile, containerConfig)...)
	return &spec, nil
}

// OpenHandsHome is the host directory mounted as ~/.openhands in docker
// mode: openhands_home ("~/" is the invoking user's home, a relative path
// is relative to bench.yaml), default ~/.openhands; "" when
// openhands_home: off.
func (ad *Adapter) OpenHandsHome(b *config.Bench) string {
	h := agent.OptionsOf[Options](ad.a).OpenHandsHome
	switch {
	case h == "off":
		return ""
	case h == "" || h == "~" || strings.HasPrefix(h, "~/"):
		u := ad.host.Home()
		if u == "" {
			return ""
		}
		if h == "" {
			return filepath.Join(u, ".openhands")
		}
		return filepath.Join(u, strings.TrimPrefix(h[1:], "/"))
	case !filepath.IsAbs(h) && b != nil && b.Dir != "":
		return filepath.Join(b.Dir, h)
	}
	return h
}

// runDocker runs the rollout's container.
func (ad *Adapter) runDocker(ctx context.Context, r *agent.Rollout) (*agent.Outcome, error) {
	spec, err := ad.Spec(r)
	if err != nil {
		return nil, err
	}
	eng := engineOf(r.Bench)
	out := &agent.Outcome{}
	// Mount sources must exist: --mount does not create them, and a
	// directory the daemon created would belong to root.
	if home := ad.OpenHandsHome(r.Bench); home != "" {
		if err := os.MkdirAll(home, 0o700); err != nil {
			return nil, fmt.Errorf("openhands_home: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(r.Home, ".openhands"), 0o700); err != nil {
			return nil, fmt.Errorf("openhands: %w", err)
		}
	}
	if img := ad.image(ctx, eng, spec.Image); img != nil {
		out.SetDetail("image", spec.Image)
		out.SetDetail("image_id", img.ID)
	}
	out.SetDetail("container", spec.Name)
	opts := container.RunOptions{
		Env:        ad.clientEnv(r),
		Stdout:     r.Stdout,
		Stderr:     r.Stderr,
		Timeout:    r.Limits.Timeout.D(),
		Grace:      r.Limits.KillGrace.D(),
		StopSignal: "INT", // OpenHands' graceful shutdown: it saves its trajectory
		TempDir:    r.HarnessDir,
	}
	// workspace_setup runs in OpenHands' own container before it starts.
	agent.GateSetup(r, spec, eng, &opts)
	// After the gate is set: the command as it ran, behind the gate.
	out.Command = r.Secrets.RedactArgv(spec.RunArgv())
	res, err := eng.Run(ctx, *spec, opts)
	if err == nil && res.SetupErr != nil {
		return agent.SetupFailed(ctx, out, r, spec, res), nil
	}
	if err != nil {
		var nf *proc.NotFoundError
		if errors.As(err, &nf) {
			out.Infra = fmt.Errorf("container engine %q is not on PATH", eng.Bin)
			return out, nil
		}
		return nil, err
	}
	p := res.Process
	out.Process = &p
	if p.TimedOut {
		out.LimitsHit = append(out.LimitsHit, records.LimitTimeout)
	}
	if res.CleanupErr != nil {
		fmt.Fprintf(r.Stderr, "perfbench: removing container %s: %v\n", spec.Name, res.CleanupErr)
		out.SetDetail("cleanup_error", res.CleanupErr.Error())
	}
	switch {
	case res.StartFailed:
		out.Infra = fmt.Errorf("container did not start: %s", r.Secrets.ScrubString(res.EngineError))
	case res.OOMKilled:
		out.SetDetail("oom_killed", true)
		out.LimitsHit = append(out.LimitsHit, records.LimitMemory)
		out.Failed = true
		out.Reason = fmt.Sprintf("killed by the out-of-memory killer: container.memory (%s) exceeded", r.Bench.Container.Memory)
	}
	own, oerr := container.RestoreOwnership(os.Getuid(), os.Getgid(), r.Workspace, r.OutDir)
	switch {
	case oerr != nil:
		fmt.Fprintf(r.Stderr, "perfbench: %v\n", oerr)
	case own.Foreign > 0:
		fmt.Fprintf(r.Stderr, "perfbench: %d file(s) written by the container belong to another user (e.g. %s)\n", own.Foreign, own.Example)
		out.SetDetail("foreign_owned_files", own.Foreign)
	case own.Fixed > 0:
		out.SetDetail("ownership_restored", own.Fixed)
	}
	return out, nil
}

// image returns what Images recorded about ref, inspecting it now if
// needed; nil when it cannot be inspected (the run then reports why).
func (ad *Adapter) image(ctx context.Context, eng *container.Engine, ref string) *container.Image {
	ad.mu.Lock()
	img := ad.images[ref]
	ad.mu.Unlock()
	if img != nil {
		return img
	}
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	img, err := eng.InspectImage(ictx, ref)
	if err != nil {
		return nil
	}
	ad.mu.Lock()
	ad.images[ref] = img
	ad.mu.Unlock()
	return img
}

// Images inspects the images this entry runs and returns them by role for
// run.json: "agent" (and "agent_digest") in docker mode, "runtime" (and
// "runtime_digest") when sandbox_runtime: docker starts it. An image that
// is not present is an error.
func (ad *Adapter) Images(ctx context.Context, b *config.Bench) (map[string]string, error) {
	refs := map[string]string{}
	if ad.s.Mode == ModeDocker {
		refs["agent"] = ad.s.Image
	}
	if ad.s.SandboxRuntime == "docker" && ad.s.RuntimeImage != "" {
		refs["runtime"] = ad.s.RuntimeImage
	}
	if len(refs) == 0 {
		return nil, nil
	}
	eng := engineOf(b)
	out := map[string]string{}
	var errs []error
	for _, role := range slices.Sorted(maps.Keys(refs)) {
		img, err := eng.InspectImage(ctx, refs[role])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s image: %w", role, err))
			continue
		}
		ad.mu.Lock()
		ad.images[refs[role]] = img
		ad.mu.Unlock()
		out[role] = img.ID
		out[role+"_ref"] = img.Ref
		if d := img.Digest(); d != "" {
			out[role+"_digest"] = d
		}
	}
	return out, errors.Join(errs...)
}

// RemoveStaleContainers removes containers that a crashed harness on this
// host left behind (labelled, owner pid gone); it reports what it removed
// to log. Without a reachable engine it does nothing.
func (ad *Adapter) RemoveStaleContainers(ctx context.Context, b *config.Bench, log io.Writer) {
	if ad.s.Mode != ModeDocker && ad.s.SandboxRuntime != "docker" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	names, err := engineOf(b).RemoveStale(ctx)
	if err != nil {
		fmt.Fprintf(log, "warning: looking for stale containers: %v\n", err)
		return
	}
	for _, n := range names {
		fmt.Fprintf(log, "removed stale container %s (its harness is gone)\n", n)
	}
}

// eventPoll is how often the event store is read while OpenHands runs.
const eventPoll = 2 * time.Second

// watchEvents reports the accumulated cost in OpenHands' event store (one
// file per event, written as they happen) while it runs, so that the
// harness can show the spend and enforce the run's budget; OpenHands
// enforces its own -b per item.
func watchEvents(r *agent.Rollout, ohDir string, done <-chan struct{}) {
	agent.PollUsage(r, eventPoll, done, func() (records.Usage, bool) {
		sum, err := Parse(ohDir)
		if err != nil || sum == nil {
			return records.Usage{}, false
		}
		u := sum.Usage(true)
		return u, u.CostUSD > 0 || u.Turns > 0
	})
}
