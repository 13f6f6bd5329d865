package config

import (
	"reflect"
	"slices"
	"strings"
)

// entryParts are the structs one mapping of an agent entry (the entry, or
// its args:) is decoded into, as if they were one struct: the common keys
// (head), the keys of the entry's type (opts, invalid when it has none),
// then the limits (tail).
type entryParts struct {
	head, opts, tail reflect.Value
	kind             *AgentKind
	// args is set for the args: sub-mapping, which takes only the type's
	// keys marked ",args".
	args bool
}

// names lists the keys any entry may have at this level, for messages:
// the common ones, every kind's in list order, then the limits; owners
// maps each kind's key to the types that declare it.
func (p entryParts) names(kinds agentKinds) (names []string, owners map[string][]string) {
	names = slices.Clone(fieldsOf(p.head.Type()).names)
	owners = map[string][]string{}
	kinds.eachKey(func(typ, name string, f fieldInfo) {
		if p.args && !f.args {
			return
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		owners[name] = append(owners[name], typ)
	})
	return append(names, fieldsOf(p.tail.Type()).names...), owners
}

// target returns the field key decodes into.
func (p entryParts) target(key string) (reflect.Value, bool) {
	if f, ok := fieldsOf(p.head.Type()).byName[key]; ok {
		return p.head.FieldByIndex(f.index), true
	}
	if p.opts.IsValid() {
		if f, ok := fieldsOf(p.opts.Type()).byName[key]; ok && (!p.args || f.args) {
			return p.opts.FieldByIndex(f.index), true
		}
	}
	if f, ok := fieldsOf(p.tail.Type()).byName[key]; ok {
		return p.tail.FieldByIndex(f.index), true
	}
	return reflect.Value{}, false
}

// decodeEntry decodes an entry's mapping into p, and its args: into
// nested (nil inside args:), rejecting unknown keys with the list of
// every key and the keys of other types with the types that read them.
func (d *decoder) decodeEntry(n *node, path string, p entryParts, nested *entryParts) error {
	names, owners := p.names(d.kinds)
	for i, k := range n.keys {
		val := n.items[i]
		sub := joinPath(path, k.value)
		if nested != nil && k.value == "args" {
			d.record(sub, k, val)
			if err := d.decodeArgs(val, sub, *nested); err != nil {
				return err
			}
			continue
		}
		field, ok := p.target(k.value)
		if !ok {
			switch {
			case len(owners[k.value]) == 0:
				return d.errAt(k, path, "%s", unknownFieldMsg(k.value, names))
			case p.kind == nil:
				// The type is unknown: setType reports it.
				continue
			default:
				return d.errAt(k, sub, "not a key of agent type %s (only read by %s)", p.kind.Type, strings.Join(owners[k.value], ", "))
			}
		}
		d.record(sub, k, val)
		if err := d.decodeValue(val, field, sub); err != nil {
			return err
		}
	}
	return nil
}

// decodeArgs decodes the seed's args: sub-mapping as decodeValue would a
// struct.
func (d *decoder) decodeArgs(n *node, path string, p entryParts) error {
	if err := d.visit(n, path); err != nil {
		return err
	}
	if err := d.checkTag(n, path); err != nil {
		return err
	}
	switch n.kind {
	case nullNode:
		return nil
	case mapNode:
		return d.decodeEntry(n, path, p, nil)
	default:
		return d.typeError(n, path, "a mapping", describe(n))
	}
}

// spellingsOf is settingSpellings plus the kinds' keys marked ",args".
func spellingsOf(kinds agentKinds) []settingSpelling {
	out := slices.Clone(settingSpellings)
	kinds.eachKey(func(_, name string, f fieldInfo) {
		if f.args && !slices.ContainsFunc(out, func(s settingSpelling) bool { return s.name == name }) {
			out = append(out, settingSpelling{name, []string{name}})
		}
	})
	return out
}

// eachKey calls fn for every key of every kind's options, in list and
// declaration order.
func (ks agentKinds) eachKey(fn func(typ, name string, f fieldInfo)) {
	for i := range ks {
		t := ks[i].optionsType()
		if t == nil {
			continue
		}
		fs := fieldsOf(t)
		for _, name := range fs.names {
			fn(ks[i].Type, name, fs.byName[name])
		}
	}
}
