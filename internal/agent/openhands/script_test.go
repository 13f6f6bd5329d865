package openhands_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line
// runs OpenHands rollouts against the real container engine with the
// stand-in image (FROM scratch, a static Go "python"), and against stand-in
// uvx / python executables for the host modes. Scripts that need the
// engine start with `[!docker] skip`: they skip when no engine answers,
// and fail instead when BENCH_REQUIRE_DOCKER is set; those that need a
// shell in the image ($IMAGE_SH, $IMAGE_ENTRY) also `[!busybox] skip`.

import (
	"context"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent/openhands/standin"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
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
		// $IMAGE_SH: the stand-in with busybox's sh, which the gate of
		// a workspace_setup needs; $IMAGE_ENTRY: that with an
		// ENTRYPOINT script ending in exec "$@". Without a static
		// busybox they are "unavailable" (scripts skip on [!busybox]).
		env.Setenv("IMAGE_SH", "unavailable")
		env.Setenv("IMAGE_ENTRY", "unavailable")
		if ok, err := evaltest.BusyboxAvailable(); err != nil {
			return err
		} else if ok {
			for name, build := range map[string]func() (string, error){"IMAGE_SH": standin.BuildWithShell, "IMAGE_ENTRY": standin.BuildEntrypoint} {
				if err := scripttest.SetImage(env, build); err != nil {
					return err
				}
				env.Setenv(name, env.Getenv("IMAGE"))
			}
		}
		return scripttest.SetImage(env, standin.Build)
	}
	p.Condition = func(cond string) (bool, error) {
		switch cond {
		case "busybox":
			return evaltest.BusyboxAvailable()
		case "memlimit":
		default:
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
