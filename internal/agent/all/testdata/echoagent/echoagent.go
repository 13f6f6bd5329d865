// Package echoagent is a test-only adapter: what adding an agent takes is
// this package plus one line in internal/agent/all's list (the tests
// append it to all.Kinds()). Its entries have a key of their own,
// greeting, which it passes to its executable.
package echoagent

import (
	"context"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
)

// Kind is the echo agent's descriptor.
var Kind = agent.Kind{
	AgentKind: config.AgentKind{
		Type:       "echo_agent",
		NewOptions: func() any { return new(Options) },
		Check: func(c *config.EntryCheck) error {
			if agent.OptionsOf[Options](c.Agent).Greeting == "" {
				return c.Errorf("greeting", "required for type echo_agent (what it says)")
			}
			return nil
		},
	},
	DefaultCLI: "echo-agent",
	New:        func(a *config.Agent, _ agent.Host) (agent.Adapter, error) { return &adapter{a: a}, nil },
}

// Options are the echo agent's own keys.
type Options struct {
	Greeting string `yaml:"greeting" json:"greeting,omitempty"`
}

type adapter struct{ a *config.Agent }

func (ad *adapter) Command(*agent.Rollout) ([]string, error) {
	cli := ad.a.CLI
	if cli == "" {
		cli = Kind.DefaultCLI
	}
	return []string{cli, agent.OptionsOf[Options](ad.a).Greeting}, nil
}

func (ad *adapter) Run(ctx context.Context, r *agent.Rollout) (*agent.Outcome, error) {
	argv, _ := ad.Command(r)
	return agent.RunProcess(ctx, r, argv, nil)
}
