// Package claudecode runs Claude Code headless (print mode) under
// perfbench's process contract:
//
//	claude -p --output-format stream-json --verbose [--model M] [--max-turns N]
//	    --permission-mode bypassPermissions --disallowedTools WebFetch,WebSearch
//	    [--max-budget-usd X] [extra_args...]
//
// with the task (the rendered task file) on stdin. The executable is the
// entry's cli: (default "claude" on PATH); with runtime: container the
// same argv runs inside the entry's image (see agent.RunProcess).
//
// Limits: max_iterations is --max-turns (omitted when 0: Claude Code's own
// default), max_budget_usd is --max-budget-usd (Claude Code stops between
// turns once its own cost estimate reaches it; the harness enforces the
// same cap from the streamed cost as a backstop), and timeout is enforced
// by the harness. Web access is denied with --disallowedTools, since a
// model that can search the web can find the human's commit.
//
// Read back (parse.go): every stdout line is a JSON event — system/init
// (session id, model, version), assistant and user messages, and one final
// result event carrying total_cost_usd, usage, modelUsage, num_turns,
// subtype (success, error_max_turns, error_max_budget_usd,
// error_during_execution), is_error, duration_ms and session_id. Usage is
// reported to the harness as it grows: from assistant messages'
// message.usage (deduplicated by message id, priced with bench.yaml's
// prices:) until the result event brings Claude Code's own totals. A run
// that ends without a result event (killed, crashed) keeps the stream's
// numbers, marked partial. API failures (the synthetic assistant message
// "API Error: 401 ..." with its error field, or an is_error result) are
// classified as infrastructure errors: auth, rate limit, provider
// unavailable (5xx, 529 overloaded), model not found. From CLI 2.1.110 the
// result carries api_error_status (with terminal_reason "api_error"),
// which decides the class even when the text names no code.
//
// References:
//
//   - CLI reference (flags): https://docs.claude.com/en/docs/claude-code/cli-reference
//     (also https://docs.anthropic.com/en/docs/claude-code/cli-reference)
//   - Headless / print mode, stream-json: https://docs.claude.com/en/docs/claude-code/headless
//   - Message types (SDKSystemMessage, SDKAssistantMessage with its error
//     field, SDKResultMessage and its subtypes):
//     https://docs.claude.com/en/docs/agent-sdk/typescript
//   - Cost tracking (total_cost_usd, modelUsage): https://docs.claude.com/en/docs/agent-sdk/cost-tracking
//   - Settings, environment variables (ANTHROPIC_API_KEY, CLAUDE_CODE_USE_BEDROCK, ...):
//     https://docs.claude.com/en/docs/claude-code/settings
//   - API error types (authentication_error, rate_limit_error, overloaded_error):
//     https://docs.claude.com/en/api/errors
//   - ResultMessage's api_error_status and terminal_reason:
//     https://github.com/anthropics/claude-agent-sdk-python/blob/main/src/claude_agent_sdk/types.py
package claudecode

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Kind is Claude Code's descriptor, listed in internal/agent/all.
var Kind = agent.Kind{
	AgentKind:  config.AgentKind{Type: "claude_code"},
	DefaultCLI: DefaultCLI,
	New:        func(a *config.Agent, _ agent.Host) (agent.Adapter, error) { return New(a) },
	Checked:    agent.Versions{Min: "2.1.0", Max: "2.1"},
	Recipe:     Recipe,
}

// RecipeVersion is the Claude Code release the agent image installs
// (tag v2.1.121 of anthropics/claude-code, whose CHANGELOG.md has it).
const RecipeVersion = "2.1.121"

// Recipe installs @anthropic-ai/claude-code, pinned, with the
// environment's npm into /opt/perfbench/claude_code (Anthropic's npm
// install, without -g): the environment image must have node 18 or later
// and npm.
//
// Since 2.1.113 the package's claude is a placeholder that its
// postinstall (install.cjs) replaces with the native binary of a
// per-platform optional dependency; npm exits 0 when either is skipped
// (scripts not run, the optional package not fetched), leaving a claude
// that only prints "claude native binary not installed". So the recipe
// runs install.cjs itself when claude --version does not say the pinned
// release ("2.1.121 (Claude Code)"), as that message says, and fails the
// build when it still does not: the output is compared, not the exit
// status, which a placeholder may leave at 0.
func Recipe() envbuild.Recipe {
	r := agent.NPMRecipe("claude_code", RecipeVersion, "@anthropic-ai/claude-code", DefaultCLI)
	pre := agent.Prefix("claude_code")
	exe := pre + "/node_modules/.bin/" + DefaultCLI
	says := `[ "$(` + exe + ` --version 2>/dev/null)" = "` + RecipeVersion + ` (Claude Code)" ]`
	r.Lines = append(r.Lines, agent.RunLines(
		says+" || node "+pre+"/node_modules/@anthropic-ai/claude-code/install.cjs || true",
		// v= alone would end the build under set -e, without the message,
		// when claude cannot run at all.
		says+` || { v="$(`+exe+` --version 2>&1)" || v="(failed: $v)"; echo "perfbench: claude --version says $v after npm install, want `+RecipeVersion+` (Claude Code): the native binary of @anthropic-ai/claude-code@`+RecipeVersion+` for this platform is missing (see its install.cjs)" >&2; exit 1; }`,
	)...)
	return r
}

// DefaultCLI is the executable when the entry sets no cli:.
const DefaultCLI = "claude"

// DisallowedTools are the tools every rollout denies: web access.
const DisallowedTools = "WebFetch,WebSearch"

// Adapter runs Claude Code for one agent entry.
type Adapter struct {
	a *config.Agent
}

// New returns the adapter of a claude_code entry.
func New(a *config.Agent) (*Adapter, error) {
	return &Adapter{a: a}, nil
}

// Model is the --model value of an entry: its model with a leading
// "anthropic/" (the LiteLLM-style provider prefix $LLM_MODEL often
// carries) removed, since Claude Code takes Anthropic model names and
// aliases ("claude-sonnet-4-5", "sonnet") as they are.
func Model(a *config.Agent) string {
	return strings.TrimPrefix(strings.TrimSpace(a.Model), "anthropic/")
}

func formatUSD(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Argv is the command line of a rollout with these limits.
func Argv(a *config.Agent, l records.Limits) []string {
	cli := a.CLI
	if cli == "" {
		cli = DefaultCLI
	}
	argv := []string{cli, "-p", "--output-format", "stream-json", "--verbose"}
	if m := Model(a); m != "" {
		argv = append(argv, "--model", m)
	}
	if l.MaxIterations > 0 {
		argv = append(argv, "--max-turns", strconv.Itoa(l.MaxIterations))
	}
	argv = append(argv, "--permission-mode", "bypassPermissions", "--disallowedTools", DisallowedTools)
	if l.MaxBudgetUSD > 0 {
		argv = append(argv, "--max-budget-usd", formatUSD(l.MaxBudgetUSD))
	}
	return append(argv, a.ExtraArgs...)
}

// Command returns the argv of a rollout (on the host; with runtime:
// container the journal records the container's command line).
func (ad *Adapter) Command(r *agent.Rollout) ([]string, error) {
	return Argv(ad.a, r.Limits), nil
}

// Run performs one rollout: it starts Claude Code with the task on stdin,
// parses its stream while it runs (reporting usage to the harness), and
// turns the stream's summary into the outcome.
func (ad *Adapter) Run(ctx context.Context, r *agent.Rollout) (*agent.Outcome, error) {
	p := NewParser(r.Bench, Model(ad.a), r.ReportUsage)
	tj := NewTrajectory(r.NewTrajectory(TrajectorySource), time.Now)
	stdout := &agent.LineWriter{W: r.Stdout, Fn: func(l []byte) { p.Line(l); tj.Line(l) }}
	stderr := &agent.LineWriter{W: r.Stderr, Fn: p.StderrLine}
	rr := *r
	rr.Stdout, rr.Stderr = stdout, stderr
	rr.Env = ad.env(r)
	out, err := agent.RunProcess(ctx, &rr, Argv(ad.a, r.Limits), strings.NewReader(r.Prompt))
	stdout.Close()
	stderr.Close()
	if err != nil {
		return nil, err
	}
	Finish(out, p.Summary(), r.Secrets.ScrubString)
	out.Trajectory = tj.Result()
	return out, nil
}

// env is the rollout's environment, plus IS_SANDBOX=1 for runtime:
// container as root: Claude Code refuses --permission-mode
// bypassPermissions to uid 0 unless told it runs in a sandbox, and the
// container is one. On the host, root must opt in (env: {IS_SANDBOX: "1"}).
func (ad *Adapter) env(r *agent.Rollout) []string {
	if ad.a.Runtime != agent.RuntimeContainer || os.Getuid() != 0 {
		return r.Env
	}
	env := make([]string, 0, len(r.Env)+1)
	for _, kv := range r.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "IS_SANDBOX" {
			if v != "" {
				return r.Env
			}
			continue
		}
		env = append(env, kv)
	}
	return append(env, "IS_SANDBOX=1")
}

// Finish fills the outcome from the stream's summary: usage, details,
// limits hit, infrastructure failures and agent errors the exit status
// does not show. scrub hides secrets in Claude Code's messages.
func Finish(out *agent.Outcome, s *Summary, scrub func(string) string) {
	endedByItself := out.Process != nil && !out.Process.TimedOut && !out.Process.Stopped
	out.Usage = s.Usage()
	if out.Details == nil {
		out.Details = map[string]any{}
	}
	for k, v := range s.Details(scrub) {
		out.Details[k] = v
	}
	if lim := s.LimitHit(); lim != "" {
		out.LimitsHit = append(out.LimitsHit, lim)
	}
	// With a result event the adapter knows how the run ended; the
	// harness must not guess from the conversation in the log.
	out.ResultRead = s.Result != nil
	if out.Process == nil {
		return // not started: RunProcess said why
	}
	if endedByItself && out.Infra == nil {
		if ie := s.Infra(); ie != nil {
			ie.Msg = textx.Brief(scrub(ie.Msg), 300)
			out.Infra = ie
			return
		}
	}
	if !endedByItself || out.Failed {
		return
	}
	switch {
	case s.Result == nil && s.RootRefused:
		out.Failed = true
		out.Reason = "Claude Code refuses --permission-mode bypassPermissions as root: run bench as another user, use runtime: container, or set env: {IS_SANDBOX: \"1\"} on the entry to declare the host a sandbox"
	case s.Result == nil && s.UnknownOption != "":
		out.Failed = true
		out.Reason = "Claude Code rejected an option (is it recent enough for --max-budget-usd?): " + textx.Brief(scrub(s.UnknownOption), 200)
	case s.Result == nil && out.Process.ExitCode == 0:
		out.Failed = true
		out.Reason = "Claude Code ended without a result event (is cli: a Claude Code that supports --output-format stream-json?)"
	case s.Result != nil && s.Result.IsError && s.LimitHit() == "" && out.Process.ExitCode == 0:
		out.Failed = true
		out.Reason = "Claude Code reported an error: " + textx.Brief(scrub(s.Result.errorText()), 300)
	}
}

// ReadsStdin tells --dry-run that the prompt goes on stdin (docker run
// --interactive with runtime: container).
func (ad *Adapter) ReadsStdin() bool { return true }
