// Package codex runs OpenAI's Codex CLI headless (`codex exec`) under
// perfbench's process contract:
//
//	codex exec --json --cd <workspace> --skip-git-repo-check [--model M]
//	    --sandbox workspace-write [--profile P] [extra_args...] -
//
// The prompt (the task file's content) goes to stdin: "-" tells codex exec
// to read it from there, which keeps a large prompt out of the argv and out
// of `ps`. --sandbox is left out when extra_args choose the sandbox
// themselves (--sandbox/-s, --dangerously-bypass-approvals-and-sandbox,
// --yolo), since Codex rejects a repeated flag. --full-auto does not count:
// up to 0.115.0 (read at the release tags) it is an alias that also sets
// workspace-write, so --sandbox beside it is harmless, but later codex-rs
// (commit 02805335a405) keeps it only as a hidden flag that warns, where
// without --sandbox the run would be read-only.
//
// The model (model:, default $LLM_MODEL) is LiteLLM-style; Codex takes
// OpenAI's names, so "openai/gpt-5" is passed as --model gpt-5 and a name
// without a provider as it is. Another provider ("anthropic/...") is
// refused when the entry is loaded (bad input, before any run directory
// exists) unless the entry chooses a model_provider: -c
// model_provider=<id> (or --oss) in extra_args, or a model_provider key in
// config_file (or in $CODEX_HOME/config.toml when env: sets CODEX_HOME),
// as a profile may. Then "<id>/name" is passed as name and any other name
// as it is (an OpenRouter-style "anthropic/claude-..."). The journal's
// details keep both names (configured_model, mapped_model).
//
// CODEX_HOME is the rollout's fresh HOME/.codex (created, as Codex requires)
// unless the entry's env: sets it: auth.json (home_files:
// [.codex/auth.json]), config.toml (config_file: is copied there) and the
// session logs live there, so nothing carries over between rollouts.
//
// Codex has no flag for a turn or cost limit. max_budget_usd is enforced by
// the harness from the usage the adapter reports (agent.Rollout.ReportUsage)
// as Codex runs. max_iterations counts model responses: after the N-th one,
// the adapter stops Codex as soon as it goes on (a tool call starts, a new
// message or reasoning summary arrives, or another response is counted) and
// records limits_hit: max_iterations.
//
// What is read back:
//
//   - stdout, the JSONL events of exec --json (Codex ≥ 0.43): thread.started,
//     turn.started, item.started/updated/completed (agent_message,
//     reasoning, command_execution, file_change, mcp_tool_call, web_search,
//     todo_list, error), turn.completed {usage: input_tokens,
//     cached_input_tokens, output_tokens}, turn.failed {error.message} and
//     error {message}. turn.completed's usage is the thread's running total
//     (usage_from_last_total), so totals are combined by maximum, never
//     summed. The legacy format of earlier versions ({"id", "msg":
//     {"type": "token_count", ...}}) is read too; other lines are counted
//     and skipped.
//   - the session log, $CODEX_HOME/sessions/YYYY/MM/DD/rollout-*-<thread
//     id>.jsonl, followed while Codex runs: its event_msg token_count lines
//     (info.total_token_usage after every model response) give the spend of
//     a running or killed Codex and count the model responses (turns), and
//     turn_context names the model. It is copied to the output folder
//     (out/codex/).
//
// Tokens are priced with bench.yaml's prices: table (agent.PriceUsage;
// cached_input_tokens are part of input_tokens and priced at cached_input).
// A model without a price costs 0 and is named in details.unpriced_model,
// with a warning in codex_stderr.txt. An error or turn.failed that no
// completed turn follows is classified (401/403, 429, usage limits, model
// not found) into an infrastructure failure.
//
// References:
//
//   - Non-interactive mode: https://developers.openai.com/codex/noninteractive
//     and https://github.com/openai/codex/blob/main/docs/exec.md
//   - Flags (--json, --cd, --skip-git-repo-check, --model, --sandbox,
//     --profile, PROMPT "-" = stdin): https://developers.openai.com/codex/cli/reference
//     and https://github.com/openai/codex/blob/main/codex-rs/exec/src/cli.rs
//   - Event schema: https://github.com/openai/codex/blob/main/codex-rs/exec/src/exec_events.rs
//     and its mapping (usage = thread total):
//     https://github.com/openai/codex/blob/main/codex-rs/exec/src/event_processor_with_jsonl_output.rs
//   - The format change from the legacy --json output: https://github.com/openai/codex/pull/4525
//   - Session logs (token_count is persisted):
//     https://github.com/openai/codex/blob/main/codex-rs/core/src/rollout/policy.rs
//   - CODEX_HOME, CODEX_API_KEY: https://developers.openai.com/codex/environment-variables
//   - No turn limit flag yet: https://github.com/openai/codex/issues/33294
package codex

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
)

// Kind is Codex's descriptor, listed in internal/agent/all; codex_cli is
// the seed's name for it.
var Kind = agent.Kind{
	AgentKind: config.AgentKind{
		Type: "codex", Aliases: []string{"codex_cli"},
		NewOptions: func() any { return new(Options) },
	},
	DefaultCLI:  DefaultCLI,
	TokenPriced: true,
	New:         func(a *config.Agent, _ agent.Host) (agent.Adapter, error) { return New(a) },
	// The exec flags, the exec --json events and the session log were
	// read at every release tag from rust-v0.43.0 to rust-v0.115.0
	// (docs/agents/compatibility.md).
	Checked: agent.Versions{Min: "0.43.0", Max: "0.115"},
	Recipe:  Recipe,
}

// RecipeVersion is the Codex release (GitHub tag rust-v<version>) the
// agent image installs: the last of the checked releases.
const RecipeVersion = "0.115.0"

// Recipe installs Codex's statically linked (musl) release binary for
// the build's architecture into /opt/perfbench/codex: no Node needed,
// but curl and tar in the environment image. The release asset
// codex-<arch>-unknown-linux-musl.tar.gz holds the one file
// codex-<arch>-unknown-linux-musl (rust-release.yml at rust-v0.115.0).
func Recipe() envbuild.Recipe {
	pre := agent.Prefix("codex")
	url := "https://github.com/openai/codex/releases/download/rust-v" + RecipeVersion + "/codex-${arch}-unknown-linux-musl.tar.gz"
	return envbuild.Recipe{
		Agent: "codex", Version: RecipeVersion, Prefix: pre,
		Lines: append([]string{"USER root"}, agent.RunLines(
			agent.Needs("codex", "curl", "tar"),
			`case "$(uname -m)" in x86_64|amd64) arch=x86_64 ;; aarch64|arm64) arch=aarch64 ;; *) echo "perfbench: codex has no release binary for $(uname -m)" >&2; exit 1 ;; esac`,
			"mkdir -p "+envbuild.AgentBin+" "+pre+"/bin",
			`curl -fLsS -o /tmp/perfbench-codex.tar.gz "`+url+`"`,
			"tar -xzf /tmp/perfbench-codex.tar.gz -C "+pre+"/bin",
			"rm -f /tmp/perfbench-codex.tar.gz",
			`mv "`+pre+`/bin/codex-${arch}-unknown-linux-musl" `+pre+"/bin/codex",
			"ln -s "+pre+"/bin/codex "+envbuild.AgentBin+"/codex",
			// The binary runs here and is the pinned release. v= alone
			// would end the build under set -e, without the message,
			// when the binary cannot run (another architecture's).
			`[ "$(`+pre+`/bin/codex --version 2>/dev/null)" = "codex-cli `+RecipeVersion+`" ] || { v="$(`+pre+`/bin/codex --version 2>&1)" || v="(failed: $v)"; echo "perfbench: codex --version says $v, want codex-cli `+RecipeVersion+`" >&2; exit 1; }`,
		)...),
	}
}

// Options are the keys of a codex entry besides the common ones.
type Options struct {
	// ConfigFile is a config.toml copied into the rollout's CODEX_HOME.
	agent.ConfigFileOption
	// Profile is --profile (the seed writes it under args:).
	Profile string `yaml:"profile,args" json:"profile,omitempty"`
}

// DefaultCLI is the executable when the entry sets no cli:.
const DefaultCLI = "codex"

// Sandbox is the --sandbox perfbench passes: Codex may write the workspace
// (and nothing else) and run commands without network.
const Sandbox = "workspace-write"

// OutSubdir is the folder of the private output folder (copied to
// <item>/out/codex/) that receives the session log.
const OutSubdir = "codex"

// pollEvery is how often the session log is read while Codex runs.
const pollEvery = 250 * time.Millisecond

// errMaxIterations is the cause with which the adapter stops Codex.
var errMaxIterations = errors.New(records.LimitMaxIterations + " reached")

// Adapter runs Codex for one agent entry.
type Adapter struct {
	a *config.Agent
	// model is --model: the entry's model in Codex's form (MapModel).
	model string
}

// New returns the adapter of a codex entry.
func New(a *config.Agent) (*Adapter, error) {
	if _, ok := a.Env["CODEX_HOME"]; ok && agent.ConfigFile(a) != "" {
		return nil, badinput.Errorf("agent %s (codex): config_file is copied to the rollout's own CODEX_HOME; it cannot be combined with env: CODEX_HOME (put the configuration in that directory instead)", a.Name)
	}
	model, err := MapModel(a, entryConfig(a))
	if err != nil {
		return nil, err
	}
	return &Adapter{a: a, model: model}, nil
}

// entryConfig is the text of the config.toml the entry's rollouts get
// (config_file, relative to the bench.yaml the entry was loaded from, or
// $CODEX_HOME/config.toml); "" when there is none or it cannot be read
// (doctor and the preflight report a missing config_file).
func entryConfig(a *config.Agent) string {
	f := agent.ConfigFile(a)
	if f != "" && !filepath.IsAbs(f) {
		if a.Pos.File == "" {
			return ""
		}
		f = filepath.Join(filepath.Dir(a.Pos.File), f)
	}
	if h, ok := a.Env["CODEX_HOME"]; ok && f == "" && h != "" {
		f = filepath.Join(h, "config.toml")
	}
	if f == "" {
		return ""
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return ""
	}
	return string(data)
}

// modelProviderRE finds model_provider keys in a config.toml (top level or
// a profile's) or a -c override, with the provider id.
var modelProviderRE = regexp.MustCompile(`(?m)^\s*model_provider\s*=\s*["']?([A-Za-z0-9_.-]*)`)

// MapModel maps an entry's model to Codex's --model (see the package
// comment); config is the text of the entry's config.toml.
func MapModel(a *config.Agent, config string) (string, error) {
	provider, name := agent.SplitModel(a.Model)
	if provider == "" {
		return a.Model, nil
	}
	var ids []string
	chosen := agent.HasFlag(a.ExtraArgs, "--oss")
	for i, arg := range a.ExtraArgs {
		if arg == "--" {
			break
		}
		v, isConfig := "", false
		switch {
		case (arg == "-c" || arg == "--config") && i+1 < len(a.ExtraArgs):
			v, isConfig = a.ExtraArgs[i+1], true
		case strings.HasPrefix(arg, "--config="):
			v, isConfig = strings.TrimPrefix(arg, "--config="), true
		case strings.HasPrefix(arg, "-c") && len(arg) > 2:
			v, isConfig = strings.TrimPrefix(strings.TrimPrefix(arg, "-c"), "="), true
		}
		if m := modelProviderRE.FindStringSubmatch(v); isConfig && m != nil {
			chosen, ids = true, append(ids, m[1])
		}
	}
	for _, m := range modelProviderRE.FindAllStringSubmatch(config, -1) {
		chosen, ids = true, append(ids, m[1])
	}
	switch {
	case slices.Contains(ids, provider):
		return name, nil
	case chosen:
		return a.Model, nil
	case provider == "openai":
		return name, nil
	}
	return "", badinput.Errorf("agent %s (codex): model %q is not an OpenAI model and Codex takes OpenAI names (openai/gpt-5 is passed as gpt-5); set the entry's model: to one, or choose a model_provider (-c model_provider=<id> in extra_args, or in config_file)", a.Name, a.Model)
}

// sandboxFlags choose Codex's sandbox; with one of them in extra_args,
// perfbench passes no --sandbox. --full-auto is not one (see the package
// comment: after 0.115 it no longer sets the sandbox).
var sandboxFlags = []string{"--sandbox", "-s", "--dangerously-bypass-approvals-and-sandbox", "--yolo"}

func sandboxChosen(extra []string) bool {
	for _, a := range extra {
		if a == "--" {
			return false
		}
		flag, _, _ := strings.Cut(a, "=")
		if slices.Contains(sandboxFlags, flag) || (strings.HasPrefix(a, "-s") && !strings.HasPrefix(a, "--")) {
			return true
		}
	}
	return false
}

// Argv is the command line of a rollout in workspace.
func (ad *Adapter) Argv(workspace string) []string {
	cli := ad.a.CLI
	if cli == "" {
		cli = DefaultCLI
	}
	argv := []string{cli, "exec", "--json", "--cd", workspace, "--skip-git-repo-check"}
	if ad.model != "" {
		argv = append(argv, "--model", ad.model)
	}
	if !sandboxChosen(ad.a.ExtraArgs) {
		argv = append(argv, "--sandbox", Sandbox)
	}
	if p := agent.OptionsOf[Options](ad.a).Profile; p != "" {
		argv = append(argv, "--profile", p)
	}
	argv = append(argv, ad.a.ExtraArgs...)
	return append(argv, "-")
}

// Command returns the argv of a rollout.
func (ad *Adapter) Command(r *agent.Rollout) ([]string, error) { return ad.Argv(r.Workspace), nil }

// ConfigFile returns config_file as an absolute path (relative to
// bench.yaml's directory); "" when not set.
func (ad *Adapter) ConfigFile(b *config.Bench) string {
	return agent.BenchPath(b, agent.ConfigFile(ad.a))
}

// CodexHome is the rollout's CODEX_HOME and whether it is the rollout's
// own (HOME/.codex) rather than the entry's env: CODEX_HOME.
func (ad *Adapter) CodexHome(r *agent.Rollout) (string, bool) {
	if _, ok := ad.a.Env["CODEX_HOME"]; ok {
		if v := lookup(r.Env, "CODEX_HOME"); v != "" {
			return v, false
		}
	}
	home := r.Home
	if home == "" {
		home = lookup(r.Env, "HOME")
	}
	return filepath.Join(home, ".codex"), true
}

func lookup(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}

func setEnv(env []string, name, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

// Run performs one rollout.
func (ad *Adapter) Run(ctx context.Context, r *agent.Rollout) (*agent.Outcome, error) {
	home, private := ad.CodexHome(r)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("codex: CODEX_HOME: %w", err)
	}
	if f := ad.ConfigFile(r.Bench); f != "" {
		data, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(filepath.Join(home, "config.toml"), data, 0o600)
		}
		if err != nil {
			fmt.Fprintf(r.Stderr, "perfbench: config_file: %v\n", err)
			return &agent.Outcome{Failed: true, Reason: "config_file: " + err.Error()}, nil
		}
	}
	rr := *r
	rr.Env = setEnv(r.Env, "CODEX_HOME", home)

	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st := NewStream(r.Limits.MaxIterations, func() { cancel(errMaxIterations) })
	var running atomic.Bool
	running.Store(true)
	report := func(changed bool) {
		if changed && running.Load() {
			u, _, _ := ad.usage(r, st.Summary())
			u.Partial = true
			r.ReportUsage(u)
		}
	}
	tj := NewExecTrajectory(r.NewTrajectory(SourceExecJSON), time.Now)
	lw := &agent.LineWriter{W: r.Stdout, Fn: func(l []byte) { report(st.StdoutLine(l)); tj.Line(l) }}
	rr.Stdout = lw
	tail := &sessionTail{
		base: filepath.Dir(r.Home), root: filepath.Join(home, "sessions"), private: private, threadID: st.ThreadID,
		fn: func(l []byte) { report(st.SessionLine(l)) },
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(pollEvery)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				tail.poll()
			}
		}
	})
	out, err := agent.RunProcess(ictx, &rr, ad.Argv(r.Workspace), strings.NewReader(r.Prompt))
	lw.Close()
	close(done)
	wg.Wait()
	running.Store(false)
	logPath := tail.finish()
	if err != nil {
		return nil, err
	}
	limitStop := errors.Is(context.Cause(ictx), errMaxIterations) && ctx.Err() == nil
	ad.finish(r, out, st.Summary(), tail.root, logPath, limitStop)
	out.Trajectory = trajectory(r, tj, logPath)
	return out, nil
}

// usage prices a summary's tokens. It returns the model priced ("" when
// neither the entry nor the session log names one) and whether a price
// was found.
func (ad *Adapter) usage(r *agent.Rollout, sum Summary) (records.Usage, string, bool) {
	t := sum.Tokens
	u := records.Usage{
		InputTokens: t.Input, OutputTokens: t.Output,
		CacheReadTokens: t.CachedInput, CacheWriteTokens: t.CacheWrite,
		Turns: sum.Turns(), Source: sum.Source,
	}
	model := ad.a.Model
	if model == "" {
		model = sum.Model
	}
	cost, ok := agent.PriceUsage(r.Bench, model, u)
	u.CostUSD = cost
	return u, model, ok
}

// finish fills the outcome from what Codex reported.
func (ad *Adapter) finish(r *agent.Rollout, out *agent.Outcome, sum Summary, sessions, logPath string, limitStop bool) {
	scrub := r.Secrets.ScrubString
	p := out.Process
	endedByItself := p != nil && !p.TimedOut && !p.Stopped
	u, model, priced := ad.usage(r, sum)
	u.Partial = p != nil && !endedByItself
	out.Usage = u

	if sum.Format != "" {
		out.SetDetail("format", sum.Format)
	}
	if sum.ThreadID != "" {
		out.SetDetail("thread_id", scrub(sum.ThreadID))
	}
	if sum.CLIVersion != "" {
		out.SetDetail("cli_version", scrub(sum.CLIVersion))
	}
	if model != "" {
		out.SetDetail("model", scrub(model))
	}
	if ad.a.Model != "" {
		out.SetDetail("configured_model", scrub(ad.a.Model))
		out.SetDetail("mapped_model", scrub(ad.model))
	}
	if !sum.Tokens.IsZero() {
		out.SetDetail("priced", priced)
		if !priced {
			name := model
			if name == "" {
				name = "(Codex's default model, not named in its output)"
			}
			out.SetDetail("unpriced_model", scrub(name))
			fmt.Fprintf(r.Stderr, "perfbench: warning: no price for model %q in bench.yaml prices: (USD per million tokens); the cost is recorded as 0 and %s / %s cannot stop this agent\n", scrub(name), records.LimitMaxBudgetUSD, records.LimitMaxTotalBudgetUSD)
		}
	}
	if sum.Tokens.Reasoning > 0 {
		out.SetDetail("reasoning_output_tokens", sum.Tokens.Reasoning)
	}
	out.SetDetail("turns_completed", sum.TurnsCompleted)
	if sum.TurnsFailed > 0 {
		out.SetDetail("turns_failed", sum.TurnsFailed)
	}
	if sum.Responses > 0 || sum.SessionLines > 0 {
		out.SetDetail("model_responses", sum.Responses)
	}
	if len(sum.Items) > 0 {
		out.SetDetail("items", sum.Items)
	}
	out.SetDetail("command_executions", sum.Items[ItemCommandExecution])
	if sum.FailedCommands > 0 {
		out.SetDetail("failed_commands", sum.FailedCommands)
	}
	if sum.Errors > 0 {
		out.SetDetail("errors", sum.Errors)
		out.SetDetail("last_error", scrub(sum.LastError))
	}
	if sum.Failure != "" {
		out.SetDetail("turn_failed", scrub(sum.Failure))
	}
	if sum.LastMessage != "" {
		out.SetDetail("last_message", scrub(sum.LastMessage))
	}
	if sum.BadLines > 0 {
		out.SetDetail("unparsed_lines", sum.BadLines)
	}
	if sum.Unknown > 0 {
		out.SetDetail("unknown_events", sum.Unknown)
	}
	if logPath != "" && r.OutDir != "" {
		if name, err := copySessionLog(filepath.Dir(r.Home), sessions, logPath, r.OutDir); err != nil {
			fmt.Fprintf(r.Stderr, "perfbench: copying the session log: %v\n", err)
		} else {
			out.SetDetail("session_log", "out/"+OutSubdir+"/"+name)
		}
	}
	if limitStop {
		out.LimitsHit = append(out.LimitsHit, records.LimitMaxIterations)
		out.SetDetail("stopped", fmt.Sprintf("%s: after %d model responses", records.LimitMaxIterations, sum.Responses))
	}

	if p == nil || p.Stopped || sum.Completed() {
		return
	}
	msg := sum.ErrorMessage()
	if out.Infra == nil {
		if ie := Classify(msg); ie != nil {
			ie.Msg = scrub(ie.Msg)
			out.Infra = ie
			return
		}
	}
	if sum.Failure != "" && endedByItself && !out.Failed {
		out.Failed = true
		out.Reason = "codex: " + strings.ReplaceAll(scrub(sum.Failure), "\n", " ")
	}
}

// copySessionLog copies the session log (logPath, under sessions) into
// outDir/OutSubdir and returns its name. Both are the agent's: nothing is
// followed out of sessions or out of outDir, nor on the way to them below
// base (the rollout's private directory, where the agent may have swapped
// home/.codex or out for a link).
func copySessionLog(base, sessions, logPath, outDir string) (string, error) {
	rel, err := filepath.Rel(sessions, logPath)
	if err != nil {
		return "", err
	}
	src, err := fsx.OpenRootUnder(base, sessions)
	if err != nil {
		return "", err
	}
	defer src.Close()
	out, err := fsx.OpenRootUnder(base, outDir)
	if err != nil {
		return "", err
	}
	defer out.Close()
	if err := out.Mkdir(OutSubdir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	dst, err := out.OpenRoot(OutSubdir)
	if err != nil {
		return "", err
	}
	defer dst.Close()
	name := filepath.Base(logPath)
	if err := fsx.CopyFileRoots(src, filepath.ToSlash(rel), dst, name, 0o644); err != nil {
		return "", err
	}
	return name, nil
}

// ReadsStdin tells --dry-run that the prompt goes on stdin (docker run
// --interactive with runtime: container).
func (ad *Adapter) ReadsStdin() bool { return true }
