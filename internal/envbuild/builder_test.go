package envbuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/container"
)

// The tar on stdin only for the legacy builder: DOCKER_BUILDKIT decides
// when it is a boolean, else an installed buildx means BuildKit.
func TestBuildKitDecision(t *testing.T) {
	for _, tc := range []struct {
		val         string
		set, buildx bool
		want        bool
	}{
		{"1", true, false, true},
		{"true", true, false, true},
		{"TRUE", true, false, true},
		{"0", true, true, false},
		{"false", true, true, false},
		{"", false, true, true},
		{"", false, false, false},
		{"", true, true, true}, // empty is unset, as the client reads it
		{"", true, false, false},
		{"maybe", true, false, true}, // the client refuses it: no tar
	} {
		asked := false
		got := buildKit(tc.val, tc.set, func() bool { asked = true; return tc.buildx })
		if got != tc.want {
			t.Errorf("DOCKER_BUILDKIT=%q (set %t), buildx %t: BuildKit %t, want %t", tc.val, tc.set, tc.buildx, got, tc.want)
		}
		if boolean := tc.val == "0" || tc.val == "false" || tc.val == "1" || strings.EqualFold(tc.val, "true"); boolean && asked {
			t.Errorf("DOCKER_BUILDKIT=%q: buildx probed", tc.val)
		}
	}
}

// fakeDocker is a client whose `buildx version` exits with code and
// counts its calls in a file.
func fakeDocker(t *testing.T, code string) (bin, calls string) {
	dir := t.TempDir()
	bin, calls = filepath.Join(dir, "docker"), filepath.Join(dir, "calls")
	script := "#!/bin/sh\n[ \"$1 $2\" = \"buildx version\" ] || exit 9\necho x >> " + calls + "\nexit " + code + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, calls
}

func probeCalls(t *testing.T, calls string) int {
	b, err := os.ReadFile(calls)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// The decision reads the engine's environment, not only the process's,
// and probes buildx once per client and environment.
func TestDirectoryBuildProbe(t *testing.T) {
	ctx := context.Background()
	withBuildx, calls := fakeDocker(t, "0")
	env := []string{"PATH=/usr/bin:/bin", "DOCKER_BUILDKIT=0"}
	t.Setenv("DOCKER_BUILDKIT", "1") // the process's: not the engine's
	if directoryBuild(ctx, &container.Engine{Bin: withBuildx, Env: env}) {
		t.Error("DOCKER_BUILDKIT=0 in the engine's environment: directory build")
	}
	if n := probeCalls(t, calls); n != 0 {
		t.Errorf("buildx probed %d times with DOCKER_BUILDKIT=0", n)
	}
	env = []string{"PATH=/usr/bin:/bin", "DOCKER_BUILDKIT=1", "DOCKER_BUILDKIT="} // the last one counts
	for range 3 {
		if !directoryBuild(ctx, &container.Engine{Bin: withBuildx, Env: env}) {
			t.Error("buildx installed: the tar path")
		}
	}
	if n := probeCalls(t, calls); n != 1 {
		t.Errorf("buildx probed %d times, want 1 (cached)", n)
	}
	without, calls := fakeDocker(t, "1")
	if directoryBuild(ctx, &container.Engine{Bin: without, Env: []string{"PATH=/usr/bin:/bin"}}) {
		t.Error("no buildx, DOCKER_BUILDKIT unset: directory build")
	}
	if !directoryBuild(ctx, &container.Engine{Bin: without, Env: []string{"DOCKER_BUILDKIT=true"}}) {
		t.Error("DOCKER_BUILDKIT=true: the tar path")
	}
	if n := probeCalls(t, calls); n != 1 {
		t.Errorf("buildx probed %d times, want 1", n)
	}
	// Engine.Env nil is this process's environment.
	if !directoryBuild(ctx, &container.Engine{Bin: without}) {
		t.Error("DOCKER_BUILDKIT=1 in the process's environment: the tar path")
	}
	if !directoryBuild(ctx, &container.Engine{Bin: "podman"}) {
		t.Error("podman: the tar path")
	}
}
