package openhands

import (
	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
)

// RecipeVersion is the openhands-ai release the agent image installs.
const RecipeVersion = "0.62.0"

// RecipePython is the Python of the agent image's OpenHands: docker mode
// runs `<RecipePython> -m openhands.core.main` there, while the agent's
// own commands (its bash tool, in the same container with
// sandbox_runtime: local) find the environment's python first on PATH.
var RecipePython = agent.VenvPython("openhands")

// Recipe installs openhands-ai, pinned, into its own Python 3.12
// environment in /opt/perfbench/openhands (OpenHands needs 3.12, which
// the task's environment need not have), plus what its local runtime
// needs in the container (see LocalDockerfile): tmux and git, installed
// with apt-get when the environment image lacks them.
func Recipe() envbuild.Recipe {
	return agent.PythonRecipe(agent.PythonInstall{
		Type: "openhands", Version: RecipeVersion,
		Requirement: "openhands-ai==" + RecipeVersion,
		Before: []string{
			`if ! command -v tmux >/dev/null || ! command -v git >/dev/null; then ` +
				`command -v apt-get >/dev/null || { echo "perfbench: OpenHands' local runtime needs tmux and git, and the environment image has neither them nor apt-get" >&2; exit 1; }; ` +
				`apt-get update && apt-get install -y --no-install-recommends tmux git && rm -rf /var/lib/apt/lists/*; fi`,
		},
	})
}

// AgentImageAllowed reports whether entry a may run in an agent image
// (bench build --agent): only in the local sandbox mode, where OpenHands
// runs the agent's actions in its own container. With sandbox_runtime:
// docker they run in the runtime containers OpenHands starts from
// runtime_image, which the agent image would not be: bad input (exit 2).
func AgentImageAllowed(a *config.Agent) error {
	if agent.OptionsOf[Options](a).SandboxRuntime == "docker" {
		return badinput.Errorf("agent %s (openhands): an agent image (--agent) is for sandbox_runtime: local; with sandbox_runtime: docker the agent's actions run in runtime_image's containers, not in it (use sandbox_runtime: local, or build without --agent)", a.Name)
	}
	return nil
}

// UseAgentImage makes an openhands entry without container_image run in
// ref, the agent image built for it, by the agent image's own Python
// (RecipePython): docker mode in local sandbox mode. An entry with
// container_image keeps it (and reports false). OPENHANDS_CONTAINER_IMAGE
// and OPENHANDS_CLI still take precedence when the adapter resolves its
// mode; RecipePython only applies to container_image.
func UseAgentImage(a *config.Agent, ref string) (bool, error) {
	if err := AgentImageAllowed(a); err != nil {
		return false, err
	}
	o, ok := a.Options.(*Options)
	if !ok {
		if a.Options != nil {
			return false, badinput.Errorf("agent %s (openhands): its options are not openhands options", a.Name)
		}
		o = &Options{SandboxRuntime: "local"}
		a.Options = o
	}
	if o.ContainerImage != "" {
		return false, nil
	}
	// A copy: the caller's entry (a copy of the configured one) must not
	// share options with the entry as configured and hashed.
	c := *o
	c.ContainerImage, c.ContainerPython = ref, RecipePython
	a.Options = &c
	return true, nil
}
