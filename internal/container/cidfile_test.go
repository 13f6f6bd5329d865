package container_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/container"
)

// fakeEngine is a docker client that records what `run` finds in the
// directory of its --cidfile and in $TMPDIR, writes an id there and exits;
// every other command succeeds silently.
const fakeEngine = `#!/bin/sh
if [ "$1" = run ]; then
	prev=
	for a; do
		if [ "$prev" = --cidfile ]; then cid=$a; fi
		prev=$a
	done
	echo "cid dir: $(dirname "$cid")"
	echo "tmpdir: $(ls -A "$TMPDIR")"
	echo 0123abcd > "$cid"
fi
exit 0
`

// The cid file lives in RunOptions.TempDir (the rollout's private
// directory), not in the system temp dir, and is gone after Run.
func TestRunCIDFileInTempDir(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "docker")
	if err := os.WriteFile(bin, []byte(fakeEngine), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, priv := t.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := container.NewEngine(bin)
	var out bytes.Buffer
	spec := container.Spec{Name: "perfbench-cidtest", Image: "img", Cmd: []string{"true"}}
	res, err := e.Run(context.Background(), spec, container.RunOptions{
		Env: os.Environ(), Stdout: &out, Stderr: &out, Timeout: time.Minute, TempDir: priv,
	})
	if err != nil || res.Process.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v\n%s", res, err, out.String())
	}
	if got := out.String(); !strings.Contains(got, "cid dir: "+priv+"\n") || !strings.Contains(got, "tmpdir: \n") {
		t.Errorf("cid file not in TempDir, or something in TMPDIR:\n%s", got)
	}
	for _, d := range []string{tmp, priv} {
		if ents, _ := os.ReadDir(d); len(ents) > 0 {
			t.Errorf("%s holds %v after Run", d, ents)
		}
	}
}
