package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
)

// RuntimeContainer is runtime: container: the agent runs in its entry's
// image (image:) inside the container sandbox instead of on the host.
const RuntimeContainer = "container"

// RuntimeHost is where an agent runs unless something sandboxes it.
const RuntimeHost = "host"

// A Sandboxer is an adapter that decides by itself whether its rollouts
// run in containers (OpenHands: docker mode, or sandbox_runtime: docker).
type Sandboxer interface{ Sandboxed() bool }

// RolloutRuntime is where the rollouts of entry a through adapter run, as
// run.json records it: RuntimeContainer when the agent's actions run in a
// container (runtime: container, or an adapter that says so), else
// RuntimeHost.
func RolloutRuntime(a *config.Agent, adapter Adapter) string {
	if a.Runtime == RuntimeContainer {
		return RuntimeContainer
	}
	if s, ok := adapter.(Sandboxer); ok && s.Sandboxed() {
		return RuntimeContainer
	}
	return RuntimeHost
}

// notForwarded are host variables that describe the host, not the
// agent's contract: the image's own values stay in force (a host's
// toolchain paths would break the image's tools).
var notForwarded = map[string]bool{
	"PATH": true, "HOSTNAME": true, "SHELL": true, "TERM": true, "DISPLAY": true, "SSH_AUTH_SOCK": true,
	"USER": true, "LOGNAME": true, "MAIL": true, "OLDPWD": true, "SHLVL": true, "_": true,
	"GOROOT": true, "GOPATH": true, "GOBIN": true, "GOCACHE": true, "GOMODCACHE": true, "GOTOOLCHAIN": true,
	"PYTHONHOME": true, "PYTHONPATH": true, "VIRTUAL_ENV": true, "CONDA_PREFIX": true, "CONDA_DEFAULT_ENV": true,
	"PYENV_ROOT": true, "PYENV_VERSION": true, "NODE_PATH": true, "NVM_DIR": true, "JAVA_HOME": true,
	"LD_LIBRARY_PATH": true, "LD_PRELOAD": true, "CARGO_HOME": true, "RUSTUP_HOME": true,
	"XDG_RUNTIME_DIR": true, "XDG_DATA_DIRS": true, "XDG_CONFIG_DIRS": true, "DBUS_SESSION_BUS_ADDRESS": true,
}

// rolloutPath are the rollout's own paths: passed with their values (they
// are not secret, and the engine client runs with the invoking user's
// HOME and XDG directories, not these).
var rolloutPath = map[string]bool{
	"HOME": true, "TMPDIR": true, "PWD": true,
	"XDG_CONFIG_HOME": true, "XDG_CACHE_HOME": true, "XDG_DATA_HOME": true, "XDG_STATE_HOME": true,
	"BENCH_WORKSPACE": true, "BENCH_TASK_FILE": true, "BENCH_OUT_DIR": true,
}

// StdinReader is implemented by adapters that feed the prompt on stdin.
type StdinReader interface{ ReadsStdin() bool }

// containerUser is the --user ("uid:gid") of rollout containers: the
// invoking user's. A variable: tests of a root harness run them as
// another user.
var containerUser = func() string { return fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()) }

// ContainerSpec is the container a runtime: container rollout runs argv
// in. The rollout's private directory (workspace, task file copy, output
// folder, fresh HOME, TMPDIR) is mounted read-write at the same path, so
// every path in argv and in the environment means the same inside; nothing
// else of the host is visible. The environment goes by name only (no value
// in the argv). The container runs as the invoking user, with the sandbox
// defaults of bench.yaml's container: section.
func ContainerSpec(r *Rollout, argv []string, interactive bool) (*container.Spec, error) {
	if r.Agent.Image == "" {
		return nil, fmt.Errorf("agent %s: runtime: container needs image: (an image with the agent installed)", r.Agent.Name)
	}
	var c config.Container
	if r.Bench != nil {
		c = r.Bench.Container
	}
	spec := container.FromConfig(c, "")
	spec.Name = container.Name(r.RunID, r.ItemID, r.Sample)
	spec.Labels = container.OwnerLabels(r.RunID, ItemLabel(r))
	spec.Image = r.Agent.Image
	spec.User = containerUser()
	if container.NewEngine(c.Engine).Podman() && os.Getuid() != 0 {
		spec.KeepUserNS = true
	}
	spec.Workdir = r.Workspace
	spec.Interactive = interactive
	root := filepath.Dir(r.Workspace)
	spec.Mounts = []container.Mount{{Source: root, Target: root}}
	for _, p := range []string{r.TaskFile, r.OutDir, r.Home} {
		if p != "" && !within(root, p) {
			spec.Mounts = append(spec.Mounts, container.Mount{Source: p, Target: p})
		}
	}
	for _, kv := range r.Env {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "" || notForwarded[k]:
		case rolloutPath[k]:
			spec.Env = append(spec.Env, container.EnvVar{Name: k, Value: v})
		default:
			spec.Env = append(spec.Env, container.EnvVar{Name: k, ByName: true})
		}
	}
	spec.Cmd = argv
	return &spec, nil
}

// clientEnv is the engine client's environment: the rollout's (the
// values of the variables the container gets by name), with the invoking
// user's HOME, XDG directories and TMPDIR: the client's configuration
// (context, credential helpers) and rootless podman's image store live
// there, not in the rollout's fresh HOME.
func clientEnv(env []string, host Host) []string {
	out := make([]string, 0, len(env)+4)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if rolloutPath[k] || k == "XDG_RUNTIME_DIR" {
			continue
		}
		out = append(out, kv)
	}
	for _, k := range []string{"HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"} {
		if v, ok := host.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// ItemLabel is the perfbench.item label of a rollout: the item id, plus
// ".s<k>" for sample k > 0.
func ItemLabel(r *Rollout) string {
	if r.Sample > 0 {
		return r.ItemID + ".s" + strconv.Itoa(r.Sample)
	}
	return r.ItemID
}

// runInContainer runs argv in the entry's image under the container
// sandbox, with the process contract's limits: the wall-clock limit and
// the harness's cancellation kill and remove the container.
func runInContainer(ctx context.Context, r *Rollout, argv []string, stdin io.Reader) (*Outcome, error) {
	spec, err := ContainerSpec(r, argv, stdin != nil)
	if err != nil {
		return &Outcome{Failed: true, Reason: err.Error()}, nil
	}
	eng := container.NewEngine(spec.Engine)
	opts := container.RunOptions{
		Env:     clientEnv(r.Env, r.Host),
		Stdin:   stdin,
		Stdout:  r.Stdout,
		Stderr:  r.Stderr,
		Timeout: r.Limits.Timeout.D(),
		Grace:   r.Limits.KillGrace.D(),
		TempDir: r.HarnessDir,
	}
	GateSetup(r, spec, eng, &opts)
	out := &Outcome{Command: r.Secrets.RedactArgv(spec.RunArgv())}
	res, err := eng.Run(ctx, *spec, opts)
	if err != nil {
		var nf *proc.NotFoundError
		if errors.As(err, &nf) {
			out.Infra = &InfraError{Kind: InfraOther, Msg: fmt.Sprintf("container engine %q is not on PATH", eng.Bin)}
			return out, nil
		}
		return nil, err
	}
	if res.SetupErr != nil {
		restoreOwnership(r, out)
		return SetupFailed(ctx, out, r, spec, res), nil
	}
	p := res.Process
	out.Process = &p
	out.Details = map[string]any{"runtime": RuntimeContainer, "container": spec.Name, "image": spec.Image}
	if p.TimedOut {
		out.LimitsHit = append(out.LimitsHit, records.LimitTimeout)
	}
	if res.CleanupErr != nil {
		fmt.Fprintf(r.Stderr, "perfbench: removing container %s: %v\n", spec.Name, res.CleanupErr)
	}
	switch {
	case res.StartFailed:
		out.Infra = &InfraError{Kind: InfraOther, Msg: "container did not start: " + r.Secrets.ScrubString(res.EngineError)}
	case res.OOMKilled:
		out.Details["oom_killed"] = true
		out.LimitsHit = append(out.LimitsHit, records.LimitMemory)
		out.Failed = true
		out.Reason = "killed by the out-of-memory killer: container.memory exceeded"
	}
	restoreOwnership(r, out)
	return out, nil
}

// restoreOwnership gives the invoking user back what the container left
// in the rollout directory owned by another.
func restoreOwnership(r *Rollout, out *Outcome) {
	if own, oerr := container.RestoreOwnership(os.Getuid(), os.Getgid(), filepath.Dir(r.Workspace)); oerr != nil {
		fmt.Fprintf(r.Stderr, "perfbench: %v\n", oerr)
	} else if own.Fixed > 0 {
		out.SetDetail("ownership_restored", own.Fixed)
	}
}

// ContainerRuntime is the container side of a runtime: container entry,
// for prepare: before the first rollout it removes containers a crashed
// harness left behind, and it records the image in run.json.
type ContainerRuntime struct{ Agent *config.Agent }

// RemoveStaleContainers removes labelled containers whose harness is gone.
func (c ContainerRuntime) RemoveStaleContainers(ctx context.Context, b *config.Bench, log io.Writer) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	names, err := container.NewEngine(b.Container.Engine).RemoveStale(ctx)
	if err != nil {
		fmt.Fprintf(log, "warning: looking for stale containers: %v\n", err)
		return
	}
	for _, n := range names {
		fmt.Fprintf(log, "removed stale container %s (its harness is gone)\n", n)
	}
}

// Images returns the agent image's id (and digest) by role; an image that
// is not present locally is an error (perfbench never pulls).
func (c ContainerRuntime) Images(ctx context.Context, b *config.Bench) (map[string]string, error) {
	img, err := container.NewEngine(b.Container.Engine).InspectImage(ctx, c.Agent.Image)
	if err != nil {
		return nil, fmt.Errorf("agent image: %w", err)
	}
	out := map[string]string{"agent": img.ID, "agent_ref": img.Ref}
	if d := img.Digest(); d != "" {
		out["agent_digest"] = d
	}
	return out, nil
}

// GateSetup makes a rollout's container run workspace_setup first, when
// the rollout has one still to run: the agent's command is held at the
// gate while the setup execs into its container (so what it installs
// outside the workspace persists for the agent). An adapter that starts
// its container itself (OpenHands' docker mode) calls it like RunProcess
// does, then SetupFailed when the result has a SetupErr.
func GateSetup(r *Rollout, spec *container.Spec, eng *container.Engine, opts *container.RunOptions) {
	if r.Setup.pending() {
		spec.Gated = true
		opts.Setup = setupInContainer(r, spec, eng, opts.Env)
	}
}

// SetupFailed is the outcome of a gated container whose workspace_setup
// failed (res.SetupErr): infra_error of kind setup, the agent never ran;
// an interrupt during the setup is not its failure.
func SetupFailed(ctx context.Context, out *Outcome, r *Rollout, spec *container.Spec, res *container.Result) *Outcome {
	if res.CleanupErr != nil {
		fmt.Fprintf(r.Stderr, "perfbench: removing container %s: %v\n", spec.Name, res.CleanupErr)
	}
	if res.Process.Stopped && ctx.Err() != nil {
		p := res.Process
		out.Process = &p
		return out
	}
	err := res.SetupErr
	var gate *container.GateError
	switch {
	case errors.As(err, &gate) && gate.NoShell():
		// The agent's command waits behind `sh -c` while the setup
		// runs: say that, rather than how the exec into a container
		// already gone failed.
		err = fmt.Errorf("workspace_setup needs sh in the image: %w", gate)
	case gate != nil:
		// The container ended by itself at the gate (status 0
		// included): neither workspace_setup nor the agent ran.
		err = fmt.Errorf("workspace_setup did not run: %w", gate)
	}
	if gate != nil && r.Setup != nil && r.Setup.Log != nil {
		fmt.Fprintf(r.Setup.Log, "perfbench: %s\n", r.Secrets.ScrubString(err.Error()))
	}
	return setupInfra(out, r, err)
}
