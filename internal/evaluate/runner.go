package evaluate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
)

// CommandSpec is one command of an evaluation: setup, correctness or a
// run of the workload.
type CommandSpec struct {
	// Script is run as `sh -c Script`.
	Script string
	// Arm is the arm the command runs for (its id, ItemEnv.Workspaces'
	// key): a container runner runs it in that arm's container.
	Arm records.Arm
	// Dir is the working directory: the candidate's workspace (as the
	// command sees it).
	Dir string
	// Env is the complete environment of the process on the host. A
	// container runner ignores it: commands in a container get the image's
	// environment plus what the runner sets (see Container).
	Env []string
	// Timeout is the wall-clock limit; 0 means none.
	Timeout time.Duration
	// Stdout and Stderr receive the output; nil discards it. The same
	// writer for both interleaves them in one stream.
	Stdout, Stderr io.Writer
	// CPUs restricts the process and all its descendants to these CPUs
	// from their start; empty means no restriction. Timed runs pass one.
	CPUs []int
	// Timed marks a run of the workload: its wall and CPU times are
	// measured as precisely as the runner can.
	Timed bool
	// TempDir holds the runner's own temporary files: the item's private
	// directory, which a later run removes if this one is killed.
	TempDir string
	// Count runs the command under an instruction counter (CounterAuto,
	// records.CounterPerf or records.CounterCachegrind) through the
	// launcher; "" runs it as is.
	Count string
}

// CommandResult is how a command ended and what it cost.
type CommandResult struct {
	ExitCode int
	// Signal names the signal that killed it, "" when it exited.
	Signal   string
	TimedOut bool
	// Stopped is set when the context ended the command.
	Stopped bool
	// Wall is the wall time from the start of the process to its end.
	Wall time.Duration
	// User and Sys are the CPU times of the process and its reaped
	// descendants; CPUTimes says whether they could be measured.
	User, Sys time.Duration
	CPUTimes  bool
	// RunDelay is how long the command's main process was runnable but
	// waiting for a CPU (another task had it); RunDelayKnown says whether
	// it was measured (timed runs through the launcher, on Linux).
	RunDelay      time.Duration
	RunDelayKnown bool
	// RunCPU is the main process's own time on a CPU (schedstat), known
	// with RunDelay.
	RunCPU time.Duration
	// Pinned is set when the process was restricted to CommandSpec.CPUs;
	// AffinityErr says why it was not.
	Pinned      bool
	AffinityErr string
	// Instructions is the instruction count of a CommandSpec.Count run
	// of the whole process tree, by CountMethod; CountError says why
	// there is none.
	Instructions uint64
	CountMethod  string
	CountError   string
	// TreeCPU and TreeDelay are a CounterSched run's: the whole process
	// tree's time on a CPU and run-queue delay (TreeKnown: measured for
	// every task).
	TreeCPU, TreeDelay time.Duration
	TreeKnown          bool
}

// OK reports whether the command ended by itself with status 0.
func (r CommandResult) OK() bool {
	return r.ExitCode == 0 && r.Signal == "" && !r.TimedOut && !r.Stopped
}

// Describe is "exit status 3", "killed by signal killed", "timed out after
// 1m0s".
func (r CommandResult) Describe(timeout time.Duration) string {
	switch {
	case r.TimedOut:
		return "timed out after " + timeout.String()
	case r.Stopped:
		return "stopped (interrupted)"
	case r.Signal != "":
		return "killed by signal " + r.Signal
	}
	return "exit status " + strconv.Itoa(r.ExitCode)
}

// Runner runs evaluation commands. Host runs them on this machine;
// Container (evaluation.environment.image) runs them in containers, through
// the ItemRunner extension.
type Runner interface {
	// Name is "host" or the runtime's name, recorded in eval.json.
	Name() string
	// Run runs one command. The error reports only a failure to start it;
	// how it ended is in the Result.
	Run(ctx context.Context, c CommandSpec) (CommandResult, error)
}

// An ItemRunner is a Runner that needs an environment per item: Container
// starts one container per arm (K + 2 with K candidates). The evaluator calls Prepare once before the
// first item it evaluates (never for --regrade), then StartItem for every
// item once its workspaces exist, runs every command of the item through
// the returned session and closes it before the workspaces are removed.
type ItemRunner interface {
	Runner
	// Prepare checks what the runner needs (engine, image, launcher) and
	// removes what a dead harness left behind. Problems a user must fix
	// are bad input.
	Prepare(ctx context.Context, p PrepareInfo) error
	// StartItem sets up the environment of one item.
	StartItem(ctx context.Context, it ItemEnv) (ItemSession, error)
	// Describe adds what the runner knows to an item's environment record.
	Describe(env *records.Environment)
}

// PrepareInfo is what ItemRunner.Prepare gets.
type PrepareInfo struct {
	RunID string
	// Env is the environment of the engine's client.
	Env []string
	Log io.Writer
	// Counter is set when an item counts instructions: the counter tool
	// (perf or valgrind) must be where the commands run.
	Counter bool
}

// ItemEnv is the item an ItemRunner sets up.
type ItemEnv struct {
	RunID string
	// Name is the unit's name (its item directory: "<item>" or
	// "<item>.s<k>"); ItemID and Sample identify it in the plan.
	Name   string
	ItemID string
	Sample int
	// Workspaces are the arms' workspaces on the host, by the arm's id:
	// records.ArmBase, ArmHuman, and ArmAgent or, with samples, one
	// "agent.s<k>" per candidate (CommandSpec.Arm is the same id).
	Workspaces map[records.Arm]string
	// Arms are the ids of the arms to set up, in round-0 order (nil: the
	// three of records.Arms).
	Arms []records.Arm
	// Private is the item's private directory (0700, removed after the
	// item): the runner may keep files there.
	Private string
	// CPUs are those untimed commands may use (empty: any).
	CPUs []int
	// Env is the harness's environment for commands (bench's own plus
	// .env): the engine's client gets it, so that variables passed by name
	// have their values.
	Env []string
}

// An ItemSession runs the commands of one item.
type ItemSession interface {
	Runner
	// Workspace is the path of an arm's workspace as its commands see it
	// ({workspace}, BENCH_WORKSPACE, the working directory).
	Workspace(arm records.Arm) string
	// Timing is called once before the timed rounds with the CPU reserved
	// for timing (-1: none): the session moves every arm there. It returns
	// the method of pinning and an error when it could not.
	Timing(ctx context.Context, cpu int) (method string, err error)
	// Close stops everything the session started; it is called once, also
	// after an interruption.
	Close() error
}

// Host runs commands on this machine under package proc's contract: own
// process group, SIGTERM then SIGKILL to the group at the timeout or when
// ctx ends, nothing of the group left behind.
type Host struct {
	// Grace is the SIGTERM → SIGKILL grace (default config.DefaultKillGrace).
	Grace time.Duration
	// Launcher is the argv prefix that runs TimedMain (the bench binary and
	// TimedCommand). Timed runs go through it when set; otherwise they are
	// held at a gate and timed by package proc, which includes the
	// harness's own scheduling delays.
	Launcher []string
}

// Name returns "host".
func (*Host) Name() string { return "host" }

// Run runs `sh -c c.Script`.
//
// A timed run goes through the launcher (TimedMain) when Launcher is set:
// it pins itself, then times and reaps the shell with wait4, on the timing
// CPU; wall, user and system times are the launcher's.
//
// Otherwise, with c.CPUs, the process is held at a gate before it runs
// anything: the script is prefixed with a read of one line from stdin
// (then stdin is /dev/null again, as without CPUs). Right after the start
// the harness restricts the waiting shell with sched_setaffinity and opens
// the gate, so no command of the script and no descendant ever runs
// elsewhere. The wall time is then package proc's (from the start to the
// observed end), and user and system times come from
// getrusage(RUSAGE_CHILDREN) around the run, reported only when no other
// command of this process started or ended meanwhile.
func (h *Host) Run(ctx context.Context, c CommandSpec) (CommandResult, error) {
	if (c.Timed || c.Count != "") && len(h.Launcher) > 0 {
		return h.runLaunched(ctx, c)
	}
	if c.Count != "" {
		return CommandResult{}, errors.New("counting instructions needs the launcher")
	}
	spec := h.spec(c)
	var res CommandResult
	if len(c.CPUs) > 0 {
		g := newGate()
		defer g.close()
		spec.Argv[2] = gatePrefix + c.Script
		spec.Stdin = g
		spec.OnStart = func(pid int) {
			defer g.open()
			if err := setAffinity(pid, c.CPUs); err != nil {
				res.AffinityErr = err.Error()
				return
			}
			if err := checkAffinity(pid, c.CPUs); err != nil {
				res.AffinityErr = err.Error()
				return
			}
			res.Pinned = true
		}
	}
	tok := activity.begin()
	before, ruErr := childTimes()
	pr, err := proc.Run(ctx, spec)
	after, ruErr2 := childTimes()
	exclusive := activity.end(tok)
	if err != nil {
		return res, err
	}
	res.ExitCode, res.Signal, res.TimedOut, res.Stopped, res.Wall = pr.ExitCode, pr.Signal, pr.TimedOut, pr.Stopped, pr.Duration
	if exclusive && ruErr == nil && ruErr2 == nil {
		res.User, res.Sys, res.CPUTimes = after.user-before.user, after.sys-before.sys, true
	}
	return res, nil
}

func (h *Host) spec(c CommandSpec) proc.Spec {
	grace := h.Grace
	if grace <= 0 {
		grace = config.DefaultKillGrace
	}
	return proc.Spec{
		Argv: []string{"sh", "-c", c.Script}, Dir: c.Dir, Env: c.Env,
		Stdout: c.Stdout, Stderr: c.Stderr, Timeout: c.Timeout, Grace: grace,
	}
}

// runLaunched runs a timed command through the launcher.
func (h *Host) runLaunched(ctx context.Context, c CommandSpec) (CommandResult, error) {
	f, err := os.CreateTemp(c.TempDir, "perfbench-timed-*.json")
	if err != nil {
		return CommandResult{}, fmt.Errorf("launcher result file: %w", err)
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	cpu := -1
	if len(c.CPUs) == 1 {
		cpu = c.CPUs[0]
	}
	spec := h.spec(c)
	spec.Argv = append(append(append([]string(nil), h.Launcher...),
		"--cpu", strconv.Itoa(cpu), "--result", path), countArgs(c.Count, "sh", "-c", c.Script)...)
	tok := activity.begin()
	pr, err := proc.Run(ctx, spec)
	activity.end(tok)
	if err != nil {
		return CommandResult{}, err
	}
	res := CommandResult{ExitCode: pr.ExitCode, Signal: pr.Signal, TimedOut: pr.TimedOut, Stopped: pr.Stopped, Wall: pr.Duration}
	tr, rerr := readTimed(path)
	switch {
	case rerr != nil:
		// Stopped before it could report (timeout, interruption): proc's
		// view is all there is.
		if cpu >= 0 {
			res.AffinityErr = "no report from the launcher"
		}
		return res, nil
	case tr.Error != "":
		return res, fmt.Errorf("launcher: %s", tr.Error)
	}
	res.Wall, res.User, res.Sys, res.CPUTimes = nanos(tr.WallNanos), nanos(tr.UserNanos), nanos(tr.SysNanos), true
	res.Pinned, res.AffinityErr = tr.Pinned, tr.AffinityErr
	res.RunDelay, res.RunDelayKnown, res.RunCPU = nanos(tr.RunDelayNanos), tr.RunDelayKnown, nanos(tr.RunCPUNanos)
	res.Instructions, res.CountMethod, res.CountError = tr.Instructions, tr.CountMethod, tr.CountError
	res.TreeCPU, res.TreeDelay, res.TreeKnown = nanos(tr.TreeCPUNanos), nanos(tr.TreeDelayNanos), tr.TreeKnown
	if !pr.TimedOut && !pr.Stopped {
		res.ExitCode, res.Signal = tr.ExitCode, tr.Signal
	}
	return res, nil
}

// countArgs are the launcher's arguments from --count on: the counter,
// then "--" and argv.
func countArgs(count string, argv ...string) []string {
	var out []string
	if count != "" {
		out = append(out, "--count", count)
	}
	return append(append(out, "--"), argv...)
}

// gatePrefix holds the shell until the gate opens, then gives it the
// /dev/null stdin every command has.
const gatePrefix = "IFS= read -r perfbench_gate || :; unset perfbench_gate; exec </dev/null\n"

// gate is the stdin of a held shell: Read blocks until open (one line, then
// EOF) or close (EOF).
type gate struct {
	ch   chan bool
	once sync.Once
	sent bool
}

func newGate() *gate { return &gate{ch: make(chan bool, 1)} }

func (g *gate) open()  { g.once.Do(func() { g.ch <- true; close(g.ch) }) }
func (g *gate) close() { g.once.Do(func() { close(g.ch) }) }

func (g *gate) Read(p []byte) (int, error) {
	if g.sent {
		return 0, io.EOF
	}
	if ok := <-g.ch; !ok {
		return 0, io.EOF
	}
	g.sent = true
	return copy(p, "\n"), nil
}

// activity tracks the child processes this process runs, so that a
// getrusage(RUSAGE_CHILDREN) difference is attributed to one command only
// when nothing else started or was reaped in between.
var activity tracker

type tracker struct {
	mu       sync.Mutex
	inflight int
	seq      uint64
}

type token struct {
	seq   uint64
	alone bool
}

func (t *tracker) begin() token {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inflight++
	t.seq++
	return token{seq: t.seq, alone: t.inflight == 1}
}

// end reports whether the command ran alone from begin to end.
func (t *tracker) end(tok token) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	alone := tok.alone && t.seq == tok.seq
	t.inflight--
	t.seq++
	return alone
}

// state is the tracker's sequence number and the commands in flight.
func (t *tracker) state() (seq uint64, inflight int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seq, t.inflight
}

// busy marks other child-process work of this package (git commands that
// build workspaces) for the tracker.
func busy() func() {
	tok := activity.begin()
	return func() { activity.end(tok) }
}

// cpuList formats CPUs as "1" or "0,2".
func cpuList(cpus []int) string {
	parts := make([]string, len(cpus))
	for i, c := range cpus {
		parts[i] = strconv.Itoa(c)
	}
	return strings.Join(parts, ",")
}
