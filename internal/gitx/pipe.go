package gitx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// Stage is one command of a Pipeline.
type Stage struct {
	Git  *Git
	Args []string
}

// PipelineError is a failed Pipeline. Its message is the cause: the first
// stage to fail for a reason other than its neighbour's failure (a broken
// pipe, an early EOF, or being killed after another stage failed). Unwrap
// returns every stage's error, cause first, so IsDiskFull and errors.Is see
// all of them.
type PipelineError struct {
	Errs []error
}

func (e *PipelineError) Error() string   { return e.Errs[0].Error() }
func (e *PipelineError) Unwrap() []error { return e.Errs }

// Pipeline runs stages connected stdout to stdin, like a shell pipeline:
// stdin feeds the first stage (nil: empty) and the last one writes to
// stdout (nil: discarded). When a stage fails the others are killed.
func Pipeline(ctx context.Context, stdin io.Reader, stdout io.Writer, stages ...Stage) error {
	if len(stages) == 0 {
		return errors.New("pipeline: no stages")
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	cmds := make([]*exec.Cmd, len(stages))
	stderrs := make([]*cappedBuffer, len(stages))
	var closeAfterStart []*os.File
	closeAll := func() {
		for _, f := range closeAfterStart {
			f.Close()
		}
		closeAfterStart = nil
	}
	for i, s := range stages {
		cmds[i] = s.Git.Command(ctx, s.Args...)
		stderrs[i] = &cappedBuffer{max: maxStderr}
		cmds[i].Stderr = stderrs[i]
	}
	cmds[0].Stdin = stdin
	cmds[len(cmds)-1].Stdout = stdout
	for i := 0; i < len(cmds)-1; i++ {
		// os.Pipe rather than StdoutPipe: the child writes straight into
		// the next child with no copy through this process.
		r, w, err := os.Pipe()
		if err != nil {
			closeAll()
			return fmt.Errorf("pipeline: %w", err)
		}
		cmds[i].Stdout = w
		cmds[i+1].Stdin = r
		closeAfterStart = append(closeAfterStart, r, w)
	}
	started := 0
	var startErr error
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			startErr = stages[i].Git.Check(ctx, stages[i].Args, err, "")
			break
		}
		started++
	}
	// The children hold their own copies of the pipe ends; closing ours
	// lets EOF and EPIPE propagate when a neighbour exits.
	closeAll()
	if startErr != nil {
		cancel()
		for _, c := range cmds[:started] {
			_ = c.Wait()
		}
		return startErr
	}

	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(cmds))
	for i, c := range cmds {
		go func() { results <- result{i, c.Wait()} }()
	}
	var primary, secondary []error
	for range cmds { // in order of exit
		r := <-results
		if r.err == nil {
			continue
		}
		failedBefore := len(primary)+len(secondary) > 0
		cancel() // stop the others: their errors are consequences of this one
		stderr := stderrs[r.i].buf.String()
		err := stages[r.i].Git.Check(parent, stages[r.i].Args, r.err, stderr)
		killed := err.(*GitError).ExitCode == -1
		if isPipeFailure(r.err, stderr) || failedBefore && killed {
			secondary = append(secondary, err)
		} else {
			primary = append(primary, err)
		}
	}
	errs := append(primary, secondary...)
	if len(errs) == 0 {
		return nil
	}
	return &PipelineError{Errs: errs}
}

// isPipeFailure reports a stage that died because its neighbour went away.
func isPipeFailure(err error, stderr string) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGPIPE {
			return true
		}
	}
	s := strings.ToLower(stderr)
	return strings.Contains(s, "broken pipe") || strings.Contains(s, "early eof") ||
		strings.Contains(s, "premature end of pack file") || strings.Contains(s, "unexpected end of file")
}
