// Package all lists the agent kinds of this build, in the order messages
// and `bench doctor` list them. It is the one place an adapter is added:
// its package declares an agent.Kind, and one line here makes
// config.LoadBench accept its entries and keys, doctor check it and
// prepare run it.
package all

import (
	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/aider"
	"github.com/perfbench/perfbench/internal/agent/claudecode"
	"github.com/perfbench/perfbench/internal/agent/codex"
	"github.com/perfbench/perfbench/internal/agent/miniswe"
	"github.com/perfbench/perfbench/internal/agent/openhands"
	"github.com/perfbench/perfbench/internal/agent/trae"
)

// Kinds returns every agent kind.
func Kinds() []agent.Kind {
	return []agent.Kind{
		openhands.Kind,
		claudecode.Kind,
		codex.Kind,
		trae.Kind,
		aider.Kind,
		miniswe.Kind,
		agent.Command,
		agent.Replay,
		agent.Noop,
	}
}
