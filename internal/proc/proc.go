// Package proc is the one process contract every agent runs under.
//
// Run starts a command in its own process group and guarantees that when it
// returns, no process of that group is left: at the wall-clock timeout or
// when the context is done the whole group gets SIGTERM, then after a grace
// SIGKILL; when the leader ends by itself, whatever it left behind in its
// group is SIGKILLed. The result says how the process ended (exit code,
// signal, timeout, stop, kill) so the caller can derive an honest status.
//
// Limits of the contract, by design of POSIX process groups: a descendant
// that leaves the group (setsid(1), setpgid(2), a daemonizing double fork
// with setsid) is out of reach; only a cgroup (or a container, which the
// harness stops with `docker kill`) can contain such a process. Run does
// not hang on such an escapee: it stops waiting for the output pipes after
// a short bound.
//
// Watchdog is that timeout and cancellation policy on its own, with
// callbacks for the steps, so that the processes the harness stops another
// way (a container through its engine) follow the same one.
//
// TailFile is the capped log file agents' stdout and stderr are written to.
package proc

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DefaultGrace is the SIGTERM → SIGKILL grace when Spec.Grace is 0
// (the design's `kill_grace` default).
const DefaultGrace = 10 * time.Second

// Spec describes one process to run.
type Spec struct {
	Argv []string
	// Dir is the working directory; "" is the harness's.
	Dir string
	// Env is the complete environment of the process. It is never merged
	// with os.Environ: a nil or empty Env gives an empty environment, so no
	// credential of the harness reaches an agent by accident. The PATH in
	// Env (or, when Env has none, the harness's PATH) is used to find
	// Argv[0] when it contains no slash.
	Env []string
	// Stdin is read into the process's standard input; nil is /dev/null.
	// An *os.File is passed as is. Another reader is copied by a goroutine
	// that Run waits for only briefly after the process ended; a reader
	// whose Read blocks forever keeps that goroutine alive until it returns.
	Stdin io.Reader
	// Stdout and Stderr receive the process's output; nil discards it. An
	// *os.File is passed as is (descendants that escaped the group can keep
	// writing to it). Any other writer is fed from a pipe; when Stdout and
	// Stderr are the same writer, one pipe serves both so the writer is
	// never called concurrently and the interleaving is preserved.
	Stdout io.Writer
	Stderr io.Writer
	// Timeout is the wall-clock limit; 0 means none.
	Timeout time.Duration
	// Grace is the time between SIGTERM and SIGKILL; 0 means DefaultGrace.
	Grace time.Duration
	// OnStart, when set, is called with the pid (= process group id) right
	// after the start, before Run waits. Callers record it (journal) so a
	// harness that crashed can find the group again. It must not block: the
	// timeout is already running.
	OnStart func(pid int)
	// User, when set, is the uid and gid the process (and so its group)
	// runs as, with no supplementary groups: run_as, for a harness running
	// as root. Nil: the harness's own user.
	User *User
}

// User is a numeric uid and gid to run a process as.
type User struct{ UID, GID int }

// Result is how the process ended.
type Result struct {
	// ExitCode is the leader's exit status, -1 when it was killed by a
	// signal.
	ExitCode int
	// Signal is the name of the signal that killed the leader
	// ("terminated", "killed", ...); "" when it exited.
	Signal string
	// TimedOut is set when Spec.Timeout fired.
	TimedOut bool
	// Stopped is set when ctx was done before the process ended by itself;
	// Cause is context.Cause(ctx) then. Both TimedOut and Stopped can be
	// set when the context ended during the grace of a timeout.
	Stopped bool
	Cause   error
	// Killed is set when SIGKILL was needed because the grace expired with
	// the leader or some member of its group still running.
	Killed bool
	// Orphans counts the processes still running in the group when the
	// leader ended; Run killed them. An agent that ends by itself and
	// leaves background processes behind shows up here.
	Orphans int
	// Duration is the wall time from the start to the end of the leader.
	Duration time.Duration
	// IOErr is the first error writing to Stdout or Stderr. Output kept
	// being drained (and dropped) after it, so that a full disk never
	// blocks the process on a full pipe; the logs are incomplete.
	IOErr error
}

// NotFoundError reports that Argv[0] is not an executable on PATH. It
// matches exec.ErrNotFound with errors.Is.
type NotFoundError struct {
	Name string // the executable looked for
	Path string // the PATH searched
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("executable %q is not on PATH (PATH=%s)", e.Name, e.Path)
}

func (e *NotFoundError) Unwrap() error { return exec.ErrNotFound }

// LookPath is how Run finds an executable: name as given when it has a
// slash, else the first executable file of that name in env's PATH (only
// absolute entries).
func LookPath(name string, env []string) (string, error) { return lookPath(name, env) }

// lookPath resolves name like a shell would in the process's environment:
// names with a slash are used as given (relative to Spec.Dir, as os/exec
// does), others are searched in env's PATH.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathEnv, ok := LookupEnv(env, "PATH")
	if !ok {
		pathEnv = os.Getenv("PATH")
	}
	if name != "" {
		for _, dir := range filepath.SplitList(pathEnv) {
			// A relative PATH entry would resolve against the harness's
			// working directory, not the agent's; never run a binary from
			// somewhere unintended.
			if !filepath.IsAbs(dir) {
				continue
			}
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", &NotFoundError{Name: name, Path: pathEnv}
}

// LookupEnv returns the last value of name in env, as the kernel's execve
// and os/exec's de-duplication make the last one win.
func LookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// sameWriter reports whether a and b are the same writer. Comparing
// interfaces panics for uncomparable dynamic types, which are then
// treated as different (as os/exec does).
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
