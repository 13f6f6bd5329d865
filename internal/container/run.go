package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/textx"
)

// Bounds of the stop sequence. Variables so tests can shorten them.
var (
	// engineCallTimeout bounds each kill / rm / events call.
	engineCallTimeout = 30 * time.Second
	// clientBound is how long Run waits for the client to end after the
	// container got SIGKILL before it stops the client itself.
	clientBound = 10 * time.Second
)

// RunOptions configure Engine.Run.
type RunOptions struct {
	// Env is the client's environment. It must hold the values of the
	// variables the Spec passes by name; they reach the container from
	// there and appear in no argv.
	Env []string
	// Stdin feeds the container's stdin when the Spec is Interactive.
	Stdin io.Reader
	// Stdout and Stderr receive the container's output (through the
	// attached client) and the client's own messages.
	Stdout io.Writer
	Stderr io.Writer
	// Timeout is the wall-clock limit; 0 means none.
	Timeout time.Duration
	// Grace is the time between StopSignal and SIGKILL; 0 means
	// proc.DefaultGrace.
	Grace time.Duration
	// StopSignal is the container's first signal at the limit or when the
	// context ends ("TERM" by default; OpenHands stops gracefully and
	// saves its trajectory on "INT").
	StopSignal string
	// TempDir holds Run's own temporary file (the cid file): the
	// caller's owner-marked private directory, which a later run removes
	// when this harness is killed with -9. Empty means the system temp
	// directory.
	TempDir string
	// Setup, when set (the Spec must be Gated), runs once the container
	// is running and before its command starts: it is given the
	// container's id (to exec into it). Only after it returns nil is the
	// gate opened and the wall-clock limit started; an error kills the
	// container before its command ran (Result.SetupErr).
	Setup func(ctx context.Context, id string) error
}

// Result is how a container run ended.
type Result struct {
	// Process is how the client ended; its exit status is the
	// container's. TimedOut, Stopped and Killed say what Run did to the
	// container (the limit fired, the context ended, SIGKILL was needed).
	Process proc.Result
	// OOMKilled is set when the engine recorded an out-of-memory kill
	// (container.memory exceeded).
	OOMKilled bool
	// StartFailed is set when the engine could not create or start the
	// container (a missing image, a name in use, a bad mount): the
	// client's status 125 with an engine error; EngineError is the
	// engine's message.
	StartFailed bool
	EngineError string
	// CleanupErr is set when the container could not be removed.
	CleanupErr error
	// SetupErr is RunOptions.Setup's error: the container was killed
	// and its command never started. A *GateError
	// when the container ended by itself before its gate opened.
	SetupErr error
}

// GateError is a gated container that ended by itself before its gate
// opened: neither the setup nor the command ran, whatever the status
// says. Status 127 (not found) or 126 (not executable) is NoShell: the
// gate's sh could not run (the image has none, or its entrypoint did not
// exec the arguments it was given); any other status, 0 included, is an
// entrypoint that ignores its arguments or an sh that cannot run (an
// image of another architecture: "exec format error"). A setup that
// failed meanwhile (an exec into a container that is gone) is only a
// consequence.
type GateError struct {
	Image  string
	Status int
	// Said is the engine's error, else the last line the container wrote
	// on stderr (an init's "exec sh failed").
	Said string
}

// NoShell tells the statuses of a gate's sh that is not there.
func (e *GateError) NoShell() bool { return e.Status == 126 || e.Status == 127 }

func (e *GateError) Error() string {
	msg := fmt.Sprintf("image %s: the container ended with status %d before the setup ran (its entrypoint must exec its arguments; the image needs a runnable sh)", e.Image, e.Status)
	if e.NoShell() {
		msg = fmt.Sprintf("image %s has no sh to run the gate (or its entrypoint does not exec its arguments): the container ended with status %d before the setup ran", e.Image, e.Status)
	}
	if e.Said != "" {
		msg += ": " + e.Said
	}
	return msg
}

// Run runs spec under the process contract and returns how it ended. The
// client runs in its own process group; Run itself stops the container,
// because killing the client does not: at the limit or when ctx ends it
// sends StopSignal to the container (`kill --signal`), after the grace
// SIGKILL, and if the client still has not returned after a further bound
// it stops the client (a proc.Watchdog). Whatever happened, the container
// is then removed by its id (rm -f) under a context that ignores ctx's
// cancellation. The returned error is only a failure to start the client
// (not on PATH).
func (e *Engine) Run(ctx context.Context, spec Spec, opts RunOptions) (*Result, error) {
	if ctx.Err() != nil {
		return nil, fmt.Errorf("container %s not started: %w", spec.Name, context.Cause(ctx))
	}
	argv := spec.RunArgv()
	argv[0] = e.Bin
	// The engine writes the id of the container it created into a cid
	// file: the container is signalled and removed by that id, never by
	// name, so a container of the same name that another harness created
	// (same run id on a shared engine) is never touched; ours then fails
	// to start with the engine's name conflict.
	cid, err := newCIDFile(opts.TempDir)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", spec.Name, err)
	}
	defer os.Remove(cid.path)
	argv = slices.Insert(argv, 2, "--cidfile", cid.path)
	grace := opts.Grace
	if grace <= 0 {
		grace = proc.DefaultGrace
	}
	stopSignal := opts.StopSignal
	if stopSignal == "" {
		stopSignal = "TERM"
	}
	start := time.Now()
	clientCtx, stopClient := context.WithCancel(context.WithoutCancel(ctx))
	defer stopClient()

	kill := func(sig string) bool {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), engineCallTimeout)
		defer cancel()
		id := cid.id()
		if id == "" {
			return false // not created yet
		}
		found, _ := e.kill(kctx, id, sig)
		return found
	}
	w := proc.Watchdog{
		Timeout: opts.Timeout,
		Grace:   grace,
		// A container the client is still creating or starting gets the
		// signal as soon as it runs (Soft is repeated until it reaches
		// one); one that already ended is left to the client, which
		// returns.
		Soft:   func() bool { return kill(stopSignal) },
		Hard:   func() { kill("KILL") },
		Bound:  clientBound,
		GiveUp: stopClient,
	}

	tail := textx.NewTail(4096)
	client := proc.Spec{
		Argv:   argv,
		Env:    opts.Env,
		Stdin:  opts.Stdin,
		Stdout: opts.Stdout,
		Stderr: &teeWriter{w: opts.Stderr, tail: tail},
		Grace:  2 * time.Second,
	}
	var res proc.Result
	var stop proc.Outcome
	var setupErr error
	// endedShut: a gated container that ended by itself, not by our kill,
	// while its gate was still shut: neither the setup nor the command ran.
	endedShut := false
	err = nil
	if opts.Setup == nil {
		ended := w.Go(ctx)
		res, err = proc.Run(clientCtx, client)
		stop = ended()
	} else {
		if !spec.Gated {
			return nil, fmt.Errorf("container %s: a setup needs a gated spec", spec.Name)
		}
		g := newGate(opts.Stdin)
		client.Stdin = g
		done := make(chan struct{})
		go func() {
			defer close(done)
			res, err = proc.Run(clientCtx, client)
		}()
		started, serr := e.setup(ctx, cid, done, opts.Setup)
		switch {
		case serr != nil:
			// The command never starts: the gate stays shut, and the
			// container goes.
			setupErr = serr
			// Kill first, then shut the gate: a shut gate ends the
			// gate's sh (status 1), which must not beat our kill and
			// read as a container that ended by itself.
			id := cid.id()
			killed, kerr := false, error(nil)
			if id != "" {
				kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), engineCallTimeout)
				killed, kerr = e.kill(kctx, id, "KILL")
				cancel()
			}
			g.abort()
			gaveUp := false
			select {
			case <-done:
			case <-time.After(clientBound):
				stopClient()
				gaveUp = true
				<-done
			}
			// Created, not running when we killed it, and not SIGKILLed
			// (137: the setup's own timeout removes the container): it
			// ended by itself, and the setup failed on a container that
			// was gone.
			endedShut = id != "" && !killed && kerr == nil && !gaveUp && res.ExitCode >= 0 && res.ExitCode != 137
			stop.Killed = !endedShut
			if ctx.Err() != nil {
				stop.Stopped, stop.Cause = true, context.Cause(ctx)
			}
		case !started:
			// The client ended first: the container did not start, or
			// ended before it was seen running (an entrypoint that does
			// not exec its arguments, an sh that cannot run).
			g.abort()
			<-done
			endedShut = res.ExitCode >= 0
		default:
			g.open()
			// The wall-clock limit is the command's: it starts now.
			ended := w.Go(ctx)
			<-done
			stop = ended()
		}
	}

	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), engineCallTimeout)
	defer cancel()
	if err != nil {
		// The client never started, so neither did a container.
		return nil, err
	}
	out := &Result{Process: res, SetupErr: setupErr}
	out.Process.TimedOut = stop.TimedOut
	out.Process.Stopped = stop.Stopped || res.Stopped
	if stop.Stopped {
		out.Process.Cause = stop.Cause
	}
	out.Process.Killed = stop.Killed || res.Killed
	if res.ExitCode == 125 {
		if msg := engineError(tail.String()); msg != "" {
			out.StartFailed, out.EngineError = true, msg
		}
	}
	if endedShut {
		// With --init the container runs for an instant (the init
		// does, then fails to exec sh), so the setup may have failed
		// first, on a container that was gone: the container's status
		// says what went wrong, not the setup's error.
		said := engineError(tail.String())
		if said == "" {
			said = lastLine(tail.String())
		}
		ge := &GateError{Image: spec.Image, Status: res.ExitCode, Said: said}
		// The engine's error says why it did not start (StartFailed):
		// the gate was not the problem. Any other status, 0 included,
		// must not read as the command's own: it never ran.
		if ge.NoShell() || !out.StartFailed {
			out.SetupErr = ge
		}
	}
	id := cid.id()
	if id == "" && spec.Name != "" {
		// Created after we gave up waiting for the engine (a slow
		// daemon), or never: look for ours by name and owner labels.
		if err := e.RemoveOwn(cctx, spec.Name); err != nil {
			out.CleanupErr = err
		}
	}
	if res.ExitCode == 137 && !out.Process.Killed && id != "" && setupErr == nil {
		// SIGKILLed by someone else than us: the kernel's OOM killer
		// is the usual suspect; the engine's event log says.
		out.OOMKilled, _ = e.OOMKilled(cctx, id, start)
	}
	if id != "" {
		out.CleanupErr = e.Remove(cctx, id)
	}
	return out, nil
}

// cidFile is where the engine client writes the id of the container it
// created (docker and podman run --cidfile); the file must not exist
// beforehand.
type cidFile struct{ path string }

func newCIDFile(dir string) (*cidFile, error) {
	f, err := os.CreateTemp(dir, "perfbench-cid-")
	if err != nil {
		return nil, err
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return nil, err
	}
	return &cidFile{path: f.Name()}, nil
}

// id is the container's id, "" until the engine created it.
func (c *cidFile) id() string {
	data, err := os.ReadFile(c.path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// engineLine matches the client's own error messages (docker: "docker:
// Error response from daemon: ...", "Unable to find image"; podman:
// "Error: ...").
var engineLine = regexp.MustCompile(`(?m)^(docker: .*|Error response from daemon: .*|Error: .*|Unable to find image .*)$`)

// engineError returns the last engine error message in the client's
// stderr, "" when there is none (the container itself exited 125).
func engineError(stderr string) string {
	all := engineLine.FindAllString(stderr, -1)
	if len(all) == 0 {
		return ""
	}
	return strings.TrimSpace(all[len(all)-1])
}

// lastLine is the last non-empty line of s, trimmed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// setupWait bounds the wait for a gated container to be running.
var setupWait = 2 * time.Minute

// setup waits until the container of the cid file runs, then calls fn
// with its id. started is false when the client ended first (the
// container did not start: the client's status says why).
func (e *Engine) setup(ctx context.Context, cid *cidFile, done <-chan struct{}, fn func(context.Context, string) error) (started bool, err error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(setupWait)
	for {
		if id := cid.id(); id != "" {
			ictx, cancel := context.WithTimeout(ctx, engineCallTimeout)
			out, ierr := e.command(ictx, "inspect", "--format", "{{.State.Running}}", id)
			cancel()
			if ierr == nil && strings.TrimSpace(string(out)) == "true" {
				return true, fn(ctx, id)
			}
		}
		select {
		case <-done:
			return false, nil
		case <-ctx.Done():
			return true, fmt.Errorf("setup not started: %w", context.Cause(ctx))
		case <-deadline:
			return true, fmt.Errorf("the container was not running after %s", setupWait)
		case <-tick.C:
		}
	}
}

// gate is a gated container's stdin: nothing until open, then the one
// line the gate's shell reads, then the command's own stdin (or EOF).
type gate struct {
	ch   chan bool // true: open, false: abort
	once sync.Once
	r    io.Reader
}

func newGate(stdin io.Reader) *gate {
	g := &gate{ch: make(chan bool, 1)}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	g.r = stdin
	return g
}

func (g *gate) open()  { g.once.Do(func() { g.ch <- true }) }
func (g *gate) abort() { g.once.Do(func() { g.ch <- false }) }

// errGateShut ends the stdin of a container whose command must not start:
// without the gate's line its shell exits.
var errGateShut = errors.New("gate shut")

func (g *gate) Read(p []byte) (int, error) {
	if g.ch != nil {
		ok := <-g.ch
		g.ch = nil
		if !ok {
			g.r = strings.NewReader("")
			return 0, errGateShut
		}
		g.r = io.MultiReader(strings.NewReader("\n"), g.r)
	}
	return g.r.Read(p)
}
