package agent

import (
	"context"
	"slices"
	"strings"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
)

// Kind is everything the harness knows about one agent type, declared by
// its adapter: how bench.yaml spells it and which keys of an entry are its
// own (the embedded config.AgentKind, which config.LoadBench receives),
// its default executable, how its spend is priced, what `bench doctor`
// checks for it, and how to build its adapter. internal/agent/all lists
// the kinds of this build; adding an agent is its package plus one line
// there.
type Kind struct {
	config.AgentKind
	// DefaultCLI is the executable run when the entry sets no cli: (""
	// for in-process agents and for command, whose argv says it).
	DefaultCLI string
	// TokenPriced marks agents that report tokens but no cost: their
	// spend is priced with bench.yaml's prices:, so a budget needs a
	// price for the model.
	TokenPriced bool
	// New builds the adapter of an entry of this type.
	New Factory
	// ChoosesRuntime marks an adapter that decides by itself where its
	// rollouts run (an agent.Sandboxer such as OpenHands): runtime:
	// container without image: then does not borrow the task's
	// environment.image.
	ChoosesRuntime bool
	// Executable, when set, is the program doctor looks for on the host
	// instead of cli: or DefaultCLI.
	Executable func(a *config.Agent, b *config.Bench) string
	// Checks, when set, are the doctor checks of how this type runs; they
	// replace the common ones (the image with runtime: container, the
	// executable, config_file), which Probes offer for reuse.
	Checks func(a *config.Agent, p Probes) []Check
	// Checked are the upstream versions the adapter was checked against;
	// doctor prints each entry's version and warns outside them.
	Checked Versions
	// Recipe, when set, is how `bench build --agent` installs this agent
	// into an agent image FROM the environment image: one exact version
	// (inside Checked), into its own prefix (see recipe.go). An entry's
	// install: replaces it (RecipeFor).
	Recipe func() envbuild.Recipe
	// UseAgentImage, when set, makes an entry run in its agent image ref
	// instead of what UseAgentImage does for every other type (image:
	// for runtime: container), and reports whether it does.
	UseAgentImage func(a *config.Agent, ref string) (bool, error)
}

// Factory builds an adapter for a configured entry, run by the harness
// on host.
type Factory func(a *config.Agent, host Host) (Adapter, error)

// Host is the harness's process as adapters see it, passed in (the CLI's
// environment, not necessarily the one the process has): adapters read
// their mode switches and the invoking user's home from it, never from
// the process.
type Host struct {
	// Env is the harness's environment ("NAME=value"); the last value of
	// a name wins, as for execve.
	Env []string
}

// LookupEnv returns the value of name in h.Env.
func (h Host) LookupEnv(name string) (string, bool) {
	for i := len(h.Env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(h.Env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Home is the invoking user's home directory ($HOME, as os.UserHomeDir
// reads it on Unix); "" when unset.
func (h Host) Home() string {
	v, _ := h.LookupEnv("HOME")
	return v
}

// Check is one check an adapter asks `bench doctor` (and prepare's
// preflight, when Preflight is set) to run.
type Check struct {
	Name      string
	Preflight bool
	Run       func(ctx context.Context) CheckResult
}

// CheckResult is a check's verdict and what it found.
type CheckResult struct {
	OK     bool
	Detail string
}

// Probes are what a Kind's Checks may use: the environment the checks
// see and doctor's own checks.
type Probes struct {
	Bench *config.Bench
	// Env is the environment of the checks (the process's plus .env).
	Env map[string]string
	// Lookup reads the harness's process environment, as adapters read
	// their mode switches.
	Lookup func(string) (string, bool)
	// EngineName is bench.yaml's container engine.
	EngineName string
	// Engine checks that the container engine answers.
	Engine func() Check
	// Image checks that an image is present locally.
	Image func(ref string) Check
	// ConfigFile checks that the entry's config_file exists.
	ConfigFile func(a *config.Agent) Check
	// LLM asks for the check of the LLM credentials (run once, after the
	// agents' checks, with the first model asked for).
	LLM func(model string)
}

// ConfigKinds are the loader's part of kinds, for config.LoadBench.
func ConfigKinds(kinds []Kind) []config.AgentKind {
	out := make([]config.AgentKind, len(kinds))
	for i, k := range kinds {
		out[i] = k.AgentKind
	}
	return out
}

// Find returns the kind of a type.
func Find(kinds []Kind, typ string) (Kind, bool) {
	i := slices.IndexFunc(kinds, func(k Kind) bool { return k.Type == typ })
	if i < 0 {
		return Kind{}, false
	}
	return kinds[i], true
}

// Types lists the types of kinds, in list order.
func Types(kinds []Kind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.Type
	}
	return out
}

// NewOn returns the adapter for an entry, built by its kind in kinds, for
// a harness running on host.
func NewOn(kinds []Kind, a *config.Agent, host Host) (Adapter, error) {
	k, ok := Find(kinds, a.Type)
	if !ok || k.New == nil {
		avail := slices.Clone(Types(kinds))
		slices.Sort(avail)
		return nil, badinput.Errorf("agent %s: type %s is not supported by this build (available: %s)", a.Name, a.Type, strings.Join(avail, ", "))
	}
	return k.New(a, host)
}

// ConfigFileOption is the config_file key, for the options of the types
// that read one (each its own way): embed it.
type ConfigFileOption struct {
	// ConfigFile is the agent's own configuration file, relative to
	// bench.yaml (see BenchPath).
	ConfigFile string `yaml:"config_file" json:"config_file,omitempty"`
}

func (o *ConfigFileOption) configFile() string { return o.ConfigFile }

// ConfigFile returns the entry's config_file as written, "" when it has
// none or its type reads none.
func ConfigFile(a *config.Agent) string {
	if o, ok := a.Options.(interface{ configFile() string }); ok {
		return o.configFile()
	}
	return ""
}

// OptionsOf returns the entry's options of type T (a struct its kind's
// NewOptions makes), or a zero T for an entry built without them (in
// tests, or read back from run.json).
func OptionsOf[T any](a *config.Agent) *T {
	if o, ok := a.Options.(*T); ok {
		return o
	}
	return new(T)
}
