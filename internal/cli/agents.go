package cli

// The external agents' adapters register themselves with internal/agent.
import (
	_ "github.com/perfbench/perfbench/internal/agent/aider"
	_ "github.com/perfbench/perfbench/internal/agent/claudecode"
	_ "github.com/perfbench/perfbench/internal/agent/codex"
	_ "github.com/perfbench/perfbench/internal/agent/miniswe"
	_ "github.com/perfbench/perfbench/internal/agent/openhands"
	_ "github.com/perfbench/perfbench/internal/agent/trae"
)
