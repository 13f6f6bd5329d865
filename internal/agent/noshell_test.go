package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/openhands/standin"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

// A runtime: container rollout with a workspace_setup, in an image
// without sh (the OpenHands stand-in: FROM scratch, a static "python"):
// one infra_error of kind setup saying that workspace_setup needs sh,
// also in setup.log, and the agent never runs.
func TestSetupImageWithoutShell(t *testing.T) {
	img := standin.Require(t)
	testSetupGateFails(t, img, "workspace_setup needs sh in the image: image "+img+" has no sh to run the gate")
}

// The same in an image whose sh cannot run (exec format error, status 1,
// as with an image of another architecture): workspace_setup did not
// run, and the status is not read as the agent's.
func TestSetupImageShellCannotRun(t *testing.T) {
	img := standin.RequireBadShell(t)
	testSetupGateFails(t, img, "workspace_setup did not run: image "+img+": the container ended with status 1 before the setup ran (its entrypoint must exec its arguments; the image needs a runnable sh): ")
}

// testSetupGateFails runs a rollout with a workspace_setup in img and
// wants one infra_error of kind setup starting with want, also in
// setup.log, and no run of the agent.
func testSetupGateFails(t *testing.T, img, want string) {
	t.Helper()
	log := &agent.SyncBuf{}
	setup := &agent.Setup{Commands: []string{"echo set up > /tmp/m"}, Timeout: time.Minute, Log: log}
	base := t.TempDir()
	priv := filepath.Join(base, "priv")
	r := &agent.Rollout{
		RunID: "noshell-" + strings.ToLower(t.Name()), ItemID: "i1",
		Agent:     &config.Agent{Name: "a", Type: "command", Runtime: agent.RuntimeContainer, Image: img},
		Workspace: filepath.Join(priv, "workspace"), TaskFile: filepath.Join(priv, "task.txt"),
		OutDir: filepath.Join(priv, "out"), Home: filepath.Join(priv, "home"),
		HarnessDir: filepath.Join(base, "harness"),
		Limits:     records.Limits{Timeout: records.Duration(time.Minute), KillGrace: records.Duration(2 * time.Second)},
		Setup:      setup,
		Secrets:    secrets.FromEnv(nil, nil),
	}
	for _, d := range []string{r.Workspace, r.OutDir, r.Home, filepath.Join(priv, "tmp"), r.HarnessDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(r.TaskFile, []byte("do not ask for user input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Env = agent.BaseEnv(agent.EnvInput{Process: []string{"PATH=/usr/bin"}, Workspace: r.Workspace, TaskFile: r.TaskFile, OutDir: r.OutDir, Home: r.Home})
	stdout, stderr := &agent.SyncBuf{}, &agent.SyncBuf{}
	r.Stdout, r.Stderr = stdout, stderr

	out, err := agent.RunProcess(context.Background(), r, []string{"python", "-m", "openhands.core.main", "-d", r.Workspace, "-f", r.TaskFile, "-i", "3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ie *agent.InfraError
	if !errors.As(out.Infra, &ie) || ie.Kind != agent.InfraSetup {
		t.Fatalf("outcome %+v, want infra_error of kind setup\nstderr:\n%s", out, stderr.String())
	}
	if !strings.HasPrefix(ie.Msg, want) || strings.Contains(ie.Msg, "\n") {
		t.Errorf("reason %q, want one line starting %q", ie.Msg, want)
	}
	if !strings.Contains(log.String(), "perfbench: "+want) {
		t.Errorf("setup.log:\n%s", log.String())
	}
	if strings.Contains(stdout.String(), "standin:") {
		t.Errorf("the agent ran:\n%s", stdout.String())
	}
	left, err := evaltest.Leftovers("perfbench.run=" + r.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("containers left behind: %v", left)
	}
}
