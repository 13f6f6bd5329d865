package config

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/records"
)

// agentEntry is the YAML shape of the common keys of one agents.<name>
// entry, before the seed's aliases are folded into Agent; the keys of the
// entry's type go to its options, and limits and args: come last (see
// entrySchema).
type agentEntry struct {
	Type      string            `yaml:"type"`
	CLI       string            `yaml:"cli"`
	Model     string            `yaml:"model"`
	Command   []string          `yaml:"command"`
	Env       map[string]string `yaml:"env"`
	HomeFiles []string          `yaml:"home_files"`
	Runtime   string            `yaml:"runtime"`
	RunAs     string            `yaml:"run_as"`
	Image     string            `yaml:"image"`
	ExtraArgs []string          `yaml:"extra_args"`
}

// agentTail is what follows the types' keys in an entry: the limits, the
// seed's args: sub-mapping (decoded by decodeArgs), and the agent image's
// install recipe (common keys, last so that the keys' list in messages
// keeps its older order).
type agentTail struct {
	limitSpellings
	Args           struct{} `yaml:"args"`
	Install        []string `yaml:"install"`
	InstallContext string   `yaml:"install_context"`
}

// agentArgs is the common part of the seed's args: sub-mapping: the model
// and the limits, under any of their spellings; the types' keys marked
// ",args" (codex's profile) may appear between the two.
type agentArgs struct {
	Model string `yaml:"model"`
}

// limitSpellings holds every spelling of the limits vocabulary (docs/design.md,
// "Contracts"); pointers tell "not set" from zero.
type limitSpellings struct {
	Timeout           *records.Duration `yaml:"timeout"`
	TimeBudgetMinutes *float64          `yaml:"time_budget_minutes"`
	MaxIterations     *int              `yaml:"max_iterations"`
	Iterations        *int              `yaml:"iterations"`
	MaxSteps          *int              `yaml:"max_steps"`
	MaxTurns          *int              `yaml:"max_turns"`
	MaxBudgetUSD      *float64          `yaml:"max_budget_usd"`
	MaxBudgetPerTask  *float64          `yaml:"max_budget_per_task"`
	KillGrace         *records.Duration `yaml:"kill_grace"`
}

// settingSpellings lists, for each setting of an entry that has aliases,
// its canonical name and every key that sets it; each may appear at the
// top of the entry or inside args:, and only one of all of them may. The
// types' keys marked ",args" follow (see spellingsOf).
var settingSpellings = []settingSpelling{
	{records.LimitTimeout, []string{records.LimitTimeout, "time_budget_minutes"}},
	{records.LimitMaxIterations, []string{records.LimitMaxIterations, "iterations", "max_steps", "max_turns"}},
	{records.LimitMaxBudgetUSD, []string{records.LimitMaxBudgetUSD, "max_budget_per_task"}},
	{records.LimitKillGrace, []string{"kill_grace"}},
	{"model", []string{"model"}},
}

// settingSpelling is a setting and the keys that set it.
type settingSpelling struct {
	name string
	keys []string
}

var runtimes = []string{"host", "container"}

// decodeNode reads the agents: mapping: "default" names an entry or a
// type, every other key is an entry, kept in file order.
func (a *Agents) decodeNode(d *decoder, n *node, path string) error {
	if n.kind == nullNode {
		return nil
	}
	if n.kind != mapNode {
		return d.typeError(n, path, "a mapping of agent entries", describe(n))
	}
	var defaultNode *node
	for i, k := range n.keys {
		v := n.items[i]
		sub := joinPath(path, k.value)
		d.record(sub, k, v)
		if k.value == "default" {
			s, ok, err := d.scalar(v, sub)
			if err == nil && !ok && v.kind != nullNode {
				err = d.typeError(v, sub, "the name of an agent entry or type", describe(v))
			}
			if err != nil {
				return err
			}
			a.Default, defaultNode = s, v
			continue
		}
		agent, err := decodeAgent(d, k, v, sub)
		if err != nil {
			return err
		}
		a.Entries = append(a.Entries, agent)
	}
	if a.Default == "" || a.Lookup(a.Default) != nil {
		return nil
	}
	if _, ok := d.kinds.lookup(a.Default); !ok {
		var names []string
		for _, e := range a.Entries {
			names = append(names, e.Name)
		}
		return d.errAt(defaultNode, joinPath(path, "default"), "%s is neither an entry (%s) nor an agent type (%s)",
			quoteShort(a.Default), strings.Join(names, ", "), strings.Join(d.kinds.types(), ", "))
	}
	return nil
}

func decodeAgent(d *decoder, key, n *node, path string) (*Agent, error) {
	var e agentEntry
	var tail agentTail
	var args agentArgs
	var argLimits limitSpellings
	kind := entryKind(d, key, n, path)
	a := &Agent{Name: key.value, Pos: d.pos(key)}
	var opts reflect.Value
	if kind != nil {
		a = kind.newAgent(key.value, d.pos(key))
		if a.Options != nil {
			opts = reflect.ValueOf(a.Options).Elem()
		}
	}
	switch n.kind {
	case nullNode:
		// "noop:" alone: an entry with every default.
	case mapNode:
		top := entryParts{head: reflect.ValueOf(&e).Elem(), opts: opts, tail: reflect.ValueOf(&tail).Elem(), kind: kind}
		nested := entryParts{head: reflect.ValueOf(&args).Elem(), opts: opts, tail: reflect.ValueOf(&argLimits).Elem(), kind: kind, args: true}
		if err := d.decodeEntry(n, path, top, &nested); err != nil {
			return nil, err
		}
	default:
		return nil, d.typeError(n, path, "a mapping (an agent entry)", describe(n))
	}
	spelled, err := checkSpellings(d, n, path)
	if err != nil {
		return nil, err
	}
	a.CLI, a.Command, a.Env, a.HomeFiles = e.CLI, e.Command, e.Env, e.HomeFiles
	a.Runtime, a.Image, a.ExtraArgs = e.Runtime, e.Image, e.ExtraArgs
	a.Install, a.InstallContext = tail.Install, tail.InstallContext
	a.Model = cmpOr(e.Model, args.Model)
	if err := setType(d, a, e.Type, path); err != nil {
		return nil, err
	}
	if a.RunAs, err = decodeRunAs(d, a, e.RunAs, path); err != nil {
		return nil, err
	}
	if a.Limits, err = foldLimits(d, tail.limitSpellings, argLimits, spelled); err != nil {
		return nil, err
	}
	if err := checkAgent(d, kind, a, path); err != nil {
		return nil, err
	}
	applyAgentDefaults(kind, a, d.env)
	return a, nil
}

// entryKind is the kind an entry's type: (or else its name) denotes, nil
// when none: its keys then go nowhere, and setType reports the type.
func entryKind(d *decoder, key, n *node, path string) *AgentKind {
	name := key.value
	if t := n.lookup("type"); t != nil {
		if s, ok, err := d.scalar(t, joinPath(path, "type")); err == nil && ok && s != "" {
			name = s
		}
	}
	k, _ := d.kinds.lookup(name)
	return k
}

func setType(d *decoder, a *Agent, typ, path string) error {
	if typ != "" {
		k, ok := d.kinds.lookup(typ)
		if !ok {
			f := joinPath(path, "type")
			return d.errAtPos(d.valueAt(f), f, "unknown agent type %s (expected one of: %s)", quoteShort(typ), strings.Join(d.kinds.types(), ", "))
		}
		a.Type = k.Type
		return nil
	}
	k, ok := d.kinds.lookup(a.Name)
	if !ok {
		return d.errAtPos(a.Pos, path, "unknown agent type %s (the entry's name; set type: to one of: %s)", quoteShort(a.Name), strings.Join(d.kinds.types(), ", "))
	}
	a.Type = k.Type
	return nil
}

// spelling is one key of an entry that sets an aliased setting.
type spelling struct {
	field string // dotted path: "agents.x.args.iterations"
	pos   Pos
}

// checkSpellings rejects an entry that sets one setting twice (two
// aliases, or one key at the top and in args:), naming both places, and
// returns, by setting, the field that set it.
func checkSpellings(d *decoder, entry *node, path string) (map[string]string, error) {
	spelled := map[string]string{}
	for _, setting := range spellingsOf(d.kinds) {
		var found []spelling
		found = append(found, spellingsIn(d, entry, path, setting.keys)...)
		if args := entry.lookup("args"); args != nil {
			found = append(found, spellingsIn(d, args, joinPath(path, "args"), setting.keys)...)
		}
		if len(found) == 0 {
			continue
		}
		slices.SortFunc(found, func(a, b spelling) int { return comparePos(a.pos, b.pos) })
		if len(found) > 1 {
			first, second := found[0], found[1]
			return nil, d.errAtPos(second.pos, second.field, "sets %s, already set by %s at line %d", setting.name, first.field, first.pos.Line)
		}
		spelled[setting.name] = found[0].field
	}
	return spelled, nil
}

func spellingsIn(d *decoder, m *node, path string, keys []string) []spelling {
	var found []spelling
	if m.kind != mapNode {
		return nil
	}
	for i, k := range m.keys {
		if slices.Contains(keys, k.value) && m.items[i].kind != nullNode {
			found = append(found, spelling{field: joinPath(path, k.value), pos: d.pos(k)})
		}
	}
	return found
}

func comparePos(a, b Pos) int {
	if a.Line != b.Line {
		return a.Line - b.Line
	}
	return a.Col - b.Col
}

// foldLimits merges the spellings of the limits (at most one each, as
// checkSpellings made sure) into Limits. spelled names the field that set
// each limit, for positions.
func foldLimits(d *decoder, top, args limitSpellings, spelled map[string]string) (records.Limits, error) {
	var l records.Limits
	s := mergeSpellings(top, args)
	switch {
	case s.Timeout != nil:
		l.Timeout = *s.Timeout
	case s.TimeBudgetMinutes != nil:
		minutes := *s.TimeBudgetMinutes
		if minutes > float64(math.MaxInt64)/float64(time.Minute) {
			f := spelled[records.LimitTimeout]
			return l, d.errAtPos(d.valueAt(f), f, "%s minutes is too long", formatFloat(minutes))
		}
		l.Timeout = records.Duration(minutes * float64(time.Minute))
	}
	if l.Timeout < 0 {
		f := spelled[records.LimitTimeout]
		return l, d.errAtPos(d.valueAt(f), f, "must not be negative")
	}
	for _, n := range []*int{s.MaxIterations, s.Iterations, s.MaxSteps, s.MaxTurns} {
		if n != nil {
			l.MaxIterations = *n
		}
	}
	if l.MaxIterations < 0 {
		f := spelled[records.LimitMaxIterations]
		return l, d.errAtPos(d.valueAt(f), f, "must be at least 0 (0 means the agent's default), got %d", l.MaxIterations)
	}
	for _, usd := range []*float64{s.MaxBudgetUSD, s.MaxBudgetPerTask} {
		if usd != nil {
			l.MaxBudgetUSD = *usd
		}
	}
	if l.MaxBudgetUSD < 0 {
		f := spelled[records.LimitMaxBudgetUSD]
		return l, d.errAtPos(d.valueAt(f), f, "must not be negative, got %s", formatFloat(l.MaxBudgetUSD))
	}
	if s.KillGrace != nil {
		l.KillGrace = *s.KillGrace
	}
	if l.KillGrace < 0 {
		f := spelled[records.LimitKillGrace]
		return l, d.errAtPos(d.valueAt(f), f, "must not be negative, got %s", l.KillGrace)
	}
	return l, nil
}

// mergeSpellings takes each spelling from the top of the entry or, when
// absent there, from args:.
func mergeSpellings(top, args limitSpellings) limitSpellings {
	pick := func(t, a reflect.Value) {
		if t.IsNil() {
			t.Set(a)
		}
	}
	tv, av := reflect.ValueOf(&top).Elem(), reflect.ValueOf(args)
	for i := range tv.NumField() {
		pick(tv.Field(i), av.Field(i))
	}
	return top
}

func checkAgent(d *decoder, kind *AgentKind, a *Agent, path string) error {
	if a.Runtime != "" {
		if err := d.oneOf(joinPath(path, "runtime"), a.Runtime, runtimes); err != nil {
			return err
		}
	}
	if err := checkInstall(d, a, path); err != nil {
		return err
	}
	if kind != nil && kind.Check != nil {
		return kind.Check(&EntryCheck{Agent: a, d: d, path: path})
	}
	return nil
}

// checkInstall checks install: (the agent image's Dockerfile lines, which
// replace the type's recipe) line by line; install_context, the
// directory of the files those lines COPY, needs install: and is checked
// against the file system by checkInstallContexts, once bench.yaml's
// directory is known.
func checkInstall(d *decoder, a *Agent, path string) error {
	for i, line := range a.Install {
		f := fmt.Sprintf("%s[%d]", joinPath(path, "install"), i)
		word, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch {
		case strings.TrimSpace(line) == "":
			return d.errAtPos(d.valueAt(f), f, "expected a Dockerfile line, got an empty one")
		case strings.ContainsAny(line, "\r\n\x00"):
			return d.errAtPos(d.valueAt(f), f, "expected one Dockerfile line per item (continue a long one with a trailing \\ and a next item)")
		case strings.EqualFold(word, "FROM"):
			return d.errAtPos(d.valueAt(f), f, "a FROM is not allowed: the agent image is built FROM the environment image, in one stage")
		}
	}
	if a.InstallContext != "" && len(a.Install) == 0 {
		f := joinPath(path, "install_context")
		return d.errAtPos(d.valueAt(f), f, "only valid with install: (the Dockerfile lines that COPY its files)")
	}
	return nil
}

// decodeRunAs parses run_as:, which only the host runtime honours: a
// container already runs as the invoking user, apart from the host.
func decodeRunAs(d *decoder, a *Agent, s, path string) (*RunAs, error) {
	if s == "" {
		return nil, nil
	}
	f := joinPath(path, "run_as")
	if !slices.Contains(runtimes, a.Runtime) && a.Runtime != "" {
		return nil, nil // checkAgent reports the runtime
	}
	if a.Runtime != "" && a.Runtime != "host" {
		return nil, d.errAtPos(d.valueAt(f), f, "only valid with runtime: host (this entry has runtime: %s)", quoteShort(a.Runtime))
	}
	r, err := ParseRunAs(s)
	if err != nil {
		return nil, d.errAtPos(d.valueAt(f), f, "%v", err)
	}
	return r, nil
}

// applyAgentDefaults fills what an entry (or a synthesized one) leaves
// unset.
func applyAgentDefaults(kind *AgentKind, a *Agent, env Vars) {
	if a.Model == "" {
		a.Model, _ = env.Lookup("LLM_MODEL")
	}
	if a.Runtime == "" {
		a.Runtime = "host"
	}
	if kind != nil && kind.Defaults != nil {
		kind.Defaults(a)
	}
	if a.Limits.KillGrace == 0 {
		a.Limits.KillGrace = records.Duration(DefaultKillGrace)
	}
}

// checkInstallContexts checks that every entry's install_context is a
// directory, relative to bench.yaml's: its files go into the agent
// image's build context.
func checkInstallContexts(d *decoder, b *Bench) error {
	for _, a := range b.Agents.Entries {
		if a.InstallContext == "" {
			continue
		}
		f := joinPath(joinPath("agents", a.Name), "install_context")
		dir := absUnder(b.Dir, a.InstallContext)
		fi, err := os.Stat(dir)
		switch {
		case err != nil:
			return d.errAtPos(d.valueAt(f), f, "expected a directory (relative to bench.yaml); %s: %v", dir, pathErrorCause(err))
		case !fi.IsDir():
			return d.errAtPos(d.valueAt(f), f, "expected a directory (relative to bench.yaml), %s is not one", dir)
		}
	}
	return nil
}
