// Package scripttest holds what the end-to-end CLI scripts of the agent
// adapters share (testscript, testdata/script/*.txtar): the `bench`
// command, an isolated environment per script, a generated repository, the
// `docker` condition and commands that inspect files and containers. It is
// imported only by tests.
package scripttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/cli"
	"github.com/perfbench/perfbench/internal/container"
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

// EngineAvailable reports whether a container engine answers. With
// BENCH_REQUIRE_DOCKER set, a missing engine is an error (the script
// fails instead of skipping).
func EngineAvailable() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := Engine().ServerVersion(ctx); err != nil {
		if os.Getenv("BENCH_REQUIRE_DOCKER") != "" {
			return false, fmt.Errorf("BENCH_REQUIRE_DOCKER is set and no container engine answers: %v", err)
		}
		return false, nil
	}
	return true, nil
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
	}
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

// Genrepo creates a repository with a base commit and one human commit
// that makes src/slow.sh faster, and commits.txt next to it.
//
//	genrepo DIR
func Genrepo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: genrepo DIR")
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
	write("src/slow.sh", "slow() { echo 1000; }\n")
	Git(ts, dir, "commit", "-q", "-am", "make it fast")
	sha := Git(ts, dir, "rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "commits.txt"), []byte(sha+" parent=1\n"), 0o644); err != nil {
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
