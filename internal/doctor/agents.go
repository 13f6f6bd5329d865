package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/perfbench/perfbench/internal/agent/openhands"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/textx"
)

// envMap is the environment the checks see: Input.Env, or the process's
// plus .env (the process wins, as for the agents).
func envMap(in Input) map[string]string {
	m := map[string]string{}
	if in.Env == nil {
		if in.Bench != nil {
			for k, v := range in.Bench.Env {
				m[k] = v
			}
		}
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	for _, kv := range in.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// agentChecks are the checks of what the agents need: the one prepare
// will run, or every entry in doctor without an agent.
func agentChecks(in Input) []Check {
	agents := []*config.Agent{in.Agent}
	if in.Agent == nil && in.Bench != nil {
		agents = in.Bench.Agents.Entries
	}
	env := envMap(in)
	// The mode switches (OPENHANDS_CONTAINER_IMAGE, OPENHANDS_CLI) are
	// read as the adapter reads them: from the process environment and
	// the entry's env:.
	lookup := os.LookupEnv
	var checks []Check
	seen := map[string]bool{}
	add := func(c Check) {
		if !seen[c.Name] {
			seen[c.Name] = true
			checks = append(checks, c)
		}
	}
	engineName := "docker"
	if in.Bench != nil && in.Bench.Container.Engine != "" {
		engineName = in.Bench.Container.Engine
	}
	eng := container.NewEngine(engineName)
	var model string
	llm := false
	for _, a := range agents {
		if a != nil {
			for _, c := range commonAgentChecks(a, in.Bench, eng, engineName, env) {
				add(c)
			}
		}
		if a == nil || a.Type != config.TypeOpenHands {
			continue
		}
		llm = true
		if model == "" {
			model = a.Model
		}
		s, err := openhands.Resolve(a, lookup)
		if err != nil {
			add(Check{Name: "agent " + a.Name + ": mode", Preflight: true, Run: fail(err.Error())})
			continue
		}
		if s.Mode == openhands.ModeDocker || s.SandboxRuntime == "docker" {
			add(Check{Name: "container engine (" + engineName + ")", Preflight: true, Run: func(ctx context.Context) Result { return checkEngine(ctx, eng) }})
		}
		if f := a.ConfigFile; f != "" {
			path := f
			if !filepath.IsAbs(path) && in.Bench != nil {
				path = filepath.Join(in.Bench.Dir, path)
			}
			add(Check{Name: "agent " + a.Name + ": config_file", Preflight: true, Run: func(context.Context) Result {
				if _, err := os.Stat(path); err != nil {
					return Result{Detail: err.Error()}
				}
				return Result{OK: true, Detail: path}
			}})
		}
		if s.Mode == openhands.ModeDocker {
			add(Check{Name: "image " + s.Image, Preflight: true, Run: func(ctx context.Context) Result { return checkImage(ctx, eng, s.Image) }})
		}
		switch s.Mode {
		case openhands.ModeUVX:
			add(Check{Name: "uvx (" + s.CLI + ")", Preflight: true, Run: func(ctx context.Context) Result { return checkUVX(ctx, s.CLI, env) }})
		case openhands.ModePython:
			add(Check{Name: "python with openhands (" + s.CLI + ")", Preflight: true, Run: func(ctx context.Context) Result { return checkPython(ctx, s.CLI, env) }})
		}
		if s.SandboxRuntime == "docker" {
			if s.RuntimeImage != "" {
				add(Check{Name: "runtime image " + s.RuntimeImage, Preflight: true, Run: func(ctx context.Context) Result { return checkImage(ctx, eng, s.RuntimeImage) }})
			}
			add(Check{Name: "docker socket (sandbox_runtime: docker)", Preflight: true, Run: func(context.Context) Result { return checkSocket(env, engineName) }})
		}
	}
	if llm {
		client := in.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: LLMTimeout}
		}
		add(Check{Name: "LLM credentials", Preflight: true, Run: func(ctx context.Context) Result { return checkLLM(ctx, client, env, model) }})
	}
	return checks
}

// DefaultCLI is the executable each agent type runs when cli: is not set.
var DefaultCLI = map[string]string{
	config.TypeClaudeCode:   "claude",
	config.TypeCodex:        "codex",
	config.TypeTrae:         "trae-cli",
	config.TypeAider:        "aider",
	config.TypeMiniSWEAgent: "mini",
}

// commonAgentChecks are what every entry needs: its image and the engine
// with runtime: container, otherwise its executable on PATH; and the
// home_files it copies into each rollout's fresh HOME.
func commonAgentChecks(a *config.Agent, b *config.Bench, eng *container.Engine, engineName string, env map[string]string) []Check {
	var out []Check
	benchDir := ""
	if b != nil {
		benchDir = b.Dir
	}
	if a.Type == config.TypeOpenHands {
		// Its modes have their own checks.
	} else if a.Runtime == "container" && a.Image == "" {
		out = append(out, Check{Name: "agent " + a.Name + ": image", Run: func(context.Context) Result {
			return Result{OK: true, Detail: "none set: prepare uses the task's environment.image"}
		}})
	} else if a.Runtime == "container" {
		out = append(out,
			Check{Name: "container engine (" + engineName + ")", Preflight: true, Run: func(ctx context.Context) Result { return checkEngine(ctx, eng) }},
			Check{Name: "image " + a.Image, Preflight: true, Run: func(ctx context.Context) Result { return checkImage(ctx, eng, a.Image) }})
	} else {
		exe := a.CLI
		if exe == "" {
			exe = DefaultCLI[a.Type]
		}
		if exe == "" && a.Type == config.TypeCommand && len(a.Command) > 0 {
			exe = a.Command[0]
		}
		if a.Type == config.TypeTrae && a.CLI != "" && !filepath.IsAbs(exe) && strings.Contains(exe, "/") && benchDir != "" {
			// trae's cli: (the seed's ../bench-env/bin/python) is
			// relative to bench.yaml.
			exe = filepath.Join(benchDir, exe)
		}
		// A relative path is relative to the workspace, which does not
		// exist yet: nothing to check.
		if exe != "" && !strings.Contains(exe, "{") && (filepath.IsAbs(exe) || !strings.Contains(exe, "/")) {
			out = append(out, Check{Name: "agent " + a.Name + ": " + exe, Preflight: true, Run: func(context.Context) Result { return checkExecutable(exe, env) }})
		}
	}
	if f := a.ConfigFile; f != "" && a.Type != config.TypeOpenHands {
		path := f
		if !filepath.IsAbs(path) && benchDir != "" {
			path = filepath.Join(benchDir, path)
		}
		out = append(out, Check{Name: "agent " + a.Name + ": config_file", Preflight: true, Run: func(context.Context) Result {
			if _, err := os.Stat(path); err != nil {
				return Result{Detail: err.Error()}
			}
			return Result{OK: true, Detail: path}
		}})
	}
	// Without a model here, the agent's own configuration picks it: unknown.
	if tokenPriced[a.Type] && b != nil && a.Model != "" && (a.Limits.MaxBudgetUSD > 0 || b.MaxTotalBudgetUSD > 0) {
		out = append(out, Check{Name: "agent " + a.Name + ": price of " + orNone(a.Model), Preflight: true, Run: func(context.Context) Result { return checkPrice(a, b) }})
	}
	if len(a.HomeFiles) > 0 {
		out = append(out, Check{Name: "agent " + a.Name + ": home_files", Preflight: true, Run: func(context.Context) Result { return checkHomeFiles(a.HomeFiles) }})
	}
	return out
}

// tokenPriced are the agents that report tokens but no cost: their spend
// is priced with bench.yaml's prices:.
var tokenPriced = map[string]bool{config.TypeCodex: true, config.TypeTrae: true}

func orNone(s string) string {
	if s == "" {
		return "(no model)"
	}
	return s
}

// checkPrice fails when a budget is set for an agent whose spend can only
// be priced from prices: and its model has no price: the cap could never
// fire.
func checkPrice(a *config.Agent, b *config.Bench) Result {
	m := a.Model
	if _, ok := b.Prices[m]; ok {
		return Result{OK: true, Detail: m}
	}
	if i := strings.LastIndex(m, "/"); i >= 0 {
		if _, ok := b.Prices[m[i+1:]]; ok {
			return Result{OK: true, Detail: m[i+1:]}
		}
	}
	return Result{Detail: fmt.Sprintf("a budget is set but prices: has no entry for model %q: %s reports tokens only, so its spend would count as $0 and the cap could never fire", m, a.Type)}
}

// checkExecutable finds a program as the agent's process would: a path
// as is, a bare name on PATH.
func checkExecutable(exe string, env map[string]string) Result {
	if strings.Contains(exe, "/") {
		st, err := os.Stat(exe)
		if err != nil {
			return Result{Detail: err.Error()}
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return Result{Detail: exe + " is not an executable file"}
		}
		return Result{OK: true, Detail: exe}
	}
	for _, dir := range filepath.SplitList(env["PATH"]) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, exe)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return Result{OK: true, Detail: p}
		}
	}
	return Result{Detail: exe + " not found on PATH (install it, or set the entry's cli:)"}
}

// checkHomeFiles checks that the files copied into every fresh HOME exist.
func checkHomeFiles(files []string) Result {
	home, err := os.UserHomeDir()
	if err != nil {
		return Result{Detail: err.Error()}
	}
	var missing []string
	for _, f := range files {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(home, f)
		}
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return Result{Detail: "missing: " + strings.Join(missing, ", ")}
	}
	return Result{OK: true, Detail: strings.Join(files, ", ")}
}

func fail(detail string) func(context.Context) Result {
	return func(context.Context) Result { return Result{Detail: detail} }
}

func checkEngine(ctx context.Context, e *container.Engine) Result {
	v, err := e.ServerVersion(ctx)
	if err != nil {
		var nf *exec.Error
		if errors.As(err, &nf) {
			return Result{Detail: fmt.Sprintf("%s is not installed (not on PATH)", e.Bin)}
		}
		return Result{Detail: fmt.Sprintf("the %s daemon does not answer: %v", e.Bin, err)}
	}
	return Result{OK: true, Detail: fmt.Sprintf("%s server %s", e.Bin, v)}
}

func checkImage(ctx context.Context, e *container.Engine, ref string) Result {
	img, err := e.InspectImage(ctx, ref)
	if err != nil {
		if errors.Is(err, container.ErrNoImage) {
			return Result{Detail: fmt.Sprintf("not present locally; run `%s pull %s` (perfbench never pulls)", e.Bin, ref)}
		}
		return Result{Detail: err.Error()}
	}
	detail := img.ID
	if d := img.Digest(); d != "" {
		detail += " (" + d + ")"
	}
	return Result{OK: true, Detail: detail}
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

func checkUVX(ctx context.Context, cli string, env map[string]string) Result {
	out, err := runCLI(ctx, env, cli, "--version")
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return Result{Detail: cli + " is not installed (see https://docs.astral.sh/uv/)"}
	}
	if err != nil {
		return Result{Detail: fmt.Sprintf("%s --version: %v %s", cli, err, textx.FirstLine(out))}
	}
	return Result{OK: true, Detail: textx.FirstLine(out) + " (openhands-ai is fetched by uvx on first use)"}
}

func checkPython(ctx context.Context, cli string, env map[string]string) Result {
	out, err := runCLI(ctx, env, cli, "-c", "import importlib.util, sys; print(sys.version.split()[0]); sys.exit(0 if importlib.util.find_spec('openhands') else 3)")
	var xe *exec.ExitError
	switch {
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist):
		return Result{Detail: cli + " is not installed"}
	case err == nil:
		return Result{OK: true, Detail: "Python " + textx.FirstLine(out) + ", openhands importable"}
	case errors.As(err, &xe) && xe.ExitCode() == 3:
		return Result{Detail: fmt.Sprintf("Python %s has no openhands package (pip install openhands-ai)", textx.FirstLine(out))}
	}
	return Result{Detail: fmt.Sprintf("%s: %v %s", cli, err, textx.FirstLine(out))}
}

func checkSocket(env map[string]string, engine string) Result {
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	path := openhands.SocketPath(list, engine)
	fi, err := os.Stat(path)
	if err != nil {
		return Result{Detail: fmt.Sprintf("%s: %v", path, err)}
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return Result{Detail: path + " is not a socket"}
	}
	gid := -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		gid = int(st.Gid)
	}
	return Result{OK: true, Detail: fmt.Sprintf("%s (group %d); mounted into the agent's container, it gives root on this host", path, gid)}
}
