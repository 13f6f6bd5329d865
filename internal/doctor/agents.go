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

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
)

// envMap is the environment the checks see: Input.Env.
func envMap(in Input) map[string]string {
	m := map[string]string{}
	for _, kv := range in.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// agentChecks are the checks of what the agents need: the one prepare
// will run, or every entry in doctor without an agent. Each entry's kind
// (Input.Kinds) may bring its own checks of how it runs.
func agentChecks(in Input) []Check {
	agents := []*config.Agent{in.Agent}
	if in.Agent == nil && in.Bench != nil {
		agents = in.Bench.Agents.Entries
	}
	env := envMap(in)
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
	lookup := in.LookupEnv
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	probes := agent.Probes{
		Bench: in.Bench, Env: env, Lookup: lookup, EngineName: engineName,
		Engine: func() agent.Check { return engineCheck(eng, engineName) },
		Image:  func(ref string) agent.Check { return imageCheck(eng, ref) },
		ConfigFile: func(a *config.Agent) agent.Check {
			return configFileCheck(a, in.Bench)
		},
		LLM: func(m string) {
			llm = true
			if model == "" {
				model = m
			}
		},
	}
	for _, a := range agents {
		if a == nil {
			continue
		}
		kind, _ := agent.Find(in.Kinds, a.Type)
		for _, c := range commonAgentChecks(a, kind, in.Bench, eng, engineName, env) {
			add(c)
		}
		if kind.Checks != nil {
			for _, c := range kind.Checks(a, probes) {
				add(fromAgent(c))
			}
		}
		if c, ok := versionCheck(a, kind, probes); ok {
			add(c)
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

// fromAgent is an adapter's check as doctor runs it.
func fromAgent(c agent.Check) Check {
	return Check{Name: c.Name, Preflight: c.Preflight, Run: func(ctx context.Context) Result {
		r := c.Run(ctx)
		return Result{OK: r.OK, Detail: r.Detail}
	}}
}

// toAgent is a doctor check as an adapter's Checks reuse it.
func toAgent(c Check) agent.Check {
	return agent.Check{Name: c.Name, Preflight: c.Preflight, Run: func(ctx context.Context) agent.CheckResult {
		r := c.Run(ctx)
		return agent.CheckResult{OK: r.OK, Detail: r.Detail}
	}}
}

func engineCheck(eng *container.Engine, engineName string) agent.Check {
	return toAgent(Check{Name: "container engine (" + engineName + ")", Preflight: true, Run: func(ctx context.Context) Result { return checkEngine(ctx, eng) }})
}

func imageCheck(eng *container.Engine, ref string) agent.Check {
	return toAgent(Check{Name: "image " + ref, Preflight: true, Run: func(ctx context.Context) Result { return checkImage(ctx, eng, ref) }})
}

// configFileCheck checks that an entry's config_file (relative to
// bench.yaml) exists.
func configFileCheck(a *config.Agent, b *config.Bench) agent.Check {
	path := agent.ConfigFile(a)
	if !filepath.IsAbs(path) && b != nil && b.Dir != "" {
		path = filepath.Join(b.Dir, path)
	}
	return toAgent(Check{Name: "agent " + a.Name + ": config_file", Preflight: true, Run: func(context.Context) Result {
		if _, err := os.Stat(path); err != nil {
			return Result{Detail: err.Error()}
		}
		return Result{OK: true, Detail: path}
	}})
}

// commonAgentChecks are what every entry needs: unless its kind checks
// how it runs itself, its image and the engine with runtime: container,
// otherwise its executable on PATH, and its config_file; and the
// home_files it copies into each rollout's fresh HOME.
func commonAgentChecks(a *config.Agent, kind agent.Kind, b *config.Bench, eng *container.Engine, engineName string, env map[string]string) []Check {
	var out []Check
	switch {
	case kind.Checks != nil:
		// Its Checks cover how it runs.
	case a.Runtime == "container" && a.Image == "":
		out = append(out, Check{Name: "agent " + a.Name + ": image", Run: func(context.Context) Result {
			return Result{OK: true, Detail: "none set: prepare uses the task's environment.image"}
		}})
	case a.Runtime == "container":
		out = append(out, fromAgent(engineCheck(eng, engineName)), fromAgent(imageCheck(eng, a.Image)))
	default:
		exe := cmpOr(a.CLI, kind.DefaultCLI)
		if kind.Executable != nil {
			exe = kind.Executable(a, b)
		}
		// A relative path is relative to the workspace, which does not
		// exist yet: nothing to check.
		if exe != "" && !strings.Contains(exe, "{") && (filepath.IsAbs(exe) || !strings.Contains(exe, "/")) {
			out = append(out, Check{Name: "agent " + a.Name + ": " + exe, Preflight: true, Run: func(context.Context) Result { return checkExecutable(exe, env) }})
		}
	}
	if agent.ConfigFile(a) != "" && kind.Checks == nil {
		out = append(out, fromAgent(configFileCheck(a, b)))
	}
	// Without a model here, the agent's own configuration picks it: unknown.
	if kind.TokenPriced && b != nil && a.Model != "" && (a.Limits.MaxBudgetUSD > 0 || b.MaxTotalBudgetUSD > 0) {
		out = append(out, Check{Name: "agent " + a.Name + ": price of " + orNone(a.Model), Preflight: true, Run: func(context.Context) Result { return checkPrice(a, b) }})
	}
	if len(a.HomeFiles) > 0 {
		out = append(out, Check{Name: "agent " + a.Name + ": home_files", Preflight: true, Run: func(context.Context) Result { return checkHomeFiles(a.HomeFiles, env["HOME"]) }})
	}
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

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
	p, err := lookPath(exe, env)
	if err != nil {
		return Result{Detail: err.Error()}
	}
	return Result{OK: true, Detail: p}
}

// lookPath finds exe as the agent's process would: a path as is, a bare
// name on env's PATH (not the harness's).
func lookPath(exe string, env map[string]string) (string, error) {
	if strings.Contains(exe, "/") {
		st, err := os.Stat(exe)
		if err != nil {
			return "", err
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", errors.New(exe + " is not an executable file")
		}
		return exe, nil
	}
	for _, dir := range filepath.SplitList(env["PATH"]) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, exe)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(exe + " not found on PATH (install it, or set the entry's cli:)")
}

// checkHomeFiles checks that the files copied into every fresh HOME exist;
// relative ones are in home, the invoking user's HOME.
func checkHomeFiles(files []string, home string) Result {
	if home == "" {
		return Result{Detail: "HOME is not set: cannot find " + strings.Join(files, ", ")}
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
