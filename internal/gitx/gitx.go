// Package gitx owns how perfbench runs the git command-line tool: every call
// goes through exec.CommandContext with `-C dir`, in its own session and
// process group (so cancelling the context kills git and every helper it
// spawned, and no helper can open the controlling terminal to prompt), with
// a deterministic environment, and every failure comes back as a *GitError
// that carries git's arguments, exit status and stderr.
//
// Environment. The parent's GIT_* variables (GIT_DIR, GIT_WORK_TREE,
// GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY, GIT_CONFIG_PARAMETERS,
// GIT_DEFAULT_HASH, GIT_AUTHOR_*, GIT_TRACE*, ...) and the locale are
// dropped; only the variables that tell git how to reach and authenticate to
// a remote (GIT_SSH*, GIT_ASKPASS, GIT_SSL_*, GIT_PROXY_*, ...) are kept.
// LC_ALL=C, GIT_TERMINAL_PROMPT=0, GIT_CONFIG_NOSYSTEM=1 and
// GIT_NO_REPLACE_OBJECTS=1 are always set.
//
// Global config. By default GIT_CONFIG_GLOBAL=/dev/null, so nothing in the
// user's ~/.gitconfig (core.autocrlf, core.hooksPath, diff.external,
// init.defaultBranch, commit.gpgSign, filters, ...) changes what a command
// does. Commands that talk to a remote (clone and fetch of a mirror) set
// Git.GlobalConfig, so the credential helpers, url.<base>.insteadOf rewrites
// and http/ssh settings a user relies on to reach private repositories keep
// working; the repositories those commands write pin the settings that matter
// to perfbench in their local config, which takes precedence. The ext and fd
// transports are refused on every call (-c protocol.<name>.allow=never).
package gitx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// GitError is a failed git command.
type GitError struct {
	Args []string // arguments after "git" (without -C)
	Dir  string   // the -C directory, "" for none
	// ExitCode is git's exit status, or -1 when git did not exit by itself
	// (it could not start, was killed by a signal or the context ended).
	ExitCode int
	Stderr   string // git's stderr (truncated to its first 64 KiB)
	// Err is the underlying error: an *exec.ExitError, the start error, or
	// the context's error when the context ended the command.
	Err error
}

// Error is one line: `git <args>: exit N: <first fatal:/error: line of stderr>`.
// Credentials embedded in URLs are redacted.
func (e *GitError) Error() string {
	var b strings.Builder
	b.WriteString("git ")
	b.WriteString(Redact(strings.Join(e.Args, " ")))
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, ": exit %d", e.ExitCode)
	} else if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if line := firstErrorLine(e.Stderr); line != "" {
		b.WriteString(": ")
		b.WriteString(Redact(line))
	}
	return b.String()
}

// Unwrap returns the underlying error, so errors.Is(err, context.Canceled)
// and errors.As(err, **exec.ExitError) work.
func (e *GitError) Unwrap() error { return e.Err }

// firstErrorLine picks the line that explains the failure: git often prints
// progress or hints ("Cloning into ...") before the "fatal:" line, so the
// first fatal:/error: line wins over the first non-empty one.
func firstErrorLine(stderr string) string {
	first := ""
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "fatal:") || strings.HasPrefix(line, "error:") {
			return line
		}
		if first == "" {
			first = line
		}
	}
	return first
}

var userinfoRE = regexp.MustCompile(`(://)[^/@\s]+@`)

// Redact hides the user-info part of URLs (https://user:token@host/...) in s.
func Redact(s string) string {
	return userinfoRE.ReplaceAllString(s, "${1}***@")
}

// Git runs git commands in one directory.
type Git struct {
	// Dir is passed as `git -C Dir`; empty means the current directory.
	Dir string
	// Env is appended to the sanitized base environment; a later entry wins
	// over an earlier one with the same key.
	Env []string
	// GlobalConfig lets git read the user's global config. Set it only for
	// commands that talk to a remote; see the package comment.
	GlobalConfig bool
}

// keepEnv lists the GIT_* variables inherited from the parent: they only
// say how to reach and authenticate to a remote, never what a command does
// to a repository.
var keepEnv = map[string]bool{
	"GIT_SSH":                         true,
	"GIT_SSH_COMMAND":                 true,
	"GIT_SSH_VARIANT":                 true,
	"GIT_ASKPASS":                     true,
	"GIT_SSL_CAINFO":                  true,
	"GIT_SSL_CAPATH":                  true,
	"GIT_SSL_CERT":                    true,
	"GIT_SSL_KEY":                     true,
	"GIT_SSL_CERT_PASSWORD_PROTECTED": true,
	"GIT_SSL_NO_VERIFY":               true,
	"GIT_SSL_VERSION":                 true,
	"GIT_SSL_CIPHER_LIST":             true,
	"GIT_PROXY_COMMAND":               true,
	"GIT_PROXY_SSL_CERT":              true,
	"GIT_PROXY_SSL_KEY":               true,
	"GIT_PROXY_SSL_CAINFO":            true,
	"GIT_HTTP_PROXY_AUTHMETHOD":       true,
	"GIT_HTTP_USER_AGENT":             true,
	"GIT_HTTP_LOW_SPEED_LIMIT":        true,
	"GIT_HTTP_LOW_SPEED_TIME":         true,
}

// Environ returns the environment git runs with: the sanitized base, then
// g.Env.
func (g *Git) Environ() []string {
	base := os.Environ()
	env := make([]string, 0, len(base)+8+len(g.Env))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "GIT_") && !keepEnv[k]:
			continue
		case k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_"):
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"LC_ALL=C",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_NO_REPLACE_OBJECTS=1",
	)
	if !g.GlobalConfig {
		env = append(env, "GIT_CONFIG_GLOBAL=/dev/null")
	}
	return append(env, g.Env...)
}

// noCommandTransports refuses, on every call, the transports that run a
// command or use inherited file descriptors, whatever a repository's URL, a
// url.<base>.insteadOf rewrite or the user's config says: a command-line -c
// wins over every config file.
var noCommandTransports = []string{"-c", "protocol.ext.allow=never", "-c", "protocol.fd.allow=never"}

// waitDelay bounds how long Wait waits for I/O after git exits or is
// killed, in case a grandchild escaped the process group and holds a pipe.
const waitDelay = 10 * time.Second

// Command returns an unstarted git command with the environment, -C dir and
// process-group handling of g. Callers set Stdin/Stdout/Stderr; use Check
// to turn its Wait/Run error into a *GitError.
func (g *Git) Command(ctx context.Context, args ...string) *exec.Cmd {
	full := make([]string, 0, len(args)+len(noCommandTransports)+2)
	if g.Dir != "" {
		full = append(full, "-C", g.Dir)
	}
	full = append(full, noCommandTransports...)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = g.Environ()
	// A new session: no controlling terminal (ssh cannot prompt), and the
	// group id is git's pid, so cancelling kills helpers (remote-https,
	// ssh, upload-pack, pack-objects) together with git.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return cmd.Process.Kill()
	}
	cmd.WaitDelay = waitDelay
	return cmd
}

// maxStderr caps the stderr kept in a GitError.
const maxStderr = 64 << 10

type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		if len(p) > room {
			c.buf.Write(p[:room])
		} else {
			c.buf.Write(p)
		}
	}
	return len(p), nil
}

// Run runs git and returns its stdout. Stdin is empty.
func (g *Git) Run(ctx context.Context, args ...string) ([]byte, error) {
	return g.RunInput(ctx, nil, args...)
}

// RunInput runs git with stdin and returns its stdout.
func (g *Git) RunInput(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	var out bytes.Buffer
	err := g.run(ctx, stdin, &out, args)
	return out.Bytes(), err
}

// RunPipe runs git and streams its stdout to stdout.
func (g *Git) RunPipe(ctx context.Context, stdout io.Writer, args ...string) error {
	return g.run(ctx, nil, stdout, args)
}

func (g *Git) run(ctx context.Context, stdin io.Reader, stdout io.Writer, args []string) error {
	cmd := g.Command(ctx, args...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	stderr := &cappedBuffer{max: maxStderr}
	cmd.Stderr = stderr
	return g.Check(ctx, args, cmd.Run(), stderr.buf.String())
}

// Check converts the error of a finished command started from Command into
// a *GitError (nil stays nil).
func (g *Git) Check(ctx context.Context, args []string, err error, stderr string) error {
	if err == nil {
		return nil
	}
	ge := &GitError{Args: args, Dir: g.Dir, ExitCode: -1, Stderr: stderr, Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ge.ExitCode = ee.ExitCode()
	}
	// A command killed because the context ended reports "signal: killed";
	// the context's error is the useful cause.
	if cerr := ctx.Err(); cerr != nil && ge.ExitCode == -1 {
		ge.Err = cerr
	}
	return ge
}

// Version returns the version of the git on PATH, e.g. "2.39.5".
func Version(ctx context.Context) (string, error) {
	out, err := (&Git{}).Run(ctx, "version")
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(out))
	v = strings.TrimPrefix(v, "git version ")
	return v, nil
}

// IsDiskFull reports whether err was caused by a full disk: ENOSPC (or
// EDQUOT) anywhere in its chain, a git stderr saying "No space left on
// device" (or "Out of diskspace"), or that text in a message whose chain
// was lost to %v.
func IsDiskFull(err error) bool {
	found := false
	walk(err, func(e error) bool {
		if errno, ok := e.(syscall.Errno); ok && (errno == syscall.ENOSPC || errno == syscall.EDQUOT) {
			found = true
		}
		if ge, ok := e.(*GitError); ok && diskFullText(ge.Stderr) {
			found = true
		}
		return !found
	})
	return found || (err != nil && diskFullText(err.Error()))
}

func diskFullText(s string) bool {
	s = strings.ToLower(s)
	// "Out of diskspace" is how git's checksummed-file writer (packs,
	// indexes) reports a short write.
	return strings.Contains(s, "no space left on device") || strings.Contains(s, "out of diskspace") ||
		strings.Contains(s, "disk quota exceeded")
}

// walk calls f on err and every error it wraps (both Unwrap forms) until f
// returns false.
func walk(err error, f func(error) bool) bool {
	for err != nil {
		if !f(err) {
			return false
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if !walk(e, f) {
					return false
				}
			}
			return true
		default:
			return true
		}
	}
	return true
}
