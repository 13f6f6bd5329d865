package openhands

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/container"
)

// forwardPrefixes are OpenHands' configuration namespaces: a variable of
// the harness's environment (or .env) with one of these prefixes reaches
// the container by name.
var forwardPrefixes = []string{"LLM_", "AGENT_", "SANDBOX_", "SECURITY_"}

// ForwardNames are the other variables that reach the container by name:
// provider credentials LiteLLM reads (OpenAI, Anthropic, OpenRouter,
// Gemini, AWS for Bedrock) and git provider tokens. Variables named in
// the entry's env: are forwarded too.
var ForwardNames = []string{
	"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "OPENAI_ORGANIZATION",
	"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
	"OPENROUTER_API_KEY", "OPENROUTER_API_BASE",
	"GEMINI_API_KEY", "GOOGLE_API_KEY",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_REGION", "AWS_REGION_NAME", "AWS_DEFAULT_REGION", "AWS_BEARER_TOKEN_BEDROCK",
	"GITHUB_TOKEN", "GITLAB_TOKEN", "BITBUCKET_TOKEN",
}

// neverForward are names that must not reach OpenHands even under a
// forwarded prefix: a search API key lets the agent look up the human
// commit.
var neverForward = []string{"SEARCH_API_KEY", "SANDBOX_API_KEY"}

type kv struct{ k, v string }

// paths are where OpenHands finds things, as the OpenHands process sees
// them.
type paths struct {
	volume     string // SANDBOX_VOLUMES host side: what the sandbox mounts at /workspace
	trajectory string
	fileStore  string
}

// settings are the variables the adapter always sets, in a fixed order.
func (ad *Adapter) settings(r *agent.Rollout, p paths) []kv {
	runtime := "local"
	if ad.s.SandboxRuntime == "docker" {
		runtime = "docker"
	}
	s := []kv{
		{"LOG_ALL_EVENTS", "true"},
		{"RUNTIME", runtime},
		{"SANDBOX_USER_ID", strconv.Itoa(os.Getuid())},
		{"SANDBOX_VOLUMES", p.volume + ":" + ContainerWorkspace + ":rw"},
	}
	if ad.s.RuntimeImage != "" {
		s = append(s, kv{"SANDBOX_RUNTIME_CONTAINER_IMAGE", ad.s.RuntimeImage})
	}
	if ad.s.SandboxRuntime == "docker" && !isSet(r, "SANDBOX_DOCKER_RUNTIME_KWARGS") {
		s = append(s, kv{"SANDBOX_DOCKER_RUNTIME_KWARGS", runtimeKwargs(r)})
	}
	s = append(s, kv{"MAX_ITERATIONS", strconv.Itoa(iterations(r.Limits))})
	if r.Limits.MaxBudgetUSD > 0 {
		s = append(s, kv{"MAX_BUDGET_PER_TASK", formatUSD(r.Limits.MaxBudgetUSD)})
	}
	s = append(s,
		kv{"SAVE_TRAJECTORY_PATH", p.trajectory},
		kv{"FILE_STORE", "local"},
		kv{"FILE_STORE_PATH", p.fileStore},
	)
	if !agent.OptionsOf[Options](ad.a).AllowBrowsing {
		// The agent's browser tool and the runtime's browser: with
		// them the agent could read the upstream repository's later
		// commits.
		s = append(s, kv{"AGENT_ENABLE_BROWSING", "false"}, kv{"ENABLE_BROWSER", "false"})
	}
	if runtime == "local" {
		// OpenHands reaches its action server at this URL and a port;
		// the app image sets http://host.docker.internal, which does not
		// resolve in our container (no --add-host). In local mode the
		// server runs next to OpenHands.
		s = append(s, kv{"SANDBOX_LOCAL_RUNTIME_URL", "http://localhost"})
	}
	if ad.a.Model != "" {
		s = append(s, kv{"LLM_MODEL", ad.a.Model})
	}
	return s
}

// isSet reports whether the rollout's environment sets name (the entry's
// env: counts).
func isSet(r *agent.Rollout, name string) bool {
	if _, ok := r.Agent.Env[name]; ok {
		return true
	}
	_, ok := lookup(r.Env, name)
	return ok
}

// lookup is the value of name in env (the last one wins).
func lookup(env []string, name string) (string, bool) { return agent.Host{Env: env}.LookupEnv(name) }

// runtimeKwargs is SANDBOX_DOCKER_RUNTIME_KWARGS: OpenHands passes it to
// the docker SDK's containers.run for each runtime container, so these
// carry our labels (removed after the rollout, and by the stale sweep
// after a crash) and the same limits as the agent's container.
func runtimeKwargs(r *agent.Rollout) string {
	m := map[string]any{"labels": container.OwnerLabels(r.RunID, agent.ItemLabel(r))}
	if r.Bench != nil {
		c := r.Bench.Container
		if c.Memory != "" {
			m["mem_limit"] = c.Memory
			m["memswap_limit"] = c.Memory
		}
		if c.CPUs > 0 {
			m["nano_cpus"] = int64(c.CPUs * 1e9)
		}
		if c.PidsLimit > 0 {
			m["pids_limit"] = c.PidsLimit
		}
	}
	data, _ := json.Marshal(m)
	return string(data)
}

// containerEnv is the container's environment: the settings with
// container paths (as NAME=value: none is secret), the contract's
// BENCH_* paths and HOME, then every forwarded variable by name.
func (ad *Adapter) containerEnv(r *agent.Rollout) []container.EnvVar {
	volume := ContainerWorkspace
	if ad.s.SandboxRuntime == "docker" {
		// The runtime container is started by the host's daemon: it
		// mounts the host path.
		volume = r.Workspace
	}
	set := ad.settings(r, paths{
		volume:     volume,
		trajectory: ContainerOutDir + "/" + OutSubdir + "/trajectory.json",
		fileStore:  ContainerOutDir + "/" + OutSubdir + "/file_store",
	})
	set = append(set,
		kv{"HOME", ContainerHome},
		kv{"BENCH_WORKSPACE", ContainerWorkspace},
		kv{"BENCH_TASK_FILE", ContainerTaskFile},
		kv{"BENCH_OUT_DIR", ContainerOutDir},
		// The OpenHands image's entrypoint needs root for its user
		// setup; the container already runs as the invoking user.
		kv{"NO_SETUP", "true"},
		// docker-init (tini) signals the whole process group, so the
		// stop signal reaches python under the entrypoint's shell.
		kv{"TINI_KILL_PROCESS_GROUP", "1"},
	)
	var out []container.EnvVar
	taken := map[string]bool{}
	for _, s := range set {
		out = append(out, container.EnvVar{Name: s.k, Value: s.v})
		taken[s.k] = true
	}
	for _, name := range ad.forwarded(r) {
		if !taken[name] {
			out = append(out, container.EnvVar{Name: name, ByName: true})
		}
	}
	return out
}

// forwarded lists, sorted, the variables of the rollout's environment that
// reach the container by name (those with a value).
func (ad *Adapter) forwarded(r *agent.Rollout) []string {
	var names []string
	seen := map[string]bool{}
	for _, kv := range r.Env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || value == "" || seen[name] || slices.Contains(neverForward, name) {
			// An empty value would override OpenHands' default.
			continue
		}
		_, inEntry := r.Agent.Env[name]
		if inEntry || slices.Contains(ForwardNames, name) || hasPrefix(name, forwardPrefixes) {
			seen[name] = true
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// clientEnv is the docker client's environment: the rollout's (which
// holds the values of the variables passed by name) with the invoking
// user's docker configuration (contexts, credentials), which the fresh
// HOME would hide.
func (ad *Adapter) clientEnv(r *agent.Rollout) []string {
	env := slices.Clone(r.Env)
	if _, ok := lookup(env, "DOCKER_CONFIG"); !ok {
		if home := ad.host.Home(); home != "" {
			if _, err := os.Stat(filepath.Join(home, ".docker")); err == nil {
				env = append(env, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
			}
		}
	}
	return env
}

// hostEnv is the environment of the uvx and python modes: the rollout's
// with the settings (host paths) on top.
func (ad *Adapter) hostEnv(r *agent.Rollout) []string {
	oh := filepath.Join(r.OutDir, OutSubdir)
	set := ad.settings(r, paths{
		volume:     r.Workspace,
		trajectory: filepath.Join(oh, "trajectory.json"),
		fileStore:  filepath.Join(oh, "file_store"),
	})
	if ad.s.Mode == ModeUVX {
		// uv's cache and Python downloads live in the invoking user's
		// home: with the rollout's fresh HOME every rollout would
		// download openhands-ai and a Python again.
		if home := ad.host.Home(); home != "" {
			for _, v := range []kv{
				{"UV_CACHE_DIR", filepath.Join(home, ".cache", "uv")},
				{"UV_PYTHON_INSTALL_DIR", filepath.Join(home, ".local", "share", "uv", "python")},
			} {
				if !isSet(r, v.k) {
					set = append(set, v)
				}
			}
		}
	}
	env := slices.Clone(r.Env)
	override := map[string]bool{}
	for _, s := range set {
		override[s.k] = true
	}
	env = slices.DeleteFunc(env, func(e string) bool {
		k, _, _ := strings.Cut(e, "=")
		return override[k] || slices.Contains(neverForward, k)
	})
	for _, s := range set {
		env = append(env, s.k+"="+s.v)
	}
	return env
}

// SocketPath is the engine's socket on the host: DOCKER_HOST (or podman's
// CONTAINER_HOST) when it is a unix socket, else the engine's default.
func SocketPath(env []string, engine string) string {
	for _, name := range []string{"DOCKER_HOST", "CONTAINER_HOST"} {
		if v, ok := lookup(env, name); ok && strings.HasPrefix(v, "unix://") {
			return strings.TrimPrefix(v, "unix://")
		}
	}
	if strings.Contains(engine, "podman") {
		if os.Getuid() == 0 {
			return "/run/podman/podman.sock"
		}
		dir, ok := lookup(env, "XDG_RUNTIME_DIR")
		if !ok || dir == "" {
			dir = "/run/user/" + strconv.Itoa(os.Getuid())
		}
		return filepath.Join(dir, "podman", "podman.sock")
	}
	return "/var/run/docker.sock"
}

// socketGroup returns the group owning the socket: the container's user
// joins it (--group-add) to use the socket without being root.
func socketGroup(path string) (int, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Gid), true
}
