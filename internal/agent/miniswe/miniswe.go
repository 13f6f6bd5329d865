// Package miniswe runs mini-SWE-agent's `mini` command headless (yolo
// mode, no confirmation at the end) under perfbench's process contract:
//
//	mini -t <task text> -y --exit-immediately [-m M] -l <max_budget_usd, 0 = none>
//	    -o <out>/trajectory.json [-c <base config> -c agent.step_limit=N] [extra_args...]
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
// default config, the base config comes first: the entry's config_file
// (copied into the output folder), else $MSWEA_MINI_CONFIG_PATH, else
// mini.yaml. The environment gets MSWEA_CONFIGURED=true (no first-run
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
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
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
	return ad.argv(r, task), nil
}

func (ad *Adapter) argv(r *agent.Rollout, task string) []string {
	argv := []string{ad.cli(), "-t", task, "-y", "--exit-immediately"}
	if ad.a.Model != "" {
		argv = append(argv, "-m", ad.a.Model)
	}
	argv = append(argv, "-l", formatUSD(r.Limits.MaxBudgetUSD), "-o", filepath.Join(r.OutDir, TrajectoryFile))
	for _, spec := range ad.configSpecs(r) {
		argv = append(argv, "-c", spec)
	}
	return append(argv, ad.a.ExtraArgs...)
}

// configSpecs are the -c values: the base config, then the step limit.
func (ad *Adapter) configSpecs(r *agent.Rollout) []string {
	var specs []string
	if agent.ConfigFile(ad.a) != "" {
		specs = append(specs, filepath.Join(r.OutDir, ConfigCopy))
	}
	if n := r.Limits.MaxIterations; n > 0 {
		if len(specs) == 0 {
			specs = append(specs, defaultSpec(r.Env))
		}
		specs = append(specs, "agent.step_limit="+strconv.Itoa(n))
	}
	return specs
}

// defaultSpec is the config mini uses without -c.
func defaultSpec(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "MSWEA_MINI_CONFIG_PATH="); ok && v != "" {
			return v
		}
	}
	return DefaultConfigSpec
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
	argv := ad.argv(r, task)
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
	rr := *r
	rr.Stdout = lw
	rr.Env = ad.env(r)
	out, err := agent.RunProcess(ctx, &rr, argv, nil)
	lw.Close()
	if err != nil {
		return nil, err
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
