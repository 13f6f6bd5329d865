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
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent/openhands/standin"
	"github.com/perfbench/perfbench/internal/scripttest"
)

func TestMain(m *testing.M) {
	testscript.Main(&cleanupM{m}, map[string]func(){"bench": scripttest.Bench})
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

func cmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	c := scripttest.Cmds()
	c["asuser"] = cmdAsUser
	return c
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			if err := scripttest.Setup(env); err != nil {
				return err
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
		Cmds: cmds(),
	})
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
