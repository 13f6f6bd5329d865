package claudecode_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line
// runs claude_code rollouts with the stand-in (standin/, built as
// "claude" and put first on PATH) on the host, and inside a FROM scratch
// image holding the same static binary for runtime: container. Scripts
// that need the engine start with `[!docker] skip`: they skip when no
// engine answers, and fail instead when BENCH_REQUIRE_DOCKER is set.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/scripttest"
)

func TestMain(m *testing.M) {
	scripttest.Main(m, nil, scripttest.Hooks{After: func() error {
		// The stand-in image's containers left behind.
		return scripttest.RemoveContainers(ImageLabel)
	}})
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

// standinDir builds the stand-in (static) as <dir>/claude, once per test
// process, and returns dir.
func standinDir() (string, error) { return scripttest.Standin("./standin", "claude") }

// buildImage builds the stand-in image unless it exists, once per test
// process, and returns its tag: the repository and a hash of the stand-in's
// source and the Dockerfile.
func buildImage() (string, error) {
	src, err := os.ReadFile(standinSource)
	if err != nil {
		return "", err
	}
	tag := scripttest.ImageTag(ImageRepo, src, []byte(dockerfile), []byte(runtime.Version()))
	return tag, scripttest.BuildImage(tag, dockerfile, func(_ context.Context, ctxDir string) error {
		dir, err := standinDir()
		if err != nil {
			return err
		}
		return agent.CopyFile(filepath.Join(dir, "claude"), filepath.Join(ctxDir, "claude"), 0o755)
	})
}

var scriptSeq atomic.Int64

func TestScripts(t *testing.T) {
	dir, err := standinDir()
	if err != nil {
		t.Fatal(err)
	}
	p := scripttest.Params()
	p.Setup = func(env *testscript.Env) error {
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
		return scripttest.SetImage(env, buildImage)
	}
	testscript.Run(t, p)
}
