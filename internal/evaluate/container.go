package evaluate

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/textx"
)

// Paths inside an evaluation container.
const (
	// ContainerWorkspace is where every arm's workspace is mounted: the
	// same path in each arm ({workspace} and BENCH_WORKSPACE resolve to
	// it), so the arms' environments are byte for byte the same.
	ContainerWorkspace = "/workspace"
	containerDir       = "/.perfbench"
	// containerLauncher is the launcher's mount point. Its base name is
	// "bench": a binary that dispatches on its name (a testscript test
	// binary) still runs as bench.
	containerLauncher = containerDir + "/bench"
	containerOut      = containerDir + "/out"
	containerHome     = containerDir + "/home"
)

// Labels of evaluation containers, on top of container.OwnerLabels.
const (
	LabelPhase = "perfbench.phase"
	LabelArm   = "perfbench.arm"
)

// Bounds of the engine calls. Variables so tests can shorten them.
var (
	engineTimeout = 2 * time.Minute
	// execBound is how long a `docker exec` client may take to return
	// after its container was killed before it is stopped itself.
	execBound = 10 * time.Second
)

// Container runs the commands of evaluation.environment.image: for every
// item it starts one long-lived container per arm from the image, with the
// same limits (bench.yaml's container section: cpus, memory, pids_limit,
// the evaluation network) and the hardening of package container (--rm,
// --init, --cap-drop ALL, no-new-privileges, --pull never), running as the
// invoking uid:gid, with the arm's workspace bind-mounted at /workspace.
// Every command is a `docker exec` into the arm's container that runs the
// launcher (TimedMain, the bench binary itself, mounted read-only) which
// runs `sh -c COMMAND` and measures it from inside the container: the
// exec's own start-up (tens of milliseconds, and noisy) never enters a
// timed run, and each run is still a fresh process.
//
// Setup and correctness run with the containers' cpuset on the harness's
// CPUs; before the timed rounds the containers are moved to the timing CPU
// alone (`docker update --cpuset-cpus`), and the launcher pins itself there
// too. The containers are killed and removed when the item ends, at a
// command's timeout and when the evaluation is interrupted; containers of a
// harness that died are removed by the next evaluation (Prepare).
type Container struct {
	// Image is environment.image.
	Image string
	// Settings is bench.yaml's container section: the engine, the limits
	// and EvalNetwork.
	Settings config.Container
	// PassEnv names the variables passed by name into the containers
	// (bench.yaml's .env, minus the web-search keys): their values come
	// from the client's environment and never appear in an argv.
	PassEnv []string
	// Launcher is the host path of a statically linked executable that
	// implements TimedCommand: the bench binary (built with
	// CGO_ENABLED=0).
	Launcher string
	// User is the --user ("uid:gid") of the containers; default the
	// invoking user's uid:gid. Files left in the workspaces by anyone else
	// are given back to it when the item ends.
	User string

	engine  *container.Engine
	image   *container.Image
	version string
	uid     int
	gid     int
}

// NewContainer is the runner of environment.image with the container
// settings and .env of bench.yaml.
func NewContainer(b *config.Bench, image, launcher string) *Container {
	c := &Container{Image: image, Settings: b.Container, Launcher: launcher}
	for _, k := range slices.Sorted(maps.Keys(b.Env)) {
		if !slices.Contains(secrets.SearchKeyDenyList, k) {
			c.PassEnv = append(c.PassEnv, k)
		}
	}
	return c
}

// Name returns "container".
func (*Container) Name() string { return "container" }

// Run fails: commands run in the containers of an item (StartItem).
func (c *Container) Run(context.Context, CommandSpec) (CommandResult, error) {
	return CommandResult{}, errors.New("container runner: commands run in an item's containers (StartItem)")
}

// ImageRef is the image the runner runs.
func (c *Container) ImageRef() string { return c.Image }

// Prepare checks that an engine answers, removes the containers of dead
// harnesses, inspects the image (bad input when it is not present: perfbench
// never pulls), checks that the launcher is statically linked, and runs it
// once in the image to check that the image has a shell (bad input when it
// has none).
func (c *Container) Prepare(ctx context.Context, p PrepareInfo) error {
	log := p.Log
	if log == nil {
		log = io.Discard
	}
	c.engine = container.NewEngine(c.Settings.Engine)
	c.engine.Env = p.Env
	c.uid, c.gid = os.Getuid(), os.Getgid()
	if c.User == "" {
		c.User = fmt.Sprintf("%d:%d", c.uid, c.gid)
	} else if u, g, ok := strings.Cut(c.User, ":"); ok {
		// Files the containers leave are given back to this user.
		if ui, err := strconv.Atoi(u); err == nil {
			c.uid = ui
		}
		if gi, err := strconv.Atoi(g); err == nil {
			c.gid = gi
		}
	}
	ectx, cancel := context.WithTimeout(ctx, engineTimeout)
	defer cancel()
	v, err := c.engine.ServerVersion(ectx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("environment.image %s needs a container engine, and %s does not answer: %w", c.Image, c.engine.Bin, err)
	}
	c.version = v
	if removed, err := c.engine.RemoveStale(ectx); err != nil {
		fmt.Fprintf(log, "warning: removing stale containers: %v\n", err)
	} else if len(removed) > 0 {
		fmt.Fprintf(log, "removed %d stale container(s) of a harness that is gone: %s\n", len(removed), strings.Join(removed, ", "))
	}
	img, err := c.engine.InspectImage(ectx, c.Image)
	switch {
	case errors.Is(err, container.ErrNoImage):
		return badinput.Errorf("environment.image: %v", err)
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("environment.image %s: %w", c.Image, err)
	}
	c.image = img
	if err := checkStatic(c.Launcher); err != nil {
		return err
	}
	if err := c.probe(ectx, p); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if p.Counter {
		if err := c.probeCounter(ectx, p); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	fmt.Fprintf(log, "evaluating in image %s (%s) with %s %s, as user %s\n", c.Image, shortID(img.ID), c.engine.Bin, v, c.User)
	return nil
}

// checkStatic fails unless path is a statically linked ELF executable (no
// program interpreter): only such a binary runs in any image.
func checkStatic(path string) error {
	if path == "" {
		return errors.New("environment.image: no timing launcher (the bench executable could not be found)")
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("environment.image: the timing launcher %s cannot run in a Linux container: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("environment.image: the timing launcher %s is dynamically linked and cannot run inside an image; "+
				"build bench with CGO_ENABLED=0, or set BENCH_LAUNCHER to a statically linked bench", path)
		}
	}
	return nil
}

// probe runs the launcher once in the image: `sh -c 'exit 0'`.
func (c *Container) probe(ctx context.Context, p PrepareInfo) error {
	spec := c.spec(p.RunID, "eval-check", "eval-check", 0, "check")
	spec.Mounts = []container.Mount{{Source: c.Launcher, Target: containerLauncher, ReadOnly: true}}
	spec.Workdir = "/"
	spec.Cmd = []string{TimedCommand, "--cpu", "-1", "--result", "/dev/null", "--", "sh", "-c", "exit 0"}
	out, err := c.runClient(ctx, p.Env, runArgv(&spec, false, "", containerLauncher)...)
	if err == nil {
		return nil
	}
	_ = c.engine.RemoveOwn(context.WithoutCancel(ctx), spec.Name)
	if strings.Contains(string(out), "executable file not found") {
		return badinput.Errorf("environment.image %s has no sh on its PATH: evaluation commands run as `sh -c COMMAND` (add a shell to the image)%s", c.Image, lastLine(string(out)))
	}
	return fmt.Errorf("environment.image %s: the timing launcher does not run in the image (%v)%s", c.Image, err, lastLine(string(out)))
}

// probeCounter checks that the image can count instructions: the
// launcher counts `true` in the image as it will count the workload
// (--count auto: perf when perf stat counts the instructions counter
// there, else cachegrind), so a perf that is installed but cannot count
// (no counter in a VM, the engine's seccomp profile, perf_event_paranoid)
// with no valgrind beside it fails here, not in every timed run.
func (c *Container) probeCounter(ctx context.Context, p PrepareInfo) error {
	dir, err := fsx.MkdirOwned(os.TempDir(), "perfbench-counter-probe-")
	if err != nil {
		return fmt.Errorf("counter probe: %w", err)
	}
	defer func() { _ = fsx.RemoveOwned(dir) }()
	out := filepath.Join(dir, "out")
	if err := c.mkdir(out); err != nil {
		return fmt.Errorf("counter probe: %w", err)
	}
	spec := c.spec(p.RunID, "eval-check", "eval-check", 0, "counter")
	spec.Mounts = []container.Mount{{Source: c.Launcher, Target: containerLauncher, ReadOnly: true}, {Source: out, Target: containerOut}}
	spec.Workdir = "/"
	spec.Cmd = []string{TimedCommand, "--cpu", "-1", "--result", containerOut + "/probe.json", "--count", CounterAuto, "--", "true"}
	stdout, err := c.runClient(ctx, p.Env, runArgv(&spec, false, "", containerLauncher)...)
	if err != nil {
		_ = c.engine.RemoveOwn(context.WithoutCancel(ctx), spec.Name)
	}
	res, rerr := readTimed(filepath.Join(out, "probe.json"))
	switch {
	case rerr == nil && err == nil && res.CountError == "" && res.Instructions > 0:
		return nil
	case rerr == nil && res.Error != "":
		return badinput.Errorf("environment.image %s cannot count instructions: %s (the instructions metric counts in the image: install valgrind in it)", c.Image, textx.Truncate(res.Error, 300))
	case rerr == nil && res.CountError != "":
		return badinput.Errorf("environment.image %s cannot count instructions: %s (the instructions metric counts in the image: install valgrind in it)", c.Image, textx.Truncate(res.CountError, 300))
	case rerr == nil:
		return badinput.Errorf("environment.image %s cannot count instructions: counting `true` gave no count (the instructions metric counts in the image: install valgrind in it)%s", c.Image, lastLine(string(stdout)))
	}
	return fmt.Errorf("environment.image %s: the counter probe did not run (%v)%s", c.Image, err, lastLine(string(stdout)))
}

// spec is the container of one arm (or of the probe): the configured
// limits and hardening, the owner's labels (item is the unit's name), the
// invoking user, and a deterministic name from the run, the plan item,
// the arm and the sample.
func (c *Container) spec(run, item, itemID string, sample int, arm string) container.Spec {
	spec := container.FromConfig(c.Settings, c.Settings.EvalNetwork)
	// The harness's pid in the name: two harnesses evaluating runs of
	// the same id on one engine (two state roots) must not collide.
	spec.Name = container.Name(run, itemID+"-"+arm+"-p"+strconv.Itoa(os.Getpid()), sample)
	spec.Labels = container.OwnerLabels(run, item)
	spec.Labels[LabelPhase] = "evaluate"
	spec.Labels[LabelArm] = arm
	spec.Image = c.Image
	if c.image != nil && c.image.ID != "" {
		spec.Image = c.image.ID
	}
	spec.User = c.User
	if c.engine.Podman() && c.uid != 0 {
		// Rootless podman: keep the invoking user's id inside.
		spec.KeepUserNS = true
	}
	return spec
}

// runArgv is spec's `run` command line plus what container.Spec does not
// express: -d (detach), --cpuset-cpus and --entrypoint (an image's own
// entrypoint would otherwise receive the launcher as arguments).
func runArgv(spec *container.Spec, detach bool, cpuset, entrypoint string) []string {
	a := spec.RunArgv()
	img := len(a) - len(spec.Cmd) - 1
	out := append([]string{}, a[:2]...)
	if detach {
		out = append(out, "--detach")
	}
	out = append(out, a[2:img]...)
	if cpuset != "" {
		out = append(out, "--cpuset-cpus", cpuset)
	}
	if entrypoint != "" {
		out = append(out, "--entrypoint", entrypoint)
	}
	return append(out, a[img:]...)
}

// Describe records the image, the engine and the limits.
func (c *Container) Describe(env *records.Environment) {
	info := &records.ContainerInfo{Image: c.Image, Engine: c.Settings.Engine, EngineVersion: c.version, User: c.User,
		Workspace: ContainerWorkspace, Network: c.Settings.EvalNetwork,
		CPUs: c.Settings.CPUs, Memory: c.Settings.Memory, PidsLimit: c.Settings.PidsLimit}
	if info.Engine == "" {
		info.Engine = "docker"
	}
	if c.image != nil {
		info.ImageID, info.RepoDigests = c.image.ID, c.image.RepoDigests
	}
	if env.Container != nil {
		info.SetupCPUSet, info.TimingCPUSet = env.Container.SetupCPUSet, env.Container.TimingCPUSet
	}
	env.Container = info
}

// StartItem starts the containers of an item, one per arm (the baseline,
// the human commit and each candidate), each idle (the launcher waiting
// for a signal) with its arm's workspace at /workspace, the launcher, a
// result directory and a private home directory mounted.
func (c *Container) StartItem(ctx context.Context, it ItemEnv) (ItemSession, error) {
	if c.engine == nil || c.image == nil {
		return nil, errors.New("container runner: Prepare was not called")
	}
	arms := it.Arms
	if arms == nil {
		arms = records.Arms
	}
	s := &containerItem{c: c, names: map[records.Arm]string{}, order: arms, env: it.Env, cpuset: cpuList(it.CPUs),
		out: filepath.Join(it.Private, "out"), dirs: []string{}, homes: map[records.Arm]string{}}
	if err := c.mkdir(s.out); err != nil {
		return nil, err
	}
	s.dirs = append(s.dirs, s.out)
	setHome := !slices.ContainsFunc(c.image.Env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=") })
	for _, arm := range arms {
		if ctx.Err() != nil {
			s.Close()
			return nil, ctx.Err()
		}
		home := filepath.Join(it.Private, "home-"+homeDir(arm))
		if err := c.mkdir(home); err != nil {
			s.Close()
			return nil, err
		}
		s.dirs = append(s.dirs, it.Workspaces[arm], home)
		spec := c.spec(it.RunID, it.Name, it.ItemID, it.Sample, "eval-"+string(arm))
		spec.Workdir = ContainerWorkspace
		spec.Mounts = []container.Mount{
			{Source: it.Workspaces[arm], Target: ContainerWorkspace},
			{Source: c.Launcher, Target: containerLauncher, ReadOnly: true},
			{Source: s.out, Target: containerOut},
			{Source: home, Target: containerHome},
		}
		spec.Env = []container.EnvVar{{Name: "BENCH_WORKSPACE", Value: ContainerWorkspace}}
		if setHome {
			spec.Env = append(spec.Env, container.EnvVar{Name: "HOME", Value: containerHome})
			s.homes[arm] = home
		}
		for _, k := range c.PassEnv {
			spec.Env = append(spec.Env, container.EnvVar{Name: k, ByName: true})
		}
		spec.Cmd = []string{TimedCommand, "--idle"}
		// Registered first: Close removes it whatever happens next.
		s.mu.Lock()
		s.names[arm] = spec.Name
		s.mu.Unlock()
		ectx, cancel := context.WithTimeout(ctx, engineTimeout)
		out, err := c.runClient(ectx, it.Env, runArgv(&spec, true, s.cpuset, containerLauncher)...)
		cancel()
		if err != nil {
			s.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("starting the %s container %s: %v%s", arm, spec.Name, err, lastLine(string(out)))
		}
	}
	return s, nil
}

// homeDir names an arm's home directory on the host: its workspace's
// letter for the three arms of one candidate, its id otherwise.
func homeDir(arm records.Arm) string {
	if d, ok := armDir[arm]; ok {
		return d
	}
	return string(arm)
}

// mkdir makes a private directory the containers write to, owned by the
// containers' user.
func (c *Container) mkdir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	if c.uid != os.Getuid() || c.gid != os.Getgid() {
		return os.Chown(dir, c.uid, c.gid)
	}
	return nil
}

// runClient runs an engine command with the given client environment.
func (c *Container) runClient(ctx context.Context, env []string, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.engine.Bin, argv[1:]...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// containerItem is the session of one item: its containers, one per arm.
type containerItem struct {
	c      *Container
	env    []string
	cpuset string
	out    string
	// dirs are the host directories the containers wrote to, whose
	// ownership Close restores.
	dirs []string
	seq  atomic.Int64

	// order are the arms' ids in round-0 order.
	order []records.Arm
	// homes are the arms' HOME directories on the host, when HOME is
	// ours (the image does not set it).
	homes map[records.Arm]string

	mu     sync.Mutex
	names  map[records.Arm]string
	closed bool
}

func (s *containerItem) Name() string { return s.c.Name() }

// HostHome is the host directory mounted as an arm's HOME, "" when the
// image sets its own HOME (then it is inside the container).
func (s *containerItem) HostHome(arm records.Arm) string { return s.homes[arm] }

// Workspace is /workspace for every arm.
func (s *containerItem) Workspace(records.Arm) string { return ContainerWorkspace }

// Timing moves the item's containers to the timing CPU.
func (s *containerItem) Timing(ctx context.Context, cpu int) (string, error) {
	if cpu < 0 {
		return "", nil
	}
	args := []string{s.c.engine.Bin, "update", "--cpuset-cpus", strconv.Itoa(cpu)}
	s.mu.Lock()
	for _, arm := range s.order {
		if n := s.names[arm]; n != "" {
			args = append(args, n)
		}
	}
	s.mu.Unlock()
	ectx, cancel := context.WithTimeout(ctx, engineTimeout)
	defer cancel()
	if out, err := s.c.runClient(ectx, s.env, args...); err != nil {
		return "sched_setaffinity", fmt.Errorf("%s update --cpuset-cpus %d: %v%s", s.c.engine.Bin, cpu, err, lastLine(string(out)))
	}
	return "cpuset+sched_setaffinity", nil
}

// Run runs `sh -c c.Script` in the arm's container through the launcher,
// which measures it from inside: wall, user and system time and the
// run-queue delay are the launcher's, pinned to c.CPUs[0] for a timed
// run. At the timeout, or when ctx ends, the arm's container is killed (its
// processes are not children of the client: killing `docker exec` would
// leave them running); the item is over then anyway.
func (s *containerItem) Run(ctx context.Context, c CommandSpec) (CommandResult, error) {
	s.mu.Lock()
	name, closed := s.names[c.Arm], s.closed
	s.mu.Unlock()
	if name == "" || closed {
		return CommandResult{}, fmt.Errorf("no container for the %s arm", c.Arm)
	}
	if ctx.Err() != nil {
		return CommandResult{Stopped: true}, nil
	}
	cpu := -1
	if c.Timed && len(c.CPUs) == 1 {
		cpu = c.CPUs[0]
	}
	file := fmt.Sprintf("%s-%d.json", c.Arm, s.seq.Add(1))
	hostFile := filepath.Join(s.out, file)
	// The result folder is every arm's: a candidate's workload may have
	// put something at this path for another arm (a file of made-up
	// times for a launcher that then fails to write). Cleared from the
	// host before the exec; no process of another arm runs meanwhile
	// (each launcher kills its workload's processes before it ends).
	if err := os.RemoveAll(hostFile); err != nil {
		return CommandResult{}, fmt.Errorf("clearing the result file: %w", err)
	}
	defer os.Remove(hostFile)
	argv := []string{s.c.engine.Bin, "exec", "--workdir", ContainerWorkspace, name,
		containerLauncher, TimedCommand, "--cpu", strconv.Itoa(cpu), "--result", containerOut + "/" + file}
	argv = append(argv, countArgs(c.Count, "sh", "-c", c.Script)...)

	clientCtx, stopClient := context.WithCancel(context.WithoutCancel(ctx))
	defer stopClient()
	// No soft stop: the item is over anyway.
	w := proc.Watchdog{Timeout: c.Timeout, Hard: func() { s.kill(c.Arm) }, Bound: execBound, GiveUp: stopClient}
	ended := w.Go(ctx)
	tail := textx.NewTail(4096)
	stderr := io.Writer(tail)
	if c.Stderr != nil {
		stderr = io.MultiWriter(c.Stderr, tail)
	}
	pr, err := proc.Run(clientCtx, proc.Spec{Argv: argv, Env: s.env, Stdout: c.Stdout, Stderr: stderr, Grace: 2 * time.Second})
	stop := ended()
	if err != nil {
		return CommandResult{}, fmt.Errorf("%s exec: %w", s.c.engine.Bin, err)
	}
	res := CommandResult{ExitCode: pr.ExitCode, Signal: pr.Signal, TimedOut: stop.TimedOut, Stopped: stop.Stopped, Wall: pr.Duration}
	tr, rerr := readTimed(hostFile)
	switch {
	case rerr != nil && (res.TimedOut || res.Stopped):
		if cpu >= 0 {
			res.AffinityErr = "no report from the launcher"
		}
		return res, nil
	case rerr != nil:
		// The launcher never ran: the engine failed (the container is
		// gone, the daemon stopped).
		return res, fmt.Errorf("%s exec in %s: %s%s", s.c.engine.Bin, name, res.Describe(0), lastLine(tail.String()))
	case tr.Error != "":
		return res, fmt.Errorf("launcher in %s: %s", name, tr.Error)
	}
	res.Wall, res.User, res.Sys, res.CPUTimes = nanos(tr.WallNanos), nanos(tr.UserNanos), nanos(tr.SysNanos), true
	res.Pinned, res.AffinityErr = tr.Pinned, tr.AffinityErr
	res.RunDelay, res.RunDelayKnown, res.RunCPU = nanos(tr.RunDelayNanos), tr.RunDelayKnown, nanos(tr.RunCPUNanos)
	res.Instructions, res.CountMethod, res.CountError = tr.Instructions, tr.CountMethod, tr.CountError
	res.TreeCPU, res.TreeDelay, res.TreeKnown = nanos(tr.TreeCPUNanos), nanos(tr.TreeDelayNanos), tr.TreeKnown
	if !res.TimedOut && !res.Stopped {
		res.ExitCode, res.Signal = tr.ExitCode, tr.Signal
	}
	return res, nil
}

// maxManifestOutput bounds what a manifest listing may print: the
// entries are capped (maxManifestEntries per directory), but not the
// length of the names a candidate chose.
const maxManifestOutput = 64 << 20

// Manifests lists directories inside an arm's container with the launcher
// (`__timed --manifest`), read from the exec's stdout: its temporary
// directories are the container's own, invisible from the host.
func (s *containerItem) Manifests(ctx context.Context, arm records.Arm, dirs []string) ([]manifest, error) {
	s.mu.Lock()
	name, closed := s.names[arm], s.closed
	s.mu.Unlock()
	if name == "" || closed {
		return nil, fmt.Errorf("no container for the %s arm", arm)
	}
	ectx, cancel := context.WithTimeout(ctx, engineTimeout)
	defer cancel()
	argv := append([]string{"exec", "--workdir", "/", name, containerLauncher, TimedCommand, "--manifest", "--"}, dirs...)
	cmd := exec.CommandContext(ectx, s.c.engine.Bin, argv...)
	cmd.Env = s.env
	cmd.WaitDelay = 5 * time.Second
	stdout := &cappedBuffer{max: maxManifestOutput}
	stderr := textx.NewTail(2048)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s exec %s: %v%s", s.c.engine.Bin, name, err, lastLine(stderr.String()))
	}
	if stdout.over {
		return nil, fmt.Errorf("the listing is larger than %d bytes", maxManifestOutput)
	}
	var js []manifestJSON
	if err := json.Unmarshal(stdout.buf.Bytes(), &js); err != nil {
		return nil, fmt.Errorf("the listing: %w", err)
	}
	if len(js) != len(dirs) {
		return nil, fmt.Errorf("the listing has %d directories, %d asked", len(js), len(dirs))
	}
	out := make([]manifest, len(js))
	for i, j := range js {
		out[i] = j.manifest()
	}
	return out, nil
}

// cappedBuffer keeps at most max bytes and notes that more came.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.over = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// kill kills an arm's container (and so everything running in it). The
// arm is out of the item then: with several candidates the others go on,
// and Timing no longer names it.
func (s *containerItem) kill(arm records.Arm) {
	s.mu.Lock()
	name := s.names[arm]
	delete(s.names, arm)
	s.mu.Unlock()
	if name == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	_ = s.c.engine.RemoveOwn(ctx, name)
}

// Drop removes the container of an arm that left the item (a candidate
// that failed), so that it neither holds memory nor moves to the timing
// CPU with the others.
func (s *containerItem) Drop(arm records.Arm) { s.kill(arm) }

// Close removes the containers and gives back to the invoking user any
// file a container left owned by someone else.
func (s *containerItem) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var names []string
	for _, arm := range s.order {
		if n := s.names[arm]; n != "" {
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	var errs []error
	if err := s.c.engine.RemoveOwn(ctx, names...); err != nil {
		errs = append(errs, fmt.Errorf("removing containers %s: %w", strings.Join(names, ", "), err))
	}
	own, err := container.RestoreOwnership(s.c.uid, s.c.gid, s.dirs...)
	if err != nil {
		errs = append(errs, err)
	}
	if own.Foreign > 0 {
		errs = append(errs, fmt.Errorf("%d file(s) written in the containers belong to another user (e.g. %s)", own.Foreign, own.Example))
	}
	return errors.Join(errs...)
}

// shortID is "sha256:0123456789ab".
func shortID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 && len(id) > i+13 {
		return id[:i+13]
	}
	return id
}
