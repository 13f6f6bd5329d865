package config

import (
	"slices"
	"strconv"
	"strings"
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

// checkPlaceholders refuses a {name} in the section's commands that looks
// like a mistyped placeholder ({sed}, {Round}): evaluate would leave it as
// it is, and the workload would run with the same input every round. Any
// other {name} is left alone, as text of the command's own language (a
// Python f-string's {x}, a JSON literal).
func (e *Evaluation) checkPlaceholders(d *decoder, path string) error {
	check := func(field, cmd string) error {
		for _, p := range FindPlaceholders(cmd) {
			if slices.Contains(EvalPlaceholders, p.Name) {
				continue
			}
			best := nearPlaceholder(p.Name)
			if best == "" {
				continue
			}
			return d.errAtPos(d.valueAt(field), field, "unknown placeholder {%s} (did you mean {%s}? known: {workspace}, {round}, {seed}); for a literal {%s} write {''%s}, which sh reads as {%s}", p.Name, best, p.Name, p.Name, p.Name)
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

// nearPlaceholder is the placeholder name is a likely typo of (another
// case, or at most two edits from a name of three letters or more), else "".
func nearPlaceholder(name string) string {
	lower := strings.ToLower(name)
	for _, k := range EvalPlaceholders {
		if lower == k || len(name) >= 3 && editDistance(lower, k) <= 2 {
			return k
		}
	}
	return ""
}
