package config

import "testing"

// The loader's tests use stand-ins with the keys the real adapters
// declare (the adapters import this package, so its tests cannot import
// them); internal/agent/all's tests load the same files with the real
// list.

type testOpenHands struct {
	ContainerImage string `yaml:"container_image" json:"container_image,omitempty"`
	RuntimeImage   string `yaml:"runtime_image" json:"runtime_image,omitempty"`
	ConfigFile     string `yaml:"config_file" json:"config_file,omitempty"`
	LLMConfig      string `yaml:"llm_config" json:"llm_config,omitempty"`
	AgentCls       string `yaml:"agent_cls" json:"agent_cls,omitempty"`
	SandboxRuntime string `yaml:"sandbox_runtime" json:"sandbox_runtime,omitempty"`
	OpenHandsHome  string `yaml:"openhands_home" json:"openhands_home,omitempty"`
}

type testCodex struct {
	ConfigFile string `yaml:"config_file" json:"config_file,omitempty"`
	Profile    string `yaml:"profile,args" json:"profile,omitempty"`
}

type testConfigFile struct {
	ConfigFile string `yaml:"config_file" json:"config_file,omitempty"`
}

func newConfigFile() any { return new(testConfigFile) }

var testKinds = []AgentKind{
	{
		Type: "openhands", NewOptions: func() any { return new(testOpenHands) },
		Check: func(c *EntryCheck) error {
			if s := c.Agent.Options.(*testOpenHands).SandboxRuntime; s != "" {
				return c.OneOf("sandbox_runtime", s, []string{"local", "docker"})
			}
			return nil
		},
		Defaults: func(a *Agent) {
			if o := a.Options.(*testOpenHands); o.SandboxRuntime == "" {
				o.SandboxRuntime = "local"
			}
		},
	},
	{Type: "claude_code"},
	{Type: "codex", Aliases: []string{"codex_cli"}, NewOptions: func() any { return new(testCodex) }},
	{Type: "trae", NewOptions: newConfigFile},
	{Type: "aider", NewOptions: newConfigFile},
	{Type: "mini_swe_agent", NewOptions: newConfigFile},
	{Type: "command", Check: func(c *EntryCheck) error {
		if len(c.Agent.Command) == 0 {
			return c.Errorf("command", "required for type command (the argv to run, e.g. [./my-agent, \"{workspace}\"])")
		}
		return nil
	}},
	{Type: "replay"},
	{Type: "noop"},
}

// A kind's keys belong to it: an entry of another type naming one is an
// error that says whose it is, at the key.
func TestAgentKindOwnsItsKeys(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"agents:\n  claude_code:\n    sandbox_runtime: docker\n",
			`bench.yaml:3:5: agents.claude_code.sandbox_runtime: not a key of agent type claude_code (only read by openhands)`},
		{"agents:\n  trae:\n    args:\n      profile: p\n",
			`bench.yaml:4:7: agents.trae.args.profile: not a key of agent type trae (only read by codex)`},
		{"agents:\n  noop:\n    config_file: x\n",
			`bench.yaml:3:5: agents.noop.config_file: not a key of agent type noop (only read by openhands, codex, trae, aider, mini_swe_agent)`},
		{"agents:\n  openhands:\n    sandbox_runtime: podman\n",
			`bench.yaml:3:22: agents.openhands.sandbox_runtime: expected local or docker, got "podman"`},
		{"agents:\n  codex_cli:\n    profile: a\n    args: {profile: b}\n",
			`bench.yaml:4:12: agents.codex_cli.args.profile: sets profile, already set by agents.codex_cli.profile at line 3`},
	} {
		_, err := parseBench("bench.yaml", "/tmp", []byte(tc.src), Vars{}, testKinds)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
	b, err := parseBench("bench.yaml", "/tmp", []byte("agents:\n  oh:\n    type: openhands\n    agent_cls: X\n"), Vars{}, testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := mustAgent(t, b, "oh").Options.(*testOpenHands); !ok || o.AgentCls != "X" || o.SandboxRuntime != "local" {
		t.Errorf("options %+v", mustAgent(t, b, "oh").Options)
	}
	if a, err := b.Agent("openhands"); err != nil || a.Options.(*testOpenHands).SandboxRuntime != "local" {
		t.Errorf("synthesized openhands: %+v, %v", a, err)
	}
}
