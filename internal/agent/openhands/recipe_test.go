package openhands

import (
	"slices"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
)

func TestAgentImageAllowed(t *testing.T) {
	if err := AgentImageAllowed(&config.Agent{Name: "oh", Options: &Options{SandboxRuntime: "local"}}); err != nil {
		t.Errorf("local: %v", err)
	}
	if err := AgentImageAllowed(&config.Agent{Name: "oh"}); err != nil {
		t.Errorf("no options (local by default): %v", err)
	}
	err := AgentImageAllowed(&config.Agent{Name: "oh", Options: &Options{SandboxRuntime: "docker"}})
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "agent oh (openhands): an agent image (--agent) is for sandbox_runtime: local") {
		t.Errorf("docker: %v, want bad input", err)
	}
	// Through the kind, as the CLI calls it.
	a := &config.Agent{Name: "oh", Type: "openhands", Options: &Options{SandboxRuntime: "docker"}}
	if used, err := agent.UseAgentImage(&Kind, a, "sha256:agent"); used || err == nil || !badinput.Is(err) || agent.OptionsOf[Options](a).ContainerImage != "" {
		t.Errorf("docker through the kind: used %v err %v", used, err)
	}
}

// TestUseAgentImage: without container_image the agent image becomes it,
// run by the image's own Python; the environment's python stays
// "python" on PATH for the agent's commands. A container_image of the
// entry's own is kept, run by python as before.
func TestUseAgentImage(t *testing.T) {
	a := &config.Agent{Name: "oh", Type: "openhands", Options: &Options{SandboxRuntime: "local"}}
	used, err := agent.UseAgentImage(&Kind, a, "sha256:agent")
	if err != nil || !used {
		t.Fatalf("used %v err %v", used, err)
	}
	o := agent.OptionsOf[Options](a)
	if o.ContainerImage != "sha256:agent" || o.ContainerPython != RecipePython || RecipePython != "/opt/perfbench/openhands/venv/bin/python" {
		t.Fatalf("options %+v", o)
	}
	ad, err := NewOn(a, agent.Host{})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ad.Spec(rollout(a))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Image != "sha256:agent" || !slices.Equal(spec.Cmd[:3], []string{RecipePython, "-m", "openhands.core.main"}) {
		t.Errorf("image %s cmd %q", spec.Image, spec.Cmd)
	}
	// OPENHANDS_CONTAINER_IMAGE still wins, with its own python.
	ad, _ = NewOn(a, agent.Host{Env: []string{"OPENHANDS_CONTAINER_IMAGE=oh:9"}})
	if spec, _ := ad.Spec(rollout(a)); spec.Image != "oh:9" || spec.Cmd[0] != "python" {
		t.Errorf("env image: %s %q", spec.Image, spec.Cmd)
	}

	own := &config.Agent{Name: "oh", Type: "openhands", Options: &Options{ContainerImage: "oh:1", SandboxRuntime: "local"}}
	if used, err := agent.UseAgentImage(&Kind, own, "sha256:agent"); used || err != nil || agent.OptionsOf[Options](own).ContainerImage != "oh:1" {
		t.Errorf("own container_image: used %v err %v", used, err)
	}
	ad, _ = NewOn(own, agent.Host{})
	if spec, _ := ad.Spec(rollout(own)); spec.Cmd[0] != "python" {
		t.Errorf("own image runs %q", spec.Cmd[0])
	}
	// container_python is not a bench.yaml key.
	if Kind.NewOptions == nil {
		t.Fatal("no options")
	}
}
