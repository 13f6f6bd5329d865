package trae_test

// End-to-end scripts (testdata/script/*.txtar): the bench command line
// runs TRAE rollouts with the stand-in (standin/), which TestMain builds
// once and puts on PATH as trae-cli; $STANDIN_PYTHON is the same program
// named python3 (the `<python> -m trae_agent.cli` mode).

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/scripttest"
)

func TestMain(m *testing.M) {
	scripttest.Main(m, nil, scripttest.Hooks{Before: putStandinOnPath})
}

// putStandinOnPath builds standin/ as DIR/trae-cli, puts DIR first on
// PATH and links the stand-in as DIR/py/python3 (kept off PATH: it must not
// shadow the real python3), which $TRAE_STANDIN_PYTHON names.
func putStandinOnPath() error {
	dir, err := scripttest.Standin("./standin", "trae-cli")
	if err != nil {
		return err
	}
	py := filepath.Join(dir, "py", "python3")
	if err := os.MkdirAll(filepath.Dir(py), 0o755); err != nil {
		return err
	}
	if err := os.Symlink(filepath.Join(dir, "trae-cli"), py); err != nil {
		return fmt.Errorf("linking the TRAE stand-in as python3: %w", err)
	}
	os.Setenv("PATH", dir+string(filepath.ListSeparator)+os.Getenv("PATH"))
	os.Setenv("TRAE_STANDIN_PYTHON", py)
	return nil
}

func TestScripts(t *testing.T) {
	p := scripttest.Params()
	p.Setup = func(env *testscript.Env) error {
		if err := scripttest.Setup(env); err != nil {
			return err
		}
		env.Setenv("STANDIN_PYTHON", os.Getenv("TRAE_STANDIN_PYTHON"))
		return nil
	}
	testscript.Run(t, p)
}
