package gitx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func initRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := (&Git{Dir: dir}).Run(context.Background(), "init", "-q", "--template=", "-b", "main"); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunAndGitError(t *testing.T) {
	dir := initRepo(t)
	g := &Git{Dir: dir}
	ctx := context.Background()
	out, err := g.Run(ctx, "rev-parse", "--is-inside-work-tree")
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		t.Fatalf("rev-parse = %q, %v", out, err)
	}
	_, err = g.Run(ctx, "rev-parse", "--verify", "nosuchref")
	var ge *GitError
	if !errors.As(err, &ge) {
		t.Fatalf("err = %T %v, want *GitError", err, err)
	}
	if ge.ExitCode != 128 || ge.Dir != dir || strings.Join(ge.Args, " ") != "rev-parse --verify nosuchref" {
		t.Errorf("GitError = %+v", ge)
	}
	if want := "git rev-parse --verify nosuchref: exit 128: fatal: Needed a single revision"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Error("Unwrap does not reach the *exec.ExitError")
	}
	if strings.Contains(err.Error(), "\n") {
		t.Error("Error() is not one line")
	}
}

func TestRunInputAndPipe(t *testing.T) {
	dir := initRepo(t)
	g := &Git{Dir: dir}
	ctx := context.Background()
	out, err := g.RunInput(ctx, strings.NewReader("hello\n"), "hash-object", "-w", "--stdin")
	if err != nil {
		t.Fatal(err)
	}
	sha := strings.TrimSpace(string(out))
	if sha != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("hash = %s", sha)
	}
	var buf bytes.Buffer
	if err := g.RunPipe(ctx, &buf, "cat-file", "blob", sha); err != nil || buf.String() != "hello\n" {
		t.Errorf("RunPipe = %q, %v", buf.String(), err)
	}
}

// The parent's GIT_* variables and global config must not change what git
// does.
func TestEnvironmentIsSanitized(t *testing.T) {
	dir := initRepo(t)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[user]\n\tname = Global User\n[core]\n\tabbrev = 20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("GIT_DIR", filepath.Join(t.TempDir(), "elsewhere"))
	t.Setenv("GIT_WORK_TREE", t.TempDir())
	t.Setenv("GIT_INDEX_FILE", filepath.Join(t.TempDir(), "index"))
	t.Setenv("GIT_CONFIG_PARAMETERS", "'user.name'='Param User'")
	t.Setenv("GIT_AUTHOR_NAME", "Env Author")
	t.Setenv("LANG", "de_DE.UTF-8")
	t.Setenv("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
	ctx := context.Background()
	g := &Git{Dir: dir}
	out, err := g.Run(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := filepath.EvalSymlinks(strings.TrimSpace(string(out))); got != mustEval(t, dir) {
		t.Errorf("toplevel = %s, want %s (GIT_DIR/GIT_WORK_TREE leaked)", got, dir)
	}
	if out, err := g.Run(ctx, "config", "user.name"); err == nil {
		t.Errorf("user.name = %q: global config or GIT_CONFIG_PARAMETERS was read", out)
	}
	env := strings.Join(g.Environ(), "\n")
	for _, bad := range []string{"GIT_DIR=", "GIT_WORK_TREE=", "GIT_INDEX_FILE=", "GIT_AUTHOR_NAME=", "LANG=", "GIT_CONFIG_PARAMETERS="} {
		if strings.Contains("\n"+env, "\n"+bad) {
			t.Errorf("environment keeps %s", bad)
		}
	}
	for _, good := range []string{"LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_SSH_COMMAND=ssh -o BatchMode=yes", "HOME=" + home} {
		if !strings.Contains("\n"+env+"\n", "\n"+good+"\n") {
			t.Errorf("environment lacks %s", good)
		}
	}
	// GlobalConfig reads ~/.gitconfig (for credential helpers and the like).
	gg := &Git{Dir: dir, GlobalConfig: true}
	if out, err := gg.Run(ctx, "config", "user.name"); err != nil || strings.TrimSpace(string(out)) != "Global User" {
		t.Errorf("with GlobalConfig user.name = %q, %v", out, err)
	}
	// Env is appended and wins.
	ge := &Git{Dir: dir, Env: []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=user.name", "GIT_CONFIG_VALUE_0=Mine"}}
	if out, err := ge.Run(ctx, "config", "user.name"); err != nil || strings.TrimSpace(string(out)) != "Mine" {
		t.Errorf("with Env user.name = %q, %v", out, err)
	}
}

func mustEval(t *testing.T, p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestContextCancelKillsGit(t *testing.T) {
	dir := initRepo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	// cat-file --batch waits for stdin forever; give it a stdin that never ends.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	_, err = (&Git{Dir: dir}).RunInput(ctx, r, "cat-file", "--batch")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	var ge *GitError
	if !errors.As(err, &ge) || ge.ExitCode != -1 {
		t.Errorf("err = %#v", err)
	}
}

func TestVersion(t *testing.T) {
	v, err := Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v == "" || v[0] < '1' || v[0] > '9' || !strings.Contains(v, ".") {
		t.Errorf("Version = %q", v)
	}
}

func TestIsDiskFull(t *testing.T) {
	pathErr := &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{syscall.ENOSPC, true},
		{fmt.Errorf("workspace create: %w", pathErr), true},
		{&GitError{Args: []string{"add"}, ExitCode: 128, Stderr: "error: unable to create temporary file: No space left on device\nfatal: failed"}, true},
		{fmt.Errorf("capture: %w", &GitError{ExitCode: 128, Stderr: "fatal: sha1 file 'x' write error. Out of diskspace"}), true},
		{&GitError{ExitCode: 128, Stderr: "fatal: not a git repository"}, false},
		{errors.Join(errors.New("a"), &GitError{Stderr: "No space left on device"}), true},
		{fmt.Errorf("flattened: %v", pathErr), true},
		{syscall.EIO, false},
	}
	for _, c := range cases {
		if got := IsDiskFull(c.err); got != c.want {
			t.Errorf("IsDiskFull(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestErrorLineAndRedaction(t *testing.T) {
	e := &GitError{
		Args:     []string{"clone", "--mirror", "https://user:s3cret@example.com/r.git", "/tmp/m"},
		ExitCode: 128,
		Stderr:   "Cloning into bare repository '/tmp/m'...\nremote: nope\nfatal: unable to access 'https://user:s3cret@example.com/r.git/': 403\n",
	}
	msg := e.Error()
	if strings.Contains(msg, "s3cret") || strings.Contains(msg, "user:") {
		t.Errorf("credentials in %q", msg)
	}
	if !strings.HasSuffix(msg, "exit 128: fatal: unable to access 'https://***@example.com/r.git/': 403") {
		t.Errorf("Error() = %q", msg)
	}
	e2 := &GitError{Args: []string{"status"}, ExitCode: -1, Err: context.Canceled}
	if e2.Error() != "git status: context canceled" {
		t.Errorf("Error() = %q", e2.Error())
	}
}

// A user's global config that allows every transport, or an insteadOf that
// rewrites a URL to ext::, still runs no command: the harness refuses the
// ext and fd transports on every call.
func TestCommandTransportsRefused(t *testing.T) {
	home := t.TempDir()
	marker := filepath.Join(home, "ran")
	cfg := "[protocol]\n\tallow = always\n[protocol \"ext\"]\n\tallow = always\n[protocol \"fd\"]\n\tallow = always\n" +
		"[url \"ext::sh -c touch% " + marker + "% >&2% #\"]\n\tinsteadOf = https://rewritten.invalid/\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "xdg"))
	g := &Git{GlobalConfig: true}
	for _, url := range []string{"ext::sh -c touch% " + marker, "https://rewritten.invalid/x", "fd::0"} {
		_, err := g.Run(context.Background(), "ls-remote", "--", url)
		if err == nil {
			t.Errorf("ls-remote %s succeeded", url)
		} else if !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("ls-remote %s: %v, want transport not allowed", url, err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("ls-remote %s ran the ext command", url)
		}
	}
}
