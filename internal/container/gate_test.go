package container_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
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
// a no-sh GateError naming the image, whatever the setup said.
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
			var noSh *container.GateError
			if !errors.As(res.SetupErr, &noSh) || !noSh.NoShell() {
				t.Fatalf("setup error %v (result %+v), want a no-sh GateError\nstderr:\n%s", res.SetupErr, res, errb.String())
			}
			if noSh.Image != img || noSh.Status != 127 || !strings.Contains(noSh.Said, "sh") {
				t.Errorf("GateError %+v", noSh)
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

// A gated run in an image with sh is not a GateError, even when its
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
	var noSh *container.GateError
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

// lateSetup is a setup that starts late: it waits for the container to
// end before its exec, so that a container that ends by itself before its
// gate opened does so whether or not Run saw it running.
func lateSetup(e *container.Engine, called *atomic.Bool) func(ctx context.Context, id string) error {
	return func(ctx context.Context, id string) error {
		called.Store(true)
		_ = exec.CommandContext(ctx, e.Bin, "wait", id).Run()
		return execSetup(e, "echo set up > /tmp/m")(ctx, id)
	}
}

// A gated container that ends by itself before its gate opened, with a
// status other than 126/127, is a GateError carrying that status and the
// container's last line — never a run of the command, not even with
// status 0: an ENTRYPOINT that ignores its arguments (exit 0, exit 1), an
// sh that cannot run (exec format error, with and without an init).
func TestRunGatedEndsBeforeGate(t *testing.T) {
	shell := standin.RequireWithShell(t)
	bad := standin.RequireBadShell(t)
	e := standin.Engine()
	for _, tc := range []struct {
		name, image, entrypoint string
		init                    bool
		status                  int
		said                    string
	}{
		{name: "exit0", image: shell, entrypoint: "/bin/true", init: true, status: 0},
		{name: "exit1", image: shell, entrypoint: "/bin/false", init: true, status: 1},
		{name: "execformat-init", image: bad, init: true, status: 1, said: "Exec format error"},
		{name: "execformat-noinit", image: bad, status: 1, said: "exec format error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, _ := rollout(t, tc.image, "normal", config.Container{Network: "none"})
			spec.Init = tc.init
			spec.Gated = true
			spec.Entrypoint = tc.entrypoint
			var out, errb syncBuffer
			var called atomic.Bool
			res, err := e.Run(context.Background(), spec, container.RunOptions{
				Stdout: &out, Stderr: &errb, Timeout: time.Minute,
				Setup: lateSetup(e, &called),
			})
			if err != nil {
				t.Fatal(err)
			}
			var ge *container.GateError
			if !errors.As(res.SetupErr, &ge) {
				t.Fatalf("setup error %v (result %+v, setup called %v), want a GateError\nstderr:\n%s", res.SetupErr, res, called.Load(), errb.String())
			}
			if ge.Image != tc.image || ge.Status != tc.status || !strings.Contains(ge.Said, tc.said) {
				t.Errorf("GateError %+v, want status %d and %q", ge, tc.status, tc.said)
			}
			want := fmt.Sprintf("image %s: the container ended with status %d before the setup ran (its entrypoint must exec its arguments; the image needs a runnable sh)", tc.image, tc.status)
			if msg := ge.Error(); !strings.HasPrefix(msg, want) {
				t.Errorf("message %q, want it to start %q", msg, want)
			}
			if res.StartFailed || res.Process.Killed {
				t.Errorf("result %+v: not a start failure, not killed", res)
			}
			if strings.Contains(out.String(), "standin:") {
				t.Errorf("the command ran:\n%s", out.String())
			}
			t.Logf("setup called: %v", called.Load())
			gone(t, e, spec.Name)
		})
	}
}

// gateEngine is a docker client whose container ends by itself, with
// $FAKE_STATUS after $FAKE_SAY on stderr, before anyone saw it running
// (inspect answers false): the setup is never called.
const gateEngine = `#!/bin/sh
case "$1" in
run)
	prev=
	for a; do
		if [ "$prev" = --cidfile ]; then cid=$a; fi
		prev=$a
	done
	echo 0123abcd > "$cid"
	sleep 0.3
	if [ -n "$FAKE_SAY" ]; then echo "$FAKE_SAY" >&2; fi
	exit "$FAKE_STATUS";;
inspect) echo false;;
esac
exit 0
`

// A gated container that ends before it was seen running (so before its
// setup was even called) is a GateError too, status 0 included; one the
// engine could not start is a start failure, not a gate error.
func TestRunGatedEndsUnseen(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "docker")
	if err := os.WriteFile(bin, []byte(gateEngine), 0o755); err != nil {
		t.Fatal(err)
	}
	e := container.NewEngine(bin)
	for _, tc := range []struct {
		status      int
		say         string
		gate, start bool
	}{
		{status: 0, gate: true},
		{status: 1, say: "exec /bin/sh: exec format error", gate: true},
		{status: 125, say: "docker: Error response from daemon: bad mount.", start: true},
	} {
		var out bytes.Buffer
		var called atomic.Bool
		spec := container.Spec{Name: "perfbench-gatetest", Image: "img", Gated: true, Cmd: []string{"true"}}
		env := append(os.Environ(), fmt.Sprintf("FAKE_STATUS=%d", tc.status), "FAKE_SAY="+tc.say)
		res, err := e.Run(context.Background(), spec, container.RunOptions{
			Env: env, Stdout: &out, Stderr: &out, Timeout: time.Minute, TempDir: t.TempDir(),
			Setup: func(context.Context, string) error { called.Store(true); return nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		if called.Load() {
			t.Errorf("status %d: the setup was called", tc.status)
		}
		var ge *container.GateError
		if got := errors.As(res.SetupErr, &ge); got != tc.gate {
			t.Errorf("status %d: setup error %v, want a GateError: %v", tc.status, res.SetupErr, tc.gate)
		} else if got && (ge.Status != tc.status || ge.Said != tc.say || ge.Image != "img") {
			t.Errorf("status %d: GateError %+v", tc.status, ge)
		}
		if res.StartFailed != tc.start {
			t.Errorf("status %d: StartFailed %v, want %v (%q)", tc.status, res.StartFailed, tc.start, res.EngineError)
		}
	}
}
