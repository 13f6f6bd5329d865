package container_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent/openhands/standin"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
)

// execSetup is a gated run's setup: one `docker exec` into the container.
func execSetup(e *container.Engine, script string) func(ctx context.Context, id string) error {
	return func(ctx context.Context, id string) error {
		out, err := exec.CommandContext(ctx, e.Bin, "exec", id, "sh", "-c", script).CombinedOutput()
		if err != nil {
			return errors.New(strings.TrimSpace(string(out)))
		}
		return nil
	}
}

// A gated run in an image without sh: the gate cannot run, with an init
// (tini fails to exec sh, so the setup's exec finds the container gone)
// or without one (the engine cannot start sh). Either way the result is
// a NoShellError naming the image, whatever the setup said.
func TestRunGatedNoShell(t *testing.T) {
	img := standin.Require(t)
	e := standin.Engine()
	for _, init := range []bool{true, false} {
		name := "init"
		if !init {
			name = "noinit"
		}
		t.Run(name, func(t *testing.T) {
			spec, _ := rollout(t, img, "normal", config.Container{Network: "none"})
			spec.Init = init
			spec.Gated = true
			var out, errb syncBuffer
			res, err := e.Run(context.Background(), spec, container.RunOptions{
				Stdout: &out, Stderr: &errb, Timeout: time.Minute,
				Setup: execSetup(e, "echo set up > /tmp/m"),
			})
			if err != nil {
				t.Fatal(err)
			}
			var noSh *container.NoShellError
			if !errors.As(res.SetupErr, &noSh) {
				t.Fatalf("setup error %v (result %+v), want a NoShellError\nstderr:\n%s", res.SetupErr, res, errb.String())
			}
			if noSh.Image != img || noSh.Status != 127 || !strings.Contains(noSh.Said, "sh") {
				t.Errorf("NoShellError %+v", noSh)
			}
			if msg := noSh.Error(); !strings.Contains(msg, "image "+img+" has no sh to run the gate") {
				t.Errorf("message %q", msg)
			}
			if strings.Contains(out.String(), "standin:") {
				t.Errorf("the command ran:\n%s", out.String())
			}
			gone(t, e, spec.Name)
		})
	}
}

// A gated run in an image with sh is not a NoShellError, even when its
// setup fails; its command runs after a setup that passed and sees what
// the setup left in the container.
func TestRunGatedWithShell(t *testing.T) {
	img := standin.RequireWithShell(t)
	e := standin.Engine()
	spec, _ := rollout(t, img, "normal", config.Container{Network: "none"})
	spec.Gated = true
	spec.Env = append(spec.Env, container.EnvVar{Name: "STANDIN_SHOW", Value: "/tmp/m"})
	var out, errb syncBuffer
	res, err := e.Run(context.Background(), spec, container.RunOptions{
		Stdout: &out, Stderr: &errb, Timeout: time.Minute,
		Setup: execSetup(e, "echo set-up > /tmp/m"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.SetupErr != nil || res.Process.ExitCode != 0 {
		t.Fatalf("result %+v\nstderr:\n%s", res, errb.String())
	}
	if !strings.Contains(out.String(), "show /tmp/m: set-up\n") {
		t.Errorf("the command did not see the setup's file:\n%s", out.String())
	}

	spec, _ = rollout(t, img, "normal", config.Container{Network: "none"})
	spec.Gated = true
	res, err = e.Run(context.Background(), spec, container.RunOptions{
		Stdout: &out, Stderr: &errb, Timeout: time.Minute,
		Setup: execSetup(e, "exit 3"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var noSh *container.NoShellError
	if res.SetupErr == nil || errors.As(res.SetupErr, &noSh) {
		t.Errorf("failing setup: %v, want its own error", res.SetupErr)
	}
	gone(t, e, spec.Name)
}

// An image's ENTRYPOINT gets the gate's command (sh -c ... perfbench-gate
// CMD...) where it gets CMD without a gate; ending in exec "$@", it runs
// either, and the gated command starts after the setup.
func TestRunGatedEntrypoint(t *testing.T) {
	img := standin.RequireEntrypoint(t)
	e := standin.Engine()
	for _, gated := range []bool{true, false} {
		spec, _ := rollout(t, img, "normal", config.Container{Network: "none"})
		spec.Env = append(spec.Env, container.EnvVar{Name: "STANDIN_SHOW", Value: "/tmp/m"})
		opts := container.RunOptions{Timeout: time.Minute}
		var out, errb syncBuffer
		opts.Stdout, opts.Stderr = &out, &errb
		want := "entrypoint argv: " + strings.Join(spec.Cmd, " ") + "\n"
		seen := "show /tmp/m: absent\n"
		if gated {
			spec.Gated = true
			opts.Setup = execSetup(e, "echo set-up > /tmp/m")
			want = "entrypoint argv: " + strings.Join(container.GateArgv, " ") + " " + strings.Join(spec.Cmd, " ") + "\n"
			seen = "show /tmp/m: set-up\n"
		}
		res, err := e.Run(context.Background(), spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.SetupErr != nil || res.Process.ExitCode != 0 {
			t.Fatalf("gated %v: result %+v\nstderr:\n%s", gated, res, errb.String())
		}
		if !strings.Contains(errb.String(), want) {
			t.Errorf("gated %v: want %q in stderr:\n%s", gated, want, errb.String())
		}
		if !strings.Contains(out.String(), seen) || !strings.Contains(out.String(), ",STANDIN_ENTRYPOINT,") {
			t.Errorf("gated %v: want %q and the entrypoint's variable in stdout:\n%s", gated, seen, out.String())
		}
		gone(t, e, spec.Name)
	}
}
