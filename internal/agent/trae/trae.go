// Package trae runs TRAE Agent (github.com/bytedance/trae-agent) headless
// under perfbench's process contract:
//
//	trae-cli run --file <task file> --working-dir <workspace> --must-patch
//	    --patch-path <out>/trae.patch --trajectory-file <out>/trajectory.json
//	    [--max-steps N] [--config-file F] [--provider P] [--model M] [extra_args...]
//
// or, when cli: names a Python with trae_agent installed (its base name is
// python, python3, python3.12, ...), `<python> -m trae_agent.cli run ...`
// with the same flags. A relative cli: path with a slash and a relative
// config_file: are taken relative to bench.yaml's directory. With
// runtime: container the config file is copied into the rollout's fresh
// HOME (the image cannot see bench.yaml's directory).
//
// Limits: max_iterations is --max-steps (omitted when 0: the config
// file's agents.trae_agent.max_steps applies); timeout is enforced by the
// harness; TRAE has no cost limit, so max_budget_usd is enforced by the
// harness from the usage this adapter reports while TRAE runs.
//
// The model (model:, default $LLM_MODEL) is LiteLLM-style
// ("anthropic/claude-sonnet-4-20250514"); TRAE takes the provider apart
// (--provider anthropic --model claude-sonnet-4-20250514), since its
// --model alone only renames the model inside the config file's provider.
// A provider TRAE does not know is refused when the entry is loaded
// (unless extra_args pass --provider). The journal's details keep both
// names (configured_model, mapped_model, mapped_provider).
//
// TRAE's TrajectoryRecorder rewrites the trajectory file after every LLM
// call and every agent step. The adapter polls it (every 500 ms) while the
// process runs and reports the cumulative usage (agent.Rollout.ReportUsage),
// and reads it once more at the end: tokens summed over llm_interactions[]
// .response.usage, turns = len(agent_steps), the cost priced with
// bench.yaml's prices: (TRAE records no cost), success / final_result /
// the last step error for the final state. "Task execution exceeded maximum
// steps without completion." is the max_iterations limit.
//
// TRAE retries failed LLM calls itself (max_retries, default 10, sleeping
// 3-30 s each) and prints "<Provider> API call failed: <error>. Will sleep
// for N seconds and will retry." and the traceback to stdout (before
// trae-agent 6fc646d: "<error> will sleep ..."). The adapter watches for these
// lines: an authentication failure or an unknown model stops TRAE at once
// (retrying cannot help) and makes the rollout an infrastructure failure;
// a step that ended on an API error (401/403, 429, model not found,
// provider unavailable) does too, although TRAE exits 0 after it.
//
// References:
//
//   - README (installation, trae-cli run, configuration, environment
//     variables): https://github.com/bytedance/trae-agent/blob/main/README.md
//   - The run command and its flags (--file, --working-dir, --must-patch,
//     --patch-path, --trajectory-file, --max-steps, --config-file,
//     --model, --provider; TRAE_CONFIG_FILE):
//     https://github.com/bytedance/trae-agent/blob/main/trae_agent/cli.py
//   - Trajectory format and continuous saving:
//     https://github.com/bytedance/trae-agent/blob/main/docs/TRAJECTORY_RECORDING.md and
//     https://github.com/bytedance/trae-agent/blob/main/trae_agent/utils/trajectory_recorder.py
//   - Step loop, max steps, step errors:
//     https://github.com/bytedance/trae-agent/blob/main/trae_agent/agent/base_agent.py
//   - task_done, --must-patch, the patch file:
//     https://github.com/bytedance/trae-agent/blob/main/trae_agent/agent/trae_agent.py
//   - Retry lines: https://github.com/bytedance/trae-agent/blob/main/trae_agent/utils/llm_clients/retry_utils.py
//   - Config file (YAML; <PROVIDER>_API_KEY overrides api_key):
//     https://github.com/bytedance/trae-agent/blob/main/trae_agent/utils/config.py and
//     https://github.com/bytedance/trae-agent/blob/main/trae_config.yaml.example
package trae

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Kind is TRAE Agent's descriptor, listed in internal/agent/all.
var Kind = agent.Kind{
	AgentKind:   config.AgentKind{Type: "trae", NewOptions: func() any { return new(agent.ConfigFileOption) }},
	DefaultCLI:  DefaultCLI,
	TokenPriced: true,
	New:         func(a *config.Agent, h agent.Host) (agent.Adapter, error) { return NewOn(a, h) },
	Executable:  func(a *config.Agent, b *config.Bench) string { return (&Adapter{a: a}).CLI(b) },
	Checked:     agent.Versions{Min: "0.1.0", Max: "0.1", Probe: versionProbe},
	Recipe:      Recipe,
}

// RecipeCommit is the trae-agent commit the agent image installs:
// trae-agent publishes no releases (it is installed from a checkout, and
// has always called itself 0.1.0), so the recipe pins a commit after
// 6fc646d, whose retry line the adapter reads.
const RecipeCommit = "e839e559ac61bdd0e057c375dd1dee391fee797d"

// RecipeVersion is what the agent image's label says it installs.
const RecipeVersion = "0.1.0+g" + "e839e559ac61"

// Recipe installs trae-agent at RecipeCommit (GitHub's archive of it,
// which needs no git) into its own Python 3.12 environment in
// /opt/perfbench/trae; trae-agent documents a checkout and `uv sync`.
func Recipe() envbuild.Recipe {
	return agent.PythonRecipe(agent.PythonInstall{
		Type: "trae", Version: RecipeVersion,
		Requirement: "trae-agent @ https://github.com/bytedance/trae-agent/archive/" + RecipeCommit + ".tar.gz",
		Executables: []string{DefaultCLI},
	})
}

// versionProbe asks a Python interpreter for trae_agent.cli's --version
// (its own --version is Python's).
func versionProbe(a *config.Agent, p agent.Probes) agent.VersionProbe {
	if cli := (&Adapter{a: a}).CLI(p.Bench); IsPython(cli) && a.Runtime != agent.RuntimeContainer {
		return agent.VersionProbe{Argv: []string{cli, "-m", "trae_agent.cli", "--version"}}
	}
	return agent.VersionProbe{}
}

// DefaultCLI is the executable when the entry sets no cli:.
const DefaultCLI = "trae-cli"

// Files TRAE writes into the rollout's private output folder (copied to
// <item>/out/).
const (
	TrajectoryFile = "trajectory.json"
	PatchFile      = "trae.patch"
)

// ConfigEnv is TRAE's variable for the config file (click envvar of
// --config-file).
const ConfigEnv = "TRAE_CONFIG_FILE"

// homeConfigDir is where a runtime: container rollout gets its copy of the
// config file, inside the fresh HOME.
const homeConfigDir = ".trae-perfbench"

// PollInterval is how often the trajectory is read while TRAE runs.
var PollInterval = 500 * time.Millisecond

var pythonRE = regexp.MustCompile(`^python[0-9.]*$`)

// IsPython reports whether cli names a Python interpreter (python,
// python3, python3.12), which runs `-m trae_agent.cli`.
func IsPython(cli string) bool { return pythonRE.MatchString(filepath.Base(cli)) }

// Adapter runs TRAE Agent for one entry.
type Adapter struct {
	a *config.Agent
	// provider and model are --provider and --model: the entry's
	// LiteLLM-style model mapped to TRAE's form (see MapModel).
	provider, model string
}

// providers maps LiteLLM provider prefixes to TRAE's model_provider names
// (trae_agent/utils/llm_clients).
var providers = map[string]string{
	"anthropic": "anthropic", "openai": "openai", "azure": "azure", "ollama": "ollama",
	"openrouter": "openrouter", "doubao": "doubao", "google": "google", "gemini": "google",
}

// MapModel maps an entry's model to TRAE's --provider and --model: TRAE
// renames the model only inside the config file's provider, so
// "anthropic/claude-x" becomes --provider anthropic --model claude-x. A
// name without a provider, or an entry whose extra_args choose
// --provider themselves, is passed as it is.
func MapModel(a *config.Agent) (provider, model string, err error) {
	if a.Model == "" || agent.HasFlag(a.ExtraArgs, "--provider", "-p") {
		return "", a.Model, nil
	}
	p, m := agent.SplitModel(a.Model)
	if p == "" {
		return "", m, nil
	}
	tp, ok := providers[p]
	if !ok {
		known := slices.Sorted(maps.Keys(providers))
		return "", "", badinput.Errorf("agent %s (trae): model %q: provider %q has no TRAE model_provider (known: %s); set model: to a TRAE model, or pass --provider in extra_args", a.Name, a.Model, p, strings.Join(known, ", "))
	}
	return tp, m, nil
}

// New is NewOn for a harness in this process's environment.
func New(a *config.Agent) (*Adapter, error) { return NewOn(a, agent.Host{Env: os.Environ()}) }

// NewOn returns the adapter of a trae entry. TRAE cannot run without a
// config file: the entry needs config_file: or TRAE_CONFIG_FILE (in its
// env: or the harness's environment, host's), else TRAE would look for
// trae_config.yaml in the workspace.
func NewOn(a *config.Agent, host agent.Host) (*Adapter, error) {
	if agent.ConfigFile(a) == "" {
		_, inEntry := a.Env[ConfigEnv]
		if _, inEnv := host.LookupEnv(ConfigEnv); !inEntry && !inEnv {
			return nil, badinput.Errorf("agent %s (trae): set config_file: (TRAE's trae_config.yaml, relative to bench.yaml) or %s", a.Name, ConfigEnv)
		}
	}
	provider, model, err := MapModel(a)
	if err != nil {
		return nil, err
	}
	return &Adapter{a: a, provider: provider, model: model}, nil
}

// CLI is the executable: cli: or trae-cli; a relative path with a slash is
// taken relative to bench.yaml's directory on the host.
func (ad *Adapter) CLI(b *config.Bench) string {
	cli := ad.a.CLI
	if cli == "" {
		return DefaultCLI
	}
	if ad.a.Runtime != agent.RuntimeContainer && strings.ContainsRune(cli, '/') && !filepath.IsAbs(cli) && b != nil && b.Dir != "" {
		return filepath.Join(b.Dir, cli)
	}
	return cli
}

// ConfigFile returns config_file as an absolute host path (relative to
// bench.yaml's directory); "" when not set.
func (ad *Adapter) ConfigFile(b *config.Bench) string {
	return agent.BenchPath(b, agent.ConfigFile(ad.a))
}

// configArg is the --config-file argument: the host path, or the copy in
// the rollout's HOME with runtime: container.
func (ad *Adapter) configArg(r *agent.Rollout) string {
	f := ad.ConfigFile(r.Bench)
	if f == "" || ad.a.Runtime != agent.RuntimeContainer || r.Home == "" {
		return f
	}
	return filepath.Join(r.Home, homeConfigDir, filepath.Base(f))
}

// Command returns the argv of a rollout.
func (ad *Adapter) Command(r *agent.Rollout) ([]string, error) {
	cli := ad.CLI(r.Bench)
	var argv []string
	if IsPython(cli) {
		argv = []string{cli, "-m", "trae_agent.cli", "run"}
	} else {
		argv = []string{cli, "run"}
	}
	argv = append(argv,
		"--file", r.TaskFile,
		"--working-dir", r.Workspace,
		"--must-patch",
		"--patch-path", filepath.Join(r.OutDir, PatchFile),
		"--trajectory-file", filepath.Join(r.OutDir, TrajectoryFile),
	)
	if n := r.Limits.MaxIterations; n > 0 {
		argv = append(argv, "--max-steps", strconv.Itoa(n))
	}
	if f := ad.configArg(r); f != "" {
		argv = append(argv, "--config-file", f)
	}
	if ad.provider != "" {
		argv = append(argv, "--provider", ad.provider)
	}
	if ad.model != "" {
		argv = append(argv, "--model", ad.model)
	}
	return append(argv, ad.a.ExtraArgs...), nil
}

// Run performs one rollout.
func (ad *Adapter) Run(ctx context.Context, r *agent.Rollout) (*agent.Outcome, error) {
	if err := ad.prepareConfig(r); err != nil {
		return &agent.Outcome{Failed: true, Reason: err.Error()}, nil
	}
	argv, err := ad.Command(r)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	w := &watcher{
		path:  filepath.Join(r.OutDir, TrajectoryFile),
		bench: r.Bench,
		model: ad.a.Model,
		stop:  stop,
	}
	if r.Observe != nil {
		w.report = r.ReportUsage
	}
	stdout := &agent.LineWriter{W: r.Stdout, Fn: w.line}
	stderr := &agent.LineWriter{W: r.Stderr, Fn: w.line}
	rr := *r
	rr.Stdout, rr.Stderr = stdout, stderr
	rr.Env = setDefault(r.Env, "PYTHONUNBUFFERED", "1")

	pollDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.poll(pollDone, PollInterval)
	}()
	out, err := agent.RunProcess(runCtx, &rr, argv, nil)
	close(pollDone)
	wg.Wait()
	stdout.Close()
	stderr.Close()
	if err != nil {
		return nil, err
	}
	ad.finish(r, out, w)
	return out, nil
}

// prepareConfig makes the config file's api_key values secrets (so that
// they are scrubbed from the logs and the copied output folder) and, with
// runtime: container, copies the file into the rollout's HOME.
func (ad *Adapter) prepareConfig(r *agent.Rollout) error {
	f := ad.ConfigFile(r.Bench)
	if f == "" {
		return nil
	}
	data, err := os.ReadFile(f)
	if err != nil {
		return fmt.Errorf("trae config_file: %w", err)
	}
	if r.Secrets != nil {
		for _, v := range ConfigSecrets(data) {
			r.Secrets.AddNamed("trae_config.api_key", v)
		}
	}
	dst := ad.configArg(r)
	if dst == f {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("trae config_file: %w", err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		return fmt.Errorf("trae config_file: %w", err)
	}
	return nil
}

var apiKeyRE = regexp.MustCompile(`(?m)["']?api_key["']?\s*[:=]\s*["']?([^"'\s,#}]+)`)

// ConfigSecrets returns the api_key values of a TRAE config file (YAML or
// the legacy JSON).
func ConfigSecrets(data []byte) []string {
	var out []string
	for _, m := range apiKeyRE.FindAllSubmatch(data, -1) {
		v := string(m[1])
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// setDefault sets k=v in env unless k is set.
func setDefault(env []string, k, v string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			return env
		}
	}
	return append(slices.Clip(env), k+"="+v)
}

// finish reads the trajectory into the outcome.
func (ad *Adapter) finish(r *agent.Rollout, out *agent.Outcome, w *watcher) {
	scrub := func(s string) string { return s }
	if r.Secrets != nil {
		scrub = r.Secrets.ScrubString
	}
	t, perr := readTrajectory(w.path)
	if t == nil {
		// Killed in the middle of a write: the last good read stands.
		t = w.lastGood()
	}
	if perr != nil && !os.IsNotExist(perr) {
		out.SetDetail("trajectory_error", scrub(perr.Error()))
	}
	out.Trajectory = trajectory(r, w.path)
	endedByItself := out.Process != nil && !out.Process.TimedOut && !out.Process.Stopped
	u, reasoning, pricedAs := t.Usage(r.Bench, ad.a.Model)
	if t != nil && (!endedByItself || t.EndTime == "") {
		u.Partial = true
	}
	out.Usage = u
	state := t.State()
	out.SetDetail("final_state", state)
	if IsPython(ad.CLI(r.Bench)) {
		out.SetDetail("mode", "python")
	} else {
		out.SetDetail("mode", "trae-cli")
	}
	if t != nil {
		out.SetDetail("steps", len(t.Steps))
		out.SetDetail("llm_calls", len(t.Interactions))
		out.SetDetail("success", t.Success)
		if t.Provider != "" {
			out.SetDetail("provider", t.Provider)
		}
		if t.Model != "" {
			out.SetDetail("model", t.Model)
		}
		if t.MaxSteps > 0 {
			out.SetDetail("max_steps", t.MaxSteps)
		}
		if t.ExecutionTime > 0 {
			out.SetDetail("execution_time_s", t.ExecutionTime)
		}
		if t.FinalResult != "" {
			out.SetDetail("final_result", scrub(textx.Brief(t.FinalResult, 1000)))
		}
		if e := t.LastError(); e != "" {
			out.SetDetail("last_error", scrub(textx.Brief(e, 1000)))
		}
		if reasoning > 0 {
			out.SetDetail("reasoning_tokens", reasoning)
		}
		if pricedAs != "" {
			out.SetDetail("priced_as", pricedAs)
		} else if u.InputTokens+u.OutputTokens > 0 {
			out.SetDetail("unpriced", true)
			fmt.Fprintf(r.Stderr, "perfbench: no price for %s in bench.yaml prices: the cost is recorded as 0 and %s cannot be enforced\n", strings.Join(t.PriceModels(ad.a.Model), " / "), records.LimitMaxBudgetUSD)
		}
	}
	if fi, err := os.Lstat(filepath.Join(r.OutDir, PatchFile)); err == nil && fi.Mode().IsRegular() {
		out.SetDetail("patch_file_bytes", fi.Size())
	}
	if n, last := w.apiFailures(); n > 0 {
		out.SetDetail("api_retries", n)
		out.SetDetail("last_api_error", scrub(textx.Brief(last, 500)))
	}
	if ad.a.Model != "" {
		out.SetDetail("configured_model", ad.a.Model)
		out.SetDetail("mapped_model", ad.model)
		if ad.provider != "" {
			out.SetDetail("mapped_provider", ad.provider)
		}
	}
	if state == StateMaxSteps {
		out.LimitsHit = append(out.LimitsHit, records.LimitMaxIterations)
	}
	if out.Infra != nil {
		return
	}
	if ie := w.stoppedFor(); ie != nil {
		ie.Msg = scrub(ie.Msg)
		out.Infra = ie
		return
	}
	if endedByItself && (state == StateError || state == StateFailed) {
		if ie := classifyAPIError(t.LastError()); ie != nil {
			ie.Msg = scrub(textx.Brief(ie.Msg, 200))
			out.Infra = ie
		}
	}
}

// readTrajectory reads and parses the trajectory file, which is the
// agent's: a link there (or in place of its folder) is not followed.
func readTrajectory(path string) (*Trajectory, error) {
	data, err := fsx.ReadFileNoFollow(path)
	if err != nil {
		return nil, err
	}
	return ParseTrajectory(data)
}

// watcher follows a running TRAE: its trajectory file (polled) and its
// output lines (API retry messages).
type watcher struct {
	path   string
	bench  *config.Bench
	model  string
	report func(records.Usage)
	stop   context.CancelFunc

	mu       sync.Mutex
	good     *Trajectory
	size     int64
	mod      time.Time
	reported records.Usage
	nFail    int
	lastFail string
	stopped  *agent.InfraError
}

// retryLineRE matches TRAE's retry message (retry_utils.py): since
// trae-agent 6fc646d "<error>. Will sleep for N seconds and will retry.",
// followed by the traceback on the next lines; before it "<error> will
// sleep ...".
var retryLineRE = regexp.MustCompile(`API call failed: (.*?)\.? [Ww]ill sleep for \d+ seconds and will retry`)

// line watches one output line for API failures; an authentication
// failure or an unknown model stops TRAE.
func (w *watcher) line(b []byte) {
	m := retryLineRE.FindSubmatch(b)
	if m == nil {
		return
	}
	msg := string(m[1])
	w.mu.Lock()
	w.nFail++
	w.lastFail = msg
	stop := false
	if ie := classifyAPIError(msg); ie != nil && (ie.Kind == agent.InfraAuth || ie.Kind == agent.InfraModelNotFound) && w.stopped == nil {
		ie.Msg = textx.Brief(ie.Msg, 200)
		w.stopped = ie
		stop = true
	}
	w.mu.Unlock()
	if stop && w.stop != nil {
		w.stop()
	}
}

func (w *watcher) apiFailures() (int, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nFail, w.lastFail
}

func (w *watcher) stoppedFor() *agent.InfraError {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped == nil {
		return nil
	}
	ie := *w.stopped
	return &ie
}

func (w *watcher) lastGood() *Trajectory {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.good
}

// poll reads the trajectory every interval until done.
func (w *watcher) poll(done <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			w.check()
		}
	}
}

// check reads the trajectory when it changed and reports a changed usage.
func (w *watcher) check() {
	fi, err := os.Lstat(w.path)
	if err != nil {
		return
	}
	w.mu.Lock()
	same := fi.Size() == w.size && fi.ModTime().Equal(w.mod)
	w.size, w.mod = fi.Size(), fi.ModTime()
	w.mu.Unlock()
	if same {
		return
	}
	t, err := readTrajectory(w.path)
	if err != nil {
		// Caught mid-write; the next change is read again.
		return
	}
	u, _, _ := t.Usage(w.bench, w.model)
	u.Partial = t.EndTime == ""
	w.mu.Lock()
	w.good = t
	changed := u != w.reported
	if changed {
		w.reported = u
	}
	w.mu.Unlock()
	if changed && w.report != nil {
		w.report(u)
	}
}
