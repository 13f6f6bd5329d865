// Package config owns perfbench's configuration files: the strict loaders
// for task files (tasks/*.yaml) and bench.yaml, ${VAR} expansion inside
// their string values, and .env files.
//
// Loading is strict on purpose: a misspelt field, a value of the wrong type
// or two spellings of one setting is an error, reported on one line as
// "file:line:col: dotted.field.path: what was expected, what was found",
// because a silently ignored typo in a benchmark configuration costs hours
// of agent time and money. The seed system's files still load unchanged:
// its spellings are aliases, and the seed fields perfbench does not use are
// accepted and listed in Task.Ignored / Bench.Ignored.
//
// goccy/go-yaml is used only to parse the YAML syntax into an AST; the
// package converts that AST into a small node tree (positions, quoting,
// anchors and merge keys resolved) and decodes it with its own reflective
// decoder driven by `yaml:"name"` struct tags, so that numbers are never
// truncated, ${VAR} strings can become numbers, and every error keeps its
// position.
//
// Agent entries: the package knows the keys every entry has (Agent) and
// nothing of any agent type; LoadBench receives the types as AgentKinds
// (internal/agent/all provides them), each declaring its own keys as a
// struct decoded by the same decoder into Agent.Options (see kinds.go and
// docs/design.md, "Agent kinds").
package config
