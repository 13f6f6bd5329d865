package cli

// The external agents' adapters register themselves with internal/agent.
import _ "github.com/perfbench/perfbench/internal/agent/openhands"
