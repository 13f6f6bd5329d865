// Package evaltest provides, for tests of evaluation in containers
// (environment.image), an image and a timing launcher, without any
// registry:
//
//   - Image builds an image FROM scratch holding busybox (a static
//     /bin/busybox, from the Debian package busybox-static, with its
//     applets linked as /bin/sh, /bin/cat, ...) and a /tmp; it is tagged
//     perfbench-test/eval-busybox:<hash of busybox and the Dockerfile>, so
//     an unchanged image is reused across runs.
//   - Launcher builds the bench command with CGO_ENABLED=0: the statically
//     linked binary that evaluation mounts into the containers (the test
//     binaries themselves are dynamically linked).
//
// Tests that need the engine call RequireEngine or Require: they skip when
// no engine answers, unless BENCH_REQUIRE_DOCKER is set, in which case
// they fail (CI sets it, so container tests cannot pass by skipping).
package evaltest

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/container"
)

// Repo is the image repository.
const Repo = "perfbench-test/eval-busybox"

// Label marks the image (and so every container started from it).
const Label = "perfbench.test=evalimage"

const dockerfile = `FROM scratch
LABEL perfbench.test=evalimage
COPY rootfs/ /
ENV PATH=/bin
`

// Engine is the engine tests use.
func Engine() *container.Engine { return container.NewEngine("docker") }

var (
	availOnce sync.Once
	avail     bool
	availErr  error
)

// Available reports whether a container engine answers. With
// BENCH_REQUIRE_DOCKER set, a missing engine is an error.
func Available() (bool, error) {
	availOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := Engine().ServerVersion(ctx)
		switch {
		case err == nil:
			avail = true
		case os.Getenv("BENCH_REQUIRE_DOCKER") != "":
			availErr = fmt.Errorf("BENCH_REQUIRE_DOCKER is set but no container engine answers: %v", err)
		}
	})
	return avail, availErr
}

// RequireEngine skips t (or fails it, with BENCH_REQUIRE_DOCKER) when no
// engine answers.
func RequireEngine(t testing.TB) {
	t.Helper()
	ok, err := Available()
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("no container engine answers (set BENCH_REQUIRE_DOCKER=1 to fail instead)")
	}
}

// BusyboxAvailable reports whether a statically linked busybox is
// installed. With BENCH_REQUIRE_DOCKER set, a missing one is an error.
func BusyboxAvailable() (bool, error) {
	if _, err := Busybox(); err != nil {
		if os.Getenv("BENCH_REQUIRE_DOCKER") != "" {
			return false, fmt.Errorf("BENCH_REQUIRE_DOCKER is set: %v", err)
		}
		return false, nil
	}
	return true, nil
}

// RequireBusybox skips or fails t as RequireEngine does, and likewise
// without a static busybox, whose path it returns: for tests that put
// busybox into images of their own.
func RequireBusybox(t testing.TB) string {
	t.Helper()
	RequireEngine(t)
	if ok, err := BusyboxAvailable(); err != nil {
		t.Fatal(err)
	} else if !ok {
		t.Skip("no statically linked busybox (apt-get install busybox-static; set BENCH_REQUIRE_DOCKER=1 to fail instead)")
	}
	busybox, err := Busybox()
	if err != nil {
		t.Fatal(err)
	}
	return busybox
}

// Require skips or fails t as RequireEngine does (and likewise without a
// static busybox), then builds the image and the launcher and returns the
// image's tag and the launcher's path.
func Require(t testing.TB) (image, launcher string) {
	t.Helper()
	image = RequireImage(t)
	launcher, err := Launcher()
	if err != nil {
		t.Fatalf("building a static launcher: %v", err)
	}
	return image, launcher
}

// RequireImage is Require without the launcher: the busybox test image's
// tag.
func RequireImage(t testing.TB) string {
	t.Helper()
	RequireBusybox(t)
	image, err := Image()
	if err != nil {
		t.Fatalf("building the test image: %v", err)
	}
	return image
}

var (
	imageOnce sync.Once
	imageTag  string
	imageErr  error
)

// Image builds the busybox image unless it exists, once per process, and
// returns its tag.
func Image() (string, error) {
	imageOnce.Do(func() { imageTag, imageErr = buildImage() })
	return imageTag, imageErr
}

// Busybox finds a statically linked busybox.
func Busybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if isStatic(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("busybox"); err == nil && isStatic(p) {
		return p, nil
	}
	return "", fmt.Errorf("no statically linked busybox found (apt-get install busybox-static)")
}

func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

func buildImage() (string, error) {
	bb, err := Busybox()
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(data)
	io.WriteString(h, dockerfile)
	tag := Repo + ":" + hex.EncodeToString(h.Sum(nil))[:12]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := Engine().InspectImage(ctx, tag); err == nil {
		return tag, nil
	}
	out, err := exec.CommandContext(ctx, bb, "--list").Output()
	if err != nil {
		return "", fmt.Errorf("busybox --list: %v", err)
	}
	dir, err := os.MkdirTemp("", "evalimage-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "rootfs", "bin")
	tmp := filepath.Join(dir, "rootfs", "tmp")
	for _, d := range []string{bin, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(tmp, 0o1777); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		return "", err
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(bin, applet)); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, Engine().Bin, "build", "-q", "-t", tag, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker build: %v\n%s", err, out)
	}
	return tag, nil
}

var (
	launcherOnce sync.Once
	launcherPath string
	launcherErr  error
)

// Launcher builds github.com/perfbench/perfbench/cmd/bench with
// CGO_ENABLED=0, once per process, and returns the binary's path. The
// binary is written to a temporary name and renamed into place under the
// system temp dir, so concurrent test processes (and containers that
// mount an earlier build) never see a half-written file.
func Launcher() (string, error) {
	launcherOnce.Do(func() { launcherPath, launcherErr = buildLauncher() })
	return launcherPath, launcherErr
}

func buildLauncher() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("perfbench-evaltest-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// One binary per checkout: test processes of other worktrees of the
	// repository (other code) on this machine must not replace ours.
	wd, _ := os.Getwd()
	sum := sha256.Sum256([]byte(wd))
	dst := filepath.Join(dir, "bench-"+hex.EncodeToString(sum[:6]))
	tmp := fmt.Sprintf("%s.%d.tmp", dst, os.Getpid())
	defer os.Remove(tmp)
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", tmp, "github.com/perfbench/perfbench/cmd/bench")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// Leftovers returns the names of containers carrying label (e.g.
// "perfbench.run=<run>"), waiting up to 10 s for them to go (an --rm
// removal is asynchronous).
func Leftovers(label string) ([]string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cs, err := Engine().List(ctx, "label="+label)
		cancel()
		if err != nil {
			return nil, err
		}
		if len(cs) == 0 || time.Now().After(deadline) {
			var names []string
			for _, c := range cs {
				names = append(names, c.Name)
			}
			return names, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}
