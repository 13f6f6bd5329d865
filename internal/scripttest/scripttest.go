// Package scripttest holds what the end-to-end CLI scripts of the agent
// adapters share (testscript, testdata/script/*.txtar): the `bench`
// command, an isolated environment per script, a generated repository, the
// `docker` condition, commands that inspect files and containers, and the
// building of stand-in executables and images. It is imported only by
// tests.
package scripttest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/cli"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/export/atiftest"
)

// Bench is the `bench` command for testscript.Main: the real CLI, with
// SIGINT/SIGTERM cancelling its context as in cmd/bench.
func Bench() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}

// engineVars reach the scripts so that bench talks to the engine the
// tests talk to.
var engineVars = []string{"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_CONFIG", "CONTAINER_HOST"}

// Setup gives a script its own HOME (and XDG directories) under $WORK, no
// system git configuration, no colours and no $LLM_MODEL, and passes the
// container engine's variables through.
func Setup(env *testscript.Env) error {
	home := filepath.Join(env.WorkDir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	env.Setenv("HOME", home)
	env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	env.Setenv("NO_COLOR", "1")
	// The machine's /tmp is every other test's too: evaluate watches none
	// of the host's shared temporary directories here.
	env.Setenv("BENCH_WATCH_TMP", "")
	env.Setenv("LLM_MODEL", "")
	for _, k := range engineVars {
		if v, ok := os.LookupEnv(k); ok {
			env.Setenv(k, v)
		}
	}
	if _, ok := os.LookupEnv("DOCKER_CONFIG"); !ok {
		if h, err := os.UserHomeDir(); err == nil {
			if _, err := os.Stat(filepath.Join(h, ".docker")); err == nil {
				env.Setenv("DOCKER_CONFIG", filepath.Join(h, ".docker"))
			}
		}
	}
	return nil
}

// Engine is the engine the scripts use.
func Engine() *container.Engine { return container.NewEngine("docker") }

var (
	engineOnce sync.Once
	engineOK   bool
	engineErr  error
)

// EngineAvailable reports whether a container engine answers, asking it
// once per test process. With BENCH_REQUIRE_DOCKER set, a missing engine
// is an error (the script fails instead of skipping).
func EngineAvailable() (bool, error) {
	engineOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := Engine().ServerVersion(ctx)
		switch {
		case err == nil:
			engineOK = true
		case os.Getenv("BENCH_REQUIRE_DOCKER") != "":
			engineErr = fmt.Errorf("BENCH_REQUIRE_DOCKER is set and no container engine answers: %v", err)
		}
	})
	return engineOK, engineErr
}

// Condition answers `[docker]` (an engine answers) and `[root]`.
func Condition(cond string) (bool, error) {
	switch cond {
	case "docker":
		return EngineAvailable()
	case "root":
		return os.Getuid() == 0, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// Cmds are the shared script commands.
func Cmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"genrepo":    Genrepo,
		"owner":      Owner,
		"waitfor":    WaitFor,
		"containers": Containers,
		"asuser":     AsUser,
		// atifcheck DIR [MIN_STEPS]: the exported ATIF documents hold
		// to the RFC's rules.
		"atifcheck": atiftest.Cmd,
	}
}

// Params are the parameters of a package's scripts: testdata/script,
// explicit exec, Setup, Condition and Cmds. A package changes what it
// needs before testscript.Run.
func Params() testscript.Params {
	return testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               Setup,
		Condition:           Condition,
		Cmds:                Cmds(),
	}
}

// Hooks run around a package's tests (Main).
type Hooks struct {
	// Before runs before the tests; an error ends the test process
	// with status 1.
	Before func() error
	// After runs after the tests; an error is reported on stderr.
	After func() error
}

// Main is testscript.Main for a package's tests: Bench is the `bench`
// command besides cmds, h runs around the tests, and the stand-ins
// Standin built are removed after them.
func Main(m *testing.M, cmds map[string]func(), h Hooks) {
	all := map[string]func(){"bench": Bench}
	maps.Copy(all, cmds)
	testscript.Main(hookedM{m, h}, all)
}

type hookedM struct {
	m *testing.M
	h Hooks
}

func (hm hookedM) Run() int {
	defer removeStandins()
	if hm.h.Before != nil {
		if err := hm.h.Before(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	code := hm.m.Run()
	if hm.h.After != nil {
		if err := hm.h.After(); err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
	}
	return code
}

// Git runs git in dir with a fixed identity and no user configuration.
func Git(ts *testscript.TestScript, dir string, args ...string) string {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Human", "GIT_AUTHOR_EMAIL=human@example.com",
		"GIT_COMMITTER_NAME=Human", "GIT_COMMITTER_EMAIL=human@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		ts.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Genrepo creates a repository with a base commit and N human commits
// (default 1) that each make src/slow.sh faster, and commits.txt next to
// it (one item per human commit).
//
//	genrepo DIR [N]
func Genrepo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: genrepo DIR [N]")
	}
	n := 1
	if len(args) == 2 {
		var err error
		if n, err = strconv.Atoi(args[1]); err != nil || n < 1 {
			ts.Fatalf("genrepo: bad N %q", args[1])
		}
	}
	dir := ts.MkAbs(args[0])
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			ts.Fatalf("%v", err)
		}
	}
	Git(ts, dir, "init", "-q", "-b", "main")
	write("src/slow.sh", "slow() { i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; echo $i; }\n")
	write("bench.sh", ". ./src/slow.sh\nslow\n")
	Git(ts, dir, "add", "-A")
	Git(ts, dir, "commit", "-q", "-m", "base")
	var commits strings.Builder
	for i := range n {
		write("src/slow.sh", "slow() { echo 1000; }\n"+strings.Repeat("#\n", i))
		Git(ts, dir, "commit", "-q", "-am", "make it fast")
		commits.WriteString(Git(ts, dir, "rev-parse", "HEAD") + " parent=1\n")
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "commits.txt"), []byte(commits.String()), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}

// Owner checks that every file and directory under DIR (a glob) belongs
// to UID.
//
//	owner DIR UID
func Owner(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: owner DIR UID")
	}
	want, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("%v", err)
	}
	dirs, _ := filepath.Glob(ts.MkAbs(args[0]))
	if len(dirs) == 0 {
		ts.Fatalf("no match for %s", args[0])
	}
	n := 0
	for _, dir := range dirs {
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				ts.Fatalf("%v", err)
			}
			n++
			if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != want {
				ts.Fatalf("%s belongs to uid %d, want %d", p, uid, want)
			}
			return nil
		})
	}
	ts.Logf("%d entries owned by %d", n, want)
}

// WaitFor waits until a file (a glob) contains a string (60 s).
//
//	waitfor GLOB STRING
func WaitFor(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitfor GLOB STRING")
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(ts.MkAbs(args[0]))
		for _, f := range files {
			if data, err := os.ReadFile(f); err == nil && strings.Contains(string(data), args[1]) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("%s never contained %q", args[0], args[1])
}

// Containers checks how many containers (running or not) carry a label,
// waiting up to 10 s for the count (an --rm removal is asynchronous).
//
//	containers LABEL=VALUE N
func Containers(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: containers LABEL=VALUE N")
	}
	want, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("%v", err)
	}
	e := Engine()
	var cs []container.Container
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cs, err = e.List(ctx, "label="+args[0])
		cancel()
		if err != nil {
			ts.Fatalf("%v", err)
		}
		if len(cs) == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(cs) != want {
		ts.Fatalf("%d container(s) with label %s, want %d: %+v", len(cs), args[0], want, cs)
	}
}

// AsUser runs the bench binary as another user (with the docker socket's
// group, as a non-root user in the docker group would), after giving it
// $WORK. The binary is copied where that user can run it; its stdout is
// saved in $WORK/asuser.stdout.
//
//	asuser UID bench ARGS...
func AsUser(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || args[1] != "bench" {
		ts.Fatalf("usage: asuser UID bench ARGS...")
	}
	uid, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("%v", err)
	}
	work := ts.Getenv("WORK")
	// The work directory's parent is private to root.
	if err := os.Chmod(filepath.Dir(work), 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	self, err := exec.LookPath("bench")
	if err != nil {
		ts.Fatalf("%v", err)
	}
	bin := filepath.Join(work, ".bin", "bench")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	if err := agent.CopyFile(self, bin, 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	if err := filepath.Walk(work, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	}); err != nil {
		ts.Fatalf("%v", err)
	}
	groups := []uint32{uint32(uid)}
	sock := "/var/run/docker.sock"
	if h := ts.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		sock = strings.TrimPrefix(h, "unix://")
	}
	var st syscall.Stat_t
	if err := syscall.Stat(sock, &st); err == nil {
		groups = append(groups, st.Gid)
	}
	var stdout, stderr strings.Builder
	// A binary just written can be "busy" for a moment: a process forked
	// concurrently (another script) may still hold the copy's write
	// descriptor until it execs. Retry then, as the go command does.
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(bin, args[2:]...)
		cmd.Dir = ts.MkAbs(".")
		for _, k := range []string{"PATH", "HOME", "WORK", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "GIT_CONFIG_NOSYSTEM", "NO_COLOR", "LLM_MODEL", "IMAGE", "DOCKER_HOST", "CONTAINER_HOST"} {
			cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: groups}}
		stdout.Reset()
		stderr.Reset()
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err = cmd.Run()
		if !errors.Is(err, syscall.ETXTBSY) || attempt == 20 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if (err != nil) != neg {
		ts.Fatalf("asuser %d bench: %v", uid, err)
	}
	// Later commands (run as root) read what it wrote.
	if err := os.WriteFile(filepath.Join(work, "asuser.stdout"), []byte(stdout.String()), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}
