package openhands_test

import (
	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/openhands"
	"github.com/perfbench/perfbench/internal/prepare"
)

// The adapter plugs into prepare's optional hooks.
var (
	_ agent.Adapter            = (*openhands.Adapter)(nil)
	_ prepare.WorkspaceMapper  = (*openhands.Adapter)(nil)
	_ prepare.ContainerAdapter = (*openhands.Adapter)(nil)
)
