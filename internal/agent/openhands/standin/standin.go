// Package standin builds, for tests, a stand-in OpenHands image: FROM
// scratch with a static Go program installed as /usr/bin/python that
// accepts `-m openhands.core.main` and the headless flags (see
// testdata/python/main.go for its modes). No registry is needed. The image
// is built at most once per test process and tagged
// perfbench-test/openhands-standin:<hash of its source>, so an unchanged
// stand-in is reused across runs; its containers carry the label
// perfbench.test=standin (from the image), which Cleanup uses.
//
// Tests that need the engine call Require: it skips the test when no
// engine answers, unless BENCH_REQUIRE_DOCKER is set, in which case it
// fails it (CI sets it, so container tests cannot pass by skipping).
package standin

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/container"
)

//go:embed testdata/python/main.go
var source []byte

// Label marks every container of the stand-in image.
const Label = "perfbench.test=standin"

const dockerfile = `FROM scratch
LABEL perfbench.test=standin
COPY python /usr/bin/python
ENV PATH=/usr/bin
`

const gomod = "module standin\n\ngo 1.22\n"

// Repo is the image repository.
const Repo = "perfbench-test/openhands-standin"

// Tag is the image's full tag: the repository and a hash of the source.
func Tag() string {
	h := sha256.New()
	h.Write(source)
	h.Write([]byte(dockerfile))
	h.Write([]byte(gomod))
	return Repo + ":" + hex.EncodeToString(h.Sum(nil))[:12]
}

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

var (
	buildOnce sync.Once
	buildErr  error
)

// Build builds the image unless it exists, once per process, and returns
// its tag.
func Build() (string, error) {
	buildOnce.Do(func() { buildErr = build(Tag()) })
	return Tag(), buildErr
}

// Require skips or fails t as RequireEngine does, builds the image and
// returns its tag.
func Require(t testing.TB) string {
	t.Helper()
	RequireEngine(t)
	tag, err := Build()
	if err != nil {
		t.Fatalf("building the stand-in image: %v", err)
	}
	return tag
}

func build(tag string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := Engine().InspectImage(ctx, tag); err == nil {
		return nil
	}
	dir, err := os.MkdirTemp("", "standin-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	for name, data := range map[string]string{"main.go": string(source), "go.mod": gomod} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	ctxDir := filepath.Join(dir, "context")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", filepath.Join(ctxDir, "python"), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	cmd = exec.CommandContext(ctx, Engine().Bin, "build", "-q", "-t", tag, ctxDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, out)
	}
	return nil
}

// Cleanup removes the stand-in's containers that no live process owns:
// those whose harness is gone, and those this process created itself. It
// never touches containers without the stand-in's label, nor those of
// another live test process.
func Cleanup() error {
	if ok, _ := Available(); !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := Engine()
	cs, err := e.List(ctx, "label="+Label)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	var ids []string
	for _, c := range cs {
		if c.Labels[container.LabelPID] == fmt.Sprint(os.Getpid()) || container.Stale(c.Labels, host) {
			ids = append(ids, c.ID)
		}
	}
	return e.Remove(ctx, ids...)
}
