package openhands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/textx"
)

// LocalDockerfile is the recipe of `bench openhands dockerfile`: an image
// built FROM the configured container_image with what sandbox_runtime:
// local needs there. OpenHands' local runtime runs its action server in
// the same container, and the app image's final stage (python:3.12-slim
// with curl, ssh and sudo) lacks what that server uses:
//
//   - tmux: the bash tool drives a tmux session through libtmux
//     (openhands/runtime/utils/bash.py), and LocalRuntime's dependency
//     check starts one before anything runs;
//   - git: the agent works in a git repository (git status, git diff);
//   - /app readable by every user: perfbench runs the container as the
//     invoking uid, and the image keeps /app at mode 0770 for its group.
//
// The browser the runtime would also check for is not installed:
// perfbench turns browsing off (ENABLE_BROWSER=false) unless an entry
// sets allow_browsing: true, and such an entry needs a browser in the
// image (e.g. `playwright install chromium`) or sandbox_runtime: docker.
func LocalDockerfile(image string) string {
	return `# OpenHands for perfbench's sandbox_runtime: local (printed by
# ` + "`bench openhands dockerfile`" + `). Build it without a context and point
# container_image at the result:
#
#   bench openhands dockerfile | docker build -t ` + LocalImageTag(image) + ` -
#
# tmux: OpenHands' bash tool runs its commands in a tmux session (libtmux);
# the app image has none. git: the agent works in a git repository.
# chmod: perfbench runs the container as your uid, and /app is 0770.
FROM ` + image + `
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends tmux git \
 && rm -rf /var/lib/apt/lists/* \
 && chmod -R o+rX /app
`
}

// LocalImageTag is the tag the recipe suggests for image's derived image:
// its repository and tag with "-local" appended to the tag.
func LocalImageTag(image string) string {
	name, digest, _ := strings.Cut(image, "@")
	if digest != "" {
		return name + ":local"
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name + "-local"
	}
	return name + ":local"
}

// tmuxProbeTimeout bounds the probe container.
const tmuxProbeTimeout = 60 * time.Second

// tmuxCheck is the doctor (and preflight) check that the image of
// sandbox_runtime: local has tmux: it runs `tmux -V` in the image, alone
// (--entrypoint tmux), with no network, as the invoking user, without
// capabilities.
func tmuxCheck(p agent.Probes, image string) agent.Check {
	return agent.Check{Name: "tmux in " + image + " (sandbox_runtime: local)", Preflight: true, Run: func(ctx context.Context) agent.CheckResult {
		return probeTmux(ctx, p.EngineName, image, p.Env)
	}}
}

// tmuxProbe is the container that asks image for its tmux.
func tmuxProbe(engine, image string) container.Spec {
	s := container.FromConfig(config.Container{Engine: engine}, "none")
	s.User = strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
	s.Image = image
	s.Entrypoint = "tmux"
	s.Cmd = []string{"-V"}
	return s
}

func probeTmux(ctx context.Context, engine, image string, env map[string]string) agent.CheckResult {
	ctx, cancel := context.WithTimeout(ctx, tmuxProbeTimeout)
	defer cancel()
	spec := tmuxProbe(engine, image)
	argv := spec.RunArgv()
	out, err := runCLI(ctx, env, argv[0], argv[1:]...)
	low := strings.ToLower(out)
	switch {
	case err == nil && strings.HasPrefix(low, "tmux"):
		return agent.CheckResult{OK: true, Detail: textx.FirstLine(out)}
	case errors.Is(err, exec.ErrNotFound):
		return agent.CheckResult{Detail: spec.Bin() + " is not installed (not on PATH)"}
	case strings.Contains(low, "no such image") || strings.Contains(low, "unable to find image") || strings.Contains(low, "image not known"):
		return agent.CheckResult{Detail: "the image is not present locally (see its check)"}
	case strings.Contains(low, "executable file not found") || strings.Contains(low, "no such file or directory") || exitCode(err) == 127:
		return agent.CheckResult{Detail: fmt.Sprintf("%s has no tmux, which OpenHands' local runtime needs; build the derived image with `bench openhands dockerfile | %s build -t %s -` and set container_image to it (or use sandbox_runtime: docker)", image, spec.Bin(), LocalImageTag(image))}
	}
	return agent.CheckResult{Detail: fmt.Sprintf("running tmux -V in %s: %v %s", image, err, textx.FirstLine(out))}
}

func exitCode(err error) int {
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		return xe.ExitCode()
	}
	return -1
}
