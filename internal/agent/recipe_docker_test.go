package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

// standinSource is the stand-in agent: a static binary that says where it
// runs from and which python3 the rollout's PATH finds, and what it says.
const standinSource = `package main

import (
	"fmt"
	"os"
	"os/exec"
)

func main() {
	exe, _ := os.Executable()
	py, err := exec.LookPath("python3")
	if err != nil {
		fmt.Println("no python3:", err)
		os.Exit(3)
	}
	out, err := exec.Command(py).Output()
	if err != nil {
		fmt.Println("python3:", err)
		os.Exit(4)
	}
	if err := os.WriteFile("standin-was-here", []byte("x\n"), 0o644); err != nil {
		fmt.Println(err)
		os.Exit(5)
	}
	fmt.Printf("standin exe=%s args=%q python=%s says=%s", exe, os.Args[1:], py, out)
}
`

// envPython is the environment's "python": a script that names itself.
const envPython = "#!/bin/sh\necho \"env-python at $0\"\n"

// TestAgentImageStandin builds an environment image (FROM scratch:
// busybox and a python3 stand-in), derives an agent image from it by id
// with an install: recipe that COPYs a static stand-in agent into its
// prefix (AgentDockerfile, the engine's own build), and checks that the
// stand-in runs there as a runtime: container rollout finds it by name,
// while python3 is the environment's, at the same path, saying the same,
// and PATH is the environment's with /opt/perfbench/bin after it. With
// and without ENV PATH in the environment image.
func TestAgentImageStandin(t *testing.T) {
	busybox := evaltest.RequireBusybox(t)
	standin := buildStandin(t)
	for _, tc := range []struct {
		name, envPath, wantPath string
	}{
		{"env PATH", "/usr/bin:/bin", "/usr/bin:/bin:" + envbuild.AgentBin},
		{"no PATH", "", envbuild.DefaultPath + ":" + envbuild.AgentBin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			suffix := randomSuffix(t)
			envTag := "perfbench-test/envagent-env:" + suffix
			agentTag := "perfbench-test/envagent-agent:" + suffix

			// The environment image.
			envCtx := t.TempDir()
			copyFile(t, busybox, filepath.Join(envCtx, "busybox"), 0o755)
			writeFile(t, filepath.Join(envCtx, "python3"), envPython, 0o755)
			df := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCOPY python3 /usr/bin/python3\nLABEL perfbench.test=envagent\n"
			if tc.envPath != "" {
				df += "ENV PATH=" + tc.envPath + "\n"
			}
			writeFile(t, filepath.Join(envCtx, "Dockerfile"), df, 0o644)
			dockerBuild(ctx, t, envTag, envCtx)
			envID := strings.TrimSpace(docker(ctx, t, "image", "inspect", "--format", "{{.Id}}", envTag))

			// The agent image: install: lines with install_context, as
			// RecipeFor reads them, rendered by AgentDockerfile FROM the id.
			benchDir := t.TempDir()
			copyFile(t, standin, filepath.Join(benchDir, "standin", "standin-agent"), 0o755)
			entry := &config.Agent{Name: "s", Type: "command", Runtime: agent.RuntimeContainer, InstallContext: "standin", Install: []string{
				"COPY standin-agent /opt/perfbench/standin/bin/standin-agent",
				"RUN mkdir -p /opt/perfbench/bin && ln -s /opt/perfbench/standin/bin/standin-agent /opt/perfbench/bin/standin-agent",
			}}
			bench, err := config.DefaultBench(benchDir, config.Vars{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			k, _ := agent.Find(agent.Builtins(), "command")
			r, err := agent.RecipeFor(entry, bench, &k)
			if err != nil {
				t.Fatal(err)
			}
			agentCtx := t.TempDir()
			writeFile(t, filepath.Join(agentCtx, "Dockerfile"), string(envbuild.AgentDockerfile(envID, r)), 0o644)
			for _, p := range r.ContextPaths() {
				writeFile(t, filepath.Join(agentCtx, filepath.FromSlash(p)), string(r.Files[p].Data), os.FileMode(r.Files[p].Mode))
			}
			dockerBuild(ctx, t, agentTag, agentCtx)
			labels := docker(ctx, t, "image", "inspect", "--format", `{{index .Config.Labels "`+envbuild.LabelAgent+`"}} {{index .Config.Labels "`+envbuild.LabelAgentVersion+`"}}`, agentTag)
			if want := "command " + r.Version + "\n"; labels != want {
				t.Errorf("labels %q, want %q", labels, want)
			}

			// The environment's python, PATH and the stand-in, in both images.
			probe := `command -v python3; python3; echo "PATH=$PATH"; command -v standin-agent || echo no standin`
			inEnv := docker(ctx, t, "run", "--rm", "--network", "none", envID, "sh", "-c", probe)
			inAgent := docker(ctx, t, "run", "--rm", "--network", "none", agentTag, "sh", "-c", probe)
			envLines, agentLines := strings.Split(inEnv, "\n"), strings.Split(inAgent, "\n")
			if len(envLines) < 4 || len(agentLines) < 4 {
				t.Fatalf("probe:\n%s\n%s", inEnv, inAgent)
			}
			if envLines[0] != "/usr/bin/python3" || envLines[1] != "env-python at /usr/bin/python3" || envLines[0] != agentLines[0] || envLines[1] != agentLines[1] {
				t.Errorf("python3 changed:\nenv:   %q\nagent: %q", envLines[:2], agentLines[:2])
			}
			if agentLines[2] != "PATH="+tc.wantPath {
				t.Errorf("agent image %s, want PATH=%s (env image: %s)", agentLines[2], tc.wantPath, envLines[2])
			}
			if envLines[3] != "no standin" || agentLines[3] != envbuild.AgentBin+"/standin-agent" {
				t.Errorf("standin: env %q agent %q", envLines[3], agentLines[3])
			}

			// A runtime: container rollout in the agent image runs the
			// stand-in by name, as an adapter's argv[0] would be.
			entry.Image = agentTag
			ro := rollout(t, entry, bench)
			out, err := agent.RunProcess(ctx, ro, []string{"standin-agent", "a b"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			stdout := ro.Stdout.(*bytes.Buffer).String()
			if out.Process == nil || out.Process.ExitCode != 0 || out.Failed || out.Infra != nil {
				t.Fatalf("rollout: %+v\n%s%s", out, stdout, ro.Stderr.(*bytes.Buffer))
			}
			want := `standin exe=/opt/perfbench/standin/bin/standin-agent args=["a b"] python=/usr/bin/python3 says=env-python at /usr/bin/python3` + "\n"
			if stdout != want {
				t.Errorf("rollout said %q, want %q", stdout, want)
			}
			if _, err := os.Stat(filepath.Join(ro.Workspace, "standin-was-here")); err != nil {
				t.Errorf("the stand-in did not run in the workspace: %v", err)
			}
		})
	}
}

func buildStandin(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "go.mod"), "module standin\n\ngo 1.21\n", 0o644)
	writeFile(t, filepath.Join(src, "main.go"), standinSource, 0o644)
	bin := filepath.Join(t.TempDir(), "standin-agent")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in: %v\n%s", err, out)
	}
	return bin
}

func rollout(t *testing.T, a *config.Agent, b *config.Bench) *agent.Rollout {
	t.Helper()
	priv := t.TempDir()
	r := &agent.Rollout{
		RunID: "envagent-" + randomSuffix(t), ItemID: "it-0000", Agent: a, Bench: b,
		Limits:    records.Limits{Timeout: records.Duration(time.Minute), KillGrace: records.Duration(5 * time.Second)},
		Workspace: filepath.Join(priv, "workspace"), TaskFile: filepath.Join(priv, "task.txt"),
		OutDir: filepath.Join(priv, "out"), Home: filepath.Join(priv, "home"), HarnessDir: t.TempDir(),
		Secrets: secrets.FromEnv(nil, nil), Host: agent.Host{Env: os.Environ()},
		Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
	}
	for _, d := range []string{r.Workspace, r.OutDir, r.Home, filepath.Join(priv, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, r.TaskFile, "task\n", 0o644)
	r.Env = agent.BaseEnv(agent.EnvInput{Process: []string{"PATH=" + os.Getenv("PATH")}, Workspace: r.Workspace, TaskFile: r.TaskFile, OutDir: r.OutDir, Home: r.Home})
	return r
}

func dockerBuild(ctx context.Context, t *testing.T, tag, dir string) {
	t.Helper()
	docker(ctx, t, "build", "-q", "--label", "perfbench.test=envagent", "-t", tag, dir)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		exec.CommandContext(ctx, "docker", "image", "rm", tag).Run()
	})
}

func docker(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(b))
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(data), mode)
}
