package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/secrets"
	"github.com/perfbench/perfbench/internal/textx"
)

// InfraSetup is a failed workspace_setup: the item is infra_error
// (infra_kind: setup) and is redone on resume.
const InfraSetup InfraKind = "setup"

// Setup is a task's workspace_setup for one rollout: shell commands run
// before the agent, where the agent runs — as an exec in its own
// container (runtime: container), so that what they install outside the
// workspace is there for the agent, or in its workspace on the host — as
// its user, with its network and its environment without the secrets,
// under a timeout of their own. RunProcess runs them once, before the
// first process it starts; a rollout's copies share the one Setup.
type Setup struct {
	Commands []string
	// Timeout bounds all the commands together.
	Timeout time.Duration
	// Log receives their output (<item>/setup.log), never the agent's
	// logs; the caller scrubs it.
	Log io.Writer
	// Snapshot, when set, runs after the commands succeeded and before
	// the agent starts: prepare takes the tree the patch is diffed
	// against there.
	Snapshot func(ctx context.Context) error

	mu  sync.Mutex
	ran bool
	err error
}

// Ran reports whether the setup ran, and how it failed (nil: it passed).
func (s *Setup) Ran() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ran, s.err
}

// pending reports whether the setup is still to run, and marks it taken.
func (s *Setup) pending() bool {
	if s == nil || len(s.Commands) == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ran {
		return false
	}
	s.ran = true
	return true
}

func (s *Setup) done(err error) error {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	return err
}

// SetupError is a workspace_setup command that failed: the command,
// how it ended and the last lines of its output.
type SetupError struct {
	Command string
	How     string
	Tail    string
}

func (e *SetupError) Error() string {
	msg := fmt.Sprintf("workspace_setup %q %s", e.Command, e.How)
	if e.Tail != "" {
		msg += ": " + e.Tail
	}
	return msg
}

// setupTailLines is how many last lines of a failed command the reason
// quotes.
const setupTailLines = 5

// setupInfra is the outcome of a rollout whose setup failed: no agent ran.
func setupInfra(out *Outcome, r *Rollout, err error) *Outcome {
	if out == nil {
		out = &Outcome{}
	}
	out.Infra = &InfraError{Kind: InfraSetup, Msg: r.Secrets.ScrubString(textx.OneLine(err.Error()))}
	return out
}

// RunSetup runs the rollout's workspace_setup on its own, for an agent
// that starts no process (noop): in a container of the rollout's image
// that ends with it (runtime: container), else in the workspace. Its
// failure is the outcome's Infra.
func RunSetup(ctx context.Context, r *Rollout) (*Outcome, error) {
	return RunProcess(ctx, r, []string{"sh", "-c", "exit 0"}, nil)
}

// setupEnv is the rollout's environment without its secrets: a variable
// whose name looks secret, or whose value is one of the run's secrets.
func setupEnv(r *Rollout) (keep []string, dropped []string) {
	for _, kv := range r.Env {
		k, v, _ := strings.Cut(kv, "=")
		if secrets.LooksSecret(k) || (r.Secrets != nil && r.Secrets.ScrubString(v) != v) {
			dropped = append(dropped, k)
			continue
		}
		keep = append(keep, kv)
	}
	return keep, dropped
}

// runSetup runs the commands one after the other with run (one command
// under a timeout, its output to w), stopping at the first failure, then
// the snapshot.
func (s *Setup) run(ctx context.Context, secretSet *secrets.Set, run func(ctx context.Context, cmd string, timeout time.Duration, w io.Writer) (proc.Result, error)) error {
	deadline := time.Now().Add(s.Timeout)
	log := s.Log
	if log == nil {
		log = io.Discard
	}
	for _, c := range s.Commands {
		left := time.Until(deadline)
		if s.Timeout > 0 && left <= 0 {
			return s.done(&SetupError{Command: c, How: fmt.Sprintf("not started: workspace_setup's timeout of %s is over", s.Timeout)})
		}
		if s.Timeout <= 0 {
			left = 0
		}
		fmt.Fprintf(log, "$ %s\n", c)
		tail := textx.NewTail(8 << 10)
		w := io.MultiWriter(log, tail)
		res, err := run(ctx, c, left, w)
		if err != nil {
			return s.done(&SetupError{Command: c, How: "did not start", Tail: secretSet.ScrubString(err.Error())})
		}
		how := ""
		switch {
		case res.TimedOut:
			how = fmt.Sprintf("timed out (workspace_setup's timeout of %s)", s.Timeout)
		case res.Stopped:
			how = "was stopped"
		case res.Signal != "":
			how = "was killed by signal " + res.Signal
		case res.ExitCode != 0:
			how = fmt.Sprintf("exited with status %d", res.ExitCode)
		}
		if how != "" {
			fmt.Fprintf(log, "perfbench: workspace_setup %s\n", how)
			return s.done(&SetupError{Command: c, How: how, Tail: lastLinesOf(secretSet.ScrubString(tail.String()), setupTailLines)})
		}
	}
	if s.Snapshot != nil {
		if err := s.Snapshot(ctx); err != nil {
			return s.done(fmt.Errorf("workspace_setup: the tree it left: %w", err))
		}
	}
	return s.done(nil)
}

// lastLinesOf is the last n non-empty lines of s, joined by " | ".
func lastLinesOf(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return textx.Truncate(strings.Join(lines, " | "), 600)
}

// setupOnHost runs the setup in the workspace, as the process spec's user
// (run_as), with the rollout's environment minus its secrets.
func setupOnHost(ctx context.Context, r *Rollout, user *proc.User) error {
	env, _ := setupEnv(r)
	return r.Setup.run(ctx, r.Secrets, func(ctx context.Context, cmd string, timeout time.Duration, w io.Writer) (proc.Result, error) {
		return proc.Run(ctx, proc.Spec{
			Argv: []string{"sh", "-c", cmd}, Dir: r.Workspace, Env: env,
			Stdout: w, Stderr: w, Timeout: timeout, Grace: r.Limits.KillGrace.D(), User: user,
		})
	})
}

// setupInContainer is the Setup of a gated container: each command a
// `docker exec` into it, as the container's user, in the workspace, with
// the secrets blanked (the container's environment holds them; an exec
// cannot unset a variable).
func setupInContainer(r *Rollout, spec *container.Spec, eng *container.Engine, clientEnv []string) func(ctx context.Context, id string) error {
	return func(ctx context.Context, id string) error {
		_, dropped := setupEnv(r)
		return r.Setup.run(ctx, r.Secrets, func(ctx context.Context, cmd string, timeout time.Duration, w io.Writer) (proc.Result, error) {
			argv := []string{eng.Bin, "exec", "--user", spec.User, "--workdir", spec.Workdir}
			for _, k := range dropped {
				argv = append(argv, "-e", k+"=")
			}
			argv = append(argv, id, "sh", "-c", cmd)
			// Killing the exec client leaves its process running in the
			// container: at the timeout the container itself goes (the
			// setup failed, the rollout is over).
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var timedOut atomic.Bool
			var t *time.Timer
			if timeout > 0 {
				t = time.AfterFunc(timeout, func() {
					timedOut.Store(true)
					kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
					defer kcancel()
					_ = eng.Remove(kctx, id)
					cancel()
				})
				defer t.Stop()
			}
			res, err := proc.Run(cctx, proc.Spec{Argv: argv, Env: clientEnv, Stdout: w, Stderr: w, Grace: 2 * time.Second})
			if timedOut.Load() {
				res.TimedOut = true
			}
			var nf *proc.NotFoundError
			if errors.As(err, &nf) {
				return res, fmt.Errorf("container engine %q is not on PATH", eng.Bin)
			}
			return res, err
		})
	}
}
