package openhands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/textx"
)

// checks are `bench doctor`'s checks of an openhands entry: what its mode
// needs (the engine and image in docker mode, and tmux in that image with
// sandbox_runtime: local, uvx or a Python with
// openhands on the host, the runtime image and the docker socket with
// sandbox_runtime: docker), its config_file, and the LLM credentials.
func checks(a *config.Agent, p agent.Probes) []agent.Check {
	p.LLM(a.Model)
	// The mode switches (OPENHANDS_CONTAINER_IMAGE, OPENHANDS_CLI) are
	// read as the adapter reads them: from the process environment and
	// the entry's env:.
	s, err := Resolve(a, p.Lookup)
	if err != nil {
		return []agent.Check{{Name: "agent " + a.Name + ": mode", Preflight: true, Run: func(context.Context) agent.CheckResult {
			return agent.CheckResult{Detail: err.Error()}
		}}}
	}
	var out []agent.Check
	if s.Mode == ModeDocker || s.SandboxRuntime == "docker" {
		out = append(out, p.Engine())
	}
	if agent.ConfigFile(a) != "" {
		out = append(out, p.ConfigFile(a))
	}
	if s.Mode == ModeDocker {
		out = append(out, p.Image(s.Image))
		if s.SandboxRuntime == "local" {
			out = append(out, tmuxCheck(p, s.Image))
		}
	}
	switch s.Mode {
	case ModeUVX:
		out = append(out, agent.Check{Name: "uvx (" + s.CLI + ")", Preflight: true, Run: func(ctx context.Context) agent.CheckResult { return checkUVX(ctx, s.CLI, p.Env) }})
	case ModePython:
		out = append(out, agent.Check{Name: "python with openhands (" + s.CLI + ")", Preflight: true, Run: func(ctx context.Context) agent.CheckResult { return checkPython(ctx, s.CLI, p.Env) }})
	}
	if s.SandboxRuntime == "docker" {
		if s.RuntimeImage != "" {
			c := p.Image(s.RuntimeImage)
			c.Name = "runtime image " + s.RuntimeImage
			out = append(out, c)
		}
		out = append(out, agent.Check{Name: "docker socket (sandbox_runtime: docker)", Preflight: true, Run: func(context.Context) agent.CheckResult { return checkSocket(p.Env, p.EngineName) }})
	}
	return out
}

// runCLI runs a host executable with the checks' environment.
func runCLI(ctx context.Context, env map[string]string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func checkUVX(ctx context.Context, cli string, env map[string]string) agent.CheckResult {
	out, err := runCLI(ctx, env, cli, "--version")
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return agent.CheckResult{Detail: cli + " is not installed (see https://docs.astral.sh/uv/)"}
	}
	if err != nil {
		return agent.CheckResult{Detail: fmt.Sprintf("%s --version: %v %s", cli, err, textx.FirstLine(out))}
	}
	return agent.CheckResult{OK: true, Detail: textx.FirstLine(out) + " (openhands-ai is fetched by uvx on first use)"}
}

func checkPython(ctx context.Context, cli string, env map[string]string) agent.CheckResult {
	out, err := runCLI(ctx, env, cli, "-c", "import importlib.util, sys; print(sys.version.split()[0]); sys.exit(0 if importlib.util.find_spec('openhands') else 3)")
	var xe *exec.ExitError
	switch {
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist):
		return agent.CheckResult{Detail: cli + " is not installed"}
	case err == nil:
		return agent.CheckResult{OK: true, Detail: "Python " + textx.FirstLine(out) + ", openhands importable"}
	case errors.As(err, &xe) && xe.ExitCode() == 3:
		return agent.CheckResult{Detail: fmt.Sprintf("Python %s has no openhands package (pip install openhands-ai)", textx.FirstLine(out))}
	}
	return agent.CheckResult{Detail: fmt.Sprintf("%s: %v %s", cli, err, textx.FirstLine(out))}
}

func checkSocket(env map[string]string, engine string) agent.CheckResult {
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	path := SocketPath(list, engine)
	fi, err := os.Stat(path)
	if err != nil {
		return agent.CheckResult{Detail: fmt.Sprintf("%s: %v", path, err)}
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return agent.CheckResult{Detail: path + " is not a socket"}
	}
	gid := -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		gid = int(st.Gid)
	}
	return agent.CheckResult{OK: true, Detail: fmt.Sprintf("%s (group %d); mounted into the agent's container, it gives root on this host", path, gid)}
}
