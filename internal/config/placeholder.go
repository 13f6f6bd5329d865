package config

import (
	"strconv"
)

// EvalPlaceholders are the placeholders evaluate replaces in the
// evaluation's commands (setup, correctness, workload): {workspace} is
// the arm's workspace, {round} the round (0-based, warm-up rounds first;
// 0 in setup and correctness) and {seed} a seed derived from the item
// and the round.
var EvalPlaceholders = []string{"workspace", "round", "seed"}

// Placeholder is one {name} in a command, at byte offset Offset.
type Placeholder struct {
	Name   string
	Offset int
}

// FindPlaceholders returns the placeholders of s: "{", an identifier
// (letters, digits, underscores; not starting with a digit), "}". Shell
// and template syntax is not one: "${name}" (preceded by "$"), "{{name}}"
// (doubled braces), "{a,b}", "{ cmd; }", awk's "{print $1}" and find's
// "{}" have other characters in the braces or around them.
func FindPlaceholders(s string) []Placeholder {
	var out []Placeholder
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		j := i + 1
		for j < len(s) && isIdentByte(s[j], j == i+1) {
			j++
		}
		if j == i+1 || j >= len(s) || s[j] != '}' {
			continue
		}
		if i > 0 && (s[i-1] == '$' || s[i-1] == '{') || j+1 < len(s) && s[j+1] == '}' {
			continue
		}
		out = append(out, Placeholder{Name: s[i+1 : j], Offset: i})
		i = j
	}
	return out
}

func isIdentByte(c byte, first bool) bool {
	switch {
	case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

// checkPlaceholders refuses an unknown {name} in the section's commands.
func (e *Evaluation) checkPlaceholders(d *decoder, path string) error {
	check := func(field, cmd string) error {
		for _, p := range FindPlaceholders(cmd) {
			known := false
			for _, k := range EvalPlaceholders {
				known = known || p.Name == k
			}
			if !known {
				return d.errAtPos(d.valueAt(field), field, "unknown placeholder {%s} (known: {workspace}, {round}, {seed}); for a literal {%s} write {''%s}, which sh reads as {%s}", p.Name, p.Name, p.Name, p.Name)
			}
		}
		return nil
	}
	if err := check(joinPath(path, "workload"), e.Workload); err != nil {
		return err
	}
	for _, list := range []struct {
		name string
		cmds []string
	}{{"setup", e.Setup}, {"correctness", e.Correctness}} {
		for i, c := range list.cmds {
			if err := check(joinPath(path, list.name)+"["+strconv.Itoa(i)+"]", c); err != nil {
				return err
			}
		}
	}
	return nil
}

// UsesPlaceholder reports whether any command uses {name}.
func UsesPlaceholder(name string, cmds ...string) bool {
	for _, c := range cmds {
		for _, p := range FindPlaceholders(c) {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}
