package config

import (
	"fmt"
	"reflect"
	"slices"
)

// AgentKind is what the loader needs to know about one agent type. The
// adapters own it (internal/agent's Kind carries one, and
// internal/agent/all lists them); LoadBench receives the list, so that
// this package names no agent.
//
// An entry's keys are the common ones of Agent plus the keys the kinds
// declare in their Options structs: every entry accepts the keys of every
// kind (an unknown key is reported with the full list), but a key only
// other kinds declare is an error naming them, and the entry's own keys
// are decoded into a fresh Options value stored in Agent.Options, with
// the same strict decoder, positions and did-you-mean as the rest of the
// file.
type AgentKind struct {
	// Type is the agents.<name>.type value; an entry named like a type
	// needs no type:.
	Type string
	// Aliases are other spellings of Type (the seed's codex_cli).
	Aliases []string
	// NewOptions returns a pointer to a new struct whose `yaml:"key"`
	// fields are the entry keys only this kind reads, and whose json tags
	// are how they appear in run.json. A ",args" yaml option marks a key
	// the seed may also write under args: (once). Nil when the kind has
	// no keys of its own.
	NewOptions func() any
	// Check validates a loaded entry (not a synthesized one); nil when
	// there is nothing to check.
	Check func(c *EntryCheck) error
	// Defaults fills what an entry leaves unset, for loaded and
	// synthesized entries alike; nil when there is nothing to fill.
	Defaults func(a *Agent)
}

// EntryCheck is what AgentKind.Check sees: the entry and error helpers
// that point at its keys.
type EntryCheck struct {
	Agent *Agent
	d     *decoder
	path  string
}

// IsSet reports whether the entry sets key (a dotted path below the
// entry, e.g. "command") to a non-null value.
func (c *EntryCheck) IsSet(key string) bool { return c.d.isSet(joinPath(c.path, key)) }

// Errorf returns the error of the entry's key: at its value when set,
// else at the entry.
func (c *EntryCheck) Errorf(key, format string, args ...any) error {
	f, pos := joinPath(c.path, key), c.Agent.Pos
	if c.d.isSet(f) {
		pos = c.d.valueAt(f)
	}
	return c.d.errAtPos(pos, f, format, args...)
}

// OneOf checks an enumerated value of the entry's key.
func (c *EntryCheck) OneOf(key, value string, allowed []string) error {
	return c.d.oneOf(joinPath(c.path, key), value, allowed)
}

// agentKinds is the loader's view of the kinds list.
type agentKinds []AgentKind

// lookup returns the kind a name or alias denotes.
func (ks agentKinds) lookup(name string) (*AgentKind, bool) {
	for i := range ks {
		if ks[i].Type == name || slices.Contains(ks[i].Aliases, name) {
			return &ks[i], true
		}
	}
	return nil, false
}

// types lists the types, in list order.
func (ks agentKinds) types() []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Type
	}
	return out
}

// optionsType is the struct type of a kind's options, nil when it has
// none.
func (k *AgentKind) optionsType() reflect.Type {
	if k == nil || k.NewOptions == nil {
		return nil
	}
	t := reflect.TypeOf(k.NewOptions())
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config: agent kind %s: NewOptions must return a pointer to a struct, got %s", k.Type, t))
	}
	return t.Elem()
}

// newAgent returns an entry of kind k with fresh options.
func (k *AgentKind) newAgent(name string, pos Pos) *Agent {
	a := &Agent{Name: name, Type: k.Type, Pos: pos}
	if k.NewOptions != nil {
		a.Options = k.NewOptions()
	}
	return a
}
