package scripttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/container"
)

// GoBuild builds the main package pkg (relative to dir, "" for the current
// directory) as the static executable out, with the Go toolchain that runs
// the tests. env is added to the build's environment (GOOS=linux for an
// image, say).
func GoBuild(ctx context.Context, dir, pkg, out string, env ...string) error {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local"), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

type standinBuild struct {
	once sync.Once
	dir  string
	err  error
}

var (
	standinsMu sync.Mutex
	standins   = map[string]*standinBuild{}
)

// Standin builds the stand-in's main package pkg (such as "./standin") as
// the executable DIR/name, once per test process, and returns DIR: a
// temporary directory of its own, which Main removes after the tests.
func Standin(pkg, name string) (string, error) {
	standinsMu.Lock()
	b := standins[pkg+"\x00"+name]
	if b == nil {
		b = &standinBuild{}
		standins[pkg+"\x00"+name] = b
	}
	standinsMu.Unlock()
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", name+"-standin-"); b.err != nil {
			return
		}
		if b.err = GoBuild(context.Background(), "", pkg, filepath.Join(b.dir, name)); b.err != nil {
			b.err = fmt.Errorf("building the %s stand-in: %w", name, b.err)
		}
	})
	return b.dir, b.err
}

func removeStandins() {
	standinsMu.Lock()
	defer standinsMu.Unlock()
	for _, b := range standins {
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	}
}

// ImageTag is a stand-in image's tag: the repository and a hash of parts
// (its sources and Dockerfile), so that a changed stand-in gets a new
// image and an unchanged one is reused across test runs.
func ImageTag(repo string, parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return repo + ":" + hex.EncodeToString(h.Sum(nil))[:12]
}

type imageBuild struct {
	once sync.Once
	err  error
}

var (
	imagesMu sync.Mutex
	images   = map[string]*imageBuild{}
)

// BuildImage builds the image tag, once per test process and only when the
// engine does not have it, from a build context holding dockerfile (as
// Dockerfile) and what fill puts into the context directory (a stand-in
// built with GoBuild, say). The whole build has five minutes.
func BuildImage(tag, dockerfile string, fill func(ctx context.Context, dir string) error) error {
	imagesMu.Lock()
	b := images[tag]
	if b == nil {
		b = &imageBuild{}
		images[tag] = b
	}
	imagesMu.Unlock()
	b.once.Do(func() { b.err = buildImage(tag, dockerfile, fill) })
	return b.err
}

func buildImage(tag, dockerfile string, fill func(ctx context.Context, dir string) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eng := Engine()
	if _, err := eng.InspectImage(ctx, tag); err == nil {
		return nil
	}
	dir, err := os.MkdirTemp("", "standin-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	if err := fill(ctx, dir); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, eng.Bin, "build", "-q", "-t", tag, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, out)
	}
	return nil
}

// SetImage sets $IMAGE to the stand-in image build returns (building it
// if need be) when an engine answers, else to "unavailable" (the scripts
// that need it skip on [!docker]).
func SetImage(env *testscript.Env, build func() (string, error)) error {
	image := "unavailable"
	if ok, _ := EngineAvailable(); ok {
		tag, err := build()
		if err != nil {
			return err
		}
		image = tag
	}
	env.Setenv("IMAGE", image)
	return nil
}

// RemoveContainers removes the containers with label (a stand-in image's)
// that no live process owns: those this process created and those whose
// harness is gone. It never touches containers without the label, nor
// those of another live test process.
func RemoveContainers(label string) error {
	if ok, _ := EngineAvailable(); !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := Engine()
	cs, err := e.List(ctx, "label="+label)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	var ids []string
	for _, c := range cs {
		if c.Labels[container.LabelPID] == strconv.Itoa(os.Getpid()) || container.Stale(c.Labels, host) {
			ids = append(ids, c.ID)
		}
	}
	return e.Remove(ctx, ids...)
}
