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
// BuildWithShell's image adds busybox (sh and its applets in /bin, a /tmp
// anyone may write), which a gated rollout (workspace_setup) needs;
// BuildEntrypoint's adds to that an ENTRYPOINT script that, like the
// OpenHands app image's, ends in exec "$@".
//
// Tests that need the engine call Require: it skips the test when no
// engine answers, unless BENCH_REQUIRE_DOCKER is set, in which case it
// fails it (CI sets it, so container tests cannot pass by skipping).
package standin

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
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

// dockerfileShell is the image with busybox as well, whose sh the gate of
// a workspace_setup needs.
const dockerfileShell = dockerfile + `COPY rootfs/ /
ENV PATH=/usr/bin:/bin
`

// dockerfileEntrypoint is the image with a shell and an entrypoint.
const dockerfileEntrypoint = dockerfileShell + `COPY entry.sh /usr/bin/entry.sh
ENTRYPOINT ["/usr/bin/entry.sh"]
`

// entrypoint is an image's entrypoint script: it prints the argv it was
// given, leaves a mark in the environment and becomes its arguments.
const entrypoint = `#!/bin/sh
echo "entrypoint argv: $*" >&2
export STANDIN_ENTRYPOINT=ran
exec "$@"
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

// TagWithShell is the tag of the image with busybox, given busybox's
// content.
func TagWithShell(busybox []byte) string {
	return scripttest.ImageTag(Repo, source, []byte(dockerfileShell), []byte(gomod), busybox)
}

// TagEntrypoint is the tag of the image with busybox and an entrypoint.
func TagEntrypoint(busybox []byte) string {
	return scripttest.ImageTag(Repo, source, []byte(dockerfileEntrypoint), []byte(gomod), busybox, []byte(entrypoint))
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

// BuildWithShell builds the image with busybox as Build does. It needs a
// statically linked busybox (busybox-static).
func BuildWithShell() (string, error) {
	return buildShell(TagWithShell, dockerfileShell)
}

// BuildEntrypoint builds the image with busybox and an ENTRYPOINT script
// as Build does.
func BuildEntrypoint() (string, error) {
	return buildShell(TagEntrypoint, dockerfileEntrypoint)
}

func buildShell(tagOf func([]byte) string, df string) (string, error) {
	bb, err := evaltest.Busybox()
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return "", err
	}
	tag := tagOf(data)
	return tag, scripttest.BuildImage(tag, df, func(ctx context.Context, dir string) error {
		if err := buildPython(ctx, dir); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "entry.sh"), []byte(entrypoint), 0o755); err != nil {
			return err
		}
		return busyboxRoot(ctx, filepath.Join(dir, "rootfs"), bb, data)
	})
}

// busyboxRoot fills root with /bin/busybox, its applets linked to it
// (sh among them), and a /tmp anyone may write.
func busyboxRoot(ctx context.Context, root, bb string, data []byte) error {
	list, err := exec.CommandContext(ctx, bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	bin, tmp := filepath.Join(root, "bin"), filepath.Join(root, "tmp")
	for _, d := range []string{bin, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o1777); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(bin, applet)); err != nil {
			return err
		}
	}
	return nil
}

// RequireWithShell is Require for the image with busybox; it skips (or
// fails, with BENCH_REQUIRE_DOCKER) without a static busybox too.
func RequireWithShell(t testing.TB) string {
	return requireShell(t, BuildWithShell)
}

// RequireEntrypoint is RequireWithShell for the image with an entrypoint.
func RequireEntrypoint(t testing.TB) string {
	return requireShell(t, BuildEntrypoint)
}

func requireShell(t testing.TB, build func() (string, error)) string {
	t.Helper()
	RequireEngine(t)
	if ok, err := evaltest.BusyboxAvailable(); err != nil {
		t.Fatal(err)
	} else if !ok {
		t.Skip("no statically linked busybox (apt-get install busybox-static; set BENCH_REQUIRE_DOCKER=1 to fail instead)")
	}
	tag, err := build()
	if err != nil {
		t.Fatalf("building the stand-in image: %v", err)
	}
	return tag
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
