package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/records"
)

// Defaults of bench.yaml.
const (
	defaultStateRoot   = "state"
	defaultWorkRoot    = ".work"
	defaultEngine      = "docker"
	defaultNetwork     = "bridge"
	defaultLogCapBytes = 10 << 20
	// minLogCapBytes keeps enough of a log's tail to diagnose a failure.
	minLogCapBytes     = 4096
	defaultMaxOutBytes = 256 << 20
	// MaxMaxPatchBytes bounds max_patch_bytes: a patch is held in memory
	// by evaluate, and a predictions line may be six times its size.
	MaxMaxPatchBytes = 1 << 30
	// DefaultMaxPatchBytes is max_patch_bytes when bench.yaml sets none.
	DefaultMaxPatchBytes              = 20 << 20
	defaultRetryAttempts              = 3
	defaultRetryBackoff               = 30 * time.Second
	defaultMaxConsecutiveAuthFailures = 3
)

var (
	engines         = []string{"docker", "podman"}
	networks        = []string{"bridge", "none", "host"}
	networkPolicies = []string{"off", "on", "on_for_prepare"}
	// memoryPattern is what docker --memory accepts (go-units RAMInBytes).
	memoryPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)? ?[kKmMgGtTpP]?[iI]?[bB]?$`)
)

// LoadBench loads, expands, decodes, defaults and validates bench.yaml.
// path "" means there is none: defaults apply, relative to the current
// directory. kinds are the agent types entries may have (in the order
// messages list them); internal/agent/all provides them. Bench.Env is left
// for the caller to fill.
func LoadBench(path string, env Vars, kinds []AgentKind) (*Bench, error) {
	if path == "" {
		dir, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("bench config: %w", err)
		}
		return DefaultBench(dir, env, kinds)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, BadInputError{fmt.Errorf("bench config %s: %w", path, pathErrorCause(err))}
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("bench config %s: %w", path, err)
	}
	return parseBench(path, dir, src, env, kinds)
}

// DefaultBench is the configuration without a bench.yaml: the defaults,
// relative to dir (the working directory of the command).
func DefaultBench(dir string, env Vars, kinds []AgentKind) (*Bench, error) {
	return parseBench("", dir, nil, env, kinds)
}

// parseBench is LoadBench without reading the file.
func parseBench(path, dir string, src []byte, env Vars, kinds []AgentKind) (*Bench, error) {
	root, err := parseYAML(path, src)
	if err != nil {
		return nil, err
	}
	d := newDecoder(path, env)
	d.kinds = kinds
	b := &Bench{Path: path, Dir: dir, env: env, kinds: kinds}
	if err := d.decodeTop(root, b, "bench.yaml"); err != nil {
		return nil, err
	}
	b.Ignored = d.ignored
	for _, check := range []func(*decoder, *Bench) error{checkPaths, checkContainer, checkLimits, checkInstallContexts} {
		if err := check(d, b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func checkPaths(d *decoder, b *Bench) error {
	p := &b.Paths
	p.StateRoot = absUnder(b.Dir, cmpOr(p.StateRoot, defaultStateRoot))
	p.WorkRoot = absUnder(b.Dir, cmpOr(p.WorkRoot, defaultWorkRoot))
	if p.RolloutRoot == "" {
		return nil
	}
	p.RolloutRoot = absUnder(b.Dir, p.RolloutRoot)
	// Rollout workspaces must not see plans or mirrors, which reach the
	// human commit.
	for _, forbidden := range []struct{ name, dir string }{{"state_root", p.StateRoot}, {"work_root", p.WorkRoot}} {
		if within(p.RolloutRoot, forbidden.dir) {
			return d.errAtPos(d.valueAt("paths.rollout_root"), "paths.rollout_root", "must not be inside %s (%s): agents must not see the harness's files", forbidden.name, forbidden.dir)
		}
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// absUnder resolves p against dir.
func absUnder(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// within reports whether path is dir or inside it (lexically).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func checkContainer(d *decoder, b *Bench) error {
	c := &b.Container
	c.Engine = cmpOr(c.Engine, defaultEngine)
	if err := d.oneOf("container.engine", c.Engine, engines); err != nil {
		return err
	}
	if err := resolveNetwork(d, c); err != nil {
		return err
	}
	if c.CPUs < 0 {
		return d.errAtPos(d.valueAt("container.cpus"), "container.cpus", "must not be negative (0 means unlimited), got %s", formatFloat(c.CPUs))
	}
	if c.PidsLimit < 0 {
		return d.errAtPos(d.valueAt("container.pids_limit"), "container.pids_limit", "must not be negative (0 means unlimited), got %d", c.PidsLimit)
	}
	if c.Memory != "" && !memoryPattern.MatchString(c.Memory) {
		return d.errAtPos(d.valueAt("container.memory"), "container.memory", "expected a size such as 4g or 512m, got %s", quoteShort(c.Memory))
	}
	if c.GPUs == "none" {
		c.GPUs = ""
	}
	return nil
}

// resolveNetwork maps the seed's network_policy onto network and
// eval_network.
func resolveNetwork(d *decoder, c *Container) error {
	if d.isSet("container.network") && d.isSet("container.network_policy") {
		return d.conflict("container.network", "container.network_policy")
	}
	if c.NetworkPolicy != "" {
		if err := d.oneOf("container.network_policy", c.NetworkPolicy, networkPolicies); err != nil {
			return err
		}
		c.Network, c.EvalNetwork = "bridge", "bridge"
		switch c.NetworkPolicy {
		case "off":
			c.Network, c.EvalNetwork = "none", "none"
		case "on_for_prepare":
			c.EvalNetwork = "none"
		}
		return nil
	}
	c.Network = cmpOr(c.Network, defaultNetwork)
	if err := d.oneOf("container.network", c.Network, networks); err != nil {
		return err
	}
	c.EvalNetwork = c.Network
	return nil
}

// oneOf checks an enumerated value.
func (d *decoder) oneOf(field, value string, allowed []string) error {
	if slices.Contains(allowed, value) {
		return nil
	}
	return d.errAtPos(d.valueAt(field), field, "expected %s, got %s", orList(allowed), quoteShort(value))
}

// orList formats "a, b or c".
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func checkLimits(d *decoder, b *Bench) error {
	if d.isSet("log_cap_bytes") && b.LogCapBytes < minLogCapBytes {
		return d.errAtPos(d.valueAt("log_cap_bytes"), "log_cap_bytes", "must be at least %d, got %d", minLogCapBytes, b.LogCapBytes)
	}
	if b.LogCapBytes == 0 {
		b.LogCapBytes = defaultLogCapBytes
	}
	if d.isSet("max_out_bytes") && b.MaxOutBytes < 1 {
		return d.errAtPos(d.valueAt("max_out_bytes"), "max_out_bytes", "must be at least 1, got %d", b.MaxOutBytes)
	}
	if b.MaxOutBytes == 0 {
		b.MaxOutBytes = defaultMaxOutBytes
	}
	if d.isSet("max_patch_bytes") && (b.MaxPatchBytes < 1 || b.MaxPatchBytes > MaxMaxPatchBytes) {
		return d.errAtPos(d.valueAt("max_patch_bytes"), "max_patch_bytes", "must be from 1 to %d (1 GiB), got %d", int64(MaxMaxPatchBytes), b.MaxPatchBytes)
	}
	if b.MaxPatchBytes == 0 {
		b.MaxPatchBytes = DefaultMaxPatchBytes
	}
	if b.MaxTotalBudgetUSD < 0 {
		return d.errAtPos(d.valueAt("max_total_budget_usd"), "max_total_budget_usd", "must not be negative, got %s", formatFloat(b.MaxTotalBudgetUSD))
	}
	if b.ShardBudgetUSD < 0 {
		return d.errAtPos(d.valueAt("shard_budget_usd"), "shard_budget_usd", "must not be negative, got %s", formatFloat(b.ShardBudgetUSD))
	}
	for _, model := range slices.Sorted(maps.Keys(b.Prices)) {
		p := b.Prices[model]
		for _, price := range []struct {
			name  string
			value float64
		}{{"input", p.Input}, {"output", p.Output}, {"cached_input", p.CachedInput}, {"cache_write", p.CacheWrite}} {
			if f := "prices." + model + "." + price.name; price.value < 0 {
				return d.errAtPos(d.valueAt(f), f, "must not be negative, got %s", formatFloat(price.value))
			}
		}
	}
	return checkRetry(d, &b.Retry)
}

func checkRetry(d *decoder, r *Retry) error {
	if d.isSet("retry.attempts") && r.Attempts < 1 {
		return d.errAtPos(d.valueAt("retry.attempts"), "retry.attempts", "must be at least 1 (the first try counts), got %d", r.Attempts)
	}
	if r.Backoff < 0 {
		return d.errAtPos(d.valueAt("retry.backoff"), "retry.backoff", "must not be negative, got %s", r.Backoff)
	}
	if d.isSet("retry.max_consecutive_auth_failures") && r.MaxConsecutiveAuthFailures < 1 {
		return d.errAtPos(d.valueAt("retry.max_consecutive_auth_failures"), "retry.max_consecutive_auth_failures", "must be at least 1, got %d", r.MaxConsecutiveAuthFailures)
	}
	if r.Attempts == 0 {
		r.Attempts = defaultRetryAttempts
	}
	if r.Backoff == 0 {
		r.Backoff = records.Duration(defaultRetryBackoff)
	}
	if r.MaxConsecutiveAuthFailures == 0 {
		r.MaxConsecutiveAuthFailures = defaultMaxConsecutiveAuthFailures
	}
	return nil
}

// PatchLimit is max_patch_bytes, defaulted for a Bench not made by
// LoadBench.
func (b *Bench) PatchLimit() int64 {
	if b.MaxPatchBytes <= 0 {
		return DefaultMaxPatchBytes
	}
	return b.MaxPatchBytes
}

// PreflightEnabled reports whether prepare runs its preflight checks
// (seed experiment.preflight_enabled; default true).
// PrivateRoot is the directory that holds agents' and evaluations'
// private workspaces, created if needed: paths.rollout_root, or the
// system temp dir (os.TempDir's choice, from the environment the
// configuration was loaded with). It is never inside state_root or
// work_root, whose mirrors and plans reach the human commit (bad input
// otherwise).
func (b *Bench) PrivateRoot() (string, error) {
	root := b.Paths.RolloutRoot
	if root == "" {
		root = "/tmp"
		if b.env.Process != nil {
			if v, ok := b.env.Process("TMPDIR"); ok && v != "" {
				root = v
			}
		}
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	for _, forbidden := range []string{b.Paths.StateRoot, b.Paths.WorkRoot} {
		f, _ := filepath.Abs(forbidden)
		if f != "" && (abs == f || strings.HasPrefix(abs, f+string(filepath.Separator))) {
			return "", BadInputError{fmt.Errorf("paths.rollout_root %s is inside %s: private workspaces must stay outside the harness's state", abs, f)}
		}
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("private root: %w", err)
	}
	return abs, nil
}

func (b *Bench) PreflightEnabled() bool {
	return b.Experiment.PreflightEnabled == nil || *b.Experiment.PreflightEnabled
}

// HintsAllowed reports whether tasks may show hints derived from the human
// commit (seed experiment.hints_enabled; default true).
func (b *Bench) HintsAllowed() bool {
	return b.Experiment.HintsEnabled == nil || *b.Experiment.HintsEnabled
}

// Agent returns the agent to run: the entry called name, or for "" the
// one agents.default names. A name that is an agent type without an entry
// (--agent noop) gets a synthesized entry with the defaults, so that the
// built-in agents work without bench.yaml.
func (b *Bench) Agent(name string) (*Agent, error) {
	if name == "" {
		name = b.Agents.Default
	}
	if name == "" {
		return nil, BadInputError{errors.New("no agent: pass --agent or set agents.default")}
	}
	if a := b.Agents.Lookup(name); a != nil {
		return a, nil
	}
	if k, ok := b.kinds.lookup(name); ok {
		a := k.newAgent(name, Pos{})
		applyAgentDefaults(k, a, b.env)
		return a, nil
	}
	var entries []string
	for _, e := range b.Agents.Entries {
		entries = append(entries, e.Name)
	}
	where := "bench.yaml has no agents"
	if len(entries) > 0 {
		where = "entries: " + strings.Join(entries, ", ")
	}
	types := b.kinds.types()
	// A typo gets the same did-you-mean as a YAML field.
	if best := closest(name, append(slices.Clone(entries), types...)); best != "" {
		where = fmt.Sprintf("did you mean %q? %s", best, where)
	}
	return nil, BadInputError{fmt.Errorf("unknown agent %s (%s; agent types: %s)", quoteShort(name), where, strings.Join(types, ", "))}
}
