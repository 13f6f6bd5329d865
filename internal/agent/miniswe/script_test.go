package miniswe_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line runs
// mini_swe_agent rollouts against the stand-in (standin.Main, on PATH as "mini"),
// which checks its argv and writes mini's real trajectories and step lines.

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent/miniswe/standin"
	"github.com/perfbench/perfbench/internal/scripttest"
)

func TestMain(m *testing.M) {
	scripttest.Main(m, map[string]func(){
		"mini": func() { os.Exit(standin.Main(os.Args[1:])) },
	}, scripttest.Hooks{})
}

func TestScripts(t *testing.T) { testscript.Run(t, scripttest.Params()) }
