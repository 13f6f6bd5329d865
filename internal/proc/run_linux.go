package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds of the phase after the leader ended. They are variables so tests
// can shorten them; nothing else changes them.
var (
	// drainBound is how long Run waits for the output pipes to reach EOF
	// once the group is gone. Only a process that escaped the group can
	// hold a pipe open longer; Run then closes its read ends and returns.
	drainBound = 2 * time.Second
	// sweepBound is how long Run waits for SIGKILLed members to vanish
	// (a process in uninterruptible sleep dies only when the kernel lets it).
	sweepBound = 5 * time.Second
	// pollInterval is how often the group is re-read while waiting for it
	// to empty.
	pollInterval = 20 * time.Millisecond
)

// Run starts spec.Argv in its own process group (Setpgid), waits for it and
// enforces the contract described in the package documentation.
//
// At the timeout or when ctx is done the whole group (-pgid) gets SIGTERM,
// then SIGKILL after spec.Grace (a Watchdog) if the leader or any member is still
// running. When the leader ends by itself, every process left in its group
// is SIGKILLed at once (a process that escaped the group with setsid is out
// of reach without cgroups). The leader is reaped only after that sweep,
// so its pid, the group id, cannot be reused while Run still signals it.
//
// The returned error reports only a failure to start (a *NotFoundError when
// Argv[0] is not on PATH); how the process ended is in Result.
func Run(ctx context.Context, spec Spec) (Result, error) {
	res := Result{ExitCode: -1}
	if len(spec.Argv) == 0 {
		return res, errors.New("start: empty command")
	}
	name := spec.Argv[0]
	if ctx.Err() != nil {
		return res, fmt.Errorf("start %s: not started: %w", name, context.Cause(ctx))
	}
	path, err := lookPath(name, spec.Env)
	if err != nil {
		return res, fmt.Errorf("start %s: %w", name, err)
	}
	grace := spec.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	env := spec.Env
	if env == nil {
		env = []string{} // nil would make os/exec inherit os.Environ()
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        spec.Argv,
		Dir:         spec.Dir,
		Env:         env,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if u := spec.User; u != nil {
		// An empty Groups clears the supplementary groups (setgroups(0)):
		// root's would give the agent what its uid is kept from.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}
	}
	var pl plumbing
	if err := pl.setup(cmd, spec); err != nil {
		return res, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		pl.abort()
		return res, fmt.Errorf("start %s: %w", name, err)
	}
	start := time.Now()
	pid := cmd.Process.Pid
	pl.started()

	exited := make(chan struct{})
	go func() {
		// An error here (ECHILD) cannot happen for our own child; the
		// sweep and cmd.Wait below are right in any case.
		_ = waitExitNoReap(pid)
		close(exited)
	}()
	if spec.OnStart != nil {
		spec.OnStart(pid)
	}
	w := Watchdog{
		Timeout: spec.Timeout,
		Start:   start, // the timeout runs during OnStart already
		Grace:   grace,
		Soft: func() bool {
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			// A stopped member (SIGTSTP, or SIGTTIN from reading a
			// terminal) would only see SIGTERM once continued; without
			// this it could not clean up within the grace.
			_ = syscall.Kill(-pid, syscall.SIGCONT)
			return true
		},
		Hard: func() { _ = syscall.Kill(-pid, syscall.SIGKILL) },
	}
	stop := w.Watch(ctx, exited)
	res.TimedOut, res.Stopped, res.Cause, res.Killed = stop.TimedOut, stop.Stopped, stop.Cause, stop.Killed
	res.Duration = time.Since(start)

	// The leader is a zombie now: it still holds the group id, so signals
	// to -pid cannot reach an unrelated group that reused the number.
	members, scanErr := groupMembers(pid)
	res.Orphans = len(members)
	if !stop.HardAt.IsZero() && (len(members) > 0 || scanErr != nil) {
		// The members got SIGTERM with the leader: give them what is left
		// of the grace to finish cleanly.
		rest := time.NewTimer(time.Until(stop.HardAt))
		if !waitGroupEmpty(pid, rest.C) {
			res.Killed = true
		}
		rest.Stop()
	}
	// Always sweep: harmless when the group is empty (the zombie leader
	// ignores it), and the only way to catch a member forked between the
	// scan and now.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	sweepDeadline := time.NewTimer(sweepBound)
	waitGroupEmpty(pid, sweepDeadline.C)
	sweepDeadline.Stop()

	waitErr := cmd.Wait() // reaps the leader
	res.IOErr = pl.finish()
	if ps := cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.ExitCode = -1
			res.Signal = ws.Signal().String()
		} else {
			res.ExitCode = ps.ExitCode()
		}
	} else if waitErr != nil && res.IOErr == nil {
		res.IOErr = fmt.Errorf("wait %s: %w", name, waitErr)
	}
	return res, nil
}

// waitExitNoReap blocks until the process pid has exited, without reaping
// it (WNOWAIT), so that the group can be swept while the pid is reserved.
func waitExitNoReap(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		return err
	}
}

// waitGroupEmpty polls the group until no live member is left (true) or
// deadline fires (false). Without /proc it cannot tell and waits for the
// deadline.
func waitGroupEmpty(pgid int, deadline <-chan time.Time) bool {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if m, err := groupMembers(pgid); err == nil && len(m) == 0 {
			return true
		}
		select {
		case <-deadline:
			return false
		case <-tick.C:
		}
	}
}

// plumbing owns the pipes between Run and the process.
type plumbing struct {
	childEnds []*os.File // the process's ends, closed in the parent after start
	readers   []*os.File // our read ends of the output pipes
	stdinW    *os.File   // our write end of the stdin pipe
	stdin     io.Reader
	outputs   sync.WaitGroup
	stdinDone chan struct{}

	mu    sync.Mutex
	ioErr error
	out   []copyJob
}

type copyJob struct {
	r *os.File
	w io.Writer
}

func (p *plumbing) setup(cmd *exec.Cmd, spec Spec) error {
	switch in := spec.Stdin.(type) {
	case nil:
		// os/exec opens /dev/null.
	case *os.File:
		cmd.Stdin = in
	default:
		r, w, err := os.Pipe()
		if err != nil {
			return fmt.Errorf("stdin pipe: %w", err)
		}
		p.childEnds = append(p.childEnds, r)
		p.stdinW, p.stdin = w, in
		cmd.Stdin = r
	}
	var err error
	if cmd.Stdout, err = p.output(spec.Stdout); err != nil {
		p.abort()
		return err
	}
	if spec.Stderr != nil && sameWriter(spec.Stderr, spec.Stdout) {
		cmd.Stderr = cmd.Stdout
	} else if cmd.Stderr, err = p.output(spec.Stderr); err != nil {
		p.abort()
		return err
	}
	return nil
}

// output returns what the process writes to for w. The result is an
// *os.File or nil, never another writer, so os/exec starts no copying
// goroutine of its own that its Wait would block on.
func (p *plumbing) output(w io.Writer) (io.Writer, error) {
	switch w := w.(type) {
	case nil:
		return nil, nil // os/exec opens /dev/null
	case *os.File:
		return w, nil
	default:
		r, pw, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("output pipe: %w", err)
		}
		p.childEnds = append(p.childEnds, pw)
		p.readers = append(p.readers, r)
		p.out = append(p.out, copyJob{r: r, w: w})
		return pw, nil
	}
}

// abort closes every pipe end after a failed start.
func (p *plumbing) abort() {
	for _, f := range p.childEnds {
		f.Close()
	}
	for _, f := range p.readers {
		f.Close()
	}
	if p.stdinW != nil {
		p.stdinW.Close()
	}
}

// started closes the process's ends in the parent (otherwise the readers
// would never see EOF) and starts the copiers.
func (p *plumbing) started() {
	for _, f := range p.childEnds {
		f.Close()
	}
	for _, j := range p.out {
		p.outputs.Add(1)
		go p.copyOut(j.r, j.w)
	}
	if p.stdinW != nil {
		p.stdinDone = make(chan struct{})
		go func() {
			defer close(p.stdinDone)
			// EPIPE when the process does not read all of its input is
			// normal and not reported.
			_, _ = io.Copy(p.stdinW, p.stdin)
			p.stdinW.Close()
		}()
	}
}

// copyOut drains r into w until EOF or until r is closed. After a write
// error it keeps draining so the process never blocks on a full pipe.
func (p *plumbing) copyOut(r *os.File, w io.Writer) {
	defer p.outputs.Done()
	buf := make([]byte, 32*1024)
	failed := false
	for {
		n, err := r.Read(buf)
		if n > 0 && !failed {
			if _, werr := w.Write(buf[:n]); werr != nil {
				failed = true
				p.mu.Lock()
				if p.ioErr == nil {
					p.ioErr = fmt.Errorf("write output: %w", werr)
				}
				p.mu.Unlock()
			}
		}
		if err != nil {
			return
		}
	}
}

// finish runs once the group is gone: it waits, bounded, for the copiers
// to reach EOF, then closes everything. It returns the first write error.
func (p *plumbing) finish() error {
	// Unblock a stdin copier stuck writing to a process that stopped
	// reading.
	if p.stdinW != nil {
		p.stdinW.Close()
	}
	done := make(chan struct{})
	go func() {
		p.outputs.Wait()
		close(done)
	}()
	deadline := time.NewTimer(drainBound)
	defer deadline.Stop()
	expired := false
	select {
	case <-done:
	case <-deadline.C:
		expired = true
		// Someone outside the group holds a write end. Closing our read
		// ends makes the copiers' Read return at once.
		for _, f := range p.readers {
			f.Close()
		}
		// The copiers stop after their current Write: the caller's
		// writers must not be used by us once Run has returned.
		<-done
	}
	for _, f := range p.readers {
		f.Close()
	}
	if p.stdinDone != nil && !expired {
		// Only a Stdin whose Read blocks can keep the copier past this.
		select {
		case <-p.stdinDone:
		case <-deadline.C:
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ioErr
}
