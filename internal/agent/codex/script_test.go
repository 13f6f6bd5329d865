package codex_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line
// runs Codex rollouts whose codex is the stand-in (package standin): the
// test binary, on PATH under the name codex.

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent/codex/standin"
	"github.com/perfbench/perfbench/internal/scripttest"
)

func TestMain(m *testing.M) {
	scripttest.Main(m, map[string]func(){standin.Name: standin.Main}, scripttest.Hooks{})
}

func TestScripts(t *testing.T) { testscript.Run(t, scripttest.Params()) }
