package openhands_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line
// runs OpenHands rollouts against the real container engine with the
// stand-in image (FROM scratch, a static Go "python"), and against stand-in
// uvx / python executables for the host modes. Scripts that need the
// engine start with `[!docker] skip`: they skip when no engine answers,
// and fail instead when BENCH_REQUIRE_DOCKER is set.

import (
	"context"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent/openhands/standin"
	"github.com/perfbench/perfbench/internal/scripttest"
)

func TestMain(m *testing.M) {
	// After the tests: the stand-in's containers left by dead processes.
	scripttest.Main(m, nil, scripttest.Hooks{After: standin.Cleanup})
}

func TestScripts(t *testing.T) {
	p := scripttest.Params()
	p.Setup = func(env *testscript.Env) error {
		if err := scripttest.Setup(env); err != nil {
			return err
		}
		if err := scripttest.SetImage(env, standin.BuildNoTmux); err != nil {
			return err
		}
		// $IMAGE_NOTMUX: the stand-in without tmux, like the app image.
		env.Setenv("IMAGE_NOTMUX", env.Getenv("IMAGE"))
		return scripttest.SetImage(env, standin.Build)
	}
	p.Condition = func(cond string) (bool, error) {
		if cond != "memlimit" {
			return scripttest.Condition(cond)
		}
		if ok, err := standin.Available(); !ok || err != nil {
			return false, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ok, err := standin.Engine().MemoryLimitSupported(ctx)
		return ok && err == nil, nil
	}
	testscript.Run(t, p)
}
