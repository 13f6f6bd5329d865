package aider_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line runs
// aider rollouts against the stand-in (standin.Main, on PATH as "aider"),
// which checks its argv and prints aider's real output formats.

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/agent/aider/standin"
	"github.com/perfbench/perfbench/internal/scripttest"
)

func TestMain(m *testing.M) {
	scripttest.Main(m, map[string]func(){
		"aider": func() { os.Exit(standin.Main(os.Args[1:])) },
	}, scripttest.Hooks{})
}

func TestScripts(t *testing.T) { testscript.Run(t, scripttest.Params()) }
