package openhands

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

func TestResolve(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	for _, tc := range []struct {
		name  string
		a     config.Agent
		env   func(string) (string, bool)
		mode  Mode
		image string
		cli   string
	}{
		{"image", config.Agent{Options: &Options{ContainerImage: "oh:1"}}, env(), ModeDocker, "oh:1", ""},
		{"uvx", config.Agent{CLI: "uvx"}, env(), ModeUVX, "", "uvx"},
		{"uvx path", config.Agent{CLI: "/opt/bin/uvx"}, env(), ModeUVX, "", "/opt/bin/uvx"},
		{"python", config.Agent{CLI: "/venv/bin/python"}, env(), ModePython, "", "/venv/bin/python"},
		{"image wins over cli", config.Agent{CLI: "uvx", Options: &Options{ContainerImage: "oh:1"}}, env(), ModeDocker, "oh:1", ""},
		{"env image", config.Agent{CLI: "uvx"}, env("OPENHANDS_CONTAINER_IMAGE", "oh:2"), ModeDocker, "oh:2", ""},
		{"env cli wins over yaml image", config.Agent{Options: &Options{ContainerImage: "oh:1"}}, env("OPENHANDS_CLI", "uvx"), ModeUVX, "", "uvx"},
		{"env image wins over env cli", config.Agent{}, env("OPENHANDS_CLI", "uvx", "OPENHANDS_CONTAINER_IMAGE", "oh:3"), ModeDocker, "oh:3", ""},
		{"entry env", config.Agent{Env: map[string]string{"OPENHANDS_CLI": "/p/python"}}, env(), ModePython, "", "/p/python"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Resolve(&tc.a, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if s.Mode != tc.mode || s.Image != tc.image || s.CLI != tc.cli || s.SandboxRuntime != "local" {
				t.Errorf("got %+v, want mode %s image %q cli %q", s, tc.mode, tc.image, tc.cli)
			}
		})
	}
	if _, err := Resolve(&config.Agent{Name: "oh"}, env()); err == nil || !strings.Contains(err.Error(), "container_image") {
		t.Errorf("no mode: err = %v", err)
	}
	s, _ := Resolve(&config.Agent{Options: &Options{ContainerImage: "x", RuntimeImage: "rt:1"}}, env("OPENHANDS_RUNTIME_IMAGE", "rt:2"))
	if s.RuntimeImage != "rt:2" {
		t.Errorf("runtime image %q, want the environment's", s.RuntimeImage)
	}
}

func rollout(a *config.Agent, env ...string) *agent.Rollout {
	b := &config.Bench{Dir: "/proj", Container: config.Container{Engine: "docker", Network: "bridge", Memory: "2g", CPUs: 2, PidsLimit: 256}}
	return &agent.Rollout{
		RunID: "t__oh__m__20260101T000000Z", ItemID: "t-0000", Agent: a, Bench: b,
		Limits:    records.Limits{MaxIterations: 12, MaxBudgetUSD: 2.5},
		Workspace: "/r/workspace", TaskFile: "/r/task.txt", OutDir: "/r/out", Home: "/r/home",
		Env:     env,
		Secrets: secrets.FromEnv(env, nil),
	}
}

func TestHostArgv(t *testing.T) {
	a := &config.Agent{CLI: "uvx", ExtraArgs: []string{"--no-auto-continue"}, Options: &Options{AgentCls: "CodeActAgent", ConfigFileOption: agent.ConfigFileOption{ConfigFile: "oh.toml"}, LLMConfig: "big"}}
	ad, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	argv, _ := ad.Command(rollout(a))
	want := []string{"uvx", "--python", "3.12", "--from", "openhands-ai", "python", "-m", "openhands.core.main",
		"-d", "/r/workspace", "-f", "/r/task.txt", "-i", "12", "-b", "2.5", "-c", "CodeActAgent",
		"--config-file", "/proj/oh.toml", "-l", "big", "--no-auto-continue"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("uvx argv\n got %q\nwant %q", argv, want)
	}
	p := &config.Agent{CLI: "/venv/bin/python"}
	ad, _ = New(p)
	r := rollout(p)
	r.Limits = records.Limits{}
	argv, _ = ad.Command(r)
	// Without config_file, the harness's empty config.toml: never the
	// default, config.toml in the workspace.
	r.HarnessDir = "/r/harness"
	argv, _ = ad.Command(r)
	want = []string{"/venv/bin/python", "-m", "openhands.core.main", "-d", "/r/workspace", "-f", "/r/task.txt", "-i", "30",
		"--config-file", "/r/harness/" + EmptyConfigName}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("python argv\n got %q\nwant %q", argv, want)
	}
	if ad.AgentWorkspace("/r/workspace") != "/r/workspace" {
		t.Error("host modes show the host workspace")
	}
}

func TestHostEnv(t *testing.T) {
	a := &config.Agent{CLI: "uvx", Model: "anthropic/claude-x"}
	ad, _ := New(a)
	env := ad.hostEnv(rollout(a, "PATH=/bin", "LLM_API_KEY=sk-abcdef123456", "RUNTIME=remote", "SEARCH_API_KEY=s3cr3t-search"))
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	for k, v := range map[string]string{
		"LOG_ALL_EVENTS": "true", "RUNTIME": "local", "SANDBOX_VOLUMES": "/r/workspace:/workspace:rw",
		"MAX_ITERATIONS": "12", "MAX_BUDGET_PER_TASK": "2.5", "FILE_STORE": "local",
		"SAVE_TRAJECTORY_PATH": "/r/out/openhands/trajectory.json", "FILE_STORE_PATH": "/r/out/openhands/file_store",
		"LLM_MODEL": "anthropic/claude-x", "LLM_API_KEY": "sk-abcdef123456", "PATH": "/bin",
		"SANDBOX_LOCAL_RUNTIME_URL": "http://localhost", "AGENT_ENABLE_BROWSING": "false", "ENABLE_BROWSER": "false",
	} {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["SEARCH_API_KEY"]; ok {
		t.Error("SEARCH_API_KEY reaches OpenHands")
	}
	if got["UV_CACHE_DIR"] == "" {
		t.Error("uvx mode without UV_CACHE_DIR re-downloads openhands-ai on every rollout")
	}
}

func TestSpecPassesSecretsByName(t *testing.T) {
	a := &config.Agent{Env: map[string]string{"MY_SETTING": "x"}, Model: "m", Options: &Options{ContainerImage: "oh:1"}}
	ad, _ := New(a)
	r := rollout(a, "PATH=/bin", "HOME=/r/home", "LLM_API_KEY=sk-verysecret-1", "ANTHROPIC_API_KEY=sk-ant-verysecret",
		"GITHUB_TOKEN=ghp_verysecret", "AWS_SECRET_ACCESS_KEY=aws-verysecret", "LLM_BASE_URL=", "MY_SETTING=x",
		"TAVILY_API_KEY=tvly-verysecret", "SEARCH_API_KEY=search-verysecret", "UNRELATED=1")
	spec, err := ad.Spec(r)
	if err != nil {
		t.Fatal(err)
	}
	argv := spec.RunArgv()
	line := strings.Join(argv, " ")
	if strings.Contains(line, "verysecret") {
		t.Fatalf("a secret value in the argv: %s", line)
	}
	for _, name := range []string{"LLM_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "MY_SETTING"} {
		if !strings.Contains(line, " -e "+name+" ") {
			t.Errorf("%s not passed by name: %s", name, line)
		}
	}
	for _, name := range []string{"TAVILY_API_KEY", "SEARCH_API_KEY", "UNRELATED", "PATH", "LLM_BASE_URL"} {
		if strings.Contains(line, " -e "+name) {
			t.Errorf("%s reaches the container: %s", name, line)
		}
	}
	for _, want := range []string{
		"--user " + strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid()),
		"--cap-drop ALL", "--security-opt no-new-privileges", "--memory 2g", "--cpus 2", "--pids-limit 256",
		"--network bridge", "--pull never", "--rm", "--init",
		"--name bench-t__oh__m__20260101T000000Z-t-0000",
		"--mount type=bind,source=/r/task.txt,target=/task.txt,readonly",
		"-e SANDBOX_VOLUMES=/workspace:/workspace:rw", "-e LLM_MODEL=m",
		"oh:1 python -m openhands.core.main -d /workspace -f /task.txt -i 12 -b 2.5",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("argv lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "docker.sock") {
		t.Error("the docker socket is mounted with sandbox_runtime: local")
	}
	if ad.AgentWorkspace("/r/workspace") != "/workspace" {
		t.Error("docker mode shows /workspace")
	}
}

func TestSpecSandboxDocker(t *testing.T) {
	a := &config.Agent{Options: &Options{ContainerImage: "oh:1", SandboxRuntime: "docker", RuntimeImage: "rt:1"}}
	ad, _ := New(a)
	sock := filepath.Join(t.TempDir(), "docker.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	spec, err := ad.Spec(rollout(a, "DOCKER_HOST=unix://"+sock))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(spec.RunArgv(), " ")
	for _, want := range []string{
		"--mount type=bind,source=" + sock + ",target=/var/run/docker.sock",
		"--add-host host.docker.internal:host-gateway",
		"-e RUNTIME=docker", "-e SANDBOX_RUNTIME_CONTAINER_IMAGE=rt:1",
		// The runtime container is started by the host's daemon.
		"-e SANDBOX_VOLUMES=/r/workspace:/workspace:rw",
		`"perfbench.item":"t-0000"`, `"mem_limit":"2g"`, `"nano_cpus":2000000000`, `"pids_limit":256`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("argv lacks %q:\n%s", want, line)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		dir        string
		final      string
		iterations int
		cost       float64
		input      int64
		calls      int
		infra      bool
	}{
		{"finished", StateFinished, 3, 0.1093, 36900, 3, false},
		{"maxiter", StateMaxIterations, 30, 0.02, 200, 0, false},
		{"killed", StateRunning, 1, 0.5, 5000, 0, false},
		{"rate", StateRateLimited, 0, 0, 0, 0, true},
		{"absent", StateNone, 0, 0, 0, 0, false},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			s, err := Parse(filepath.Join("testdata", "runs", tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			if s.FinalState != tc.final || s.Iterations != tc.iterations {
				t.Errorf("final %q iterations %d, want %q %d (%+v)", s.FinalState, s.Iterations, tc.final, tc.iterations, s)
			}
			u := s.Usage(false)
			if u.CostUSD != tc.cost || u.InputTokens != tc.input || u.Turns != tc.iterations {
				t.Errorf("usage %+v, want cost %g input %d", u, tc.cost, tc.input)
			}
			d := s.Details(func(s string) string { return s })
			if tc.calls > 0 && d["llm_calls"] != tc.calls {
				t.Errorf("llm_calls %v, want %d", d["llm_calls"], tc.calls)
			}
			if (s.Infra() != nil) != tc.infra {
				t.Errorf("infra error %v", s.Infra())
			}
		})
	}
	s, _ := Parse(filepath.Join("testdata", "runs", "finished"))
	if !slices.Equal(s.Sources, []string{"trajectory", "events"}) || s.Metrics.AccumulatedTokenUsage.CacheReadTokens != 24090 {
		t.Errorf("finished: %+v", s)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct{ state, reason, want string }{
		{"finished", "", StateFinished},
		{"error", "RuntimeError: Agent reached maximum iteration. Current iteration: 3, max iteration: 3", StateMaxIterations},
		{"error", "RuntimeError: Agent reached maximum budget for conversation.Current budget: 1.01, max budget: 1.00", StateBudgetExceeded},
		{"error", "AgentStuckInLoopError: Agent got stuck in a loop", StateStuck},
		{"error", "AuthenticationError: invalid x-api-key", StateAuthError},
		{"error", "STATUS$ERROR_LLM_AUTHENTICATION", StateAuthError},
		{"error", "ServiceUnavailableError: overloaded", StateLLMUnavailable},
		// _react_to_exception's reason for litellm's InternalServerError
		// when a status callback is set.
		{"error", "STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR", StateLLMUnavailable},
		{"error", "STATUS$ERROR_LLM_SERVICE_UNAVAILABLE", StateLLMUnavailable},
		{"error", "STATUS$ERROR_LLM_OUT_OF_CREDITS", StateAuthError},
		{"error", "APIError: litellm.APIError: AnthropicException - Overloaded", StateLLMUnavailable},
		{"error", "LLMContextWindowExceedError: too long", StateError},
		{"rejected", "", StateRejected},
		{"awaiting_user_input", "", StateAwaitingInput},
	} {
		if got := classify(tc.state, tc.reason, 1); got != tc.want {
			t.Errorf("classify(%q, %q) = %q, want %q", tc.state, tc.reason, got, tc.want)
		}
	}
}

// What OpenHands wrote is read without following links and without
// opening FIFOs (a container could leave either; a FIFO would block the
// harness for ever).
func TestParseFollowsNoLink(t *testing.T) {
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "trajectory.json"), []byte(`[{"id": 0, "source": "agent", "action": "finish", "llm_metrics": {"accumulated_cost": 99}}]`), 0o600)
	os.MkdirAll(filepath.Join(host, "events"), 0o755)
	os.WriteFile(filepath.Join(host, "events", "0.json"), []byte(`{"id": 0, "source": "agent", "action": "finish", "llm_metrics": {"accumulated_cost": 99}}`), 0o600)

	dir := t.TempDir()
	os.Symlink(filepath.Join(host, "trajectory.json"), filepath.Join(dir, "trajectory.json"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	sess := filepath.Join(dir, "file_store", "sessions", "s")
	os.MkdirAll(sess, 0o755)
	os.Symlink(filepath.Join(host, "events"), filepath.Join(sess, "events"))
	s, _ := Parse(dir)
	if s.FinalState != StateNone || s.Usage(false).CostUSD != 0 {
		t.Errorf("read through a link: %+v", s)
	}

	// out/openhands itself a link to a host event store.
	store := filepath.Join(t.TempDir(), "oh")
	os.MkdirAll(filepath.Join(store, "file_store", "sessions", "s"), 0o755)
	os.Symlink(filepath.Join(host, "events"), filepath.Join(store, "file_store", "sessions", "s", "x"))
	os.Rename(filepath.Join(host, "events"), filepath.Join(store, "file_store", "sessions", "s", "events"))
	out := t.TempDir()
	os.Symlink(store, filepath.Join(out, OutSubdir))
	if s, _ := Parse(filepath.Join(out, OutSubdir)); s.FinalState != StateNone || s.Usage(false).CostUSD != 0 {
		t.Errorf("read through out/openhands -> a host directory: %+v", s)
	}
}

// run.json's runtime: OpenHands in docker mode, or with sandbox_runtime:
// docker, runs the agent's actions in containers; on the host otherwise.
func TestRolloutRuntime(t *testing.T) {
	t.Setenv("OPENHANDS_CONTAINER_IMAGE", "")
	t.Setenv("OPENHANDS_CLI", "")
	for _, tc := range []struct {
		name string
		a    config.Agent
		want string
	}{
		{"docker mode", config.Agent{Type: Kind.Type, Options: &Options{ContainerImage: "oh:1"}}, agent.RuntimeContainer},
		{"uvx, local sandbox", config.Agent{Type: Kind.Type, CLI: "uvx"}, agent.RuntimeHost},
		{"uvx, docker sandbox", config.Agent{Type: Kind.Type, CLI: "uvx", Options: &Options{SandboxRuntime: "docker"}}, agent.RuntimeContainer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ad, err := agent.NewOn([]agent.Kind{Kind}, &tc.a, agent.Host{})
			if err != nil {
				t.Fatal(err)
			}
			if got := agent.RolloutRuntime(&tc.a, ad); got != tc.want {
				t.Errorf("runtime %q, want %q", got, tc.want)
			}
		})
	}
}
