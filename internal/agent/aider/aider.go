// Package aider runs Aider (https://aider.chat) headless, in its scripting
// mode: one message from a file, every confirmation answered yes, no git
// commits, under perfbench's process contract:
//
//	aider --message-file <task file> --yes-always --no-auto-commits [--model M]
//	    --no-dirty-commits --no-gitignore --no-check-update --no-show-release-notes
//	    --no-analytics --no-pretty --no-stream --no-fancy-input --no-detect-urls
//	    --input-history-file <out>/aider.input.history
//	    --chat-history-file <out>/aider.chat.history.md
//	    --llm-history-file <out>/aider.llm.history
//	    --analytics-log <out>/aider.analytics.jsonl [--config <out>/aider.conf.yml] [extra_args...]
//
// --yes-always is the flag's name since aider 0.59 (the older --yes is
// still accepted as its abbreviation). The --no-* flags keep a benchmark
// run non-interactive and side-effect free: no version check or upgrade
// offer, no release notes, no analytics upload, no URL scraping, no
// .gitignore edit, no commits (a commit of dirty files would also spend
// weak-model tokens that aider does not report). The history files, which
// aider writes into the git root by default, go to the private output
// folder so they never reach the patch; the repo-map cache
// (.aider.tags.cache.v*, not configurable) is removed from the workspace
// after the run. COLUMNS is set wide so that the terminal library does not
// wrap the cost lines. The entry's config_file (aider's YAML options) is
// copied into the output folder and passed as --config.
//
// Limits: timeout is the harness's; aider has no budget flag, so
// max_budget_usd is enforced by the harness from the streamed cost; aider
// has no turn limit either (one message, at most three built-in
// reflections), so max_iterations is not enforced and the journal says so.
//
// Read back: after every LLM call aider prints
//
//	Tokens: 2.4k sent, 1.1k cache write, 12k cache hit, 312 received. Cost: $0.01 message, $0.03 session.
//
// (the cost part only for models with known prices, else bench.yaml's
// prices: price the tokens; on its own line when both cache counts are
// shown). Stream parses these live and reports the session cost, the
// summed tokens and the number of reports (turns) to the harness, as lower
// bounds of the rounded numbers. After the run the analytics log's
// message_send events give the exact numbers. LiteLLM errors aider prints
// (AuthenticationError, RateLimitError after its own retries, NotFoundError,
// ...) and that no later LLM call superseded make the rollout an
// infrastructure failure: aider exits 0 after them.
//
// References:
//
//   - Scripting aider: https://aider.chat/docs/scripting.html
//   - Options reference: https://aider.chat/docs/config/options.html
//   - Option definitions: https://github.com/Aider-AI/aider/blob/main/aider/args.py
//   - The usage report (calculate_and_show_tokens_and_cost, show_usage_report):
//     https://github.com/Aider-AI/aider/blob/main/aider/coders/base_coder.py
//   - Token formatting (format_tokens): https://github.com/Aider-AI/aider/blob/main/aider/utils.py
//   - LiteLLM exceptions and their messages: https://github.com/Aider-AI/aider/blob/main/aider/exceptions.py
//   - The analytics log: https://github.com/Aider-AI/aider/blob/main/aider/analytics.py
//   - --yes renamed to --yes-always (0.59): https://aider.chat/HISTORY.html
package aider

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/records"
)

// Kind is Aider's descriptor, listed in internal/agent/all.
var Kind = agent.Kind{
	AgentKind:  config.AgentKind{Type: "aider", NewOptions: func() any { return new(agent.ConfigFileOption) }},
	DefaultCLI: DefaultCLI,
	New:        func(a *config.Agent, _ agent.Host) (agent.Adapter, error) { return New(a) },
	Checked:    agent.Versions{Min: "0.86.0", Max: "0.86"},
	Recipe:     Recipe,
}

// RecipeVersion is the aider-chat release the agent image installs.
const RecipeVersion = "0.86.1"

// Recipe installs aider-chat, pinned, the way aider documents its uv
// install (its own Python 3.12 environment), into /opt/perfbench/aider;
// aider drives git, which the environment image must have.
func Recipe() envbuild.Recipe {
	return agent.PythonRecipe(agent.PythonInstall{
		Type: "aider", Version: RecipeVersion,
		Requirement: "aider-chat==" + RecipeVersion,
		Executables: []string{DefaultCLI},
		Before:      []string{agent.Needs("aider", "git")},
	})
}

// DefaultCLI is the executable when the entry sets no cli:.
const DefaultCLI = "aider"

// Files aider writes into the private output folder.
const (
	InputHistoryFile = "aider.input.history"
	ChatHistoryFile  = "aider.chat.history.md"
	LLMHistoryFile   = "aider.llm.history"
	AnalyticsLogFile = "aider.analytics.jsonl"
	// ConfigCopy is the entry's config_file (aider's YAML options), copied
	// so that aider can read it in any runtime.
	ConfigCopy = "aider.conf.yml"
)

// HeadlessFlags are the flags that make a scripted run non-interactive and
// free of side effects (see the package comment).
var HeadlessFlags = []string{
	"--no-dirty-commits", "--no-gitignore", "--no-check-update", "--no-show-release-notes",
	"--no-analytics", "--no-pretty", "--no-stream", "--no-fancy-input", "--no-detect-urls",
}

// Columns is the terminal width aider is told (COLUMNS): wide enough that
// no usage report is wrapped.
const Columns = "4096"

// Adapter runs aider for one agent entry.
type Adapter struct{ a *config.Agent }

// New returns the adapter of an aider entry.
func New(a *config.Agent) (*Adapter, error) { return &Adapter{a: a}, nil }

func (ad *Adapter) cli() string {
	if ad.a.CLI != "" {
		return ad.a.CLI
	}
	return DefaultCLI
}

// Command returns the argv of a rollout.
func (ad *Adapter) Command(r *agent.Rollout) ([]string, error) {
	argv := []string{ad.cli(), "--message-file", r.TaskFile, "--yes-always", "--no-auto-commits"}
	if ad.a.Model != "" {
		argv = append(argv, "--model", ad.a.Model)
	}
	argv = append(argv, HeadlessFlags...)
	argv = append(argv,
		"--input-history-file", filepath.Join(r.OutDir, InputHistoryFile),
		"--chat-history-file", filepath.Join(r.OutDir, ChatHistoryFile),
		"--llm-history-file", filepath.Join(r.OutDir, LLMHistoryFile),
		"--analytics-log", filepath.Join(r.OutDir, AnalyticsLogFile),
	)
	if agent.ConfigFile(ad.a) != "" {
		argv = append(argv, "--config", filepath.Join(r.OutDir, ConfigCopy))
	}
	return append(argv, ad.a.ExtraArgs...), nil
}

// env is the rollout's environment plus COLUMNS, unless the entry's env:
// sets it.
func (ad *Adapter) env(r *agent.Rollout) []string {
	return agent.SetEnvDefault(r.Env, ad.a.Env, "COLUMNS", Columns)
}

// Run performs one rollout.
func (ad *Adapter) Run(ctx context.Context, r *agent.Rollout) (*agent.Outcome, error) {
	argv, _ := ad.Command(r)
	if fail := agent.CopyConfigFile(r, ad.a, filepath.Join(r.OutDir, ConfigCopy), argv); fail != nil {
		return fail, nil
	}
	before := aiderEntries(r.Workspace)
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
	ad.finish(r, out, st, before)
	out.Trajectory = trajectory(r)
	return out, nil
}

// finish fills the outcome from the stream and the analytics log, and
// removes aider's own files from the workspace.
func (ad *Adapter) finish(r *agent.Rollout, out *agent.Outcome, st *Stream, before map[string]bool) {
	endedByItself := out.Process != nil && !out.Process.TimedOut && !out.Process.Stopped
	sum := st.Summary()
	u := sum.Usage
	if a, err := ReadAnalytics(filepath.Join(r.OutDir, AnalyticsLogFile)); err != nil {
		if !os.IsNotExist(err) {
			out.SetDetail("analytics_log_error", r.Secrets.ScrubString(err.Error()))
		}
	} else if a.Messages > 0 && a.Messages >= u.Turns {
		u.CostUSD = a.TotalCost
		u.InputTokens, u.OutputTokens = a.PromptTokens, a.CompletionTokens
		u.Turns = a.Messages
		u.Source = SourceAnalytics
	}
	u = agent.PriceMissingCost(r.Bench, ad.a.Model, u)
	if u.Source != "" {
		u.Partial = !endedByItself
	}
	out.Usage = u
	out.SetDetail("usage_reports", sum.Usage.Turns)
	if sum.Version != "" {
		out.SetDetail("aider_version", sum.Version)
	}
	if sum.Model != "" {
		out.SetDetail("main_model", r.Secrets.ScrubString(sum.Model))
	}
	if len(sum.Errors) > 0 {
		errs := make([]string, len(sum.Errors))
		for i, e := range sum.Errors {
			errs[i] = r.Secrets.ScrubString(e)
		}
		out.SetDetail("llm_errors", errs)
	}
	if sum.Reflections {
		out.SetDetail("reflections_exhausted", true)
	}
	if n := r.Limits.MaxIterations; n > 0 {
		out.SetDetail(records.LimitMaxIterations, "not enforced: aider has no turn limit (one message, at most 3 reflections); "+strconv.Itoa(n)+" ignored")
	}
	if endedByItself && out.Infra == nil && sum.LastError != nil {
		ie := *sum.LastError
		ie.Msg = r.Secrets.ScrubString(ie.Msg)
		out.Infra = &ie
	}
	if removed := cleanWorkspace(r.Workspace, before); len(removed) > 0 {
		out.SetDetail("removed_from_workspace", removed)
	}
}

// aiderEntries lists the top-level .aider* entries of the workspace.
func aiderEntries(ws string) map[string]bool {
	m := map[string]bool{}
	ents, err := os.ReadDir(ws)
	if err != nil {
		return m
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".aider") {
			m[e.Name()] = true
		}
	}
	return m
}

// cleanWorkspace removes the top-level .aider* entries aider created
// during the run (the repo-map cache .aider.tags.cache.v*, history files
// of extra_args): they are aider's state, not part of the solution.
func cleanWorkspace(ws string, before map[string]bool) []string {
	var removed []string
	for name := range aiderEntries(ws) {
		if before[name] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(ws, name)); err == nil {
			removed = append(removed, name)
		}
	}
	sort.Strings(removed)
	return slices.Clip(removed)
}
