package claudecode_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line
// runs claude_code rollouts with the stand-in (standin/, built as
// "claude" and put first on PATH) on the host, and inside a FROM scratch
// image holding the same static binary for runtime: container. Scripts
// that need the engine start with `[!docker] skip`: they skip when no
// engine answers, and fail instead when BENCH_REQUIRE_DOCKER is set.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/scripttest"
)

func TestMain(m *testing.M) {
	testscript.Main(&cleanupM{m}, map[string]func(){"bench": scripttest.Bench})
}

// cleanupM removes the stand-in binary and the stand-in image's
// containers left behind after the tests.
type cleanupM struct{ m *testing.M }

func (c *cleanupM) Run() int {
	code := c.m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if err := cleanupContainers(); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
	}
	return code
}

// The stand-in's source, for the image tag.
const standinSource = "standin/main.go"

// ImageLabel marks the stand-in image and so its containers.
const ImageLabel = "perfbench.test=claude-standin"

// ImageRepo is the stand-in image's repository.
const ImageRepo = "perfbench-test/claude-standin"

const dockerfile = `FROM scratch
LABEL perfbench.test=claude-standin
COPY claude /usr/local/bin/claude
ENV PATH=/usr/local/bin
`

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// standinDir builds the stand-in (static) as <dir>/claude, once per test
// process, and returns dir.
func standinDir() (string, error) {
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "claude-standin-")
		if binErr != nil {
			return
		}
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			goBin = "go"
		}
		cmd := exec.Command(goBin, "build", "-trimpath", "-o", filepath.Join(binDir, "claude"), "./standin")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("building the stand-in: %v\n%s", err, out)
		}
	})
	return binDir, binErr
}

// imageTag is the stand-in image's tag: the repository and a hash of the
// stand-in's source and the Dockerfile.
func imageTag() (string, error) {
	src, err := os.ReadFile(standinSource)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(src)
	h.Write([]byte(dockerfile))
	h.Write([]byte(runtime.Version()))
	return ImageRepo + ":" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

var (
	imgOnce sync.Once
	imgTag  string
	imgErr  error
)

// buildImage builds the stand-in image unless it exists, once per test
// process.
func buildImage() (string, error) {
	imgOnce.Do(func() {
		imgTag, imgErr = imageTag()
		if imgErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		eng := scripttest.Engine()
		if _, err := eng.InspectImage(ctx, imgTag); err == nil {
			return
		}
		dir, err := standinDir()
		if err != nil {
			imgErr = err
			return
		}
		ctxDir, err := os.MkdirTemp("", "claude-standin-image-")
		if err != nil {
			imgErr = err
			return
		}
		defer os.RemoveAll(ctxDir)
		if err := copyFile(filepath.Join(dir, "claude"), filepath.Join(ctxDir, "claude")); err != nil {
			imgErr = err
			return
		}
		if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			imgErr = err
			return
		}
		cmd := exec.CommandContext(ctx, eng.Bin, "build", "-q", "-t", imgTag, ctxDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			imgErr = fmt.Errorf("docker build: %v\n%s", err, out)
		}
	})
	return imgTag, imgErr
}

// cleanupContainers removes the stand-in image's containers that this
// process created or whose harness is gone; never others.
func cleanupContainers() error {
	if ok, _ := scripttest.EngineAvailable(); !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := scripttest.Engine()
	cs, err := e.List(ctx, "label="+ImageLabel)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	var ids []string
	for _, c := range cs {
		if c.Labels[container.LabelPID] == strconv.Itoa(os.Getpid()) || container.Stale(c.Labels, host) {
			ids = append(ids, c.ID)
		}
	}
	return e.Remove(ctx, ids...)
}

var scriptSeq atomic.Int64

func cmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	c := scripttest.Cmds()
	c["asuser"] = cmdAsUser
	return c
}

func TestScripts(t *testing.T) {
	dir, err := standinDir()
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			if err := scripttest.Setup(env); err != nil {
				return err
			}
			env.Setenv("PATH", dir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("UID", strconv.Itoa(os.Getuid()))
			// Root may bypass permissions on the host only with this
			// (claude_root.txtar unsets it).
			env.Setenv("IS_SANDBOX", "1")
			// Run ids unique across concurrent test processes: container
			// names derive from them, and the engine is shared.
			env.Setenv("UNIQ", fmt.Sprintf("%d-%d", os.Getpid(), scriptSeq.Add(1)))
			image := "unavailable"
			if ok, _ := scripttest.EngineAvailable(); ok {
				tag, err := buildImage()
				if err != nil {
					return err
				}
				image = tag
			}
			env.Setenv("IMAGE", image)
			return nil
		},
		Condition: scripttest.Condition,
		Cmds:      cmds(),
	})
}

// cmdAsUser runs the bench binary as another user (with the docker
// socket's group, as a non-root user in the docker group would), after
// giving it $WORK. The binary is copied where that user can run it; its
// output is saved in $WORK/asuser.stdout and asuser.stderr.
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
