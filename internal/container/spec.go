// Package container runs agents (and, later, evaluation) in containers
// through a docker-compatible command line: docker or podman
// (container.engine). It does not use the Engine API SDK: the CLI prints
// commands a user can re-run by hand (`prepare --dry-run` shows them),
// works unchanged with podman, and the old github.com/docker/docker client
// module is frozen.
//
// A Spec is turned into an argv by a pure function (RunArgv, golden-tested);
// Engine.Run runs that argv under the process contract (internal/proc) and
// stops the container itself at the wall-clock limit or when the harness is
// interrupted: killing the docker client does not stop its container, so
// every container has a deterministic name (Name) and is killed and
// removed by that name. Every container carries the labels perfbench.run,
// perfbench.item, perfbench.pid (plus perfbench.host and
// perfbench.pidstart, which make the pid unambiguous), so that a later run
// can remove what a crashed harness left behind (Engine.RemoveStale)
// without ever touching a container it did not create.
//
// Secrets never appear in an argv: variables are passed by name
// (`-e NAME`), and the client copies their values from its own
// environment.
package container

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/config"
)

// Labels set on every container perfbench creates.
const (
	LabelRun  = "perfbench.run"
	LabelItem = "perfbench.item"
	// LabelPID is the pid of the harness that owns the container.
	LabelPID = "perfbench.pid"
	// LabelPIDStart is that process's start time (clock ticks since boot,
	// /proc/<pid>/stat field 22): a pid reused by another process does not
	// keep a stale container alive.
	LabelPIDStart = "perfbench.pidstart"
	// LabelHost is the harness's host name: a shared engine never has its
	// containers removed by a harness on another machine.
	LabelHost = "perfbench.host"
)

// Mount is a bind mount.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
}

// EnvVar is one environment variable of the container. A variable ByName is
// written "-e NAME": the engine client copies its value from its own
// environment, so no value appears in the argv (secrets, and anything
// that comes from the user's environment). Otherwise it is written
// "-e NAME=value" (harness settings, which are never secret).
type EnvVar struct {
	Name   string
	Value  string
	ByName bool
}

// Spec describes one container run.
type Spec struct {
	// Engine is the client executable: docker (default) or podman.
	Engine string
	Name   string
	Image  string
	// Cmd is the command given after the image (the image's entrypoint,
	// if any, still runs it, unless Entrypoint replaces it).
	Cmd []string
	// Entrypoint, when set, replaces the image's (--entrypoint): a probe
	// of what the image holds runs that program alone.
	Entrypoint string
	Labels     map[string]string
	// User is "uid:gid"; GroupAdd adds supplementary groups (the docker
	// socket's group for sandbox_runtime: docker).
	User     string
	GroupAdd []string
	// KeepUserNS maps the invoking user into the container unchanged
	// (podman --userns=keep-id, for rootless podman).
	KeepUserNS bool
	Workdir    string
	Env        []EnvVar
	Mounts     []Mount
	// AddHosts are --add-host entries ("host.docker.internal:host-gateway").
	AddHosts []string
	// Interactive keeps the container's stdin open (-i): RunOptions.Stdin
	// reaches it (an agent that reads its prompt from stdin).
	Interactive bool
	// Gated makes Cmd wait for one line on stdin before it starts (a
	// shell reads it, then execs Cmd, which keeps stdin): the container
	// runs, and RunOptions.Setup execs into it, before the command does.
	// It implies --interactive and needs sh in the image.
	Gated bool

	// Resources: zero values mean unlimited.
	CPUs      float64
	Memory    string
	PidsLimit int
	GPUs      string
	Platform  string
	// Network is bridge, none or host ("" leaves the engine's default).
	Network string
	// CapAdd adds capabilities back after --cap-drop ALL.
	CapAdd []string

	// The hardening defaults, all set by FromConfig.
	Remove          bool // --rm
	Init            bool // --init: an init process forwards signals and reaps zombies
	NoNewPrivileges bool // --security-opt no-new-privileges
	DropAllCaps     bool // --cap-drop ALL
	NoPull          bool // --pull never: only local images run, so the image id recorded is the one used
	NoLogs          bool // --log-driver none: output reaches the harness only through the attached client
}

// FromConfig is the container every perfbench container starts from: the
// limits and network of bench.yaml's container section and the hardening
// defaults (--rm, --init, --pull never, --log-driver none, --cap-drop ALL
// plus container.cap_add, no-new-privileges). network overrides
// c.Network when not empty (evaluation passes c.EvalNetwork). Callers add
// the name, labels, user, mounts, environment, image and command.
func FromConfig(c config.Container, network string) Spec {
	if network == "" {
		network = c.Network
	}
	return Spec{
		Engine:          c.Engine,
		CPUs:            c.CPUs,
		Memory:          c.Memory,
		PidsLimit:       c.PidsLimit,
		GPUs:            c.GPUs,
		Platform:        c.Platform,
		Network:         network,
		CapAdd:          slices.Clone(c.CapAdd),
		Remove:          true,
		Init:            true,
		NoNewPrivileges: true,
		DropAllCaps:     true,
		NoPull:          true,
		NoLogs:          true,
	}
}

// Bin returns the client executable.
func (s *Spec) Bin() string {
	if s.Engine == "" {
		return "docker"
	}
	return s.Engine
}

// RunArgv returns the complete command line: "<engine> run ... <image>
// <cmd>...". It is a pure function of the Spec, and what --dry-run prints.
// Options come in a fixed order and labels, environment variables and
// mounts in the order given (labels sorted), so that the same Spec always
// gives the same line.
func (s *Spec) RunArgv() []string {
	a := []string{s.Bin(), "run"}
	add := func(args ...string) { a = append(a, args...) }
	if s.Remove {
		add("--rm")
	}
	if s.Name != "" {
		add("--name", s.Name)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		add("--label", k+"="+s.Labels[k])
	}
	if s.Interactive || s.Gated {
		add("--interactive")
	}
	if s.Init {
		add("--init")
	}
	if s.NoPull {
		add("--pull", "never")
	}
	if s.NoLogs {
		add("--log-driver", "none")
	}
	if s.User != "" {
		add("--user", s.User)
	}
	for _, g := range s.GroupAdd {
		add("--group-add", g)
	}
	if s.KeepUserNS {
		add("--userns", "keep-id")
	}
	if s.Workdir != "" {
		add("--workdir", s.Workdir)
	}
	if s.Network != "" {
		add("--network", s.Network)
	}
	if s.CPUs > 0 {
		add("--cpus", strconv.FormatFloat(s.CPUs, 'f', -1, 64))
	}
	if s.Memory != "" {
		// The same value for swap: the limit is the limit, not a point
		// where the container starts swapping.
		add("--memory", s.Memory, "--memory-swap", s.Memory)
	}
	if s.PidsLimit > 0 {
		add("--pids-limit", strconv.Itoa(s.PidsLimit))
	}
	if s.GPUs != "" {
		add("--gpus", s.GPUs)
	}
	if s.Platform != "" {
		add("--platform", s.Platform)
	}
	if s.DropAllCaps {
		add("--cap-drop", "ALL")
	}
	for _, c := range s.CapAdd {
		add("--cap-add", c)
	}
	if s.NoNewPrivileges {
		add("--security-opt", "no-new-privileges")
	}
	for _, h := range s.AddHosts {
		add("--add-host", h)
	}
	for _, m := range s.Mounts {
		add("--mount", m.flag())
	}
	for _, e := range s.Env {
		if e.ByName {
			add("-e", e.Name)
		} else {
			add("-e", e.Name+"="+e.Value)
		}
	}
	if s.Entrypoint != "" {
		add("--entrypoint", s.Entrypoint)
	}
	add(s.Image)
	if s.Gated {
		a = append(a, GateArgv...)
	}
	return append(a, s.Cmd...)
}

// GateArgv is what a Gated Spec's Cmd runs behind: sh reads the gate's
// line (byte by byte, as a shell reads a pipe, so nothing after it is
// taken from the command's stdin), then becomes the command.
var GateArgv = []string{"sh", "-c", `read -r _ && exec "$@"`, "perfbench-gate"}

// flag formats --mount's value. Fields are CSV (the engines parse them with
// encoding/csv), so a path holding a comma or a quote is quoted.
func (m Mount) flag() string {
	fields := []string{"type=bind", csvField("source=" + m.Source), csvField("target=" + m.Target)}
	if m.ReadOnly {
		fields = append(fields, "readonly")
	}
	return strings.Join(fields, ",")
}

func csvField(s string) string {
	if !strings.ContainsAny(s, ",\"\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// maxName is the longest container name perfbench uses (a DNS label).
const maxName = 63

// Name is the container name of one rollout: "bench-<run>-<item>" (plus
// ".s<k>" for sample k > 0), with characters outside [A-Za-z0-9_.-]
// replaced by '-'. It is deterministic, so a harness that lost track of a
// container (interrupted, crashed) can kill and remove it by name. A name
// longer than 63 characters is cut and ends with a hash of the full one,
// so distinct rollouts keep distinct names.
func Name(run, item string, sample int) string {
	full := "bench-" + run + "-" + item
	if sample > 0 {
		full += ".s" + strconv.Itoa(sample)
	}
	var b strings.Builder
	for _, c := range full {
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	name := b.String()
	if len(name) <= maxName {
		return name
	}
	sum := sha256.Sum256([]byte(full))
	h := hex.EncodeToString(sum[:])[:10]
	return strings.TrimRight(name[:maxName-len(h)-1], "-.") + "-" + h
}

// OwnerLabels are the labels of a container run by this process for one
// rollout: run, item, and who owns it (pid, its start time, host name).
func OwnerLabels(run, item string) map[string]string {
	l := map[string]string{LabelRun: run, LabelItem: item, LabelPID: strconv.Itoa(os.Getpid())}
	if st, err := processStart(os.Getpid()); err == nil {
		l[LabelPIDStart] = st
	}
	if h, err := os.Hostname(); err == nil {
		l[LabelHost] = h
	}
	return l
}

// processStart returns a process's start time in clock ticks since boot
// (/proc/<pid>/stat field 22), which tells a live pid from a reused one.
func processStart(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return f[19], nil
}
