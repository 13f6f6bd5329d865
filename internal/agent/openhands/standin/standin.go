// Package standin builds, for tests, a stand-in OpenHands image: FROM
// scratch with a static Go program installed as /usr/bin/python (and as
// /usr/bin/tmux, which BuildNoTmux's image lacks) that
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
	_ "embed"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/scripttest"
)

//go:embed testdata/python/main.go
var source []byte

// Label marks every container of the stand-in image.
const Label = "perfbench.test=standin"

// dockerfile is the image: the stand-in as python and as tmux, and the
// app image's SANDBOX_LOCAL_RUNTIME_URL (containers/app/Dockerfile).
const dockerfile = dockerfileNoTmux + "COPY python /usr/bin/tmux\n"

// dockerfileNoTmux is the image without tmux, like the official app
// image's: sandbox_runtime: local fails in it.
const dockerfileNoTmux = `FROM scratch
LABEL perfbench.test=standin
COPY python /usr/bin/python
ENV PATH=/usr/bin
ENV SANDBOX_LOCAL_RUNTIME_URL=http://host.docker.internal
`

const gomod = "module standin\n\ngo 1.22\n"

// Repo is the image repository.
const Repo = "perfbench-test/openhands-standin"

// Tag is the image's full tag: the repository and a hash of the source.
func Tag() string { return scripttest.ImageTag(Repo, source, []byte(dockerfile), []byte(gomod)) }

// TagNoTmux is the tag of the image without tmux.
func TagNoTmux() string {
	return scripttest.ImageTag(Repo, source, []byte(dockerfileNoTmux), []byte(gomod))
}

// Engine is the engine tests use.
func Engine() *container.Engine { return scripttest.Engine() }

// Available reports whether a container engine answers (asked once per
// process). With BENCH_REQUIRE_DOCKER set, a missing engine is an error.
func Available() (bool, error) { return scripttest.EngineAvailable() }

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

// Build builds the image unless it exists, once per process, and returns
// its tag.
func Build() (string, error) {
	tag := Tag()
	return tag, scripttest.BuildImage(tag, dockerfile, buildPython)
}

// BuildNoTmux builds the image without tmux as Build does.
func BuildNoTmux() (string, error) {
	tag := TagNoTmux()
	return tag, scripttest.BuildImage(tag, dockerfileNoTmux, buildPython)
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

// buildPython builds the stand-in (a module of its own) for Linux as
// ctxDir/python.
func buildPython(ctx context.Context, ctxDir string) error {
	src, err := os.MkdirTemp("", "standin-src-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	for name, data := range map[string]string{"main.go": string(source), "go.mod": gomod} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return scripttest.GoBuild(ctx, src, ".", filepath.Join(ctxDir, "python"), "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off")
}

// Cleanup removes the stand-in's containers that no live process owns:
// those whose harness is gone, and those this process created itself. It
// never touches containers without the stand-in's label, nor those of
// another live test process.
func Cleanup() error { return scripttest.RemoveContainers(Label) }
