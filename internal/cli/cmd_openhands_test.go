package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with path, a testdata/<name>.golden (rewritten
// with -update).
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s mismatch (run with -update after checking):\n--- want\n%s--- got\n%s", path, want, got)
	}
}

// `bench openhands dockerfile` prints the recipe of the image that
// sandbox_runtime: local needs, FROM the entry's container_image.
func TestOpenhandsDockerfile(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	write(t, dir, "bench.yaml", `agents:
  default: claude
  claude:
    type: claude_code
  oh:
    type: openhands
    container_image: docker.all-hands.dev/all-hands-ai/openhands:0.54
  viauvx:
    type: openhands
    cli: uvx
`)
	code, out, errOut := runIn(t, dir, "openhands", "dockerfile")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, filepath.Join(wd, "testdata", "openhands_dockerfile.golden"), out)
	for _, want := range []string{"FROM docker.all-hands.dev/all-hands-ai/openhands:0.54\n", "tmux"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}

	if code, out, _ := runIn(t, dir, "openhands", "dockerfile", "--from", "oh:1"); code != 0 || !strings.Contains(out, "FROM oh:1\n") {
		t.Errorf("--from: exit %d\n%s", code, out)
	}
	for args, want := range map[string]string{
		"--agent viauvx": "agent viauvx (openhands) runs on the host (uvx mode): no image to build from",
		"--agent claude": "agent claude is of type claude_code, not openhands",
		"extra":          "usage: bench openhands dockerfile",
	} {
		code, _, errOut := runIn(t, dir, append([]string{"openhands", "dockerfile"}, strings.Fields(args)...)...)
		if code != ExitBadInput || !strings.Contains(errOut, want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", args, code, errOut, want)
		}
	}
}
