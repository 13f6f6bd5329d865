package openhands_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line
// runs OpenHands rollouts against the real container engine with the
// stand-in image (FROM scratch, a static Go "python"), and against stand-in
// uvx / python executables for the host modes. Scripts that need the
// engine start with `[!docker] skip`: they skip when no engine answers,
// and fail instead when BENCH_REQUIRE_DOCKER is set.

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent/openhands/standin"
	"github.com/perfbench/perfbench/internal/cli"
	"github.com/perfbench/perfbench/internal/container"
)

func TestMain(m *testing.M) {
	testscript.Main(&cleanupM{m}, map[string]func(){
		"bench": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := cli.Main(ctx, os.Args[1:], cli.OSEnv())
			stop()
			os.Exit(code)
		},
	})
}

// cleanupM removes the stand-in's containers left by dead processes after
// the tests.
type cleanupM struct{ m *testing.M }

func (c *cleanupM) Run() int {
	code := c.m.Run()
	if err := standin.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
	}
	return code
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
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
			// The engine bench talks to is the one the tests talk to.
			for _, k := range []string{"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_CONFIG", "CONTAINER_HOST"} {
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
			image := "unavailable"
			if ok, _ := standin.Available(); ok {
				tag, err := standin.Build()
				if err != nil {
					return err
				}
				image = tag
			}
			env.Setenv("IMAGE", image)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "docker":
				return standin.Available()
			case "memlimit":
				if ok, err := standin.Available(); !ok || err != nil {
					return false, err
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				ok, err := standin.Engine().MemoryLimitSupported(ctx)
				return ok && err == nil, nil
			case "root":
				return os.Getuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"genrepo":    cmdGenrepo,
			"containers": cmdContainers,
			"asuser":     cmdAsUser,
			"owner":      cmdOwner,
			"waitfor":    cmdWaitFor,
		},
	})
}

func git(ts *testscript.TestScript, dir string, args ...string) string {
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

// cmdGenrepo creates a repository with a base commit and one human commit
// that makes src/slow.sh faster, and commits.txt next to it.
//
//	genrepo DIR
func cmdGenrepo(ts *testscript.TestScript, neg bool, args []string) {
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
	git(ts, dir, "init", "-q", "-b", "main")
	write("src/slow.sh", "slow() { i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; echo $i; }\n")
	write("bench.sh", ". ./src/slow.sh\nslow\n")
	git(ts, dir, "add", "-A")
	git(ts, dir, "commit", "-q", "-m", "base")
	write("src/slow.sh", "slow() { echo 1000; }\n")
	git(ts, dir, "commit", "-q", "-am", "make it fast")
	sha := git(ts, dir, "rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "commits.txt"), []byte(sha+" parent=1\n"), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}

// cmdContainers checks how many containers (running or not) carry a
// label, waiting up to 10 s for the count (an --rm removal is
// asynchronous).
//
//	containers LABEL=VALUE N
func cmdContainers(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: containers LABEL=VALUE N")
	}
	want, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("%v", err)
	}
	e := standin.Engine()
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

// cmdAsUser runs the bench binary as another user (with the docker
// socket's group, as a non-root user in the docker group would), after
// giving it $WORK. The binary is copied where that user can run it.
//
//	asuser UID bench ARGS...
func cmdAsUser(ts *testscript.TestScript, neg bool, args []string) {
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
	if err := copyFile(self, bin); err != nil {
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
	cmd := exec.Command(bin, args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	for _, k := range []string{"PATH", "HOME", "WORK", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "GIT_CONFIG_NOSYSTEM", "NO_COLOR", "LLM_MODEL", "IMAGE", "DOCKER_HOST", "CONTAINER_HOST"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: groups}}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	ts.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if (err != nil) != neg {
		ts.Fatalf("asuser %d bench: %v", uid, err)
	}
	// Later commands (run as root) read what it wrote.
	if err := os.WriteFile(filepath.Join(work, "asuser.stdout"), []byte(stdout.String()), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// cmdOwner checks that every file and directory under DIR (a glob) belongs
// to UID.
//
//	owner DIR UID
func cmdOwner(ts *testscript.TestScript, neg bool, args []string) {
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

// cmdWaitFor waits until a file (a glob) contains a string (60 s).
//
//	waitfor GLOB STRING
func cmdWaitFor(ts *testscript.TestScript, neg bool, args []string) {
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
