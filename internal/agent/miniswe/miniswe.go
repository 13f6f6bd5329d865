// Package miniswe runs mini-SWE-agent's `mini` command headless (yolo
// mode, no confirmation at the end) under perfbench's process contract:
//
//	mini -t <task text> -y --exit-immediately [-m M] -l <max_budget_usd, 0 = none>
//	    -o <out>/trajectory.json -c <base config> [-c agent.step_limit=N] [extra_args...]
//
// `mini` takes the task only as text (-t/--task; without it, it prompts),
// so the rendered task file's content is an argument: visible in the
// process list and limited by the kernel to 128 KiB. -l/--cost-limit is
// mini's own USD cap ("Set to 0 to disable"): perfbench passes
// max_budget_usd, or 0 when none is set, which lifts mini's default cap of
// $3 so that every agent runs under the same limits; the harness also
// watches the streamed cost. mini has no step-limit flag: max_iterations
// becomes the config override agent.step_limit=N, which needs
// mini-swe-agent 2 (several -c specs, key=value); as any -c replaces the
// default config, the base config comes first, always as a path: the
// entry's config_file (copied into the output folder), else
// $MSWEA_MINI_CONFIG_PATH, else mini's builtin mini.yaml (what mini uses
// without -c), found by asking the Python of the mini script
// (<site-packages>/minisweagent/config/mini.yaml). A config spec that is a
// bare name (-c mini.yaml) is looked up in the working directory first
// (config.get_config_path), so it would load a mini.yaml of the
// repository. When the builtin file cannot be found (runtime: container,
// a mini that is not a Python script), no -c is passed, which leaves mini
// its own absolute default; a step limit then needs the name mini.yaml,
// and a workspace with a mini.yaml fails the rollout instead. The journal
// records the base config (details.base_config). The environment gets MSWEA_CONFIGURED=true (no first-run
// setup wizard), MSWEA_VISUAL_MODE_DEFAULT=false (the line-based
// interface, not the full-screen one) and a wide COLUMNS, unless the
// entry's env: sets them.
//
// Read back: while it runs mini prints "mini-swe-agent (step N, $X.XX):"
// before each model message; Stream reports that cost and step count to
// the harness. mini 2 rewrites the trajectory after every step, so it is
// read even after a kill: info.model_stats.instance_cost and api_calls
// (turns), info.exit_status (Submitted, LimitsExceeded, or the name of
// the exception that ended the run), the token usage of every model
// response (messages[].extra.response.usage) and the step and cost limits
// in force (info.config.agent). LimitsExceeded is mapped to max_iterations
// or max_budget_usd by comparing the spend with those limits; so is the
// "Limits exceeded" prompt that older versions print before failing on
// end of input. Exit statuses of LiteLLM exceptions (AuthenticationError,
// RateLimitError after mini's own retries, NotFoundError, ...) make the
// rollout an infrastructure failure.
//
// References:
//
//   - mini usage and command line: https://mini-swe-agent.com/latest/usage/mini/
//   - The run script (flags -t -y -m -l -c -o --exit-immediately):
//     https://github.com/SWE-agent/mini-swe-agent/blob/main/src/minisweagent/run/mini.py
//   - Config specs (file names, key=value): https://github.com/SWE-agent/mini-swe-agent/blob/main/src/minisweagent/config/__init__.py
//   - The agent loop, limits, trajectory: https://github.com/SWE-agent/mini-swe-agent/blob/main/src/minisweagent/agents/default.py
//   - The interactive agent (step lines, limits prompt): https://github.com/SWE-agent/mini-swe-agent/blob/main/src/minisweagent/agents/interactive.py
//   - Model retries and cost tracking: https://github.com/SWE-agent/mini-swe-agent/blob/main/src/minisweagent/models/litellm_model.py
//   - Global configuration (MSWEA_* variables): https://mini-swe-agent.com/latest/advanced/global_configuration/
//   - v2 changes (config merging, trajectory format): https://mini-swe-agent.com/latest/advanced/v2_migration/
package miniswe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
)

// Kind is mini-SWE-agent's descriptor, listed in internal/agent/all.
var Kind = agent.Kind{
	AgentKind:  config.AgentKind{Type: "mini_swe_agent", NewOptions: func() any { return new(agent.ConfigFileOption) }},
	DefaultCLI: DefaultCLI,
	New:        func(a *config.Agent, _ agent.Host) (agent.Adapter, error) { return New(a) },
	Checked: agent.Versions{Min: "2.4.0", Max: "2.4", Probe: func(*config.Agent, agent.Probes) agent.VersionProbe {
		return agent.VersionProbe{None: "mini has no --version: not asked; each rollout records details.mini_version"}
	}},
	Recipe: Recipe,
}

// RecipeVersion is the mini-swe-agent release the agent image installs.
const RecipeVersion = "2.4.4"

// Recipe installs mini-swe-agent, pinned, into its own Python 3.12
// environment in /opt/perfbench/mini_swe_agent (its documented pip/uv
// install, in a venv of its own).
func Recipe() envbuild.Recipe {
	return agent.PythonRecipe(agent.PythonInstall{
		Type: "mini_swe_agent", Version: RecipeVersion,
		Requirement: "mini-swe-agent==" + RecipeVersion,
		Executables: []string{DefaultCLI},
	})
}

// DefaultCLI is the executable when the entry sets no cli:.
const DefaultCLI = "mini"

// Files in the private output folder.
const (
	TrajectoryFile = "trajectory.json"
	// ConfigCopy is the entry's config_file, copied so that the agent
	// can read it in any runtime.
	ConfigCopy = "mini_swe_agent_config.yaml"
)

// DefaultConfigSpec is mini's default config, named as -c takes it.
const DefaultConfigSpec = "mini.yaml"

// MaxTaskBytes bounds the task text: Linux limits one argument to 128 KiB
// with its terminating NUL (MAX_ARG_STRLEN).
const MaxTaskBytes = 128 << 10

// Columns is the terminal width mini is told (COLUMNS).
const Columns = "4096"

// Adapter runs mini for one agent entry.
type Adapter struct{ a *config.Agent }

// New returns the adapter of a mini_swe_agent entry.
func New(a *config.Agent) (*Adapter, error) { return &Adapter{a: a}, nil }

func (ad *Adapter) cli() string {
	if ad.a.CLI != "" {
		return ad.a.CLI
	}
	return DefaultCLI
}

func formatUSD(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Command returns the argv of a rollout. Without a prompt (--dry-run) the
// task argument is a placeholder.
func (ad *Adapter) Command(r *agent.Rollout) ([]string, error) {
	task := r.Prompt
	if task == "" {
		task = "<contents of " + r.TaskFile + ">"
	}
	builtin := ""
	if ad.a.Runtime != agent.RuntimeContainer {
		// --dry-run starts nothing: Run asks mini's Python.
		builtin = BuiltinPlaceholder
	}
	return ad.argv(r, task, builtin), nil
}

// BuiltinPlaceholder stands for the builtin config's path in --dry-run.
const BuiltinPlaceholder = "<minisweagent>/config/mini.yaml"

// argv is the command line; builtin is mini's builtin config ("" when
// unknown).
func (ad *Adapter) argv(r *agent.Rollout, task, builtin string) []string {
	argv := []string{ad.cli(), "-t", task, "-y", "--exit-immediately"}
	if ad.a.Model != "" {
		argv = append(argv, "-m", ad.a.Model)
	}
	argv = append(argv, "-l", formatUSD(r.Limits.MaxBudgetUSD), "-o", filepath.Join(r.OutDir, TrajectoryFile))
	for _, spec := range ad.configSpecs(r, builtin) {
		argv = append(argv, "-c", spec)
	}
	return append(argv, ad.a.ExtraArgs...)
}

// configSpecs are the -c values: the base config, then the step limit.
func (ad *Adapter) configSpecs(r *agent.Rollout, builtin string) []string {
	base := ad.baseConfig(r, builtin)
	n := r.Limits.MaxIterations
	if base == "" && n > 0 {
		base = DefaultConfigSpec
	}
	var specs []string
	if base != "" {
		specs = append(specs, base)
	}
	if n > 0 {
		specs = append(specs, "agent.step_limit="+strconv.Itoa(n))
	}
	return specs
}

// baseConfig is the config file mini would use without -c, as a path:
// config_file's copy, $MSWEA_MINI_CONFIG_PATH, or the builtin mini.yaml;
// "" when none is known.
func (ad *Adapter) baseConfig(r *agent.Rollout, builtin string) string {
	if agent.ConfigFile(ad.a) != "" {
		return filepath.Join(r.OutDir, ConfigCopy)
	}
	if v := envValue(r.Env, "MSWEA_MINI_CONFIG_PATH"); v != "" {
		return v
	}
	return builtin
}

func envValue(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return ""
}

var pythonRE = regexp.MustCompile(`^python[0-9.]*$`)

// findSpecScript prints the minisweagent package's directory without
// importing it (which would print mini's banner and read its .env).
const findSpecScript = `import importlib.util as u; print(u.find_spec("minisweagent").submodule_search_locations[0])`

// BuiltinConfig finds mini's builtin mini.yaml on the host: the mini
// script (cli, looked up in env's PATH) names its Python on its #! line,
// which tells where the minisweagent package is.
func BuiltinConfig(ctx context.Context, cli string, env []string) (string, error) {
	path, err := proc.LookPath(cli, env)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	line, err := bufio.NewReader(io.LimitReader(f, 512)).ReadString('\n')
	f.Close()
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(fields) == 0 || (err != nil && err != io.EOF) {
		return "", fmt.Errorf("%s is not a script with a #! line", path)
	}
	python := fields[0]
	if filepath.Base(python) == "env" && len(fields) > 1 {
		if python, err = proc.LookPath(fields[1], env); err != nil {
			return "", err
		}
	}
	if !pythonRE.MatchString(filepath.Base(python)) {
		return "", fmt.Errorf("%s runs %s, not a Python", path, python)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", findSpecScript)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: finding the minisweagent package: %w", python, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	cfg := filepath.Join(dir, "config", DefaultConfigSpec)
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%s: the minisweagent package is at %q, not an absolute path", python, dir)
	}
	if fi, err := os.Stat(cfg); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("no builtin config %s", cfg)
	}
	return cfg, nil
}

// env is the rollout's environment with mini's headless settings.
func (ad *Adapter) env(r *agent.Rollout) []string {
	env := r.Env
	for _, kv := range [][2]string{{"MSWEA_CONFIGURED", "true"}, {"MSWEA_VISUAL_MODE_DEFAULT", "false"}, {"COLUMNS", Columns}} {
		env = agent.SetEnvDefault(env, ad.a.Env, kv[0], kv[1])
	}
	return env
}

// Run performs one rollout.
func (ad *Adapter) Run(ctx context.Context, r *agent.Rollout) (*agent.Outcome, error) {
	task := r.Prompt
	if task == "" {
		b, err := os.ReadFile(r.TaskFile)
		if err != nil {
			return nil, fmt.Errorf("mini_swe_agent: task file: %w", err)
		}
		task = string(b)
	}
	rr := *r
	rr.Env = ad.env(r)
	var builtin string
	var builtinErr error
	if agent.ConfigFile(ad.a) == "" && envValue(r.Env, "MSWEA_MINI_CONFIG_PATH") == "" && ad.a.Runtime != agent.RuntimeContainer {
		builtin, builtinErr = BuiltinConfig(ctx, ad.cli(), rr.Env)
	}
	argv := ad.argv(r, task, builtin)
	specs := ad.configSpecs(r, builtin)
	if len(specs) > 0 && specs[0] == DefaultConfigSpec {
		// Looked up in the working directory first: a repository's own
		// mini.yaml would replace mini's config.
		if _, err := os.Lstat(filepath.Join(r.Workspace, DefaultConfigSpec)); err == nil {
			why := "the path of mini's builtin config is unknown with runtime: container"
			if builtinErr != nil {
				why = "the path of mini's builtin config is unknown: " + builtinErr.Error()
			}
			return &agent.Outcome{
				Command: r.Secrets.RedactArgv(argv), Failed: true,
				Reason: fmt.Sprintf("the workspace has a %s, which mini would load in place of its own config for -c %s (%s); set config_file:", DefaultConfigSpec, DefaultConfigSpec, why),
			}, nil
		}
	}
	if len(task) >= MaxTaskBytes {
		return &agent.Outcome{
			Command: r.Secrets.RedactArgv(argv), Failed: true,
			Reason: fmt.Sprintf("the task text is %d bytes: mini takes it as one argument, which Linux limits to %d bytes", len(task), MaxTaskBytes-1),
		}, nil
	}
	if fail := agent.CopyConfigFile(r, ad.a, filepath.Join(r.OutDir, ConfigCopy), argv); fail != nil {
		return fail, nil
	}
	model := ad.a.Model
	st := NewStream(func(u records.Usage) records.Usage { return agent.PriceMissingCost(r.Bench, model, u) }, r.ReportUsage)
	lw := &agent.LineWriter{W: r.Stdout, Fn: st.Line}
	rr.Stdout = lw
	out, err := agent.RunProcess(ctx, &rr, argv, nil)
	lw.Close()
	if err != nil {
		return nil, err
	}
	if len(specs) > 0 && !strings.Contains(specs[0], "=") {
		out.SetDetail("base_config", r.Secrets.ScrubString(specs[0]))
	}
	if builtinErr != nil {
		out.SetDetail("builtin_config_error", r.Secrets.ScrubString(builtinErr.Error()))
	}
	ad.finish(r, out, st)
	return out, nil
}

// finish fills the outcome from the trajectory, or from the stream when
// mini wrote none.
func (ad *Adapter) finish(r *agent.Rollout, out *agent.Outcome, st *Stream) {
	endedByItself := out.Process != nil && !out.Process.TimedOut && !out.Process.Stopped
	sum := st.Summary()
	path := filepath.Join(r.OutDir, TrajectoryFile)
	t, terr := ReadTrajectory(path)
	var u records.Usage
	switch {
	case terr == nil:
		u = t.Usage()
		// mini saves the trajectory at the end of a step: stopped in the
		// middle of one, the step line printed is ahead of it.
		if sum.Usage.Turns > u.Turns {
			u.Turns = sum.Usage.Turns
			u.CostUSD = max(u.CostUSD, sum.Usage.CostUSD)
			u.Source = SourceTrajectoryAndStdout
		}
	case os.IsNotExist(terr):
		u = sum.Usage
	default:
		out.SetDetail("trajectory_error", r.Secrets.ScrubString(terr.Error()))
		u = sum.Usage
	}
	out.Trajectory = trajectory(r, t, terr)
	u = agent.PriceMissingCost(r.Bench, ad.a.Model, u)
	if u.Source != "" {
		u.Partial = !endedByItself
	}
	out.Usage = u

	f := Facts{Stream: sum}
	if terr == nil {
		f.Trajectory = t
	}
	for k, v := range f.Details(r.Secrets.ScrubString) {
		out.SetDetail(k, v)
	}
	out.LimitsHit = append(out.LimitsHit, f.LimitsHit(r.Limits)...)
	if endedByItself && out.Infra == nil {
		if ie := f.Infra(); ie != nil {
			ie.Msg = r.Secrets.ScrubString(ie.Msg)
			out.Infra = ie
		}
	}
}
